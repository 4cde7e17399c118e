//! From lazy tensors to values: capture the tensor DAG as an IR graph (hash-consed, so shared
//! subexpressions are computed once), compile it, run it on the tensors' device, and store the
//! results back into the tensors.

use crate::device::Backend;
use crate::runtime::{exec, GpuBuffer, GpuContext};
use crate::tensor::{Tensor, Value};
use crate::{Error, Result};
use hashbrown::HashMap;
use kiln_ir::{Graph, HostTensor, NodeId};
use std::sync::Arc;

/// A tensor DAG captured as a graph: its inputs (by slot) are the tensors that already have
/// values, and placeholders.
pub(crate) struct Captured {
    pub graph: Graph,
    pub leaves: Vec<Tensor>,
}

/// Captures the DAG behind `outputs`, stopping at realized tensors and placeholders.
pub(crate) fn capture(outputs: &[&Tensor]) -> Result<Captured> {
    capture_with(outputs, false)
}

/// Captures the DAG behind `outputs`. With `from_sources`, realized intermediate results are
/// recomputed from the original inputs (what the reference interpreter needs, so that it never
/// checks a GPU result against itself).
fn capture_with(outputs: &[&Tensor], from_sources: bool) -> Result<Captured> {
    let mut graph = Graph::new();
    let mut leaves = Vec::new();
    let mut ids: HashMap<u64, NodeId> = HashMap::new();
    // Iterative post-order so that long chains do not overflow the stack.
    let mut stack: Vec<(Tensor, bool)> = outputs
        .iter()
        .rev()
        .map(|t| ((*t).clone(), false))
        .collect();
    while let Some((t, expanded)) = stack.pop() {
        if ids.contains_key(&t.node.id) {
            continue;
        }
        let is_input = matches!(t.node.op, kiln_ir::Op::Input { .. });
        let is_leaf = if from_sources {
            is_input
        } else {
            t.node.placeholder || t.value().is_some()
        };
        if is_leaf {
            let id = graph.input(t.dtype(), t.shape().clone())?;
            leaves.push(t.clone());
            ids.insert(t.node.id, id);
            continue;
        }
        if !expanded {
            stack.push((t.clone(), true));
            for s in t.node.srcs.iter().rev() {
                if !ids.contains_key(&s.node.id) {
                    stack.push((s.clone(), false));
                }
            }
            continue;
        }
        let id = if t.node.srcs.is_empty() {
            graph.add_leaf(t.node.op.clone(), t.node.ty.clone())?
        } else {
            let srcs: Vec<NodeId> = t.node.srcs.iter().map(|s| ids[&s.node.id]).collect();
            graph.add(t.node.op.clone(), &srcs)?
        };
        ids.insert(t.node.id, id);
    }
    for o in outputs {
        graph.mark_output(ids[&o.node.id]);
    }
    Ok(Captured { graph, leaves })
}

/// A leaf's value as a device buffer, uploading (once) what is still on the host.
pub(crate) fn gpu_value(ctx: &GpuContext, t: &Tensor) -> Result<Arc<GpuBuffer>> {
    match t.value() {
        Some(Value::Gpu(b)) => Ok(b),
        Some(Value::Host(h)) => {
            let b = ctx.upload(&h)?;
            t.set_value(Value::Gpu(b.clone()));
            Ok(b)
        }
        None => Err(Error::UnboundPlaceholder(format!("{t:?}"))),
    }
}

/// The GPU context of a tensor that holds a GPU buffer.
pub(crate) fn gpu_of(t: &Tensor) -> Result<&Arc<GpuContext>> {
    t.device()
        .gpu()
        .ok_or_else(|| Error::Readback("a GPU buffer on a CPU device".into()))
}

/// A leaf's value on the host.
pub(crate) fn host_value(t: &Tensor) -> Result<Arc<HostTensor>> {
    match t.value() {
        Some(Value::Host(h)) => Ok(h),
        Some(Value::Gpu(b)) => Ok(Arc::new(gpu_of(t)?.read(&b, t.shape())?)),
        None => Err(Error::UnboundPlaceholder(format!("{t:?}"))),
    }
}

/// Computes every unrealized tensor of `tensors` in one plan.
pub(crate) fn realize(tensors: &[&Tensor]) -> Result<()> {
    let todo: Vec<&Tensor> = tensors
        .iter()
        .copied()
        .filter(|t| !t.is_realized())
        .collect();
    let Some(first) = todo.first() else {
        return Ok(());
    };
    let device = first.device().clone();
    for t in &todo {
        if *t.device() != device {
            return Err(Error::DeviceMismatch(
                device.describe(),
                t.device().describe(),
            ));
        }
        if t.node.placeholder {
            return Err(Error::UnboundPlaceholder(format!("{t:?}")));
        }
    }
    let cap = capture(&todo)?;
    if let Some(p) = cap.leaves.iter().find(|l| l.node.placeholder) {
        return Err(Error::UnboundPlaceholder(format!("{p:?}")));
    }
    let values = run_graph(&device, &cap.graph, &cap.leaves)?;
    for (t, v) in todo.iter().zip(values) {
        t.set_value(v);
    }
    Ok(())
}

/// Runs a captured graph on a device with its leaves' values; returns one value per output.
pub(crate) fn run_graph(
    device: &crate::Device,
    graph: &Graph,
    leaves: &[Tensor],
) -> Result<Vec<Value>> {
    match device.backend() {
        Backend::Interpreter { .. } => {
            let inputs: Vec<HostTensor> = leaves
                .iter()
                .map(|l| host_value(l).map(|h| (*h).clone()))
                .collect::<Result<_>>()?;
            let outs = kiln_ir::interp::evaluate(graph, &inputs)?;
            Ok(outs.into_iter().map(|h| Value::Host(Arc::new(h))).collect())
        }
        Backend::Gpu(ctx) => {
            let inputs: Vec<Arc<GpuBuffer>> = leaves
                .iter()
                .map(|l| gpu_value(ctx, l))
                .collect::<Result<_>>()?;
            // A structure seen before (same ops, dtypes, shapes, constants, wiring) reuses its
            // plan: no passes, no lowering, no codegen, no pipeline or uniform creation; one
            // that differs only in float constants may reuse one too (`plan_cache`).
            let found = crate::plan_cache::plan(ctx, device, graph)?;
            let p = &found.plan;
            let outs = exec::run_prepared_with(
                ctx,
                &p.program,
                &p.prepared,
                &inputs,
                None,
                &found.uniforms,
            )?;
            Ok(outs.into_iter().map(Value::Gpu).collect())
        }
    }
}

/// Evaluates a tensor with the reference interpreter, whatever its device.
pub(crate) fn reference(t: &Tensor) -> Result<HostTensor> {
    let cap = capture_with(&[t], true)?;
    let inputs: Vec<HostTensor> = cap
        .leaves
        .iter()
        .map(|l| host_value(l).map(|h| (*h).clone()))
        .collect::<Result<_>>()?;
    let mut outs = kiln_ir::interp::evaluate(&cap.graph, &inputs)?;
    outs.pop()
        .ok_or_else(|| Error::Readback("the interpreter returned nothing".into()))
}

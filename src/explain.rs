//! Seeing what the compiler did: for a set of tensors, the kernels of their plan, the ops fused
//! into each, why each kernel boundary is where it is, each kernel's WGSL, and DOT graphs of
//! the ops and of the kernels.

use crate::{realize, Result, Tensor};
pub use kiln_codegen::{
    AttentionSchedule, ElementwiseSchedule, MatmulSchedule, ReduceSchedule, Schedule,
};
use kiln_ir::lower::{BufRef, Program};
use kiln_ir::{Graph, KernelKind};
use std::fmt;

/// One kernel of a plan.
#[derive(Clone, Debug)]
pub struct KernelInfo {
    /// The kernel's name (its ops).
    pub name: String,
    /// Elementwise, reduce (with its stages) or matmul.
    pub kind: String,
    /// The graph ops computed inside, movement ops included.
    pub ops: Vec<String>,
    /// The dtypes of the buffers it reads, in binding order (a quantized one is read as its
    /// blocks and decoded where loaded).
    pub inputs: Vec<kiln_ir::DType>,
    /// Why the kernel exists.
    pub reason: String,
    /// Each computed value it reads from memory, and why that is not fused.
    pub boundaries: Vec<String>,
    /// The generated WGSL.
    pub wgsl: String,
}

/// The plan of a set of tensors.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The kernels, in launch order.
    pub kernels: Vec<KernelInfo>,
    /// The device's counters when the plan was made (plan hits and misses, pipelines compiled,
    /// bytes allocated, peak bytes, kernels tuned); `None` on the interpreter.
    pub counters: Option<crate::Counters>,
    graph: Graph,
    program: Program,
}

impl Plan {
    /// Compiles (without running) the computation behind `outputs` on their device.
    pub fn of(outputs: &[&Tensor]) -> Result<Plan> {
        let device =
            outputs
                .first()
                .map(|t| t.device().clone())
                .ok_or(crate::Error::InputCount {
                    expected: 1,
                    got: 0,
                })?;
        let cap = realize::capture(outputs)?;
        let (graph, program) = crate::compile::lower(&cap.graph, &device)?;
        let schedule_of = |k: &kiln_ir::Kernel| match device.gpu() {
            Some(g) => g.schedule_for(k, &g.schedule()),
            None => Schedule::default().resolve(k),
        };
        let target = device.gpu().map(|g| g.target).unwrap_or_default();
        let kernels = describe(&graph, &program, &schedule_of, &target)?;
        Ok(Plan {
            kernels,
            counters: device.counters(),
            graph,
            program,
        })
    }

    /// Each kernel's WGSL under another schedule, for the default storage target (for
    /// comparing schedules, and golden files that must not depend on the adapter).
    pub fn wgsl_for(&self, schedule: &Schedule) -> Result<Vec<String>> {
        self.program
            .calls
            .iter()
            .map(|c| {
                let s = schedule.resolve(&c.kernel);
                Ok(kiln_codegen::generate(&c.kernel, &s, &Default::default())?.wgsl)
            })
            .collect()
    }

    /// The lowered program: the kernels as data, with their buffers.
    pub fn lowered(&self) -> &Program {
        &self.program
    }

    /// The op graph in Graphviz DOT.
    pub fn op_dot(&self) -> String {
        self.graph.to_dot()
    }

    /// The kernel graph in Graphviz DOT: kernels as boxes, buffers as edges.
    pub fn kernel_dot(&self) -> String {
        let mut s = String::from("digraph kernels {\n  node [shape=box, fontname=monospace];\n");
        let mut producer = std::collections::HashMap::new();
        for (i, c) in self.program.calls.iter().enumerate() {
            s.push_str(&format!(
                "  k{i} [label=\"{i}: {}\"];\n",
                c.kernel.name.replace('"', "'")
            ));
            for &t in &c.outputs {
                producer.insert(t, i);
            }
        }
        for (i, c) in self.program.calls.iter().enumerate() {
            for b in &c.inputs {
                match b {
                    BufRef::Temp(t) => {
                        if let Some(p) = producer.get(t) {
                            s.push_str(&format!("  k{p} -> k{i};\n"));
                        }
                    }
                    BufRef::Input(slot) => s.push_str(&format!(
                        "  in{slot} [shape=ellipse];\n  in{slot} -> k{i};\n"
                    )),
                }
            }
        }
        s.push_str("}\n");
        s
    }
}

pub(crate) fn describe(
    graph: &Graph,
    program: &Program,
    schedule_of: &dyn Fn(&kiln_ir::Kernel) -> Schedule,
    target: &kiln_codegen::Target,
) -> Result<Vec<KernelInfo>> {
    program
        .calls
        .iter()
        .map(|c| {
            let kind =
                match &c.kernel.kind {
                    KernelKind::Elementwise => "elementwise".to_string(),
                    KernelKind::Reduce { stages, red_rank } => format!(
                        "reduce over the last {red_rank} dims, stages [{}]",
                        stages
                            .iter()
                            .map(|s| s.op.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    KernelKind::Matmul { prologue, .. } => match prologue {
                        Some(_) => {
                            "matmul, its operand A computed where it is read (prologue)".to_string()
                        }
                        None => "matmul".to_string(),
                    },
                    KernelKind::Attention {
                        causal,
                        partial,
                        q_prologue,
                        ..
                    } => format!(
                    "fused attention{}{}: scores, softmax and values in one kernel, the scores \
                     never stored{}",
                    if *causal { ", causal" } else { "" },
                    if *partial { ", one run of a split (decode) attention" } else { "" },
                    if q_prologue.is_some() {
                        "; its queries computed where they are read (prologue)"
                    } else {
                        ""
                    }
                ),
                    KernelKind::Scan { op, .. } => format!("{} along the last dim", op.name()),
                };
            let schedule = schedule_of(&c.kernel);
            let serial =
                matches!(c.kernel.kind, KernelKind::Reduce { .. }) && schedule.reduce.serial > 0;
            let kind = if schedule.matmul.tensor_cores || schedule.attention.tensor_cores {
                format!("{kind} on tensor cores")
            } else if serial {
                format!("{kind}, a row an invocation")
            } else if schedule.attention.segments > 1 {
                format!(
                    "{kind}, its keys spread over {} segments of one workgroup and combined there",
                    schedule.attention.segments
                )
            } else {
                kind
            };
            let wgsl = kiln_codegen::generate(&c.kernel, &schedule, target)?.wgsl;
            Ok(KernelInfo {
                name: c.kernel.name.clone(),
                kind,
                ops: c
                    .nodes
                    .iter()
                    .map(|&n| {
                        let node = graph.node(n);
                        format!("{} {}{}", node.op.name(), node.dtype(), node.shape())
                    })
                    .collect(),
                inputs: c.kernel.inputs.clone(),
                reason: c.reason.clone(),
                boundaries: c
                    .boundaries
                    .iter()
                    .map(|(n, why)| {
                        format!("reads {} from memory: {why}", graph.node(*n).op.name())
                    })
                    .collect(),
                wgsl,
            })
        })
        .collect()
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} kernel(s)", self.kernels.len())?;
        if let Some(c) = &self.counters {
            writeln!(
                f,
                "device so far: plans {} hit / {} compiled, {} pipelines compiled ({} reused), {} kernels tuned ({} candidates skipped), {} bytes allocated, {} bytes now, peak {} bytes",
                c.plan_hits,
                c.plan_misses,
                c.pipelines_compiled,
                c.pipeline_hits,
                c.kernels_tuned,
                c.candidates_skipped,
                c.bytes_allocated,
                c.device_bytes,
                c.peak_bytes
            )?;
        }
        for (i, k) in self.kernels.iter().enumerate() {
            writeln!(f, "\nkernel {i}: {} [{}]", k.name, k.kind)?;
            writeln!(f, "  why: {}", k.reason)?;
            writeln!(f, "  ops: {}", k.ops.join(", "))?;
            let reads: Vec<String> = k
                .inputs
                .iter()
                .map(|d| match d.quant() {
                    Some(_) => format!("{d} blocks (decoded where loaded)"),
                    None => d.to_string(),
                })
                .collect();
            writeln!(f, "  reads: {}", reads.join(", "))?;
            for b in &k.boundaries {
                writeln!(f, "  boundary: {b}")?;
            }
            writeln!(f, "  wgsl:")?;
            for line in k.wgsl.lines() {
                writeln!(f, "    {line}")?;
            }
        }
        Ok(())
    }
}

impl Tensor {
    /// The plan that computing this tensor would run: kernels, fused ops, boundaries and WGSL.
    pub fn explain(&self) -> Result<Plan> {
        Plan::of(&[self])
    }
}

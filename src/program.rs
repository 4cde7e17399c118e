//! The explicit level for frameworks that capture their own graphs: build with placeholders,
//! compile once, run many times on new inputs whose buffers stay on the device.

use crate::device::{Backend, Device};
use crate::realize::{capture, gpu_value, host_value, run_graph};
use crate::runtime::{exec, GpuContext};
use crate::tensor::{Tensor, Value};
use crate::{Error, Result};
use kiln_ir::lower::Program as Lowered;
use kiln_ir::{Graph, TensorType};
use std::sync::Arc;

/// What fills each graph input slot at run time.
#[derive(Clone)]
enum Slot {
    /// The program input at this position.
    Input(usize),
    /// A tensor captured at compile time (weights, constants).
    Captured(Tensor),
}

/// A compiled graph: run it with [`Program::run`].
pub struct Program {
    device: Device,
    graph: Graph,
    slots: Vec<Slot>,
    inputs: Vec<TensorType>,
    outputs: Vec<TensorType>,
    lowered: Option<Lowered>,
    prepared: Option<crate::runtime::plans::Prepared>,
}

impl Program {
    /// Compiles the computation of `outputs` from the placeholders `inputs` (made with
    /// [`Tensor::placeholder`]). Other leaves (realized tensors, data) are captured by value.
    /// GPU pipelines are compiled here, not at the first run.
    pub fn compile(inputs: &[&Tensor], outputs: &[&Tensor]) -> Result<Program> {
        let device = outputs
            .first()
            .or(inputs.first())
            .map(|t| t.device().clone())
            .ok_or(Error::InputCount {
                expected: 1,
                got: 0,
            })?;
        for (index, t) in inputs.iter().enumerate() {
            if let Some(first) = inputs[..index].iter().position(|u| u.id() == t.id()) {
                return Err(Error::DuplicateInput { first, index });
            }
        }
        let cap = capture(outputs)?;
        let mut slots = Vec::with_capacity(cap.leaves.len());
        for leaf in &cap.leaves {
            if leaf.node.placeholder {
                let pos = inputs
                    .iter()
                    .position(|i| i.id() == leaf.id())
                    .ok_or_else(|| Error::PlaceholderNotInput(format!("{leaf:?}")))?;
                slots.push(Slot::Input(pos));
            } else {
                slots.push(Slot::Captured(leaf.clone()));
            }
        }
        let (lowered, prepared) = match device.backend() {
            Backend::Gpu(ctx) => {
                let (_, prog) = crate::compile::lower(&cap.graph, &device)?;
                let prepared = exec::prepare(ctx, &prog)?;
                (Some(prog), Some(prepared))
            }
            Backend::Interpreter { .. } => (None, None),
        };
        Ok(Program {
            device,
            slots,
            inputs: inputs.iter().map(|t| t.node.ty.clone()).collect(),
            outputs: outputs.iter().map(|t| t.node.ty.clone()).collect(),
            graph: cap.graph,
            lowered,
            prepared,
        })
    }

    /// The number of kernels in the plan (0 on the interpreter).
    pub fn kernel_count(&self) -> usize {
        self.lowered.as_ref().map_or(0, |p| p.calls.len())
    }

    /// The memory plan of a run (GPU only): which temporaries share buffers, the bytes it
    /// allocates, and the lower bound (the peak of live temporaries).
    pub fn memory(&self) -> Option<&crate::runtime::MemoryPlan> {
        self.prepared.as_ref().map(|p| p.memory())
    }

    /// The number of kernels one run dispatches (kernels over empty tensors are skipped).
    pub fn dispatch_count(&self) -> usize {
        self.prepared.as_ref().map_or(0, |p| p.dispatches())
    }

    /// The declared input types.
    pub fn input_types(&self) -> &[TensorType] {
        &self.inputs
    }

    /// Runs the program. Inputs must match the placeholders' dtypes and shapes; results are
    /// realized tensors that stay on the device until read.
    pub fn run(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>> {
        self.check_inputs(inputs)?;
        let leaves: Vec<Tensor> = self
            .slots
            .iter()
            .map(|s| match s {
                Slot::Input(i) => inputs[*i].clone(),
                Slot::Captured(t) => t.clone(),
            })
            .collect();
        let values = match (self.device.backend(), &self.lowered, &self.prepared) {
            (Backend::Gpu(ctx), Some(prog), Some(prepared)) => {
                let bufs = leaves
                    .iter()
                    .map(|l| gpu_value(ctx, l))
                    .collect::<Result<Vec<_>>>()?;
                exec::run_prepared(ctx, prog, prepared, &bufs, None)?
                    .into_iter()
                    .map(Value::Gpu)
                    .collect()
            }
            _ => run_graph(&self.device, &self.graph, &leaves)?,
        };
        Ok(self.wrap_outputs(values))
    }

    fn wrap_outputs(&self, values: Vec<Value>) -> Vec<Tensor> {
        values
            .into_iter()
            .zip(&self.outputs)
            .map(|(v, ty)| {
                Tensor::make(
                    self.device.clone(),
                    kiln_ir::Op::Input { slot: 0 },
                    vec![],
                    ty.clone(),
                    false,
                    Some(v),
                )
            })
            .collect()
    }

    fn check_inputs(&self, inputs: &[&Tensor]) -> Result<()> {
        if inputs.len() != self.inputs.len() {
            return Err(Error::InputCount {
                expected: self.inputs.len(),
                got: inputs.len(),
            });
        }
        for (i, (t, ty)) in inputs.iter().zip(&self.inputs).enumerate() {
            if t.dtype() != ty.dtype || *t.shape() != ty.shape {
                return Err(Error::InputMismatch {
                    index: i,
                    expected: Box::new(ty.clone()),
                    got: Box::new(t.node.ty.clone()),
                });
            }
            if *t.device() != self.device {
                return Err(Error::DeviceMismatch(
                    self.device.describe(),
                    t.device().describe(),
                ));
            }
        }
        Tensor::realize_all(inputs)
    }

    /// Evaluates the program with the reference interpreter on these inputs (for checking a
    /// run's results).
    pub fn reference(&self, inputs: &[&Tensor]) -> Result<Vec<kiln_ir::HostTensor>> {
        self.check_inputs(inputs)?;
        let values: Vec<kiln_ir::HostTensor> = self
            .slots
            .iter()
            .map(|s| match s {
                Slot::Input(i) => host_value(inputs[*i]).map(|h| (*h).clone()),
                Slot::Captured(t) => host_value(t).map(|h| (*h).clone()),
            })
            .collect::<Result<_>>()?;
        Ok(kiln_ir::interp::evaluate(&self.graph, &values)?)
    }

    /// The device buffers of the program's leaves: the inputs given, then captured tensors.
    fn gpu_leaves(
        &self,
        ctx: &crate::runtime::GpuContext,
        inputs: &[&Tensor],
    ) -> Result<Vec<Arc<crate::runtime::GpuBuffer>>> {
        self.check_inputs(inputs)?;
        self.slots
            .iter()
            .map(|s| match s {
                Slot::Input(i) => gpu_value(ctx, inputs[*i]),
                Slot::Captured(t) => gpu_value(ctx, t),
            })
            .collect()
    }

    /// The GPU time of each kernel of one run, in launch order: `(kernel name, milliseconds)`,
    /// from timestamps written between dispatches, or, where the adapter writes them only at
    /// pass boundaries (browsers), around each dispatch run in a pass of its own. `None`
    /// without timestamp queries, or on the interpreter. Blocking: in the browser, use
    /// [`Program::profile_async`].
    pub fn profile(&self, inputs: &[&Tensor]) -> Result<Option<Vec<(String, f64)>>> {
        crate::runtime::platform::ensure_can_block("Program::profile")?;
        let Some((ctx, timing, names)) = self.start_profile(inputs)? else {
            return Ok(None);
        };
        Ok(Some(names.into_iter().zip(timing.read_all(ctx)?).collect()))
    }

    /// [`Program::profile`] without blocking the thread.
    pub async fn profile_async(&self, inputs: &[&Tensor]) -> Result<Option<Vec<(String, f64)>>> {
        let Some((ctx, timing, names)) = self.start_profile(inputs)? else {
            return Ok(None);
        };
        let times = timing.read_all_async(ctx).await?;
        Ok(Some(names.into_iter().zip(times).collect()))
    }

    /// Starts a run timed dispatch by dispatch: its context, timing and the kernel name of each
    /// dispatch. `None` where it cannot be timed so.
    #[allow(clippy::type_complexity)]
    fn start_profile(
        &self,
        inputs: &[&Tensor],
    ) -> Result<Option<(&GpuContext, crate::runtime::Timing, Vec<String>)>> {
        let (Backend::Gpu(ctx), Some(prog), Some(prepared)) =
            (self.device.backend(), &self.lowered, &self.prepared)
        else {
            return Ok(None);
        };
        let Some(timing) = crate::runtime::Timing::per_dispatch(ctx, prepared.dispatches()) else {
            return Ok(None);
        };
        let leaves = self.gpu_leaves(ctx, inputs)?;
        exec::run_prepared(ctx, prog, prepared, &leaves, Some(&timing))?;
        let names = prepared
            .dispatched_calls()
            .into_iter()
            .map(|c| prog.calls[c].kernel.name.clone())
            .collect();
        Ok(Some((ctx, timing, names)))
    }

    /// Runs with GPU timing: returns the outputs and the GPU milliseconds of the pass, where
    /// the adapter has timestamp queries.
    pub fn run_timed(&self, inputs: &[&Tensor]) -> Result<(Vec<Tensor>, Option<f64>)> {
        let (Backend::Gpu(ctx), Some(prog), Some(prepared)) =
            (self.device.backend(), &self.lowered, &self.prepared)
        else {
            return Ok((self.run(inputs)?, None));
        };
        let Some(timing) = crate::runtime::Timing::new(ctx) else {
            return Ok((self.run(inputs)?, None));
        };
        let leaves = self.gpu_leaves(ctx, inputs)?;
        let outs = exec::run_prepared(ctx, prog, prepared, &leaves, Some(&timing))?;
        let ms = timing.read_ms(ctx)?;
        let tensors = self.wrap_outputs(outs.into_iter().map(Value::Gpu).collect());
        Ok((tensors, Some(ms)))
    }
}

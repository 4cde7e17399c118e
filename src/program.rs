//! The explicit level for frameworks that capture their own graphs: build with placeholders,
//! compile once, run many times on new inputs whose buffers stay on the device.

use crate::device::{Backend, Device};
use crate::realize::{capture, gpu_value, host_value, run_graph};
use crate::runtime::{exec, Donor, GpuBuffer, GpuContext};
use crate::tensor::{Tensor, Value};
use crate::{Error, Result};
use kiln_ir::lower::{BufRef, Program as Lowered};
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
    /// The graph input slots whose buffers a run writes over (donated inputs).
    taken: Vec<u32>,
}

/// The buffer of a realized tensor that nothing else holds (no other handle or weak
/// reference to it, no other tensor on its buffer); the tensor back otherwise.
fn sole_buffer(mut t: Tensor) -> std::result::Result<Arc<GpuBuffer>, Tensor> {
    let Some(node) = Arc::get_mut(&mut t.node) else {
        return Err(t);
    };
    let value = node
        .value
        .get_mut()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match value.take() {
        Some(Value::Gpu(b)) if Arc::strong_count(&b) == 1 && Arc::weak_count(&b) == 0 => Ok(b),
        v => {
            *value = v;
            Err(t)
        }
    }
}

impl Program {
    /// Compiles the computation of `outputs` from the placeholders `inputs` (made with
    /// [`Tensor::placeholder`]). Other leaves (realized tensors, data) are captured by value.
    /// GPU pipelines are compiled here, not at the first run.
    pub fn compile(inputs: &[&Tensor], outputs: &[&Tensor]) -> Result<Program> {
        Program::compile_donating(inputs, outputs, &[])
    }

    /// [`Program::compile`], planning to write outputs over the buffers of the inputs at
    /// positions `donated` (as JAX's donated arguments): where the kernel that reads such an
    /// input last writes an output of its dtype and shape element by element over it (an
    /// update `where(c, x, input)` stores only where `c` holds), that output is the input's
    /// buffer. [`Program::donations`] lists where. [`Program::run_donating`] writes over the
    /// buffer of a donated input that nothing else holds and copies it first otherwise, as
    /// [`Program::run`] always does, so no tensor the caller keeps ever changes.
    pub fn compile_donating(
        inputs: &[&Tensor],
        outputs: &[&Tensor],
        donated: &[usize],
    ) -> Result<Program> {
        if let Some(&index) = donated.iter().find(|&&i| i >= inputs.len()) {
            return Err(Error::DonatedInput {
                index,
                inputs: inputs.len(),
            });
        }
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
        // Each input is one graph slot (leaves are distinct, and so are inputs).
        let donors: Vec<Donor> = slots
            .iter()
            .enumerate()
            .filter_map(|(slot, s)| match s {
                Slot::Input(i) if donated.contains(i) => Some(Donor {
                    slot: slot as u32,
                    dtype: inputs[*i].dtype(),
                    numel: inputs[*i].shape().numel(),
                }),
                Slot::Input(_) | Slot::Captured(_) => None,
            })
            .collect();
        let (lowered, prepared) = match device.backend() {
            Backend::Gpu(ctx) => {
                let (_, prog) = crate::compile::lower(&cap.graph, &device)?;
                let prepared = exec::prepare(ctx, &prog, &donors)?;
                (Some(prog), Some(prepared))
            }
            Backend::Interpreter { .. } => (None, None),
        };
        let taken = prepared
            .as_ref()
            .map(|p| p.memory().taken.iter().flatten().copied().collect())
            .unwrap_or_default();
        Ok(Program {
            device,
            slots,
            inputs: inputs.iter().map(|t| t.node.ty.clone()).collect(),
            outputs: outputs.iter().map(|t| t.node.ty.clone()).collect(),
            graph: cap.graph,
            lowered,
            prepared,
            taken,
        })
    }

    /// The donated inputs a run writes over, as `(input position, output index)`: the
    /// output is the input's buffer, updated where it lies.
    pub fn donations(&self) -> Vec<(usize, usize)> {
        let (Some(prog), Some(prepared)) = (&self.lowered, &self.prepared) else {
            return Vec::new();
        };
        let taken = &prepared.memory().taken;
        let mut pairs = Vec::new();
        for (o, (b, _, _)) in prog.outputs.iter().enumerate() {
            if let BufRef::Temp(t) = b {
                if let Some(Slot::Input(i)) = taken[*t].map(|s| &self.slots[s as usize]) {
                    pairs.push((*i, o));
                }
            }
        }
        pairs
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
    /// A donated input's buffer is copied first (see [`Program::run_donating`]), in a
    /// submission of its own after the work recorded before it: run a program with donated
    /// inputs through `run_donating` where speed matters.
    pub fn run(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>> {
        let values = match (self.device.backend(), &self.lowered, &self.prepared) {
            (Backend::Gpu(ctx), Some(prog), Some(prepared)) => {
                let bufs = self.gpu_leaves(ctx, inputs)?;
                exec::run_prepared(ctx, prog, prepared, &bufs, None)?
                    .into_iter()
                    .map(Value::Gpu)
                    .collect()
            }
            _ => {
                self.check_inputs(inputs)?;
                let leaves: Vec<Tensor> = self
                    .slots
                    .iter()
                    .map(|s| match s {
                        Slot::Input(i) => inputs[*i].clone(),
                        Slot::Captured(t) => t.clone(),
                    })
                    .collect();
                run_graph(&self.device, &self.graph, &leaves)?
            }
        };
        Ok(self.wrap_outputs(values))
    }

    /// [`Program::run`], taking the inputs: the buffer of a donated input (see
    /// [`Program::compile_donating`]) that nothing else holds becomes its output, written in
    /// place; one still held elsewhere (another handle, a weak reference, a tensor sharing
    /// its buffer) is copied first, so that what others hold never changes.
    pub fn run_donating(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>> {
        let (Backend::Gpu(ctx), Some(prog), Some(prepared)) =
            (self.device.backend(), &self.lowered, &self.prepared)
        else {
            return self.run(&inputs.iter().collect::<Vec<_>>());
        };
        {
            let refs: Vec<&Tensor> = inputs.iter().collect();
            self.check_inputs(&refs)?;
            // Data given from the host goes to the device first (the tensor keeps it).
            for t in &inputs {
                gpu_value(ctx, t)?;
            }
        }
        let mut inputs: Vec<Option<Tensor>> = inputs.into_iter().map(Some).collect();
        let mut bufs = Vec::with_capacity(self.slots.len());
        for (slot, s) in self.slots.iter().enumerate() {
            let leaf = match s {
                Slot::Input(i) => inputs[*i].take(),
                Slot::Captured(t) => Some(t.clone()),
            };
            let leaf = leaf.ok_or(Error::from(kiln_ir::IrError::UnboundInput(slot as u32)))?;
            bufs.push(if self.taken.contains(&(slot as u32)) {
                match sole_buffer(leaf) {
                    Ok(b) => b,
                    Err(t) => ctx.duplicate(&*gpu_value(ctx, &t)?)?,
                }
            } else {
                gpu_value(ctx, &leaf)?
            });
        }
        let values = exec::run_prepared(ctx, prog, prepared, &bufs, None)?;
        Ok(self.wrap_outputs(values.into_iter().map(Value::Gpu).collect()))
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
    ) -> Result<Vec<Arc<GpuBuffer>>> {
        self.check_inputs(inputs)?;
        self.slots
            .iter()
            .enumerate()
            .map(|(slot, s)| match s {
                Slot::Input(i) if self.taken.contains(&(slot as u32)) => {
                    ctx.duplicate(&*gpu_value(ctx, inputs[*i])?)
                }
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

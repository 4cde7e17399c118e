//! Running a lowered program on the GPU: buffers for its temporaries, one uniform and bind
//! group per launch (the bind group kept from an earlier run on the same buffers where there
//! is one, `bind_groups.rs`), every launch recorded into the device's open batch pass (`batch.rs`), or,
//! for a timed run or under `Submission::PerRun` outside a batch scope, into a compute pass
//! and a submission of its own.

use super::batch::dispatch;
use super::context::GpuContext;
use super::launch::{uniform, Timing, TimingMode};
use super::memory::{Donor, MemoryPlan};
use super::plans::{Prepared, PreparedCall};
use super::pool::GpuBuffer;
use crate::{Error, Result};
use kiln_ir::lower::{BufRef, Program};
use std::sync::Arc;

/// Compiles (or finds) every pipeline of `prog` and writes its uniforms, planning to write
/// program outputs over the `donors`' buffers where a launch can (a run then must be given
/// buffers of those inputs that nothing else holds).
pub fn prepare(ctx: &GpuContext, prog: &Program, donors: &[Donor]) -> Result<Prepared> {
    let max_storage = ctx.limits.max_storage_buffers_per_shader_stage as usize;
    let max_dim = ctx.limits.max_compute_workgroups_per_dimension;
    let schedule = ctx.schedule();
    let memory = MemoryPlan::of(prog, &ctx.target, donors);
    // The candidates of the kernels about to be tuned, compiled together first.
    let mut candidates: Vec<(&kiln_ir::Kernel, kiln_codegen::Schedule)> = Vec::new();
    for call in &prog.calls {
        for s in ctx.tuning_candidates(&call.kernel, &schedule) {
            candidates.push((&call.kernel, s));
        }
    }
    ctx.precompile(&candidates);
    // Each call's kernel as it runs (the in-place variant binds one buffer fewer) and its
    // schedule, tuned on the kernel as lowered (both variants share it). Tuning times one
    // kernel at a time; then the pipelines not compiled yet are compiled together.
    let mut jobs: Vec<(
        std::borrow::Cow<'_, kiln_ir::Kernel>,
        kiln_codegen::Schedule,
    )> = Vec::with_capacity(prog.calls.len());
    for (ci, call) in prog.calls.iter().enumerate() {
        let k = match memory.inplace[ci] {
            Some(pair) => std::borrow::Cow::Owned(kiln_ir::Kernel {
                inplace: Some(pair),
                ..call.kernel.clone()
            }),
            None => std::borrow::Cow::Borrowed(&call.kernel),
        };
        let n_bind = call.inputs.len() + call.outputs.len();
        if n_bind > max_storage {
            return Err(Error::TooManyBindings {
                kernel: k.name.clone(),
                bindings: n_bind,
                limit: max_storage,
            });
        }
        jobs.push((k, ctx.schedule_for(&call.kernel, &schedule)));
    }
    let refs: Vec<(&kiln_ir::Kernel, kiln_codegen::Schedule)> =
        jobs.iter().map(|(k, s)| (k.as_ref(), *s)).collect();
    let compiled = ctx.compile_all(&refs)?;
    let mut calls = Vec::with_capacity(prog.calls.len());
    for (ci, ((k, _), ck)) in refs.into_iter().zip(compiled).enumerate() {
        let grid = ck.source.grid(k, max_dim)?;
        if grid.contains(&0) {
            continue;
        }
        let uniform = uniform(ctx, &ck, k)?;
        calls.push(PreparedCall {
            call: ci,
            ck,
            uniform,
            grid,
            skip_input: memory.inplace[ci].map(|(i, _)| i.index()),
        });
    }
    ctx.save_pipeline_cache();
    Ok(Prepared { calls, memory })
}

/// Runs `prog` with `inputs` bound to its input slots; returns one buffer per program output.
pub fn run(
    ctx: &GpuContext,
    prog: &Program,
    inputs: &[Arc<GpuBuffer>],
    timing: Option<&Timing>,
) -> Result<Vec<Arc<GpuBuffer>>> {
    let prepared = prepare(ctx, prog, &[])?;
    run_prepared(ctx, prog, &prepared, inputs, timing)
}

/// The uniforms of the launches of a generic plan (`kiln_ir::generic`) whose kernels take
/// constants from the graph's float constants, for the constants `values`: one per prepared
/// call, `None` where the prepared uniform serves. Fresh buffers, so that runs of the plan
/// still queued keep their own values.
pub fn generic_uniforms(
    ctx: &GpuContext,
    prog: &Program,
    prepared: &Prepared,
    map: &kiln_ir::generic::ConstMap,
    values: &[f64],
) -> Result<Vec<Option<wgpu::Buffer>>> {
    prepared
        .calls
        .iter()
        .map(|pc| {
            map.kernel(prog, pc.call, values)?
                .map(|mut k| {
                    k.inplace = prepared.memory.inplace[pc.call];
                    uniform(ctx, &pc.ck, &k)
                })
                .transpose()
        })
        .collect()
}

/// Runs a prepared program: buffers for its temporaries (from the pool), one bind group per
/// launch, every launch recorded into the batch's open pass (or one pass and one submission
/// of its own when timed or submitted per run).
pub fn run_prepared(
    ctx: &GpuContext,
    prog: &Program,
    prepared: &Prepared,
    inputs: &[Arc<GpuBuffer>],
    timing: Option<&Timing>,
) -> Result<Vec<Arc<GpuBuffer>>> {
    run_prepared_with(ctx, prog, prepared, inputs, timing, &[])
}

/// [`run_prepared`] with some launches' uniforms replaced (`uniforms[i]` for prepared call
/// `i`, where given: [`generic_uniforms`]).
pub fn run_prepared_with(
    ctx: &GpuContext,
    prog: &Program,
    prepared: &Prepared,
    inputs: &[Arc<GpuBuffer>],
    timing: Option<&Timing>,
    uniforms: &[Option<wgpu::Buffer>],
) -> Result<Vec<Arc<GpuBuffer>>> {
    ctx.check_alive()?;
    let mem = &prepared.memory;
    let mut slots = Vec::with_capacity(mem.slot_temp.len());
    for &t in &mem.slot_temp {
        slots.push(ctx.alloc(prog.temps[t].dtype, prog.temps[t].numel)?);
    }
    // A donated input's buffer is the output written over it.
    let temps = mem
        .slot_of
        .iter()
        .zip(&mem.taken)
        .map(|(&s, taken)| match taken {
            Some(i) => inputs
                .get(*i as usize)
                .cloned()
                .ok_or(Error::from(kiln_ir::IrError::UnboundInput(*i))),
            None => Ok(slots[s].clone()),
        })
        .collect::<Result<Vec<Arc<GpuBuffer>>>>()?;
    let buf = |r: &BufRef| -> Result<&Arc<GpuBuffer>> {
        match r {
            BufRef::Input(s) => inputs
                .get(*s as usize)
                .ok_or(Error::from(kiln_ir::IrError::UnboundInput(*s))),
            BufRef::Temp(t) => Ok(&temps[*t]),
        }
    };
    let mut launches = Vec::with_capacity(prepared.calls.len());
    for (i, pc) in prepared.calls.iter().enumerate() {
        let call = &prog.calls[pc.call];
        // A uniform made for this run only is never bound again: its bind group is not kept.
        let fresh = uniforms.get(i).and_then(Option::as_ref);
        let u = fresh.unwrap_or(&pc.uniform);
        let mut bufs = Vec::with_capacity(call.inputs.len() + call.outputs.len());
        for (i, r) in call.inputs.iter().enumerate() {
            if pc.skip_input != Some(i) {
                bufs.push(&buf(r)?.buffer);
            }
        }
        for &t in &call.outputs {
            bufs.push(&temps[t].buffer);
        }
        let bg = ctx.bind_groups().get(
            &ctx.device,
            &pc.ck.layout,
            u,
            &bufs,
            &call.kernel.name,
            fresh.is_none(),
        );
        launches.push((&*pc.ck, bg, pc.grid));
    }
    let mut outs = Vec::with_capacity(prog.outputs.len());
    for (r, _, _) in &prog.outputs {
        outs.push(buf(r)?.clone());
    }
    let batched = timing.is_none()
        && ctx.with_batch(|b, ctx| {
            if b.is_open() {
                b.record(ctx, &launches);
            }
            b.is_open()
        });
    ctx.count(|c| c.dispatches += launches.len() as u64);
    if batched {
        return Ok(outs);
    }
    // A timed run is measured alone (`submit` sends the open batch first).
    let mut enc = ctx
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("kiln"),
        });
    if let Some(t) = timing.filter(|t| t.mode() == TimingMode::PassPerDispatch) {
        for (i, l) in launches.iter().enumerate() {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("kiln"),
                timestamp_writes: t.writes(Some(i)),
            });
            dispatch(&mut pass, l);
        }
    } else {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("kiln"),
            timestamp_writes: timing.and_then(|t| t.writes(None)),
        });
        for (i, l) in launches.iter().enumerate() {
            if let Some(t) = timing {
                t.mark(&mut pass, i);
            }
            dispatch(&mut pass, l);
        }
        if let Some(t) = timing {
            t.mark(&mut pass, launches.len());
        }
    }
    if let Some(t) = timing {
        t.resolve(&mut enc);
    }
    ctx.submit(enc.finish());
    Ok(outs)
}

//! Running a lowered program on the GPU: buffers for its temporaries, one uniform and bind
//! group per launch, every launch recorded into the device's open batch pass (`batch.rs`), or,
//! for a timed run or under `Submission::PerRun` outside a batch scope, into a compute pass
//! and a submission of its own.

use super::context::{CompiledKernel, GpuBuffer, GpuContext};
use super::memory::MemoryPlan;
use crate::{Error, Result};
use kiln_ir::lower::{BufRef, Program};
use std::sync::Arc;
use wgpu::util::DeviceExt;

/// GPU timing of one run with timestamp queries: of the whole compute pass, or of each
/// dispatch in it ([`Timing::per_dispatch`]).
pub struct Timing {
    query: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    readback: wgpu::Buffer,
    /// Timestamps: 2 for the pass, dispatches + 1 per dispatch.
    count: u32,
    per_dispatch: bool,
}

impl Timing {
    /// Timestamp queries at the start and end of one pass, if the device has them.
    pub fn new(ctx: &GpuContext) -> Option<Timing> {
        Self::with(ctx, 2, false)
    }

    /// Timestamp queries between the `dispatches` dispatches of one pass, if the device can
    /// write timestamps inside passes.
    pub fn per_dispatch(ctx: &GpuContext, dispatches: usize) -> Option<Timing> {
        if !ctx
            .features
            .contains(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES)
        {
            return None;
        }
        Self::with(ctx, dispatches as u32 + 1, true)
    }

    fn with(ctx: &GpuContext, count: u32, per_dispatch: bool) -> Option<Timing> {
        if !ctx.features.contains(wgpu::Features::TIMESTAMP_QUERY) {
            return None;
        }
        let query = ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("kiln timing"),
            ty: wgpu::QueryType::Timestamp,
            count,
        });
        let bytes = 8 * count as u64;
        let resolve = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("kiln timing resolve"),
            size: bytes,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let readback = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("kiln timing readback"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Some(Timing {
            query,
            resolve,
            readback,
            count,
            per_dispatch,
        })
    }

    /// Timestamps at the start and end of a pass (none when timing each dispatch).
    fn writes(&self) -> Option<wgpu::ComputePassTimestampWrites<'_>> {
        (!self.per_dispatch).then_some(wgpu::ComputePassTimestampWrites {
            query_set: &self.query,
            beginning_of_pass_write_index: Some(0),
            end_of_pass_write_index: Some(1),
        })
    }

    /// Inside a pass timed per dispatch, the timestamp before dispatch `i` (after the last,
    /// for `i` = the number of dispatches).
    fn mark(&self, pass: &mut wgpu::ComputePass<'_>, i: usize) {
        if self.per_dispatch && (i as u32) < self.count {
            pass.write_timestamp(&self.query, i as u32);
        }
    }

    /// Copies the timestamps where [`Timing::read_ms`] reads them.
    fn resolve(&self, enc: &mut wgpu::CommandEncoder) {
        enc.resolve_query_set(&self.query, 0..self.count, &self.resolve, 0);
        enc.copy_buffer_to_buffer(&self.resolve, 0, &self.readback, 0, 8 * self.count as u64);
    }

    /// The GPU time of the timed pass in milliseconds (blocks until it is known).
    pub fn read_ms(&self, ctx: &GpuContext) -> Result<f64> {
        let t = self.read_all(ctx)?;
        Ok(t.iter().sum())
    }

    /// The time of each timed interval in milliseconds: one (the pass), or one per dispatch.
    pub fn read_all(&self, ctx: &GpuContext) -> Result<Vec<f64>> {
        ctx.map_blocking(&self.readback)?;
        let slice = self.readback.slice(..);
        let ts: Vec<u64> = {
            let v = slice
                .get_mapped_range()
                .map_err(|e| Error::Readback(e.to_string()))?;
            bytemuck::cast_slice::<u8, u64>(&v).to_vec()
        };
        self.readback.unmap();
        let period = ctx.queue.get_timestamp_period() as f64;
        Ok(ts
            .windows(2)
            .map(|w| w[1].saturating_sub(w[0]) as f64 * period / 1e6)
            .collect())
    }
}

/// One launch made ready: its pipeline, its uniform (sizes are fixed for a compiled program)
/// and its grid.
struct PreparedCall {
    call: usize,
    ck: Arc<CompiledKernel>,
    uniform: wgpu::Buffer,
    grid: [u32; 3],
    /// The input read through an output's binding (in place), not bound itself.
    skip_input: Option<usize>,
}

/// A lowered program made ready to run: everything that does not depend on the buffers of a
/// run (pipelines, uniforms, grids) is built once here.
pub struct Prepared {
    calls: Vec<PreparedCall>,
    memory: MemoryPlan,
}

impl Prepared {
    /// Which temporaries share buffers, and what that saves.
    pub fn memory(&self) -> &MemoryPlan {
        &self.memory
    }

    /// Kernels dispatched per run (empty ones are skipped).
    pub fn dispatches(&self) -> usize {
        self.calls.len()
    }

    /// The program call behind each dispatch, in order.
    pub fn dispatched_calls(&self) -> Vec<usize> {
        self.calls.iter().map(|c| c.call).collect()
    }
}

/// Compiles (or finds) every pipeline of `prog` and writes its uniforms.
pub fn prepare(ctx: &GpuContext, prog: &Program) -> Result<Prepared> {
    let max_storage = ctx.limits.max_storage_buffers_per_shader_stage as usize;
    let max_dim = ctx.limits.max_compute_workgroups_per_dimension;
    let schedule = ctx.schedule();
    let memory = MemoryPlan::of(prog, &ctx.target);
    // Each call's kernel as it runs (the in-place variant binds one buffer fewer) and its
    // schedule, tuned on the kernel as lowered (both variants share it). Tuning times one
    // kernel at a time; then the pipelines not compiled yet are compiled together.
    // The candidates of the kernels about to be tuned, compiled together first.
    let mut candidates: Vec<(&kiln_ir::Kernel, kiln_codegen::Schedule)> = Vec::new();
    for call in &prog.calls {
        for s in ctx.tuning_candidates(&call.kernel, &schedule) {
            candidates.push((&call.kernel, s));
        }
    }
    ctx.precompile(&candidates);
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

/// The bind group of one launch: the uniform at 0, then `bufs` (inputs, then outputs).
fn bind_group(
    ctx: &GpuContext,
    ck: &CompiledKernel,
    uniform: &wgpu::Buffer,
    bufs: &[&wgpu::Buffer],
    label: &str,
) -> wgpu::BindGroup {
    let mut entries = Vec::with_capacity(1 + bufs.len());
    entries.push(wgpu::BindGroupEntry {
        binding: 0,
        resource: uniform.as_entire_binding(),
    });
    for (i, b) in bufs.iter().enumerate() {
        entries.push(wgpu::BindGroupEntry {
            binding: 1 + i as u32,
            resource: b.as_entire_binding(),
        });
    }
    ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout: &ck.layout,
        entries: &entries,
    })
}

/// The uniform of kernel `k` under the layout its source was generated with.
fn uniform(ctx: &GpuContext, ck: &CompiledKernel, k: &kiln_ir::Kernel) -> Result<wgpu::Buffer> {
    let params = ck.source.params.values(k)?;
    Ok(ctx
        .device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("kiln params"),
            contents: bytemuck::cast_slice(&params),
            usage: wgpu::BufferUsages::UNIFORM,
        }))
}

/// The time of one dispatch of `k` under schedule `s` on the given buffers, in milliseconds:
/// `reps` dispatches in one pass, timed with timestamp queries (wall clock around submit and
/// wait where the adapter has none), after one untimed dispatch where `warm`. Compilation
/// errors, validation errors and a lost device are errors.
pub fn time_kernel(
    ctx: &GpuContext,
    k: &kiln_ir::Kernel,
    s: &kiln_codegen::Schedule,
    (inputs, outputs): (&[&wgpu::Buffer], &[&wgpu::Buffer]),
    reps: u32,
    warm: bool,
) -> Result<f64> {
    // An open batch goes first, outside the error scope below: its errors are the user's.
    ctx.flush_batch();
    let ck = ctx.pipeline(k, s)?;
    let grid = ck
        .source
        .grid(k, ctx.limits.max_compute_workgroups_per_dimension)?;
    let u = uniform(ctx, &ck, k)?;
    let bufs: Vec<&wgpu::Buffer> = inputs.iter().chain(outputs).copied().collect();
    let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::Validation);
    let bg = bind_group(ctx, &ck, &u, &bufs, &k.name);
    let timing = Timing::new(ctx);
    let submit = |reps: u32, timing: Option<&Timing>| {
        let mut enc = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("kiln autotune"),
            });
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("kiln autotune"),
                timestamp_writes: timing.and_then(|t| t.writes()),
            });
            pass.set_pipeline(&ck.pipeline);
            pass.set_bind_group(0, &bg, &[]);
            if !grid.contains(&0) {
                for _ in 0..reps {
                    pass.dispatch_workgroups(grid[0], grid[1], grid[2]);
                }
            }
        }
        if let Some(t) = timing {
            t.resolve(&mut enc);
        }
        ctx.queue.submit([enc.finish()]);
    };
    if warm {
        submit(1, None);
        ctx.wait()?;
    }
    let t0 = std::time::Instant::now();
    submit(reps, timing.as_ref());
    let ms = match &timing {
        Some(t) => t.read_ms(ctx)?,
        None => {
            ctx.wait()?;
            t0.elapsed().as_secs_f64() * 1e3
        }
    };
    if let Some(e) = pollster::block_on(scope.pop()) {
        return Err(Error::Gpu(e.to_string()));
    }
    ctx.check_alive()?;
    Ok(ms / reps.max(1) as f64)
}

/// Runs `prog` with `inputs` bound to its input slots; returns one buffer per program output.
pub fn run(
    ctx: &GpuContext,
    prog: &Program,
    inputs: &[Arc<GpuBuffer>],
    timing: Option<&Timing>,
) -> Result<Vec<Arc<GpuBuffer>>> {
    let prepared = prepare(ctx, prog)?;
    run_prepared(ctx, prog, &prepared, inputs, timing)
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
    ctx.check_alive()?;
    let mem = &prepared.memory;
    let mut slots = Vec::with_capacity(mem.slot_temp.len());
    for &t in &mem.slot_temp {
        slots.push(ctx.alloc(prog.temps[t].dtype, prog.temps[t].numel)?);
    }
    let temps: Vec<Arc<GpuBuffer>> = mem.slot_of.iter().map(|&s| slots[s].clone()).collect();
    let buf = |r: &BufRef| -> Result<&Arc<GpuBuffer>> {
        match r {
            BufRef::Input(s) => inputs
                .get(*s as usize)
                .ok_or(Error::from(kiln_ir::IrError::UnboundInput(*s))),
            BufRef::Temp(t) => Ok(&temps[*t]),
        }
    };
    let mut launches = Vec::with_capacity(prepared.calls.len());
    for pc in &prepared.calls {
        let call = &prog.calls[pc.call];
        let mut bufs = Vec::with_capacity(call.inputs.len() + call.outputs.len());
        for (i, r) in call.inputs.iter().enumerate() {
            if pc.skip_input != Some(i) {
                bufs.push(&buf(r)?.buffer);
            }
        }
        for &t in &call.outputs {
            bufs.push(&temps[t].buffer);
        }
        let bg = bind_group(ctx, &pc.ck, &pc.uniform, &bufs, &call.kernel.name);
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
    {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("kiln"),
            timestamp_writes: timing.and_then(|t| t.writes()),
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

/// One launch made ready for a pass: its pipeline, bind group and grid.
pub(crate) type Launch<'a> = (&'a CompiledKernel, wgpu::BindGroup, [u32; 3]);

/// Records launch `l` into `pass`.
pub(crate) fn dispatch(pass: &mut wgpu::ComputePass<'_>, (ck, bg, grid): &Launch) {
    pass.set_pipeline(&ck.pipeline);
    pass.set_bind_group(0, bg, &[]);
    pass.dispatch_workgroups(grid[0], grid[1], grid[2]);
}

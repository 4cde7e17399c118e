//! Launching single kernels: timestamp timing, a launch's uniform, and timing one kernel
//! under a schedule on given buffers (what the autotuner measures).

use super::context::GpuContext;
use super::pipelines::CompiledKernel;
use crate::{Error, Result};
use wgpu::util::DeviceExt;

/// GPU timing of one run with timestamp queries: of the whole compute pass, or of each
/// dispatch ([`Timing::per_dispatch`]).
pub struct Timing {
    query: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    readback: wgpu::Buffer,
    /// Timestamps: 2 for the pass, dispatches + 1 between dispatches, 2 a dispatch for a
    /// pass each.
    count: u32,
    mode: TimingMode,
}

/// What a [`Timing`] times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimingMode {
    /// The one compute pass, from its start to its end.
    Pass,
    /// Each dispatch of one pass, by timestamps written between them (the adapter writes
    /// timestamps inside passes).
    BetweenDispatches,
    /// Each dispatch in a compute pass of its own, timed at the pass's start and end (where
    /// timestamps exist only at pass boundaries, as in browsers).
    PassPerDispatch,
}

impl Timing {
    /// Timestamp queries at the start and end of one pass, if the device has them.
    pub fn new(ctx: &GpuContext) -> Option<Timing> {
        Self::with(ctx, 2, TimingMode::Pass)
    }

    /// Timestamp queries around each of `dispatches` dispatches: between them inside one
    /// pass where the device can write timestamps inside passes, else at the boundaries of a
    /// pass each. `None` without timestamps, or past a query set's size.
    pub fn per_dispatch(ctx: &GpuContext, dispatches: usize) -> Option<Timing> {
        let n = u32::try_from(dispatches).ok()?;
        if ctx
            .features
            .contains(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES)
        {
            Self::with(ctx, n.checked_add(1)?, TimingMode::BetweenDispatches)
        } else {
            Self::with(ctx, n.checked_mul(2)?, TimingMode::PassPerDispatch)
        }
    }

    /// What this timing times.
    pub fn mode(&self) -> TimingMode {
        self.mode
    }

    fn with(ctx: &GpuContext, count: u32, mode: TimingMode) -> Option<Timing> {
        if !ctx.features.contains(wgpu::Features::TIMESTAMP_QUERY)
            || count == 0
            || count > wgpu::QUERY_SET_MAX_QUERIES
        {
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
            mode,
        })
    }

    /// The timestamps at the start and end of the pass that holds dispatch `i` (`None`: the
    /// one pass of all dispatches), where this timing writes them.
    pub(crate) fn writes(&self, i: Option<usize>) -> Option<wgpu::ComputePassTimestampWrites<'_>> {
        let first = match (self.mode, i) {
            (TimingMode::Pass, None) => 0,
            (TimingMode::PassPerDispatch, Some(i)) => 2 * i as u32,
            _ => return None,
        };
        (first + 1 < self.count).then_some(wgpu::ComputePassTimestampWrites {
            query_set: &self.query,
            beginning_of_pass_write_index: Some(first),
            end_of_pass_write_index: Some(first + 1),
        })
    }

    /// Inside a pass timed between dispatches, the timestamp before dispatch `i` (after the
    /// last, for `i` = the number of dispatches).
    pub(crate) fn mark(&self, pass: &mut wgpu::ComputePass<'_>, i: usize) {
        if self.mode == TimingMode::BetweenDispatches && (i as u32) < self.count {
            pass.write_timestamp(&self.query, i as u32);
        }
    }

    /// Copies the timestamps where [`Timing::read_ms`] reads them.
    pub(crate) fn resolve(&self, enc: &mut wgpu::CommandEncoder) {
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
        self.mapped_ms(ctx)
    }

    /// [`Timing::read_all`] without blocking the thread (the browser's way).
    pub async fn read_all_async(&self, ctx: &GpuContext) -> Result<Vec<f64>> {
        ctx.flush_batch();
        super::transfer::map_async(&ctx.device, &self.readback).await?;
        ctx.check_alive()?;
        self.mapped_ms(ctx)
    }

    /// The intervals of the mapped readback buffer; unmaps it.
    fn mapped_ms(&self, ctx: &GpuContext) -> Result<Vec<f64>> {
        let slice = self.readback.slice(..);
        let ts: Vec<u64> = {
            let v = slice
                .get_mapped_range()
                .map_err(|e| Error::Readback(e.to_string()))?;
            bytemuck::cast_slice::<u8, u64>(&v).to_vec()
        };
        self.readback.unmap();
        let period = ctx.queue.get_timestamp_period() as f64;
        let ms = |a: u64, b: u64| b.saturating_sub(a) as f64 * period / 1e6;
        Ok(match self.mode {
            TimingMode::Pass | TimingMode::BetweenDispatches => {
                ts.windows(2).map(|w| ms(w[0], w[1])).collect()
            }
            TimingMode::PassPerDispatch => ts.chunks_exact(2).map(|w| ms(w[0], w[1])).collect(),
        })
    }
}

/// The uniform of kernel `k` under the layout its source was generated with.
pub(crate) fn uniform(
    ctx: &GpuContext,
    ck: &CompiledKernel,
    k: &kiln_ir::Kernel,
) -> Result<wgpu::Buffer> {
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
/// wait where the adapter has none), after one untimed dispatch where `warm`. Given `scrub`
/// (a buffer larger than the GPU's caches) and timestamps, each dispatch instead runs in a
/// pass of its own, timed alone, after `scrub` is cleared: its inputs come from memory, as a
/// weight read once a step does, not from the cache the previous dispatch left them in.
/// Compilation errors, validation errors and a lost device are errors.
pub fn time_kernel(
    ctx: &GpuContext,
    k: &kiln_ir::Kernel,
    s: &kiln_codegen::Schedule,
    (inputs, outputs): (&[&wgpu::Buffer], &[&wgpu::Buffer]),
    reps: u32,
    warm: bool,
    scrub: Option<&wgpu::Buffer>,
) -> Result<f64> {
    super::platform::ensure_can_block("timing a kernel")?;
    // An open batch goes first, outside the error scope below: its errors are the user's.
    ctx.flush_batch();
    let ck = ctx.pipeline(k, s)?;
    let grid = ck
        .source
        .grid(k, ctx.limits.max_compute_workgroups_per_dimension)?;
    let u = uniform(ctx, &ck, k)?;
    let bufs: Vec<&wgpu::Buffer> = inputs.iter().chain(outputs).copied().collect();
    let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::Validation);
    let bg = super::bind_groups::make(&ctx.device, &ck.layout, &u, &bufs, &k.name);
    let cold = scrub.and_then(|b| {
        let n = reps.max(1).checked_mul(2)?;
        Some((b, Timing::with(ctx, n, TimingMode::PassPerDispatch)?))
    });
    let timing = match &cold {
        Some(_) => None,
        None => Timing::new(ctx),
    };
    let submit = |reps: u32, timing: Option<&Timing>| {
        let mut enc = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("kiln autotune"),
            });
        if let Some((scrub, t)) = cold.as_ref().filter(|_| timing.is_some()) {
            for i in 0..reps.max(1) as usize {
                enc.clear_buffer(scrub, 0, None);
                // The dispatch waits for the clear: four bytes of the scrub copied into its
                // output, which it then writes (the kernel rewrites them), order the three.
                if let Some(out) = outputs.first() {
                    enc.copy_buffer_to_buffer(scrub, 0, out, 0, 4);
                }
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("kiln autotune"),
                    timestamp_writes: t.writes(Some(i)),
                });
                pass.set_pipeline(&ck.pipeline);
                pass.set_bind_group(0, &bg, &[]);
                if !grid.contains(&0) {
                    pass.dispatch_workgroups(grid[0], grid[1], grid[2]);
                }
            }
            t.resolve(&mut enc);
            ctx.queue.submit([enc.finish()]);
            return;
        }
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("kiln autotune"),
                timestamp_writes: timing.and_then(|t| t.writes(None)),
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
    let t0 = super::platform::Instant::now();
    let timed = cold.as_ref().map(|(_, t)| t).or(timing.as_ref());
    submit(reps, timed);
    let ms = match timed {
        Some(t) => t.read_ms(ctx)?,
        None => {
            ctx.wait()?;
            t0.elapsed().as_secs_f64() * 1e3
        }
    };
    if let Some(e) = super::platform::block_on("timing a kernel", scope.pop())? {
        return Err(Error::Gpu(e.to_string()));
    }
    ctx.check_alive()?;
    Ok(ms / reps.max(1) as f64)
}

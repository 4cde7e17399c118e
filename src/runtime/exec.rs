//! Running a lowered program on the GPU: buffers for its temporaries, one uniform and bind
//! group per launch, every launch in one compute pass, one submit.

use super::context::{CompiledKernel, GpuBuffer, GpuContext};
use super::memory::MemoryPlan;
use crate::{Error, Result};
use kiln_ir::lower::{BufRef, Program};
use std::sync::Arc;
use wgpu::util::DeviceExt;

/// Optional GPU timing of one run.
pub struct Timing {
    query: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    readback: wgpu::Buffer,
}

impl Timing {
    /// Timestamp queries for one pass, if the device has them.
    pub fn new(ctx: &GpuContext) -> Option<Timing> {
        if !ctx.features.contains(wgpu::Features::TIMESTAMP_QUERY) {
            return None;
        }
        let query = ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("kiln timing"),
            ty: wgpu::QueryType::Timestamp,
            count: 2,
        });
        let resolve = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("kiln timing resolve"),
            size: 16,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let readback = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("kiln timing readback"),
            size: 16,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Some(Timing {
            query,
            resolve,
            readback,
        })
    }

    /// The GPU time of the timed pass in milliseconds (blocks until it is known).
    pub fn read_ms(&self, ctx: &GpuContext) -> Result<f64> {
        let slice = self.readback.slice(..);
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done2 = done.clone();
        slice.map_async(wgpu::MapMode::Read, move |_| {
            done2.store(true, std::sync::atomic::Ordering::Release)
        });
        while !done.load(std::sync::atomic::Ordering::Acquire) {
            ctx.device
                .poll(wgpu::PollType::wait_indefinitely())
                .map_err(|e| Error::Readback(e.to_string()))?;
            ctx.check_alive()?;
            std::thread::yield_now();
        }
        let ts: Vec<u64> = {
            let v = slice
                .get_mapped_range()
                .map_err(|e| Error::Readback(e.to_string()))?;
            bytemuck::cast_slice::<u8, u64>(&v).to_vec()
        };
        self.readback.unmap();
        let period = ctx.queue.get_timestamp_period() as f64;
        Ok(ts[1].saturating_sub(ts[0]) as f64 * period / 1e6)
    }
}

/// One launch made ready: its pipeline, its uniform (sizes are fixed for a compiled program)
/// and its grid.
struct PreparedCall {
    call: usize,
    ck: Arc<CompiledKernel>,
    uniform: wgpu::Buffer,
    grid: [u32; 3],
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
}

/// Compiles (or finds) every pipeline of `prog` and writes its uniforms.
pub fn prepare(ctx: &GpuContext, prog: &Program) -> Result<Prepared> {
    let max_storage = ctx.limits.max_storage_buffers_per_shader_stage as usize;
    let max_dim = ctx.limits.max_compute_workgroups_per_dimension;
    let schedule = ctx.schedule();
    let mut calls = Vec::with_capacity(prog.calls.len());
    for (ci, call) in prog.calls.iter().enumerate() {
        let k = &call.kernel;
        let n_bind = call.inputs.len() + call.outputs.len();
        if n_bind > max_storage {
            return Err(Error::TooLarge {
                what: format!("kernel {} binds {n_bind} storage buffers", k.name),
                bytes: n_bind as u64,
                limit: max_storage as u64,
            });
        }
        let ck = ctx.pipeline(k, &ctx.schedule_for(k, &schedule))?;
        let grid = ck.source.grid(k, max_dim)?;
        if grid.contains(&0) {
            continue;
        }
        let params = ck.source.params.values(k);
        let uniform = ctx
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("kiln params"),
                contents: bytemuck::cast_slice(&params),
                usage: wgpu::BufferUsages::UNIFORM,
            });
        calls.push(PreparedCall {
            call: ci,
            ck,
            uniform,
            grid,
        });
    }
    Ok(Prepared {
        calls,
        memory: MemoryPlan::of(prog),
    })
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
/// launch, every launch in one compute pass, one submit.
pub fn run_prepared(
    ctx: &GpuContext,
    prog: &Program,
    prepared: &Prepared,
    inputs: &[Arc<GpuBuffer>],
    timing: Option<&Timing>,
) -> Result<Vec<Arc<GpuBuffer>>> {
    ctx.check_alive()?;
    let mem = &prepared.memory;
    let mut slots = Vec::with_capacity(mem.slot_numel.len());
    for (s, &n) in mem.slot_numel.iter().enumerate() {
        let dtype = (0..prog.temps.len())
            .find(|&t| mem.slot_of[t] == s)
            .map_or(kiln_ir::DType::F32, |t| prog.temps[t].dtype);
        slots.push(ctx.alloc(dtype, n)?);
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
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: pc.uniform.as_entire_binding(),
        }];
        let mut slot = 1u32;
        for r in &call.inputs {
            entries.push(wgpu::BindGroupEntry {
                binding: slot,
                resource: buf(r)?.buffer.as_entire_binding(),
            });
            slot += 1;
        }
        for &t in &call.outputs {
            entries.push(wgpu::BindGroupEntry {
                binding: slot,
                resource: temps[t].buffer.as_entire_binding(),
            });
            slot += 1;
        }
        let bg = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(&call.kernel.name),
            layout: &pc.ck.layout,
            entries: &entries,
        });
        launches.push((&pc.ck, bg, pc.grid));
    }
    let mut enc = ctx
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("kiln"),
        });
    {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("kiln"),
            timestamp_writes: timing.map(|t| wgpu::ComputePassTimestampWrites {
                query_set: &t.query,
                beginning_of_pass_write_index: Some(0),
                end_of_pass_write_index: Some(1),
            }),
        });
        for (ck, bg, grid) in &launches {
            pass.set_pipeline(&ck.pipeline);
            pass.set_bind_group(0, bg, &[]);
            pass.dispatch_workgroups(grid[0], grid[1], grid[2]);
        }
    }
    if let Some(t) = timing {
        enc.resolve_query_set(&t.query, 0..2, &t.resolve, 0);
        enc.copy_buffer_to_buffer(&t.resolve, 0, &t.readback, 0, 16);
    }
    ctx.queue.submit([enc.finish()]);
    ctx.count(|c| {
        c.submits += 1;
        c.dispatches += launches.len() as u64;
    });
    let mut outs = Vec::with_capacity(prog.outputs.len());
    for (r, _, _) in &prog.outputs {
        outs.push(buf(r)?.clone());
    }
    Ok(outs)
}

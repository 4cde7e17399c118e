//! Running a lowered program on the GPU: buffers for its temporaries, one uniform and bind
//! group per launch, every launch in one compute pass, one submit.

use super::context::{GpuBuffer, GpuContext};
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

/// Runs `prog` with `inputs` bound to its input slots; returns one buffer per program output.
pub fn run(
    ctx: &GpuContext,
    prog: &Program,
    inputs: &[Arc<GpuBuffer>],
    timing: Option<&Timing>,
) -> Result<Vec<Arc<GpuBuffer>>> {
    ctx.check_alive()?;
    let max_storage = ctx.limits.max_storage_buffers_per_shader_stage as usize;
    let max_dim = ctx.limits.max_compute_workgroups_per_dimension;
    let mut temps = Vec::with_capacity(prog.temps.len());
    for t in &prog.temps {
        temps.push(ctx.alloc(t.dtype, t.numel)?);
    }
    let buf = |r: &BufRef| -> Result<&Arc<GpuBuffer>> {
        match r {
            BufRef::Input(s) => inputs
                .get(*s as usize)
                .ok_or(Error::from(kiln_ir::IrError::UnboundInput(*s))),
            BufRef::Temp(t) => Ok(&temps[*t]),
        }
    };
    // Build everything first, then record one pass.
    let mut launches = Vec::with_capacity(prog.calls.len());
    for call in &prog.calls {
        let k = &call.kernel;
        let n_bind = call.inputs.len() + call.outputs.len();
        if n_bind > max_storage {
            return Err(Error::TooLarge {
                what: format!("kernel {} binds {n_bind} storage buffers", k.name),
                bytes: n_bind as u64,
                limit: max_storage as u64,
            });
        }
        let schedule = ctx.schedule();
        let ck = ctx.pipeline(k, &schedule)?;
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
        let mut bufs: Vec<&wgpu::Buffer> = Vec::with_capacity(n_bind);
        for r in &call.inputs {
            bufs.push(&buf(r)?.buffer);
        }
        for &t in &call.outputs {
            bufs.push(&temps[t].buffer);
        }
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: uniform.as_entire_binding(),
        }];
        for (i, b) in bufs.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry {
                binding: 1 + i as u32,
                resource: b.as_entire_binding(),
            });
        }
        let bg = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(&k.name),
            layout: &ck.layout,
            entries: &entries,
        });
        launches.push((ck, bg, grid, uniform));
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
        for (ck, bg, grid, _) in &launches {
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

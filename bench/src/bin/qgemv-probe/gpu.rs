//! The probe's device: wgpu on the first high-performance adapter, with timestamps and (where
//! they are 32 wide) subgroups; the copy ceiling; a chain of products and its timing.

use crate::data::Vector;
use crate::shader::{self, Variant};

/// The most chains timed at once (two timestamps each).
pub const MAX_REPS: usize = 64;

pub struct Gpu {
    device: wgpu::Device,
    queue: wgpu::Queue,
    pub name: String,
    /// Subgroups of 32 invocations: the rows' sums by `subgroupAdd`.
    pub subgroups: bool,
    period: f64,
    queries: wgpu::QuerySet,
    resolved: wgpu::Buffer,
    readback: wgpu::Buffer,
    warmup_ms: u64,
    reps: usize,
}

impl Gpu {
    pub fn new(warmup_ms: u64, reps: usize) -> Result<Gpu, String> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12,
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        }))
        .map_err(|e| format!("no adapter: {e}"))?;
        let info = adapter.get_info();
        let wanted = wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::SUBGROUP;
        let features = adapter.features() & wanted;
        if !features.contains(wgpu::Features::TIMESTAMP_QUERY) {
            return Err(format!("{} has no timestamp queries", info.name));
        }
        let subgroups = features.contains(wgpu::Features::SUBGROUP)
            && info.subgroup_min_size == 32
            && info.subgroup_max_size == 32;
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            required_features: features,
            required_limits: adapter.limits(),
            ..Default::default()
        }))
        .map_err(|e| format!("{}: {e}", info.name))?;
        let period = queue.get_timestamp_period() as f64;
        let queries = device.create_query_set(&wgpu::QuerySetDescriptor {
            label: None,
            ty: wgpu::QueryType::Timestamp,
            count: 2 * MAX_REPS as u32,
        });
        let buffer = |usage| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: None,
                size: 16 * MAX_REPS as u64,
                usage,
                mapped_at_creation: false,
            })
        };
        let resolved = buffer(wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC);
        let readback = buffer(wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST);
        Ok(Gpu {
            device,
            queue,
            name: format!("{} ({:?})", info.name, info.backend),
            subgroups,
            period,
            queries,
            resolved,
            readback,
            warmup_ms,
            reps,
        })
    }

    fn storage(&self, data: &[u8], usage: wgpu::BufferUsages) -> wgpu::Buffer {
        let b = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: data.len().max(16) as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | usage,
            mapped_at_creation: false,
        });
        self.queue.write_buffer(&b, 0, data);
        b
    }

    fn pipeline(&self, source: String) -> Result<wgpu::ComputePipeline, String> {
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: None,
                source: wgpu::ShaderSource::Wgsl(source.into()),
            });
        let p = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: None,
                layout: None,
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: None,
            });
        match pollster::block_on(scope.pop()) {
            Some(e) => Err(format!("a probe kernel: {e}")),
            None => Ok(p),
        }
    }

    fn wait(&self) -> Result<(), String> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(drop)
            .map_err(|e| format!("waiting for the device: {e}"))
    }

    /// `buf`'s bytes (`MAP_READ`), once the work submitted before is done.
    fn read(&self, buf: &wgpu::Buffer) -> Result<Vec<u8>, String> {
        let (send, mapped) = std::sync::mpsc::channel();
        buf.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            // The receiver lives until the wait below returns.
            send.send(r).expect("the probe waits for its mapping");
        });
        self.wait()?;
        mapped
            .recv()
            .map_err(|e| format!("mapping a buffer: {e}"))?
            .map_err(|e| format!("mapping a buffer: {e}"))?;
        let bytes = buf
            .slice(..)
            .get_mapped_range()
            .map_err(|e| format!("reading back: {e}"))?
            .to_vec();
        buf.unmap();
        Ok(bytes)
    }

    /// Warms up for `warmup_ms` of back-to-back passes of `record`, then times `reps` of them
    /// queued in one submission: the least and the median µs of a pass.
    fn time(&self, record: &dyn Fn(&mut wgpu::ComputePass)) -> Result<(f64, f64), String> {
        let start = std::time::Instant::now();
        while start.elapsed().as_millis() < self.warmup_ms as u128 {
            let mut enc = self.device.create_command_encoder(&Default::default());
            for _ in 0..20 {
                record(&mut enc.begin_compute_pass(&Default::default()));
            }
            self.queue.submit([enc.finish()]);
            self.wait()?;
        }
        let mut enc = self.device.create_command_encoder(&Default::default());
        for i in 0..self.reps as u32 {
            record(&mut enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: None,
                timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                    query_set: &self.queries,
                    beginning_of_pass_write_index: Some(2 * i),
                    end_of_pass_write_index: Some(2 * i + 1),
                }),
            }));
        }
        let n = 2 * self.reps as u32;
        enc.resolve_query_set(&self.queries, 0..n, &self.resolved, 0);
        enc.copy_buffer_to_buffer(&self.resolved, 0, &self.readback, 0, 8 * n as u64);
        self.queue.submit([enc.finish()]);
        let bytes = self.read(&self.readback)?;
        let t: Vec<u64> = bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        let mut us: Vec<f64> = (0..self.reps)
            .map(|i| t[2 * i + 1].saturating_sub(t[2 * i]) as f64 * self.period / 1e3)
            .collect();
        us.sort_by(f64::total_cmp);
        Ok((us[0], us[us.len() / 2]))
    }

    /// The copy ceiling: up to 2^24 `vec4<f32>` (256 MiB) read and written (fewer where the
    /// adapter's bindings are smaller), as text.
    pub fn copy_ceiling(&self) -> Result<String, String> {
        let limit = self.device.limits().max_storage_buffer_binding_size;
        // Whole workgroups of 256, in a grid of `x` by `groups / x`.
        let groups = ((1u64 << 24).min(limit / 16) / 256).max(1) as u32;
        let x = groups.min(32768);
        let vecs = (x * (groups / x)) as u64 * 256;
        let zeros = vec![0u8; (vecs * 16) as usize];
        let (src, dst) = (
            self.storage(&zeros, wgpu::BufferUsages::empty()),
            self.storage(&zeros, wgpu::BufferUsages::empty()),
        );
        let p = self.pipeline(
            "@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;\n\
             @group(0) @binding(1) var<storage, read_write> b: array<vec4<f32>>;\n\
             @compute @workgroup_size(256) fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) n: vec3<u32>) {\n  \
             let i = g.y * n.x * 256u + g.x;\n  b[i] = a[i] * 1.0001;\n}"
                .into(),
        )?;
        let bg = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &p.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: src.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: dst.as_entire_binding(),
                },
            ],
        });
        let record = |pass: &mut wgpu::ComputePass| {
            pass.set_pipeline(&p);
            pass.set_bind_group(0, &bg, &[]);
            pass.dispatch_workgroups(x, groups / x, 1);
        };
        let (least, _) = self.time(&record)?;
        Ok(format!(
            "{} MiB in {least:.1} us, {:.2} TB/s",
            (vecs * 16) >> 20,
            (vecs * 32) as f64 / least / 1e6
        ))
    }

    /// The buffers of a chain of products of `weights` (each `n` rows) with `x`.
    pub fn chain(&self, weights: &[Vec<u8>], x: &Vector, n: u32) -> Chain {
        let blocks: Vec<f32> = x.blocks.iter().flatten().copied().collect();
        let ints: Vec<u8> = x.ints.iter().map(|&v| v as u8).collect();
        Chain {
            weights: weights
                .iter()
                .map(|w| self.storage(w, wgpu::BufferUsages::empty()))
                .collect(),
            ints: self.storage(&ints, wgpu::BufferUsages::empty()),
            blocks: self.storage(bytemuck::cast_slice(&blocks), wgpu::BufferUsages::empty()),
            out: self.storage(&vec![0u8; n as usize * 4], wgpu::BufferUsages::COPY_SRC),
            back: self.device.create_buffer(&wgpu::BufferDescriptor {
                label: None,
                size: n as u64 * 4,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
            n,
        }
    }
}

pub struct Chain {
    weights: Vec<wgpu::Buffer>,
    ints: wgpu::Buffer,
    blocks: wgpu::Buffer,
    out: wgpu::Buffer,
    back: wgpu::Buffer,
    n: u32,
}

impl Chain {
    /// Form `v`'s product with the first weight (read back), then its chain timed: the
    /// output, and the least and median µs of a chain.
    pub fn run(&self, g: &Gpu, v: &Variant, k: u32) -> Result<(Vec<f32>, f64, f64), String> {
        let p = g.pipeline(shader::kernel(v, self.n, k, g.subgroups))?;
        let groups: Vec<wgpu::BindGroup> = self
            .weights
            .iter()
            .map(|w| {
                g.device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: None,
                    layout: &p.get_bind_group_layout(0),
                    entries: &[
                        entry(0, w),
                        entry(1, &self.ints),
                        entry(2, &self.blocks),
                        entry(3, &self.out),
                    ],
                })
            })
            .collect();
        let wgs = v.workgroups(self.n);
        // NaN first, so that a row the form leaves unwritten fails the check.
        let nan: Vec<u8> = (0..self.n).flat_map(|_| f32::NAN.to_le_bytes()).collect();
        g.queue.write_buffer(&self.out, 0, &nan);
        let mut enc = g.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(&p);
            pass.set_bind_group(0, &groups[0], &[]);
            pass.dispatch_workgroups(wgs, 1, 1);
        }
        enc.copy_buffer_to_buffer(&self.out, 0, &self.back, 0, self.n as u64 * 4);
        g.queue.submit([enc.finish()]);
        let out: Vec<f32> = g
            .read(&self.back)?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        let record = |pass: &mut wgpu::ComputePass| {
            pass.set_pipeline(&p);
            for bg in &groups {
                pass.set_bind_group(0, bg, &[]);
                pass.dispatch_workgroups(wgs, 1, 1);
            }
        };
        let (least, median) = g.time(&record)?;
        Ok((out, least, median))
    }
}

fn entry(binding: u32, b: &wgpu::Buffer) -> wgpu::BindGroupEntry<'_> {
    wgpu::BindGroupEntry {
        binding,
        resource: b.as_entire_binding(),
    }
}

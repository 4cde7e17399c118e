//! Compiled pipelines: the bounded in-memory cache by kernel structure and schedule, wgpu's
//! pipeline cache (kept on disk where the backend has one), and compiling many at once.

use super::counters::CounterCell;
use super::disk::CacheDir;
use super::lru::Lru;
use crate::{Error, Result};
use kiln_codegen::{KernelSource, Schedule, Target};
use kiln_ir::Kernel;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// wgpu's pipeline cache data in an adapter's cache directory.
pub const PIPELINE_FILE: &str = "pipelines.v1";

/// How many compiled pipelines the in-memory cache keeps (least recently used go first).
/// llvmpipe holds about 3.5 MB of machine code and state per pipeline.
const PIPELINE_CACHE_CAPACITY: usize = 256;

/// A compiled kernel: its generated source and its pipeline.
pub struct CompiledKernel {
    /// The generated source and uniform layout.
    pub source: KernelSource,
    /// The pipeline.
    pub pipeline: wgpu::ComputePipeline,
    /// Its bind group layout.
    pub layout: wgpu::BindGroupLayout,
}

/// What identifies a pipeline: the kernel's structure key and the schedule.
type PipelineKey = (String, Schedule);

/// The pipelines of one device.
pub struct Pipelines {
    cache: Mutex<Lru<PipelineKey, Arc<CompiledKernel>>>,
    /// wgpu's cache of driver binaries, where the backend has one.
    driver_cache: Option<wgpu::PipelineCache>,
    /// Whether pipelines were compiled since the driver cache was last written.
    dirty: AtomicBool,
    /// wgpu's run-time checks in the shaders ([`crate::DeviceOptions::shader_checks`]).
    checks: crate::ShaderChecks,
}

/// What compiling needs of the device.
#[derive(Clone, Copy)]
pub struct Compiler<'a> {
    /// The device.
    pub device: &'a wgpu::Device,
    /// How tensors are stored.
    pub target: &'a Target,
    /// Where compiles and hits are counted.
    pub counters: &'a CounterCell,
}

impl Pipelines {
    /// An empty cache; wgpu's driver cache is created from `disk`'s data where the device
    /// has `PIPELINE_CACHE`.
    pub fn new(
        device: &wgpu::Device,
        disk: Option<&CacheDir>,
        checks: crate::ShaderChecks,
    ) -> Pipelines {
        let driver_cache = if device.features().contains(wgpu::Features::PIPELINE_CACHE) {
            let data = disk.and_then(|d| d.load(PIPELINE_FILE));
            // SAFETY: `data` comes from `PipelineCache::get_data` of an earlier process on
            // this adapter, driver and kiln version (the container's identity and checksum say
            // so); wgpu validates its own header too and falls back to an empty cache.
            Some(unsafe {
                device.create_pipeline_cache(&wgpu::PipelineCacheDescriptor {
                    label: Some("kiln"),
                    data: data.as_deref(),
                    fallback: true,
                })
            })
        } else {
            None
        };
        Pipelines {
            cache: Mutex::new(Lru::new(PIPELINE_CACHE_CAPACITY)),
            driver_cache,
            dirty: AtomicBool::new(false),
            checks,
        }
    }

    /// Pipelines held now, and pipelines let go to stay within the bound.
    pub fn sizes(&self) -> (u64, u64) {
        self.cache.lock().map(|m| m.sizes()).unwrap_or_default()
    }

    /// Forgets the pipeline of `k` under `s`: plans that hold it keep it alive until they go.
    pub fn forget(&self, k: &Kernel, s: &Schedule) {
        if let Ok(mut m) = self.cache.lock() {
            m.remove(&(k.key(), *s));
        }
    }

    /// Writes wgpu's pipeline cache to `disk` if pipelines were compiled since the last write.
    pub fn save(&self, disk: Option<&CacheDir>) {
        let (Some(d), Some(c)) = (disk, &self.driver_cache) else {
            return;
        };
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return;
        }
        if let Some(data) = c.get_data() {
            if let Err(e) = d.store(PIPELINE_FILE, &data) {
                log::warn!(
                    "kiln: cannot write the pipeline cache in {}: {e}",
                    d.path().display()
                );
            }
        }
    }

    /// The pipelines of `jobs`, in order: those not cached yet compiled on as many threads as
    /// the machine has (see `Pipelines::compile_missing`). Returned rather than read back
    /// from the bounded cache, which a plan of more pipelines than it holds would overrun.
    /// The first error is returned.
    pub fn compile_all(
        &self,
        c: Compiler<'_>,
        jobs: &[(&Kernel, Schedule)],
    ) -> Result<Vec<Arc<CompiledKernel>>> {
        let mut done = hashbrown::HashMap::new();
        for (key, r) in self.compile_missing(c, jobs) {
            done.insert(key, r?);
        }
        jobs.iter()
            .map(|(k, s)| {
                done.get(&(k.key(), *s))
                    .cloned()
                    .ok_or_else(|| Error::Gpu("a pipeline was neither cached nor compiled".into()))
            })
            .collect()
    }

    /// Compiles, together, the pipelines of `jobs` not cached yet: the candidates of the
    /// kernels about to be tuned, so that tuning times them rather than waits on the driver
    /// one at a time. A candidate that fails to compile is left for the tuner to skip.
    pub fn precompile(&self, c: Compiler<'_>, jobs: &[(&Kernel, Schedule)]) {
        for (key, r) in self.compile_missing(c, jobs) {
            if let Err(e) = r {
                log::debug!(
                    "kiln: candidate {:?} of {} failed to compile: {e}",
                    key.1,
                    key.0
                );
            }
        }
    }

    /// Each distinct pipeline of `jobs`, from the cache or compiled; those not cached are
    /// compiled on as many threads as the machine has (up to one a pipeline; one on the web,
    /// which has no threads here), since the driver's shader compiler is most of a cold start.
    fn compile_missing(
        &self,
        c: Compiler<'_>,
        jobs: &[(&Kernel, Schedule)],
    ) -> Vec<(PipelineKey, Result<Arc<CompiledKernel>>)> {
        let mut out = Vec::new();
        let mut missing: Vec<(usize, PipelineKey)> = Vec::new();
        if let Ok(mut m) = self.cache.lock() {
            for (i, (k, s)) in jobs.iter().enumerate() {
                let key = (k.key(), *s);
                if out.iter().any(|(o, _)| *o == key) || missing.iter().any(|(_, o)| *o == key) {
                    continue;
                }
                match m.get(&key) {
                    Some(ck) => out.push((key, Ok(ck))),
                    None => missing.push((i, key)),
                }
            }
        }
        let threads = if cfg!(target_arch = "wasm32") {
            1
        } else {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(missing.len())
        };
        let compile =
            |(i, key): &(usize, PipelineKey)| (key.clone(), self.get(c, jobs[*i].0, &jobs[*i].1));
        if threads <= 1 {
            out.extend(missing.iter().map(compile));
            return out;
        }
        let per = missing.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let handles: Vec<_> = missing
                .chunks(per)
                .map(|chunk| {
                    (
                        chunk,
                        scope.spawn(move || chunk.iter().map(compile).collect::<Vec<_>>()),
                    )
                })
                .collect();
            for (chunk, h) in handles {
                match h.join() {
                    Ok(r) => out.extend(r),
                    Err(_) => out.extend(chunk.iter().map(|(_, key)| {
                        (
                            key.clone(),
                            Err(Error::Gpu("a pipeline compile thread panicked".into())),
                        )
                    })),
                }
            }
        });
        out
    }

    /// The compiled pipeline for a kernel's structure and schedule, compiling it on a miss.
    pub fn get(&self, c: Compiler<'_>, k: &Kernel, s: &Schedule) -> Result<Arc<CompiledKernel>> {
        let key = (k.key(), *s);
        if let Some(p) = self.cache.lock().ok().and_then(|mut m| m.get(&key)) {
            c.counters.count(|c| c.pipeline_hits += 1);
            return Ok(p);
        }
        let ck = Arc::new(self.compile(c, k, s)?);
        c.counters.count(|c| c.pipelines_compiled += 1);
        self.dirty.store(true, Ordering::Release);
        if let Ok(mut m) = self.cache.lock() {
            m.insert(key, ck.clone());
        }
        Ok(ck)
    }

    /// Generates and compiles the pipeline of `k` under `s`.
    fn compile(&self, c: Compiler<'_>, k: &Kernel, s: &Schedule) -> Result<CompiledKernel> {
        let device = c.device;
        let t0 = super::platform::Instant::now();
        let source = kiln_codegen::generate(k, s, c.target)?;
        log::debug!("kiln: compiling kernel {}\n{}", k.name, source.wgsl);
        let t_gen = t0.elapsed();
        let mut entries = vec![wgpu::BindGroupLayoutEntry {
            binding: 0,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        }];
        // An input read in place through an output's binding has no binding of its own.
        let n_in = k.inputs.len() - usize::from(k.inplace.is_some());
        for i in 0..n_in + k.outputs.len() {
            entries.push(wgpu::BindGroupLayoutEntry {
                binding: 1 + i as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Storage {
                        read_only: i < n_in,
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            });
        }
        let ((layout, pipeline, t_module), error) =
            super::platform::scoped(device, wgpu::ErrorFilter::Validation, || {
                let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                    label: Some("kiln"),
                    entries: &entries,
                });
                let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                    label: Some("kiln"),
                    bind_group_layouts: &[Some(&layout)],
                    immediate_size: 0,
                });
                let desc = wgpu::ShaderModuleDescriptor {
                    label: Some(&k.name),
                    source: wgpu::ShaderSource::Wgsl(source.wgsl.as_str().into()),
                };
                let module = if self.checks == crate::ShaderChecks::ALL {
                    device.create_shader_module(desc)
                } else {
                    // SAFETY: kiln's generated kernels index their arrays in range, end their
                    // loops (bounds from constants and uniforms, positive steps) and divide by
                    // constants or nonzero sizes (`ShaderChecks`); the suite runs them under
                    // the default, and tests/shader_checks.rs kernels of every kind with no
                    // check at all.
                    unsafe {
                        device.create_shader_module_trusted(desc, self.checks.runtime_checks())
                    }
                };
                let t_module = t0.elapsed();
                let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(&k.name),
                    layout: Some(&pl),
                    module: &module,
                    entry_point: Some("main"),
                    compilation_options: Default::default(),
                    cache: self.driver_cache.as_ref(),
                });
                (layout, pipeline, t_module)
            });
        if let Some(e) = error {
            return Err(Error::Gpu(format!(
                "kernel {} failed to compile: {e}\n{}",
                k.name, source.wgsl
            )));
        }
        let t_all = t0.elapsed();
        log::debug!(
            "kiln: kernel {} ({} lines) compiled in {:.1} ms: WGSL {:.1}, shader module {:.1}, pipeline {:.1}",
            k.name,
            source.wgsl.lines().count(),
            t_all.as_secs_f64() * 1e3,
            t_gen.as_secs_f64() * 1e3,
            (t_module - t_gen).as_secs_f64() * 1e3,
            (t_all - t_module).as_secs_f64() * 1e3
        );
        Ok(CompiledKernel {
            source,
            pipeline,
            layout,
        })
    }
}

//! The wgpu side of a device: adapter choice, the device and queue, its limits, the pipeline
//! cache, and buffer upload and readback.

use super::disk::CacheDir;
use super::lru::Lru;
use super::tune::{self, Autotune};
use crate::{Error, Result};
use hashbrown::HashMap;
use kiln_codegen::{KernelSource, Schedule};
use kiln_ir::{DType, HostTensor, Kernel, Shape};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use wgpu::util::DeviceExt;

/// A compiled kernel: its generated source and its pipeline.
pub struct CompiledKernel {
    /// The generated source and uniform layout.
    pub source: KernelSource,
    /// The pipeline.
    pub pipeline: wgpu::ComputePipeline,
    /// Its bind group layout.
    pub layout: wgpu::BindGroupLayout,
}

/// A device buffer holding one tensor in storage layout (4 bytes an element).
pub struct GpuBuffer {
    /// The wgpu buffer (at least 4 bytes).
    pub buffer: wgpu::Buffer,
    /// Element type.
    pub dtype: DType,
    /// Element count.
    pub numel: usize,
    /// Where the buffer goes back when dropped.
    pool: Arc<Pool>,
}

impl Drop for GpuBuffer {
    fn drop(&mut self) {
        self.pool.give_back(self.buffer.clone());
    }
}

/// Device buffers no tensor holds any more, by size, for reuse by later runs and uploads.
/// Reuse is safe without clearing because every kernel writes all of its outputs, the queue
/// orders a reuse after earlier work, and an upload into a reused buffer submits the work
/// recorded before it first.
///
/// Bounded by what the program really uses: the pool holds at most as many bytes as tensors
/// have held at once (at least [`POOL_MIN_BYTES`], at most `max_bytes`), since a program
/// never needs more spare buffers than it has ever used together. A buffer that sits unused
/// through [`POOL_IDLE_OPS`] later pool operations is freed.
pub struct Pool {
    free: Mutex<Free>,
    max_bytes: AtomicU64,
    /// Bytes of device buffers that exist (held by tensors or by the pool).
    live: AtomicU64,
    /// The most `live` has been.
    peak: AtomicU64,
    /// Bytes of device buffers ever created.
    created: AtomicU64,
    /// The most `live` may be ([`GpuContext::set_memory_limit`]).
    limit: AtomicU64,
}

/// The pool's buffers: by size, each with the pool operation that returned it.
#[derive(Default)]
struct Free {
    by_size: HashMap<u64, Vec<(wgpu::Buffer, u64)>>,
    bytes: u64,
    /// Pool operations so far (takes and returns): the pool's clock.
    clock: u64,
    /// The clock at the last look for idle buffers.
    last_sweep: u64,
    /// The most bytes tensors have held at once.
    in_use_peak: u64,
}

/// The pool may always hold this much, whatever the program's use so far.
pub const POOL_MIN_BYTES: u64 = 16 << 20;
/// A pooled buffer not reused within this many pool operations is freed.
pub const POOL_IDLE_OPS: u64 = 4096;

impl Pool {
    fn new(max_bytes: u64) -> Pool {
        Pool {
            free: Mutex::new(Free::default()),
            max_bytes: AtomicU64::new(max_bytes),
            live: AtomicU64::new(0),
            peak: AtomicU64::new(0),
            created: AtomicU64::new(0),
            limit: AtomicU64::new(u64::MAX),
        }
    }

    fn note_created(&self, size: u64) {
        self.created.fetch_add(size, Ordering::Relaxed);
        let live = self.live.fetch_add(size, Ordering::Relaxed) + size;
        self.peak.fetch_max(live, Ordering::Relaxed);
    }

    /// Lets a buffer go. It is dropped, not destroyed: commands recorded into an open batch
    /// may still use it, and wgpu frees it once nothing does (at once when idle).
    fn destroy(&self, b: wgpu::Buffer) {
        self.live.fetch_sub(b.size(), Ordering::Relaxed);
        drop(b);
    }

    fn take(&self, size: u64) -> Option<wgpu::Buffer> {
        let mut g = self.free.lock().ok()?;
        self.tick(&mut g);
        let (b, _) = g.by_size.get_mut(&size)?.pop()?;
        g.bytes -= size;
        Some(b)
    }

    fn give_back(&self, b: wgpu::Buffer) {
        let size = b.size();
        if let Ok(mut g) = self.free.lock() {
            self.tick(&mut g);
            let live = self.live.load(Ordering::Relaxed);
            // Bytes in tensors now, this buffer's included (it was in use until this call).
            g.in_use_peak = g.in_use_peak.max(live.saturating_sub(g.bytes));
            let cap = g
                .in_use_peak
                .max(POOL_MIN_BYTES)
                .min(self.max_bytes.load(Ordering::Relaxed));
            if g.bytes + size <= cap {
                g.bytes += size;
                let now = g.clock;
                g.by_size.entry(size).or_default().push((b, now));
                return;
            }
        }
        self.destroy(b);
    }

    /// Advances the pool's clock, and every [`POOL_SWEEP_EVERY`] operations frees the buffers
    /// that went unused through [`POOL_IDLE_OPS`] of them.
    fn tick(&self, g: &mut Free) {
        g.clock += 1;
        if g.clock - g.last_sweep >= POOL_SWEEP_EVERY {
            g.last_sweep = g.clock;
            self.sweep(g);
        }
    }

    /// Frees the buffers that went unused through [`POOL_IDLE_OPS`] pool operations.
    fn sweep(&self, g: &mut Free) {
        let cutoff = g.clock.saturating_sub(POOL_IDLE_OPS);
        let mut freed = 0;
        for list in g.by_size.values_mut() {
            let (stale, keep): (Vec<_>, Vec<_>) = list.drain(..).partition(|(_, t)| *t < cutoff);
            *list = keep;
            for (b, _) in stale {
                freed += b.size();
                self.destroy(b);
            }
        }
        g.by_size.retain(|_, l| !l.is_empty());
        g.bytes -= freed;
    }

    /// Bytes held for reuse.
    pub fn held_bytes(&self) -> u64 {
        self.free.lock().map(|g| g.bytes).unwrap_or(0)
    }
}

/// How often (in pool operations) the pool looks for idle buffers.
const POOL_SWEEP_EVERY: u64 = 256;

/// Counters of what the context has done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Pipelines compiled.
    pub pipelines_compiled: u64,
    /// Pipeline cache hits.
    pub pipeline_hits: u64,
    /// Kernels dispatched.
    pub dispatches: u64,
    /// Submits.
    pub submits: u64,
    /// Realizations whose plan was found in the plan cache.
    pub plan_hits: u64,
    /// Realizations that had to compile a plan.
    pub plan_misses: u64,
    /// Bytes of device buffers created so far (reuse from the pool creates none).
    pub bytes_allocated: u64,
    /// Bytes of device buffers that exist now, in tensors or held by the pool for reuse.
    pub device_bytes: u64,
    /// The most `device_bytes` has been.
    pub peak_bytes: u64,
    /// Kernels the autotuner tuned (found on disk or in memory: not counted).
    pub kernels_tuned: u64,
    /// Autotune candidates skipped because they failed or disagreed with the default.
    pub candidates_skipped: u64,
    /// Pipelines held by the in-memory cache now (bounded).
    pub pipelines_cached: u64,
    /// Pipelines the in-memory cache let go to stay within its bound.
    pub pipelines_evicted: u64,
    /// Plans held by the in-memory cache now (bounded).
    pub plans_cached: u64,
    /// Plans the in-memory cache let go to stay within its bound.
    pub plans_evicted: u64,
}

/// A compiled and prepared plan, cached by graph structure.
pub struct CachedPlan {
    /// The lowered program.
    pub program: kiln_ir::lower::Program,
    /// Its pipelines, uniforms and grids.
    pub prepared: super::exec::Prepared,
}

/// What identifies a plan: the graph's structure, whether fusion was on, the schedule.
pub type PlanKey = (kiln_ir::Structure, bool, Schedule);

/// How many plans the in-memory cache keeps (least recently used go first). A plan holds
/// its pipelines, so this also bounds the pipelines kept alive through plans.
const PLAN_CACHE_CAPACITY: usize = 256;
/// How many compiled pipelines the in-memory cache keeps (least recently used go first).
/// llvmpipe holds about 3.5 MB of machine code and state per pipeline.
const PIPELINE_CACHE_CAPACITY: usize = 256;

/// An open wgpu device with kiln's caches.
pub struct GpuContext {
    /// The adapter.
    pub adapter: wgpu::Adapter,
    /// The device.
    pub device: wgpu::Device,
    /// The queue.
    pub queue: wgpu::Queue,
    /// Adapter facts.
    pub info: wgpu::AdapterInfo,
    /// Limits in force.
    pub limits: wgpu::Limits,
    /// Features enabled.
    pub features: wgpu::Features,
    /// How tensors are stored (from the features).
    pub target: kiln_codegen::Target,
    /// What this adapter needs worked around (`quirks.rs`).
    pub quirks: super::quirks::Quirks,
    pipelines: Mutex<Lru<(String, Schedule), Arc<CompiledKernel>>>,
    lost: Arc<Mutex<Option<String>>>,
    errored: Arc<Mutex<Option<String>>>,
    counters: Mutex<Counters>,
    plans: Mutex<Lru<PlanKey, Arc<CachedPlan>>>,
    pool: Arc<Pool>,
    schedule: Mutex<Schedule>,
    autotune: Mutex<Autotune>,
    /// Tuned schedule fields by autotune key ([`tune::tune_key`]).
    tuned: Mutex<HashMap<String, [u32; 3]>>,
    disk: Option<CacheDir>,
    pipeline_cache: Option<wgpu::PipelineCache>,
    pipelines_dirty: AtomicBool,
    /// The open pass runs are gathered into, and when it is submitted (`batch.rs`).
    batch: Mutex<super::batch::Batch>,
}

/// The autotune results file in an adapter's cache directory.
pub const AUTOTUNE_FILE: &str = "autotune.v3";
/// wgpu's pipeline cache data in an adapter's cache directory.
pub const PIPELINE_FILE: &str = "pipelines.v1";

/// Autotune results as stored: one `key TAB a TAB b TAB c` line each. The flag is true when
/// a line was malformed (and skipped).
fn parse_tuned(b: &[u8]) -> (HashMap<String, [u32; 3]>, bool) {
    let mut m = HashMap::new();
    let mut malformed = false;
    for line in String::from_utf8_lossy(b).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if let [k, a, b, c] = f[..] {
            if let (Ok(a), Ok(b), Ok(c)) = (a.parse(), b.parse(), c.parse()) {
                m.insert(k.to_string(), [a, b, c]);
                continue;
            }
        }
        log::warn!("kiln: skipping a malformed autotune line {line:?}");
        malformed = true;
    }
    (m, malformed)
}

fn format_tuned(m: &HashMap<String, [u32; 3]>) -> Vec<u8> {
    let mut lines: Vec<String> = m
        .iter()
        .map(|(k, [a, b, c])| format!("{k}\t{a}\t{b}\t{c}\n"))
        .collect();
    lines.sort();
    lines.concat().into_bytes()
}

/// The default schedule by adapter type, as data (measured in docs/PERFORMANCE.md): CPU
/// adapters (lavapipe) vectorize across invocations, want one element each, small workgroups
/// for reductions (each barrier switches every invocation) and rows of up to 1024 held in
/// registers (softmax over 1024: 1.88 -> 1.20 ms), and gemvs summed through workgroup memory
/// (llvmpipe's subgroups of 8 left three quarters of the invocations idle: 1x1024x1024 along
/// `k`, 8.6 -> 10.3 ms); GPUs use `Schedule::default()`.
const SCHEDULES: &[(wgpu::DeviceType, Schedule)] = &[(
    wgpu::DeviceType::Cpu,
    Schedule {
        workgroup_size: 256,
        unroll: 1,
        reduce_workgroup: 16,
        reduce_unroll: 2,
        reduce_cache: 64,
        reduce_subgroups: 0,
        gemv_subgroups: 0,
        matmul_block: 0,
        matmul_unroll: 4,
        matmul_block_n: 0,
        matmul_depth: 0,
    },
)];

/// Whether kernels may use subgroup operations: the adapter has `SUBGROUP`, and the WGSL is
/// not handed to a browser as is (naga 30 cannot parse `enable subgroups;`, which a browser's
/// WGSL compiler requires, so kiln's shaders call the built-ins without it; on native
/// backends naga translates them).
fn subgroups_usable(features: wgpu::Features, backend: wgpu::Backend) -> bool {
    features.contains(wgpu::Features::SUBGROUP) && backend != wgpu::Backend::BrowserWebGpu
}

fn rank(a: &wgpu::AdapterInfo) -> u32 {
    let kind = match a.device_type {
        wgpu::DeviceType::DiscreteGpu => 40,
        wgpu::DeviceType::IntegratedGpu => 30,
        wgpu::DeviceType::VirtualGpu => 20,
        wgpu::DeviceType::Cpu => 10,
        wgpu::DeviceType::Other => 0,
    };
    let backend = match a.backend {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 2,
        wgpu::Backend::BrowserWebGpu => 2,
        _ => 0,
    };
    kind + backend
}

fn instance() -> wgpu::Instance {
    wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: wgpu::Backends::VULKAN
            | wgpu::Backends::METAL
            | wgpu::Backends::DX12
            | wgpu::Backends::BROWSER_WEBGPU,
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    })
}

impl GpuContext {
    /// Names of the adapters wgpu can see.
    pub async fn list() -> Vec<String> {
        instance()
            .enumerate_adapters(wgpu::Backends::all())
            .await
            .iter()
            .map(|a| {
                let i = a.get_info();
                format!("{} ({:?}, {:?})", i.name, i.backend, i.device_type)
            })
            .collect()
    }

    /// Opens the best adapter, or the first whose name contains `wanted`.
    pub async fn open(opts: &crate::DeviceOptions) -> Result<GpuContext> {
        let wanted = opts.adapter.as_deref();
        let inst = instance();
        let mut adapters = inst.enumerate_adapters(wgpu::Backends::all()).await;
        adapters.retain(|a| {
            let d = a.get_downlevel_capabilities();
            d.flags.contains(wgpu::DownlevelFlags::COMPUTE_SHADERS)
        });
        let names: Vec<String> = adapters.iter().map(|a| a.get_info().name).collect();
        let adapter = match wanted {
            Some(w) => {
                let wl = w.to_lowercase();
                let pos = names
                    .iter()
                    .position(|n| n.to_lowercase().contains(&wl))
                    .ok_or_else(|| Error::AdapterNotFound {
                        wanted: w.to_string(),
                        available: names.clone(),
                    })?;
                adapters.swap_remove(pos)
            }
            None => {
                adapters.sort_by_key(|a| std::cmp::Reverse(rank(&a.get_info())));
                if adapters.is_empty() {
                    return Err(Error::NoAdapter(
                        "wgpu found no adapter with compute shaders".into(),
                    ));
                }
                adapters.remove(0)
            }
        };
        let info = adapter.get_info();
        // The adapter type's schedule, brought within what this device accepts (subgroups
        // where it has them).
        let schedule = SCHEDULES
            .iter()
            .find(|(t, _)| *t == info.device_type)
            .map(|(_, s)| *s)
            .unwrap_or_default();
        let mut features = wgpu::Features::empty();
        let wanted_features = wgpu::Features::TIMESTAMP_QUERY
            | wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS
            | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES
            | wgpu::Features::PIPELINE_CACHE
            | wgpu::Features::SUBGROUP;
        let wanted_features = if opts.f16_storage {
            wanted_features | wgpu::Features::SHADER_F16
        } else {
            wanted_features
        };
        features |= adapter.features() & wanted_features;
        let mut limits = adapter.limits();
        if let Some(m) = opts.max_storage_buffers {
            // At least WebGPU's minimum of 8: a concat of 7 parts and its output needs them.
            limits.max_storage_buffers_per_shader_stage =
                limits.max_storage_buffers_per_shader_stage.min(m.max(8));
        }
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("kiln"),
                required_features: features,
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| Error::NoAdapter(format!("{}: {e}", info.name)))?;
        let schedule = tune::sanitize(
            schedule,
            limits.max_compute_invocations_per_workgroup,
            subgroups_usable(device.features(), info.backend),
        );
        let quirks = super::quirks::quirks(&info.name);
        let lost = Arc::new(Mutex::new(None));
        let lost2 = lost.clone();
        device.set_device_lost_callback(move |reason, msg| {
            log::error!("kiln: device lost ({reason:?}): {msg}");
            if let Ok(mut l) = lost2.lock() {
                *l = Some(format!("{reason:?}: {msg}"));
            }
        });
        let errored = Arc::new(Mutex::new(None));
        let errored2 = errored.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            log::error!("kiln: uncaptured wgpu error: {e}");
            if let Ok(mut l) = errored2.lock() {
                *l = Some(e.to_string());
            }
        }));
        let disk = opts
            .cache_dir
            .as_deref()
            .map(|root| CacheDir::for_adapter(root, &info));
        // A damaged file is removed by `load`; one whose lines are partly malformed is
        // rewritten with the good ones now, so that it does not warn at every start.
        let mut tuned = HashMap::new();
        if let Some(d) = &disk {
            if let Some(b) = d.load(AUTOTUNE_FILE) {
                let (m, malformed) = parse_tuned(&b);
                if malformed {
                    if let Err(e) = d.store(AUTOTUNE_FILE, &format_tuned(&m)) {
                        log::warn!(
                            "kiln: cannot rewrite the autotune cache in {}: {e}",
                            d.path().display()
                        );
                    }
                }
                tuned = m;
            }
        }
        let pipeline_cache = if device.features().contains(wgpu::Features::PIPELINE_CACHE) {
            let data = disk.as_ref().and_then(|d| d.load(PIPELINE_FILE));
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
        Ok(GpuContext {
            autotune: Mutex::new(opts.autotune),
            tuned: Mutex::new(tuned),
            disk,
            pipeline_cache,
            pipelines_dirty: AtomicBool::new(false),
            batch: Mutex::new(super::batch::Batch::default()),
            limits: device.limits(),
            features: device.features(),
            target: kiln_codegen::Target {
                f16: device.features().contains(wgpu::Features::SHADER_F16),
            },
            quirks,
            adapter,
            device,
            queue,
            info,
            pipelines: Mutex::new(Lru::new(PIPELINE_CACHE_CAPACITY)),
            lost,
            errored,
            counters: Mutex::new(Counters::default()),
            plans: Mutex::new(Lru::new(PLAN_CACHE_CAPACITY)),
            schedule: Mutex::new(schedule),
            pool: Arc::new(Pool::new((limits.max_buffer_size / 2).min(4 << 30))),
        })
    }

    /// One line naming the adapter.
    pub fn describe(&self) -> String {
        format!(
            "{} ({:?}, {:?}, driver {} {})",
            self.info.name,
            self.info.backend,
            self.info.device_type,
            self.info.driver,
            self.info.driver_info
        )
    }

    /// What the context has done so far.
    pub fn counters(&self) -> Counters {
        let mut c = self.counters.lock().map(|c| *c).unwrap_or_default();
        c.bytes_allocated = self.pool.created.load(Ordering::Relaxed);
        c.device_bytes = self.pool.live.load(Ordering::Relaxed);
        c.peak_bytes = self.pool.peak.load(Ordering::Relaxed);
        if let Ok(m) = self.pipelines.lock() {
            c.pipelines_cached = m.len() as u64;
            c.pipelines_evicted = m.evicted();
        }
        if let Ok(m) = self.plans.lock() {
            c.plans_cached = m.len() as u64;
            c.plans_evicted = m.evicted();
        }
        c
    }

    pub(crate) fn count(&self, f: impl FnOnce(&mut Counters)) {
        if let Ok(mut c) = self.counters.lock() {
            f(&mut c);
        }
    }

    /// Fails with [`Error::DeviceLost`] once the device is gone, or with a captured wgpu error.
    pub fn check_alive(&self) -> Result<()> {
        if let Some(m) = self.lost.lock().ok().and_then(|l| l.clone()) {
            return Err(Error::DeviceLost(m));
        }
        if let Some(m) = self.errored.lock().ok().and_then(|mut l| l.take()) {
            return Err(Error::Gpu(m));
        }
        Ok(())
    }

    /// The cached plan for a structure key, counting the hit or miss.
    pub fn cached_plan(&self, key: &PlanKey) -> Option<Arc<CachedPlan>> {
        let hit = self.plans.lock().ok().and_then(|mut m| m.get(key));
        self.count(|c| {
            if hit.is_some() {
                c.plan_hits += 1
            } else {
                c.plan_misses += 1
            }
        });
        hit
    }

    /// Keeps a plan for later realizations of the same structure (bounded: the least
    /// recently used plan goes first).
    pub fn keep_plan(&self, key: PlanKey, plan: Arc<CachedPlan>) {
        if let Ok(mut m) = self.plans.lock() {
            m.insert(key, plan);
        }
    }

    /// Forgets the pipeline of `k` under `s` (the autotuner's losing candidates): plans that
    /// hold it keep it alive until they go.
    pub fn forget_pipeline(&self, k: &Kernel, s: &Schedule) {
        if let Ok(mut m) = self.pipelines.lock() {
            m.remove(&(k.key(), *s));
        }
    }

    /// The schedule kernels are generated with (see `SCHEDULES`).
    pub fn schedule(&self) -> Schedule {
        *self.schedule.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The concrete schedule kernel `k` runs with under the device schedule `base`: its tuned
    /// schedule when one is known for its autotune key, else (when the mode allows and the
    /// kernel has a space) the outcome of tuning it now, else `base` resolved for its sizes.
    pub fn schedule_for(&self, k: &Kernel, base: &Schedule) -> Schedule {
        // Every schedule a kernel gets fits the adapter's workgroup memory.
        let limit = self.limits.max_compute_workgroup_storage_size;
        let fit = |s: Schedule| s.fit_workgroup_memory(k, limit);
        let mode = self.autotune();
        if mode == Autotune::Off {
            return fit(base.resolve(k));
        }
        if let Some(s) = self.known_schedule(k, base) {
            return fit(s);
        }
        let key = tune::tune_key(k);
        let cands = self.tuning_candidates(k, base);
        if cands.len() < 2 {
            return fit(base.resolve(k));
        }
        let Some(budget) = tune::Budget::of(mode) else {
            return fit(base.resolve(k));
        };
        match tune::tune(self, k, &cands, budget) {
            Ok(t) if t.measured => {
                let s = t.schedule;
                log::debug!("kiln: autotune {}: chose {s:?}", k.name);
                self.count(|c| {
                    c.kernels_tuned += 1;
                    c.candidates_skipped += t.skipped as u64;
                });
                if let Ok(mut m) = self.tuned.lock() {
                    m.insert(key, tune::fields(k, &s));
                }
                self.save_tuned();
                s
            }
            // The budget allowed no measurement: the default, not kept as a tuned result.
            Ok(t) => {
                log::debug!(
                    "kiln: autotune {}: no candidate timed within the budget",
                    k.name
                );
                self.count(|c| c.candidates_skipped += t.skipped as u64);
                t.schedule
            }
            Err(e) => {
                log::warn!("kiln: autotune {}: {e}; using the default schedule", k.name);
                fit(base.resolve(k))
            }
        }
    }

    /// The tuned schedule of `k` over `base`, if one is known (in memory, or from disk) and
    /// valid for it.
    fn known_schedule(&self, k: &Kernel, base: &Schedule) -> Option<Schedule> {
        let key = tune::tune_key(k);
        let f = self.tuned.lock().ok().and_then(|m| m.get(&key).copied())?;
        // A result from disk may be damaged or foreign: used only if valid for the kernel.
        let s = tune::apply(k, base, f);
        if tune::valid(k, &s, self.limits.max_compute_invocations_per_workgroup) {
            return Some(s);
        }
        log::warn!(
            "kiln: ignoring an invalid autotune result for {}: {f:?}",
            k.name
        );
        None
    }

    /// The schedules kernel `k` would be tuned over now, the reference first, fitted to the
    /// adapter and without repeats: none where the mode is off, a tuned result is known, or
    /// the space holds fewer than two.
    pub fn tuning_candidates(&self, k: &Kernel, base: &Schedule) -> Vec<Schedule> {
        let mode = self.autotune();
        if mode == Autotune::Off || self.known_schedule(k, base).is_some() {
            return vec![];
        }
        let limit = self.limits.max_compute_workgroup_storage_size;
        let max_wg = self.limits.max_compute_invocations_per_workgroup;
        let mut cands: Vec<Schedule> = Vec::new();
        for c in tune::candidates(k, base, mode, max_wg) {
            let c = c.fit_workgroup_memory(k, limit);
            if !cands.contains(&c) {
                cands.push(c);
            }
        }
        if cands.len() < 2 {
            cands.clear();
        }
        cands
    }

    /// The autotuner's mode.
    pub fn autotune(&self) -> Autotune {
        self.autotune.lock().map(|m| *m).unwrap_or_default()
    }

    /// Sets the autotuner's mode for kernels compiled from now on.
    pub fn set_autotune(&self, mode: Autotune) {
        if let Ok(mut m) = self.autotune.lock() {
            *m = mode;
        }
    }

    /// Where the on-disk caches of this adapter live, if anywhere.
    pub fn cache_dir(&self) -> Option<&std::path::Path> {
        self.disk.as_ref().map(|d| d.path())
    }

    /// Writes the autotune results to disk, merged with what another process may have written
    /// there since (entries of this process win).
    fn save_tuned(&self) {
        let Some(d) = &self.disk else { return };
        let mut all = d
            .load(AUTOTUNE_FILE)
            .map(|b| parse_tuned(&b).0)
            .unwrap_or_default();
        if let Ok(m) = self.tuned.lock() {
            all.extend(m.iter().map(|(k, v)| (k.clone(), *v)));
        }
        if let Err(e) = d.store(AUTOTUNE_FILE, &format_tuned(&all)) {
            log::warn!(
                "kiln: cannot write the autotune cache in {}: {e}",
                d.path().display()
            );
        }
    }

    /// Writes wgpu's pipeline cache to disk if pipelines were compiled since the last write.
    pub fn save_pipeline_cache(&self) {
        let (Some(d), Some(c)) = (&self.disk, &self.pipeline_cache) else {
            return;
        };
        if !self.pipelines_dirty.swap(false, Ordering::AcqRel) {
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

    /// Waits until all submitted work is done; fails if the device was lost.
    pub fn wait(&self) -> Result<()> {
        self.flush_batch();
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu(e.to_string()))?;
        self.check_alive()
    }

    /// Sets the schedule for kernels compiled from now on (workgroup size is capped by the
    /// device's limit, and rounded down to a power of two).
    pub fn set_schedule(&self, s: Schedule) {
        let max = self.limits.max_compute_invocations_per_workgroup;
        let subgroups = subgroups_usable(self.features, self.info.backend);
        if let Ok(mut cur) = self.schedule.lock() {
            *cur = tune::sanitize(s, max, subgroups);
        }
    }

    /// Caps the memory held for reuse (0 turns reuse off); what is held beyond is freed.
    pub fn set_pool_limit(&self, bytes: u64) {
        self.pool.max_bytes.store(bytes, Ordering::Relaxed);
        if self.pool.held_bytes() > bytes {
            self.trim_pool();
        }
    }

    /// Device memory held for reuse by later runs.
    pub fn pooled_bytes(&self) -> u64 {
        self.pool.held_bytes()
    }

    /// The largest buffer one binding may cover.
    pub fn max_binding_bytes(&self) -> u64 {
        self.limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size)
    }

    /// Checks `bytes` fits one storage binding.
    pub fn check_size(&self, what: &str, bytes: u64) -> Result<()> {
        let limit = self.max_binding_bytes();
        if bytes > limit {
            return Err(Error::TooLarge {
                what: what.to_string(),
                bytes,
                limit,
            });
        }
        Ok(())
    }

    /// Allocates an uninitialized tensor buffer.
    pub fn alloc(&self, dtype: DType, numel: usize) -> Result<Arc<GpuBuffer>> {
        let bytes = self.target.buffer_bytes(dtype, numel);
        self.check_size(&format!("a {dtype} tensor of {numel} elements"), bytes)?;
        if let Some(buffer) = self.pool.take(bytes) {
            return Ok(Arc::new(GpuBuffer {
                buffer,
                dtype,
                numel,
                pool: self.pool.clone(),
            }));
        }
        let buffer = self.create(bytes, |size| {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("kiln tensor"),
                size,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        })?;
        Ok(Arc::new(GpuBuffer {
            buffer,
            dtype,
            numel,
            pool: self.pool.clone(),
        }))
    }

    /// Creates a device buffer of `size` bytes with `make`, within the memory limit: when the
    /// limit or the device would be exceeded, the buffers held for reuse are freed and it is
    /// tried once more; then it is [`Error::OutOfMemory`].
    fn create(&self, size: u64, make: impl Fn(u64) -> wgpu::Buffer) -> Result<wgpu::Buffer> {
        let limit = self.pool.limit.load(Ordering::Relaxed);
        let fits = || self.pool.live.load(Ordering::Relaxed).saturating_add(size) <= limit;
        if !fits() {
            self.trim_pool();
            if !fits() {
                return Err(Error::OutOfMemory(format!(
                    "{size} more bytes would exceed the device memory limit of {limit} bytes ({} in use)",
                    self.pool.live.load(Ordering::Relaxed)
                )));
            }
        }
        let attempt = || {
            let scope = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
            let b = make(size);
            match pollster::block_on(scope.pop()) {
                Some(e) => Err(e),
                None => Ok(b),
            }
        };
        let buffer = match attempt() {
            Ok(b) => b,
            Err(_) => {
                self.trim_pool();
                attempt().map_err(|e| Error::OutOfMemory(format!("{size} bytes: {e}")))?
            }
        };
        self.pool.note_created(buffer.size());
        Ok(buffer)
    }

    /// Frees every buffer held for reuse.
    fn trim_pool(&self) {
        if let Ok(mut g) = self.pool.free.lock() {
            for (_, v) in g.by_size.drain() {
                for (b, _) in v {
                    self.pool.destroy(b);
                }
            }
            g.bytes = 0;
        }
    }

    /// Caps the device memory kiln's buffers may occupy (tensors and the reuse pool together);
    /// past it, allocations fail with [`Error::OutOfMemory`]. `u64::MAX` (the default): only
    /// the device's own memory limits.
    pub fn set_memory_limit(&self, bytes: u64) {
        self.pool.limit.store(bytes, Ordering::Relaxed);
    }

    /// Uploads a host tensor, into a buffer from the pool where one of its size is free.
    pub fn upload(&self, t: &HostTensor) -> Result<Arc<GpuBuffer>> {
        // Never upload fewer bytes than the shape says kernels may read.
        t.validate()?;
        let bytes = self.target.buffer_bytes(t.dtype, t.numel());
        self.check_size(&format!("a {} tensor of shape {}", t.dtype, t.shape), bytes)?;
        let contents = self.target.encode(t);
        if let Some(buffer) = self.pool.take(bytes) {
            // The queue writes before the next submission's commands: work recorded into the
            // open batch that may still read this buffer's old contents goes first.
            self.flush_batch();
            self.queue.write_buffer(&buffer, 0, &contents);
            return Ok(Arc::new(GpuBuffer {
                buffer,
                dtype: t.dtype,
                numel: t.numel(),
                pool: self.pool.clone(),
            }));
        }
        let buffer = self.create(bytes, |_| {
            self.device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("kiln input"),
                    contents: &contents,
                    usage: wgpu::BufferUsages::STORAGE
                        | wgpu::BufferUsages::COPY_SRC
                        | wgpu::BufferUsages::COPY_DST,
                })
        })?;
        Ok(Arc::new(GpuBuffer {
            buffer,
            dtype: t.dtype,
            numel: t.numel(),
            pool: self.pool.clone(),
        }))
    }

    /// Runs `f` on the device's batch (a poisoned lock is taken over: the batch holds no
    /// invariant a panic could break).
    pub(crate) fn with_batch<R>(&self, f: impl FnOnce(&mut super::batch::Batch, &Self) -> R) -> R {
        let mut b = self.batch.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut b, self)
    }

    /// Starts copying a buffer into a mappable one; returns it and its size in bytes.
    fn stage_readback(&self, b: &GpuBuffer) -> (wgpu::Buffer, u64) {
        let bytes = self.target.buffer_bytes(b.dtype, b.numel);
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("kiln readback"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("kiln readback"),
            });
        enc.copy_buffer_to_buffer(&b.buffer, 0, &staging, 0, bytes);
        self.submit(enc.finish());
        (staging, bytes)
    }

    /// Reads a buffer back into a host tensor of `shape`, blocking until it is done.
    pub fn read(&self, b: &GpuBuffer, shape: &Shape) -> Result<HostTensor> {
        self.check_alive()?;
        let (staging, _) = self.stage_readback(b);
        self.map_blocking(&staging)?;
        self.finish_read(&staging, b, shape)
    }

    /// Maps `buffer` for reading and waits until it is mapped, failing if the map fails, the
    /// device is lost, or the callback never runs (300 s).
    pub fn map_blocking(&self, buffer: &wgpu::Buffer) -> Result<()> {
        let slot: Arc<Mutex<Option<std::result::Result<(), wgpu::BufferAsyncError>>>> =
            Arc::new(Mutex::new(None));
        let slot2 = slot.clone();
        buffer.map_async(wgpu::MapMode::Read, .., move |r| {
            if let Ok(mut s) = slot2.lock() {
                *s = Some(r);
            }
        });
        // Another thread's poll may be the one that runs our callback: wait until it has run.
        let start = std::time::Instant::now();
        let result = loop {
            self.device
                .poll(wgpu::PollType::wait_indefinitely())
                .map_err(|e| Error::Readback(e.to_string()))?;
            if let Some(r) = slot.lock().ok().and_then(|mut s| s.take()) {
                break r;
            }
            self.check_alive()?;
            if start.elapsed() > std::time::Duration::from_secs(300) {
                return Err(Error::Readback("the map callback never ran".into()));
            }
            std::thread::yield_now();
        };
        result.map_err(|e| Error::Readback(e.to_string()))
    }

    /// Reads a buffer back without blocking the thread: the future resolves when the copy is
    /// mapped (polling the device as it is polled, so it also works without an event loop).
    pub async fn read_async(&self, b: &GpuBuffer, shape: &Shape) -> Result<HostTensor> {
        self.check_alive()?;
        let (staging, _) = self.stage_readback(b);
        let (tx, rx) = futures_channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| tx.send(r));
        let res = PollUntil {
            device: &self.device,
            rx,
        }
        .await;
        res.map_err(|e| Error::Readback(e.to_string()))?;
        self.finish_read(&staging, b, shape)
    }

    fn finish_read(
        &self,
        staging: &wgpu::Buffer,
        b: &GpuBuffer,
        shape: &Shape,
    ) -> Result<HostTensor> {
        let host = {
            let view = staging
                .get_mapped_range(..)
                .map_err(|e| Error::Readback(e.to_string()))?;
            self.target.decode(b.dtype, shape.clone(), &view)
        };
        staging.unmap();
        Ok(host)
    }

    /// The pipelines of `jobs`, in order: those not cached yet compiled on as many threads as
    /// the machine has (see `GpuContext::compile_missing`). Returned rather than read back
    /// from the bounded cache, which a plan of more pipelines than it holds would overrun.
    /// The first error is returned.
    pub fn compile_all(&self, jobs: &[(&Kernel, Schedule)]) -> Result<Vec<Arc<CompiledKernel>>> {
        let keys: Vec<(String, Schedule)> = jobs.iter().map(|(k, s)| (k.key(), *s)).collect();
        let mut done: HashMap<(String, Schedule), Arc<CompiledKernel>> = HashMap::new();
        for (key, r) in self.compile_missing(jobs) {
            done.insert(key, r?);
        }
        keys.iter()
            .map(|key| {
                done.get(key)
                    .cloned()
                    .ok_or_else(|| Error::Gpu("a pipeline was neither cached nor compiled".into()))
            })
            .collect()
    }

    /// Compiles, together, the pipelines of `jobs` not cached yet: the candidates of the
    /// kernels about to be tuned, so that tuning times them rather than waits on the driver
    /// one at a time. A candidate that fails to compile is left for the tuner to skip.
    pub fn precompile(&self, jobs: &[(&Kernel, Schedule)]) {
        for (key, r) in self.compile_missing(jobs) {
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
    #[allow(clippy::type_complexity)]
    fn compile_missing(
        &self,
        jobs: &[(&Kernel, Schedule)],
    ) -> Vec<((String, Schedule), Result<Arc<CompiledKernel>>)> {
        let mut out = Vec::new();
        let mut missing: Vec<(usize, (String, Schedule))> = Vec::new();
        if let Ok(mut m) = self.pipelines.lock() {
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
        let compile = |(i, key): &(usize, (String, Schedule))| {
            (key.clone(), self.pipeline(jobs[*i].0, &jobs[*i].1))
        };
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
    pub fn pipeline(&self, k: &Kernel, s: &Schedule) -> Result<Arc<CompiledKernel>> {
        let key = (k.key(), *s);
        if let Some(p) = self.pipelines.lock().ok().and_then(|mut m| m.get(&key)) {
            self.count(|c| c.pipeline_hits += 1);
            return Ok(p);
        }
        let t0 = std::time::Instant::now();
        let source = kiln_codegen::generate(k, s, &self.target)?;
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
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let layout = self
            .device
            .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some("kiln"),
                entries: &entries,
            });
        let pl = self
            .device
            .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some("kiln"),
                bind_group_layouts: &[Some(&layout)],
                immediate_size: 0,
            });
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(&k.name),
                source: wgpu::ShaderSource::Wgsl(source.wgsl.as_str().into()),
            });
        let t_module = t0.elapsed();
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(&k.name),
                layout: Some(&pl),
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: self.pipeline_cache.as_ref(),
            });
        if let Some(e) = pollster::block_on(scope.pop()) {
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
        self.count(|c| c.pipelines_compiled += 1);
        self.pipelines_dirty.store(true, Ordering::Release);
        let ck = Arc::new(CompiledKernel {
            source,
            pipeline,
            layout,
        });
        if let Ok(mut m) = self.pipelines.lock() {
            m.insert(key, ck.clone());
        }
        Ok(ck)
    }
}

/// A one-shot channel for the map callback (no extra dependency).
struct Tx(Arc<Mutex<ChanState>>);
struct Rx(Arc<Mutex<ChanState>>);
#[derive(Default)]
struct ChanState {
    value: Option<std::result::Result<(), wgpu::BufferAsyncError>>,
    waker: Option<std::task::Waker>,
}

fn futures_channel() -> (Tx, Rx) {
    let s = Arc::new(Mutex::new(ChanState::default()));
    (Tx(s.clone()), Rx(s))
}

impl Tx {
    fn send(self, v: std::result::Result<(), wgpu::BufferAsyncError>) {
        if let Ok(mut s) = self.0.lock() {
            s.value = Some(v);
            if let Some(w) = s.waker.take() {
                w.wake();
            }
        }
    }
}

struct PollUntil<'a> {
    device: &'a wgpu::Device,
    rx: Rx,
}

impl std::future::Future for PollUntil<'_> {
    type Output = std::result::Result<(), wgpu::BufferAsyncError>;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        // Non-blocking progress on native; a no-op in the browser, where the event loop does it.
        let _ = self.device.poll(wgpu::PollType::Poll);
        let Ok(mut s) = self.rx.0.lock() else {
            return std::task::Poll::Ready(Err(wgpu::BufferAsyncError));
        };
        match s.value.take() {
            Some(v) => std::task::Poll::Ready(v),
            None => {
                s.waker = Some(cx.waker().clone());
                // Native backends need polling to make progress: ask to be polled again.
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::subgroups_usable;
    use wgpu::{Backend, Features};

    /// Subgroups only where the adapter has them and naga translates the shaders.
    #[test]
    fn subgroups_where_usable() {
        assert!(subgroups_usable(Features::SUBGROUP, Backend::Vulkan));
        assert!(!subgroups_usable(Features::empty(), Backend::Vulkan));
        assert!(!subgroups_usable(
            Features::SUBGROUP,
            Backend::BrowserWebGpu
        ));
    }
}

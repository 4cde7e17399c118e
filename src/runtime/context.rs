//! An open device ([`GpuContext`]): the adapter, device and queue with their limits, composed
//! with the parts that hold state for it (buffer pool, pipelines, plans, schedules, batch,
//! counters). Each part lives in its own module and knows nothing of this one; the methods
//! here give each part what it needs of the others.

use super::adapter;
use super::batch::{Batch, Queue, Submission};
use super::counters::{CounterCell, Counters};
use super::disk::CacheDir;
use super::pipelines::{CompiledKernel, Compiler, Pipelines};
use super::plans::{CachedPlan, Generic, PlanKey, Plans};
use super::platform;
use super::pool::{GpuBuffer, Pool};
use super::schedules::Schedules;
use super::transfer;
use super::tune::Autotune;
use crate::{Error, Result};
use kiln_codegen::schedule::table;
use kiln_codegen::Schedule;
use kiln_ir::{DType, HostTensor, Kernel, Shape};
use std::sync::{Arc, Mutex};
use wgpu::util::DeviceExt;

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
    /// How tensors are stored (from the features and the options).
    pub target: kiln_codegen::Target,
    /// Matmuls may run on tensor cores (`adapter::tensor_cores_usable`).
    pub tensor_cores: bool,
    /// What this adapter needs worked around (`quirks.rs`).
    pub quirks: super::quirks::Quirks,
    lost: Arc<Mutex<Option<String>>>,
    errored: Arc<Mutex<Option<String>>>,
    counters: CounterCell,
    pool: Arc<Pool>,
    pipelines: Pipelines,
    plans: Plans,
    pub(crate) schedules: Schedules,
    pub(crate) disk: Option<CacheDir>,
    /// The open pass runs are gathered into, and when it is submitted (`batch.rs`).
    batch: Mutex<Batch>,
}

impl GpuContext {
    /// Names of the adapters wgpu can see.
    pub async fn list() -> Vec<String> {
        adapter::list().await
    }

    /// Opens the best adapter, or the first whose name contains `opts.adapter`.
    pub async fn open(opts: &crate::DeviceOptions) -> Result<GpuContext> {
        let adapter = adapter::pick(opts.adapter.as_deref()).await?;
        let info = adapter.get_info();
        let (device, queue) = adapter::request_device(&adapter, opts).await?;
        let limits = device.limits();
        let features = device.features();
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
            // The first error is the cause; later ones (invalid command buffers) follow it.
            if let Ok(mut l) = errored2.lock() {
                l.get_or_insert_with(|| e.to_string());
            }
        }));
        let disk = opts
            .cache_dir
            .as_deref()
            .filter(|_| platform::HAS_FILE_SYSTEM)
            .map(|root| CacheDir::for_adapter(root, &info));
        let tensor_cores = adapter::tensor_cores_usable(
            features,
            &info,
            &if features.contains(wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX) {
                adapter.cooperative_matrix_properties()
            } else {
                Vec::new()
            },
        );
        // The adapter type's schedule, brought within what this device accepts (subgroups
        // and tensor cores where it has them), with the matmul precision asked for.
        let mut base = table::for_device(adapter::device_class(info.device_type));
        base.matmul.tensor_core_f32 = opts.matmul_precision == crate::MatmulPrecision::F16;
        base.matmul.qgemv_int8 = opts.gemv_activations == crate::GemvActivations::Int8;
        let schedules = Schedules::new(
            base,
            adapter::schedule_limits(&limits, features, info.backend, tensor_cores),
            usable_autotune(opts.autotune),
            disk.as_ref(),
        );
        Ok(GpuContext {
            pipelines: Pipelines::new(&device, disk.as_ref(), opts.shader_checks),
            schedules,
            disk,
            batch: Mutex::new(Batch::default()),
            target: kiln_codegen::Target {
                f16: opts.f16_storage && features.contains(wgpu::Features::SHADER_F16),
                bf16: opts.bf16_storage,
            },
            tensor_cores,
            pool: Arc::new(Pool::new((limits.max_buffer_size / 2).min(4 << 30))),
            limits,
            features,
            quirks,
            adapter,
            device,
            queue,
            info,
            lost,
            errored,
            counters: CounterCell::default(),
            plans: Plans::default(),
        })
    }

    /// One line naming the adapter.
    pub fn describe(&self) -> String {
        format!(
            "{} ({:?}, {:?}, driver {} {})",
            // Browsers do not tell pages their adapter's name.
            if self.info.name.is_empty() {
                "unnamed adapter"
            } else {
                &self.info.name
            },
            self.info.backend,
            self.info.device_type,
            self.info.driver,
            self.info.driver_info
        )
    }

    /// What the context has done so far.
    pub fn counters(&self) -> Counters {
        let mut c = self.counters.get();
        let bytes = self.pool.bytes();
        c.bytes_allocated = bytes.created;
        c.device_bytes = bytes.live;
        c.peak_bytes = bytes.peak;
        (c.pipelines_cached, c.pipelines_evicted) = self.pipelines.sizes();
        (c.plans_cached, c.plans_evicted) = self.plans.sizes();
        let binds = self.pool.bind_groups().counts();
        (c.bind_group_hits, c.bind_groups_made, c.bind_groups_kept) =
            (binds.hits, binds.made, binds.kept);
        c
    }

    /// The bind groups kept across runs (`bind_groups.rs`).
    pub(crate) fn bind_groups(&self) -> &super::bind_groups::BindGroups {
        self.pool.bind_groups()
    }

    pub(crate) fn count(&self, f: impl FnOnce(&mut Counters)) {
        self.counters.count(f);
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

    /// Waits until all submitted work is done; fails if the device was lost.
    pub fn wait(&self) -> Result<()> {
        super::platform::ensure_can_block("waiting for the GPU (synchronize, timed runs)")?;
        self.flush_batch();
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu(e.to_string()))?;
        self.check_alive()
    }

    /// The cached plan for a structure key.
    pub fn cached_plan(&self, key: &PlanKey) -> Option<Arc<CachedPlan>> {
        self.plans.get(key)
    }

    /// Keeps a plan for later realizations of the same structure (bounded: the least
    /// recently used plan goes first).
    pub fn keep_plan(&self, key: PlanKey, plan: Arc<CachedPlan>) {
        self.plans.keep(key, plan);
    }

    /// What is known of a structure without its float constants' values.
    pub fn generic_plan(&self, key: &PlanKey) -> Option<Generic> {
        self.plans.generic(key)
    }

    /// Records what is known of a structure without its float constants' values.
    pub fn keep_generic_plan(&self, key: PlanKey, g: Generic) {
        self.plans.keep_generic(key, g);
    }

    fn compiler(&self) -> Compiler<'_> {
        Compiler {
            device: &self.device,
            target: &self.target,
            counters: &self.counters,
        }
    }

    /// The compiled pipeline for a kernel's structure and schedule, compiling it on a miss.
    pub fn pipeline(&self, k: &Kernel, s: &Schedule) -> Result<Arc<CompiledKernel>> {
        self.pipelines.get(self.compiler(), k, s)
    }

    /// The pipelines of `jobs`, in order, those not cached yet compiled together (see
    /// [`Pipelines::compile_all`]).
    pub fn compile_all(&self, jobs: &[(&Kernel, Schedule)]) -> Result<Vec<Arc<CompiledKernel>>> {
        self.pipelines.compile_all(self.compiler(), jobs)
    }

    /// Compiles, together, the pipelines of `jobs` not cached yet (the candidates of kernels
    /// about to be tuned); failures are left for the tuner to skip.
    pub fn precompile(&self, jobs: &[(&Kernel, Schedule)]) {
        self.pipelines.precompile(self.compiler(), jobs);
    }

    /// Forgets the pipeline of `k` under `s` (the autotuner's losing candidates): plans that
    /// hold it keep it alive until they go.
    pub fn forget_pipeline(&self, k: &Kernel, s: &Schedule) {
        self.pipelines.forget(k, s);
    }

    /// Writes wgpu's pipeline cache to disk if pipelines were compiled since the last write.
    pub fn save_pipeline_cache(&self) {
        self.pipelines.save(self.disk.as_ref());
    }

    /// The schedule kernels are generated with (the device class's, from
    /// `kiln_codegen::schedule::table`, or the last [`GpuContext::set_schedule`]).
    pub fn schedule(&self) -> Schedule {
        self.schedules.device()
    }

    /// Sets the schedule for kernels compiled from now on, brought within what the adapter
    /// allows (`kiln_codegen::schedule::limits::sanitize`: workgroups capped by the device's
    /// limit and rounded down to a power of two, subgroups only where usable).
    pub fn set_schedule(&self, s: Schedule) {
        self.schedules.set_device(s);
    }

    /// The autotuner's mode.
    pub fn autotune(&self) -> Autotune {
        self.schedules.mode()
    }

    /// Sets the autotuner's mode for kernels compiled from now on.
    pub fn set_autotune(&self, mode: Autotune) {
        self.schedules.set_mode(usable_autotune(mode));
    }

    /// Where the on-disk caches of this adapter live, if anywhere.
    pub fn cache_dir(&self) -> Option<&std::path::Path> {
        self.disk.as_ref().map(|d| d.path())
    }

    /// Caps the memory held for reuse (0 turns reuse off); what is held beyond is freed.
    pub fn set_pool_limit(&self, bytes: u64) {
        self.pool.set_max_held(bytes);
    }

    /// Device memory held for reuse by later runs.
    pub fn pooled_bytes(&self) -> u64 {
        self.pool.held_bytes()
    }

    /// Caps the device memory kiln's buffers may occupy (tensors and the reuse pool together);
    /// past it, allocations fail with [`Error::OutOfMemory`]. `u64::MAX` (the default): only
    /// the device's own memory limits.
    pub fn set_memory_limit(&self, bytes: u64) {
        self.pool.set_memory_limit(bytes);
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

    /// A new buffer holding a copy of `b`, copied after the work made before it (so that a
    /// run may write over the copy where the caller still holds `b`). Counted as a donated
    /// input copied: its one use.
    pub fn duplicate(&self, b: &GpuBuffer) -> Result<Arc<GpuBuffer>> {
        let copy = self.alloc(b.dtype, b.numel)?;
        let mut enc = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("kiln duplicate"),
            });
        let bytes = self.target.buffer_bytes(b.dtype, b.numel);
        enc.copy_buffer_to_buffer(&b.buffer, 0, &copy.buffer, 0, bytes);
        self.submit(enc.finish());
        self.count(|c| c.donations_copied += 1);
        Ok(copy)
    }

    /// Allocates an uninitialized tensor buffer.
    pub fn alloc(&self, dtype: DType, numel: usize) -> Result<Arc<GpuBuffer>> {
        let bytes = self.target.buffer_bytes(dtype, numel);
        self.check_size(&format!("a {dtype} tensor of {numel} elements"), bytes)?;
        let buffer = match self.pool.take(bytes) {
            Some(b) => b,
            None => self.pool.create(&self.device, bytes, |size| {
                self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("kiln tensor"),
                    size,
                    usage: wgpu::BufferUsages::STORAGE
                        | wgpu::BufferUsages::COPY_SRC
                        | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })
            })?,
        };
        Ok(Arc::new(GpuBuffer::new(&self.pool, buffer, dtype, numel)))
    }

    /// Uploads a host tensor, into a buffer from the pool where one of its size is free.
    pub fn upload(&self, t: &HostTensor) -> Result<Arc<GpuBuffer>> {
        // Never upload fewer bytes than the shape says kernels may read.
        t.validate()?;
        let bytes = self.target.buffer_bytes(t.dtype, t.numel());
        self.check_size(&format!("a {} tensor of shape {}", t.dtype, t.shape), bytes)?;
        let contents = self.target.encode(t);
        let buffer = match self.pool.take(bytes) {
            Some(buffer) => {
                // The queue writes before the next submission's commands: work recorded into
                // the open batch that may still read this buffer's old contents goes first.
                self.flush_batch();
                self.queue.write_buffer(&buffer, 0, &contents);
                buffer
            }
            None => self.pool.create(&self.device, bytes, |_| {
                self.device
                    .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                        label: Some("kiln input"),
                        contents: &contents,
                        usage: wgpu::BufferUsages::STORAGE
                            | wgpu::BufferUsages::COPY_SRC
                            | wgpu::BufferUsages::COPY_DST,
                    })
            })?,
        };
        Ok(Arc::new(GpuBuffer::new(
            &self.pool,
            buffer,
            t.dtype,
            t.numel(),
        )))
    }

    /// Starts copying a buffer into a mappable one, after the work before it.
    fn stage_readback(&self, b: &GpuBuffer) -> wgpu::Buffer {
        let (commands, staging) = transfer::stage_readback(&self.device, &self.target, b);
        self.submit(commands);
        staging
    }

    /// Reads a buffer back into a host tensor of `shape`, blocking until it is done.
    pub fn read(&self, b: &GpuBuffer, shape: &Shape) -> Result<HostTensor> {
        self.check_alive()?;
        let staging = self.stage_readback(b);
        self.map_blocking(&staging)?;
        transfer::finish_read(&self.target, &staging, b, shape)
    }

    /// Maps `buffer` for reading and waits until it is mapped, failing if the map fails, the
    /// device is lost, or the callback never runs (300 s).
    pub fn map_blocking(&self, buffer: &wgpu::Buffer) -> Result<()> {
        transfer::map_blocking(&self.device, buffer, || self.check_alive())
    }

    /// Reads a buffer back without blocking the thread: the future resolves when the copy is
    /// mapped (polling the device as it is polled, so it also works without an event loop).
    pub async fn read_async(&self, b: &GpuBuffer, shape: &Shape) -> Result<HostTensor> {
        self.check_alive()?;
        let staging = self.stage_readback(b);
        transfer::map_async(&self.device, &staging).await?;
        // In the browser, errors of the work before the read arrive by now (`platform`).
        self.check_alive()?;
        transfer::finish_read(&self.target, &staging, b, shape)
    }

    fn queue_ref(&self) -> Queue<'_> {
        Queue {
            device: &self.device,
            queue: &self.queue,
            counters: &self.counters,
        }
    }

    /// Runs `f` on the device's batch (a poisoned lock is taken over: the batch holds no
    /// invariant a panic could break).
    pub(crate) fn with_batch<R>(&self, f: impl FnOnce(&mut Batch, Queue<'_>) -> R) -> R {
        let mut b = self.batch.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut b, self.queue_ref())
    }

    /// Runs `f` with a batch open: the runs it makes are submitted together when it returns
    /// (see `batch.rs`). Errors of the runs surface as usual, from the run or from the next
    /// check of the device.
    pub fn batched<R>(&self, f: impl FnOnce() -> Result<R>) -> Result<R> {
        /// Closes the scope even if `f` panics.
        struct Scope<'a>(&'a GpuContext);
        impl Drop for Scope<'_> {
            fn drop(&mut self) {
                self.0.with_batch(|b, q| b.leave(q));
            }
        }
        self.with_batch(|b, _| b.enter());
        let scope = Scope(self);
        let r = f();
        drop(scope);
        self.check_alive()?;
        r
    }

    /// Submits the open batch's work, before anything else goes through the queue or waits
    /// for it, or because the caller wants the GPU to start on it now.
    pub fn flush_batch(&self) {
        self.with_batch(|b, q| b.flush(q));
    }

    /// Sets when runs are submitted (see [`Submission`]); gathered work is submitted first.
    pub fn set_submission(&self, policy: Submission) {
        self.with_batch(|b, q| b.set_policy(q, policy));
    }

    /// Submits `cb` after whatever the open batch holds, so that the queue keeps the order in
    /// which work was made, and counts the submission.
    pub fn submit(&self, cb: wgpu::CommandBuffer) {
        self.flush_batch();
        self.queue.submit([cb]);
        self.count(|c| c.submits += 1);
    }
}

/// `mode` where the host can wait for timings; `Off` in the browser (see `platform`).
fn usable_autotune(mode: Autotune) -> Autotune {
    if platform::CAN_BLOCK {
        mode
    } else {
        Autotune::Off
    }
}

//! Devices: the wgpu adapter kiln runs on, or the reference interpreter when there is none.
//!
//! The default device takes the best adapter (discrete over integrated over virtual over CPU).
//! `KILN_ADAPTER` picks another by a case-insensitive substring of its name (`interpreter`
//! chooses the CPU reference), and `KILN_REQUIRE_ADAPTER=1` turns "no adapter" into an error
//! instead of a fallback. `KILN_AUTOTUNE=off|fast|full` sets the autotuner's mode (default
//! fast), `KILN_CACHE_DIR` where autotune results and compiled pipelines are kept across
//! processes (default: the platform cache directory; empty: no disk cache). [`DeviceOptions`]
//! does the same from code; the environment is read only in [`DeviceOptions::from_env`].

use crate::runtime::{Autotune, GpuContext};
use crate::{Error, Result};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// How to pick a device.
#[derive(Clone, Debug)]
pub struct DeviceOptions {
    /// A case-insensitive substring of the adapter name; `"interpreter"` selects the CPU
    /// reference interpreter.
    pub adapter: Option<String>,
    /// Fail instead of falling back to the interpreter when no adapter can be opened.
    pub require_adapter: bool,
    /// Fuse ops into kernels (`KILN_FUSION=0` turns it off, for comparison).
    pub fusion: bool,
    /// How much the autotuner searches.
    pub autotune: Autotune,
    /// The root of the on-disk caches (`None`: none on disk).
    pub cache_dir: Option<std::path::PathBuf>,
    /// Store `f16` tensors as 16-bit `f16` where the adapter has `SHADER_F16`: half the memory,
    /// and bandwidth-bound f16 kernels up to twice as fast, the same values to the bit. On by
    /// default (`KILN_F16_STORAGE=0` turns it off); without the feature f16 is stored widened
    /// to `f32`.
    pub f16_storage: bool,
    /// Store `bf16` tensors packed, two to a 32-bit word (any adapter): half the memory and
    /// the bytes moved, the same values to the bit. On by default (`KILN_BF16_STORAGE=0`
    /// turns it off); off, bf16 is stored widened to `f32`.
    pub bf16_storage: bool,
    /// The precision of f32 matmuls: `F16` lets them round their operands to f16 to run on
    /// tensor cores where the adapter has them (f32 accumulation; like PyTorch's TF32
    /// switch), `F32` (the default) keeps them on the f32 path. f16 operands use tensor cores
    /// either way. `KILN_MATMUL_PRECISION=f16|f32`.
    pub matmul_precision: MatmulPrecision,
    /// The precision of the vector a gemv on a quantized matrix (a decode step's linear
    /// layers on GGUF weights) meets: `Int8` rounds it to 8-bit integers, a scale every 32
    /// values, and multiplies it with the weight's codes in integer dot products, as
    /// llama.cpp does (its `Q8_1` activations), up to 4 rows a group: fewer instructions a
    /// value, results within the rounding bound of `docs/OPS.md` of the `F32` path's; the
    /// decodes ran 16-28% more tokens/s on an H200 (docs/PERFORMANCE.md). `F32` (the
    /// default) keeps the vector as it is. `KILN_GEMV_ACTIVATIONS=f32|int8`.
    pub gemv_activations: GemvActivations,
    /// At most this many storage buffers per shader stage, below the adapter's own limit
    /// (`None`: the adapter's; values under 8, WebGPU's minimum, count as 8). Fusion splits
    /// kernels to stay under it; tests use it to stand in for a WebGPU adapter.
    pub max_storage_buffers: Option<u32>,
    /// The unfused attention pattern (`matmul -> scale -> add mask -> softmax -> matmul`) is
    /// fused into one kernel where it has at most this many query rows per batch (`None`:
    /// wherever it appears). Longer ones keep the two matmuls and the softmax, which ran
    /// faster on a GPU (docs/PERFORMANCE.md); `Tensor::scaled_dot_product_attention` is one
    /// kernel at any length. Default 16 (one block of the fused kernel's rows: decode steps
    /// and short prompts). `KILN_FUSE_ATTENTION_ROWS=N`, or `all`.
    pub fuse_attention_rows: Option<usize>,
    /// Which of wgpu's run-time checks go into kiln's shaders. Default: index clamps and
    /// division guards, no loop counters (`ShaderChecks::default()`: the counters made the
    /// quantized gemvs and the 8B decode step a third slower on an H100; docs/PERFORMANCE.md).
    /// `KILN_SHADER_CHECKS=all|default|none|` or a comma list of those kept (`bounds,loops,division`).
    pub shader_checks: ShaderChecks,
}

/// wgpu's run-time checks in kiln's shaders ([`DeviceOptions::shader_checks`]). A check left
/// out lets the shader run as generated, which kiln's kernels allow by construction: their
/// arrays are indexed in range, their loops end (bounds from constants and uniforms, steps
/// positive), their divisors are nonzero. Storage buffers stay bounded wherever the driver
/// bounds them itself (Vulkan's robust buffer access) even without `bounds`. Browsers check
/// regardless.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShaderChecks {
    /// Index clamps on arrays (workgroup and local; storage buffers where the driver does not
    /// bound them).
    pub bounds: bool,
    /// A counter in every loop that breaks it after 2^64 trips (against infinite loops). It
    /// keeps the driver's compiler from seeing a loop's trip count (no unrolling, loads not
    /// hoisted); kiln's loops end without it.
    pub loops: bool,
    /// Guards on integer division and remainder (by zero, `i32::MIN / -1`).
    pub division: bool,
}

impl ShaderChecks {
    /// Every check.
    pub const ALL: ShaderChecks = ShaderChecks {
        bounds: true,
        loops: true,
        division: true,
    };
    /// The default: index clamps and division guards, no loop counters.
    pub const DEFAULT: ShaderChecks = ShaderChecks {
        bounds: true,
        loops: false,
        division: true,
    };
    /// No check.
    pub const NONE: ShaderChecks = ShaderChecks {
        bounds: false,
        loops: false,
        division: false,
    };

    /// wgpu's form (the checks that do not concern compute shaders stay on).
    pub(crate) fn runtime_checks(self) -> wgpu::ShaderRuntimeChecks {
        let mut c = wgpu::ShaderRuntimeChecks::checked();
        c.bounds_checks = self.bounds;
        c.force_loop_bounding = self.loops;
        c.int_div_checks = self.division;
        c
    }
}

impl Default for ShaderChecks {
    fn default() -> Self {
        ShaderChecks::DEFAULT
    }
}

impl std::str::FromStr for ShaderChecks {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "all" => return Ok(ShaderChecks::ALL),
            "default" => return Ok(ShaderChecks::DEFAULT),
            "none" | "" => return Ok(ShaderChecks::NONE),
            _ => {}
        }
        let mut c = ShaderChecks::NONE;
        for part in s.split(',') {
            match part.trim().to_ascii_lowercase().as_str() {
                "bounds" => c.bounds = true,
                "loops" => c.loops = true,
                "division" => c.division = true,
                other => {
                    return Err(format!(
                        "shader check {other:?}: all, default, none, or a list of bounds, loops, division"
                    ))
                }
            }
        }
        Ok(c)
    }
}

/// [`DeviceOptions::fuse_attention_rows`]'s default.
pub const FUSE_ATTENTION_ROWS: usize = 16;

impl Default for DeviceOptions {
    fn default() -> Self {
        DeviceOptions {
            adapter: None,
            require_adapter: false,
            fusion: true,
            autotune: Autotune::default(),
            cache_dir: crate::runtime::disk::default_root(),
            f16_storage: true,
            bf16_storage: true,
            matmul_precision: MatmulPrecision::F32,
            gemv_activations: GemvActivations::F32,
            max_storage_buffers: None,
            fuse_attention_rows: Some(FUSE_ATTENTION_ROWS),
            shader_checks: ShaderChecks::DEFAULT,
        }
    }
}

/// The precision f32 matmuls compute at ([`DeviceOptions::matmul_precision`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MatmulPrecision {
    /// f32 operands stay f32.
    #[default]
    F32,
    /// f32 operands may be rounded to f16 for tensor cores (f32 accumulation).
    F16,
}

impl std::str::FromStr for MatmulPrecision {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "f32" => Ok(MatmulPrecision::F32),
            "f16" => Ok(MatmulPrecision::F16),
            other => Err(format!("matmul precision {other:?}: f16 or f32")),
        }
    }
}

/// The precision of the vector of a gemv on a quantized matrix
/// ([`DeviceOptions::gemv_activations`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GemvActivations {
    /// The vector as it is.
    #[default]
    F32,
    /// The vector rounded to 8-bit integers, a scale every 32 values.
    Int8,
}

impl std::str::FromStr for GemvActivations {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "f32" => Ok(GemvActivations::F32),
            "int8" => Ok(GemvActivations::Int8),
            other => Err(format!("gemv activations {other:?}: f32 or int8")),
        }
    }
}

impl DeviceOptions {
    /// Options from `KILN_ADAPTER`, `KILN_REQUIRE_ADAPTER`, `KILN_FUSION`, `KILN_AUTOTUNE`,
    /// `KILN_CACHE_DIR`, `KILN_F16_STORAGE`, `KILN_BF16_STORAGE`, `KILN_MATMUL_PRECISION`,
    /// `KILN_GEMV_ACTIVATIONS`, `KILN_FUSE_ATTENTION_ROWS` and `KILN_SHADER_CHECKS` (an
    /// unreadable `KILN_AUTOTUNE`, `KILN_MATMUL_PRECISION`, `KILN_GEMV_ACTIVATIONS`, `KILN_FUSE_ATTENTION_ROWS` or `KILN_SHADER_CHECKS` is warned about and its default kept; `KILN_REQUIRE_ADAPTER` is on for `1` or `true`, `KILN_FUSION`,
    /// `KILN_F16_STORAGE` and `KILN_BF16_STORAGE` off for `0` or `false`).
    pub fn from_env() -> Self {
        DeviceOptions {
            adapter: std::env::var("KILN_ADAPTER").ok().filter(|s| !s.is_empty()),
            require_adapter: std::env::var("KILN_REQUIRE_ADAPTER")
                .map(|v| v == "1" || v.eq_ignore_ascii_case("true"))
                .unwrap_or(false),
            fusion: on_unless_off("KILN_FUSION"),
            autotune: match std::env::var("KILN_AUTOTUNE") {
                Ok(v) => v.parse().unwrap_or_else(|e| {
                    log::warn!("kiln: KILN_AUTOTUNE: {e}; using fast");
                    Autotune::Fast
                }),
                Err(_) => Autotune::default(),
            },
            cache_dir: match std::env::var_os("KILN_CACHE_DIR") {
                Some(v) if v.is_empty() => None,
                Some(v) => Some(v.into()),
                None => crate::runtime::disk::default_root(),
            },
            f16_storage: on_unless_off("KILN_F16_STORAGE"),
            bf16_storage: on_unless_off("KILN_BF16_STORAGE"),
            matmul_precision: match std::env::var("KILN_MATMUL_PRECISION") {
                Ok(v) => v.parse().unwrap_or_else(|e| {
                    log::warn!("kiln: KILN_MATMUL_PRECISION: {e}; using f32");
                    MatmulPrecision::F32
                }),
                Err(_) => MatmulPrecision::F32,
            },
            gemv_activations: match std::env::var("KILN_GEMV_ACTIVATIONS") {
                Ok(v) => v.parse().unwrap_or_else(|e| {
                    log::warn!("kiln: KILN_GEMV_ACTIVATIONS: {e}; using f32");
                    GemvActivations::F32
                }),
                Err(_) => GemvActivations::F32,
            },
            max_storage_buffers: None,
            fuse_attention_rows: match std::env::var("KILN_FUSE_ATTENTION_ROWS") {
                Ok(v) if v.trim().eq_ignore_ascii_case("all") => None,
                Ok(v) => Some(v.trim().parse().unwrap_or_else(|e| {
                    log::warn!(
                        "kiln: KILN_FUSE_ATTENTION_ROWS={v:?}: {e}; using {FUSE_ATTENTION_ROWS}"
                    );
                    FUSE_ATTENTION_ROWS
                })),
                Err(_) => Some(FUSE_ATTENTION_ROWS),
            },
            shader_checks: match std::env::var("KILN_SHADER_CHECKS") {
                Ok(v) => v.parse().unwrap_or_else(|e| {
                    log::warn!("kiln: KILN_SHADER_CHECKS: {e}; using the default");
                    ShaderChecks::DEFAULT
                }),
                Err(_) => ShaderChecks::DEFAULT,
            },
        }
    }
}

/// A switch that is on unless the variable `name` says `0` or `false`.
fn on_unless_off(name: &str) -> bool {
    std::env::var(name).map_or(true, |v| v != "0" && !v.eq_ignore_ascii_case("false"))
}

pub(crate) enum Backend {
    Gpu(Arc<GpuContext>),
    Interpreter { reason: String },
}

impl Backend {
    /// The interpreter, asked for by name (`KILN_ADAPTER=interpreter` or
    /// [`Device::interpreter`]).
    fn explicit_interpreter() -> Backend {
        Backend::Interpreter {
            reason: "chosen explicitly".into(),
        }
    }
}

struct DeviceInner {
    id: u64,
    backend: Backend,
    fusion: AtomicBool,
    fuse_attention_rows: Option<usize>,
}

/// A device tensors live on. Cheap to clone.
#[derive(Clone)]
pub struct Device {
    inner: Arc<DeviceInner>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Device({})", self.describe())
    }
}

impl PartialEq for Device {
    fn eq(&self, other: &Self) -> bool {
        self.inner.id == other.inner.id
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static DEFAULT: OnceLock<std::result::Result<Device, Error>> = OnceLock::new();

impl Device {
    fn wrap(backend: Backend, opts: &DeviceOptions) -> Device {
        Device {
            inner: Arc::new(DeviceInner {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                backend,
                fusion: AtomicBool::new(opts.fusion),
                fuse_attention_rows: opts.fuse_attention_rows,
            }),
        }
    }

    /// The attention-pattern pass this device's graphs run (`None` with fusion off).
    pub fn fuse_attention(&self) -> Option<kiln_ir::passes::FuseAttention> {
        self.fusion().then_some(kiln_ir::passes::FuseAttention {
            max_rows: self.inner.fuse_attention_rows,
        })
    }

    /// Turns fusion on or off for graphs compiled from now on (off: one kernel per op).
    pub fn set_fusion(&self, on: bool) {
        self.inner.fusion.store(on, Ordering::Relaxed);
    }

    /// Whether f16 matmuls (and f32 ones under `MatmulPrecision::F16`) may run on tensor
    /// cores here: the adapter lists the cooperative matrices kiln's template uses
    /// (`kiln_codegen::coop`). The interpreter has none.
    pub fn tensor_cores(&self) -> bool {
        self.gpu().is_some_and(|g| g.tensor_cores)
    }

    /// Whether fusion is on.
    pub fn fusion(&self) -> bool {
        self.inner.fusion.load(Ordering::Relaxed)
    }

    /// The lowering options for this device: fusion switch and the adapter's limits.
    pub fn fusion_options(&self) -> kiln_ir::lower::FusionOptions {
        let mut o = kiln_ir::lower::FusionOptions {
            enabled: self.fusion(),
            ..Default::default()
        };
        if let Backend::Gpu(g) = &self.inner.backend {
            o.max_storage_buffers = g.limits.max_storage_buffers_per_shader_stage as usize;
        }
        o
    }

    /// The graph sizes one kernel may loop over on this device (the split passes cut longer
    /// rows and inner dimensions), the largest attention head its workgroup memory holds, and
    /// the keys of a one-row attention its schedule's decode form takes whole; no limit on
    /// the interpreter.
    pub fn loop_limits(&self) -> kiln_ir::passes::LoopLimits {
        match &self.inner.backend {
            Backend::Gpu(g) => kiln_ir::passes::LoopLimits {
                attention_head: Some(kiln_codegen::attention::max_head(
                    g.limits.max_compute_workgroup_storage_size,
                ) as usize),
                whole_decode_keys: kiln_codegen::attention_decode::whole_keys(
                    g.schedule().attention.segments,
                ),
                ..crate::runtime::quirks::loop_limits(&g.quirks)
            },
            Backend::Interpreter { .. } => Default::default(),
        }
    }

    /// The CPU reference interpreter as a device.
    pub fn interpreter() -> Device {
        Self::wrap(Backend::explicit_interpreter(), &DeviceOptions::default())
    }

    /// Opens a device by the given options (blocking; see [`Device::new_async`]).
    pub fn new(opts: &DeviceOptions) -> Result<Device> {
        crate::runtime::platform::block_on("Device::new", Self::new_async(opts))?
    }

    /// Opens a device by the given options without blocking a thread.
    pub async fn new_async(opts: &DeviceOptions) -> Result<Device> {
        if let Some(a) = &opts.adapter {
            if a.eq_ignore_ascii_case("interpreter") || a.eq_ignore_ascii_case("cpu-reference") {
                return Ok(Self::wrap(Backend::explicit_interpreter(), opts));
            }
        }
        match GpuContext::open(opts).await {
            Ok(ctx) => {
                log::info!("kiln: using adapter {}", ctx.describe());
                Ok(Self::wrap(Backend::Gpu(Arc::new(ctx)), opts))
            }
            Err(e @ Error::AdapterNotFound { .. }) => Err(e),
            Err(e) if opts.require_adapter => Err(match e {
                Error::NoAdapter(_) => e,
                other => Error::NoAdapter(other.to_string()),
            }),
            Err(e) => {
                log::warn!(
                    "kiln: no GPU adapter ({e}); running on the reference interpreter. \
                     Set KILN_REQUIRE_ADAPTER=1 to make this an error."
                );
                Ok(Self::wrap(
                    Backend::Interpreter {
                        reason: e.to_string(),
                    },
                    opts,
                ))
            }
        }
    }

    /// The process-wide default device, opened once from the environment
    /// ([`DeviceOptions::from_env`]).
    /// In the browser, where opening a device is a wait, the first call must be
    /// [`Device::default_device_async`]; until then this is an [`Error::Blocking`].
    pub fn default_device() -> Result<Device> {
        if let Some(d) = DEFAULT.get() {
            return d.clone();
        }
        crate::runtime::platform::ensure_can_block(
            "opening the default device (await Device::default_device_async first)",
        )?;
        DEFAULT
            .get_or_init(|| Device::new(&DeviceOptions::from_env()))
            .clone()
    }

    /// [`Device::default_device`] without blocking a thread: opens it on the first call.
    pub async fn default_device_async() -> Result<Device> {
        if let Some(d) = DEFAULT.get() {
            return d.clone();
        }
        let opened = Device::new_async(&DeviceOptions::from_env()).await;
        // Another caller may have opened it meanwhile: theirs stays, this one is dropped.
        DEFAULT.get_or_init(|| opened).clone()
    }

    /// Names of the adapters wgpu can see.
    pub fn list_adapters() -> Result<Vec<String>> {
        crate::runtime::platform::block_on("Device::list_adapters", GpuContext::list())
    }

    /// [`Device::list_adapters`] without blocking a thread.
    pub async fn list_adapters_async() -> Vec<String> {
        GpuContext::list().await
    }

    /// True when this device runs kernels on a GPU adapter.
    pub fn is_gpu(&self) -> bool {
        matches!(self.inner.backend, Backend::Gpu(_))
    }

    /// One line saying what this device is.
    pub fn describe(&self) -> String {
        match &self.inner.backend {
            Backend::Gpu(g) => g.describe(),
            Backend::Interpreter { reason } => format!("reference interpreter ({reason})"),
        }
    }

    /// Runs `f` as one batch: the GPU runs it makes (`Program::run`, tensors realized) are
    /// recorded into one compute pass, as they are by default
    /// ([`Submission::Gathered`](crate::Submission::Gathered)) and also under
    /// `Submission::PerRun`, and what is left is submitted when `f` returns, so the GPU has all
    /// of it. Each submission costs the GPU time outside the work it carries, so a loop of
    /// short runs saves that cost per run. The batch goes to the GPU in chunks that double
    /// from one dispatch up to [`MAX_BATCH_DISPATCHES`](crate::runtime::batch::MAX_BATCH_DISPATCHES), so
    /// the GPU starts at once and the host records ahead of it. Nothing is reordered: reads,
    /// waits and timed runs inside `f` first submit what was gathered. Batches nest (the
    /// outermost submits) and belong to the device: runs other threads make meanwhile join
    /// it. An error or a panic in `f` still closes the batch. On the interpreter it just runs
    /// `f`.
    pub fn batch<R>(&self, f: impl FnOnce() -> Result<R>) -> Result<R> {
        match &self.inner.backend {
            Backend::Gpu(g) => g.batched(f),
            Backend::Interpreter { .. } => f(),
        }
    }

    /// Sets when the GPU work of runs is submitted: gathered into chunks (the default) or one
    /// submission a run. See [`Submission`](crate::Submission). A no-op on the
    /// interpreter.
    pub fn set_submission(&self, policy: crate::Submission) {
        if let Backend::Gpu(g) = &self.inner.backend {
            g.set_submission(policy);
        }
    }

    /// Hands the runs gathered so far to the GPU without waiting for them (reads and waits do
    /// this themselves). Call it before leaving the device alone for a while with work
    /// recorded, so that the GPU works meanwhile. A no-op on the interpreter.
    pub fn flush(&self) {
        if let Backend::Gpu(g) = &self.inner.backend {
            g.flush_batch();
        }
    }

    /// Blocks until all work submitted to the device has finished, submitting an open
    /// batch's first (a no-op on the interpreter). Not for the browser, where waits are the
    /// event loop's.
    pub fn synchronize(&self) -> Result<()> {
        match &self.inner.backend {
            Backend::Gpu(g) => g.wait(),
            Backend::Interpreter { .. } => Ok(()),
        }
    }

    /// Sets the autotuner's mode for kernels compiled from now on.
    pub fn set_autotune(&self, mode: Autotune) {
        if let Backend::Gpu(g) = &self.inner.backend {
            g.set_autotune(mode);
        }
    }

    /// Caps the device memory kiln may occupy (tensors and buffers held for reuse); beyond it
    /// allocations fail with [`Error::OutOfMemory`]. No effect on the interpreter.
    pub fn set_memory_limit(&self, bytes: u64) {
        if let Backend::Gpu(g) = &self.inner.backend {
            g.set_memory_limit(bytes);
        }
    }

    /// What the device has done so far (`None` for the interpreter).
    pub fn counters(&self) -> Option<crate::runtime::Counters> {
        match &self.inner.backend {
            Backend::Gpu(g) => Some(g.counters()),
            Backend::Interpreter { .. } => None,
        }
    }

    pub(crate) fn backend(&self) -> &Backend {
        &self.inner.backend
    }

    /// The GPU context, when there is one.
    pub fn gpu(&self) -> Option<&Arc<GpuContext>> {
        match &self.inner.backend {
            Backend::Gpu(g) => Some(g),
            Backend::Interpreter { .. } => None,
        }
    }
}

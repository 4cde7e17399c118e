//! Schedules: how a kernel is mapped onto the GPU, one typed part per kernel class.
//!
//! - this file: the [`Schedule`] type and the concrete schedule of a kernel
//!   ([`Schedule::resolve`], [`Schedule::fit_workgroup_memory`]);
//! - [`table`]: the schedule each kind of device starts from, as data;
//! - [`limits`]: bringing a schedule within what code generation and an adapter accept
//!   ([`limits::sanitize`]) and checking one ([`limits::valid`]);
//! - [`space`]: the candidates the autotuner searches, per kernel class;
//! - [`tuned`]: what a tuning result stores, its key and its text form on disk.
//!
//! A [`Schedule`] is also a cache key (pipelines and plans): two schedules are equal exactly
//! when they generate the same code.

pub mod limits;
pub mod space;
pub mod table;
pub mod tuned;

use crate::{attention, gemv, matmul};
use kiln_ir::{Kernel, KernelKind};

/// How a kernel is mapped onto the GPU: one part per kernel class, each read only by the
/// template of its class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Schedule {
    /// Elementwise kernels.
    pub elementwise: ElementwiseSchedule,
    /// Reduce kernels.
    pub reduce: ReduceSchedule,
    /// Matmul kernels.
    pub matmul: MatmulSchedule,
    /// Attention kernels.
    pub attention: AttentionSchedule,
}

/// How an attention kernel is mapped (see [`attention`]): a workgroup of
/// [`attention::THREADS`] invocations takes `rows` query rows and streams the keys of its run
/// through workgroup memory `keys` at a time. `None` in a device's schedule: chosen per
/// kernel ([`Schedule::resolve`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AttentionSchedule {
    /// Query rows per workgroup, one of [`attention::ROWS`].
    pub rows: Option<u32>,
    /// Keys per tile, one of [`attention::KEYS`].
    pub keys: Option<u32>,
    /// Elements of a head the workgroup tiles hold (at least `d` and `dv`, a multiple of
    /// 16, of 32 on tensor cores): always chosen from the kernel's sizes, never tuned.
    pub head: Option<u32>,
    /// Both products on tensor cores ([`crate::attention_coop`]) where the kernel is eligible
    /// (16-row blocks of f16, or f32 at f16 precision; `limits::sanitize` keeps it only on
    /// adapters with tensor cores); [`Schedule::resolve`] clears it elsewhere.
    pub tensor_cores: bool,
    /// The most segments of [`attention::THREADS`] invocations one workgroup of the decode
    /// form spreads a whole attention's keys over, combining them in workgroup memory
    /// ([`crate::attention_decode`]), a power of two: a one-row attention of at most this
    /// many times [`kiln_ir::passes::DECODE_SEGMENT_KEYS`] keys is left whole by the split
    /// pass (the runtime tells it, `LoopLimits::whole_decode_keys`), so it needs no combine
    /// kernel. Resolving a kernel's schedule brings it to the segments that kernel runs (1
    /// where it is not such a kernel). The GPU schedule's 1 keeps the split and its combine,
    /// the form measured on an H100; 16 (every LLM decode step's attention whole) is
    /// predicted to take 5-8 µs a layer off those steps and waits for its measurement
    /// (docs/journal/2026-12-08-session35.md).
    pub segments: u32,
}

impl AttentionSchedule {
    /// Rows, keys and head once concrete.
    pub fn concrete(&self) -> Option<(u32, u32, u32)> {
        Some((self.rows?, self.keys?, self.head?))
    }
}

/// How an elementwise kernel is mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ElementwiseSchedule {
    /// Invocations per workgroup.
    pub workgroup: u32,
    /// Elements each invocation of a scalar kernel handles, computed before any is stored
    /// (more loads in flight per invocation); vec4 kernels handle one vector each and ignore
    /// it.
    pub unroll: u32,
}

/// How a reduce kernel is mapped: one workgroup per row, or, for rows whose size class is at
/// most `serial`, one invocation per row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReduceSchedule {
    /// Invocations per workgroup (a power of two); rows per workgroup where rows are serial.
    pub workgroup: u32,
    /// Elements each invocation loads per step of its row loops before combining them.
    pub unroll: u32,
    /// Elements of a row each invocation keeps in registers, so that a row of up to
    /// `workgroup * cache` elements is read from memory once whatever the number of stages
    /// (0: none, every stage reads memory).
    pub cache: u32,
    /// Combine across a workgroup with subgroup shuffles instead of a shared-memory tree.
    /// Only for adapters with `Features::SUBGROUP`.
    pub subgroups: bool,
    /// Rows whose size class (their length rounded up to a power of two) is at most this
    /// many elements are reduced by one invocation each, `workgroup` rows a workgroup: no
    /// tree, no barrier, no workgroup memory (a power of two at most [`SERIAL_MAX`]; 0:
    /// never). A tree over a short row costs more steps and barriers than it shares out (a
    /// split attention's combine folds 16 runs a row in the LLM decodes, 22 over
    /// attention_decode).
    /// [`Schedule::resolve`] keeps it only for kernels whose rows are that short. CPU
    /// adapters 64: on lavapipe a split attention's combine ran 3-7x faster. GPUs 16: on an
    /// H100 the LLM decodes' combines (16 runs) made the 8B step 2.1% and the 1B's 1.7%
    /// shorter, while attention_decode's (22 runs, size class 32) ran 6% slower serial than
    /// as a tree (docs/journal/2026-12-07-session34.md). Serial rows take the workgroup
    /// [`Schedule::resolve`] gives a row of their class: 32 rows a workgroup on GPUs.
    pub serial: u32,
}

/// The longest row [`ReduceSchedule::serial`] may name: a serial row is held in registers
/// whole (`cache` is set to its size class), so that it is read from memory once.
pub const SERIAL_MAX: u32 = 64;

/// How a matmul kernel is mapped (see [`matmul`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MatmulSchedule {
    /// Output rows each invocation computes: 1, 4 or 8 (16, 64 or 128 rows per workgroup;
    /// columns too unless `block_n` says otherwise). `None` in a device's schedule: chosen per
    /// kernel from its sizes ([`Schedule::resolve`]); code generation needs a concrete one.
    pub block: Option<u32>,
    /// Output columns per invocation of the register-tiled kernel (4 or 8) where they differ
    /// from its rows; `None`: the same as `block` (square tiles).
    pub block_n: Option<u32>,
    /// Steps of the inner loop written out per iteration (1 to 16); on the gemv path, its
    /// steps per iteration.
    pub unroll: u32,
    /// Depth of the operand slices the register-tiled kernel stages per step, one of
    /// [`matmul::DEPTHS`]. `None` in a device's schedule: chosen per kernel from its inner
    /// size ([`Schedule::resolve`]).
    pub depth: Option<u32>,
    /// The gemv path sums a matrix contiguous along `k` over whole subgroups with
    /// `subgroupAdd` instead of lanes added through workgroup memory. Only for adapters with
    /// `Features::SUBGROUP`.
    pub gemv_subgroups: bool,
    /// A gemv on a quantized matrix runs the quantized gemv path (`qgemv`: groups of 32
    /// invocations a few rows each, decoding words of blocks); off, it decodes element by
    /// element in the gemv path.
    pub quantized_gemv: bool,
    /// Rows each group of the quantized gemv path's wide items owns (the K-quants'), one of
    /// [`crate::qgemv::QGEMV_ROWS`] (8 groups a workgroup in the template; a group is a
    /// subgroup in [`crate::qgemv_warp`]'s kernel): more share each read of the
    /// vector among more rows, fewer give a short matrix more workgroups. `None` in a
    /// device's schedule: chosen per kernel ([`Schedule::resolve`]), at most
    /// [`MatmulSchedule::most_qgemv_rows`].
    pub qgemv_rows: Option<u32>,
    /// The quantized gemv path rounds the vector to 8-bit integers, a scale a block of 32
    /// values, and multiplies it with the codes in integer dot products
    /// ([`crate::qgemv_dot`]): fewer instructions a value, and results that differ from the
    /// `f32` path's by the vector's rounding (`docs/OPS.md`). The opt-in precision of
    /// `DeviceOptions::gemv_activations`, as llama.cpp's `Q8_1` activations.
    pub qgemv_int8: bool,
    /// Items of a row each lane of the 8-bit vector's path takes a trip of its loop, one of
    /// [`crate::qgemv_dot::QGEMV_ITEMS`]: their loads are issued together, before any of
    /// their sums needs one (more bytes in flight a lane, more registers).
    pub qgemv_items: u32,
    /// The most workgroups a product on the 8-bit vector's path dispatches for each batch
    /// where its vector is staged whole at once (`k` at most
    /// [`crate::qgemv_dot::DOT_CHUNK`] in the template), and for every product of
    /// [`crate::qgemv_warp`]'s kernel (which stages a longer vector a chunk at a time a
    /// block): each stages the vector once and takes blocks of rows
    /// in turn, so that staging is paid once a workgroup rather than once a block
    /// ([`crate::qgemv_dot::workgroups`]). 0: a workgroup a block. Shapes the grid only, not
    /// the WGSL. The GPU schedule's 264 is two a multiprocessor of an H100, the fastest of 0,
    /// 132, 198, 264, 396 and 528 measured there (docs/PERFORMANCE.md).
    pub qgemv_workgroups: u32,
    /// Warps (nominal subgroups of 32 invocations) a workgroup of the 8-bit vector's path
    /// where it runs as a kernel of its own ([`crate::qgemv_warp`]: a subgroup a row or
    /// rows, workgroups of 256 to 1024 invocations), one of
    /// [`crate::qgemv_warp::QGEMV_WARPS`]; 0 runs it in the block-1 template (8 groups of
    /// 32). Needs `gemv_subgroups`; `Schedule::fit_workgroup_memory` sets it to 0 where its
    /// staged vector does not fit. The GPU schedule's 16: two workgroups of 16 warps a
    /// multiprocessor of an H100 kept its weight streaming at the uncapped forms' rate in
    /// `qgemv-probe` (docs/journal/). Q6_K and Q8_0 weights take `qgemv_warps_wide` where it
    /// is nonzero.
    pub qgemv_warps: u32,
    /// The warps a workgroup of that kernel for the formats of more bits a weight
    /// ([`crate::qgemv_warp::WIDE_FORMATS`]: Q6_K, Q8_0), where `qgemv_warps` is nonzero
    /// (0: `qgemv_warps`). Every way a schedule becomes concrete for a kernel
    /// ([`Schedule::resolve`], a stored tuning result) folds it into `qgemv_warps` and
    /// clears it. The GPU schedule's 32: on an H100 chains of 8192 x 8192 products ran 7.5%
    /// (Q6_K) and 4.8% (Q8_0) faster at 32 warps than at 16, while Q4_K and Q4_0 ran 12-15%
    /// slower (docs/journal/2026-12-07-session34.md). Where those warps' staged vector and a
    /// prologue's fold pass the adapter's workgroup memory, the template's path runs, as for
    /// `qgemv_warps`.
    pub qgemv_warps_wide: u32,
    /// Use the tensor-core template ([`crate::coop`]) where the kernel is eligible
    /// ([`crate::coop::eligible`]). Only for adapters that list 16 x 16 x 16 f16 x f16 -> f32
    /// cooperative matrices and run subgroups of 32 (`limits::sanitize` clears it elsewhere);
    /// [`Schedule::resolve`] clears it for kernels it does not suit.
    pub tensor_cores: bool,
    /// The tensor-core tile, an index into [`crate::coop::COOP_TILES`]. `None` in a device's
    /// schedule: chosen per kernel from its sizes ([`crate::coop::by_size`]).
    pub coop_tile: Option<u32>,
    /// f32 (and bf16) operands may be rounded to f16 to run on tensor cores: the opt-in
    /// precision of `DeviceOptions::matmul_precision` (like PyTorch's TF32 switch).
    pub tensor_core_f32: bool,
}

impl MatmulSchedule {
    /// The quantized gemv path's rows a group: `qgemv_rows`, else the most a product gets
    /// (2; 4 on the 8-bit vector's path in the block-1 template, whose long products ran
    /// 28-30% faster at 4 on an H100, docs/PERFORMANCE.md; 1, a warp a row, in
    /// [`crate::qgemv_warp`]'s kernel, the fastest of `qgemv-probe`'s forms).
    pub fn most_qgemv_rows(&self) -> u32 {
        let warp_kernel = self.qgemv_warps > 0 && self.gemv_subgroups;
        self.qgemv_rows
            .unwrap_or(match (self.qgemv_int8, warp_kernel) {
                (true, true) => 1,
                (true, false) => 4,
                (false, _) => 2,
            })
    }

    /// Output rows and columns per invocation, once the block is concrete.
    pub fn blocks(&self) -> Option<(u32, u32)> {
        self.block.map(|b| (b, self.block_n.unwrap_or(b)))
    }

    /// Block 1 stages no slices: one depth for all, so that its pipelines are shared; and
    /// its quantized gemv path's rows a group, where not given, are chosen for `k`
    /// ([`crate::qgemv::fit_rows`]). `qgemv_warps` stays only where `k` runs
    /// [`crate::qgemv_warp`]'s kernel, which has no run-time test of what it needs: a
    /// kernel of the same key that the kernel does not suit (several rows, a misaligned
    /// view: sizes and strides are not in the key) gets another schedule, so never its
    /// pipeline. Every way a schedule becomes concrete ([`Schedule::resolve`], a stored
    /// tuning result) ends with this, so that equal code has one cache key.
    pub(crate) fn settle_block_one(&mut self, k: &Kernel) {
        self.qgemv_warps = crate::qgemv_warp::warps_for(k, self);
        self.qgemv_warps_wide = 0;
        if !crate::qgemv_warp::chosen(k, self) {
            self.qgemv_warps = 0;
        }
        if self.block == Some(1) {
            self.depth = Some(16);
            let matmul = matches!(k.kind, KernelKind::Matmul { .. });
            if matmul && self.quantized_gemv && self.qgemv_rows.is_none() {
                self.qgemv_rows = Some(crate::qgemv::fit_rows(k, self));
            }
        }
    }
}

impl Schedule {
    /// The GPU schedule: four elements per invocation for elementwise kernels (their loads in
    /// flight together), eight per step for row loops, rows of up to 4096 in registers (read
    /// from memory once for all the stages), matmul tiles by size with 8 inner steps written
    /// out per iteration. Chosen by measurement on a large discrete GPU (the measurements
    /// are in docs/journal/).
    pub const GPU: Schedule = Schedule {
        elementwise: ElementwiseSchedule {
            workgroup: 256,
            unroll: 4,
        },
        reduce: ReduceSchedule {
            workgroup: 256,
            unroll: 8,
            cache: 16,
            subgroups: false,
            serial: 16,
        },
        matmul: MatmulSchedule {
            block: None,
            block_n: None,
            unroll: 8,
            depth: None,
            gemv_subgroups: true,
            quantized_gemv: true,
            qgemv_rows: None,
            qgemv_int8: false,
            qgemv_items: 2,
            qgemv_workgroups: 264,
            qgemv_warps: 16,
            qgemv_warps_wide: 32,
            tensor_cores: true,
            coop_tile: None,
            tensor_core_f32: false,
        },
        attention: AttentionSchedule {
            rows: None,
            keys: None,
            head: None,
            tensor_cores: true,
            segments: 1,
        },
    };
}

impl Default for Schedule {
    /// [`Schedule::GPU`].
    fn default() -> Self {
        Schedule::GPU
    }
}

/// Inner sizes (rounded up to a power of two) from which a matmul stages 32-deep slices
/// rather than 16: deeper slices halve the barriers and staging rounds per FMA, which pays on
/// long inner sums, while on short ones (the transformer layer's 768) 32-deep slices were
/// slower (the measurements are in docs/journal/).
pub const MATMUL_DEEP_K: usize = 2048;

/// The fewest invocations a reduction kernel puts on a row: loop limits (the runtime's
/// quirk table) are derived from it, so no schedule may go below it.
pub const MIN_REDUCE_WORKGROUP: u32 = 16;

/// Workgroups a matmul grid should have before its tiles grow (enough to occupy a large
/// GPU's compute units).
pub const MATMUL_MIN_WORKGROUPS: usize = 128;

/// Workgroups of 128 x 128 tiles below which a matmul takes 128 x 64 tiles instead: fewer,
/// larger tiles leave part of a large GPU idle in the last wave (as in the transformer
/// layer's projections, where the tuner picked 128 x 64 too; the measurement is in
/// docs/journal/).
pub const MATMUL_WIDE_WORKGROUPS: usize = 512;

impl Schedule {
    /// The concrete schedule for kernel `k`, from its sizes rounded up to powers of two (so
    /// that every size of a class gets the same schedule, and so the same pipelines), except
    /// the aligned tensor-core tile, which only kernels aligned for it get (`coop::aligned`):
    /// - a matmul `block` of `None` becomes 8 (128-row tiles) where `m` and `n` are both at
    ///   least 128 and the grid still has [`MATMUL_MIN_WORKGROUPS`] workgroups: 128 x 128
    ///   tiles, or 128 x 64 (`block_n` 4, where that is `None`) where the square grid has
    ///   fewer than [`MATMUL_WIDE_WORKGROUPS`] workgroups or `k` is at most 64 (attention
    ///   scores); 128 x 64 also where `n` is 64 and `m` at least 128 (attention times
    ///   values); else 4 (64 x 64) where both are at least 64, else 1 (thin products and
    ///   matrix-vector products, where larger tiles would mostly compute padding); a
    ///   matrix-vector product (an output edge of 1: the gemv path) also gets
    ///   `gemv::GEMV_UNROLL` steps per iteration;
    /// - a product on the quantized gemv path with `qgemv_rows` of `None` gets the most rows
    ///   a group, fewer where its rows are too few for
    ///   [`crate::qgemv::QGEMV_MIN_WORKGROUPS`] workgroups ([`crate::qgemv::fit_rows`]);
    /// - a matmul `depth` of `None` becomes 32 where the inner size is at least
    ///   [`MATMUL_DEEP_K`] (rounded up to a power of two), else 16;
    /// - a reduction over short rows gets a smaller workgroup: about 8 elements per
    ///   invocation, at least 32 invocations, at most its `workgroup` (a row of 512 gets 64;
    ///   tree steps and barriers cost more than they share on short rows), and a register
    ///   cache of no more elements per invocation than the row's size class needs (at least 4,
    ///   where the cache is a multiple of 4);
    /// - `reduce.serial` stays only where the rows are that short (and never on a scan); a
    ///   serial reduction holds its row's size class in registers, uses no subgroups and has
    ///   unroll 1 (it has no row loop);
    /// - `attention.segments` becomes the segments a whole attention's decode form runs: its
    ///   keys' size class over [`kiln_ir::passes::DECODE_SEGMENT_KEYS`], at most the
    ///   schedule's ([`crate::attention_decode::segments_for`]); 1 for every other kernel.
    pub fn resolve(&self, k: &Kernel) -> Schedule {
        let mut s = *self;
        let coop = matches!(k.kind, KernelKind::Matmul { .. })
            && s.matmul.tensor_cores
            && crate::coop::eligible(k, s.matmul.tensor_core_f32);
        if coop {
            s.matmul.coop_tile = crate::coop::settle(k, s.matmul.coop_tile, u32::MAX)
                .or_else(|| Some(crate::coop::by_size(k)));
        } else {
            s.matmul.tensor_cores = false;
            s.matmul.coop_tile = None;
        }
        // Attention's tensor cores and segments are decided below for attention kernels
        // only.
        if !matches!(k.kind, KernelKind::Attention { .. }) {
            s.attention.tensor_cores = false;
            s.attention.segments = 1;
        }
        match &k.kind {
            KernelKind::Matmul { .. } => match s.matmul.block {
                None => resolve_matmul_block(&mut s.matmul, k),
                Some(1) => s.matmul.block_n = None,
                Some(_) => {}
            },
            KernelKind::Reduce { .. } => {
                let r = &mut s.reduce;
                r.workgroup = row_workgroup(k, r.workgroup);
                // By the row's size class, as every other size rule here, so that one class
                // gets one form.
                if k.red_class() > r.serial.min(SERIAL_MAX) as usize {
                    r.serial = 0;
                }
                // A serial row is held in registers whole, and combines nothing across
                // invocations; it has no row loop, so no unroll (1, so that equal code has one
                // key and the tuner does not time it twice).
                if r.serial > 0 {
                    r.cache = k.red_class() as u32;
                    r.subgroups = false;
                    r.unroll = 1;
                } else if r.cache > 0 {
                    // Registers for the row's elements, no more than its size class needs:
                    // slots past them would only lengthen the shader (4 at least, so that a
                    // vec4 row keeps its vector slots).
                    let row = k.red_class();
                    let need = (row / r.workgroup.max(1) as usize).max(1) as u32;
                    let floor = if r.cache.is_multiple_of(4) { 4 } else { 1 };
                    r.cache = r.cache.min(need.max(floor));
                }
                s.matmul.block = Some(s.matmul.block.unwrap_or(1));
            }
            KernelKind::Elementwise => s.matmul.block = Some(s.matmul.block.unwrap_or(1)),
            // A scan holds nothing in registers and combines without subgroups.
            KernelKind::Scan { .. } => {
                s.reduce.workgroup = row_workgroup(k, s.reduce.workgroup);
                s.reduce.cache = 0;
                s.reduce.subgroups = false;
                s.reduce.serial = 0;
                s.matmul.block = Some(s.matmul.block.unwrap_or(1));
            }
            KernelKind::Attention { .. } => {
                attention::resolve(&mut s.attention, k, s.matmul.tensor_core_f32);
                s.matmul.block = Some(s.matmul.block.unwrap_or(1));
            }
        }
        s.matmul.settle_block_one(k);
        if s.matmul.depth.is_none() {
            let deep = k
                .matmul_k()
                .is_some_and(|kk| kk.max(1).next_power_of_two() >= MATMUL_DEEP_K);
            s.matmul.depth = Some(if deep { 32 } else { 16 });
        }
        s
    }

    /// This schedule with the matmul slices and blocks of `k` made small enough for `limit`
    /// bytes of workgroup memory (the adapter's `max_compute_workgroup_storage_size`): depth
    /// 32 becomes 16, then eights become fours, then block 1. The register-tiled kernel takes
    /// 33,280, 25,088 and 16,896 bytes at 8 x 8, 8 x 4 and 4 x 4 with 32-deep slices, about
    /// half that with 16-deep ones ([`matmul::workgroup_bytes`]); WebGPU's default limit is
    /// 16,384 bytes, many adapters have 32,768. A schedule not resolved yet is left as it is.
    pub fn fit_workgroup_memory(&self, k: &Kernel, limit: u32) -> Schedule {
        let mut s = *self;
        if matches!(k.kind, KernelKind::Attention { .. }) {
            attention::fit(&mut s.attention, limit);
            return s;
        }
        if !matches!(k.kind, KernelKind::Matmul { .. }) {
            return s;
        }
        let m = &mut s.matmul;
        // An aligned tile (tuned on another kernel of the same key) only where this kernel
        // is aligned for it, and where it fits.
        if m.tensor_cores {
            m.coop_tile = crate::coop::settle(k, m.coop_tile, limit);
        }
        // A tensor-core tile that does not fit gives way to the scalar template.
        if m.tensor_cores
            && crate::coop::tile(m.coop_tile).is_ok_and(|t| t.workgroup_bytes() > limit)
        {
            m.tensor_cores = false;
            m.coop_tile = None;
        }
        let (Some(_), Some(_)) = (m.block, m.depth) else {
            return s;
        };
        // The 8-bit vector's gemv kernel: its staged vector and a prologue's fold, else the
        // block-1 template's path.
        if crate::qgemv_warp::chosen(k, m) {
            let wg = crate::qgemv_warp::invocations(m);
            if crate::prologue::workgroup_bytes(k, wg) + crate::qgemv_warp::workgroup_bytes()
                <= limit
            {
                return s;
            }
            // The template's own rows a group (those fitted to the warp kernel's blocks
            // mean another layout there): cleared first, so that `fit_rows` starts from the
            // template's most.
            m.qgemv_warps = 0;
            m.qgemv_rows = None;
            m.qgemv_rows = Some(crate::qgemv::fit_rows(k, m));
        }
        // A prologue's stages declare their fold's memory besides, on every path.
        let prologue = crate::prologue::workgroup_bytes(k, crate::prologue::WG);
        let bytes = |m: &MatmulSchedule| match (m.blocks(), m.depth) {
            (Some((bm, bn)), Some(depth)) => matmul::workgroup_bytes(bm, bn, depth) + prologue,
            _ => prologue,
        };
        if bytes(m) > limit && m.depth > Some(16) {
            m.depth = Some(16);
        }
        if bytes(m) > limit && m.block == Some(8) && m.block_n != Some(4) {
            m.block_n = Some(4);
        }
        if bytes(m) > limit && m.block == Some(8) {
            m.block = Some(4);
            m.block_n = None;
        }
        if bytes(m) > limit && m.block_n == Some(8) {
            m.block_n = None;
        }
        if bytes(m) > limit {
            m.block = Some(1);
            m.block_n = None;
            m.settle_block_one(k);
        }
        // Block 1's quantized gemv path declares its staged vector and partial sums besides:
        // fewer rows a group, then the element-wise gemv path.
        if m.block == Some(1) && m.quantized_gemv {
            let path =
                |m: &MatmulSchedule| bytes(m) + crate::qgemv::workgroup_bytes(k, m).unwrap_or(0);
            while path(m) > limit && m.most_qgemv_rows() > 1 {
                m.qgemv_rows = Some(m.most_qgemv_rows() / 2);
            }
            if path(m) > limit {
                m.quantized_gemv = false;
            }
        }
        s
    }
}

/// The matmul tiles `resolve` chooses for `k` by its sizes (see there).
fn resolve_matmul_block(m: &mut MatmulSchedule, k: &Kernel) {
    // Sizes rounded up to powers of two: one choice per size class, as the tuner's keys
    // (sizes of one class share pipelines and tuned results).
    let r = k.shape.rank();
    let p2 = |v: usize| v.max(1).next_power_of_two();
    let (rows, cols) = (p2(k.shape.0[r - 2]), p2(k.shape.0[r - 1]));
    let batch: usize = p2(k.shape.0[..r - 2].iter().product());
    let kk = p2(k.matmul_k().unwrap_or(1));
    let groups = |bm: u32, bn: u32| {
        let (tm, tn) = (matmul::tile(bm) as usize, matmul::tile(bn) as usize);
        rows.div_ceil(tm) * cols.div_ceil(tn) * batch
    };
    let edge = rows.min(cols);
    let (block, block_n) = if edge >= 128 && groups(8, 8) >= MATMUL_MIN_WORKGROUPS {
        let narrow = groups(8, 8) < MATMUL_WIDE_WORKGROUPS || kk <= 64;
        (8, narrow.then_some(4))
    } else if rows >= 128 && cols == 64 && groups(8, 4) >= MATMUL_MIN_WORKGROUPS {
        (8, Some(4))
    } else if edge >= 64 {
        (4, None)
    } else {
        (1, None)
    };
    m.block = Some(block);
    if m.block_n.is_none() {
        m.block_n = block_n;
    }
    if block == 1 {
        m.block_n = None;
        if gemv::is_gemv(rows, cols) {
            m.unroll = gemv::GEMV_UNROLL;
        }
    }
}

/// The workgroup of a row kernel (reduction or scan) with rows of `k.red_count()`: at most
/// `wg`, and no wider than about one invocation per 8 elements (32 at least).
fn row_workgroup(k: &Kernel, wg: u32) -> u32 {
    let want = (k.red_class() / 8).max(1);
    let pow2 = 1u32 << (usize::BITS - 1 - want.leading_zeros()).min(31);
    wg.min(pow2.max(32))
}

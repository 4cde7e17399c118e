//! `kiln-codegen`: a kernel plus a schedule in, WGSL text out.
//!
//! The code depends only on the kernel's structure ([`kiln_ir::Kernel::key`]), the
//! schedule and the device's storage [`Target`] (the first line, a comment, also names the
//! kernel); sizes, strides and offsets
//! are read from a uniform whose layout ([`ParamLayout`]) comes back with the text.
#![warn(missing_docs)]

pub mod elementwise;
pub mod emit;
mod fold;
pub mod matmul;
pub mod ops;
pub mod params;
pub mod reduce;
pub mod types;

pub use params::{Param, ParamLayout};
pub use types::Target;

use kiln_ir::{Kernel, KernelKind};

/// Errors of code generation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CodegenError {
    /// More workgroups than a 2-D grid can hold.
    #[error("{groups} workgroups do not fit a 65535 x 65535 grid")]
    GridTooLarge {
        /// Workgroups needed.
        groups: usize,
    },
    /// A schedule the kernel cannot use.
    #[error("invalid schedule: {0}")]
    Schedule(String),
    /// A size, stride or offset of a kernel that does not fit its 32-bit uniform slot.
    #[error("kernel {kernel}: {what} does not fit the 32 bits shaders index with")]
    Overflow {
        /// The kernel's name.
        kernel: String,
        /// The value and its slot.
        what: String,
    },
    /// A kernel whose structure code generation cannot emit.
    #[error("kernel {kernel}: {why}")]
    Structure {
        /// The kernel's name.
        kernel: String,
        /// What is wrong.
        why: String,
    },
}

/// How a kernel is mapped onto the GPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Schedule {
    /// Invocations per workgroup of an elementwise kernel.
    pub workgroup_size: u32,
    /// Elements each invocation of a scalar elementwise kernel handles, computed before any is
    /// stored (more loads in flight per invocation); vec4 kernels handle one vector each and
    /// ignore it.
    pub unroll: u32,
    /// Invocations per workgroup of a reduce kernel (one workgroup per row; a power of two).
    pub reduce_workgroup: u32,
    /// Elements each invocation of a reduce kernel loads per step of its row loops before
    /// combining them.
    pub reduce_unroll: u32,
    /// Elements of a row each invocation of a reduce kernel keeps in registers, so that a row
    /// of up to `reduce_workgroup * reduce_cache` elements is read from memory once whatever
    /// the number of stages (0: every stage reads memory).
    pub reduce_cache: u32,
    /// Reductions combine across a workgroup with subgroup shuffles (1) instead of a
    /// shared-memory tree (0). Only for adapters with `Features::SUBGROUP`.
    pub reduce_subgroups: u32,
    /// The matmul's gemv path sums a matrix contiguous along `k` over whole subgroups with
    /// `subgroupAdd` (1) instead of lanes added through workgroup memory (0). Only for
    /// adapters with `Features::SUBGROUP`.
    pub gemv_subgroups: u32,
    /// Output rows each invocation of a matmul computes: 1, 4 or 8 (16, 64 or 128 rows per
    /// workgroup; columns too unless `matmul_block_n` says otherwise; see [`matmul`]). 0 in a
    /// device's schedule means "chosen per kernel from its sizes" ([`Schedule::resolve`]);
    /// code generation needs a concrete one.
    pub matmul_block: u32,
    /// Steps of a register-tiled matmul's inner loop written out per iteration (1 to 16).
    pub matmul_unroll: u32,
    /// Output columns per invocation of a register-tiled matmul (4 or 8), when they differ
    /// from its rows (`matmul_block`); 0: the same as `matmul_block` (square tiles).
    pub matmul_block_n: u32,
    /// Depth of the operand slices a register-tiled matmul stages per step, one of
    /// [`matmul::DEPTHS`] (16 or 32). 0 in a device's schedule means "chosen per kernel from
    /// its inner size" ([`Schedule::resolve`]).
    pub matmul_depth: u32,
}

impl Default for Schedule {
    /// The GPU default, measured on an H100 (docs/PERFORMANCE.md): four elements per
    /// invocation for elementwise kernels, eight per step for row loops, rows of up to 4096
    /// in registers, matmul tiles by size with 8 inner steps written out per iteration.
    fn default() -> Self {
        Schedule {
            workgroup_size: 256,
            unroll: 4,
            reduce_workgroup: 256,
            reduce_unroll: 8,
            reduce_cache: 16,
            reduce_subgroups: 0,
            gemv_subgroups: 1,
            matmul_block: 0,
            matmul_unroll: 8,
            matmul_block_n: 0,
            matmul_depth: 0,
        }
    }
}

impl Schedule {
    /// Output rows and columns per invocation of a matmul.
    pub fn matmul_blocks(&self) -> (u32, u32) {
        match self.matmul_block_n {
            0 => (self.matmul_block, self.matmul_block),
            n => (self.matmul_block, n),
        }
    }

    /// The concrete schedule for kernel `k`, from its sizes rounded up to powers of two (so
    /// that every size of a class gets the same schedule, and so the same pipelines):
    /// - a `matmul_block` of 0 becomes 8 (128-row tiles) where `m` and `n` are both at least
    ///   128 and the grid still has [`MATMUL_MIN_WORKGROUPS`] workgroups: 128 x 128 tiles,
    ///   or 128 x 64 (`matmul_block_n` 4, where that is 0) where the square grid has fewer
    ///   than [`MATMUL_WIDE_WORKGROUPS`] workgroups or `k` is at most 64 (attention scores);
    ///   128 x 64 also where `n` is 64 and `m` at least 128 (attention times values); else 4
    ///   (64 x 64) where both are at least 64, else 1 (thin products and matrix-vector
    ///   products, where larger tiles would mostly compute padding); a matrix-vector product
    ///   (an output edge of 1: the gemv path) also gets `matmul::GEMV_UNROLL` steps per
    ///   iteration;
    /// - a `matmul_depth` of 0 becomes 32 where the inner size is at least [`MATMUL_DEEP_K`]
    ///   (rounded up to a power of two), else 16;
    /// - a reduction over short rows gets a smaller workgroup: about 8 elements per
    ///   invocation, at least 32 invocations, at most `reduce_workgroup` (a row of 512 gets
    ///   64; tree steps and barriers cost more than they share on short rows), and a
    ///   register cache of no more elements per invocation than the row's size class needs
    ///   (at least 4, where the cache is a multiple of 4);
    pub fn resolve(&self, k: &Kernel) -> Schedule {
        let mut s = *self;
        match &k.kind {
            KernelKind::Matmul { .. } if s.matmul_block == 0 => {
                // Sizes rounded up to powers of two: one choice per size class, as the tuner's
                // keys (sizes of one class share pipelines and tuned results).
                let r = k.shape.rank();
                let p2 = |v: usize| v.max(1).next_power_of_two();
                let (m, n) = (p2(k.shape.0[r - 2]), p2(k.shape.0[r - 1]));
                let batch: usize = p2(k.shape.0[..r - 2].iter().product());
                let kk = p2(k.matmul_k().unwrap_or(1));
                let groups = |bm: u32, bn: u32| {
                    let (tm, tn) = (matmul::tile(bm) as usize, matmul::tile(bn) as usize);
                    m.div_ceil(tm) * n.div_ceil(tn) * batch
                };
                let edge = m.min(n);
                let (block, block_n) = if edge >= 128 && groups(8, 8) >= MATMUL_MIN_WORKGROUPS {
                    let narrow = groups(8, 8) < MATMUL_WIDE_WORKGROUPS || kk <= 64;
                    (8, if narrow { 4 } else { 0 })
                } else if m >= 128 && n == 64 && groups(8, 4) >= MATMUL_MIN_WORKGROUPS {
                    (8, 4)
                } else if edge >= 64 {
                    (4, 0)
                } else {
                    (1, 0)
                };
                s.matmul_block = block;
                if s.matmul_block_n == 0 {
                    s.matmul_block_n = block_n;
                }
                if s.matmul_block == 1 {
                    s.matmul_block_n = 0;
                }
                if s.matmul_block == 1 && matmul::is_gemv(m, n) {
                    s.matmul_unroll = matmul::GEMV_UNROLL;
                }
            }
            KernelKind::Matmul { .. } => {
                if s.matmul_block == 1 {
                    s.matmul_block_n = 0;
                }
            }
            KernelKind::Reduce { .. } => {
                let want = (k.red_count().max(1).next_power_of_two() / 8).max(1);
                let pow2 = 1u32 << (usize::BITS - 1 - want.leading_zeros()).min(31);
                s.reduce_workgroup = s.reduce_workgroup.min(pow2.max(32));
                // Registers for the row's elements, no more than its size class needs: slots
                // past them would only lengthen the shader (4 at least, so that a vec4 row
                // keeps its vector slots).
                if s.reduce_cache > 0 {
                    let row = k.red_count().max(1).next_power_of_two();
                    let need = (row / s.reduce_workgroup.max(1) as usize).max(1) as u32;
                    let floor = if s.reduce_cache.is_multiple_of(4) {
                        4
                    } else {
                        1
                    };
                    s.reduce_cache = s.reduce_cache.min(need.max(floor));
                }
                s.matmul_block = s.matmul_block.max(1);
            }
            KernelKind::Elementwise => s.matmul_block = s.matmul_block.max(1),
        }
        // Block 1 stages no slices: one depth for all, so that its pipelines are shared.
        if s.matmul_block == 1 {
            s.matmul_depth = 16;
        }
        if s.matmul_depth == 0 {
            let deep = k
                .matmul_k()
                .is_some_and(|kk| kk.max(1).next_power_of_two() >= MATMUL_DEEP_K);
            s.matmul_depth = if deep { 32 } else { 16 };
        }
        s
    }
}

impl Schedule {
    /// This schedule with the matmul slices and blocks of `k` made small enough for `limit`
    /// bytes of workgroup memory (the adapter's `max_compute_workgroup_storage_size`): depth
    /// 32 becomes 16, then eights become fours, then block 1. The register-tiled kernel takes
    /// 33,280, 25,088 and 16,896 bytes at 8 x 8, 8 x 4 and 4 x 4 with 32-deep slices, about
    /// half that with 16-deep ones ([`matmul::workgroup_bytes`]); WebGPU's default limit is
    /// 16,384 bytes, many adapters have 32,768.
    pub fn fit_workgroup_memory(&self, k: &Kernel, limit: u32) -> Schedule {
        let mut s = *self;
        if !matches!(k.kind, KernelKind::Matmul { .. }) {
            return s;
        }
        let bytes = |s: &Schedule| {
            matmul::workgroup_bytes(s.matmul_block, s.matmul_block_n, s.matmul_depth)
        };
        if bytes(&s) > limit && s.matmul_depth > 16 {
            s.matmul_depth = 16;
        }
        if bytes(&s) > limit && s.matmul_block == 8 && s.matmul_block_n != 4 {
            s.matmul_block_n = 4;
        }
        if bytes(&s) > limit && s.matmul_block == 8 {
            s.matmul_block = 4;
            s.matmul_block_n = 0;
        }
        if bytes(&s) > limit && s.matmul_block_n == 8 {
            s.matmul_block_n = 0;
        }
        if bytes(&s) > limit {
            s.matmul_block = 1;
            s.matmul_block_n = 0;
        }
        s
    }
}

/// Inner sizes (rounded up to a power of two) from which a matmul stages 32-deep slices
/// rather than 16 (H100: 4096^3 33.6 -> 36.0 TFLOP/s, 16 x 2048^3 33.4 -> 34.1; the
/// transformer layer's inner size of 768, tuned, was 12% slower at 32).
pub const MATMUL_DEEP_K: usize = 2048;

/// The fewest invocations a reduction kernel puts on a row: loop limits (the runtime's
/// quirk table) are derived from it, so no schedule may go below it.
pub const MIN_REDUCE_WORKGROUP: u32 = 16;

/// Workgroups a matmul grid should have before its tiles grow (enough to occupy a large
/// GPU's compute units).
pub const MATMUL_MIN_WORKGROUPS: usize = 128;

/// Workgroups of 128 x 128 tiles below which a matmul takes 128 x 64 tiles instead: fewer,
/// larger tiles leave part of a large GPU idle in the last wave (H100, the transformer
/// layer's 4096 x 768 projections, 8 x 6 x 32 = 192 square tiles: 0.227 -> 0.185 ms with
/// 128 x 64, which the tuner had picked; docs/PERFORMANCE.md, session 5).
pub const MATMUL_WIDE_WORKGROUPS: usize = 512;

/// Generated code for one kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelSource {
    /// The WGSL module, entry point `main`.
    pub wgsl: String,
    /// What each uniform slot holds.
    pub params: ParamLayout,
    /// The schedule it was generated for.
    pub schedule: Schedule,
}

impl KernelSource {
    /// Workgroups to dispatch for a concrete kernel of the same structure.
    pub fn grid(&self, k: &Kernel, max_dim: u32) -> Result<[u32; 3], CodegenError> {
        match &k.kind {
            KernelKind::Elementwise if k.vector == 4 => elementwise::grid_2d(
                (k.out_numel() / 4).div_ceil(self.schedule.workgroup_size as usize),
                max_dim,
            ),
            KernelKind::Elementwise => elementwise::grid_2d(
                k.out_numel().div_ceil(
                    self.schedule.workgroup_size as usize * self.schedule.unroll.max(1) as usize,
                ),
                max_dim,
            ),
            KernelKind::Reduce { .. } => elementwise::grid_2d(k.out_numel(), max_dim),
            KernelKind::Matmul { a, b, .. } => {
                let r = k.shape.rank();
                let (m, n) = (k.shape.0[r - 2], k.shape.0[r - 1]);
                let batch: usize = k.shape.0[..r - 2].iter().product();
                if k.out_numel() == 0 {
                    return Ok([0, 0, 0]);
                }
                let (bm, bn) = self.schedule.matmul_blocks();
                if bm == 1 && matmul::is_gemv(m, n) {
                    let fast = matmul::gemv_k_contiguous(
                        m,
                        k.load(*a).view.strides[r - 1],
                        k.load(*b).view.strides[r - 2],
                    );
                    let (outs, _) = if fast {
                        matmul::GEMV_K_CONTIGUOUS
                    } else {
                        matmul::GEMV_K_STRIDED
                    };
                    // Output groups over x and y (the kernel numbers them `y * nwg.x + x`).
                    let [x, y, _] = elementwise::grid_2d((m * n).div_ceil(outs as usize), max_dim)?;
                    return Ok([x, y, batch.min(max_dim as usize) as u32]);
                }
                let (tm, tn) = (matmul::tile(bm) as usize, matmul::tile(bn) as usize);
                let (x, y) = (n.div_ceil(tn), m.div_ceil(tm));
                if x > max_dim as usize || y > max_dim as usize {
                    return Err(CodegenError::GridTooLarge { groups: x * y });
                }
                Ok([x as u32, y as u32, batch.min(max_dim as usize) as u32])
            }
        }
    }
}

/// Generates the WGSL for a kernel under a schedule.
pub fn generate(k: &Kernel, s: &Schedule, t: &Target) -> Result<KernelSource, CodegenError> {
    if matches!(k.kind, KernelKind::Reduce { .. }) && !s.reduce_workgroup.is_power_of_two() {
        return Err(CodegenError::Schedule(format!(
            "reduction workgroup size {} is not a power of two",
            s.reduce_workgroup
        )));
    }
    let mut e = emit::Emitter::new(k, *t);
    let main = match &k.kind {
        KernelKind::Elementwise => elementwise::main(&mut e, s)?,
        KernelKind::Reduce { stages, red_rank } => reduce::main(&mut e, s, stages, *red_rank)?,
        KernelKind::Matmul {
            a,
            b,
            dtype,
            a_round,
            b_round,
        } => matmul::main(&mut e, (*a, *a_round), (*b, *b_round), *dtype, s)?,
    };
    let wgsl = format!(
        "// kiln kernel: {}\n{}{}{}",
        k.name.replace('\n', " "),
        e.bindings(),
        e.helper_text(),
        main
    );
    Ok(KernelSource {
        wgsl,
        params: e.params,
        schedule: *s,
    })
}

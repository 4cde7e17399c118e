//! `kiln-codegen`: a kernel plus a schedule in, WGSL text out.
//!
//! The code depends only on the kernel's structure ([`kiln_ir::Kernel::key`]), the
//! schedule and the device's storage [`Target`] (the first line, a comment, also names the
//! kernel); sizes, strides and offsets
//! are read from a uniform whose layout ([`ParamLayout`]) comes back with the text.
#![warn(missing_docs)]

pub mod attention;
pub mod attention_block;
pub mod attention_coop;
pub mod attention_decode;
pub mod attention_rows;
pub mod attention_stage;
pub mod code;
pub mod coop;
mod coop_stage;
pub mod dequant;
pub mod elementwise;
pub mod emit;
mod fold;
pub mod gemv;
pub mod matmul;
mod matmul_tiled;
pub mod ops;
pub mod params;
pub mod prologue;
pub mod qgemv;
pub mod qgemv_dot;
pub mod qgemv_warp;
pub mod qgemv_words;
pub mod reduce;
pub mod scan;
pub mod schedule;
pub mod types;

pub use params::{Param, ParamLayout};
pub use schedule::{
    AttentionSchedule, ElementwiseSchedule, MatmulSchedule, ReduceSchedule, Schedule,
    MATMUL_DEEP_K, MATMUL_MIN_WORKGROUPS, MATMUL_WIDE_WORKGROUPS, MIN_REDUCE_WORKGROUP,
};
pub use types::Target;

use code::Code;
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
    /// A value whose `Display` failed while its text was written (see [`code::Code`]).
    #[error("formatting generated code failed")]
    Format(#[from] std::fmt::Error),
}

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
                (k.out_numel() / 4).div_ceil(self.schedule.elementwise.workgroup as usize),
                max_dim,
            ),
            KernelKind::Elementwise => elementwise::grid_2d(
                k.out_numel().div_ceil(
                    self.schedule.elementwise.workgroup as usize
                        * self.schedule.elementwise.unroll.max(1) as usize,
                ),
                max_dim,
            ),
            KernelKind::Reduce { .. } if self.schedule.reduce.serial > 0 => elementwise::grid_2d(
                k.out_numel()
                    .div_ceil(self.schedule.reduce.workgroup.max(1) as usize),
                max_dim,
            ),
            KernelKind::Reduce { .. } | KernelKind::Scan { .. } => {
                elementwise::grid_2d(k.out_numel(), max_dim)
            }
            KernelKind::Attention { .. } => {
                elementwise::grid_2d(attention::groups(k, &self.schedule)?, max_dim)
            }
            KernelKind::Matmul { a, b, .. } => {
                let r = k.shape.rank();
                let (m, n) = (k.shape.0[r - 2], k.shape.0[r - 1]);
                let batch: usize = k.shape.0[..r - 2].iter().product();
                if k.out_numel() == 0 {
                    return Ok([0, 0, 0]);
                }
                if self.schedule.matmul.tensor_cores {
                    let t = coop::tile(self.schedule.matmul.coop_tile)?;
                    let (x, y) = (n.div_ceil(t.bn as usize), m.div_ceil(t.bm as usize));
                    if x > max_dim as usize || y > max_dim as usize {
                        return Err(CodegenError::GridTooLarge { groups: x * y });
                    }
                    return Ok([x as u32, y as u32, batch.min(max_dim as usize) as u32]);
                }
                let (bm, bn) = self.schedule.matmul.blocks().ok_or_else(unresolved_block)?;
                if bm == 1 && gemv::is_gemv(m, n) {
                    let fast = gemv::gemv_k_contiguous(
                        m,
                        k.load(*a).view.strides[r - 1],
                        k.load(*b).view.strides[r - 2],
                    );
                    let ms = &self.schedule.matmul;
                    let quantized = ms.quantized_gemv.then(|| qgemv::outputs(k, ms));
                    let outs = match quantized.flatten() {
                        Some(outs) => outs,
                        None if fast => gemv::GEMV_K_CONTIGUOUS.0,
                        None => gemv::GEMV_K_STRIDED.0,
                    };
                    // Output groups over x and y (the kernel numbers them `y * nwg.x + x`).
                    let groups =
                        qgemv_dot::workgroups(k, ms).unwrap_or((m * n).div_ceil(outs as usize));
                    let [x, y, _] = elementwise::grid_2d(groups, max_dim)?;
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

/// The error of a matmul schedule whose block is still chosen by size.
pub(crate) fn unresolved_block() -> CodegenError {
    CodegenError::Schedule("matmul block not chosen yet (see `Schedule::resolve`)".into())
}

/// Generates the WGSL for a kernel under a schedule.
pub fn generate(k: &Kernel, s: &Schedule, t: &Target) -> Result<KernelSource, CodegenError> {
    if matches!(k.kind, KernelKind::Reduce { .. } | KernelKind::Scan { .. })
        && !s.reduce.workgroup.is_power_of_two()
    {
        return Err(CodegenError::Schedule(format!(
            "reduction workgroup size {} is not a power of two",
            s.reduce.workgroup
        )));
    }
    // A serial reduction holds its row in registers whole (what `Schedule::resolve` sets);
    // a scan has no serial form.
    let serial_row = match k.kind {
        KernelKind::Reduce { .. } => k.red_count().max(1) <= s.reduce.cache as usize,
        KernelKind::Scan { .. } => false,
        KernelKind::Elementwise | KernelKind::Matmul { .. } | KernelKind::Attention { .. } => true,
    };
    if s.reduce.serial > 0 && !serial_row {
        return Err(CodegenError::Schedule(format!(
            "a serial reduction holds its row of {} in registers: cache {} (resolve the schedule)",
            k.red_count(),
            s.reduce.cache
        )));
    }
    // The quantized gemv path's fields, each within the set its templates write.
    let quantized: [(&str, u32, &[u32]); 2] = [
        (
            "rows a group",
            s.matmul.most_qgemv_rows(),
            &qgemv::QGEMV_ROWS,
        ),
        (
            "items a trip",
            s.matmul.qgemv_items,
            &qgemv_dot::QGEMV_ITEMS,
        ),
    ];
    if matches!(k.kind, KernelKind::Matmul { .. }) {
        if let Some((what, v, set)) = quantized.iter().find(|(_, v, set)| !set.contains(v)) {
            return Err(CodegenError::Schedule(format!(
                "quantized gemv {what} {v} is not one of {set:?}"
            )));
        }
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
            prologue,
        } => matmul::main(
            &mut e,
            (*a, *a_round, prologue.as_ref()),
            (*b, *b_round),
            *dtype,
            s,
        )?,
        KernelKind::Attention { .. } => attention::main(&mut e, s)?,
        KernelKind::Scan { op, expr } => scan::main(&mut e, s, *op, *expr)?,
    };
    let mut code = Code::new();
    writeln!(code, "// kiln kernel: {}", k.name.replace('\n', " "));
    e.bindings(&mut code);
    e.helper_text(&mut code);
    code.push_str(&main);
    let wgsl = code.finish()?;
    Ok(KernelSource {
        wgsl,
        params: e.params,
        schedule: *s,
    })
}

//! The 8-bit vector's quantized gemv ([`crate::qgemv_dot`]) as a kernel of its own, where
//! the adapter has subgroups: a workgroup of `MatmulSchedule::qgemv_warps` warps (nominal
//! subgroups of [`LANES`]), each subgroup owning `qgemv_rows` rows of a block and adding its
//! lanes' sums with `subgroupAdd` (no workgroup memory for them, no barrier a block where the
//! vector is staged once). Workgroups take
//! blocks of rows in turn, `qgemv_workgroups` at most for each batch, after staging the
//! vector once where it fits [`WARP_CHUNK`] (else a chunk at a time, a block at a time).
//!
//! Why a kernel of its own: the block-1 template's workgroup is 16 x 16 invocations (8
//! warps), and at two of them a multiprocessor its weight streamed at about half of copy on
//! an H100, while `qgemv-probe`'s hand-written forms with 16 or 32 warps a workgroup, one or
//! two a multiprocessor and the vector staged once, streamed at 70-80% (docs/journal/). The
//! warps a multiprocessor keeps loading set the rate; more workgroups would each pay the
//! staging.
//!
//! Its rows are numbered from the subgroups the adapter runs: a block is
//! `invocations / subgroup_size * qgemv_rows` rows (from `subgroup_size`, which WGSL counts
//! uniform in a compute shader, as `num_subgroups` is not: the loop over blocks holds
//! barriers). The host sizes the grid for subgroups of [`LANES`], and the kernel's loop over
//! blocks covers every row whatever the subgroups' width.

use crate::code::Code;
use crate::emit::Emitter;
use crate::matmul::Dims;
use crate::qgemv;
use crate::qgemv_dot::{self, ITEM};
use crate::schedule::MatmulSchedule;
use crate::CodegenError;
use kiln_ir::quant::BlockFormat;
use kiln_ir::{Kernel, Prologue};

/// The nonzero warps a workgroup `MatmulSchedule::qgemv_warps` may take.
pub const QGEMV_WARPS: [u32; 3] = [8, 16, 32];

/// The formats whose kernel takes `MatmulSchedule::qgemv_warps_wide` warps a workgroup: more
/// bits a weight (6.6 and 8.5) than the 4-bit formats (4.5 and 5).
pub const WIDE_FORMATS: [BlockFormat; 2] = [BlockFormat::Q6K, BlockFormat::Q8_0];

/// The warps a workgroup kernel `k` takes under schedule `m`: `qgemv_warps_wide` for a
/// product on a format of [`WIDE_FORMATS`] where both are nonzero, else `qgemv_warps`.
pub fn warps_for(k: &Kernel, m: &MatmulSchedule) -> u32 {
    let wide = qgemv::format(k).is_some_and(|f| WIDE_FORMATS.contains(&f));
    match (m.qgemv_warps, m.qgemv_warps_wide) {
        (0, _) | (_, 0) => m.qgemv_warps,
        (_, w) if wide => w,
        (n, _) => n,
    }
}

/// Invocations of a nominal warp, which the host's grid assumes a subgroup holds.
pub const LANES: u32 = 32;

/// Values of the vector the kernel stages at a time (16 bytes a run of 8, 20 KiB with their
/// largest magnitudes): every decode product of an 8B-class model but the down projection's
/// is staged once.
pub const WARP_CHUNK: u32 = 8192;

// Every invocation of the largest workgroup stages a whole run of a chunk.
const _: () = assert!(WARP_CHUNK.is_multiple_of(8 * LANES * 32));

/// Whether matmul kernel `k` runs as this kernel under schedule `m`: the 8-bit vector's path
/// applies to it ([`qgemv::applies`], block 1), with subgroups and nonzero `qgemv_warps`.
pub fn chosen(k: &Kernel, m: &MatmulSchedule) -> bool {
    m.block == Some(1)
        && m.quantized_gemv
        && m.qgemv_int8
        && m.gemv_subgroups
        && m.qgemv_warps > 0
        && !m.tensor_cores
        && qgemv::applies(k)
}

/// Invocations of a workgroup under schedule `m`.
pub fn invocations(m: &MatmulSchedule) -> u32 {
    m.qgemv_warps * LANES
}

/// Bytes of workgroup memory the kernel declares besides a prologue's: the staged vector.
pub fn workgroup_bytes() -> u32 {
    qgemv_dot::stage_bytes(WARP_CHUNK)
}

/// The kernel's `main` for B of `format` in binding `buf` under schedule `m`, after `head`
/// (A's and B's accessors, the epilogue, `prologue`'s functions).
pub(crate) fn main(
    e: &mut Emitter,
    d: &Dims,
    (format, buf): (BlockFormat, &str),
    (m, prologue): (&MatmulSchedule, Option<&Prologue>),
    head: Code,
) -> Result<String, CodegenError> {
    let (rg, items, wg) = (m.most_qgemv_rows(), m.qgemv_items, invocations(m));
    if !QGEMV_WARPS.contains(&m.qgemv_warps) || !qgemv::QGEMV_ROWS.contains(&rg) {
        return Err(CodegenError::Schedule(format!(
            "quantized gemv of {} warps, {rg} rows a subgroup: warps must be one of \
             {QGEMV_WARPS:?}, rows one of {:?}",
            m.qgemv_warps,
            qgemv::QGEMV_ROWS
        )));
    }
    let mut fns = Code::new();
    let stage = qgemv_dot::define_stage(&mut fns, d, format, buf, wg, WARP_CHUNK);
    let mut b = Code::new();
    crate::matmul::subgroup_main(&mut b, wg, "flat");
    crate::matmul::open_batch(e, &mut b, d, prologue, "flat");
    let (kk, n, ch) = (&d.kk, &d.n, WARP_CHUNK);
    writeln!(
        b,
        "    let ni = {kk} / {ITEM}u;\n    \
         let per = {wg}u / sg_size * {rg}u;\n    \
         let nblk = ({n} + per - 1u) / per;\n    \
         let once = {kk} <= {ch}u;\n    \
         if (once) {{\n          let c0 = 0u;\n{stage}    }}\n    \
         for (var blk = wid.y * nwg.x + wid.x; blk < nblk; blk = blk + nwg.x * nwg.y) {{"
    );
    qgemv::open_rows(
        &mut b,
        d,
        format,
        rg,
        &format!("(blk * n_sg + sg_id) * {rg}u"),
    );
    writeln!(
        b,
        "      for (var c0 = 0u; c0 < {kk}; c0 = c0 + {ch}u) {{\n        \
           if (!once) {{\n{stage}        }}"
    );
    qgemv_dot::trip(&mut b, format, buf, (rg, items), ch, ("sg_lane", "sg_size"));
    writeln!(b, "      }}");
    for r in 0..rg {
        writeln!(
            b,
            "      let s{r} = subgroupAdd(acc{r});\n      \
             if (sg_lane == 0u) {{ epilogue(bt, 0u, o0 + {r}u, s{r}); }}"
        );
    }
    b.push_str("    }\n  }\n}\n");
    b.append(fns);
    let mut out = head;
    out.append(b);
    out.finish()
}

//! The gemv path of the block-1 matmul kernel: where an output edge is 1 (`m = 1` or
//! `n = 1`, [`is_gemv`]) each workgroup owns a few outputs and several invocations (lanes)
//! split each output's inner sum, laid out by how the matrix is stored (see the module doc of
//! [`crate::matmul`]), so that every element of the matrix is read once and a warp's loads
//! coalesce.

use crate::code::Code;
use crate::matmul::{Dims, THREADS};

/// The gemv path's split of a workgroup's `THREADS^2` invocations into (outputs, lanes per
/// output) where the matrix is contiguous along `k` (a warp reads 32 consecutive `k` of one
/// row) ...
pub const GEMV_K_CONTIGUOUS: (u32, u32) = (8, 32);
/// ... and where it is not (a warp reads 32 consecutive outputs at one `k`). The fastest of
/// the four combinations of the two splits and the two layouts (docs/journal/).
pub const GEMV_K_STRIDED: (u32, u32) = (32, 8);

/// Steps (independent accumulators, loads in flight) per iteration of the gemv path when
/// the schedule is chosen by size: a gemv is bound by memory latency, and 16 loads in flight
/// per lane hid it better than 4 or 8 (the measurement is in docs/journal/).
pub const GEMV_UNROLL: u32 = 16;

/// Whether a block-1 matmul with output edges `m` x `n` runs the gemv path (the host's grid
/// and the kernel's run-time branch agree on this).
pub fn is_gemv(m: usize, n: usize) -> bool {
    m == 1 || n == 1
}

/// Whether the gemv path reads its matrix along `k` with unit stride: B's `k` stride where
/// `m = 1`, else A's (the same test the kernel makes on its uniform).
pub fn gemv_k_contiguous(m: usize, a_k_stride: i64, b_k_stride: i64) -> bool {
    if m == 1 {
        b_k_stride == 1
    } else {
        a_k_stride == 1
    }
}

/// Output `o` of a gemv from the workgroup's `outs` outputs and the output group `og`: its
/// `row`/`col` (past the end for invocations beyond the last output) and `rowc`/`colc`
/// (clamped onto the last output, for unchecked loads), along `n` where `along_n` (m = 1).
fn gemv_output(b: &mut Code, d: &Dims, outs: &str, ind: &str) {
    let (m, n) = (&d.m, &d.n);
    writeln!(
        b,
        "{ind}let o = (wid.y * nwg.x + wid.x) * {outs} + og;\n\
         {ind}let oc = min(o, {m} * {n} - 1u);\n\
         {ind}let row = select(o, 0u, along_n);\n\
         {ind}let col = select(0u, o, along_n);\n\
         {ind}let rowc = select(oc, 0u, along_n);\n\
         {ind}let colc = select(0u, oc, along_n);"
    );
}

/// One output's share of a gemv, for the lane starting at `q` and stepping `step` along `k`:
/// `u` accumulators over unchecked steps while all are inside the operand (at `rowc`/`colc`,
/// clamped onto the last output), then a checked tail (at `row`/`col`); the sum is
/// [`pairwise`]`(u)`.
fn gemv_steps(b: &mut Code, kk: &str, u: u32, step: &str, ind: &str) {
    for i in 0..u {
        writeln!(b, "{ind}var acc{i} = 0.0;");
    }
    writeln!(
        b,
        "{ind}for (; q + {}u * {step} < {kk}; q = q + {u}u * {step}) {{",
        u - 1
    );
    for i in 0..u {
        let q = match i {
            0 => "q".to_string(),
            _ => format!("q + {i}u * {step}"),
        };
        writeln!(
            b,
            "{ind}  acc{i} = fma(a_in(abase, rowc, {q}), b_in(bbase, {q}, colc), acc{i});"
        );
    }
    writeln!(
        b,
        "{ind}}}\n{ind}for (; q < {kk}; q = q + {step}) {{ acc0 = fma(a_at(abase, row, q), b_at(bbase, q, col), acc0); }}"
    );
}

/// `acc0 + acc1 + ...` added pairwise.
fn pairwise(u: u32) -> String {
    let mut terms: Vec<String> = (0..u).map(|i| format!("acc{i}")).collect();
    while terms.len() > 1 {
        terms = terms
            .chunks(2)
            .map(|c| format!("({})", c.join(" + ")))
            .collect();
    }
    terms.remove(0)
}

/// The subgroup form of the gemv path, for a matrix contiguous along `k`: the workgroup's
/// [`GEMV_K_CONTIGUOUS`] outputs (so the host's grid is the same) taken by its subgroups in
/// turn, each output's `k` strided over one subgroup's lanes (`unroll` accumulators), summed
/// with `subgroupAdd`, and lane 0 running the epilogue. Every branch around `subgroupAdd` is
/// uniform within the subgroup. Other layouts fall through to [`gemv`].
pub(crate) fn gemv_subgroups(b: &mut Code, d: &Dims, unroll: u32) {
    let u = unroll.clamp(1, 16);
    let Dims { kk, sak, sbk, .. } = d;
    let fo = GEMV_K_CONTIGUOUS.0;
    writeln!(
        b,
        "      if (select({sak} == 1, {sbk} == 1, along_n)) {{\n        \
         for (var og = sg_id; og < {fo}u; og = og + n_sg) {{"
    );
    gemv_output(b, d, &format!("{fo}u"), "          ");
    writeln!(b, "          var q = sg_lane;");
    gemv_steps(b, kk, u, "sg_size", "          ");
    writeln!(
        b,
        "          let total = subgroupAdd({});\n          \
         if (sg_lane == 0u) {{ epilogue(bt, row, col, total); }}\n        \
         }}\n        \
         continue;\n      \
         }}",
        pairwise(u)
    );
}

/// The gemv path of the block-1 kernel (see the module doc): per workgroup, `outs` outputs
/// and `lanes` invocations per output each summing every `lanes`-th `k` (the split by
/// layout, [`GEMV_K_CONTIGUOUS`] or [`GEMV_K_STRIDED`]; `unroll` independent accumulators,
/// so that as many loads are in flight; unchecked loads while all the steps are inside the
/// operand, clamped onto the last output for invocations past it), then the lanes' sums
/// added in order through workgroup memory (`ta` reused) and one lane per output running
/// the epilogue.
pub(crate) fn gemv(b: &mut Code, d: &Dims, unroll: u32) {
    let u = unroll.clamp(1, 16);
    let Dims { kk, sak, sbk, .. } = d;
    let ((fo, fl), (so, sl)) = (GEMV_K_CONTIGUOUS, GEMV_K_STRIDED);
    writeln!(
        b,
        "      let flat = lid.y * {THREADS}u + lid.x;\n      \
         let kfast = select({sak} == 1, {sbk} == 1, along_n);\n      \
         let outs = select({so}u, {fo}u, kfast);\n      \
         let l = select({sl}u, {fl}u, kfast);\n      \
         let og = select(flat % {so}u, flat / {fl}u, kfast);\n      \
         let lane = select(flat / {so}u, flat % {fl}u, kfast);"
    );
    gemv_output(b, d, "outs", "      ");
    writeln!(b, "      var q = lane;");
    gemv_steps(b, kk, u, "l", "      ");
    writeln!(
        b,
        "      ta[flat / {THREADS}u][flat % {THREADS}u] = {};\n      \
         workgroupBarrier();\n      \
         if (lane == 0u) {{\n        \
           var total = 0.0;\n        \
           for (var j = 0u; j < l; j = j + 1u) {{\n          \
             let p = select(j * {so}u + og, og * {fl}u + j, kfast);\n          \
             total = total + ta[p / {THREADS}u][p % {THREADS}u];\n        \
           }}\n        \
           epilogue(bt, row, col, total);\n      \
         }}\n      \
         workgroupBarrier();",
        pairwise(u)
    );
}

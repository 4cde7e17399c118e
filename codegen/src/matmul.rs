//! The matmul template. A workgroup of 16 x 16 invocations computes one output tile; each
//! invocation computes a `block` x `block_n` piece of it (the schedule's `matmul.block` and
//! `matmul.block_n`):
//!
//! - `block = 1`: a 16 x 16 tile, operands staged through workgroup memory a 16 x 16 square
//!   at a time; cheap for small or thin products. Where an output edge is 1 (a
//!   matrix-vector product, `m = 1` or `n = 1`: [`is_gemv`], checked at run time, since the
//!   kernel key holds no sizes) the same kernel runs the gemv path instead: each workgroup
//!   owns a few outputs, with several invocations (lanes) splitting each output's inner
//!   sum, laid out so that a warp's loads coalesce whichever way the matrix is stored: 32
//!   lanes along `k` where it is contiguous along `k` (`x @ W^T` with `W` row-major,
//!   [`GEMV_K_CONTIGUOUS`]), else 32 outputs along the contiguous edge
//!   ([`GEMV_K_STRIDED`]). Every element of the matrix is read once. With subgroups
//!   (`MatmulSchedule::gemv_subgroups`, on adapters with `SUBGROUP`), a matrix contiguous along
//!   `k` is instead summed by whole subgroups: each subgroup takes the workgroup's outputs in
//!   turn, its lanes striding `k`, and adds its lanes' sums with `subgroupAdd` (no workgroup
//!   memory, no barrier; right for any subgroup size, since a subgroup is the unit).
//! - `block`, `block_n` = 4 or 8: a 64 or 128 by 64 or 128 tile, register-tiled. Each step
//!   stages a `depth`-deep slice of both operands in workgroup memory as `vec4` columns, and each
//!   invocation reads `block / 4` vectors of A and `block_n / 4` of B per `k` and issues
//!   `block * block_n / 4` vector FMAs: a high ratio of arithmetic to workgroup-memory
//!   traffic. The next slice is loaded into registers while the current one is multiplied
//!   (register double buffering).
//!
//! Operands are read through their views with any strides (transposed operands in place).
//! Loads are bounds-checked (zero fill) except in slices wholly inside both operands; stores
//! always are. Batches run over the grid's `z` dimension with broadcast batch strides. Every output goes through one `epilogue` function
//! that evaluates the fused expressions at (batch, row, col) and stores them.

use crate::emit::Emitter;
use crate::params::Param;
use crate::{CodegenError, Schedule};
use kiln_ir::{DType, ExprId, InputId, LoadId};
use std::fmt::Write;

/// Invocations along each edge of the workgroup.
pub const THREADS: u32 = 16;

/// Depths of the operand slices the register-tiled kernel accepts (`MatmulSchedule::depth`).
/// Deeper slices halve the barriers and staging rounds per FMA and pay off for long inner
/// sizes (H100, 4096 f32, untuned: 16 deep 33.6 TFLOP/s, 32 deep 36.0); on the transformer
/// layer's inner size of 768, tuned, 32 deep was 12% slower (docs/PERFORMANCE.md).
pub const DEPTHS: [u32; 2] = [16, 32];

/// Rows of tiles a group of consecutive workgroups of the register-tiled kernel covers.
const SWIZZLE: u32 = 8;

/// The block edges the template accepts.
pub const BLOCKS: [u32; 3] = [1, 4, 8];

/// Output tile edge of a workgroup for a block edge.
pub fn tile(block: u32) -> u32 {
    THREADS * block
}

/// Bytes of workgroup memory the template declares for a block of `block` x `block_n`
/// and slices `depth` deep: two 16 x 16 f32 squares for block 1; the
/// `vec4` slices of both operands (A padded by one vector per `k`) for the register-tiled
/// kernel.
pub fn workgroup_bytes(block: u32, bn: u32, depth: u32) -> u32 {
    if block == 1 {
        2 * THREADS * THREADS * 4
    } else {
        16 * depth * (tile(block) / 4 + 1) + 16 * depth * tile(bn) / 4
    }
}

/// The gemv path's split of a workgroup's `THREADS^2` invocations into (outputs, lanes per
/// output) where the matrix is contiguous along `k` (a warp reads 32 consecutive `k` of one
/// row) ...
pub const GEMV_K_CONTIGUOUS: (u32, u32) = (8, 32);
/// ... and where it is not (a warp reads 32 consecutive outputs at one `k`). Measured on an
/// H100 against the other three combinations (docs/PERFORMANCE.md).
pub const GEMV_K_STRIDED: (u32, u32) = (32, 8);

/// Steps (independent accumulators, loads in flight) per iteration of the gemv path when
/// the schedule is chosen by size (H100, 1 x 8192 x 8192: 4 and 8 steps 0.115 ms, 16 steps
/// 0.101 ms; docs/PERFORMANCE.md).
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

/// Uniform reads shared by the templates.
struct Dims {
    m: String,
    n: String,
    kk: String,
    nb: String,
    sam: String,
    sak: String,
    sbk: String,
    sbn: String,
    abase: String,
    bbase: String,
}

/// The `main` function (and workgroup tiles) of a matmul kernel.
pub fn main(
    e: &mut Emitter,
    (la, ra): (LoadId, Option<DType>),
    (lb, rb): (LoadId, Option<DType>),
    dtype: DType,
    s: &Schedule,
) -> Result<String, CodegenError> {
    let (block, block_n) = s.matmul.blocks().ok_or_else(crate::unresolved_block)?;
    let (unroll, subgroups) = (s.matmul.unroll, s.matmul.gemv_subgroups);
    if !BLOCKS.contains(&block) || !BLOCKS.contains(&block_n) || (block == 1) != (block_n == 1) {
        return Err(CodegenError::Schedule(format!(
            "matmul block {block} x {block_n}: each must be one of {BLOCKS:?}, and 1 only with 1"
        )));
    }
    // Block 1 stages no slices: its depth is never read.
    let bk = match s.matmul.depth {
        Some(d) if block == 1 || DEPTHS.contains(&d) => d,
        None if block == 1 => DEPTHS[0],
        d => {
            return Err(CodegenError::Schedule(format!(
                "matmul depth {d:?}: not in {DEPTHS:?}"
            )))
        }
    };
    let k = e.k;
    let r = k.shape.rank();
    let mut abase = e.params.i32(Param::Offset(la));
    let mut bbase = e.params.i32(Param::Offset(lb));
    for d in 0..r - 2 {
        let sa = e.params.i32(Param::Stride(la, d));
        let sb = e.params.i32(Param::Stride(lb, d));
        let _ = write!(abase, " + i32(c{d}) * {sa}");
        let _ = write!(bbase, " + i32(c{d}) * {sb}");
    }
    let d = Dims {
        m: e.params.u32(Param::Dim(r - 2)),
        n: e.params.u32(Param::Dim(r - 1)),
        kk: e.params.u32(Param::LoadDim(la, r - 1)),
        nb: e.params.u32(Param::Batch),
        sam: e.params.i32(Param::Stride(la, r - 2)),
        sak: e.params.i32(Param::Stride(la, r - 1)),
        sbk: e.params.i32(Param::Stride(lb, r - 2)),
        sbn: e.params.i32(Param::Stride(lb, r - 1)),
        abase,
        bbase,
    };
    let ta = load_text(e, k.load(la).input, ra);
    let tb = load_text(e, k.load(lb).input, rb);
    let mut b = accessors(&d, &ta, &tb);
    b += &epilogue(e, dtype, &d)?;
    // Only the gemv path uses subgroups. Subgroup ids need a one-dimensional workgroup, so
    // that kernel declares 256 invocations and derives the 16 x 16 `lid` from the index.
    let sg = subgroups && block == 1;
    if sg {
        let _ = writeln!(
            b,
            "@compute @workgroup_size({})\nfn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lidx: u32, @builtin(subgroup_invocation_id) sg_lane: u32, @builtin(subgroup_size) sg_size: u32, @builtin(subgroup_id) sg_id: u32, @builtin(num_subgroups) n_sg: u32) {{\n  let lid = vec3<u32>(lidx % {THREADS}u, lidx / {THREADS}u, 0u);",
            THREADS * THREADS
        );
    } else {
        let _ = writeln!(
            b,
            "@compute @workgroup_size({THREADS}, {THREADS})\nfn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {{"
        );
    }
    let _ = writeln!(
        b,
        "  for (var bt = wid.z; bt < {}; bt = bt + nwg.z) {{",
        d.nb
    );
    e.coords(&mut b, "    ", "bt", 0..r - 2);
    let _ = writeln!(
        b,
        "    let abase = {};\n    let bbase = {};",
        d.abase, d.bbase
    );
    if block == 1 {
        small(&mut b, &d, unroll, sg);
    } else {
        tiled(&mut b, &d, (block, block_n), unroll, bk);
    }
    b.push_str("  }\n}\n");
    // Workgroup tiles go before the entry point.
    let tiles = if block == 1 {
        format!(
            "var<workgroup> ta: array<array<f32, {THREADS}>, {THREADS}>;\nvar<workgroup> tb: array<array<f32, {THREADS}>, {THREADS}>;\n"
        )
    } else {
        let (vm, vn) = (tile(block) / 4, tile(block_n) / 4);
        format!(
            "var<workgroup> ta: array<vec4<f32>, {}>;\nvar<workgroup> tb: array<vec4<f32>, {}>;\n\
             fn a_slot(v: u32, mk: bool) -> vec2<u32> {{ return select(vec2<u32>(v % {bk}u, v / {bk}u), vec2<u32>(v / {vm}u, v % {vm}u), mk); }}\n\
             fn b_slot(v: u32, km: bool) -> vec2<u32> {{ return select(vec2<u32>(v / {vn}u, v % {vn}u), vec2<u32>(v % {bk}u, v / {bk}u), km); }}\n",
            bk * (vm + 1),
            bk * vn
        )
    };
    Ok(tiles + &b)
}

/// A load of operand `input` at a signed address `{}` as f32, rounded where a cast was fused
/// into it.
fn load_text(e: &mut Emitter, input: InputId, round: Option<DType>) -> String {
    let load = e
        .target
        .from_storage(&format!("in{input}[u32({{}})]"), e.k.input(input));
    match round {
        Some(d) => e.round(d, load),
        None => load,
    }
}

/// `a_at(base, row, k)` and `b_at(base, k, col)`: one operand element through its view, 0
/// outside the operand (so partial tiles add nothing); `a_in` and `b_in` the same without the
/// check, for tiles (and gemv steps) wholly inside both operands.
fn accessors(d: &Dims, ta: &str, tb: &str) -> String {
    let Dims {
        m,
        n,
        kk,
        sam,
        sak,
        sbk,
        sbn,
        ..
    } = d;
    let la = ta.replace(
        "{}",
        &format!("select(0, base + i32(r) * {sam} + i32(k) * {sak}, ok)"),
    );
    let lb = tb.replace(
        "{}",
        &format!("select(0, base + i32(k) * {sbk} + i32(c) * {sbn}, ok)"),
    );
    let mut out = format!(
        "fn a_at(base: i32, r: u32, k: u32) -> f32 {{\n  let ok = r < {m} && k < {kk};\n  return select(0.0, {la}, ok);\n}}\n\
         fn b_at(base: i32, k: u32, c: u32) -> f32 {{\n  let ok = c < {n} && k < {kk};\n  return select(0.0, {lb}, ok);\n}}\n"
    );
    let ra = ta.replace("{}", &format!("base + i32(r) * {sam} + i32(k) * {sak}"));
    let rb = tb.replace("{}", &format!("base + i32(k) * {sbk} + i32(c) * {sbn}"));
    let _ = writeln!(
        out,
        "fn a_in(base: i32, r: u32, k: u32) -> f32 {{ return {ra}; }}\nfn b_in(base: i32, k: u32, c: u32) -> f32 {{ return {rb}; }}"
    );
    out
}

/// The `epilogue(bt, row, col, acc)` function: bounds check, the fused expressions at that
/// output, the stores.
fn epilogue(e: &mut Emitter, dtype: DType, d: &Dims) -> Result<String, CodegenError> {
    let k = e.k;
    let r = k.shape.rank();
    let mut b = String::from("fn epilogue(bt: u32, row: u32, col: u32, acc: f32) {\n");
    let _ = writeln!(b, "  if (row >= {} || col >= {}) {{ return; }}", d.m, d.n);
    e.coords(&mut b, "  ", "bt", 0..r - 2);
    let val = e.round(dtype, "acc".into());
    let _ = writeln!(b, "  let red0: f32 = {val};");
    let _ = writeln!(b, "  let i = (bt * {} + row) * {} + col;", d.m, d.n);
    let _ = writeln!(b, "  let c{} = row;\n  let c{} = col;", r - 2, r - 1);
    let roots: Vec<ExprId> = k.outputs.iter().map(|o| o.expr).collect();
    e.exprs(&mut b, "  ", "i", &roots)?;
    for (o, out) in k.outputs.iter().enumerate() {
        let _ = writeln!(
            b,
            "  out{o}[i] = {};",
            e.target.to_storage(&format!("e{}", out.expr), out.dtype)
        );
    }
    b.push_str("}\n");
    Ok(b)
}

/// One output per invocation, 16 x 16 squares through workgroup memory; or, where an output
/// edge is 1, the gemv path.
fn small(b: &mut String, d: &Dims, unroll: u32, subgroups: bool) {
    let (m, n) = (&d.m, &d.n);
    let _ = writeln!(b, "    if ({m} == 1u || {n} == 1u) {{");
    let _ = writeln!(b, "      let along_n = {m} == 1u;");
    if subgroups {
        gemv_subgroups(b, d, unroll);
    }
    gemv(b, d, unroll);
    let _ = writeln!(b, "      continue;\n    }}");
    let kk = &d.kk;
    let _ = writeln!(b, "    let row = wid.y * {THREADS}u + lid.y;");
    let _ = writeln!(b, "    let col = wid.x * {THREADS}u + lid.x;");
    let _ = writeln!(b, "    var acc = 0.0;");
    let _ = writeln!(b, "    for (var t = 0u; t < {kk}; t = t + {THREADS}u) {{");
    let _ = writeln!(b, "      ta[lid.y][lid.x] = a_at(abase, row, t + lid.x);");
    let _ = writeln!(b, "      tb[lid.y][lid.x] = b_at(bbase, t + lid.y, col);");
    let _ = writeln!(b, "      workgroupBarrier();");
    let _ = writeln!(
        b,
        "      for (var q = 0u; q < {THREADS}u; q = q + 1u) {{ acc = fma(ta[lid.y][q], tb[q][lid.x], acc); }}"
    );
    let _ = writeln!(b, "      workgroupBarrier();\n    }}");
    let _ = writeln!(b, "    epilogue(bt, row, col, acc);");
}

/// Output `o` of a gemv from the workgroup's `outs` outputs and the output group `og`: its
/// `row`/`col` (past the end for invocations beyond the last output) and `rowc`/`colc`
/// (clamped onto the last output, for unchecked loads), along `n` where `along_n` (m = 1).
fn gemv_output(b: &mut String, d: &Dims, outs: &str, ind: &str) {
    let (m, n) = (&d.m, &d.n);
    let _ = writeln!(
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
fn gemv_steps(b: &mut String, kk: &str, u: u32, step: &str, ind: &str) {
    for i in 0..u {
        let _ = writeln!(b, "{ind}var acc{i} = 0.0;");
    }
    let _ = writeln!(
        b,
        "{ind}for (; q + {}u * {step} < {kk}; q = q + {u}u * {step}) {{",
        u - 1
    );
    for i in 0..u {
        let q = match i {
            0 => "q".to_string(),
            _ => format!("q + {i}u * {step}"),
        };
        let _ = writeln!(
            b,
            "{ind}  acc{i} = fma(a_in(abase, rowc, {q}), b_in(bbase, {q}, colc), acc{i});"
        );
    }
    let _ = writeln!(
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
fn gemv_subgroups(b: &mut String, d: &Dims, unroll: u32) {
    let u = unroll.clamp(1, 16);
    let Dims { kk, sak, sbk, .. } = d;
    let fo = GEMV_K_CONTIGUOUS.0;
    let _ = writeln!(
        b,
        "      if (select({sak} == 1, {sbk} == 1, along_n)) {{\n        \
         for (var og = sg_id; og < {fo}u; og = og + n_sg) {{"
    );
    gemv_output(b, d, &format!("{fo}u"), "          ");
    let _ = writeln!(b, "          var q = sg_lane;");
    gemv_steps(b, kk, u, "sg_size", "          ");
    let _ = writeln!(
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
fn gemv(b: &mut String, d: &Dims, unroll: u32) {
    let u = unroll.clamp(1, 16);
    let Dims { kk, sak, sbk, .. } = d;
    let ((fo, fl), (so, sl)) = (GEMV_K_CONTIGUOUS, GEMV_K_STRIDED);
    let _ = writeln!(
        b,
        "      let flat = lid.y * {THREADS}u + lid.x;\n      \
         let kfast = select({sak} == 1, {sbk} == 1, along_n);\n      \
         let outs = select({so}u, {fo}u, kfast);\n      \
         let l = select({sl}u, {fl}u, kfast);\n      \
         let og = select(flat % {so}u, flat / {fl}u, kfast);\n      \
         let lane = select(flat / {so}u, flat % {fl}u, kfast);"
    );
    gemv_output(b, d, "outs", "      ");
    let _ = writeln!(b, "      var q = lane;");
    gemv_steps(b, kk, u, "l", "      ");
    let _ = writeln!(
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

/// How the register-tiled kernel stages one operand.
struct Operand {
    /// Its prefetch registers (`pa0`, `pa1`, ...).
    reg: &'static str,
    /// Its slot function: vector `v` of a slice -> (k, vector within the tile's edge).
    slot: &'static str,
    /// The run-time flag that picks the staging order.
    flag: &'static str,
    /// The tile's first row (A) or column (B).
    origin: &'static str,
    /// Vectors each invocation stages per slice.
    per: u32,
    /// Vectors per `k` in the workgroup tile.
    stride: u32,
    /// The workgroup tile.
    tile: &'static str,
    /// The unchecked and checked element accessors.
    access: (&'static str, &'static str),
    /// The accessor `f` at edge position `x` and depth `k`.
    at: fn(&str, &str) -> String,
}

/// The register-tiled kernel: a `16 * bm` x `16 * bn` tile per workgroup, `bm x bn`
/// outputs per invocation.
///
/// Workgroup memory holds a `bk`-deep slice of A as `ta[k * (TM/4 + 1) + row/4]` (one padding
/// vector per `k` spreads the transposing writes over banks) and of B as
/// `tb[k * TN/4 + col/4]`. Invocation `(x, y)` owns rows `g * 64 + 4y + 0..4` for
/// `g < bm / 4` and columns `g * 64 + 4x + 0..4` for `g < bn / 4`, so the vectors it reads
/// are adjacent to its neighbours'.
fn tiled(b: &mut String, d: &Dims, (bm, bn): (u32, u32), unroll: u32, bk: u32) {
    let kk = &d.kk;
    let (tm, tn) = (tile(bm), tile(bn));
    let (sa, sb) = (tm / 4 + 1, tn / 4);
    let (gm, gn) = (bm / 4, bn / 4);
    // Vectors of each operand slice each invocation stages.
    let per_a = bk * tm / 4 / (THREADS * THREADS);
    let per_b = bk * tn / 4 / (THREADS * THREADS);
    // Grouped tile order: consecutive workgroups walk `SWIZZLE` rows of tiles column by
    // column, so that the A rows and B columns they read stay in L2 (a bijection on the grid).
    let g = SWIZZLE;
    let _ = writeln!(
        b,
        "    let gid = wid.y * nwg.x + wid.x;\n    \
         let per_group = {g}u * nwg.x;\n    \
         let first = (gid / per_group) * {g}u;\n    \
         let rows = min(nwg.y - first, {g}u);\n    \
         let row0 = (first + (gid % per_group) % rows) * {tm}u;\n    \
         let col0 = ((gid % per_group) / rows) * {tn}u;"
    );
    let _ = writeln!(b, "    let flat = lid.y * {THREADS}u + lid.x;");
    for i in 0..bm {
        for g in 0..gn {
            let _ = writeln!(b, "    var acc{i}_{g} = vec4<f32>(0.0);");
        }
    }
    for p in 0..per_a {
        let _ = writeln!(b, "    var pa{p}: vec4<f32>;");
    }
    for p in 0..per_b {
        let _ = writeln!(b, "    var pb{p}: vec4<f32>;");
    }
    // Staging: vector `v` of a slice holds four adjacent rows of A at one `k`, or four adjacent
    // columns of B. Consecutive invocations take consecutive `k` where the operand is
    // contiguous along `k` (row-major A, transposed B), else consecutive vectors, so that
    // global reads coalesce either way; `a_slot`/`b_slot` give (k, vector).
    let (m, n) = (&d.m, &d.n);
    let _ = writeln!(
        b,
        "    let acm = {} == 1 && {} != 1;\n    let bkm = {} == 1 && {} != 1;",
        d.sam, d.sak, d.sbk, d.sbn
    );
    let mut fetch = String::new();
    let _ = writeln!(
        fetch,
        "      let inside = row0 + {tm}u <= {m} && col0 + {tn}u <= {n} && t + {bk}u <= {kk};"
    );
    let operands = [
        Operand {
            reg: "pa",
            slot: "a_slot",
            flag: "acm",
            origin: "row0",
            per: per_a,
            stride: sa,
            tile: "ta",
            access: ("a_in", "a_at"),
            at: |f, x| format!("{f}(abase, {x}, k)"),
        },
        Operand {
            reg: "pb",
            slot: "b_slot",
            flag: "bkm",
            origin: "col0",
            per: per_b,
            stride: sb,
            tile: "tb",
            access: ("b_in", "b_at"),
            at: |f, x| format!("{f}(bbase, k, {x})"),
        },
    ];
    let mut stage = String::new();
    for op in &operands {
        let Operand {
            reg,
            slot,
            flag,
            origin,
            tile,
            stride,
            ..
        } = op;
        let four = |f: &str| -> String {
            (0..4)
                .map(|j| (op.at)(f, &format!("x + {j}u")))
                .collect::<Vec<_>>()
                .join(", ")
        };
        for p in 0..op.per {
            let v = format!("flat + {}u", p * THREADS * THREADS);
            let _ = writeln!(
                fetch,
                "      {{\n        let s = {slot}({v}, {flag});\n        let k = t + s.x;\n        let x = {origin} + s.y * 4u;"
            );
            let _ = writeln!(
                fetch,
                "        if (inside) {{\n          {reg}{p} = vec4<f32>({});\n        }} else {{\n          {reg}{p} = vec4<f32>({});\n        }}\n      }}",
                four(op.access.0),
                four(op.access.1)
            );
            let _ = writeln!(
                stage,
                "      {{\n        let s = {slot}({v}, {flag});\n        {tile}[s.x * {stride}u + s.y] = {reg}{p};\n      }}"
            );
        }
    }
    // Prologue: stage the first slice.
    let _ = writeln!(b, "    {{\n      let t = 0u;\n{fetch}{stage}    }}");
    let _ = writeln!(b, "    workgroupBarrier();");
    let _ = writeln!(b, "    for (var t0 = 0u; t0 < {kk}; t0 = t0 + {bk}u) {{");
    let _ = writeln!(b, "      let t = t0 + {bk}u;");
    let _ = writeln!(b, "      let more = t < {kk};");
    let _ = writeln!(b, "      if (more) {{\n{fetch}      }}");
    // `unroll` steps of the slice written out per iteration (H100, 4096, 16 deep: 1 step 26.6,
    // 2 steps 28.8, 4 steps 32.1, 8 steps 33.7 TFLOP/s; all 16, in an earlier version, slower
    // than 1). Rounded down to a power of two, so that it divides the slice's depth.
    let unroll = 1u32 << (31 - unroll.clamp(1, bk).leading_zeros());
    let _ = writeln!(
        b,
        "      for (var q0 = 0u; q0 < {bk}u; q0 = q0 + {unroll}u) {{"
    );
    for qu in 0..unroll {
        let _ = writeln!(b, "      {{\n        let q = q0 + {qu}u;");
        for g in 0..gm {
            let _ = writeln!(
                b,
                "        let a{g} = ta[q * {sa}u + {}u + lid.y];",
                g * THREADS
            );
        }
        for g in 0..gn {
            let _ = writeln!(
                b,
                "        let b{g} = tb[q * {sb}u + {}u + lid.x];",
                g * THREADS
            );
        }
        for i in 0..bm {
            let (ga, comp) = (i / 4, ["x", "y", "z", "w"][(i % 4) as usize]);
            for g in 0..gn {
                let _ = writeln!(
                    b,
                    "        acc{i}_{g} = fma(vec4<f32>(a{ga}.{comp}), b{g}, acc{i}_{g});"
                );
            }
        }
        let _ = writeln!(b, "      }}");
    }
    let _ = writeln!(b, "      }}");
    let _ = writeln!(b, "      workgroupBarrier();");
    let _ = writeln!(b, "      if (more) {{\n{stage}      }}");
    let _ = writeln!(b, "      workgroupBarrier();");
    let _ = writeln!(b, "    }}");
    // Epilogue: every output of the block.
    for i in 0..bm {
        let row = format!("row0 + {}u + lid.y * 4u + {}u", i / 4 * THREADS * 4, i % 4);
        for g in 0..gn {
            for (j, comp) in ["x", "y", "z", "w"].iter().enumerate() {
                let col = format!("col0 + {}u + lid.x * 4u + {j}u", g * THREADS * 4);
                let _ = writeln!(b, "    epilogue(bt, {row}, {col}, acc{i}_{g}.{comp});");
            }
        }
    }
}

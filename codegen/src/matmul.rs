//! The matmul template. A workgroup of 16 x 16 invocations computes one output tile; each
//! invocation computes a `block` x `block_n` piece of it (the schedule's `matmul.block` and
//! `matmul.block_n`):
//!
//! - `block = 1`: a 16 x 16 tile, operands staged through workgroup memory a 16 x 16 square
//!   at a time; cheap for small or thin products. Where an output edge is 1 (a
//!   matrix-vector product, `m = 1` or `n = 1`: [`gemv::is_gemv`], checked at run time,
//!   since the kernel key holds no sizes) the same kernel runs the gemv path instead (in
//!   [`gemv`]): each workgroup owns a few outputs, with several invocations (lanes)
//!   splitting each output's inner sum, laid out so that a warp's loads coalesce whichever
//!   way the matrix is stored: 32 lanes along `k` where it is contiguous along `k`
//!   (`x @ W^T` with `W` row-major, [`gemv::GEMV_K_CONTIGUOUS`]), else 32 outputs along the
//!   contiguous edge ([`gemv::GEMV_K_STRIDED`]). Every element of the matrix is read once.
//!   With subgroups (`MatmulSchedule::gemv_subgroups`, on adapters with `SUBGROUP`), a
//!   matrix contiguous along `k` is instead summed by whole subgroups: each subgroup takes
//!   the workgroup's outputs in turn, its lanes striding `k`, and adds its lanes' sums with
//!   `subgroupAdd` (no workgroup memory, no barrier; right for any subgroup size, since a
//!   subgroup is the unit).
//! - `block`, `block_n` = 4 or 8: a 64 or 128 by 64 or 128 tile, register-tiled. Each step
//!   stages a `depth`-deep slice of both operands in workgroup memory as `vec4` columns, and each
//!   invocation reads `block / 4` vectors of A and `block_n / 4` of B per `k` and issues
//!   `block * block_n / 4` vector FMAs: a high ratio of arithmetic to workgroup-memory
//!   traffic. The next slice is loaded into registers while the current one is multiplied
//!   (register double buffering).
//!
//! Operands are read through their views with any strides (transposed operands in place).
//! Loads are bounds-checked (zero fill) except in slices wholly inside both operands; stores
//! always are. Batches run over the grid's `z` dimension with broadcast batch strides. Every
//! output goes through one `epilogue` function that evaluates the fused expressions at
//! (batch, row, col) and stores them.

use crate::code::Code;
use crate::emit::Emitter;
use crate::gemv;
use crate::params::Param;
use crate::qgemv;
use crate::schedule::MatmulSchedule;
use crate::{CodegenError, Schedule};
use kiln_ir::quant::BlockFormat;
use kiln_ir::{DType, ExprId, InputId, LoadId, Prologue};

/// Invocations along each edge of the workgroup.
pub const THREADS: u32 = 16;

/// Depths of the operand slices the register-tiled kernel accepts (`MatmulSchedule::depth`).
/// Deeper slices halve the barriers and staging rounds per FMA and pay off for long inner
/// sizes, not for short ones (see [`crate::MATMUL_DEEP_K`]; the measurements are in
/// docs/journal/).
pub const DEPTHS: [u32; 2] = [16, 32];

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

/// Uniform reads shared by the templates (each a WGSL expression).
pub(crate) struct Dims {
    /// Output rows.
    pub(crate) m: String,
    /// Output columns.
    pub(crate) n: String,
    /// The inner size.
    pub(crate) kk: String,
    /// Batches.
    pub(crate) nb: String,
    /// A's row stride (`"0"` where a prologue computes A).
    pub(crate) sam: String,
    /// A's `k` stride (`"0"` where a prologue computes A).
    pub(crate) sak: String,
    /// B's `k` stride.
    pub(crate) sbk: String,
    /// B's column stride.
    pub(crate) sbn: String,
    /// A's first element of the batch at coordinates `c*`; where a prologue computes A, the
    /// batch's index `bt` (`a_in` computes A's coordinates from it).
    pub(crate) abase: String,
    /// B's first element of the batch at coordinates `c*`.
    pub(crate) bbase: String,
    /// B's offset and batch strides (the quantized gemv path's alignment test).
    pub(crate) b_offset_and_batch: Vec<String>,
}

/// The `main` function (and workgroup tiles) of a matmul kernel.
pub fn main(
    e: &mut Emitter,
    (la, ra, prologue): (LoadId, Option<DType>, Option<&Prologue>),
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
    // A computed by a prologue is addressed by its batch (`a_in` takes it as `base`), and
    // has no strides of its own.
    let a_param = |e: &mut Emitter, p: Param| match prologue {
        Some(_) => "0".to_string(),
        None => e.params.i32(p),
    };
    let mut abase = match prologue {
        Some(_) => "i32(bt)".to_string(),
        None => e.params.i32(Param::Offset(la)),
    };
    let mut bbase = e.params.i32(Param::Offset(lb));
    let mut b_offset_and_batch = vec![bbase.clone()];
    for d in 0..r - 2 {
        let sb = e.params.i32(Param::Stride(lb, d));
        if prologue.is_none() {
            let sa = e.params.i32(Param::Stride(la, d));
            abase.push_str(&format!(" + i32(c{d}) * {sa}"));
        }
        bbase.push_str(&format!(" + i32(c{d}) * {sb}"));
        b_offset_and_batch.push(sb);
    }
    let d = Dims {
        m: e.params.u32(Param::Dim(r - 2)),
        n: e.params.u32(Param::Dim(r - 1)),
        kk: e.params.u32(Param::LoadDim(la, r - 1)),
        nb: e.params.u32(Param::Batch),
        sam: a_param(e, Param::Stride(la, r - 2)),
        sak: a_param(e, Param::Stride(la, r - 1)),
        sbk: e.params.i32(Param::Stride(lb, r - 2)),
        sbn: e.params.i32(Param::Stride(lb, r - 1)),
        abase,
        bbase,
        b_offset_and_batch,
    };
    let oa = OperandLoad {
        input: k.load(la).input,
        round: ra,
    };
    let ob = OperandLoad {
        input: k.load(lb).input,
        round: rb,
    };
    // Only the wide aligned tensor-core tile reads operands 16 bytes a load.
    let wide = if s.matmul.tensor_cores && crate::coop::tile(s.matmul.coop_tile)?.wide {
        crate::coop::widen(e, [(la, ra), (lb, rb)])
    } else {
        [None, None]
    };
    // The 8-bit vector's gemv runs as a kernel of its own where the schedule chooses it.
    let warp_form = crate::qgemv_warp::chosen(k, &s.matmul);
    let wg = match warp_form {
        true => crate::qgemv_warp::invocations(&s.matmul),
        false => crate::prologue::WG,
    };
    let mut b = Code::new();
    accessors(e, &mut b, &d, prologue.is_none().then_some(&oa), &ob);
    if let Some(p) = prologue {
        crate::prologue::computed_a(e, &mut b, &d, p, wg)?;
    }
    epilogue(e, &mut b, dtype, &d)?;
    if s.matmul.tensor_cores {
        if !crate::coop::eligible(k, s.matmul.tensor_core_f32) {
            return Err(CodegenError::Schedule(format!(
                "tensor cores for {}: its operands are not f16 (or f32 at f16 precision), \
                 or an output edge is under 16 (see `Schedule::resolve`)",
                k.name
            )));
        }
        return crate::coop::main(e, &d, crate::coop::tile(s.matmul.coop_tile)?, b, wide);
    }
    if let Some(f) = k.input(ob.input).quant().filter(|_| warp_form) {
        let buf = format!("in{}", ob.input);
        return crate::qgemv_warp::main(e, &d, (f, &buf), (&s.matmul, prologue), b);
    }
    // Only the gemv path uses subgroups. Subgroup ids need a one-dimensional workgroup, so
    // that kernel declares 256 invocations and derives the 16 x 16 `lid` from the index.
    let sg = subgroups && block == 1;
    if sg {
        subgroup_main(&mut b, THREADS * THREADS, "lidx");
        writeln!(
            b,
            "  let lid = vec3<u32>(lidx % {THREADS}u, lidx / {THREADS}u, 0u);"
        );
    } else {
        writeln!(
            b,
            "@compute @workgroup_size({THREADS}, {THREADS})\nfn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {{"
        );
    }
    open_batch(
        e,
        &mut b,
        &d,
        prologue,
        &format!("lid.y * {THREADS}u + lid.x"),
    );
    // A quantized B gets the quantized gemv path's decoding dot product, after `main`.
    let mut fns = Code::new();
    if block == 1 {
        // A value rounded on load (a cast to f16 of blocks) takes the element-wise paths, as
        // every quantized B does where the schedule turns the quantized gemv path off.
        let quantized = k
            .input(ob.input)
            .quant()
            .filter(|_| ob.round.is_none() && s.matmul.quantized_gemv);
        let q = quantized.map(|f| (f, format!("in{}", ob.input), s.matmul));
        small(&mut b, &mut fns, &d, unroll, sg, q.as_ref());
    } else {
        crate::matmul_tiled::tiled(&mut b, &d, (block, block_n), unroll, bk);
    }
    b.push_str("  }\n}\n");
    b.append(fns);
    // Workgroup tiles go before the entry point.
    let mut tiles = Code::new();
    if block == 1 {
        write!(
            tiles,
            "var<workgroup> ta: array<array<f32, {THREADS}>, {THREADS}>;\nvar<workgroup> tb: array<array<f32, {THREADS}>, {THREADS}>;\n"
        )
    } else {
        let (vm, vn) = (tile(block) / 4, tile(block_n) / 4);
        write!(
            tiles,
            "var<workgroup> ta: array<vec4<f32>, {}>;\nvar<workgroup> tb: array<vec4<f32>, {}>;\n\
             fn a_slot(v: u32, mk: bool) -> vec2<u32> {{ return select(vec2<u32>(v % {bk}u, v / {bk}u), vec2<u32>(v / {vm}u, v % {vm}u), mk); }}\n\
             fn b_slot(v: u32, km: bool) -> vec2<u32> {{ return select(vec2<u32>(v / {vn}u, v % {vn}u), vec2<u32>(v % {bk}u, v / {bk}u), km); }}\n",
            bk * (vm + 1),
            bk * vn
        );
    }
    tiles.append(b);
    tiles.finish()
}

/// Writes the `main` entry point's head of a one-dimensional workgroup of `wg` invocations
/// with subgroups: `wid`, `nwg`, the invocation's index `index`, and `sg_lane`, `sg_size`,
/// `sg_id` and `n_sg`.
pub(crate) fn subgroup_main(b: &mut Code, wg: u32, index: &str) {
    writeln!(
        b,
        "@compute @workgroup_size({wg})\nfn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) {index}: u32, @builtin(subgroup_invocation_id) sg_lane: u32, @builtin(subgroup_size) sg_size: u32, @builtin(subgroup_id) sg_id: u32, @builtin(num_subgroups) n_sg: u32) {{"
    );
}

/// Opens the loop over batches (`bt`, the grid's `z` apart) of a matmul kernel's `main`: the
/// batch's coordinates, A's and B's first elements (`abase`, `bbase`), and a prologue's
/// stages, folded by the invocation of index `li` among the workgroup's.
pub(crate) fn open_batch(
    e: &mut Emitter,
    b: &mut Code,
    d: &Dims,
    prologue: Option<&Prologue>,
    li: &str,
) {
    let r = e.k.shape.rank();
    writeln!(
        b,
        "  for (var bt = wid.z; bt < {}; bt = bt + nwg.z) {{",
        d.nb
    );
    e.coords(b, "    ", "bt", 0..r - 2);
    writeln!(
        b,
        "    let abase = {};\n    let bbase = {};",
        d.abase, d.bbase
    );
    crate::prologue::run_stages(b, prologue, li);
}

/// How an operand's elements are read: its input, and the dtype it is rounded to where a cast
/// was fused into the load.
struct OperandLoad {
    input: InputId,
    round: Option<DType>,
}

impl OperandLoad {
    /// The element at signed address `addr` (a WGSL expression), as f32.
    fn at(&self, e: &mut Emitter, addr: &str) -> String {
        let load = e.read(
            self.input,
            &format!("in{}", self.input),
            &format!("u32({addr})"),
        );
        match self.round {
            Some(d) => e.round(d, load),
            None => load,
        }
    }
}

/// `a_at(base, row, k)` and `b_at(base, k, col)`: one operand element through its view, 0
/// outside the operand (so partial tiles add nothing); `a_in` and `b_in` the same without the
/// check, for tiles (and gemv steps) wholly inside both operands. Where A is computed by a
/// prologue, [`crate::prologue::computed_a`] writes A's two instead.
fn accessors(
    e: &mut Emitter,
    out: &mut Code,
    d: &Dims,
    ta: Option<&OperandLoad>,
    tb: &OperandLoad,
) {
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
    if let Some(ta) = ta {
        let a_addr = format!("base + i32(r) * {sam} + i32(k) * {sak}");
        let la = ta.at(e, &format!("select(0, {a_addr}, ok)"));
        let ra = ta.at(e, &a_addr);
        writeln!(
            out,
            "fn a_at(base: i32, r: u32, k: u32) -> f32 {{\n  let ok = r < {m} && k < {kk};\n  return select(0.0, {la}, ok);\n}}\n\
             fn a_in(base: i32, r: u32, k: u32) -> f32 {{ return {ra}; }}"
        );
    }
    let b_addr = format!("base + i32(k) * {sbk} + i32(c) * {sbn}");
    let lb = tb.at(e, &format!("select(0, {b_addr}, ok)"));
    let rb = tb.at(e, &b_addr);
    writeln!(
        out,
        "fn b_at(base: i32, k: u32, c: u32) -> f32 {{\n  let ok = c < {n} && k < {kk};\n  return select(0.0, {lb}, ok);\n}}\n\
         fn b_in(base: i32, k: u32, c: u32) -> f32 {{ return {rb}; }}"
    );
}

/// The `epilogue(bt, row, col, acc)` function: bounds check, the fused expressions at that
/// output, the stores.
fn epilogue(e: &mut Emitter, b: &mut Code, dtype: DType, d: &Dims) -> Result<(), CodegenError> {
    let k = e.k;
    let r = k.shape.rank();
    b.push_str("fn epilogue(bt: u32, row: u32, col: u32, acc: f32) {\n");
    writeln!(b, "  if (row >= {} || col >= {}) {{ return; }}", d.m, d.n);
    e.coords(b, "  ", "bt", 0..r - 2);
    let val = e.round(dtype, "acc".into());
    writeln!(b, "  let red0: f32 = {val};");
    writeln!(b, "  let i = (bt * {} + row) * {} + col;", d.m, d.n);
    writeln!(b, "  let c{} = row;\n  let c{} = col;", r - 2, r - 1);
    let roots: Vec<ExprId> = k.outputs.iter().map(|o| o.expr).collect();
    e.exprs(b, "  ", "i", &roots)?;
    for (o, out) in k.outputs.iter().enumerate() {
        let st = e.store(o, "i", &format!("e{}", out.expr));
        writeln!(b, "  {st}");
    }
    b.push_str("}\n");
    Ok(())
}

/// One output per invocation, 16 x 16 squares through workgroup memory; or, where an output
/// edge is 1, the gemv path (first the quantized one where B is quantized: its functions go
/// to `fns`).
fn small(
    b: &mut Code,
    fns: &mut Code,
    d: &Dims,
    unroll: u32,
    subgroups: bool,
    quantized_b: Option<&(BlockFormat, String, MatmulSchedule)>,
) {
    let (m, n) = (&d.m, &d.n);
    writeln!(b, "    if ({m} == 1u || {n} == 1u) {{");
    writeln!(b, "      let along_n = {m} == 1u;");
    if let Some((f, buf, ms)) = quantized_b {
        qgemv::path(b, fns, d, *f, buf, ms);
    }
    if subgroups {
        gemv::gemv_subgroups(b, d, unroll);
    }
    gemv::gemv(b, d, unroll);
    writeln!(b, "      continue;\n    }}");
    let kk = &d.kk;
    writeln!(b, "    let row = wid.y * {THREADS}u + lid.y;");
    writeln!(b, "    let col = wid.x * {THREADS}u + lid.x;");
    writeln!(b, "    var acc = 0.0;");
    writeln!(b, "    for (var t = 0u; t < {kk}; t = t + {THREADS}u) {{");
    writeln!(b, "      ta[lid.y][lid.x] = a_at(abase, row, t + lid.x);");
    writeln!(b, "      tb[lid.y][lid.x] = b_at(bbase, t + lid.y, col);");
    writeln!(b, "      workgroupBarrier();");
    writeln!(
        b,
        "      for (var q = 0u; q < {THREADS}u; q = q + 1u) {{ acc = fma(ta[lid.y][q], tb[q][lid.x], acc); }}"
    );
    writeln!(b, "      workgroupBarrier();\n    }}");
    writeln!(b, "    epilogue(bt, row, col, acc);");
}

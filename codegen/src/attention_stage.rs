//! How the attention template ([`crate::attention`]) moves its operands into workgroup
//! memory. Tiles are read as vectors of four adjacent columns: a tile of `keys` rows by
//! `head` columns is `keys * head / 4` vectors, and invocation `lid` takes vectors `lid`,
//! `lid + 64`, ... (consecutive invocations on consecutive columns, so that a warp's reads
//! coalesce where the operand is contiguous along its head).
//!
//! The K and V tiles are fetched into registers, every load of a tile independent of the
//! others, and the fetch of tile `t + 1` is issued before the products of tile `t`
//! (register double buffering); the stores to workgroup memory wait for the barrier that
//! frees the tiles. Each element is read through a helper that reads index 0 where the
//! element lies outside the operand (past the run's keys, the queries, or the head), so
//! that no read leaves the buffer, and gives 0 there: the padded columns of every tile are
//! zero, and products may run over the whole padded head.

use crate::code::Code;
use crate::emit::Emitter;
use crate::params::Param;
use kiln_ir::LoadId;

/// An operand's reader: the WGSL function `kiln_four_{name}(base, row, col, width, ok)`, the
/// vector of columns `col ..= col + 3` (`col` a multiple of 4) of row `row` of the matrix at
/// `base` as f32, each column where `ok` and it is under `width` (the head), else 0. In a
/// kernel of aligned rows (`Kernel::vector` 4: the head a multiple of 4, the row's start
/// too) the four are one `vec4` load of the binding; else four element reads, through
/// `kiln_at_{name}(base, row, col, ok)`.
pub fn reader(e: &mut Emitter, c: &mut Code, name: &str, l: LoadId, r: usize) {
    let sr = e.params.i32(Param::Stride(l, r - 2));
    let sc = e.params.i32(Param::Stride(l, r - 1));
    let input = e.k.load(l).input;
    let head = format!(
        "fn kiln_four_{name}(base: i32, row: u32, col: u32, width: u32, ok: bool) -> vec4<f32>"
    );
    if e.k.vector == 4 {
        // The column stride is 1; the vector's first element is a multiple of 4.
        let buf = e.input_buf(input);
        writeln!(
            c,
            "{head} {{\n  let inside = ok && col < width;\n  \
             let x = select(0, base + i32(row) * {sr} + i32(col), inside);\n  \
             return select(vec4<f32>(0.0), {buf}[u32(x) / 4u], inside);\n}}"
        );
        return;
    }
    let v = e.read(input, &format!("in{input}"), "u32(x)");
    writeln!(
        c,
        "fn kiln_at_{name}(base: i32, row: u32, col: u32, ok: bool) -> f32 {{\n  \
         let x = select(0, base + i32(row) * {sr} + i32(col) * {sc}, ok);\n  \
         return select(0.0, {v}, ok);\n}}"
    );
    let cols: Vec<String> = (0..4)
        .map(|j| format!("kiln_at_{name}(base, row, col + {j}u, ok && col + {j}u < width)"))
        .collect();
    writeln!(c, "{head} {{\n  return vec4<f32>({});\n}}", cols.join(", "));
}

/// The vector of four columns `col ..` (a multiple of 4) of row `row` of operand `name`
/// (`width` its runtime head), each column kept where `ok` and the column is inside the
/// head ([`reader`]).
pub fn four(name: &str, base: &str, row: &str, col: &str, width: &str, ok: &str) -> String {
    format!("kiln_four_{name}({base}, {row}, {col}, {width}, {ok})")
}

/// Vectors of a `keys` x `head` tile each invocation holds.
pub fn per_invocation(keys: u32, head: u32) -> u32 {
    (keys * head / 4).div_ceil(crate::attention::THREADS)
}

/// Declares the registers of the K and V tiles, `fk` and `fv`, and their count `NP`.
pub fn registers(c: &mut Code, keys: u32, head: u32) {
    writeln!(
        c,
        "  const NP = {}u;\n  var fk: array<vec4<f32>, NP>;\n  var fv: array<vec4<f32>, NP>;",
        per_invocation(keys, head)
    );
}

/// Fetches the tile of keys `t ..` (`t` a WGSL expression) into the registers: keys from
/// `k1` on, and vectors past the tile, read as zero. A loop of constant trip count, which
/// drivers unroll (written out, its code grew past what SwiftShader compiles in time).
pub fn fetch(c: &mut Code, t: &str) {
    writeln!(
        c,
        "  {{\n    let t = {t};\n    for (var p = 0u; p < NP; p = p + 1u) {{\n      let x = lid + p * T;\n      \
         let j = x / H4;\n      let c = (x % H4) * 4u;\n      let key = t + j;\n      let ok = j < BK && key < k1;\n      \
         fk[p] = {};\n      fv[p] = {};\n    }}\n  }}",
        four("k", "kbase", "key", "c", "d", "ok"),
        four("v", "vbase", "key", "c", "dv", "ok"),
    );
}

/// Stores the registers to the tiles: `store` is the statement that stores vector `x` of the
/// tile from `fk[p]` and `fv[p]`; vectors past the tile are left out.
pub fn store(c: &mut Code, keys: u32, head: u32, store: &str) {
    let whole = (keys * head / 4).is_multiple_of(crate::attention::THREADS);
    let s = if whole {
        store.to_string()
    } else {
        format!("if (x < BK * H4) {{ {store} }}")
    };
    writeln!(
        c,
        "    for (var p = 0u; p < NP; p = p + 1u) {{\n      let x = lid + p * T;\n      {s}\n    }}"
    );
}

/// The loop staging the query block, once: `store` is the statement storing vector `v` as
/// vector `x` of the block.
pub fn queries(c: &mut Code, store: &str) {
    writeln!(
        c,
        "  for (var x = lid; x < BQ * H4; x = x + T) {{\n    let i = i0 + x / H4;\n    let c = (x % H4) * 4u;\n    \
         let v = {};\n    {store}\n  }}",
        four("q", "qbase", "i", "c", "d", "i < sq")
    );
}

//! The row form of the attention template ([`crate::attention`]): each of the workgroup's
//! [`THREADS`](crate::attention::THREADS) invocations owns one query row of a block of
//! [`ROW_FORM`] rows. Its query row and its output accumulators live in registers (heads
//! up to [`ROW_FORM_MAX_HEAD`]); the K and V tiles are staged in workgroup memory as in
//! the other forms ([`crate::attention_stage`]), and every invocation reads the same staged
//! vector at the same time (a broadcast, no bank conflicts). Each invocation keeps its
//! row's online softmax (`m`, `l`) in registers too, so a tile costs two barriers (free the
//! tiles, fill them) and no workgroup traffic but the tiles. Keys are taken four at a time:
//! four dot products, their maximum folded into the row's, one rescale of the accumulators,
//! then four vector FMAs per vector of V.
//!
//! Against the block forms (at most 16 rows, 64 invocations sharing them), a tile staged
//! once serves 64 rows instead of 16, and the softmax needs no row-wise pass through
//! workgroup memory; it holds about `2 * head` registers an invocation, so it stops at
//! heads of 64.

use crate::attention::{Operands, Tile};
use crate::code::Code;

/// Rows of the row form's block: one per invocation.
pub const ROW_FORM: u32 = crate::attention::THREADS;

/// The largest head (padded to 16) the row form holds in registers.
pub const ROW_FORM_MAX_HEAD: u32 = 64;

/// Keys the row form takes per step of its tile loop.
pub const STEP: u32 = 4;

/// Bytes of workgroup memory of the row form's `keys` x `head` K and V tiles.
pub fn workgroup_bytes(keys: u32, head: u32) -> u32 {
    4 * 2 * keys * head
}

/// The row form's workgroup arrays.
pub fn declare(c: &mut Code) {
    c.push_str(
        "var<workgroup> ks: array<vec4<f32>, BK * H4>;\nvar<workgroup> vs: array<vec4<f32>, BK * H4>;\n",
    );
}

/// The statement storing vector `x` of the K and V tiles from the registers.
pub const STORE: &str = "ks[x] = fk[p];\n      vs[x] = fv[p];";

/// Loop trips one invocation runs per tile of `keys` keys besides the fetch and store
/// (for the loop contract): one per step of [`STEP`] keys.
pub fn trips_per_tile(keys: u32) -> u32 {
    keys.div_ceil(STEP)
}

/// The row form's `main` from the query registers on: `h4` vectors of head, `mask` the
/// mask's element at `(i, key)`, `diag` the causal bound of row `i`. Expects `i0`, `k0`,
/// `k1`, `bt` and the operands' bases in scope; the tile loop is opened and closed here, and
/// each row's output stored by `out`, given the column and the accumulator's component,
/// with `ob` (the row's first output), `m` and `l` in scope.
pub(crate) fn body(
    c: &mut Code,
    tile: &Tile,
    ops: &Operands,
    mask: Option<&str>,
    diag: &str,
    out: &mut dyn FnMut(&mut Code, &str, &str),
) {
    let (keys, head) = (tile.keys, tile.head);
    let h4 = head / 4;
    writeln!(
        c,
        "  let i = i0 + lid;\n  let qok = i < sq;\n  let ob = (bt * sq + i) * dv;"
    );
    for u in 0..h4 {
        let q = crate::attention_stage::four("q", "qbase", "i", &format!("{}u", 4 * u), "d", "qok");
        writeln!(c, "  let q{u} = {q};\n  var a{u} = vec4<f32>(0.0);");
    }
    c.push_str("  var m = ninf;\n  var l = 0.0;\n");
    crate::attention_stage::registers(c, keys, head);
    crate::attention_stage::fetch(c, "k0");
    writeln!(
        c,
        "  for (var t0 = k0; t0 < k1; t0 = t0 + BK) {{\n    workgroupBarrier();"
    );
    crate::attention_stage::store(c, keys, head, STORE);
    c.push_str("    workgroupBarrier();\n");
    crate::attention_stage::fetch(c, "t0 + BK");
    writeln!(c, "    for (var j = 0u; j < BK; j = j + {STEP}u) {{");
    for b in 0..STEP {
        writeln!(c, "      var s{b} = vec4<f32>(0.0);");
    }
    for u in 0..h4 {
        for b in 0..STEP {
            writeln!(
                c,
                "      s{b} = fma(q{u}, ks[(j + {b}u) * H4 + {u}u], s{b});"
            );
        }
    }
    let ok = crate::attention::visible("qok", ops.causal, diag);
    for b in 0..STEP {
        writeln!(
            c,
            "      var c{b} = ninf;\n      {{\n        let key = t0 + j + {b}u;\n        \
             let sd = (s{b}.x + s{b}.y) + (s{b}.z + s{b}.w);"
        );
        writeln!(
            c,
            "        {}\n      }}",
            crate::attention::scored(&format!("c{b}"), "sd", &ok, mask)
        );
    }
    // The step's maximum joins the row's (NaN wins); the accumulators are rescaled once.
    writeln!(
        c,
        "      let mn = kiln_fmax(m, kiln_fmax(kiln_fmax(c0, c1), kiln_fmax(c2, c3)));\n      \
         let cr = select(exp(m - mn), 1.0, mn == ninf);\n      \
         let p = select(exp(vec4<f32>(c0, c1, c2, c3) - vec4<f32>(mn)), vec4<f32>(0.0), mn == ninf);\n      \
         l = l * cr + ((p.x + p.y) + (p.z + p.w));\n      m = mn;"
    );
    for u in 0..h4 {
        let mut e = format!("a{u} * cr");
        for (b, x) in ["x", "y", "z", "w"].iter().enumerate() {
            e = format!("fma(vec4<f32>(p.{x}), vs[(j + {b}u) * H4 + {u}u], {e})");
        }
        writeln!(c, "      a{u} = {e};");
    }
    c.push_str("    }\n  }\n");
    c.push_str("  if (qok) {\n");
    for u in 0..h4 {
        for (j, x) in ["x", "y", "z", "w"].iter().enumerate() {
            out(c, &format!("{}u", 4 * u + j as u32), &format!("a{u}.{x}"));
        }
    }
    c.push_str("  }\n");
}

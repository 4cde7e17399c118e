//! The tensor-core form of the attention template (`schedule.attention.tensor_cores`): the
//! same tiles, online softmax and outputs as [`crate::attention`], with both products on
//! cooperative matrices (16 x 16 x 16, f16 x f16 -> f32; the gate of [`crate::coop`]).
//!
//! A workgroup has 16 query rows and two subgroups of 32. Per tile of `keys` keys:
//! 1. K and V, fetched into registers as in the scalar form ([`crate::attention_stage`]), are
//!    stored as f16, `head` wide, zero past `d` and `dv` (the query block was staged so
//!    once);
//! 2. subgroup `s` multiplies the query block by keys `s * keys / 2 ..` into f32 scores,
//!    stored to `ps`; a scalar pass then applies the scale, the mask and the causal rule;
//! 3. the row maxima and rescaling factors, as in the scalar form;
//! 4. each score becomes `p = exp(s - m)`, rounded to f16 (the same `p` feeds the sum `l` and
//!    the product, so that they agree);
//! 5. subgroup `s` multiplies `p` by the value columns `s * head / 2 ..` into the f32 tile
//!    `ot`; each invocation then rescales its accumulators and adds its part of `ot`.
//!
//! Every stride and fragment offset is a multiple of 16 bytes, and every cooperative store's
//! arguments are `let`s (`../shared/notes/tensor-cores.md`). The cooperative calls sit in
//! uniform control flow; a subgroup's index (the `subgroup_id` built-in) only addresses
//! memory.

use crate::code::Code;
use crate::coop::{store, FRAG};
use kiln_ir::{DType, Kernel, KernelKind};

/// Query rows of the tensor-core form.
pub const ROWS: u32 = 16;

/// Whether kernel `k` may take the tensor-core form with `keys` keys a tile: a whole attention
/// (not a part) of f16 operands (f32 and bf16 where `f32_ok`, the matmul precision), 16-row
/// blocks, and tiles of 32 or 64 keys (16 or 32 a subgroup).
pub fn eligible(k: &Kernel, rows: u32, keys: u32, f32_ok: bool) -> bool {
    let KernelKind::Attention { q, partial, .. } = &k.kind else {
        return false;
    };
    let dt = k.input(k.load(*q).input);
    !partial
        && rows == ROWS
        && (keys == 32 || keys == 64)
        && (dt == DType::F16 || (f32_ok && matches!(dt, DType::F32 | DType::BF16)))
}

/// The head capacity of the tensor-core form: a multiple of 32 (16 columns a subgroup).
pub fn head(d: usize) -> usize {
    d.max(1).next_multiple_of(2 * FRAG as usize)
}

/// Row strides: the f16 tiles padded by 8 halves, the f32 tiles by 4.
fn strides(keys: u32, head: u32) -> (u32, u32, u32, u32) {
    (head + 8, keys + 4, keys + 8, head + 4)
}

/// Bytes of workgroup memory for `keys` keys a tile and heads of `head`.
pub fn workgroup_bytes(keys: u32, head: u32) -> u32 {
    let (lh, ps, lp, lo) = strides(keys, head);
    2 * (ROWS * lh + 2 * keys * lh + ROWS * lp) + 4 * (ROWS * ps + ROWS * lo + 3 * ROWS)
}

/// The constants and workgroup arrays.
pub fn declare(c: &mut Code, keys: u32, head: u32) {
    let (lh, ps, lp, lo) = strides(keys, head);
    writeln!(
        c,
        "const LH = {lh}u;\nconst PS = {ps}u;\nconst LP = {lp}u;\nconst LO = {lo}u;\n\
         var<workgroup> qh: array<f16, {}>;\nvar<workgroup> kh: array<f16, {}>;\n\
         var<workgroup> vh: array<f16, {}>;\nvar<workgroup> ps: array<f32, {}>;\n\
         var<workgroup> ph: array<f16, {}>;\nvar<workgroup> ot: array<f32, {}>;\n\
         var<workgroup> mrow: array<f32, {ROWS}>;\nvar<workgroup> lrow: array<f32, {ROWS}>;\n\
         var<workgroup> crow: array<f32, {ROWS}>;",
        ROWS * lh,
        keys * lh,
        keys * lh,
        ROWS * ps,
        ROWS * lp,
        ROWS * lo
    );
}

/// The statement storing the query block's vector `v` (vector `x` of the block) as f16.
pub fn store_query() -> String {
    halves("qh", "v")
}

/// The statement storing vector `x` of the K and V tiles from the registers `fk[p]` and
/// `fv[p]` (see [`crate::attention_stage`]) as f16.
pub fn store_tiles() -> String {
    format!("{}\n      {}", halves("kh", "fk[p]"), halves("vh", "fv[p]"))
}

/// The statement storing the four f32 values of `v` as vector `x` of the f16 tile `array`,
/// rows `LH` apart.
fn halves(array: &str, v: &str) -> String {
    let mut s = String::from("{ let o = (x / H4) * LH + (x % H4) * 4u;");
    for (j, c) in ["x", "y", "z", "w"].iter().enumerate() {
        s.push_str(&format!(" {array}[o + {j}u] = f16({v}.{c});"));
    }
    s.push_str(" }");
    s
}

/// Inside the tile loop, after the tiles are staged: the scores by tensor cores, then their
/// scale, mask and causal rule (`ok`: the condition a score is kept on; `mask`: the mask's
/// element at `i`, `key`).
pub fn scores(c: &mut Code, keys: u32, head: u32, ok: &str, mask: Option<&str>) {
    // Scores: subgroup `sg` takes keys `sg * keys / 2 ..`, K read column-major (as K^T).
    product(
        c,
        "s",
        "ps",
        "PS",
        head / FRAG,
        keys / 2 / FRAG,
        &|kk| format!("coopLoadT<coop_mat16x16<f16, A>>(&qh[{}u], LH)", kk * FRAG),
        &|kk, f| {
            format!(
                "coopLoad<coop_mat16x16<f16, B>>(&kh[(sg * {}u + {}u) * LH + {}u], LH)",
                keys / 2,
                f * FRAG,
                kk * FRAG
            )
        },
        keys / 2,
    );
    let keep = crate::attention::scored("sc", "ps[pa]", ok, mask);
    writeln!(
        c,
        "    workgroupBarrier();\n    for (var x = lid; x < BQ * BK; x = x + T) {{\n      let i = i0 + x / BK;\n      let key = t0 + x % BK;\n      \
         let pa = (x / BK) * PS + x % BK;\n      var sc = ninf;\n      {keep}\n      ps[pa] = sc;\n    }}"
    );
}

/// One subgroup's share of a product into `frags` f32 fragments named `{name}0..`: `steps`
/// 16-deep steps of `a(step)` times `b(step, fragment)`, then stored row-major to
/// `array[sg * width + 16 f ..]`, rows `stride` apart.
#[allow(clippy::too_many_arguments)]
fn product(
    c: &mut Code,
    name: &str,
    array: &str,
    stride: &str,
    steps: u32,
    frags: u32,
    a: &dyn Fn(u32) -> String,
    b: &dyn Fn(u32, u32) -> String,
    width: u32,
) {
    for f in 0..frags {
        writeln!(c, "    var {name}{f} = coop_mat16x16<f32, C>();");
    }
    for kk in 0..steps {
        writeln!(c, "    let {name}a{kk} = {};", a(kk));
        for f in 0..frags {
            writeln!(
                c,
                "    {name}{f} = coopMultiplyAdd({name}a{kk}, {}, {name}{f});",
                b(kk, f)
            );
        }
    }
    for f in 0..frags {
        let at = format!("sg * {width}u + {}u", f * FRAG);
        writeln!(
            c,
            "    {}",
            store(&format!("{name}{f}"), array, &at, stride)
        );
    }
}

/// After the row statistics: `p` (rounded to f16, into `ps` and `ph`), the product with V by
/// tensor cores into `ot`, and each invocation's rows `r`, `r + 1` by every `G`-th vector of
/// columns rescaled and added (`per` vectors; the sums `l` by the rows' first invocation).
pub fn values(c: &mut Code, head: u32, keys: u32, per: u32, g: u32) {
    writeln!(
        c,
        "    for (var x = lid; x < BQ * BK; x = x + T) {{\n      let m = mrow[x / BK];\n      let pa = (x / BK) * PS + x % BK;\n      \
         let p = f16(select(exp(ps[pa] - m), 0.0, m == ninf));\n      ps[pa] = f32(p);\n      ph[(x / BK) * LP + x % BK] = p;\n    }}\n    \
         workgroupBarrier();"
    );
    // Subgroup `sg` takes value columns `sg * head / 2 ..`.
    product(
        c,
        "o",
        "ot",
        "LO",
        keys / FRAG,
        head / 2 / FRAG,
        &|kk| format!("coopLoadT<coop_mat16x16<f16, A>>(&ph[{}u], LP)", kk * FRAG),
        &|kk, f| {
            format!(
                "coopLoadT<coop_mat16x16<f16, B>>(&vh[{}u * LH + sg * {}u + {}u], LH)",
                kk * FRAG,
                head / 2,
                f * FRAG
            )
        },
        head / 2,
    );
    c.push_str("    workgroupBarrier();\n");
    for a in 0..2 {
        writeln!(c, "    let cr{a} = crow[r + {a}u];");
        for u in 0..per {
            writeln!(
                c,
                "    {{\n      let o = (r + {a}u) * LO + min(g + {}u, H4 - 1u) * 4u;\n      \
                 acc{a}_{u} = acc{a}_{u} * cr{a} + vec4<f32>(ot[o], ot[o + 1u], ot[o + 2u], ot[o + 3u]);\n    }}",
                u * g
            );
        }
    }
    c.push_str("    if (g == 0u) {\n");
    for a in 0..2 {
        writeln!(
            c,
            "      var lsum{a} = 0.0;\n      for (var j = 0u; j < BK; j = j + 1u) {{ lsum{a} = lsum{a} + ps[(r + {a}u) * PS + j]; }}\n      \
             lrow[r + {a}u] = lrow[r + {a}u] * cr{a} + lsum{a};"
        );
    }
    c.push_str("    }\n");
}

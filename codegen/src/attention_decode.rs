//! The decode form of the attention template ([`crate::attention`]): one query row a
//! workgroup (a decode step's row, or a run of its keys in a split attention), the work spread
//! over keys and columns instead of rows. Per chunk of `BK` keys:
//!
//! 1. the dot products: `KP = THREADS / BK` invocations a key, each over every `KP`-th vector
//!    of the head, read straight from K (the query, staged once in workgroup memory, is read
//!    by all invocations at once, a broadcast);
//! 2. the first `BK` invocations add a key's `KP` parts, then scale and mask the score;
//! 3. every invocation takes the chunk's maximum (in the same order everywhere, so the same
//!    value), rescales what it holds, and adds `p * v` over its keys: `VG = THREADS / H4`
//!    groups of `H4` invocations, an invocation a vector of columns of every `VG`-th key, read
//!    straight from V (a group reads a key's row, coalesced along the head). Where an
//!    invocation's share is at most [`EARLY_V_MAX`] vectors, they are loaded into registers
//!    at the top of the chunk, so that they are in flight with K's loads rather than after
//!    the scores (attention_decode 0.102 to 0.095 ms on an H100).
//!
//! Three barriers a chunk and no tile in workgroup memory. After the last chunk the groups'
//! accumulators and sums are added through workgroup memory.
//!
//! A whole attention (not a part of a split one) may spread its keys over `SG` segments of
//! [`THREADS`] invocations in one workgroup ([`segments_for`]): each segment runs the steps
//! above over its own run of the keys, with its own arrays, and after the last chunk the
//! segments' outputs are combined as a split attention's combine kernel would combine its
//! runs (each weighted by `exp(m_s - max m)`), in workgroup memory. Every segment runs the
//! same number of chunks, so the barriers stay in uniform control flow.
//!
//! Against the block form with one row (a tile's scores in 8 invocations, each a serial loop
//! over the head, its maximum in one), the chain is shorter, but on an H100 what set the time
//! was the memory requests of the reads (journal 2026-12-06-decode-attention.md): with K read
//! a row an invocation an element at a time this form was slower; with rows read as `vec4`
//! (an aligned kernel's [`crate::attention_stage::reader`]) and 16 keys a chunk it is the
//! fastest one-row form measured. Heads over [`DECODE_MAX_HEAD`], and tiles under
//! [`DECODE_MIN_KEYS`], keep the block form.

use crate::attention::{scored, visible, Operands, Tile, THREADS};
use crate::attention_stage::four;
use crate::code::Code;

/// The largest head (padded to 16) the decode form holds: a vector of columns an invocation.
pub const DECODE_MAX_HEAD: u32 = 4 * THREADS;

/// The fewest keys a chunk of the decode form: one row with tiles of fewer keys takes the
/// block form (a schedule choice, so the tuner can weigh the two).
pub const DECODE_MIN_KEYS: u32 = 16;

/// Whether `rows` query rows a workgroup, `keys` keys a tile and heads of `head` take the
/// decode form.
pub fn applies(rows: u32, keys: u32, head: u32) -> bool {
    rows == 1 && keys >= DECODE_MIN_KEYS && head <= DECODE_MAX_HEAD
}

/// The most segments a workgroup of the decode form holds (1024 invocations).
pub const MAX_SEGMENTS: u32 = 16;

/// The keys of a one-row attention that a schedule of at most `segments` segments takes
/// whole (0 where it has one segment): the split pass's `whole_decode_keys`.
pub fn whole_keys(segments: u32) -> usize {
    if segments < 2 {
        0
    } else {
        segments.min(MAX_SEGMENTS) as usize * kiln_ir::passes::DECODE_SEGMENT_KEYS
    }
}

/// The segments a whole attention over `sk` keys runs under a schedule of at most `max`:
/// enough that each takes at most [`kiln_ir::passes::DECODE_SEGMENT_KEYS`] keys, rounded up
/// to a power of two, at most `max` (at least 1).
pub fn segments_for(sk: usize, max: u32) -> u32 {
    let want = sk
        .div_ceil(kiln_ir::passes::DECODE_SEGMENT_KEYS)
        .max(1)
        .next_power_of_two();
    u32::try_from(want).unwrap_or(u32::MAX).min(max.max(1))
}

/// The most vectors of V an invocation loads at the top of a chunk, ahead of the scores
/// (more are loaded as the products with V use them).
pub const EARLY_V_MAX: u32 = 8;

/// Invocations a key's dot product is split over, for chunks of `keys` keys.
fn parts(keys: u32) -> u32 {
    (THREADS / keys).max(1)
}

/// Groups of invocations sharing the products with V, for heads of `head`.
fn groups(head: u32) -> u32 {
    (THREADS / (head / 4)).max(1)
}

/// Whether this invocation's key `jj` of the chunk (at `key`) is one of its group's, inside
/// the chunk and before the run's end.
fn v_guard(jj: &str, key: &str) -> String {
    format!("gi < VG && {jj} < BK && {key} < k1")
}

/// The statements adding key `jj`'s `p * v` (`v` its vector of V, `ok` its guard) to the
/// invocation's sum and accumulator; `po` the segment's first score (`""` in a workgroup of
/// one segment).
fn v_step(jj: &str, ok: &str, v: &str, po: &str) -> String {
    format!(
        "let p = select(0.0, exp(ps[{po}min({jj}, BK - 1u)] - mn), {ok} && mn != ninf);\n      \
         l = l + p;\n      acc = fma(vec4<f32>(p), {v}, acc);"
    )
}

/// Bytes of workgroup memory: the query, and per segment the dot products' parts, the
/// chunk's scores, the groups' accumulators and sums and (with several) the running maximum.
pub fn workgroup_bytes(keys: u32, head: u32, segments: u32) -> u32 {
    let maxima = if segments > 1 { segments } else { 0 };
    4 * (head + segments * (THREADS + keys + 4 * THREADS + THREADS) + maxima)
}

/// Loop trips one invocation runs (for the loop contract) over `keys` keys in `segments`
/// segments: the query's staging; per chunk of its segment the chunk loop's own trip, the
/// dot product's steps, the maximum's and the products with V (written out, not looped,
/// where V's vectors load early: still a bound); the groups' sum; with several segments,
/// their maximum and sum.
pub fn trips(keys_total: usize, keys: u32, head: u32, segments: u32) -> usize {
    let h4 = head / 4;
    let per_chunk = 1 + h4.div_ceil(parts(keys)) + keys / 4 + keys.div_ceil(groups(head));
    let segment = keys_total.div_ceil(segments as usize * keys as usize) * keys as usize;
    let chunks = segment / keys as usize;
    let combine = if segments > 1 { 2 * segments } else { 0 };
    (h4.div_ceil(THREADS) + groups(head) + combine) as usize + chunks * per_chunk as usize
}

/// The arrays the form shares through workgroup memory: one query, per segment the rest.
pub fn declare(c: &mut Code, keys: u32, head: u32, segments: u32) {
    writeln!(
        c,
        "const KP = {}u;\nconst VG = {}u;\nconst SG = {segments}u;\n\
         var<workgroup> qs: array<vec4<f32>, H4>;\nvar<workgroup> ws: array<f32, T * SG>;\n\
         var<workgroup> ps: array<f32, BK * SG>;\nvar<workgroup> os: array<vec4<f32>, T * SG>;\n\
         var<workgroup> ls: array<f32, T * SG>;",
        parts(keys),
        groups(head)
    );
    if segments > 1 {
        c.push_str("var<workgroup> ms: array<f32, SG>;\n");
    }
}

/// The decode form's `main` from the query's staging on, with the arguments and the names in
/// scope of [`crate::attention_rows::body`]; the invocation's index is `lidx` where the
/// workgroup has several segments.
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
    let (s, g) = (parts(keys), groups(head));
    let (uk, uv) = (h4.div_ceil(s), keys.div_ceil(g));
    let seg = tile.segments > 1;
    // The segment's first entries of `ws` and `ps`.
    let (wo, po) = if seg { ("wo + ", "po + ") } else { ("", "") };
    let (first, stride) = if seg {
        ("lidx", "T * SG")
    } else {
        ("lid", "T")
    };
    writeln!(
        c,
        "  let i = i0;\n  for (var x = {first}; x < H4; x = x + {stride}) {{\n    qs[x] = {};\n  }}",
        four("q", "qbase", "i", "x * 4u", "d", "i < sq")
    );
    // Several segments: segment `sgi` takes `span` keys from the run's `k0` (a whole number
    // of chunks, the same for all), in a block whose `k0` and `k1` are its own.
    if seg {
        writeln!(
            c,
            "  let sgi = lidx / T;\n  let span = ((k1 - k0 + SG * BK - 1u) / (SG * BK)) * BK;\n  \
             let chunks = span / BK;\n  let ka = min(k0 + sgi * span, k1);\n  let kb = min(ka + span, k1);\n  \
             {{\n  let k0 = ka;\n  let k1 = kb;\n  let lid = lidx % T;\n  let wo = sgi * T;\n  let po = sgi * BK;"
        );
    }
    writeln!(
        c,
        "  let pi = lid / BK;\n  let j = lid % BK;\n  let gi = lid / H4;\n  let cv = lid % H4;\n  \
         var m = ninf;\n  var l = 0.0;\n  var acc = vec4<f32>(0.0);"
    );
    if seg {
        c.push_str(
            "  for (var ch = 0u; ch < chunks; ch = ch + 1u) {\n    let t0 = k0 + ch * BK;\n",
        );
    } else {
        c.push_str("  for (var t0 = k0; t0 < k1; t0 = t0 + BK) {\n");
    }
    // 0: where this invocation's rows of V fit in registers, their loads go out first, so
    // they are in flight with K's instead of after the scores.
    let early = uv <= EARLY_V_MAX;
    if early {
        for u in 0..uv {
            let (jj, key, ok) = (format!("jv{u}"), format!("t0 + jv{u}"), format!("okv{u}"));
            writeln!(
                c,
                "    let {jj} = gi + {u}u * VG;\n    let {ok} = {};\n    let vv{u} = {};",
                v_guard(&jj, &key),
                four("v", "vbase", &key, "cv * 4u", "dv", &ok)
            );
        }
    }
    c.push_str("    workgroupBarrier();\n");
    // 1: this invocation's part of key `t0 + j`'s dot product (vectors past the head read
    // as zero; the query's index is kept inside it where the parts overrun).
    let qv = if h4.is_multiple_of(s) {
        "qs[u]"
    } else {
        "qs[min(u, H4 - 1u)]"
    };
    writeln!(
        c,
        "    {{\n      let key = t0 + j;\n      var s4 = vec4<f32>(0.0);\n      \
         for (var uu = 0u; uu < {uk}u; uu = uu + 1u) {{\n        let u = pi + uu * KP;\n        \
         s4 = fma({qv}, {}, s4);\n      }}\n      ws[{wo}lid] = (s4.x + s4.y) + (s4.z + s4.w);\n    }}\n    \
         workgroupBarrier();",
        four("k", "kbase", "key", "u * 4u", "d", "key < k1")
    );
    // 2: the scores.
    let mut sum = format!("ws[{wo}lid]");
    for p in 1..s {
        sum = format!("{sum} + ws[{wo}{}u + lid]", p * keys);
    }
    let ok = visible("i < sq", ops.causal, diag);
    writeln!(
        c,
        "    if (lid < BK) {{\n      let key = t0 + lid;\n      let sd = {sum};\n      var sc = ninf;\n      \
         {}\n      ps[{po}lid] = sc;\n    }}\n    workgroupBarrier();",
        scored("sc", "sd", &ok, mask)
    );
    // 3: the chunk's maximum (NaN wins), the rescale, and `p * v` over this group's keys.
    writeln!(
        c,
        "    var x0 = ninf;\n    var x1 = ninf;\n    var x2 = ninf;\n    var x3 = ninf;\n    \
         for (var jj = 0u; jj < BK; jj = jj + 4u) {{\n      x0 = kiln_fmax(x0, ps[{po}jj]);\n      \
         x1 = kiln_fmax(x1, ps[{po}jj + 1u]);\n      x2 = kiln_fmax(x2, ps[{po}jj + 2u]);\n      \
         x3 = kiln_fmax(x3, ps[{po}jj + 3u]);\n    }}\n    \
         let mn = kiln_fmax(m, kiln_fmax(kiln_fmax(x0, x1), kiln_fmax(x2, x3)));\n    \
         let cr = select(exp(m - mn), 1.0, mn == ninf);\n    acc = acc * cr;\n    l = l * cr;\n    m = mn;"
    );
    if early {
        for u in 0..uv {
            let step = v_step(&format!("jv{u}"), &format!("okv{u}"), &format!("vv{u}"), po);
            writeln!(c, "    {{\n      {step}\n    }}");
        }
    } else {
        writeln!(
            c,
            "    for (var uu = 0u; uu < {uv}u; uu = uu + 1u) {{\n      let jj = gi + uu * VG;\n      \
             let key = t0 + jj;\n      let ok = {};\n      {}\n    }}",
            v_guard("jj", "key"),
            v_step("jj", "ok", &four("v", "vbase", "key", "cv * 4u", "dv", "ok"), po)
        );
    }
    c.push_str("  }\n");
    if seg {
        combine_segments(c, out);
        return;
    }
    // The groups' sums, then the row's output from the first group.
    writeln!(
        c,
        "  os[lid] = acc;\n  ls[lid] = l;\n  workgroupBarrier();\n  if (lid < H4) {{\n{}    \
         let l = lt;\n    let ob = (bt * sq + i) * dv;\n    if (i < sq) {{",
        group_sums("")
    );
    for (j, x) in ["x", "y", "z", "w"].iter().enumerate() {
        out(c, &format!("cv * 4u + {j}u"), &format!("a.{x}"));
    }
    c.push_str("    }\n  }\n");
}

/// The end of a workgroup of several segments, inside the segment's block: each segment
/// sums its groups into its first `H4` entries and leaves its running maximum in `ms`; the
/// block closes; the first `H4` invocations weigh each segment by `exp(m_s - max m)` (0 for a
/// segment that saw no key; a NaN maximum makes the row NaN) and store the row.
fn combine_segments(c: &mut Code, out: &mut dyn FnMut(&mut Code, &str, &str)) {
    writeln!(
        c,
        "  os[wo + lid] = acc;\n  ls[wo + lid] = l;\n  if (lid == 0u) {{ ms[sgi] = m; }}\n  workgroupBarrier();\n  \
         if (lid < H4) {{\n{}    os[wo + lid] = a;\n    ls[wo + lid] = lt;\n  }}\n  \
         workgroupBarrier();\n  }}\n  if (lidx < H4) {{\n    var mt = ninf;\n    \
         for (var gs = 0u; gs < SG; gs = gs + 1u) {{ mt = kiln_fmax(mt, ms[gs]); }}\n    \
         var a = vec4<f32>(0.0);\n    var lt = 0.0;\n    for (var gs = 0u; gs < SG; gs = gs + 1u) {{\n      \
         let wt = select(exp(ms[gs] - mt), 0.0, ms[gs] == ninf);\n      \
         a = fma(vec4<f32>(wt), os[gs * T + lidx], a);\n      lt = fma(wt, ls[gs * T + lidx], lt);\n    }}\n    \
         let l = lt;\n    let ob = (bt * sq + i) * dv;\n    if (i < sq) {{",
        group_sums("wo + ")
    );
    for (j, x) in ["x", "y", "z", "w"].iter().enumerate() {
        out(c, &format!("lidx * 4u + {j}u"), &format!("a.{x}"));
    }
    c.push_str("    }\n  }\n");
}

/// The statements by which invocation `lid` (one of the first `H4` of its segment, whose
/// first entry is at `wo`, `""` for the workgroup's) adds its column's accumulator `a` and
/// sum `lt` over the segment's `VG` groups.
fn group_sums(wo: &str) -> String {
    format!(
        "    var a = os[{wo}lid];\n    var lt = ls[{wo}lid];\n    \
         for (var gg = 1u; gg < VG; gg = gg + 1u) {{\n      a = a + os[{wo}gg * H4 + lid];\n      \
         lt = lt + ls[{wo}gg * H4 + lid];\n    }}\n"
    )
}

//! The fused attention template (flash-style): one workgroup of [`THREADS`] invocations per
//! block of `rows` query rows (per batch, and per run of keys for a part of a split
//! attention) streams its keys through workgroup memory, `keys` at a time, with an online
//! softmax, so that no score leaves the workgroup. Tiles are held as vectors of four
//! adjacent head columns, zero past the head ([`crate::attention_stage`]). Per tile:
//!
//! 1. the K and V tiles, fetched into registers while the tile before was multiplied, are
//!    stored to workgroup memory, and the next tile's fetch is issued (the query block was
//!    staged once, before the loop);
//! 2. each score `q . k * scale + mask` is computed once, `-inf` where the key is past the
//!    run, past the causal diagonal, or the row past the queries; each invocation computes a
//!    block of up to 2 rows by 4 keys ([`crate::attention_block::score_block`]), so that a staged vector feeds
//!    several vector FMAs;
//! 3. one invocation per row takes the tile's maximum, the row's new running maximum `m`
//!    (both NaN where a score is), and the factor `exp(m_old - m)` that rescales what the row
//!    holds;
//! 4. each score becomes `p = exp(s - m)` (0 in a row that has seen no key yet);
//! 5. each invocation rescales its accumulators and adds `p * v` over the tile: it holds two
//!    rows (one where the block has one) by every `G`-th vector of columns,
//!    `G = THREADS / (rows / 2)` invocations sharing a pair of rows, so that each staged
//!    vector of V feeds two vector FMAs; the first of them also keeps the rows' sums `l`.
//!
//! The output is `acc / l` rounded to the dtype, or, for a part, `acc`, `m` and `l` in f32
//! (see `kiln_ir::ops::attention`). With `causal`, a block stops at the last key its last
//! row sees. `rows = 1` is the decode form: one query row per workgroup. The query and K
//! tiles' rows are padded by one vector, so that invocations reading along keys hit
//! distinct banks.
//!
//! Those are the block forms (up to 16 rows, [`crate::attention_block`], or on tensor cores
//! [`crate::attention_coop`]). The row form ([`ROW_FORM`] rows, [`crate::attention_rows`])
//! gives each invocation a row and keeps steps 2 to 5 in its registers.

use crate::attention_rows::{ROW_FORM, ROW_FORM_MAX_HEAD};
use crate::code::Code;
use crate::emit::Emitter;
use crate::params::Param;
use crate::types;
use crate::{CodegenError, Schedule};
use kiln_ir::{DType, ExprId, Kernel, KernelKind, LoadId};

/// Invocations per workgroup.
pub const THREADS: u32 = 64;

/// Query rows per workgroup the template accepts: blocks of up to 16 rows shared by the
/// workgroup, or [`ROW_FORM`], a row per invocation ([`crate::attention_rows`]).
pub const ROWS: [u32; 6] = [1, 2, 4, 8, 16, ROW_FORM];

/// Keys per tile the template accepts.
pub const KEYS: [u32; 5] = [4, 8, 16, 32, 64];

/// The largest head (`d`, `dv`) the template holds.
pub const MAX_HEAD: u32 = 512;

/// Bytes of workgroup memory for `rows` x `keys` tiles of heads of `head`: the query block
/// and the K tile (rows padded by a vector), the V tile, the scores (rows padded by one) and
/// three values per row.
pub fn workgroup_bytes(rows: u32, keys: u32, head: u32) -> u32 {
    if rows == ROW_FORM {
        return crate::attention_rows::workgroup_bytes(keys, head);
    }
    if crate::attention_decode::applies(rows, keys, head) {
        return crate::attention_decode::workgroup_bytes(keys, head, 1);
    }
    4 * (rows * (head + 4) + keys * (head + 4) + keys * head + rows * (keys + 1) + 3 * rows)
}

/// The keys per tile the template takes unless told (H100 figures, head 64, in PERFORMANCE.md):
/// in the block forms as many as keep the next K and V tiles' registers at 16 vectors an
/// invocation (32 keys of a head of 64), at least 4; 32 on tensor cores, whose tiles need 32
/// or 64; 4 in the row form, whose query and accumulators crowd the tile's registers (4 keys
/// 5.1 ms, 64 keys 16.6); 16 for one row in the decode form ([`crate::attention_decode`]:
/// attention_decode 0.102 ms, 32 keys 0.111, 64 keys 0.109); 8 for one row of a larger head
/// (the block form: 0.110 ms, 32 keys 0.176).
pub fn default_keys(rows: u32, head: u32, tensor_cores: bool) -> u32 {
    let k = (2048 / head.max(16)).clamp(KEYS[0], 32);
    match (tensor_cores, rows) {
        (true, _) => 32,
        (false, ROW_FORM) => KEYS[0],
        (false, 1) if crate::attention_decode::applies(1, 16, head) => 16,
        (false, 1) => 8,
        (false, _) => 1 << (31 - k.leading_zeros()),
    }
}

/// The largest head whose smallest scalar tile (one row, 4 keys) fits `limit` bytes of
/// workgroup memory, a multiple of 16, at most [`MAX_HEAD`]: heads past it run unfused.
pub fn max_head(limit: u32) -> u32 {
    let mut h = MAX_HEAD;
    while h > 16 && workgroup_bytes(1, KEYS[0], h) > limit {
        h -= 16;
    }
    h
}

/// The sizes of an attention kernel: `(sq, d, sk, dv)`.
pub fn sizes(k: &Kernel) -> Option<(usize, usize, usize, usize)> {
    let KernelKind::Attention { q, k: kl, v, .. } = &k.kind else {
        return None;
    };
    let r = k.load_rank();
    let (qs, ks, vs) = (
        &k.load(*q).view.shape.0,
        &k.load(*kl).view.shape.0,
        &k.load(*v).view.shape.0,
    );
    Some((qs[r - 2], qs[r - 1], ks[r - 2], vs[r - 1]))
}

/// The rows per workgroup unless told, for `sq` queries and heads of `max(d, dv)`: the row
/// form where there are at least [`ROW_FORM`] queries and the head fits its registers,
/// else as many as the queries (rounded up to a power of two), at most 16.
pub fn default_rows(sq: usize, d: usize, dv: usize) -> u32 {
    let head = d.max(dv).max(1).next_multiple_of(16);
    if sq >= ROW_FORM as usize && head <= ROW_FORM_MAX_HEAD as usize {
        ROW_FORM
    } else {
        sq.max(1).next_power_of_two().min(16) as u32
    }
}

/// Chooses what is still `None` in `a` from kernel `k`'s sizes: [`default_rows`] (the row
/// form asked for a head past its registers takes blocks of 16); [`default_keys`] per tile;
/// tensor cores kept only where the kernel is eligible (`f32_ok`: the matmul precision lets
/// f32 operands round to f16); a head of `max(d, dv)` rounded up to 16, or to 32 on tensor
/// cores.
pub fn resolve(a: &mut crate::schedule::AttentionSchedule, k: &Kernel, f32_ok: bool) {
    let Some((sq, d, sk, dv)) = sizes(k) else {
        return;
    };
    let mut rows = *a.rows.get_or_insert(default_rows(sq, d, dv));
    if rows == ROW_FORM && d.max(dv) > ROW_FORM_MAX_HEAD as usize {
        rows = 16;
        a.rows = Some(rows);
    }
    let eligible = |keys| crate::attention_coop::eligible(k, rows, keys, f32_ok);
    let head = |tc: bool| {
        let h = if tc {
            crate::attention_coop::head(d.max(dv))
        } else {
            d.max(dv).max(1).next_multiple_of(16)
        };
        u32::try_from(h).unwrap_or(u32::MAX)
    };
    let tc = a.tensor_cores && eligible(a.keys.unwrap_or(32));
    let keys = *a.keys.get_or_insert(default_keys(rows, head(tc), tc));
    a.tensor_cores &= eligible(keys);
    a.head = Some(head(a.tensor_cores));
    let partial = matches!(k.kind, KernelKind::Attention { partial: true, .. });
    a.segments = if partial {
        1
    } else {
        crate::attention_decode::segments_for(sk, a.segments)
    };
    settle_segments(a);
}

/// Whether `a`'s tiles take the decode form, the one form whose workgroup may hold several
/// segments (a part of a split attention still takes one).
fn decode_form(a: &crate::schedule::AttentionSchedule) -> bool {
    a.concrete().is_some_and(|(rows, keys, head)| {
        !a.tensor_cores && crate::attention_decode::applies(rows, keys, head)
    })
}

/// Keeps `a.segments` only where the tiles take the decode form (1 elsewhere, so that equal
/// code has one cache key).
pub(crate) fn settle_segments(a: &mut crate::schedule::AttentionSchedule) {
    if !decode_form(a) {
        a.segments = 1;
    }
}

/// Shrinks `a`'s tiles to fit `limit` bytes of workgroup memory: the decode form's
/// segments first (to 1), then keys (to 8), then rows, then keys to 4 (the row form: keys to
/// 4, then blocks of 16 rows). Left as it is where not concrete or where nothing fits.
pub fn fit(a: &mut crate::schedule::AttentionSchedule, limit: u32) {
    let Some((mut rows, mut keys, head)) = a.concrete() else {
        return;
    };
    settle_segments(a);
    while a.segments > 1 && crate::attention_decode::workgroup_bytes(keys, head, a.segments) > limit
    {
        a.segments /= 2;
    }
    // Tensor-core tiles that do not fit give way to the scalar form (its head is a multiple
    // of 32, so of 16 too).
    if a.tensor_cores && crate::attention_coop::workgroup_bytes(keys, head) > limit {
        a.tensor_cores = false;
    }
    if a.tensor_cores {
        return;
    }
    let fits = |r: u32, k: u32| workgroup_bytes(r, k, head) <= limit;
    if rows == ROW_FORM {
        while !fits(rows, keys) && keys > KEYS[0] {
            keys /= 2;
        }
        if !fits(rows, keys) {
            rows = 16;
        }
    }
    while !fits(rows, keys) && keys > 8 {
        keys /= 2;
    }
    while !fits(rows, keys) && rows > 1 {
        rows /= 2;
    }
    while !fits(rows, keys) && keys > 4 {
        keys /= 2;
    }
    a.rows = Some(rows);
    a.keys = Some(keys);
    settle_segments(a);
}

/// Workgroups to dispatch: one per batch, query block and run.
pub fn groups(k: &Kernel, s: &Schedule) -> Result<usize, CodegenError> {
    let (rows, _, _) = concrete(k, s)?;
    let (sq, _, _, _) = sizes(k).ok_or_else(|| not_attention(k))?;
    let r = k.load_rank();
    let batch: usize = k.shape.0[..r - 2].iter().product();
    Ok(batch * sq.div_ceil(rows as usize) * runs(k))
}

/// The runs of keys: the runs' dim of a part of a split attention, else 1.
fn runs(k: &Kernel) -> usize {
    match &k.kind {
        KernelKind::Attention { partial: true, .. } => k.shape.0[k.shape.rank() - 1],
        _ => 1,
    }
}

fn not_attention(k: &Kernel) -> CodegenError {
    CodegenError::Structure {
        kernel: k.name.clone(),
        why: "not an attention kernel".into(),
    }
}

/// The schedule's rows, keys and head, checked against the template and the kernel.
fn concrete(k: &Kernel, s: &Schedule) -> Result<(u32, u32, u32), CodegenError> {
    let (rows, keys, head) = s.attention.concrete().ok_or_else(|| {
        CodegenError::Schedule("attention tiles not chosen yet (see `Schedule::resolve`)".into())
    })?;
    if !ROWS.contains(&rows) || !KEYS.contains(&keys) {
        return Err(CodegenError::Schedule(format!(
            "attention rows {rows}, keys {keys}: not in {ROWS:?}, {KEYS:?}"
        )));
    }
    let (_, d, _, dv) = sizes(k).ok_or_else(|| not_attention(k))?;
    let cap = if rows == ROW_FORM {
        ROW_FORM_MAX_HEAD
    } else {
        MAX_HEAD
    };
    if head > cap || !head.is_multiple_of(16) || (d.max(dv) as u64) > head as u64 {
        return Err(CodegenError::Schedule(format!(
            "attention head {head} for d = {d}, dv = {dv}, {rows} rows: a multiple of 16 up \
             to {cap}, at least both"
        )));
    }
    Ok((rows, keys, head))
}

/// A form's `main` from the query's staging on (`attention_rows::body`,
/// `attention_decode::body`): the tiles, operands, the mask's element, the causal bound, and
/// the statement storing a column of the output.
type FormBody =
    fn(&mut Code, &Tile, &Operands, Option<&str>, &str, &mut dyn FnMut(&mut Code, &str, &str));

/// A kernel's tiles as its form reads them: keys a tile, the head it holds, and the
/// segments of [`THREADS`] invocations a workgroup has (1 but in the decode form).
pub(crate) struct Tile {
    pub(crate) keys: u32,
    pub(crate) head: u32,
    pub(crate) segments: u32,
}

/// The operands' loads.
pub(crate) struct Operands {
    q: LoadId,
    k: LoadId,
    v: LoadId,
    mask: Option<LoadId>,
    scale: ExprId,
    pub(crate) causal: bool,
    partial: bool,
    q_prologue: Option<ExprId>,
}

/// The module text after the bindings and helpers: workgroup arrays and `main`.
pub fn main(e: &mut Emitter, s: &Schedule) -> Result<String, CodegenError> {
    let k = e.k;
    let (rows, keys, head) = concrete(k, s)?;
    let ops = match &k.kind {
        KernelKind::Attention {
            q,
            k: kl,
            v,
            mask,
            scale,
            causal,
            partial,
            q_prologue,
        } => Operands {
            q: *q,
            k: *kl,
            v: *v,
            mask: *mask,
            scale: *scale,
            causal: *causal,
            partial: *partial,
            q_prologue: *q_prologue,
        },
        _ => return Err(not_attention(k)),
    };
    let r = k.load_rank();
    // The products with V: each invocation holds `rp` rows by every `g`-th vector of
    // columns.
    let rp = rows.min(2);
    let g = THREADS / (rows / rp);
    let h4 = head / 4;
    let per = h4.div_ceil(g);
    // Row maxima propagate NaN (WGSL's `max` need not), so that a NaN score makes its row
    // NaN as in the reference, whatever the tile it falls in.
    e.use_helpers(&[crate::ops::NONFINITE, "kiln_fmax"]);
    let ninf = types::f32_bits(0xff80_0000);

    let coop = s.attention.tensor_cores;
    // Several segments a workgroup only in the decode form of a whole attention.
    let segments = s.attention.segments.max(1);
    if segments > 1 && (ops.partial || !decode_form(&s.attention)) {
        return Err(CodegenError::Schedule(format!(
            "attention segments {segments} for {}: only the decode form of a whole attention \
             (one row, at least {} keys a tile, a head of at most {})",
            k.name,
            crate::attention_decode::DECODE_MIN_KEYS,
            crate::attention_decode::DECODE_MAX_HEAD
        )));
    }
    let mut c = Code::new();
    writeln!(
        c,
        "const T = {THREADS}u;\nconst BQ = {rows}u;\nconst BK = {keys}u;\nconst H = {head}u;\nconst H4 = {h4}u;\nconst G = {g}u;"
    );
    if coop {
        if !crate::attention_coop::eligible(k, rows, keys, s.matmul.tensor_core_f32)
            || !head.is_multiple_of(2 * crate::coop::FRAG)
        {
            return Err(CodegenError::Schedule(format!(
                "tensor-core attention for {}: f16 operands (or f32 at f16 precision), 16 rows, \
                 32 or 64 keys and a head of a multiple of 32 (got {rows}, {keys}, {head})",
                k.name
            )));
        }
        e.enables.insert("f16");
        e.enables.insert("wgpu_cooperative_matrix");
        crate::attention_coop::declare(&mut c, keys, head);
    } else if rows == ROW_FORM {
        crate::attention_rows::declare(&mut c);
    } else if crate::attention_decode::applies(rows, keys, head) {
        crate::attention_decode::declare(&mut c, keys, head, segments);
    } else {
        writeln!(
            c,
            "const QS = {}u;\nconst PS = {}u;\n\
             var<workgroup> qs: array<vec4<f32>, BQ * QS>;\nvar<workgroup> ks: array<vec4<f32>, BK * QS>;\n\
             var<workgroup> vs: array<vec4<f32>, BK * H4>;\nvar<workgroup> ps: array<f32, BQ * PS>;\n\
             var<workgroup> mrow: array<f32, BQ>;\nvar<workgroup> lrow: array<f32, BQ>;\n\
             var<workgroup> crow: array<f32, BQ>;",
            h4 + 1,
            keys + 1
        );
    }
    match ops.q_prologue {
        Some(q) => crate::prologue::computed_q(e, &mut c, q, ops.q, r)?,
        None => crate::attention_stage::reader(e, &mut c, "q", ops.q, r),
    }
    for (name, l) in [("k", ops.k), ("v", ops.v)] {
        crate::attention_stage::reader(e, &mut c, name, l, r);
    }
    // The tensor-core form addresses its fragments by subgroup.
    let sg = if coop {
        ", @builtin(subgroup_id) sg: u32"
    } else {
        ""
    };
    // A workgroup of several segments names its invocations `lidx`; each segment's `lid`
    // counts from 0 within it.
    let lid = if segments > 1 { "lidx" } else { "lid" };
    writeln!(
        c,
        "@compute @workgroup_size({})\nfn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) {lid}: u32{sg}) {{",
        THREADS * segments
    );
    let dim = |e: &mut Emitter, l: LoadId, d: usize| e.params.u32(Param::LoadDim(l, d));
    let sq = dim(e, ops.q, r - 2);
    let d = dim(e, ops.q, r - 1);
    let sk = dim(e, ops.k, r - 2);
    let dv = dim(e, ops.v, r - 1);
    let runs = if ops.partial {
        e.params.u32(Param::Dim(r + 1))
    } else {
        "1u".into()
    };
    let mut nb = String::from("1u");
    for i in 0..r - 2 {
        nb.push_str(&format!(" * {}", e.params.u32(Param::Dim(i))));
    }
    let scale = types::from_bits(DType::F32, &e.params.u32(Param::Const(ops.scale)));
    writeln!(
        c,
        "  let sq = {sq};\n  let d = {d};\n  let sk = {sk};\n  let dv = {dv};\n  let runs = {runs};\n  let nb = {nb};\n  let scale = {scale};\n  let ninf = {ninf};\n\
         \x20 let qblocks = (sq + BQ - 1u) / BQ;\n  let w = wid.y * nwg.x + wid.x;\n  if (w >= nb * qblocks * runs) {{ return; }}\n\
         \x20 let s = w % runs;\n  let qb = (w / runs) % qblocks;\n  let bt = w / (runs * qblocks);"
    );
    e.coords(&mut c, "  ", "bt", 0..r - 2);
    let mut bases = Vec::new();
    for l in [Some(ops.q), Some(ops.k), Some(ops.v), ops.mask]
        .into_iter()
        .flatten()
    {
        // A computed q is read at its batch's coordinates, which its reader derives from `bt`.
        if ops.q_prologue.is_some() && l == ops.q {
            bases.push("i32(bt)".to_string());
            continue;
        }
        let mut a = e.params.i32(Param::Offset(l));
        for i in 0..r - 2 {
            a.push_str(&format!(
                " + i32(c{i}) * {}",
                e.params.i32(Param::Stride(l, i))
            ));
        }
        bases.push(a);
    }
    for (name, b) in ["qbase", "kbase", "vbase", "mbase"].iter().zip(&bases) {
        writeln!(c, "  let {name} = {b};");
    }
    // The mask's element at (i, key), as f32.
    let mv = ops.mask.map(|l| {
        let sr = e.params.i32(Param::Stride(l, r - 2));
        let sc = e.params.i32(Param::Stride(l, r - 1));
        let input = k.load(l).input;
        e.read(
            input,
            &format!("in{input}"),
            &format!("u32(mbase + i32(i) * {sr} + i32(key) * {sc})"),
        )
    });
    writeln!(
        c,
        "  let run = (sk + runs - 1u) / runs;\n  let k0 = min(s * run, sk);\n  var k1 = min(k0 + run, sk);\n  let i0 = qb * BQ;"
    );
    // Key `key` is visible to row `i` where `key <= i + sk - sq`.
    let diag = "i32(i) + i32(sk) - i32(sq)";
    if ops.causal {
        writeln!(
            c,
            "  {{\n    let i = min(i0 + BQ, sq) - 1u;\n    k1 = u32(clamp({diag} + 1, i32(k0), i32(k1)));\n  }}"
        );
    }
    // The row and decode forms write the rest of `main` themselves.
    let form: Option<FormBody> = if rows == ROW_FORM {
        Some(crate::attention_rows::body)
    } else if !coop && crate::attention_decode::applies(rows, keys, head) {
        Some(crate::attention_decode::body)
    } else {
        None
    };
    if let Some(body) = form {
        let tile = Tile {
            keys,
            head,
            segments,
        };
        body(
            &mut c,
            &tile,
            &ops,
            mv.as_deref(),
            diag,
            &mut |c, col, v| store_column(e, c, &ops, col, v),
        );
        c.push_str("}\n");
        return c.finish();
    }
    if coop {
        crate::attention_stage::queries(&mut c, &crate::attention_coop::store_query());
    } else {
        crate::attention_stage::queries(&mut c, "qs[(x / H4) * QS + x % H4] = v;");
    }
    writeln!(
        c,
        "  if (lid < BQ) {{ mrow[lid] = ninf; lrow[lid] = 0.0; }}\n  let r = (lid / G) * {rp}u;\n  let g = lid % G;"
    );
    for a in 0..rp {
        for u in 0..per {
            writeln!(c, "  var acc{a}_{u} = vec4<f32>(0.0);");
        }
    }
    // The first tile's fetch; then each tile stores what was fetched and fetches the next.
    crate::attention_stage::registers(&mut c, keys, head);
    crate::attention_stage::fetch(&mut c, "k0");
    writeln!(
        c,
        "  for (var t0 = k0; t0 < k1; t0 = t0 + BK) {{\n    workgroupBarrier();"
    );
    let store = if coop {
        crate::attention_coop::store_tiles()
    } else {
        "ks[(x / H4) * QS + x % H4] = fk[p];\n      vs[x] = fv[p];".to_string()
    };
    crate::attention_stage::store(&mut c, keys, head, &store);
    c.push_str("    workgroupBarrier();\n");
    crate::attention_stage::fetch(&mut c, "t0 + BK");
    if coop {
        let ok = visible("i < sq", ops.causal, diag);
        crate::attention_coop::scores(&mut c, keys, head, &ok, mv.as_deref());
    } else {
        crate::attention_block::scores(&mut c, rows, keys, &ops, mv.as_deref(), diag);
    }
    writeln!(
        c,
        "    workgroupBarrier();\n\
         \x20   if (lid < BQ) {{\n      var mx = ninf;\n      for (var j = 0u; j < BK; j = j + 1u) {{ mx = kiln_fmax(mx, ps[lid * PS + j]); }}\n\
         \x20     let mo = mrow[lid];\n      let mn = kiln_fmax(mo, mx);\n      mrow[lid] = mn;\n      crow[lid] = select(exp(mo - mn), 1.0, mn == ninf);\n    }}\n\
         \x20   workgroupBarrier();"
    );
    if coop {
        crate::attention_coop::values(&mut c, head, keys, per, g);
        c.push_str("  }\n  workgroupBarrier();\n");
    } else {
        crate::attention_block::values(&mut c, rp, per, g);
    }

    for a in 0..rp {
        writeln!(
            c,
            "  {{\n    let i = i0 + r + {a}u;\n    let l = lrow[r + {a}u];\n    let m = mrow[r + {a}u];\n    let ob = (bt * sq + i) * dv;\n    if (i < sq) {{"
        );
        for u in 0..per {
            for (j, x) in ["x", "y", "z", "w"].iter().enumerate() {
                // Column `4 (g + u G) + j`; invocations past the head hold copies of its last
                // vector and store nothing.
                let col = format!("(g + {}u) * 4u + {j}u", u * g);
                store_column(e, &mut c, &ops, &col, &format!("acc{a}_{u}.{x}"));
            }
        }
        c.push_str("    }\n  }\n");
    }
    c.push_str("}\n");
    c.finish()
}

/// The condition under which key `key` counts for row `i`: `row_ok` (the row is one of the
/// queries), the key inside the run, and with `causal` on or before the row's diagonal
/// `diag`.
pub(crate) fn visible(row_ok: &str, causal: bool, diag: &str) -> String {
    let mut ok = format!("{row_ok} && key < k1");
    if causal {
        ok.push_str(&format!(" && i32(key) <= {diag}"));
    }
    ok
}

/// The statement setting `var` (`-inf` unless set) to the score of dot product `sd`, scaled
/// and masked by `mask` (the mask's element, read only) where `ok`.
pub(crate) fn scored(var: &str, sd: &str, ok: &str, mask: Option<&str>) -> String {
    match mask {
        Some(m) => format!("if ({ok}) {{ {var} = {sd} * scale + {m}; }}"),
        None => format!("{var} = select(ninf, {sd} * scale, {ok});"),
    }
}

/// Stores column `col` of a row's output from its accumulator `acc`, with the row's first
/// output `ob`, `m` and `l` in scope: `acc / l` rounded to the dtype, or for a part of a
/// split attention `acc`, `m` and `l` in f32, each over the runs.
fn store_column(e: &mut Emitter, c: &mut Code, ops: &Operands, col: &str, acc: &str) {
    writeln!(c, "      {{\n        let col = {col};");
    if ops.partial {
        let st = [
            e.store(0, "at", acc),
            e.store(0, "at + runs", "m"),
            e.store(0, "at + 2u * runs", "l"),
        ];
        writeln!(
            c,
            "        if (col < dv) {{\n          let at = (ob + col) * 3u * runs + s;\n          {}\n          {}\n          {}\n        }}",
            st[0], st[1], st[2]
        );
    } else {
        let dtype = e.k.outputs[0].dtype;
        let v = e.round(dtype, format!("{acc} / l"));
        let st = e.store(0, "ob + col", &v);
        writeln!(c, "        if (col < dv) {{ {st} }}");
    }
    c.push_str("      }\n");
}

#[cfg(test)]
#[path = "attention_tests.rs"]
mod tests;

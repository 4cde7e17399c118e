//! A matmul's operand A computed where the product reads it ([`kiln_ir::Prologue`]): `a_in`
//! and `a_at` evaluate the prologue's expression at A's coordinates, so every path that reads
//! A through them (tiled, gemv, the quantized gemv's vector staging) takes it. Attention's
//! computed q (`q_prologue`) is read the same way, through `kiln_four_q` (`computed_q`).
//!
//! The prologue's stages (reductions over A's row, a norm's sum of squares) are computed once
//! a batch by the whole workgroup, before the product: `kiln_row_stages` folds the row in a
//! workgroup tree and leaves each stage in `kiln_ps`, which `a_in` reads. A has one row a
//! batch (`m` is 1) in every kernel with a prologue: the verifier requires it, and
//! `computed_a` refuses a kernel without it, since a kernel's size is its own.

use crate::code::Code;
use crate::emit::{value_name, Emitter};
use crate::fold::{acc, combine};
use crate::matmul::{Dims, THREADS};
use crate::params::Param;
use crate::types::info;
use crate::CodegenError;
use kiln_ir::{DType, ExprId, Kernel, KernelKind, LoadId, Prologue, Stage, StageId};

/// Invocations of a matmul template's workgroup, which fold a row's stages together
/// ([`crate::qgemv_warp`]'s kernel folds them over its own).
pub const WG: u32 = THREADS * THREADS;

/// Bytes of workgroup memory matmul kernel `k`'s prologue declares in a workgroup of `wg`
/// invocations: the fold's tree and the stages' results where it has stages, else none.
pub fn workgroup_bytes(k: &Kernel, wg: u32) -> u32 {
    match &k.kind {
        KernelKind::Matmul {
            prologue: Some(p), ..
        } if !p.stages.is_empty() => 4 * (wg + p.stages.len() as u32),
        KernelKind::Matmul { .. }
        | KernelKind::Elementwise
        | KernelKind::Reduce { .. }
        | KernelKind::Attention { .. }
        | KernelKind::Scan { .. } => 0,
    }
}

/// Writes `a_in(bt, row, k)` and `a_at(bt, row, k)` (0 outside A) for prologue `p`, and its
/// stages' functions and workgroup memory, for workgroups of `wg` invocations (a power of
/// two).
pub(crate) fn computed_a(
    e: &mut Emitter,
    out: &mut Code,
    d: &Dims,
    p: &Prologue,
    wg: u32,
) -> Result<(), CodegenError> {
    let (m, kk) = (&d.m, &d.kk);
    let r = e.k.shape.rank();
    if e.k.shape.0[r - 2] != 1 {
        return Err(CodegenError::Structure {
            kernel: e.k.name.clone(),
            why: "a prologue in a product of several rows".into(),
        });
    }
    if !p.stages.is_empty() {
        row_stages(e, out, d, p, wg)?;
    }
    writeln!(
        out,
        "fn a_in(base: i32, r: u32, k: u32) -> f32 {{\n  let bt = u32(base);"
    );
    let rank = e.k.shape.rank();
    e.coords(out, "  ", "bt", 0..rank - 2);
    point(e, out, "  ", d);
    for s in 1..=p.stages.len() {
        let ty = info(stage_dtype(e, s)).value;
        writeln!(out, "  let red{s}: {ty} = {ty}(kiln_ps[{}]);", s - 1);
    }
    e.exprs(out, "  ", "i", &[p.a])?;
    let v = value_name(p.a, None);
    writeln!(
        out,
        "  return f32({v});\n}}\n\
         fn a_at(base: i32, r: u32, k: u32) -> f32 {{\n  if (r >= {m} || k >= {kk}) {{ return 0.0; }}\n  return a_in(base, r, k);\n}}"
    );
    Ok(())
}

/// Writes attention's computed q (`q_prologue`, expression `q`, load `l` giving q's shape,
/// rank `r`): `kiln_q_in(bt, row, col)`, q's element at `[batch..., row, col]` with the batch
/// `bt` numbered as the kernel's, and the reader every attention form calls,
/// `kiln_four_q(base, row, col, width, ok)` ([`crate::attention_stage::reader`]'s signature,
/// `base` the batch): four columns, each 0 outside the head (`width`) or where not `ok`, and
/// never evaluated there.
pub(crate) fn computed_q(
    e: &mut Emitter,
    out: &mut Code,
    q: ExprId,
    l: LoadId,
    r: usize,
) -> Result<(), CodegenError> {
    let sq = e.params.u32(Param::LoadDim(l, r - 2));
    let d = e.params.u32(Param::LoadDim(l, r - 1));
    writeln!(out, "fn kiln_q_in(bt: u32, row: u32, col: u32) -> f32 {{");
    e.coords(out, "  ", "bt", 0..r - 2);
    writeln!(
        out,
        "  let c{} = row;\n  let c{} = col;\n  let i = (bt * {sq} + row) * {d} + col;",
        r - 2,
        r - 1
    );
    e.exprs(out, "  ", "i", &[q])?;
    let v = value_name(q, None);
    writeln!(
        out,
        "  return f32({v});\n}}\n\
         fn kiln_q_at(bt: u32, row: u32, col: u32, ok: bool) -> f32 {{\n  \
         if (!ok) {{ return 0.0; }}\n  return kiln_q_in(bt, row, col);\n}}"
    );
    let cols: Vec<String> = (0..4)
        .map(|j| format!("kiln_q_at(bt, row, col + {j}u, ok && col + {j}u < width)"))
        .collect();
    writeln!(
        out,
        "fn kiln_four_q(base: i32, row: u32, col: u32, width: u32, ok: bool) -> vec4<f32> {{\n  \
         let bt = u32(base);\n  return vec4<f32>({});\n}}",
        cols.join(", ")
    );
    Ok(())
}

/// The statement that runs the stages of prologue `p` (if any) at the top of batch `bt`'s
/// iteration in `main`, where the workgroup folds them together.
pub(crate) fn run_stages(out: &mut Code, p: Option<&Prologue>, li: &str) {
    if p.is_some_and(|p| !p.stages.is_empty()) {
        writeln!(out, "    kiln_row_stages(bt, {li});");
    }
}

/// The coordinates of A's element `(bt, r, k)` past the batch's (which the caller has
/// written from `bt`): `c*` of the row and `k`, and the linear index `i`.
fn point(e: &mut Emitter, out: &mut Code, ind: &str, d: &Dims) {
    let r = e.k.shape.rank();
    writeln!(out, "{ind}let c{} = r;\n{ind}let c{} = k;", r - 2, r - 1);
    writeln!(out, "{ind}let i = (bt * {} + r) * {} + k;", d.m, d.kk);
}

/// The dtype of stage `s`'s result (`Acc(s)`, as the prologue reads it).
fn stage_dtype(e: &Emitter, s: usize) -> DType {
    e.k.acc_dtype(StageId::new(s)).unwrap_or(DType::F32)
}

/// Writes the workgroup's fold of every stage over the row of batch `bt`
/// (`kiln_row_stages(bt, li)`, `li` the invocation's index; results in `kiln_ps`).
fn row_stages(
    e: &mut Emitter,
    out: &mut Code,
    d: &Dims,
    p: &Prologue,
    wg: u32,
) -> Result<(), CodegenError> {
    let n = p.stages.len();
    writeln!(
        out,
        "var<workgroup> kiln_pr: array<f32, {wg}>;\nvar<workgroup> kiln_ps: array<f32, {n}>;"
    );
    writeln!(
        out,
        "fn kiln_row_stages(bt: u32, li: u32) {{\n  let r = 0u;"
    );
    let r = e.k.shape.rank();
    e.coords(out, "  ", "bt", 0..r - 2);
    for (i, st) in p.stages.iter().enumerate() {
        let s = i + 1;
        fold(e, out, d, st, s, wg)?;
        writeln!(out, "  kiln_pr[li] = acc{s};\n  workgroupBarrier();");
        let a = stage_acc(e, st)?;
        let c = combine(e, &a, "kiln_pr[li]", "kiln_pr[li + s]");
        writeln!(
            out,
            "  for (var s = {}u; s > 0u; s = s >> 1u) {{\n    if (li < s) {{ kiln_pr[li] = {c}; }}\n    workgroupBarrier();\n  }}",
            wg / 2
        );
        finish(e, out, d, st, s, "kiln_pr[0]");
        writeln!(
            out,
            "  workgroupBarrier();\n  if (li == 0u) {{ kiln_ps[{i}] = f32(red{s}); }}"
        );
    }
    writeln!(out, "  workgroupBarrier();\n}}");
    Ok(())
}

/// The accumulator of stage `st` (a float fold, as the kernel's verifier requires).
fn stage_acc(e: &Emitter, st: &Stage) -> Result<crate::fold::Acc, CodegenError> {
    acc(st.op, e.k.expr(st.expr).dtype).map_err(|why| CodegenError::Structure {
        kernel: e.k.name.clone(),
        why,
    })
}

/// `var acc{s}`: this invocation's share of stage `st` (every `wg`-th value of the row from
/// `li`; batch coordinates and earlier stages' `red*` in scope).
fn fold(
    e: &mut Emitter,
    out: &mut Code,
    d: &Dims,
    st: &Stage,
    s: usize,
    wg: u32,
) -> Result<(), CodegenError> {
    let a = stage_acc(e, st)?;
    e.use_helpers(a.init_helpers);
    writeln!(out, "  var acc{s}: {} = {};", a.ty, a.init);
    writeln!(out, "  for (var k = li; k < {}; k = k + {wg}u) {{", d.kk);
    point(e, out, "    ", d);
    e.exprs(out, "    ", "i", &[st.expr])?;
    let c = combine(
        e,
        &a,
        &format!("acc{s}"),
        &format!("f32({})", value_name(st.expr, None)),
    );
    writeln!(out, "    acc{s} = {c};\n  }}");
    Ok(())
}

/// `let red{s}`: stage `st`'s total `total` finished (a mean divided by `k`) and rounded to
/// its dtype.
fn finish(e: &mut Emitter, out: &mut Code, d: &Dims, st: &Stage, s: usize, total: &str) {
    // A stage is a float fold (the verifier refuses argmax and argmin).
    let fin = crate::fold::finished(st.op, total, &d.kk).unwrap_or_else(|| total.to_string());
    let dt = stage_dtype(e, s);
    let fin = e.round(dt, fin);
    writeln!(out, "  let red{s}: {} = {fin};", info(dt).value);
}

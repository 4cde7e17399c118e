//! The scan template (`KernelKind::Scan`): one workgroup per row (a point of every dim but the
//! last), each of its `reduce.workgroup` invocations owning a contiguous chunk of the row.
//! Pass 1 folds each chunk to its total. The workgroup then scans the totals in shared memory
//! (Hillis–Steele: `log2(wg)` steps), so that each invocation starts from the fold of the
//! chunks before its own. Pass 2 folds the chunk again from there and stores every running
//! value, rounded to the output dtype. Within a chunk values fold in row order; chunks join
//! in a tree, so a float sum is reassociated once per chunk boundary.

use crate::code::Code;
use crate::emit::Emitter;
use crate::fold::{acc, combine};
use crate::params::Param;
use crate::types::info;
use crate::{CodegenError, Schedule};
use kiln_ir::ops::ScanOp;
use kiln_ir::{Expr, ExprId};

/// One element of the row at `rr` in a block of its own: `let i`, the last coordinate, and
/// the expressions of `roots`.
fn element(e: &mut Emitter, b: &mut Code, ind: &str, roots: &[ExprId]) -> Result<(), CodegenError> {
    let count = e.params.u32(Param::Count);
    let rank = e.k.shape.rank();
    writeln!(b, "{ind}let i = o * {count} + rr;");
    if e.roots_need_coords(roots) {
        e.coords(b, ind, "rr", rank - 1..rank);
    }
    e.exprs(b, ind, "i", roots)
}

/// The `main` function (and the workgroup array) of a scan of `value` by `op`.
pub fn main(
    e: &mut Emitter,
    s: &Schedule,
    op: ScanOp,
    value: ExprId,
) -> Result<String, CodegenError> {
    let k = e.k;
    let wg = s.reduce.workgroup;
    let rank = k.shape.rank();
    let numel = e.params.u32(Param::Numel);
    let count = e.params.u32(Param::Count);
    let in_dtype = k.expr(value).dtype;
    let a = acc(op.fold(), in_dtype).map_err(|why| CodegenError::Structure {
        kernel: k.name.clone(),
        why,
    })?;
    e.use_helpers(a.init_helpers);
    let out_dtype = k
        .exprs
        .iter()
        .find(|x| matches!(x.expr, Expr::Acc(_)))
        .map_or(in_dtype, |x| x.dtype);
    let roots: Vec<ExprId> = k.outputs.iter().map(|o| o.expr).collect();
    let mut b = Code::new();
    writeln!(b, "var<workgroup> sv: array<{}, {wg}>;", a.ty);
    writeln!(
        b,
        "@compute @workgroup_size({wg})\nfn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {{"
    );
    writeln!(b, "  let o = wid.y * nwg.x + wid.x;");
    writeln!(b, "  let live = o < {numel};");
    writeln!(b, "  let chunk = ({count} + {}u) / {wg}u;", wg - 1);
    writeln!(b, "  let lo = min(lid * chunk, {count});");
    writeln!(b, "  let hi = min(lo + chunk, {count});");
    let all: Vec<ExprId> = roots.iter().copied().chain([value]).collect();
    if e.roots_need_coords(&all) {
        e.coords(&mut b, "  ", "o", 0..rank - 1);
    }
    let vt = info(in_dtype).value;
    // Pass 1: the chunk's total.
    writeln!(b, "  var tot: {} = {};", a.ty, a.init);
    writeln!(b, "  if (live) {{");
    writeln!(b, "    for (var rr = lo; rr < hi; rr = rr + 1u) {{");
    writeln!(b, "      var v: {vt};\n      {{");
    element(e, &mut b, "        ", &[value])?;
    writeln!(b, "        v = e{value};\n      }}");
    writeln!(b, "      tot = {};", combine(e, &a, "tot", "v"));
    writeln!(b, "    }}\n  }}");
    // The chunks' totals scanned across the workgroup (inclusive), then shifted by one.
    writeln!(b, "  sv[lid] = tot;\n  workgroupBarrier();");
    writeln!(b, "  for (var d = 1u; d < {wg}u; d = d << 1u) {{");
    writeln!(b, "    var t = sv[lid];");
    writeln!(
        b,
        "    if (lid >= d) {{\n      t = {};\n    }}",
        combine(e, &a, "sv[lid - d]", "t")
    );
    writeln!(
        b,
        "    workgroupBarrier();\n    sv[lid] = t;\n    workgroupBarrier();\n  }}"
    );
    writeln!(b, "  var run: {} = {};", a.ty, a.init);
    writeln!(b, "  if (lid > 0u) {{\n    run = sv[lid - 1u];\n  }}");
    // Pass 2: every running value, stored.
    writeln!(b, "  if (live) {{");
    writeln!(b, "    for (var rr = lo; rr < hi; rr = rr + 1u) {{");
    writeln!(b, "      var v: {vt};\n      {{");
    element(e, &mut b, "        ", &[value])?;
    writeln!(b, "        v = e{value};\n      }}");
    writeln!(b, "      run = {};", combine(e, &a, "run", "v"));
    let fin = e.round(out_dtype, "run".into());
    writeln!(b, "      let red0: {} = {fin};", info(out_dtype).value);
    writeln!(b, "      {{");
    element(e, &mut b, "        ", &roots)?;
    for (oi, o) in k.outputs.iter().enumerate() {
        let st = e.store(oi, "i", &format!("e{}", o.expr));
        writeln!(b, "        {st}");
    }
    writeln!(b, "      }}\n    }}\n  }}\n}}");
    b.finish()
}

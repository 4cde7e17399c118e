//! The reduction template: one workgroup per output element; each invocation strides over the
//! reduced elements with its own accumulator, then a shared-memory tree combines them.

use crate::emit::Emitter;
use crate::params::Param;
use crate::types::{self, info};
use crate::{CodegenError, Schedule};
use kiln_ir::ops::ReduceOp;
use kiln_ir::DType;
use std::fmt::Write;

/// The accumulator type, identity and combine step of a reduction over values of dtype `d`.
struct Acc {
    ty: &'static str,
    init: String,
}

fn acc(op: ReduceOp, d: DType) -> Acc {
    let ty = match d {
        DType::I32 => "i32",
        DType::U32 => "u32",
        _ => "f32",
    };
    let init = match (op, ty) {
        (ReduceOp::Sum | ReduceOp::Mean, "f32") => "0.0".into(),
        (ReduceOp::Sum | ReduceOp::Mean, "i32") => "0".into(),
        (ReduceOp::Sum | ReduceOp::Mean, _) => "0u".into(),
        (ReduceOp::Prod, "f32") => "1.0".into(),
        (ReduceOp::Prod, "i32") => "1".into(),
        (ReduceOp::Prod, _) => "1u".into(),
        (ReduceOp::Max | ReduceOp::ArgMax, "f32") => "bitcast<f32>(0xff800000u)".into(),
        (ReduceOp::Max | ReduceOp::ArgMax, "i32") => "bitcast<i32>(0x80000000u)".into(),
        (ReduceOp::Max | ReduceOp::ArgMax, _) => "0u".into(),
        (_, "f32") => "bitcast<f32>(0x7f800000u)".into(),
        (_, "i32") => "2147483647".into(),
        _ => "4294967295u".into(),
    };
    Acc { ty, init }
}

/// A WGSL expression combining accumulators `a` and `b`.
fn combine(e: &mut Emitter, op: ReduceOp, ty: &str, a: &str, b: &str) -> String {
    match (op, ty) {
        (ReduceOp::Sum | ReduceOp::Mean, _) => format!("{a} + {b}"),
        (ReduceOp::Prod, _) => format!("{a} * {b}"),
        (ReduceOp::Max, "f32") => {
            e.use_helpers(&["kiln_fmax"]);
            format!("kiln_fmax({a}, {b})")
        }
        (ReduceOp::Min, "f32") => {
            e.use_helpers(&["kiln_fmin"]);
            format!("kiln_fmin({a}, {b})")
        }
        (ReduceOp::Max, _) => format!("max({a}, {b})"),
        _ => format!("min({a}, {b})"),
    }
}

/// True when candidate (bv, bi) beats (av, ai) for argmax/argmin: the first NaN wins, then the
/// better value, then the smaller index.
fn arg_better(op: ReduceOp, ty: &str) -> String {
    let cmp = if op == ReduceOp::ArgMax { ">" } else { "<" };
    if ty == "f32" {
        format!(
            "fn kiln_better(av: f32, ai: u32, bv: f32, bi: u32) -> bool {{\n  let an = kiln_isnan(av);\n  let bn = kiln_isnan(bv);\n  if (an || bn) {{ return bn && (!an || bi < ai); }}\n  return bv {cmp} av || (bv == av && bi < ai);\n}}\n"
        )
    } else {
        format!(
            "fn kiln_better(av: {ty}, ai: u32, bv: {ty}, bi: u32) -> bool {{ return bv {cmp} av || (bv == av && bi < ai); }}\n"
        )
    }
}

/// The `main` function (and workgroup arrays) of a reduction kernel.
pub fn main(
    e: &mut Emitter,
    s: &Schedule,
    op: ReduceOp,
    red_rank: usize,
) -> Result<String, CodegenError> {
    let wg = s.workgroup_size;
    let (out_dtype, ex) = e.k.outputs[0];
    let in_dtype = e.k.exprs[ex].dtype;
    let a = acc(op, in_dtype);
    let arg = op.is_arg();
    let rank = e.k.shape.rank();
    let kept = rank - red_rank;
    let mut b = String::new();
    if arg {
        e.use_helpers(&["kiln_isnan"]);
        b.push_str(&arg_better(op, a.ty));
    }
    let _ = writeln!(b, "var<workgroup> sv: array<{}, {wg}>;", a.ty);
    if arg {
        let _ = writeln!(b, "var<workgroup> si: array<u32, {wg}>;");
    }
    let numel = e.params.u32(Param::Numel);
    let count = e.params.u32(Param::Count);
    let _ = writeln!(
        b,
        "@compute @workgroup_size({wg})\nfn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {{"
    );
    let _ = writeln!(b, "  let o = wid.y * nwg.x + wid.x;");
    let _ = writeln!(b, "  let live = o < {numel};");
    let _ = writeln!(b, "  var acc: {} = {};", a.ty, a.init);
    let _ = writeln!(b, "  var acci: u32 = 0xffffffffu;");
    let _ = writeln!(b, "  if (live) {{");
    if e.needs_coords() {
        e.coords(&mut b, "    ", "o", 0..kept);
    }
    let _ = writeln!(b, "    for (var r = lid; r < {count}; r = r + {wg}u) {{");
    let _ = writeln!(b, "      let i = o * {count} + r;");
    if e.needs_coords() {
        e.coords(&mut b, "      ", "r", kept..rank);
    }
    e.exprs(&mut b, "      ", "i")?;
    let v = match in_dtype {
        DType::Bool => format!("select(0u, 1u, e{ex})"),
        _ => format!("e{ex}"),
    };
    if arg {
        let _ = writeln!(
            b,
            "      if (kiln_better(acc, acci, {v}, r)) {{ acc = {v}; acci = r; }}"
        );
    } else {
        let c = combine(e, op, a.ty, "acc", &v);
        let _ = writeln!(b, "      acc = {c};");
    }
    let _ = writeln!(b, "    }}\n  }}");
    let _ = writeln!(b, "  sv[lid] = acc;");
    if arg {
        let _ = writeln!(b, "  si[lid] = acci;");
    }
    let _ = writeln!(b, "  workgroupBarrier();");
    let _ = writeln!(b, "  for (var s = {}u; s > 0u; s = s >> 1u) {{", wg / 2);
    let _ = writeln!(b, "    if (lid < s) {{");
    if arg {
        let _ = writeln!(
            b,
            "      if (kiln_better(sv[lid], si[lid], sv[lid + s], si[lid + s])) {{ sv[lid] = sv[lid + s]; si[lid] = si[lid + s]; }}"
        );
    } else {
        let c = combine(e, op, a.ty, "sv[lid]", "sv[lid + s]");
        let _ = writeln!(b, "      sv[lid] = {c};");
    }
    let _ = writeln!(b, "    }}\n    workgroupBarrier();\n  }}");
    let fin = if arg {
        "bitcast<i32>(select(si[0], 0u, si[0] == 0xffffffffu))".to_string()
    } else if op == ReduceOp::Mean {
        format!("sv[0] / f32({count})")
    } else {
        "sv[0]".to_string()
    };
    let fin = match info(out_dtype).round {
        Some(r) if out_dtype.is_float() => {
            e.use_helpers(&[r]);
            format!("{r}({fin})")
        }
        _ => fin,
    };
    let _ = writeln!(
        b,
        "  if (live && lid == 0u) {{ out0[o] = {}; }}\n}}",
        types::to_storage(&fin, out_dtype)
    );
    Ok(b)
}

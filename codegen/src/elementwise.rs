//! The elementwise template: one invocation per element of the iteration space, a 2-D grid of
//! workgroups so that more than 65535 workgroups fit.

use crate::code::Code;
use crate::emit::{value_name, Emitter};
use crate::params::Param;
use crate::types;
use crate::{CodegenError, Schedule};
use kiln_ir::{Expr, ExprId, Kernel};

/// The condition under which an in-place kernel changes an element: its one output is
/// `where(c, x, old)` with `old` the input it runs in place of (read where it is written,
/// [`Kernel::can_run_in_place`]). Where `c` is false the element keeps its value, so the
/// kernel reads `old`, computes `x` and stores only where `c` holds: an update of a few
/// elements of a large buffer (a KV cache's new rows) costs the condition's work, not the
/// buffer's traffic.
pub fn update_guard(k: &Kernel) -> Option<ExprId> {
    let (i, o) = k.inplace?;
    if k.outputs.len() != 1 {
        return None;
    }
    let Expr::Where(c, _, old) = k.expr(k.output(o).expr).expr else {
        return None;
    };
    matches!(k.expr(old).expr, Expr::Load(l) if k.load(l).input == i).then_some(c)
}

/// The `main` function of an elementwise kernel. Each invocation handles `s.elementwise.unroll`
/// elements, `workgroup` apart (coalesced), computing all of them before storing any, so that
/// their loads are in flight together.
pub fn main(e: &mut Emitter, s: &Schedule) -> Result<String, CodegenError> {
    if e.k.vector == 4 {
        return main_vec4(e, s);
    }
    let wg = s.elementwise.workgroup;
    let u = s.elementwise.unroll.max(1);
    let mut b = Code::new();
    let numel = e.params.u32(Param::Numel);
    writeln!(
        b,
        "@compute @workgroup_size({wg})\nfn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {{"
    );
    writeln!(
        b,
        "  let base = (wid.y * nwg.x + wid.x) * {}u + lid;",
        wg * u
    );
    let roots: Vec<ExprId> = e.k.outputs.iter().map(|o| o.expr).collect();
    let coords = e.roots_need_coords(&roots);
    let outs = e.k.outputs.clone();
    let guard = update_guard(e.k);
    for k in 0..u {
        for (o, out) in outs.iter().enumerate() {
            writeln!(b, "  var v{k}_{o}: {};", types::info(out.dtype).value);
        }
        writeln!(b, "  let i{k} = base + {}u;", k * wg);
        writeln!(b, "  if (i{k} < {numel}) {{");
        writeln!(b, "    let i = i{k};");
        if coords {
            let rank = e.k.shape.rank();
            e.coords(&mut b, "    ", "i", 0..rank);
        }
        if let Some(c) = guard {
            // Stored at once, only where the condition holds (`update_guard`).
            e.exprs(&mut b, "    ", "i", &[c])?;
            writeln!(b, "    if (e{c}) {{");
            e.exprs_beyond(&mut b, "      ", "i", &roots, &[c])?;
            let st = e.store(0, &format!("i{k}"), &format!("e{}", outs[0].expr));
            writeln!(b, "      {st}\n    }}\n  }}");
            continue;
        }
        e.exprs(&mut b, "    ", "i", &roots)?;
        for (o, out) in outs.iter().enumerate() {
            writeln!(b, "    v{k}_{o} = e{};", out.expr);
        }
        writeln!(b, "  }}");
    }
    for k in (0..u).filter(|_| guard.is_none()) {
        writeln!(b, "  if (i{k} < {numel}) {{");
        for o in 0..outs.len() {
            let st = e.store(o, &format!("i{k}"), &format!("v{k}_{o}"));
            writeln!(b, "    {st}");
        }
        writeln!(b, "  }}");
    }
    b.push_str("}\n");
    b.finish()
}

/// The vectorized form: each invocation loads one `vec4` per input, evaluates the expression
/// once per component (the components interleaved statement by statement, see
/// [`Emitter::lanes`]), and stores one `vec4` per output. Chosen only where every access is
/// contiguous, aligned and divisible by 4 ([`kiln_ir::Kernel::choose_vector`]).
fn main_vec4(e: &mut Emitter, s: &Schedule) -> Result<String, CodegenError> {
    let wg = s.elementwise.workgroup;
    let mut b = Code::new();
    let numel = e.params.u32(Param::Numel);
    writeln!(
        b,
        "@compute @workgroup_size({wg})\nfn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {{"
    );
    writeln!(b, "  let j = (wid.y * nwg.x + wid.x) * {wg}u + lid;");
    writeln!(b, "  if (j >= {numel} / 4u) {{ return; }}");
    let roots: Vec<ExprId> = e.k.outputs.iter().map(|o| o.expr).collect();
    writeln!(b, "  let i = j * 4u;");
    // Loads read whole vectors; everything after is per component, interleaved. Under an
    // update's condition, the rest is read, computed and stored only where a component's
    // condition holds (each component then takes `where`'s pick).
    let guard = update_guard(e.k);
    let ind = match guard {
        Some(c) => {
            e.with_lanes(4, |e| e.exprs(&mut b, "  ", "i", &[c]))?;
            let any: Vec<String> = (0..4).map(|l| value_name(c, Some(l))).collect();
            writeln!(b, "  if ({}) {{", any.join(" || "));
            "    "
        }
        None => "  ",
    };
    let emitted: Vec<ExprId> = guard.into_iter().collect();
    e.with_lanes(4, |e| e.exprs_beyond(&mut b, ind, "i", &roots, &emitted))?;
    for (o, out) in e.k.outputs.iter().enumerate() {
        let st = e.store_vector(o, "j", out.expr);
        writeln!(b, "{ind}{st}");
    }
    if guard.is_some() {
        b.push_str("  }\n");
    }
    b.push_str("}\n");
    b.finish()
}

/// Workgroups to dispatch for `groups` workgroups in total, as a 2-D grid.
pub fn grid_2d(groups: usize, max_dim: u32) -> Result<[u32; 3], CodegenError> {
    if groups == 0 {
        return Ok([0, 0, 0]);
    }
    // As few rows as needed, then as few columns: at most a row's worth of idle workgroups.
    let max = (max_dim as usize).max(1);
    let y = groups.div_ceil(max);
    let x = groups.div_ceil(y);
    if y > max {
        return Err(CodegenError::GridTooLarge { groups });
    }
    Ok([x as u32, y as u32, 1])
}

//! The reduction template: one workgroup per row (output element), or, for short rows
//! (`reduce.serial`), one invocation per row. A kernel runs its stages
//! in order (softmax: max, then sum), each stage's total being the next stage's input, then
//! writes its per-row and per-element outputs. In each stage every invocation accumulates its
//! share of the row (`reduce.unroll` loads per step, or from the row held in registers when
//! it fits `reduce.workgroup * reduce.cache`), and the workgroup combines the invocations'
//! accumulators through a shared-memory tree or, with `reduce.subgroups`, subgroup shuffles.

use crate::code::Code;
use crate::emit::{value_name, Emitter};
use crate::fold::{acc, arg_better, combine, Acc};
use crate::params::Param;
use crate::types::info;
use crate::{CodegenError, Schedule};
use kiln_ir::ops::{ReduceOp, ReduceRule};
use kiln_ir::{Expr, ExprId, Output, Stage, StageId, Store, ViewKind};
use std::collections::BTreeSet;

/// The statement that folds `b` (with index `bi`, for argmax/argmin) into `a` (and `ai`):
/// the one place the combining rules (NaN first, then value, then lower index) are written.
fn fold(
    e: &mut Emitter,
    op: ReduceOp,
    acc: &Acc,
    better: &str,
    (a, ai): (&str, &str),
    (b, bi): (&str, &str),
) -> String {
    if op.is_arg() {
        format!("if ({better}({a}, {ai}, {b}, {bi})) {{ {a} = {b}; {ai} = {bi}; }}")
    } else {
        format!("{a} = {};", combine(e, acc, a, b))
    }
}

/// One accumulation step of stage `si` inside a row loop.
struct Step<'a> {
    si: usize,
    op: ReduceOp,
    acc: &'a Acc,
    /// The comparison helper of argmax/argmin stages.
    better: &'a str,
}

impl Step<'_> {
    /// Folds value `v`, found at reduced index `idx`, into the stage's accumulator.
    fn emit(&self, e: &mut Emitter, b: &mut Code, v: &str, idx: &str) {
        let si = self.si;
        let (acc, acci) = (format!("acc{si}"), format!("acci{si}"));
        let f = fold(e, self.op, self.acc, self.better, (&acc, &acci), (v, idx));
        writeln!(b, "      {f}");
    }
}

/// The `main` function (and workgroup arrays) of a reduce kernel: one workgroup per row, which
/// runs the row's stages in order, then its per-row and per-element outputs (in a function
/// `rows_*`). With `s.reduce.cache = C > 0`, a row of at most `C` elements per invocation is
/// read from memory once into registers (`rows_cached`) and every stage and output reads the
/// registers; longer rows take the looping path (`rows_looped`), which reads memory in each
/// stage. With `s.reduce.serial`, each invocation is a row of its own (the cached row
/// function written for a workgroup of one, its totals its own accumulators; the row must fit
/// `cache`) and a workgroup holds `s.reduce.workgroup` rows.
pub fn main(
    e: &mut Emitter,
    s: &Schedule,
    stages: &[Stage],
    red_rank: usize,
) -> Result<String, CodegenError> {
    let wg = s.reduce.workgroup;
    let serial = s.reduce.serial > 0;
    // Invocations that share a row.
    let per_row = if serial { 1 } else { wg };
    let numel = e.params.u32(Param::Numel);
    let count = e.params.u32(Param::Count);
    let mut head = Head::default();
    let cache = s.reduce.cache;
    // A serial row is held in registers whole (`generate` checks that it fits), so it has
    // only the cached function.
    let mut b = if serial {
        Code::new()
    } else {
        rows(e, &mut head, s, stages, red_rank, None)?
    };
    if cache > 0 {
        b.append(rows(e, &mut head, s, stages, red_rank, Some(cache))?);
    }
    let (sg_in, sg_args) = if s.reduce.subgroups {
        (
            ", @builtin(subgroup_invocation_id) sg_lane: u32, @builtin(subgroup_size) sg_size: u32, @builtin(subgroup_id) sg_id: u32, @builtin(num_subgroups) n_sg: u32",
            ", sg_lane, sg_size, sg_id, n_sg",
        )
    } else {
        ("", "")
    };
    writeln!(
        b,
        "@compute @workgroup_size({wg})\nfn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32{sg_in}) {{"
    );
    let at = if serial {
        writeln!(b, "  let o = (wid.y * nwg.x + wid.x) * {wg}u + lid;");
        "0u"
    } else {
        writeln!(b, "  let o = wid.y * nwg.x + wid.x;");
        "lid"
    };
    writeln!(b, "  let live = o < {numel};");
    if serial {
        writeln!(b, "  rows_cached(o, live, {at}{sg_args});");
    } else if cache > 0 {
        writeln!(
            b,
            "  if ({count} <= {}u) {{\n    rows_cached(o, live, {at}{sg_args});\n  }} else {{\n    rows_looped(o, live, {at}{sg_args});\n  }}",
            per_row * cache
        );
    } else {
        writeln!(b, "  rows_looped(o, live, {at}{sg_args});");
    }
    b.push_str("}\n");
    let mut out = head.text;
    if !serial {
        for ty in head.shared {
            writeln!(out, "var<workgroup> sv_{ty}: array<{ty}, {wg}>;");
        }
        if stages.iter().any(|st| st.op.is_arg()) {
            writeln!(out, "var<workgroup> si: array<u32, {wg}>;");
        }
    }
    out.append(b);
    out.finish()
}

/// What goes before a reduce kernel's row functions, gathered while they are written: the
/// argmax/argmin comparison functions, and the accumulator types the workgroup combines
/// through shared memory.
#[derive(Default)]
struct Head {
    /// The comparison functions written so far.
    text: Code,
    /// The names of the functions in `text`, each written once however many stages use it.
    betters: BTreeSet<String>,
    /// The accumulator types, in order of first use (one workgroup array each).
    shared: Vec<&'static str>,
}

/// The workgroup total of stage `si` by a shared-memory tree: `log2(wg)` steps, a barrier each.
fn tree_total(
    e: &mut Emitter,
    b: &mut Code,
    si: usize,
    op: ReduceOp,
    a: &Acc,
    better: &str,
    wg: u32,
) {
    let sv = format!("sv_{}", a.ty);
    let arg = op.is_arg();
    writeln!(b, "  {sv}[lid] = acc{si};");
    if arg {
        writeln!(b, "  si[lid] = acci{si};");
    }
    writeln!(b, "  workgroupBarrier();");
    writeln!(b, "  for (var s = {}u; s > 0u; s = s >> 1u) {{", wg / 2);
    writeln!(b, "    if (lid < s) {{");
    let (x, y) = (format!("{sv}[lid]"), format!("{sv}[lid + s]"));
    let f = fold(e, op, a, better, (&x, "si[lid]"), (&y, "si[lid + s]"));
    writeln!(b, "      {f}");
    writeln!(b, "    }}\n    workgroupBarrier();\n  }}");
    writeln!(b, "  let tot{si} = {sv}[0];");
    if arg {
        writeln!(b, "  let toti{si} = si[0];");
    }
}

/// Folds `v` (and index `vi`) across a subgroup with a butterfly of shuffles, so that every
/// lane ends with the subgroup's total (the op's own NaN and tie rules, unlike the
/// built-in subgroup reductions).
fn butterfly(e: &mut Emitter, b: &mut Code, ind: &str, op: ReduceOp, a: &Acc, better: &str) {
    writeln!(
        b,
        "{ind}for (var m = sg_size >> 1u; m > 0u; m = m >> 1u) {{"
    );
    writeln!(b, "{ind}  let w = subgroupShuffleXor(v, m);");
    if op.is_arg() {
        writeln!(b, "{ind}  let wi = subgroupShuffleXor(vi, m);");
    }
    let f = fold(e, op, a, better, ("v", "vi"), ("w", "wi"));
    writeln!(b, "{ind}  {f}");
    writeln!(b, "{ind}}}");
}

/// The workgroup total of stage `si` with subgroup shuffles (wgpu's native subgroup built-ins;
/// naga 30 does not take WGSL's `enable subgroups;` yet): a butterfly in each subgroup,
/// one slot per subgroup in workgroup memory, one barrier, then every subgroup folds the slots
/// (in chunks of its size) the same way.
fn subgroup_total(e: &mut Emitter, b: &mut Code, si: usize, op: ReduceOp, a: &Acc, better: &str) {
    let sv = format!("sv_{}", a.ty);
    let arg = op.is_arg();
    writeln!(b, "  var tot{si}: {} = {};", a.ty, a.init);
    if arg {
        writeln!(b, "  var toti{si}: u32 = 0xffffffffu;");
    }
    writeln!(b, "  {{\n    var v = acc{si};");
    if arg {
        writeln!(b, "    var vi = acci{si};");
    }
    butterfly(e, b, "    ", op, a, better);
    writeln!(b, "    if (sg_lane == 0u) {{\n      {sv}[sg_id] = v;");
    if arg {
        writeln!(b, "      si[sg_id] = vi;");
    }
    writeln!(b, "    }}\n  }}\n  workgroupBarrier();");
    writeln!(
        b,
        "  for (var base = 0u; base < n_sg; base = base + sg_size) {{"
    );
    writeln!(b, "    var v: {} = {};", a.ty, a.init);
    if arg {
        writeln!(b, "    var vi = 0xffffffffu;");
    }
    writeln!(
        b,
        "    if (base + sg_lane < n_sg) {{\n      v = {sv}[base + sg_lane];"
    );
    if arg {
        writeln!(b, "      vi = si[base + sg_lane];");
    }
    writeln!(b, "    }}");
    butterfly(e, b, "    ", op, a, better);
    let (tot, toti) = (format!("tot{si}"), format!("toti{si}"));
    let f = fold(e, op, a, better, (&tot, &toti), ("v", "vi"));
    writeln!(b, "    {f}");
    writeln!(b, "  }}");
}

/// Opens the block of slot `j` of a cached row, skipped past the row's end: `rr` is its
/// element, or with `width` 4 the first of its vector's four (whole vectors: the row length
/// divides by 4).
fn open_slot(b: &mut Code, j: u32, wg: u32, count: &str, width: u32) {
    let slot = format!("lid + {}u", j * wg);
    let (bound, rr) = match width {
        1 => (count.to_string(), slot.clone()),
        w => (format!("{count} / {w}u"), format!("({slot}) * {w}u")),
    };
    writeln!(b, "    if ({slot} < {bound}) {{\n      let rr = {rr};");
}

/// True if a load of `roots` that the row's registers do not hold needs coordinates.
fn unheld_need_coords(e: &Emitter, roots: &[ExprId]) -> bool {
    e.loads_of(roots)
        .iter()
        .any(|l| !e.held.contains(l) && e.k.load(*l).view.kind() != ViewKind::Contiguous)
}

/// True when the expressions `roots` gather (and so need coordinates even where every load is
/// held in registers).
fn gathers(e: &Emitter, roots: &[ExprId]) -> bool {
    let need = e.needed(roots);
    e.k.exprs
        .iter()
        .enumerate()
        .any(|(i, x)| need[i] && matches!(x.expr, Expr::Gather { .. }))
}

/// The function `rows_looped` (cache `None`) or `rows_cached` (`Some(C)`): every stage of row
/// `o`, then the outputs; the functions and arrays it needs before it go to `head`.
fn rows(
    e: &mut Emitter,
    head: &mut Head,
    s: &Schedule,
    stages: &[Stage],
    red_rank: usize,
    cache: Option<u32>,
) -> Result<Code, CodegenError> {
    // Invocations that share a row (one where rows are serial).
    let serial = s.reduce.serial > 0;
    let wg = if serial { 1 } else { s.reduce.workgroup };
    let k = e.k;
    let rank = k.shape.rank();
    let kept = rank - red_rank;
    let count = e.params.u32(Param::Count);
    let mut b = Code::new();
    let name = if cache.is_some() { "cached" } else { "looped" };
    let sg_params = if s.reduce.subgroups {
        ", sg_lane: u32, sg_size: u32, sg_id: u32, n_sg: u32"
    } else {
        ""
    };
    writeln!(
        b,
        "fn rows_{name}(o: u32, live: bool, lid: u32{sg_params}) {{"
    );
    let all_roots: Vec<ExprId> = stages
        .iter()
        .map(|st| st.expr)
        .chain(k.outputs.iter().map(|o| o.expr))
        .collect();
    if e.roots_need_coords(&all_roots) {
        e.coords(&mut b, "  ", "o", 0..kept);
    }
    // When cached, the loads held in registers: those the stages read. A load that only the
    // per-element outputs read (layer norm's weight and bias) is read where it is used, so
    // that the registers hold one row rather than three (more rows resident per SM).
    let stage_roots: Vec<ExprId> = stages.iter().map(|st| st.expr).collect();
    let held = e.loads_of(&stage_roots);
    e.held = if cache.is_some() {
        held.clone()
    } else {
        vec![]
    };
    // Slot `j` of invocation `lid` holds element `lid + j * wg` of the row, in variables
    // (not an array: drivers keep an array indexed in a loop in memory, not in registers,
    // which made these kernels several times slower; docs/journal/).
    // A vector kernel's cached rows hold `vec4`s: slot `j` of invocation `lid` is elements
    // `4 * (lid + j * wg)` to `+ 3` of the row, read as one aligned vector.
    let vec = k.vector == 4 && cache.is_some_and(|c| c % 4 == 0);
    if let (Some(c), true) = (cache, vec) {
        for j in 0..c / 4 {
            for &l in &held {
                let ty = e.vector_type(k.input(k.load(l).input));
                writeln!(b, "  var rc{l}_{j}: {ty};");
            }
        }
        let coords = e.roots_need_coords(&stage_roots);
        writeln!(b, "  if (live) {{");
        for j in 0..c / 4 {
            open_slot(&mut b, j, wg, &count, 4);
            writeln!(b, "      let i = o * {count} + rr;");
            if coords {
                e.coords(&mut b, "      ", "rr", kept..rank);
            }
            for &l in &held {
                let v = e.vector_at(&mut b, "      ", "i", l);
                writeln!(b, "      rc{l}_{j} = {v};");
            }
            writeln!(b, "    }}");
        }
        writeln!(b, "  }}");
    } else if let Some(c) = cache {
        for j in 0..c {
            for &l in &held {
                let ty = info(k.input(k.load(l).input)).value;
                writeln!(b, "  var rc{l}_{j}: {ty};\n  var rq{l}_{j}: bool;");
            }
        }
        let coords = e.roots_need_coords(&stage_roots);
        writeln!(b, "  if (live) {{");
        for j in 0..c {
            open_slot(&mut b, j, wg, &count, 1);
            writeln!(b, "      let i = o * {count} + rr;");
            if coords {
                e.coords(&mut b, "      ", "rr", kept..rank);
            }
            e.load_values(&mut b, "      ", "i", &held);
            for &l in &held {
                writeln!(b, "      rc{l}_{j} = ld{l};\n      rq{l}_{j} = ok{l};");
            }
            writeln!(b, "    }}");
        }
        writeln!(b, "  }}");
    }
    // One element of the row at `rr` (slot `j` when cached): `let i`, coordinates, the
    // expressions of `roots`.
    let element = |e: &mut Emitter, b: &mut Code, ind: &str, j: Option<u32>, roots: &[ExprId]| {
        writeln!(b, "{ind}let i = o * {count} + rr;");
        let coords = match j {
            Some(_) => gathers(e, roots) || unheld_need_coords(e, roots),
            None => e.roots_need_coords(roots),
        };
        if coords {
            e.coords(b, ind, "rr", kept..rank);
        }
        e.cached = j;
        let r = e.exprs(b, ind, "i", roots);
        e.cached = None;
        r
    };
    for (si, st) in stages.iter().enumerate() {
        let in_dtype = k.expr(st.expr).dtype;
        let a = acc(st.op, in_dtype).map_err(|why| CodegenError::Structure {
            kernel: k.name.clone(),
            why,
        })?;
        e.use_helpers(a.init_helpers);
        if !head.shared.contains(&a.ty) {
            head.shared.push(a.ty);
        }
        let arg = st.op.is_arg();
        writeln!(b, "  var acc{si}: {} = {};", a.ty, a.init);
        if arg {
            writeln!(b, "  var acci{si}: u32 = 0xffffffffu;");
        }
        let better = format!("kiln_better_{}_{}", st.op.name(), a.ty);
        let step = Step {
            si,
            op: st.op,
            acc: &a,
            better: &better,
        };
        writeln!(b, "  if (live) {{");
        if let (Some(c), true) = (cache, vec) {
            for j in 0..c / 4 {
                open_slot(&mut b, j, wg, &count, 4);
                e.with_lanes(4, |e| element(e, &mut b, "      ", Some(j), &[st.expr]))?;
                let v = |lane| value_name(st.expr, Some(lane));
                if arg {
                    // Index-aware folds, in element order.
                    for lane in 0..4 {
                        step.emit(e, &mut b, &v(lane), &format!("rr + {lane}u"));
                    }
                } else {
                    // The four components pairwise first, so that the chain through the
                    // accumulator is one step a vector, not four.
                    let lo = combine(e, &a, &v(0), &v(1));
                    let hi = combine(e, &a, &v(2), &v(3));
                    writeln!(
                        b,
                        "      let q{si} = {};",
                        combine(e, &a, &format!("({lo})"), &format!("({hi})"))
                    );
                    step.emit(e, &mut b, &format!("q{si}"), "rr");
                }
                writeln!(b, "    }}");
            }
        } else if let Some(c) = cache {
            for j in 0..c {
                open_slot(&mut b, j, wg, &count, 1);
                element(e, &mut b, "      ", Some(j), &[st.expr])?;
                step.emit(e, &mut b, &format!("e{}", st.expr), "rr");
                writeln!(b, "    }}");
            }
        } else {
            let u = s.reduce.unroll.max(1);
            writeln!(b, "    var r = lid;");
            // Main loop: `u` elements per step, all loaded before any is combined.
            if u > 1 {
                writeln!(
                    b,
                    "    for (; r + {}u < {count}; r = r + {}u) {{",
                    (u - 1) * wg,
                    u * wg
                );
                for kk in 0..u {
                    writeln!(b, "      var v{kk}: {};", info(in_dtype).value);
                    writeln!(b, "      {{\n        let rr = r + {}u;", kk * wg);
                    element(e, &mut b, "        ", None, &[st.expr])?;
                    writeln!(b, "        v{kk} = e{};\n      }}", st.expr);
                }
                for kk in 0..u {
                    step.emit(e, &mut b, &format!("v{kk}"), &format!("r + {}u", kk * wg));
                }
                writeln!(b, "    }}");
            }
            // Tail: one element per step.
            writeln!(b, "    for (; r < {count}; r = r + {wg}u) {{");
            writeln!(b, "      let rr = r;");
            element(e, &mut b, "      ", None, &[st.expr])?;
            step.emit(e, &mut b, &format!("e{}", st.expr), "r");
            writeln!(b, "    }}");
        }
        writeln!(b, "  }}");
        if arg && head.betters.insert(better.clone()) {
            e.use_helpers(&["kiln_isnan"]);
            if let ReduceRule::Arg { better: wins, .. } = st.op.spec().rule {
                head.text.push_str(&arg_better(&better, wins, a.class));
            }
        }
        // The workgroup's total, in `tot{si}` (and `toti{si}`).
        if serial {
            writeln!(b, "  let tot{si} = acc{si};");
            if arg {
                writeln!(b, "  let toti{si} = acci{si};");
            }
        } else if s.reduce.subgroups {
            subgroup_total(e, &mut b, si, st.op, &a, &better);
        } else {
            tree_total(e, &mut b, si, st.op, &a, &better, wg);
        }
        // The finalized, rounded result, the same in every invocation of the workgroup.
        let out_dtype = k.acc_dtype(StageId::new(si)).unwrap_or(in_dtype);
        let fin = crate::fold::finished(st.op, &format!("tot{si}"), &count).unwrap_or_else(|| {
            format!("bitcast<i32>(select(toti{si}, 0u, toti{si} == 0xffffffffu))")
        });
        let fin = e.round(out_dtype, fin);
        writeln!(b, "  let red{si}: {} = {fin};", info(out_dtype).value);
        if !serial {
            writeln!(b, "  workgroupBarrier();");
        }
    }
    let row: Vec<(usize, &Output)> = k
        .outputs
        .iter()
        .enumerate()
        .filter(|(_, o)| o.store == Store::Row)
        .collect();
    let full: Vec<(usize, &Output)> = k
        .outputs
        .iter()
        .enumerate()
        .filter(|(_, o)| o.store == Store::Full)
        .collect();
    if !row.is_empty() {
        let roots: Vec<ExprId> = row.iter().map(|(_, o)| o.expr).collect();
        writeln!(b, "  if (live && lid == 0u) {{");
        writeln!(b, "    let i = o;");
        e.exprs(&mut b, "    ", "i", &roots)?;
        for (oi, o) in &row {
            let st = e.store(*oi, "o", &format!("e{}", o.expr));
            writeln!(b, "    {st}");
        }
        writeln!(b, "  }}");
    }
    if !full.is_empty() {
        let roots: Vec<ExprId> = full.iter().map(|(_, o)| o.expr).collect();
        writeln!(b, "  if (live) {{");
        if let (Some(c), true) = (cache, vec) {
            for j in 0..c / 4 {
                open_slot(&mut b, j, wg, &count, 4);
                e.with_lanes(4, |e| element(e, &mut b, "      ", Some(j), &roots))?;
                for (oi, o) in &full {
                    let st = e.store_vector(*oi, "i / 4u", o.expr);
                    writeln!(b, "      {st}");
                }
                writeln!(b, "    }}");
            }
        } else if let Some(c) = cache {
            for j in 0..c {
                open_slot(&mut b, j, wg, &count, 1);
                element(e, &mut b, "      ", Some(j), &roots)?;
                for (oi, o) in &full {
                    let st = e.store(*oi, "i", &format!("e{}", o.expr));
                    writeln!(b, "      {st}");
                }
                writeln!(b, "    }}");
            }
        } else {
            let u = s.reduce.unroll.max(1);
            writeln!(
                b,
                "    for (var r = lid; r < {count}; r = r + {}u) {{",
                u * wg
            );
            for kk in 0..u {
                for (oi, o) in &full {
                    writeln!(b, "      var v{kk}_{oi}: {};", info(o.dtype).value);
                }
                writeln!(b, "      let rr{kk} = r + {}u;", kk * wg);
                writeln!(b, "      if (rr{kk} < {count}) {{");
                writeln!(b, "        let rr = rr{kk};");
                element(e, &mut b, "        ", None, &roots)?;
                for (oi, o) in &full {
                    writeln!(b, "        v{kk}_{oi} = e{};", o.expr);
                }
                writeln!(b, "      }}");
            }
            for kk in 0..u {
                writeln!(b, "      if (rr{kk} < {count}) {{");
                for (oi, _) in &full {
                    let st = e.store(
                        *oi,
                        &format!("o * {count} + rr{kk}"),
                        &format!("v{kk}_{oi}"),
                    );
                    writeln!(b, "        {st}");
                }
                writeln!(b, "      }}");
            }
            writeln!(b, "    }}");
        }
        writeln!(b, "  }}");
    }
    b.push_str("}\n");
    e.held.clear();
    Ok(b)
}

//! The accumulator of a reduction stage, from the op's table entry (`ReduceOp::spec`): its
//! WGSL type and identity, the expression combining two accumulators, and the comparison of
//! argmax/argmin candidates.

use crate::emit::Emitter;
use crate::ops;
use kiln_ir::ops::reduce::{Better, Finish};
use kiln_ir::ops::{Class, ReduceOp, ReduceRule, Wgsl};
use kiln_ir::DType;

/// The accumulator of a reduction over values of one class: its WGSL type, identity and
/// combining template, from the op's table entry (for argmax/argmin, those of the value order).
pub(crate) struct Acc {
    pub(crate) ty: &'static str,
    pub(crate) init: String,
    /// Helpers `init` calls.
    pub(crate) init_helpers: &'static [&'static str],
    combine: Wgsl,
    pub(crate) class: Class,
}

pub(crate) fn acc(op: ReduceOp, d: DType) -> Result<Acc, String> {
    let class = Class::of(d);
    let f = op.folds();
    let refused = || format!("{} is not defined on {d}", op.name());
    let (init, combine) = match class {
        Class::Float => f.float.map(|i| (float_literal(i.identity as f32), i.wgsl)),
        Class::I32 => f.i32.map(|i| {
            let lit = match i.identity {
                // The literal `-2147483648` does not parse as a WGSL i32.
                i32::MIN => "bitcast<i32>(0x80000000u)".to_string(),
                v => v.to_string(),
            };
            (lit, i.wgsl)
        }),
        Class::U32 => f.u32.map(|i| (format!("{}u", i.identity), i.wgsl)),
        Class::Bool => f.bool.map(|i| (i.identity.to_string(), i.wgsl)),
    }
    .ok_or_else(refused)?;
    let init_helpers = match f.float {
        Some(i) if class == Class::Float => {
            crate::types::literal_helpers(kiln_ir::Scalar::F(i.identity), DType::F32)
        }
        _ => &[],
    };
    Ok(Acc {
        ty: class.wgsl_type(),
        init,
        init_helpers,
        combine,
        class,
    })
}

/// An f32 identity as WGSL: finite values as decimals, infinities from their bits at run
/// time (`types::f32_bits`).
fn float_literal(v: f32) -> String {
    if v.is_finite() {
        format!("{v:?}")
    } else {
        crate::types::f32_bits(v.to_bits())
    }
}

/// A WGSL expression combining accumulators `a` and `b`.
pub(crate) fn combine(e: &mut Emitter, acc: &Acc, a: &str, b: &str) -> String {
    e.use_helpers(acc.combine.helpers);
    ops::render(&acc.combine, acc.class, &[a, b])
}

/// True when candidate (bv, bi) beats (av, ai) for argmax/argmin: the first NaN wins, then the
/// better value, then the smaller index.
pub(crate) fn arg_better(name: &str, better: Better, class: Class) -> String {
    let cmp = match better {
        Better::Greater => ">",
        Better::Less => "<",
    };
    let ty = class.wgsl_type();
    if class == Class::Float {
        format!(
            "fn {name}(av: f32, ai: u32, bv: f32, bi: u32) -> bool {{\n  let an = kiln_isnan(av);\n  let bn = kiln_isnan(bv);\n  if (an || bn) {{ return bn && (!an || bi < ai); }}\n  return bv {cmp} av || (bv == av && bi < ai);\n}}\n"
        )
    } else {
        format!(
            "fn {name}(av: {ty}, ai: u32, bv: {ty}, bi: u32) -> bool {{ return bv {cmp} av || (bv == av && bi < ai); }}\n"
        )
    }
}

/// A fold's total `total` finished over `count` values (a mean divided by the count), or
/// `None` for argmax and argmin, whose result is an index.
pub(crate) fn finished(op: ReduceOp, total: &str, count: &str) -> Option<String> {
    match op.spec().rule {
        ReduceRule::Fold {
            finish: Finish::DivideByCount,
            ..
        } => Some(format!("{total} / f32({count})")),
        ReduceRule::Fold {
            finish: Finish::Total,
            ..
        } => Some(total.to_string()),
        ReduceRule::Arg { .. } => None,
    }
}

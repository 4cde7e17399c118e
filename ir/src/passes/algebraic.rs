//! Algebraic simplification: only rewrites that keep every value bit for bit, NaN, Inf and the
//! sign of zero included.

use super::{broadcast_const, rewrite, Pass};
use crate::ops::{BinaryOp, UnaryOp};
use crate::{Graph, Op, Result, Scalar};

/// Rewrites, each exact for every input:
/// - `x * 1`, `1 * x`, `x / 1` → `x` (multiplying by one is exact, NaN stays NaN);
/// - `x + (-0.0)`, `(-0.0) + x`, `x - (+0.0)` → `x` for floats (`-0 + -0 = -0`,
///   `+0 + -0 = +0`); for integers `x + 0`, `0 + x`, `x - 0` → `x`. Not `x + 0.0`, which
///   turns `-0` into `+0`, and not `x * 0`, which is NaN for infinite `x`;
/// - `-(-x)` → `x`;
/// - `where(c, x, x)` → `x`.
pub struct AlgebraicSimplification;

fn is(v: Option<Scalar>, want: f64, neg_zero: bool) -> bool {
    match v {
        Some(Scalar::F(f)) => f == want && (!neg_zero || f.is_sign_negative()),
        Some(Scalar::I(i)) => i as f64 == want,
        _ => false,
    }
}

/// An operand of a binary op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// The first (`a` of `a op b`).
    First,
    /// The second.
    Second,
}

/// The operand `a op b` equals for every value of it, where the other operand is the constant
/// `ca` or `cb` (`None`: not a constant) and `float` says the dtype is a float: the binary
/// identities listed on [`AlgebraicSimplification`].
pub fn identity_operand(
    op: BinaryOp,
    ca: Option<Scalar>,
    cb: Option<Scalar>,
    float: bool,
) -> Option<Operand> {
    match op {
        BinaryOp::Mul if is(cb, 1.0, false) => Some(Operand::First),
        BinaryOp::Mul if is(ca, 1.0, false) => Some(Operand::Second),
        BinaryOp::Div if is(cb, 1.0, false) => Some(Operand::First),
        BinaryOp::Add if is(cb, 0.0, float) => Some(Operand::First),
        BinaryOp::Add if is(ca, 0.0, float) => Some(Operand::Second),
        BinaryOp::Sub if is(cb, 0.0, false) && !is(cb, 0.0, true) => Some(Operand::First),
        BinaryOp::Sub if !float && is(cb, 0.0, false) => Some(Operand::First),
        _ => None,
    }
}

impl Pass for AlgebraicSimplification {
    fn name(&self) -> &'static str {
        "algebraic-simplification"
    }
    fn run(&self, g: &Graph) -> Result<Graph> {
        rewrite(g, |ng, node, srcs| {
            let float = node.dtype().is_float();
            Ok(match &node.op {
                Op::Binary(op) => {
                    let (a, b) = (srcs[0], srcs[1]);
                    let (ca, cb) = (broadcast_const(ng, a), broadcast_const(ng, b));
                    identity_operand(*op, ca, cb, float).map(|o| match o {
                        Operand::First => a,
                        Operand::Second => b,
                    })
                }
                Op::Unary(UnaryOp::Neg) => {
                    let s = srcs[0];
                    match (&ng.node(s).op, ng.srcs(s).first()) {
                        (Op::Unary(UnaryOp::Neg), Some(&inner)) => Some(inner),
                        _ => None,
                    }
                }
                Op::Where if srcs[1] == srcs[2] => Some(srcs[1]),
                _ => None,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::ViewOp;
    use crate::{DType, HostTensor, Shape, TensorType};

    fn graph(op: BinaryOp, c: f64) -> (Graph, usize) {
        let mut g = Graph::new();
        let x = g.input(DType::F32, Shape::new(&[4])).unwrap();
        let k = g
            .add_leaf(
                Op::Const(Scalar::F(c)),
                TensorType::new(DType::F32, Shape::scalar()),
            )
            .unwrap();
        let k = g
            .add(Op::View(ViewOp::Expand(Shape::new(&[4]))), &[k])
            .unwrap();
        let y = g.add(Op::Binary(op), &[x, k]).unwrap();
        let n = g.len();
        g.mark_output(y);
        (g, n)
    }

    #[test]
    fn exact_identities_only() {
        let input =
            HostTensor::from_slice(&[-0.0f32, f32::NAN, f32::INFINITY, 2.5], Shape::new(&[4]))
                .unwrap();
        for (op, c, removed) in [
            (BinaryOp::Mul, 1.0, true),
            (BinaryOp::Div, 1.0, true),
            (BinaryOp::Add, -0.0, true),
            (BinaryOp::Sub, 0.0, true),
            (BinaryOp::Add, 0.0, false),
            (BinaryOp::Mul, 0.0, false),
            (BinaryOp::Sub, -0.0, false),
        ] {
            let (g, _) = graph(op, c);
            let out = AlgebraicSimplification.run(&g).unwrap();
            let simplified = out
                .topo()
                .iter()
                .all(|&n| !matches!(out.node(n).op, Op::Binary(_)));
            assert_eq!(simplified, removed, "{} {c}", op.name());
            let a = crate::interp::evaluate(&g, std::slice::from_ref(&input)).unwrap();
            let b = crate::interp::evaluate(&out, std::slice::from_ref(&input)).unwrap();
            let bits = |t: &HostTensor| match &t.data {
                crate::HostData::F(v) => v.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                _ => vec![],
            };
            assert_eq!(
                bits(&a[0]),
                bits(&b[0]),
                "{} {c} must not change bits",
                op.name()
            );
        }
    }
}

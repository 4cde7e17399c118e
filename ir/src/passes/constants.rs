//! Constant folding.

use super::{broadcast_const, const_like, rewrite, Pass};
use crate::host::HostTensor;
use crate::{Graph, Op, Result, Shape, TensorType};

/// `op(c1, c2, ...)` where every operand is a constant (or a view of one) becomes the constant
/// the reference interpreter computes for it, broadcast to the node's shape. Elementwise ops
/// only; NaN and Inf fold exactly as the interpreter (and so the GPU) would produce them.
pub struct ConstantFolding;

impl Pass for ConstantFolding {
    fn name(&self) -> &'static str {
        "constant-folding"
    }
    fn run(&self, g: &Graph) -> Result<Graph> {
        rewrite(g, |ng, node, srcs| {
            if !matches!(
                node.op,
                Op::Unary(_) | Op::Binary(_) | Op::Where | Op::Cast(_)
            ) || srcs.is_empty()
            {
                return Ok(None);
            }
            let mut vals = Vec::new();
            for &s in srcs {
                let Some(v) = broadcast_const(ng, s) else {
                    return Ok(None);
                };
                let sn = ng.node(s);
                let one = TensorType::new(sn.dtype(), Shape::scalar());
                vals.push(crate::interp::eval_node(&Op::Const(v), &one, &[], &[])?);
            }
            let refs: Vec<&HostTensor> = vals.iter().collect();
            let ty = TensorType::new(node.dtype(), Shape::scalar());
            let r = crate::interp::eval_node(&node.op, &ty, &refs, &[])?;
            let v = match &r.data {
                crate::HostData::F(v) => crate::Scalar::F(v[0] as f64),
                crate::HostData::I(v) => crate::Scalar::I(v[0] as i64),
                crate::HostData::U(v) => crate::Scalar::I(v[0] as i64),
                crate::HostData::B(v) => crate::Scalar::B(v[0]),
            };
            const_like(ng, &node.ty, v).map(Some)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{BinaryOp, UnaryOp, ViewOp};
    use crate::{DType, Scalar};

    #[test]
    fn folds_scalar_arithmetic_to_one_constant() {
        let mut g = Graph::new();
        let x = g.input(DType::F32, Shape::new(&[4])).unwrap();
        let one = TensorType::new(DType::F32, Shape::scalar());
        let a = g.add_leaf(Op::Const(Scalar::F(2.0)), one.clone()).unwrap();
        let b = g.add_leaf(Op::Const(Scalar::F(0.0)), one).unwrap();
        let c = g.add(Op::Binary(BinaryOp::Div), &[a, b]).unwrap(); // inf
        let e = g.add(Op::Unary(UnaryOp::Neg), &[c]).unwrap(); // -inf
        let ex = g
            .add(Op::View(ViewOp::Expand(Shape::new(&[4]))), &[e])
            .unwrap();
        let y = g.add(Op::Binary(BinaryOp::Max), &[x, ex]).unwrap();
        g.mark_output(y);
        let out = ConstantFolding.run(&g).unwrap();
        out.verify().unwrap();
        let consts: Vec<_> = out
            .topo()
            .into_iter()
            .filter_map(|n| match out.node(n).op {
                Op::Const(s) => Some(s),
                _ => None,
            })
            .collect();
        assert_eq!(consts, vec![Scalar::F(f64::NEG_INFINITY)]);
        let want = crate::interp::evaluate(
            &g,
            &[HostTensor::from_slice(&[1.0f32, -2.0, 3.0, f32::NAN], Shape::new(&[4])).unwrap()],
        )
        .unwrap();
        let got = crate::interp::evaluate(
            &out,
            &[HostTensor::from_slice(&[1.0f32, -2.0, 3.0, f32::NAN], Shape::new(&[4])).unwrap()],
        )
        .unwrap();
        assert_eq!(format!("{want:?}"), format!("{got:?}"));
    }
}

//! View canonicalization.

use super::{rewrite, Pass};
use crate::ops::ViewOp;
use crate::{Graph, Op, Result};
use smallvec::SmallVec;

/// Rewrites chains of movement ops:
/// - identity views go: reshape or expand to the same shape, the identity permutation, a
///   slice of everything with step 1, a pad of zero widths, a flip of no axes;
/// - `reshape(reshape(x))` → one reshape; `permute(permute(x))` → one composed permute.
///
/// The views that remain fold into the index expressions of their readers during lowering.
pub struct ViewFolding;

fn is_identity(v: &ViewOp, in_shape: &crate::Shape) -> bool {
    match v {
        ViewOp::Reshape(s) | ViewOp::Expand(s) => s == in_shape,
        ViewOp::Permute(p) => p.iter().enumerate().all(|(i, &a)| i == a),
        ViewOp::Slice(d) => d
            .iter()
            .zip(in_shape.dims())
            .all(|(s, &n)| s.start == 0 && s.end == n && s.step == 1),
        ViewOp::Pad { before, after, .. } => before.iter().chain(after).all(|&w| w == 0),
        ViewOp::Flip(a) => a.is_empty(),
        // It adds an axis.
        ViewOp::Unfold { .. } => false,
    }
}

impl Pass for ViewFolding {
    fn name(&self) -> &'static str {
        "view-folding"
    }
    fn run(&self, g: &Graph) -> Result<Graph> {
        rewrite(g, |ng, node, srcs| {
            let Op::View(v) = &node.op else {
                return Ok(None);
            };
            let s = srcs[0];
            if is_identity(v, ng.node(s).shape()) {
                return Ok(Some(s));
            }
            let inner_op = ng.node(s).op.clone();
            match (v, inner_op) {
                (ViewOp::Reshape(to), Op::View(ViewOp::Reshape(_))) => {
                    let inner = ng.srcs(s)[0];
                    if ng.node(inner).shape() == to {
                        return Ok(Some(inner));
                    }
                    ng.add(Op::View(ViewOp::Reshape(to.clone())), &[inner])
                        .map(Some)
                }
                (ViewOp::Permute(p2), Op::View(ViewOp::Permute(p1))) => {
                    let inner = ng.srcs(s)[0];
                    let p: SmallVec<[usize; 6]> = p2.iter().map(|&a| p1[a]).collect();
                    if p.iter().enumerate().all(|(i, &a)| i == a) {
                        return Ok(Some(inner));
                    }
                    ng.add(Op::View(ViewOp::Permute(p)), &[inner]).map(Some)
                }
                _ => Ok(None),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DType, HostTensor, Shape};
    use smallvec::smallvec;

    #[test]
    fn chains_collapse_and_values_stay() {
        let mut g = Graph::new();
        let x = g.input(DType::F32, Shape::new(&[2, 3, 4])).unwrap();
        let p1 = g
            .add(Op::View(ViewOp::Permute(smallvec![1, 2, 0])), &[x])
            .unwrap();
        let p2 = g
            .add(Op::View(ViewOp::Permute(smallvec![2, 0, 1])), &[p1])
            .unwrap();
        let r1 = g
            .add(Op::View(ViewOp::Reshape(Shape::new(&[6, 4]))), &[p2])
            .unwrap();
        let r2 = g
            .add(Op::View(ViewOp::Reshape(Shape::new(&[24]))), &[r1])
            .unwrap();
        g.mark_output(r2);
        let out = ViewFolding.run(&g).unwrap();
        out.verify().unwrap();
        assert_eq!(
            out.topo().len(),
            2,
            "input and one reshape:\n{}",
            out.to_dot()
        );
        let data: Vec<f32> = (0..24).map(|i| i as f32 + 0.5).collect();
        let h = HostTensor::from_slice(&data, Shape::new(&[2, 3, 4])).unwrap();
        assert_eq!(
            crate::interp::evaluate(&g, std::slice::from_ref(&h)).unwrap(),
            crate::interp::evaluate(&out, &[h]).unwrap()
        );
    }
}

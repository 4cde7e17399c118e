//! Cast elimination.

use super::{rewrite, Pass};
use crate::{DType, Graph, Op, Result};

/// True when every value of `from` converts to `to` and back exactly.
fn exact(from: DType, to: DType) -> bool {
    from == to
        || matches!(
            (from, to),
            (DType::F16, DType::F32) | (DType::BF16, DType::F32) | (DType::Bool, _)
        )
}

/// Rewrites:
/// - `cast(x, T)` where `x` is already `T` → `x`;
/// - `cast(cast(x: A, B), C)` → `cast(x, C)` (or `x` when `C = A`) where `A → B` is exact
///   (`f16 → f32`, `bf16 → f32`, `bool →` anything), since the middle step then loses nothing.
pub struct CastElimination;

impl Pass for CastElimination {
    fn name(&self) -> &'static str {
        "cast-elimination"
    }
    fn run(&self, g: &Graph) -> Result<Graph> {
        rewrite(g, |ng, node, srcs| {
            let Op::Cast(to) = node.op else {
                return Ok(None);
            };
            let s = srcs[0];
            if ng.node(s).dtype() == to {
                return Ok(Some(s));
            }
            if let Op::Cast(mid) = ng.node(s).op {
                let inner = ng.srcs(s)[0];
                let from = ng.node(inner).dtype();
                if exact(from, mid) {
                    if from == to {
                        return Ok(Some(inner));
                    }
                    return ng.add(Op::Cast(to), &[inner]).map(Some);
                }
            }
            Ok(None)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Shape;

    #[test]
    fn round_trips_through_wider_types_vanish() {
        let mut g = Graph::new();
        let x = g.input(DType::F16, Shape::new(&[3])).unwrap();
        let a = g.add(Op::Cast(DType::F32), &[x]).unwrap();
        let b = g.add(Op::Cast(DType::F16), &[a]).unwrap();
        let i = g.input(DType::I32, Shape::new(&[3])).unwrap();
        let f = g.add(Op::Cast(DType::F32), &[i]).unwrap();
        let j = g.add(Op::Cast(DType::I32), &[f]).unwrap();
        g.mark_output(b);
        g.mark_output(j);
        let out = CastElimination.run(&g).unwrap();
        assert_eq!(
            out.outputs()[0],
            out.inputs()[0],
            "f16 -> f32 -> f16 is the identity"
        );
        assert_ne!(
            out.outputs()[1],
            out.inputs()[1],
            "i32 -> f32 -> i32 loses precision: kept"
        );
    }
}

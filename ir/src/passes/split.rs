//! Split reductions.

use super::{rewrite, Pass};
use crate::ops::{BinaryOp, ReduceOp, SliceDim, ViewOp};
use crate::{Axes, DType, Graph, NodeId, Op, Result, Scalar, Shape};
use smallvec::SmallVec;

/// Reductions with at most this many outputs are split (fewer rows than a large GPU has
/// compute units to give them to).
pub const SPLIT_MAX_OUTPUTS: usize = 256;
/// ... when they reduce at least this many elements per output.
pub const SPLIT_MIN_COUNT: usize = 1 << 15;
/// Elements per partial reduction (the inner part of the split).
pub const SPLIT_CHUNK: usize = 4096;
/// At most this many partials per output.
pub const SPLIT_MAX_PARTS: usize = 1024;

/// Rewrites a reduction with few outputs and many elements each, which as one workgroup per
/// output would leave most of the GPU idle, into two levels: the largest reduced axis `a`
/// (size `R`) splits into `P` parts of `Q` elements (`P * Q <= R`, a view), the first level
/// reduces each part (`P` times as many rows), the second reduces the `P` partials. Where
/// `P * Q < R` the tail `R - P * Q` is reduced on its own (a slice) and combined with the
/// same op:
///
/// - `sum(x)` → `sum(sum(split(x[..PQ]), inner), parts) + sum(x[PQ..])`, and likewise `max`,
///   `min`, `prod` (combined with the binary op of the same NaN rule);
/// - `mean(x)` → that sum, divided by the reduced count;
/// - `f16`/`bf16` inputs are cast to `f32` first (a cast fused into the load) and the result
///   cast back, so partials are not rounded to the narrow type: the result rounds once, as
///   the reference does.
///
/// Argmax and argmin are left alone (their partials would need indices). Sums are
/// reassociated, which changes float rounding within the documented tolerances.
pub struct SplitReductions;

impl Pass for SplitReductions {
    fn name(&self) -> &'static str {
        "split-reductions"
    }
    fn run(&self, g: &Graph) -> Result<Graph> {
        rewrite(g, |ng, node, srcs| {
            let Op::Reduce { op, axes, .. } = &node.op else {
                return Ok(None);
            };
            let x = srcs[0];
            let Some(plan) = plan(ng.node(x).shape(), *op, axes) else {
                return Ok(None);
            };
            split(ng, x, *op, axes, plan, &node.ty).map(Some)
        })
    }
}

/// How a reduction splits: the reduced axis `a` that splits (the largest, the first of
/// equals) into `p` parts of `q`; `None` where it does not (argmax/argmin, many outputs, few
/// elements, one part, or no rank left for the extra dimension).
#[derive(Clone, Copy)]
struct Plan {
    a: usize,
    p: usize,
    q: usize,
}

fn plan(shape: &Shape, op: ReduceOp, axes: &Axes) -> Option<Plan> {
    let count: usize = axes.iter().map(|&a| shape.0[a]).product();
    let outputs = shape.numel() / count.max(1);
    if op.is_arg()
        || outputs > SPLIT_MAX_OUTPUTS
        || count < SPLIT_MIN_COUNT
        || shape.rank() + 1 > crate::MAX_RANK
    {
        return None;
    }
    let a = *axes
        .iter()
        .max_by_key(|&&d| (shape.0[d], std::cmp::Reverse(d)))?;
    let (p, q) = parts(shape.0[a], count / shape.0[a]);
    (p >= 2).then_some(Plan { a, p, q })
}

/// `(P, Q)` for an axis of `r` elements reduced together with `others` elements of the other
/// reduced axes: first-level rows of about [`SPLIT_CHUNK`] elements, at most
/// [`SPLIT_MAX_PARTS`] of them.
fn parts(r: usize, others: usize) -> (usize, usize) {
    let q = SPLIT_CHUNK
        .div_ceil(others.max(1))
        .max(r.div_ceil(SPLIT_MAX_PARTS))
        .clamp(1, r.max(1));
    (r / q, q)
}

fn split(
    g: &mut Graph,
    x: NodeId,
    op: ReduceOp,
    axes: &Axes,
    Plan { a, p, q }: Plan,
    out: &crate::TensorType,
) -> Result<NodeId> {
    let narrow = matches!(g.node(x).dtype(), DType::F16 | DType::BF16);
    let x = if narrow {
        g.add(Op::Cast(DType::F32), &[x])?
    } else {
        x
    };
    let shape = g.node(x).shape().clone();
    let rank = shape.rank();
    let count: usize = axes.iter().map(|&a| shape.0[a]).product();
    // The largest reduced axis splits; the others are reduced in the first level.
    let r = shape.0[a];
    let sum_like = if op == ReduceOp::Mean {
        ReduceOp::Sum
    } else {
        op
    };
    let slice = |g: &mut Graph, lo: usize, hi: usize| -> Result<NodeId> {
        let dims: SmallVec<[SliceDim; crate::MAX_RANK]> = (0..rank)
            .map(|d| {
                let (start, end) = if d == a { (lo, hi) } else { (0, shape.0[d]) };
                SliceDim {
                    start,
                    end,
                    step: 1,
                }
            })
            .collect();
        g.add(Op::View(ViewOp::Slice(dims)), &[x])
    };
    // First level: [.., P, Q, ..] reduced over Q and the other reduced axes.
    let main = if p * q == r { x } else { slice(g, 0, p * q)? };
    let mut dims: Vec<usize> = shape.0.to_vec();
    dims.splice(a..=a, [p, q]);
    let split = g.add(Op::View(ViewOp::Reshape(Shape::new(&dims))), &[main])?;
    // Axes of the split tensor: axis `a` is now P, `a + 1` is Q, later axes shift by one.
    let first_axes: Axes = axes
        .iter()
        .map(|&d| if d < a { d } else { d + 1 })
        .collect();
    let partial = g.add(
        Op::Reduce {
            op: sum_like,
            axes: first_axes,
            keepdim: false,
        },
        &[split],
    )?;
    // The partials' axis P sits where `a` was, less the reduced axes before it.
    let p_axis = a - axes.iter().filter(|&&d| d < a).count();
    let mut y = g.add(
        Op::Reduce {
            op: sum_like,
            axes: Axes::from_slice(&[p_axis]),
            keepdim: false,
        },
        &[partial],
    )?;
    if p * q < r {
        let tail = slice(g, p * q, r)?;
        let t = g.add(
            Op::Reduce {
                op: sum_like,
                axes: axes.clone(),
                keepdim: false,
            },
            &[tail],
        )?;
        let bin = sum_like
            .combine()
            .expect("a split reduction combines its partials with a binary op");
        y = g.add(Op::Binary(bin), &[y, t])?;
    }
    if op == ReduceOp::Mean {
        let ty = g.node(y).ty.clone();
        let n = super::const_like(g, &ty, Scalar::F(count as f64))?;
        y = g.add(Op::Binary(BinaryOp::Div), &[y, n])?;
    }
    // keepdim: the reduction's own shape, with its size-1 axes.
    if g.node(y).shape() != &out.shape {
        y = g.add(Op::View(ViewOp::Reshape(out.shape.clone())), &[y])?;
    }
    if g.node(y).dtype() != out.dtype {
        y = g.add(Op::Cast(out.dtype), &[y])?;
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interp;

    fn count_reduces(g: &Graph) -> usize {
        g.topo()
            .iter()
            .filter(|&&n| matches!(g.node(n).op, Op::Reduce { .. }))
            .count()
    }

    #[test]
    fn big_sums_split_small_ones_do_not() {
        for (shape, axes, splits) in [
            (vec![100003], vec![0], true),
            (vec![1 << 16], vec![0], true),
            (vec![3, 40000], vec![1], true),
            (vec![40000, 3], vec![0], true),
            (vec![1000, 1000], vec![0, 1], true),
            (vec![1031], vec![0], false),
            (vec![4096, 40], vec![1], false),
            // Rank 6 leaves no room for the extra dimension: left alone, not an error.
            (vec![1, 1, 1, 1, 2, 65536], vec![5], false),
        ] {
            let mut g = Graph::new();
            let x = g.input(DType::F32, Shape::new(&shape)).unwrap();
            let y = g
                .add(
                    Op::Reduce {
                        op: ReduceOp::Sum,
                        axes: Axes::from_slice(&axes),
                        keepdim: false,
                    },
                    &[x],
                )
                .unwrap();
            g.mark_output(y);
            let s = SplitReductions.run(&g).unwrap();
            s.verify().unwrap();
            assert_eq!(count_reduces(&s) > 1, splits, "{shape:?} over {axes:?}");
            assert_eq!(s.node(s.outputs()[0]).shape(), g.node(y).shape());
        }
    }

    #[test]
    fn split_results_match_the_unsplit_reference() {
        let ops = [
            ReduceOp::Sum,
            ReduceOp::Mean,
            ReduceOp::Max,
            ReduceOp::Min,
            ReduceOp::Prod,
        ];
        for op in ops {
            for (shape, axes, keepdim) in [
                (vec![100003], vec![0], false),
                (vec![2, 50001], vec![1], true),
                (vec![50001, 2], vec![0], false),
                (vec![300, 300], vec![0, 1], true),
            ] {
                let mut g = Graph::new();
                let x = g.input(DType::F32, Shape::new(&shape)).unwrap();
                let y = g
                    .add(
                        Op::Reduce {
                            op,
                            axes: Axes::from_slice(&axes),
                            keepdim,
                        },
                        &[x],
                    )
                    .unwrap();
                g.mark_output(y);
                let n: usize = shape.iter().product();
                // Products of many values stay finite near 1.
                // Not periodic (so every part differs), an offset per outer index (so rows
                // cannot be swapped unseen), and the extreme of the whole input in the tail.
                let vals: Vec<f32> = (0..n)
                    .map(|i| {
                        let v = crate::ops::mix32(i as u32) as f32 / u32::MAX as f32;
                        let row = (i * shape[0] / n) as f32;
                        match op {
                            ReduceOp::Prod => 1.0 + (v - 0.5) * 1e-4,
                            _ if i == n - 1 => 50.0,
                            _ => v - 0.4 + row * 10.0,
                        }
                    })
                    .collect();
                let input = crate::HostTensor::from_slice(&vals, Shape::new(&shape)).unwrap();
                let want = interp::evaluate(&g, std::slice::from_ref(&input)).unwrap();
                let s = SplitReductions.run(&g).unwrap();
                let got = interp::evaluate(&s, &[input]).unwrap();
                let (w, gt) = (want[0].to_f64(), got[0].to_f64());
                assert_eq!(w.len(), gt.len());
                for (a, b) in w.iter().zip(&gt) {
                    assert!(
                        (a - b).abs() <= 1e-5 * (1.0 + a.abs()),
                        "{op:?} {shape:?} {axes:?}: {a} vs {b}"
                    );
                }
            }
        }
    }
}

//! Split reductions.

use super::{reshape, rewrite, view, Pass};
use crate::ops::reduce::Finish;
use crate::ops::{BinaryOp, ReduceOp, ReduceRule, SliceDim, ViewOp};
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

/// Rewrites a reduction into two levels where one kernel would be a poor or a wrong fit:
///
/// - few outputs with many elements each, which as one workgroup per output would leave most
///   of the GPU idle (at most `SPLIT_MAX_OUTPUTS` outputs of at least `SPLIT_MIN_COUNT`);
/// - rows longer than the adapter lets one invocation loop over (`max_row`, from
///   [`super::LoopLimits`]): llvmpipe ends every shader loop past a fixed trip count, so a
///   longer row would be summed in part, silently.
///
/// The largest reduced axis `a` (size `R`) splits into `P` parts of `Q` elements (`P * Q <=
/// R`, a view), the first level reduces each part (`P` times as many rows), the second
/// reduces the `P` partials. Where `P * Q < R` the tail `R - P * Q` is reduced on its own (a
/// slice) and combined with the same op:
///
/// - `sum(x)` → `sum(sum(split(x[..PQ]), inner), parts) + sum(x[PQ..])`, and likewise every
///   fold whose table entry names a binary op for the tail (`max`, `min`, `prod`: the binary
///   op of the same NaN rule); a fold without one is flattened and padded with its identity;
/// - a fold with a finish (`mean(x)`): the split of its levels' fold (that sum), then the
///   finish (divided by the reduced count);
/// - `f16`/`bf16` inputs are cast to `f32` first (a cast fused into the load) and the result
///   cast back, so partials are not rounded to the narrow type: the result rounds once, as
///   the reference does;
/// - `argmax(x)` / `argmin(x)`: the reduced axes flattened into one of `C` elements, padded to
///   `P * Q` with a value that never wins (`-inf` for argmax, `+inf` for argmin, the integer
///   extremes), then per part the extreme value and its index, the part whose value wins
///   (ties: the first, so the first index overall; a NaN wins, so the first NaN), and its
///   index `part * Q + index in part` read back by a gather.
///
/// Every level is planned again, so a level that is still too long splits in turn. Sums are
/// reassociated, which changes float rounding within the documented tolerances.
#[derive(Clone, Copy, Debug, Default)]
pub struct SplitReductions {
    /// The longest row one reduction kernel may loop over (`None`: [`super::MAX_ROW`]).
    pub max_row: Option<usize>,
}

impl SplitReductions {
    fn limits(&self) -> super::LoopLimits {
        super::LoopLimits {
            max_row: self.max_row,
            ..super::LoopLimits::default()
        }
    }
}

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
            let max_row = Some(self.limits().row());
            let Some(plan) = plan(ng.node(x).shape(), *op, axes, max_row) else {
                return Ok(None);
            };
            split(ng, x, *op, axes, plan, &node.ty, max_row).map(Some)
        })
    }
}

/// How a reduction splits: the reduced axis `a` that splits (the largest, the first of
/// equals) into `p` parts of `q`, or for argmax/argmin and where the rank has no room for
/// the extra dimension, the reduced axes flattened into one (`flat`); `None` where it does
/// not split (many outputs and rows within the limit, few elements, or one part).
#[derive(Clone, Copy)]
struct Plan {
    a: usize,
    p: usize,
    q: usize,
    flat: bool,
}

fn plan(shape: &Shape, op: ReduceOp, axes: &Axes, max_row: Option<usize>) -> Option<Plan> {
    let count: usize = axes.iter().map(|&a| shape.0[a]).product();
    let outputs = shape.numel() / count.max(1);
    let too_long = max_row.is_some_and(|m| count > m);
    let idle = outputs <= SPLIT_MAX_OUTPUTS && count >= SPLIT_MIN_COUNT;
    if !(too_long || idle) {
        return None;
    }
    let tail = match op.spec().rule {
        ReduceRule::Fold { split, .. } => split.tail,
        ReduceRule::Arg { .. } => None,
    };
    let flat = tail.is_none() || shape.rank() + 1 > crate::MAX_RANK;
    if flat {
        // One flattened axis of `count`, padded up to whole parts.
        let q = chunk(count, 1, max_row);
        let p = count.div_ceil(q);
        return (p >= 2).then_some(Plan { a: 0, p, q, flat });
    }
    let a = *axes
        .iter()
        .max_by_key(|&&d| (shape.0[d], std::cmp::Reverse(d)))?;
    let r = shape.0[a];
    let mut q = chunk(r, count / r, max_row);
    if too_long {
        // At least two parts (the tail, shorter than a part, is reduced on its own).
        q = q.min(r / 2).max(1);
    }
    let p = r / q;
    (p >= 2).then_some(Plan { a, p, q, flat })
}

/// The part size `Q` for an axis of `r` elements reduced together with `others` elements of
/// the other reduced axes: first-level rows of about [`SPLIT_CHUNK`] elements, at most
/// [`SPLIT_MAX_PARTS`] of them, and rows of at most `max_row` (the part count may then pass
/// [`SPLIT_MAX_PARTS`]; the second level splits in turn).
fn chunk(r: usize, others: usize, max_row: Option<usize>) -> usize {
    let others = others.max(1);
    let mut q = SPLIT_CHUNK
        .div_ceil(others)
        .max(r.div_ceil(SPLIT_MAX_PARTS));
    if let Some(m) = max_row {
        q = q.min(m / others);
    }
    q.clamp(1, r.max(1))
}

/// A reduction of `x` over `axes` (no kept dims), itself split where [`plan`] says so.
fn reduce(
    g: &mut Graph,
    x: NodeId,
    op: ReduceOp,
    axes: &[usize],
    max_row: Option<usize>,
) -> Result<NodeId> {
    let axes: Axes = axes.iter().copied().collect();
    let red = Op::Reduce {
        op,
        axes: axes.clone(),
        keepdim: false,
    };
    match plan(g.node(x).shape(), op, &axes, max_row) {
        Some(p) => {
            let ty = red.infer(&[&g.node(x).ty], None)?;
            split(g, x, op, &axes, p, &ty, max_row)
        }
        None => g.add(red, &[x]),
    }
}

fn split(
    g: &mut Graph,
    x: NodeId,
    op: ReduceOp,
    axes: &Axes,
    plan: Plan,
    out: &crate::TensorType,
    max_row: Option<usize>,
) -> Result<NodeId> {
    let narrow = matches!(g.node(x).dtype(), DType::F16 | DType::BF16);
    let x = if narrow && !op.is_arg() {
        g.add(Op::Cast(DType::F32), &[x])?
    } else {
        x
    };
    let mut y = if plan.flat {
        split_flat(g, x, op, axes, plan, max_row)?
    } else {
        split_axis(g, x, op, axes, plan, max_row)?
    };
    // keepdim: the reduction's own shape, with its size-1 axes.
    if g.node(y).shape() != &out.shape {
        y = reshape(g, y, &out.shape.0)?;
    }
    if g.node(y).dtype() != out.dtype {
        y = g.add(Op::Cast(out.dtype), &[y])?;
    }
    Ok(y)
}

/// The split of a value reduction along axis `a`, in place (a reshape of that axis).
fn split_axis(
    g: &mut Graph,
    x: NodeId,
    op: ReduceOp,
    axes: &Axes,
    Plan { a, p, q, .. }: Plan,
    max_row: Option<usize>,
) -> Result<NodeId> {
    let shape = g.node(x).shape().clone();
    let rank = shape.rank();
    let count: usize = axes.iter().map(|&a| shape.0[a]).product();
    // The largest reduced axis splits; the others are reduced in the first level.
    let r = shape.0[a];
    let ReduceRule::Fold {
        split: rule,
        finish,
        ..
    } = op.spec().rule
    else {
        return Err(crate::IrError::Verify(format!(
            "{} is split along an axis, but it is not a fold",
            op.name()
        )));
    };
    let sum_like = rule.levels;
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
        view(g, ViewOp::Slice(dims), x)
    };
    // First level: [.., P, Q, ..] reduced over Q and the other reduced axes.
    let main = if p * q == r { x } else { slice(g, 0, p * q)? };
    let mut dims: Vec<usize> = shape.0.to_vec();
    dims.splice(a..=a, [p, q]);
    let split = reshape(g, main, &dims)?;
    // Axes of the split tensor: axis `a` is now P, `a + 1` is Q, later axes shift by one.
    let first_axes: Vec<usize> = axes
        .iter()
        .map(|&d| if d < a { d } else { d + 1 })
        .collect();
    let partial = reduce(g, split, sum_like, &first_axes, max_row)?;
    // The partials' axis P sits where `a` was, less the reduced axes before it.
    let p_axis = a - axes.iter().filter(|&&d| d < a).count();
    let mut y = reduce(g, partial, sum_like, &[p_axis], max_row)?;
    if p * q < r {
        let tail = slice(g, p * q, r)?;
        let t = reduce(g, tail, sum_like, axes, max_row)?;
        let bin = rule.tail.ok_or_else(|| {
            crate::IrError::Verify(format!("{} has no binary op for a tail", op.name()))
        })?;
        y = g.add(Op::Binary(bin), &[y, t])?;
    }
    finish_split(g, y, finish, count)
}

/// Applies a fold's finish to the total of its split levels.
fn finish_split(g: &mut Graph, y: NodeId, finish: Finish, count: usize) -> Result<NodeId> {
    match finish {
        Finish::Total => Ok(y),
        Finish::DivideByCount => {
            let ty = g.node(y).ty.clone();
            let n = super::const_like(g, &ty, Scalar::F(count as f64))?;
            g.add(Op::Binary(BinaryOp::Div), &[y, n])
        }
    }
}

/// The split of a reduction over the reduced axes flattened into one: `[kept, C]` (the
/// reduced axes moved last, in order, so that the flat index is row-major over them), padded
/// to `[kept, P * Q]` and reshaped to `[kept, P, Q]`. Used for argmax/argmin, whose
/// partials need their indices, and where the rank has no room for a split axis.
fn split_flat(
    g: &mut Graph,
    x: NodeId,
    op: ReduceOp,
    axes: &Axes,
    Plan { p, q, .. }: Plan,
    max_row: Option<usize>,
) -> Result<NodeId> {
    let shape = g.node(x).shape().clone();
    let dtype = g.node(x).dtype();
    let rank = shape.rank();
    let kept: Vec<usize> = (0..rank).filter(|d| !axes.contains(d)).collect();
    let count: usize = axes.iter().map(|&a| shape.0[a]).product();
    let outer: usize = kept.iter().map(|&d| shape.0[d]).product();
    let perm: SmallVec<[usize; crate::MAX_RANK]> =
        kept.iter().chain(axes.iter()).copied().collect();
    let moved = if perm.iter().enumerate().all(|(i, &d)| i == d) {
        x
    } else {
        view(g, ViewOp::Permute(perm), x)?
    };
    let flat = reshape(g, moved, &[outer, count])?;
    let padded = if p * q > count {
        // The identity of the fold (of the value order for argmax/argmin, whose padding then
        // loses to every element: ties go to the lower index, and padding comes last).
        let value = op.identity(dtype).ok_or_else(|| {
            crate::IrError::Verify(format!("{} has no identity for {dtype}", op.name()))
        })?;
        view(
            g,
            ViewOp::Pad {
                before: [0, 0].into_iter().collect(),
                after: [0, p * q - count].into_iter().collect(),
                value,
            },
            flat,
        )?
    } else {
        flat
    };
    let parts = reshape(g, padded, &[outer, p, q])?;
    let value_op = match op.spec().rule {
        ReduceRule::Fold { split, finish, .. } => {
            let partial = reduce(g, parts, split.levels, &[2], max_row)?;
            let y = reduce(g, partial, split.levels, &[1], max_row)?;
            return finish_split(g, y, finish, count);
        }
        ReduceRule::Arg { value, .. } => value,
    };
    let vals = reduce(g, parts, value_op, &[2], max_row)?;
    let local = reduce(g, parts, op, &[2], max_row)?;
    let best = reduce(g, vals, op, &[1], max_row)?;
    let best = reshape(g, best, &[outer, 1])?;
    let at = g.add(Op::Gather { axis: 1 }, &[local, best])?;
    let ty = g.node(best).ty.clone();
    let qc = super::const_like(g, &ty, Scalar::I(q as i64))?;
    let base = g.add(Op::Binary(BinaryOp::Mul), &[best, qc])?;
    g.add(Op::Binary(BinaryOp::Add), &[base, at])
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
            // Rank 6 leaves no room for the extra dimension: the reduced axes are flattened.
            (vec![1, 1, 1, 1, 2, 65536], vec![5], true),
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
            let s = SplitReductions::default().run(&g).unwrap();
            s.verify().unwrap();
            assert_eq!(count_reduces(&s) > 1, splits, "{shape:?} over {axes:?}");
            assert_eq!(s.node(s.outputs()[0]).shape(), g.node(y).shape());
        }
    }

    #[test]
    fn split_results_match_the_unsplit_reference() {
        for op in crate::ops::ALL_REDUCE.into_iter().filter(|op| !op.is_arg()) {
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
                // Not periodic (so every part differs), a ramp along axis 0 (so rows and
                // parts cannot be swapped unseen), and the extreme of the whole input, for
                // `max` and `min` alike, in the tail that a split reduces on its own.
                let top = 10.0 * shape[0] as f32 + 50.0;
                let vals: Vec<f32> = (0..n)
                    .map(|i| {
                        let v = crate::ops::mix32(i as u32) as f32 / u32::MAX as f32;
                        let row = (i * shape[0] / n) as f32;
                        match op {
                            ReduceOp::Prod => 1.0 + (v - 0.5) * 1e-4,
                            ReduceOp::Min if i == n - 1 => -50.0,
                            _ if i == n - 1 => top,
                            _ => v - 0.4 + row * 10.0,
                        }
                    })
                    .collect();
                let input = crate::HostTensor::from_slice(&vals, Shape::new(&shape)).unwrap();
                let want = interp::evaluate(&g, std::slice::from_ref(&input)).unwrap();
                let s = SplitReductions::default().run(&g).unwrap();
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

#[cfg(test)]
mod limit_tests {
    use super::*;
    use crate::{interp, HostTensor};

    /// `op` over `axes` of an input of `shape` holding `vals`, evaluated as is and after the
    /// split under a row limit of `max_row`; returns both results and the reduce count.
    fn both(
        op: ReduceOp,
        dtype: DType,
        shape: &[usize],
        axes: &[usize],
        keepdim: bool,
        vals: &[f32],
        max_row: usize,
    ) -> (Vec<f64>, Vec<f64>, usize) {
        let mut g = Graph::new();
        let x = g.input(DType::F32, Shape::new(shape)).unwrap();
        let x = if dtype == DType::F32 {
            x
        } else {
            g.add(Op::Cast(dtype), &[x]).unwrap()
        };
        let y = g
            .add(
                Op::Reduce {
                    op,
                    axes: Axes::from_slice(axes),
                    keepdim,
                },
                &[x],
            )
            .unwrap();
        g.mark_output(y);
        let input = HostTensor::from_slice(vals, Shape::new(shape)).unwrap();
        let want = interp::evaluate(&g, std::slice::from_ref(&input)).unwrap();
        let s = SplitReductions {
            max_row: Some(max_row),
        }
        .run(&g)
        .unwrap();
        s.verify().unwrap();
        let reduces = s
            .topo()
            .iter()
            .filter(|&&n| matches!(s.node(n).op, Op::Reduce { .. }))
            .count();
        // Every reduction left reduces at most `max_row` elements per output.
        for n in s.topo() {
            if let Op::Reduce { axes, .. } = &s.node(n).op {
                let src = s.node(s.srcs(n)[0]).shape();
                let count: usize = axes.iter().map(|&a| src.0[a]).product();
                assert!(
                    count <= max_row,
                    "{op:?} {shape:?}: a row of {count} is left"
                );
            }
        }
        assert_eq!(s.node(s.outputs()[0]).ty, g.node(y).ty);
        let got = interp::evaluate(&s, &[input]).unwrap();
        (want[0].to_f64(), got[0].to_f64(), reduces)
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let v = crate::ops::mix32(i as u32 ^ seed.wrapping_mul(0x9e37_79b9)) as f32;
                (v / u32::MAX as f32) * 8.0 - 4.0 + 1e-3
            })
            .collect()
    }

    #[test]
    fn argmax_and_argmin_split_to_the_same_index() {
        for (shape, axes) in [
            (vec![1031], vec![0]),
            (vec![3, 1031], vec![1]),
            (vec![1031, 3], vec![0]),
            (vec![7, 5, 40], vec![0, 2]),
            (vec![2, 3, 4, 5, 6, 7], vec![5]),
        ] {
            let n: usize = shape.iter().product();
            for op in crate::ops::ALL_REDUCE.into_iter().filter(|op| op.is_arg()) {
                for dtype in [DType::F32, DType::I32, DType::F16] {
                    let mut v = values(n, 7);
                    if dtype == DType::I32 {
                        // Few distinct values: ties everywhere, so the first index must win.
                        v.iter_mut().for_each(|x| *x = (*x * 2.0).round());
                    }
                    // The winner in the last part, once as a NaN.
                    v[n - 2] = match op.spec().rule {
                        ReduceRule::Arg {
                            better: crate::ops::reduce::Better::Greater,
                            ..
                        } => 100.0,
                        ReduceRule::Arg { .. } | ReduceRule::Fold { .. } => -100.0,
                    };
                    for max_row in [8, 64, 1000] {
                        let (w, g, reduces) = both(op, dtype, &shape, &axes, false, &v, max_row);
                        let count: usize = axes.iter().map(|&a| shape[a]).product();
                        assert_eq!(reduces > 1, count > max_row, "{shape:?} split");
                        assert_eq!(w, g, "{op:?} {dtype} {shape:?} {axes:?} max_row {max_row}");
                    }
                    if dtype != DType::I32 {
                        v[n / 3] = f32::NAN;
                        v[n - 5] = f32::NAN;
                        let (w, g, _) = both(op, dtype, &shape, &axes, true, &v, 16);
                        assert_eq!(w, g, "NaN: {op:?} {dtype} {shape:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn value_reductions_split_under_a_row_limit_at_every_level() {
        for op in crate::ops::ALL_REDUCE.into_iter().filter(|op| !op.is_arg()) {
            for (shape, axes) in [
                (vec![4099], vec![0]),
                (vec![300, 1031], vec![1]),
                (vec![33, 70], vec![0, 1]),
                (vec![1, 1, 2, 1, 3, 1031], vec![5]),
            ] {
                let n: usize = shape.iter().product();
                let mut v = values(n, 3);
                if op == ReduceOp::Prod {
                    v.iter_mut().for_each(|x| *x = 1.0 + *x * 1e-4);
                }
                for max_row in [7, 100] {
                    let (w, g, _) = both(op, DType::F32, &shape, &axes, true, &v, max_row);
                    for (a, b) in w.iter().zip(&g) {
                        assert!(
                            (a - b).abs() <= 1e-9 * (1.0 + a.abs()) * n as f64,
                            "{op:?} {shape:?} max_row {max_row}: {a} vs {b}"
                        );
                    }
                }
            }
        }
    }
}

//! Split scans: a scanned row longer than one kernel may loop over becomes two levels.

use super::{reshape, rewrite, view, LoopLimits, Pass};
use crate::ops::{ScanOp, SliceDim, ViewOp};
use crate::{DType, Graph, IrError, NodeId, Op, Result, Scalar, Shape};
use smallvec::{smallvec, SmallVec};

/// Rewrites a scan whose rows are longer than `max_row` (the loop budget of the adapter, at
/// most [`super::MAX_ROW`], as for reductions): a row of `n` is padded with the fold's identity
/// to `p` parts of `l <= max_row` elements (`[rows, p, l]`), each part is scanned, the parts'
/// totals (their last elements, `[rows, p]`) are scanned in turn (split again if `p` is still
/// too long), and each part is combined with the total of the parts before it (the
/// identity for the first): `cumsum(x)[i] = cumsum(part)[i] + sum(earlier parts)`, and
/// likewise with `*`, `maximum` and `minimum`, whose NaN rules are the scans'. `f16`/`bf16`
/// rows are scanned in `f32` and cast back, so each value rounds once, as the reference does.
/// Sums are reassociated, within the documented tolerance.
#[derive(Clone, Copy, Debug, Default)]
pub struct SplitScans {
    /// The longest row one scan kernel may loop over (`None`: [`super::MAX_ROW`]).
    pub max_row: Option<usize>,
}

impl Pass for SplitScans {
    fn name(&self) -> &'static str {
        "split-scans"
    }

    fn run(&self, g: &Graph) -> Result<Graph> {
        let limit = LoopLimits {
            max_row: self.max_row,
            ..LoopLimits::default()
        }
        .row()
        .max(2);
        rewrite(g, |ng, node, srcs| {
            let Op::Scan(op) = node.op else {
                return Ok(None);
            };
            let n = node.shape().0.last().copied().unwrap_or(1);
            if n <= limit {
                return Ok(None);
            }
            let narrow = matches!(node.dtype(), DType::F16 | DType::BF16);
            let x = if narrow {
                ng.add(Op::Cast(DType::F32), &[srcs[0]])?
            } else {
                srcs[0]
            };
            let y = split(ng, x, op, limit)?;
            if narrow {
                ng.add(Op::Cast(node.dtype()), &[y]).map(Some)
            } else {
                Ok(Some(y))
            }
        })
    }
}

/// `x[.., start..end]` on the last axis of a rank-2 or rank-3 node.
fn slice_last(g: &mut Graph, x: NodeId, start: usize, end: usize) -> Result<NodeId> {
    let dims = g.node(x).shape().0.clone();
    let mut s: SmallVec<[SliceDim; crate::MAX_RANK]> = dims
        .iter()
        .map(|&d| SliceDim {
            start: 0,
            end: d,
            step: 1,
        })
        .collect();
    if let Some(last) = s.last_mut() {
        *last = SliceDim {
            start,
            end,
            step: 1,
        };
    }
    view(g, ViewOp::Slice(s), x)
}

/// `x` padded on its last axis with `before` and `after` copies of `value`.
fn pad_last(
    g: &mut Graph,
    x: NodeId,
    before: usize,
    after: usize,
    value: Scalar,
) -> Result<NodeId> {
    let r = g.node(x).shape().rank();
    let mut b: SmallVec<[usize; crate::MAX_RANK]> = smallvec![0; r];
    let mut a: SmallVec<[usize; crate::MAX_RANK]> = smallvec![0; r];
    b[r - 1] = before;
    a[r - 1] = after;
    view(
        g,
        ViewOp::Pad {
            before: b,
            after: a,
            value,
        },
        x,
    )
}

/// The two-level scan of `x` (last axis longer than `limit`).
fn split(g: &mut Graph, x: NodeId, op: ScanOp, limit: usize) -> Result<NodeId> {
    let ty = g.node(x).ty.clone();
    let dims = ty.shape.0.clone();
    let n = dims.last().copied().unwrap_or(1);
    let rows = ty.shape.numel() / n.max(1);
    let identity = op
        .fold()
        .identity(ty.dtype)
        .ok_or(IrError::UnsupportedDType {
            op: op.name(),
            dtype: ty.dtype,
            why: "numeric dtypes only",
        })?;
    let p = n.div_ceil(limit);
    let l = n.div_ceil(p);
    let flat = reshape(g, x, &[rows, n])?;
    let padded = pad_last(g, flat, 0, p * l - n, identity)?;
    let parts = reshape(g, padded, &[rows, p, l])?;
    let scanned = g.add(Op::Scan(op), &[parts])?;
    // The parts' totals, scanned: inclusive, then shifted right by one part.
    let last = slice_last(g, scanned, l - 1, l)?;
    let totals = reshape(g, last, &[rows, p])?;
    let running = if p > limit {
        split(g, totals, op, limit)?
    } else {
        g.add(Op::Scan(op), &[totals])?
    };
    let before = slice_last(g, running, 0, p - 1)?;
    let offsets = pad_last(g, before, 1, 0, identity)?;
    let offsets = reshape(g, offsets, &[rows, p, 1])?;
    let offsets = view(g, ViewOp::Expand(Shape::new(&[rows, p, l])), offsets)?;
    let combine = op.fold().tail().ok_or(IrError::Verify(format!(
        "{} has no binary op to combine its parts",
        op.name()
    )))?;
    let combined = g.add(Op::Binary(combine), &[offsets, scanned])?;
    let combined = reshape(g, combined, &[rows, p * l])?;
    let cut = slice_last(g, combined, 0, n)?;
    reshape(g, cut, &dims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{HostData, HostTensor};
    use crate::interp::evaluate;

    /// The split graph gives the reference's values, rows of 1031 scanned in parts of at most
    /// 16 (the 65 parts' totals split again: three scans), with a NaN that cummax carries across parts.
    #[test]
    fn split_scans_agree_with_the_whole_scan() {
        for op in crate::ops::ALL_SCAN {
            let mut g = Graph::new();
            let x = g.input(DType::F32, Shape::new(&[3, 1031])).unwrap();
            let y = g.add(Op::Scan(op), &[x]).unwrap();
            g.mark_output(y);
            let split = SplitScans { max_row: Some(16) }.run(&g).unwrap();
            let scans = split
                .topo()
                .into_iter()
                .filter(|&n| matches!(split.node(n).op, Op::Scan(_)))
                .count();
            assert_eq!(scans, 3, "{}", op.name());
            let mut v: Vec<f32> = (0..3 * 1031)
                .map(|i| 1.0 + ((i * 7919) % 97) as f32 / 97_000.0 - 5e-4)
                .collect();
            v[1500] = f32::NAN;
            let host = HostTensor::from_slice(&v, Shape::new(&[3, 1031])).unwrap();
            let want = evaluate(&g, std::slice::from_ref(&host)).unwrap();
            let got = evaluate(&split, &[host]).unwrap();
            let (HostData::F(want), HostData::F(got)) = (&want[0].data, &got[0].data) else {
                panic!("not floats");
            };
            for (i, (a, b)) in want.iter().zip(got.iter()).enumerate() {
                let close = (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-5 * a.abs().max(1.0);
                assert!(close, "{} [{i}]: {a} vs {b}", op.name());
            }
        }
    }
}

//! Movement ops: reshape, permute, expand, slice, pad and flip. They never compute; the compiler
//! folds them into the index arithmetic of their reader (see [`crate::View`]).

use crate::{IrError, Result, Scalar, Shape, MAX_RANK};
use smallvec::SmallVec;

/// One dimension of a slice, resolved: `start <= end <= dim`, `step >= 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SliceDim {
    /// First index taken.
    pub start: usize,
    /// One past the last index considered.
    pub end: usize,
    /// Distance between taken indices.
    pub step: usize,
}

impl SliceDim {
    /// The number of indices this slice takes.
    pub fn len(&self) -> usize {
        if self.end <= self.start {
            0
        } else {
            (self.end - self.start).div_ceil(self.step)
        }
    }

    /// True when the slice takes nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A movement op.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ViewOp {
    /// Same elements in row-major order, another shape.
    Reshape(Shape),
    /// Reorders the axes: output axis `i` is input axis `perm[i]`.
    Permute(SmallVec<[usize; MAX_RANK]>),
    /// numpy `broadcast_to`: size-1 dims repeat, new leading dims are added.
    Expand(Shape),
    /// A strided slice of every dimension.
    Slice(SmallVec<[SliceDim; MAX_RANK]>),
    /// Pads each dimension with `before[d]` and `after[d]` copies of a constant.
    Pad {
        /// Elements added before each dimension.
        before: SmallVec<[usize; MAX_RANK]>,
        /// Elements added after each dimension.
        after: SmallVec<[usize; MAX_RANK]>,
        /// The padding value.
        value: Scalar,
    },
    /// Reverses the listed axes.
    Flip(SmallVec<[usize; MAX_RANK]>),
    /// Sliding windows (`torch.Tensor.unfold`): axis `axis` becomes the `(n - size) / step +
    /// 1` window starts, and a last axis of `size` holds each window's elements.
    Unfold {
        /// The windowed axis.
        axis: usize,
        /// Elements per window (at least 1, at most the axis' length).
        size: usize,
        /// Distance between window starts (at least 1).
        step: usize,
    },
}

impl ViewOp {
    /// The op's name.
    pub fn name(&self) -> &'static str {
        match self {
            ViewOp::Reshape(_) => "reshape",
            ViewOp::Permute(_) => "permute",
            ViewOp::Expand(_) => "expand",
            ViewOp::Slice(_) => "slice",
            ViewOp::Pad { .. } => "pad",
            ViewOp::Flip(_) => "flip",
            ViewOp::Unfold { .. } => "unfold",
        }
    }

    /// The output shape for an input of shape `s`, or a typed error naming both.
    pub fn infer(&self, s: &Shape) -> Result<Shape> {
        let bad = |to: Shape, why: &str| IrError::BadShape {
            op: self.name(),
            from: s.clone(),
            to,
            why: why.to_string(),
        };
        match self {
            ViewOp::Reshape(to) => {
                to.check_size("reshape")?;
                if to.numel() != s.numel() {
                    return Err(bad(to.clone(), "element counts differ"));
                }
                Ok(to.clone())
            }
            ViewOp::Permute(p) => {
                let mut seen = [false; MAX_RANK];
                if p.len() != s.rank() {
                    return Err(bad(Shape::new(p), "permutation length differs from rank"));
                }
                for &a in p {
                    if a >= s.rank() || seen[a] {
                        return Err(bad(Shape::new(p), "not a permutation of the axes"));
                    }
                    seen[a] = true;
                }
                Ok(Shape(p.iter().map(|&a| s.0[a]).collect()))
            }
            ViewOp::Expand(to) => {
                to.check_size("expand")?;
                if to.rank() < s.rank() {
                    return Err(bad(to.clone(), "cannot expand to a lower rank"));
                }
                let off = to.rank() - s.rank();
                for (i, &d) in s.0.iter().enumerate() {
                    if d != 1 && d != to.0[off + i] {
                        return Err(bad(to.clone(), "only size-1 dims can be expanded"));
                    }
                }
                Ok(to.clone())
            }
            ViewOp::Slice(dims) => {
                if dims.len() != s.rank() {
                    return Err(bad(s.clone(), "one slice per dimension is needed"));
                }
                let mut out = Shape::scalar();
                for (d, sd) in dims.iter().enumerate() {
                    if sd.step == 0 || sd.start > sd.end || sd.end > s.0[d] {
                        return Err(bad(s.clone(), "slice out of range or step 0"));
                    }
                    out.0.push(sd.len());
                }
                Ok(out)
            }
            ViewOp::Pad { before, after, .. } => {
                if before.len() != s.rank() || after.len() != s.rank() {
                    return Err(bad(s.clone(), "one pad width per dimension is needed"));
                }
                (0..s.rank())
                    .map(|d| {
                        s.0[d]
                            .checked_add(before[d])
                            .and_then(|n| n.checked_add(after[d]))
                            .ok_or_else(|| IrError::SizeOverflow {
                                op: "pad",
                                why: format!(
                                    "dim {d} of {s} padded by ({}, {}) overflows",
                                    before[d], after[d]
                                ),
                            })
                    })
                    .collect::<Result<_>>()
                    .map(Shape)
            }
            ViewOp::Flip(axes) => {
                if axes.iter().any(|&a| a >= s.rank()) {
                    return Err(bad(s.clone(), "flip axis out of range"));
                }
                Ok(s.clone())
            }
            &ViewOp::Unfold { axis, size, step } => {
                if axis >= s.rank() {
                    return Err(IrError::BadAxis {
                        op: "unfold",
                        axis: axis as isize,
                        shape: s.clone(),
                    });
                }
                if size == 0 || step == 0 || size > s.0[axis] {
                    return Err(bad(
                        s.clone(),
                        &format!(
                            "windows of {size} every {step} along an axis of {}: size and step \
                             must be at least 1, and size at most the axis",
                            s.0[axis]
                        ),
                    ));
                }
                if s.rank() + 1 > MAX_RANK {
                    return Err(IrError::RankTooHigh {
                        rank: s.rank() + 1,
                        max: MAX_RANK,
                    });
                }
                let mut out = s.clone();
                out.0[axis] = (s.0[axis] - size) / step + 1;
                out.0.push(size);
                Ok(out)
            }
        }
    }
}

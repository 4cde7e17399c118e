//! Views as index expressions. A [`View`] maps the coordinates of a logical tensor to an
//! element address in a buffer: `offset + sum(coord[d] * strides[d])`, except where a mask
//! (left by `pad`) says the coordinate lies outside the data and the read yields the pad value.
//! Movement ops compose into a view; where no single view can describe the result (a reshape
//! across strided or padded dims, two pads of different values) [`View::apply`] returns `None`
//! and the compiler materializes a copy first.

use crate::ops::ViewOp;
use crate::{Scalar, Shape, MAX_RANK};
use smallvec::SmallVec;

/// Per-dimension valid ranges `[lo, hi)` and the value read outside them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Mask {
    /// Valid coordinate range for each dimension.
    pub ranges: SmallVec<[(usize, usize); MAX_RANK]>,
    /// The value of a read outside the ranges.
    pub value: Scalar,
}

/// A strided, offset, optionally masked view of a buffer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct View {
    /// The logical shape.
    pub shape: Shape,
    /// Elements to step per coordinate, per dimension (negative after a flip, 0 when expanded).
    pub strides: SmallVec<[i64; MAX_RANK]>,
    /// Address of coordinate zero.
    pub offset: i64,
    /// Present after a pad.
    pub mask: Option<Mask>,
}

/// The structural part of a view that generated code depends on (never sizes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ViewKind {
    /// `address = offset + linear index`.
    Contiguous,
    /// Strided, no mask.
    Strided,
    /// Strided with a mask.
    Masked,
}

impl View {
    /// The row-major view of a whole buffer.
    pub fn contiguous(shape: &Shape) -> View {
        View {
            strides: shape.contiguous_strides(),
            shape: shape.clone(),
            offset: 0,
            mask: None,
        }
    }

    /// The view of a whole buffer of `shape` followed by the movement ops `ops` (first
    /// applied first), or `None` where no single view describes them.
    pub fn of_chain<'a>(shape: &Shape, ops: impl IntoIterator<Item = &'a ViewOp>) -> Option<View> {
        ops.into_iter()
            .try_fold(View::contiguous(shape), |w, op| w.apply(op))
    }

    /// True when `address = offset + row-major linear index` for every coordinate.
    pub fn is_contiguous(&self) -> bool {
        self.mask.is_none() && {
            let c = self.shape.contiguous_strides();
            (0..self.shape.rank()).all(|d| self.shape.0[d] == 1 || self.strides[d] == c[d])
        }
    }

    /// Whether the view reads rows of whole, aligned vectors of `width` elements: unmasked,
    /// step 1 along its last dim, its offset and every other stride multiples of `width` (a
    /// broadcast's stride of 0 included). Where the rows' length is a multiple of `width` too,
    /// each `width` elements of a row from a multiple of `width` are one aligned vector.
    pub fn rows_of(&self, width: i64) -> bool {
        let r = self.shape.rank();
        r > 0
            && self.mask.is_none()
            && self.strides[r - 1] == 1
            && self.offset % width == 0
            && self.strides[..r - 1].iter().all(|s| s % width == 0)
    }

    /// The structural kind of this view.
    pub fn kind(&self) -> ViewKind {
        if self.mask.is_some() {
            ViewKind::Masked
        } else if self.is_contiguous() {
            ViewKind::Contiguous
        } else {
            ViewKind::Strided
        }
    }

    /// The address of a coordinate, or `None` where the mask hides it.
    pub fn address(&self, coords: &[usize]) -> Option<i64> {
        if let Some(m) = &self.mask {
            for (d, &c) in coords.iter().enumerate() {
                let (lo, hi) = m.ranges[d];
                if c < lo || c >= hi {
                    return None;
                }
            }
        }
        Some(
            self.offset
                + coords
                    .iter()
                    .zip(&self.strides)
                    .map(|(&c, &s)| c as i64 * s)
                    .sum::<i64>(),
        )
    }

    /// The pad value, if masked.
    pub fn pad_value(&self) -> Option<Scalar> {
        self.mask.as_ref().map(|m| m.value)
    }

    /// This view followed by a movement op, or `None` if no single view describes it.
    pub fn apply(&self, op: &ViewOp) -> Option<View> {
        let out_shape = op.infer(&self.shape).ok()?;
        match op {
            ViewOp::Reshape(to) => self.reshape(to),
            ViewOp::Permute(p) => Some(View {
                shape: out_shape,
                strides: p.iter().map(|&a| self.strides[a]).collect(),
                offset: self.offset,
                mask: self.mask.as_ref().map(|m| Mask {
                    ranges: p.iter().map(|&a| m.ranges[a]).collect(),
                    value: m.value,
                }),
            }),
            ViewOp::Expand(to) => {
                let off = to.rank() - self.shape.rank();
                let mut strides: SmallVec<[i64; MAX_RANK]> = SmallVec::from_elem(0, to.rank());
                let mut ranges: SmallVec<[(usize, usize); MAX_RANK]> =
                    to.0.iter().map(|&n| (0, n)).collect();
                for d in 0..self.shape.rank() {
                    let expanded = self.shape.0[d] != to.0[off + d];
                    strides[off + d] = if expanded { 0 } else { self.strides[d] };
                    if let Some(m) = &self.mask {
                        let (lo, hi) = m.ranges[d];
                        ranges[off + d] = if !expanded {
                            (lo, hi)
                        } else if lo == 0 && hi >= 1 {
                            (0, to.0[off + d])
                        } else {
                            (0, 0)
                        };
                    }
                }
                Some(View {
                    shape: out_shape,
                    strides,
                    offset: self.offset,
                    mask: self.mask.as_ref().map(|m| Mask {
                        ranges,
                        value: m.value,
                    }),
                })
            }
            ViewOp::Slice(dims) => {
                let mut v = self.clone();
                v.shape = out_shape;
                for (d, sd) in dims.iter().enumerate() {
                    v.offset += sd.start as i64 * self.strides[d];
                    v.strides[d] = self.strides[d] * sd.step as i64;
                    if let Some(m) = &mut v.mask {
                        let (lo, hi) = m.ranges[d];
                        let map = |b: usize| -> usize {
                            if b <= sd.start {
                                0
                            } else {
                                (b - sd.start).div_ceil(sd.step).min(sd.len())
                            }
                        };
                        let (nlo, nhi) = (map(lo), map(hi));
                        m.ranges[d] = if nlo < nhi { (nlo, nhi) } else { (0, 0) };
                    }
                }
                Some(v)
            }
            ViewOp::Pad {
                before,
                after: _,
                value,
            } => {
                if let Some(m) = &self.mask {
                    if m.value != *value {
                        return None;
                    }
                }
                let mut v = self.clone();
                let mut ranges: SmallVec<[(usize, usize); MAX_RANK]> = SmallVec::new();
                for d in 0..self.shape.rank() {
                    v.offset -= before[d] as i64 * self.strides[d];
                    let (lo, hi) = match &self.mask {
                        Some(m) => m.ranges[d],
                        None => (0, self.shape.0[d]),
                    };
                    ranges.push((lo + before[d], hi + before[d]));
                }
                v.shape = out_shape;
                v.mask = Some(Mask {
                    ranges,
                    value: *value,
                });
                Some(v)
            }
            ViewOp::Flip(axes) => {
                let mut v = self.clone();
                for &a in axes {
                    let n = self.shape.0[a];
                    if n == 0 {
                        continue;
                    }
                    v.offset += (n as i64 - 1) * self.strides[a];
                    v.strides[a] = -self.strides[a];
                    if let Some(m) = &mut v.mask {
                        let (lo, hi) = m.ranges[a];
                        m.ranges[a] = if lo < hi { (n - hi, n - lo) } else { (0, 0) };
                    }
                }
                Some(v)
            }
            // Windows of a masked view would need a mask on a sum of two coordinates: the
            // caller copies the source first.
            &ViewOp::Unfold { axis, step, .. } => {
                if self.mask.is_some() {
                    return None;
                }
                let mut v = self.clone();
                v.shape = out_shape;
                v.strides[axis] = self.strides[axis] * step as i64;
                v.strides.push(self.strides[axis]);
                Some(v)
            }
        }
    }

    fn reshape(&self, to: &Shape) -> Option<View> {
        if *to == self.shape {
            return Some(self.clone());
        }
        if self.mask.is_some() {
            // A masked view reshapes only by adding or removing size-1 dims.
            let a: Vec<usize> = self.shape.0.iter().copied().filter(|&d| d != 1).collect();
            let b: Vec<usize> = to.0.iter().copied().filter(|&d| d != 1).collect();
            if a != b {
                return None;
            }
            let m = self.mask.as_ref()?;
            let kept: Vec<usize> = (0..self.shape.rank())
                .filter(|&d| self.shape.0[d] != 1)
                .collect();
            // A size-1 dim that is masked out hides everything: fall back to a copy.
            for d in 0..self.shape.rank() {
                if self.shape.0[d] == 1 && m.ranges[d] != (0, 1) {
                    return None;
                }
            }
            let mut strides = SmallVec::new();
            let mut ranges = SmallVec::new();
            let mut k = 0;
            for &n in to.0.iter() {
                if n == 1 {
                    strides.push(0);
                    ranges.push((0, 1));
                } else {
                    strides.push(self.strides[kept[k]]);
                    ranges.push(m.ranges[kept[k]]);
                    k += 1;
                }
            }
            return Some(View {
                shape: to.clone(),
                strides,
                offset: self.offset,
                mask: Some(Mask {
                    ranges,
                    value: m.value,
                }),
            });
        }
        if to.numel() == 0 {
            return Some(View {
                shape: to.clone(),
                strides: to.contiguous_strides(),
                offset: 0,
                mask: None,
            });
        }
        // Merge and split groups of dims whose strides chain (numpy's no-copy reshape).
        let old: Vec<(usize, i64)> = (0..self.shape.rank())
            .filter(|&d| self.shape.0[d] != 1)
            .map(|d| (self.shape.0[d], self.strides[d]))
            .collect();
        let new = &to.0;
        let mut strides: SmallVec<[i64; MAX_RANK]> = SmallVec::from_elem(0, new.len());
        let (mut oi, mut ni) = (0usize, 0usize);
        while ni < new.len() && oi < old.len() {
            let (mut np, mut op) = (new[ni], old[oi].0);
            let (mut nj, mut oj) = (ni + 1, oi + 1);
            while np != op {
                if np < op {
                    np *= *new.get(nj)?;
                    nj += 1;
                } else {
                    op *= old.get(oj)?.0;
                    oj += 1;
                }
            }
            for ok in oi..oj - 1 {
                if old[ok].1 != old[ok + 1].0 as i64 * old[ok + 1].1 {
                    return None;
                }
            }
            strides[nj - 1] = old[oj - 1].1;
            for nk in (ni + 1..nj).rev() {
                strides[nk - 1] = strides[nk] * new[nk] as i64;
            }
            ni = nj;
            oi = oj;
        }
        Some(View {
            shape: to.clone(),
            strides,
            offset: self.offset,
            mask: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::SliceDim;
    use smallvec::smallvec;

    fn addrs(v: &View) -> Vec<Option<i64>> {
        let mut out = Vec::new();
        let mut c = vec![0; v.shape.rank()];
        for i in 0..v.shape.numel() {
            v.shape.unravel(i, &mut c);
            out.push(v.address(&c));
        }
        out
    }

    #[test]
    fn permute_then_reshape_needs_copy() {
        let v = View::contiguous(&Shape::new(&[2, 3]));
        let t = v.apply(&ViewOp::Permute(smallvec![1, 0])).unwrap();
        assert!(t.apply(&ViewOp::Reshape(Shape::new(&[6]))).is_none());
        let r = v.apply(&ViewOp::Reshape(Shape::new(&[3, 1, 2]))).unwrap();
        assert!(r.is_contiguous());
    }

    #[test]
    fn slice_step_and_flip() {
        let v = View::contiguous(&Shape::new(&[7]));
        let s = v
            .apply(&ViewOp::Slice(smallvec![SliceDim {
                start: 1,
                end: 7,
                step: 2
            }]))
            .unwrap();
        assert_eq!(addrs(&s), vec![Some(1), Some(3), Some(5)]);
        let f = s.apply(&ViewOp::Flip(smallvec![0])).unwrap();
        assert_eq!(addrs(&f), vec![Some(5), Some(3), Some(1)]);
    }

    #[test]
    fn pad_masks_and_composes() {
        let v = View::contiguous(&Shape::new(&[2]));
        let p = v
            .apply(&ViewOp::Pad {
                before: smallvec![1],
                after: smallvec![2],
                value: Scalar::F(0.0),
            })
            .unwrap();
        assert_eq!(addrs(&p), vec![None, Some(0), Some(1), None, None]);
        let f = p.apply(&ViewOp::Flip(smallvec![0])).unwrap();
        assert_eq!(addrs(&f), vec![None, None, Some(1), Some(0), None]);
        let other = ViewOp::Pad {
            before: smallvec![1],
            after: smallvec![0],
            value: Scalar::F(1.0),
        };
        assert!(p.apply(&other).is_none());
    }

    #[test]
    fn expand_gives_zero_strides() {
        let v = View::contiguous(&Shape::new(&[3, 1]));
        let e = v.apply(&ViewOp::Expand(Shape::new(&[2, 3, 4]))).unwrap();
        assert_eq!(e.strides.as_slice(), &[0, 1, 0]);
    }
}

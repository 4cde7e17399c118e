//! Shapes, strides and numpy broadcasting.

use crate::error::{IrError, Result};
use smallvec::SmallVec;
use std::fmt;

/// The largest rank kiln accepts.
pub const MAX_RANK: usize = 6;

/// The bytes of storage one element may take (32-bit words on the GPU and for the host's
/// storage words); [`Shape::check_size`] bounds sizes with it.
pub const STORAGE_BYTES: usize = 4;

/// A list of axes (sorted and deduplicated once normalized).
pub type Axes = SmallVec<[usize; MAX_RANK]>;

/// A tensor shape: rank 0 to [`MAX_RANK`].
#[derive(Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Shape(pub SmallVec<[usize; MAX_RANK]>);

impl Shape {
    /// A shape from its dimensions.
    pub fn new(dims: &[usize]) -> Self {
        Shape(SmallVec::from_slice(dims))
    }

    /// The rank-0 shape.
    pub fn scalar() -> Self {
        Shape(SmallVec::new())
    }

    /// The dimensions.
    pub fn dims(&self) -> &[usize] {
        &self.0
    }

    /// The number of dimensions.
    pub fn rank(&self) -> usize {
        self.0.len()
    }

    /// The number of elements (1 for rank 0, 0 if any dim is 0). Saturates at `usize::MAX`
    /// where the product overflows; every shape a graph or tensor holds has passed
    /// [`Shape::check_size`], so for those it is exact.
    pub fn numel(&self) -> usize {
        self.checked_numel().unwrap_or(usize::MAX)
    }

    /// The number of elements, or `None` if it overflows `usize`.
    pub fn checked_numel(&self) -> Option<usize> {
        self.0.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
    }

    /// Checks that a tensor of this shape can exist: rank at most [`MAX_RANK`], element count
    /// within `usize`, and storage size ([`STORAGE_BYTES`] per element) within `usize` and
    /// `u64`. The product of the nonzero dims must fit as well (strides are computed from
    /// it, so an empty `[0, 2^40, 2^40]` is refused too). Returns the element count. `op`
    /// names the caller in the error.
    pub fn check_size(&self, op: &'static str) -> Result<usize> {
        self.check_rank()?;
        let nonzero = self
            .0
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d.max(1)))
            .ok_or_else(|| IrError::SizeOverflow {
                op,
                why: format!("the element count of shape {self} does not fit in usize"),
            })?;
        let n = self.numel();
        nonzero
            .checked_mul(STORAGE_BYTES)
            .filter(|&b| u64::try_from(b).is_ok())
            .ok_or_else(|| IrError::SizeOverflow {
                op,
                why: format!("shape {self} needs more than usize::MAX bytes"),
            })?;
        Ok(n)
    }

    /// Row-major strides, in elements.
    pub fn contiguous_strides(&self) -> SmallVec<[i64; MAX_RANK]> {
        let mut s: SmallVec<[i64; MAX_RANK]> = SmallVec::from_elem(0, self.rank());
        let mut acc = 1i64;
        for d in (0..self.rank()).rev() {
            s[d] = acc;
            acc *= self.0[d] as i64;
        }
        s
    }

    /// Checks the rank is at most [`MAX_RANK`].
    pub fn check_rank(&self) -> Result<()> {
        if self.rank() > MAX_RANK {
            return Err(IrError::RankTooHigh {
                rank: self.rank(),
                max: MAX_RANK,
            });
        }
        Ok(())
    }

    /// Resolves a possibly negative axis (Python style) against this shape's rank.
    pub fn axis(&self, op: &'static str, axis: isize) -> Result<usize> {
        let r = self.rank() as isize;
        let a = if axis < 0 { axis + r } else { axis };
        if a < 0 || a >= r {
            return Err(IrError::BadAxis {
                op,
                axis,
                shape: self.clone(),
            });
        }
        Ok(a as usize)
    }

    /// Resolves a list of axes: each in range, none repeated; returned sorted.
    pub fn axes(&self, op: &'static str, axes: &[isize]) -> Result<Axes> {
        let mut out = Axes::new();
        for &a in axes {
            let n = self.axis(op, a)?;
            if out.contains(&n) {
                return Err(IrError::BadAxis {
                    op,
                    axis: a,
                    shape: self.clone(),
                });
            }
            out.push(n);
        }
        out.sort_unstable();
        Ok(out)
    }

    /// The numpy broadcast of two shapes.
    pub fn broadcast(op: &'static str, a: &Shape, b: &Shape) -> Result<Shape> {
        let r = a.rank().max(b.rank());
        let mut out = SmallVec::from_elem(0, r);
        for i in 0..r {
            let da = if i + a.rank() >= r {
                a.0[i + a.rank() - r]
            } else {
                1
            };
            let db = if i + b.rank() >= r {
                b.0[i + b.rank() - r]
            } else {
                1
            };
            out[i] = if da == db || db == 1 {
                da
            } else if da == 1 {
                db
            } else {
                return Err(IrError::Broadcast {
                    op,
                    lhs: a.clone(),
                    rhs: b.clone(),
                });
            };
        }
        Ok(Shape(out))
    }

    /// Converts a row-major linear index to coordinates.
    pub fn unravel(&self, mut idx: usize, coords: &mut [usize]) {
        for d in (0..self.rank()).rev() {
            let n = self.0[d];
            coords[d] = idx % n;
            idx /= n;
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "]")
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<&[usize]> for Shape {
    fn from(d: &[usize]) -> Self {
        Shape::new(d)
    }
}

impl<const N: usize> From<[usize; N]> for Shape {
    fn from(d: [usize; N]) -> Self {
        Shape::new(&d)
    }
}

impl From<Vec<usize>> for Shape {
    fn from(d: Vec<usize>) -> Self {
        Shape::new(&d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting() {
        let s = Shape::broadcast("t", &Shape::new(&[3, 1, 5]), &Shape::new(&[4, 1])).unwrap();
        assert_eq!(s, Shape::new(&[3, 4, 5]));
        assert!(Shape::broadcast("t", &Shape::new(&[3]), &Shape::new(&[4])).is_err());
        assert_eq!(
            Shape::broadcast("t", &Shape::scalar(), &Shape::new(&[0, 2])).unwrap(),
            Shape::new(&[0, 2])
        );
    }

    #[test]
    fn axes_resolve() {
        let s = Shape::new(&[2, 3, 4]);
        assert_eq!(s.axis("t", -1).unwrap(), 2);
        assert!(s.axis("t", 3).is_err());
        assert!(s.axes("t", &[0, -3]).is_err());
        assert_eq!(s.contiguous_strides().as_slice(), &[12, 4, 1]);
    }
}

//! Movement ops (views): reshape, permute, expand, slice, pad, flip, plus concat and gather.
//! Views cost nothing at run time: the compiler folds them into the reader's indexing.

use super::Tensor;
use crate::{Error, Result};
use kiln_ir::ops::{SliceDim, ViewOp};
use kiln_ir::{IrError, Op, Shape};
use smallvec::SmallVec;

impl Tensor {
    fn view(&self, v: ViewOp) -> Result<Tensor> {
        Tensor::op(Op::View(v), &[self])
    }

    /// The same elements with another shape (element counts must agree).
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        if shape == self.dims() {
            return Ok(self.clone());
        }
        self.view(ViewOp::Reshape(Shape::new(shape)))
    }

    /// Flattens to one dimension.
    pub fn flatten(&self) -> Result<Tensor> {
        self.reshape(&[self.numel()])
    }

    /// Reorders axes: output axis `i` is input axis `perm[i]` (negative axes count from the end).
    pub fn permute(&self, perm: &[isize]) -> Result<Tensor> {
        if perm.len() != self.rank() {
            return Err(Error::from(IrError::BadShape {
                op: "permute",
                from: self.shape().clone(),
                to: Shape::new(&perm.iter().map(|&p| p.unsigned_abs()).collect::<Vec<_>>()),
                why: "the permutation must name every axis once".into(),
            }));
        }
        let p = self.shape().axes("permute", perm)?;
        if p.len() != perm.len() {
            return Err(Error::from(IrError::BadAxis {
                op: "permute",
                axis: perm[0],
                shape: self.shape().clone(),
            }));
        }
        let resolved: SmallVec<[usize; 6]> = perm
            .iter()
            .map(|&a| self.shape().axis("permute", a))
            .collect::<kiln_ir::Result<_>>()?;
        self.view(ViewOp::Permute(resolved))
    }

    /// Swaps two axes.
    pub fn transpose(&self, a: isize, b: isize) -> Result<Tensor> {
        let (a, b) = (
            self.shape().axis("transpose", a)?,
            self.shape().axis("transpose", b)?,
        );
        let mut p: Vec<isize> = (0..self.rank() as isize).collect();
        p.swap(a, b);
        self.permute(&p)
    }

    /// numpy `broadcast_to`.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Tensor> {
        if shape == self.dims() {
            return Ok(self.clone());
        }
        self.view(ViewOp::Expand(Shape::new(shape)))
    }

    /// Alias of [`Tensor::broadcast_to`].
    pub fn expand(&self, shape: &[usize]) -> Result<Tensor> {
        self.broadcast_to(shape)
    }

    /// Inserts a size-1 axis at `axis` (in `0..=rank`, negative counts from the end).
    pub fn unsqueeze(&self, axis: isize) -> Result<Tensor> {
        let r = self.rank() as isize + 1;
        let a = if axis < 0 { axis + r } else { axis };
        if a < 0 || a >= r {
            return Err(Error::from(IrError::BadAxis {
                op: "unsqueeze",
                axis,
                shape: self.shape().clone(),
            }));
        }
        let mut d = self.dims().to_vec();
        d.insert(a as usize, 1);
        self.reshape(&d)
    }

    /// Removes a size-1 axis.
    pub fn squeeze(&self, axis: isize) -> Result<Tensor> {
        let a = self.shape().axis("squeeze", axis)?;
        if self.dims()[a] != 1 {
            return Err(Error::from(IrError::BadAxis {
                op: "squeeze",
                axis,
                shape: self.shape().clone(),
            }));
        }
        let mut d = self.dims().to_vec();
        d.remove(a);
        self.reshape(&d)
    }

    /// Python-style slice of one axis: `start..end` by `step` (negative bounds count from the
    /// end and are clamped; `step >= 1`).
    pub fn slice(&self, axis: isize, start: isize, end: isize, step: usize) -> Result<Tensor> {
        let a = self.shape().axis("slice", axis)?;
        let (s, e) = resolve_range(self.dims()[a], start, end);
        self.slice_axis(a, s, e, step)
    }

    /// The view of elements `start..end` (every `step`-th) of axis `a`, whole along the others.
    fn slice_axis(&self, a: usize, start: usize, end: usize, step: usize) -> Result<Tensor> {
        let mut dims: SmallVec<[SliceDim; 6]> = self
            .dims()
            .iter()
            .map(|&d| SliceDim {
                start: 0,
                end: d,
                step: 1,
            })
            .collect();
        dims[a] = SliceDim { start, end, step };
        self.view(ViewOp::Slice(dims))
    }

    /// `len` elements of `axis` from `start`. As in PyTorch, the range must lie inside the
    /// axis: one past its end is a typed error ([`IrError::OutOfRange`]), not clamped.
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Result<Tensor> {
        let a = self.shape().axis("narrow", axis)?;
        let dim = self.dims()[a];
        let end = start
            .checked_add(len)
            .ok_or_else(|| IrError::SizeOverflow {
                op: "narrow",
                why: format!("start {start} + length {len} overflows"),
            })?;
        if end > dim {
            return Err(Error::from(IrError::OutOfRange {
                op: "narrow",
                axis: a,
                start,
                len,
                dim,
                shape: self.shape().clone(),
            }));
        }
        self.slice_axis(a, start, end, 1)
    }

    /// Pads every dimension with `(before, after)` elements of `value`.
    pub fn pad(&self, widths: &[(usize, usize)], value: f64) -> Result<Tensor> {
        let value = super::creation::scalar_for(self.dtype(), value);
        self.view(ViewOp::Pad {
            before: widths.iter().map(|w| w.0).collect(),
            after: widths.iter().map(|w| w.1).collect(),
            value,
        })
    }

    /// Reverses the listed axes.
    pub fn flip(&self, axes: &[isize]) -> Result<Tensor> {
        let a = self.shape().axes("flip", axes)?;
        self.view(ViewOp::Flip(a))
    }

    /// Sliding windows along `axis` (`torch.Tensor.unfold`): the axis becomes the `(n - size)
    /// / step + 1` window starts and a new last axis holds each window's `size` elements. A
    /// view: no copy, unless the source is padded (then it is copied first).
    pub fn unfold(&self, axis: isize, size: usize, step: usize) -> Result<Tensor> {
        let axis = self.shape().axis("unfold", axis)?;
        self.view(ViewOp::Unfold { axis, size, step })
    }

    /// Concatenates tensors along `axis`.
    pub fn concat(tensors: &[&Tensor], axis: isize) -> Result<Tensor> {
        let first = tensors.first().ok_or(Error::from(IrError::Arity {
            op: "concat",
            expected: 1,
            got: 0,
        }))?;
        let a = first.shape().axis("concat", axis)?;
        if tensors.len() == 1 {
            return Ok((*first).clone());
        }
        // One kernel binds its parts plus its output; WebGPU guarantees only 8 storage buffers
        // per stage, so long lists become a tree of concats of at most 7 parts.
        const MAX_PARTS: usize = 7;
        if tensors.len() > MAX_PARTS {
            let parts: Vec<Tensor> = tensors
                .chunks(MAX_PARTS)
                .map(|c| Tensor::concat(c, axis))
                .collect::<Result<_>>()?;
            let refs: Vec<&Tensor> = parts.iter().collect();
            return Tensor::concat(&refs, axis);
        }
        Tensor::op(Op::Concat { axis: a }, tensors)
    }

    /// `torch.gather`: `out[c] = self[c with c[axis] = index[c]]`.
    pub fn gather(&self, axis: isize, index: &Tensor) -> Result<Tensor> {
        let a = self.shape().axis("gather", axis)?;
        Tensor::op(Op::Gather { axis: a }, &[self, index])
    }

    /// Picks entries `index` (a 1-D `I32` tensor) along `axis`.
    pub fn index_select(&self, axis: isize, index: &Tensor) -> Result<Tensor> {
        let a = self.shape().axis("index_select", axis)?;
        if index.rank() != 1 {
            return Err(Error::from(IrError::BadShape {
                op: "index_select",
                from: index.shape().clone(),
                to: Shape::new(&[index.numel()]),
                why: "the index must be 1-D".into(),
            }));
        }
        let mut ishape = vec![1usize; self.rank()];
        ishape[a] = index.numel();
        let mut out = self.dims().to_vec();
        out[a] = index.numel();
        let idx = index.reshape(&ishape)?.broadcast_to(&out)?;
        self.gather(axis, &idx)
    }
}

/// `start..end` on an axis of `n` as `slice` reads it: negatives count from the end, both are
/// clamped to `[0, n]`, and an end before the start gives an empty range.
pub(super) fn resolve_range(n: usize, start: isize, end: isize) -> (usize, usize) {
    let n = n as isize;
    let clampi = |i: isize| -> usize {
        let i = if i < 0 { i + n } else { i };
        i.clamp(0, n) as usize
    };
    let (s, e) = (clampi(start), clampi(end));
    (s, e.max(s))
}

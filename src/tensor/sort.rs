//! Sorting along an axis by ranks: element `i` of a line goes to position `rank[i]`, the
//! count of elements ordered before it (a row reduction over the line), and position `r`
//! reads the element whose rank is `r` (a second row reduction, then a gather). Both
//! reductions compare every pair of the line inside a reduce kernel and store nothing of that
//! size: `n²` comparisons a line, fine for the lines of top-k, sampling and argsort in
//! models; a bitonic kernel would do `n log² n`.

use super::Tensor;
use crate::Result;
use kiln_ir::{DType, IrError, Shape};

impl Tensor {
    /// Sorts along `axis`: `(values, indices)`, the indices (`I32`) saying where each value
    /// came from. Ascending, or descending with `descending`; NaN counts as the largest value
    /// (last ascending, first descending), `-0` equals `+0`, and equal values keep their order
    /// (a stable sort).
    pub fn sort(&self, axis: isize, descending: bool) -> Result<(Tensor, Tensor)> {
        let idx = self.argsort(axis, descending)?;
        Ok((self.gather(axis, &idx)?, idx))
    }

    /// The indices (`I32`) that sort `self` along `axis` (see [`Tensor::sort`]).
    pub fn argsort(&self, axis: isize, descending: bool) -> Result<Tensor> {
        if self.rank() == 0 {
            // One element, at index 0; axis 0 or -1 as for a line of one.
            return match axis {
                0 | -1 => Tensor::full_on(self.device(), &[], 0.0, DType::I32),
                _ => Err(IrError::BadAxis {
                    op: "argsort",
                    axis,
                    shape: self.shape().clone(),
                }
                .into()),
            };
        }
        let a = self.shape().axis("argsort", axis)?;
        let last = self.rank() - 1;
        let x = self.transpose(a as isize, last as isize)?;
        let n = x.dims()[last];
        let dev = self.device();
        if x.numel() == 0 {
            return Tensor::full_on(dev, self.dims(), 0.0, DType::I32);
        }
        // `[.., i, j]`: element i of the line against element j.
        let xi = x.unsqueeze(-1)?;
        let xj = x.unsqueeze(-2)?;
        let mut ishape = vec![1usize; x.rank() + 1];
        ishape[last] = n;
        let mut jshape = vec![1usize; x.rank() + 1];
        jshape[last + 1] = n;
        let ar = Tensor::arange_on(dev, 0.0, 1.0, n, DType::I32)?;
        let (ii, jj) = (ar.reshape(&ishape)?, ar.reshape(&jshape)?);
        let nan = |t: &Tensor| t.ne(t);
        let ahead = if descending { xj.gt(&xi)? } else { xj.lt(&xi)? };
        // NaN is the largest value: behind every number ascending, ahead of them descending.
        let nan_ahead = if descending {
            nan(&xj)?.logical_and(&nan(&xi)?.logical_not()?)?
        } else {
            nan(&xi)?.logical_and(&nan(&xj)?.logical_not()?)?
        };
        let same = xj
            .eq(&xi)?
            .logical_or(&nan(&xj)?.logical_and(&nan(&xi)?)?)?;
        let before = ahead
            .logical_or(&nan_ahead)?
            .logical_or(&same.logical_and(&jj.lt(&ii)?)?)?;
        let rank = before.cast(DType::I32)?.sum(&[-1], false)?;
        // Position r takes the element of rank r: `[.., r, i]`.
        let owner = rank.unsqueeze(-2)?.eq(&ii)?;
        let from = Tensor::where_(&owner, &jj, &jj.scalar_like(-1.0)?)?.max(&[-1], false)?;
        from.transpose(a as isize, last as isize)
    }

    /// The `k` largest (or with `largest = false`, smallest) elements along `axis`, in order,
    /// and their indices (`I32`): the first `k` of [`Tensor::sort`], descending for the
    /// largest. `k` past the axis' length is an [`IrError::BadShape`].
    pub fn topk(&self, k: usize, axis: isize, largest: bool) -> Result<(Tensor, Tensor)> {
        let a = self.shape().axis("topk", axis)?;
        if k > self.dims()[a] {
            return Err(IrError::BadShape {
                op: "topk",
                from: self.shape().clone(),
                to: Shape::new(&[k]),
                why: format!("k = {k} is past the axis' {} elements", self.dims()[a]),
            }
            .into());
        }
        let idx = self.argsort(axis, largest)?.narrow(axis, 0, k)?;
        Ok((self.gather(axis, &idx)?, idx))
    }
}

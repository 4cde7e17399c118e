//! Window tables: for each output position of a convolution, pooling or interpolation and
//! each of its taps, the flat index of the input element the tap reads. The tables depend only
//! on shapes and options, so they are made on the host and uploaded (`P x K` indices); a gather
//! through them builds the columns that a matmul or a reduction then consumes. A tap that
//! reads padding (or nothing) holds the input's element count, an index past the end, which a
//! gather reads as 0 and a scatter ignores.

use super::Tensor;
use crate::{Error, Result};
use kiln_ir::IrError;

/// The most taps one table holds.
const MAX_TAPS: usize = 1 << 28;

/// Row-major strides of `dims`.
pub(super) fn strides(dims: &[usize]) -> Vec<usize> {
    let mut s = vec![1; dims.len()];
    for d in (0..dims.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * dims[d + 1];
    }
    s
}

/// The coordinates of flat index `i` in `dims`.
pub(super) fn unflatten(mut i: usize, dims: &[usize]) -> Vec<usize> {
    let mut c = vec![0; dims.len()];
    for d in (0..dims.len()).rev() {
        let n = dims[d].max(1);
        c[d] = i % n;
        i /= n;
    }
    c
}

/// A table of `positions x taps` input indices, built by `tap(output coords, tap coords)`,
/// which gives the input coordinates a tap reads or `None` for padding.
pub(super) struct Table {
    /// The output positions' dims.
    pub out: Vec<usize>,
    /// The taps' dims.
    pub taps: Vec<usize>,
    /// `P x K` flat indices into the input's spatial elements (`len` where none is read).
    pub index: Vec<i32>,
}

impl Table {
    pub(super) fn build(
        op: &'static str,
        input: &[usize],
        out: &[usize],
        taps: &[usize],
        tap: impl Fn(&[usize], &[usize]) -> Option<Vec<usize>>,
    ) -> Result<Table> {
        let len: usize = input.iter().product();
        let p: usize = out.iter().product();
        let k: usize = taps.iter().product();
        let too_large = || {
            Error::from(IrError::SizeOverflow {
                op,
                why: format!(
                    "{p} x {k} window taps over {len} input elements do not fit i32 indices"
                ),
            })
        };
        if len >= i32::MAX as usize {
            return Err(too_large());
        }
        // At most 2^28 taps in all (a 1 GiB table): a larger one is a mistake, not a
        // workload.
        let count = p
            .checked_mul(k)
            .filter(|&n| n <= MAX_TAPS)
            .ok_or_else(too_large)?;
        let st = strides(input);
        let mut index = Vec::with_capacity(count);
        for pi in 0..p {
            let o = unflatten(pi, out);
            for ki in 0..k {
                let t = unflatten(ki, taps);
                let flat = tap(&o, &t).map_or(len, |c| c.iter().zip(&st).map(|(a, b)| a * b).sum());
                index.push(flat as i32);
            }
        }
        Ok(Table {
            out: out.to_vec(),
            taps: taps.to_vec(),
            index,
        })
    }

    /// Output positions.
    pub(super) fn positions(&self) -> usize {
        self.out.iter().product()
    }

    /// Taps per position.
    pub(super) fn width(&self) -> usize {
        self.taps.iter().product()
    }

    /// The table on `x`'s device as an `I32` tensor `[P, K]`.
    pub(super) fn upload(&self, x: &Tensor) -> Result<Tensor> {
        Tensor::from_slice_on(x.device(), &self.index, &[self.positions(), self.width()])
    }
}

impl Tensor {
    /// Tap `k` of every window of `self` (`[n, c, spatial..]`): `[n, c, P]`, one gather
    /// through column `k` of the uploaded table `taps` (`[P, K]`; 0 where it reads padding).
    pub(super) fn tap(&self, taps: &Tensor, k: usize) -> Result<Tensor> {
        let (n, c) = (self.dims()[0], self.dims()[1]);
        let len: usize = self.dims()[2..].iter().product();
        let p = taps.dims()[0];
        let idx = taps
            .narrow(1, k, 1)?
            .reshape(&[1, 1, p])?
            .broadcast_to(&[n, c, p])?;
        self.reshape(&[n, c, len])?.gather(2, &idx)
    }

    /// The columns of `self` (`[n, c, spatial..]`, `c = groups x cg`) through `table`, laid
    /// out for a weight on the left of a grouped matmul: `[groups, cg·K, n·P]`, element `[g,
    /// j·K + k, m·P + p]` the element of channel `g·cg + j` of sample `m` that tap `k` of
    /// position `p` reads (0 for padding). One gather; both matmul operands are then
    /// row-major, with the long `n·P` edge as the output's columns.
    pub(super) fn columns_t(&self, groups: usize, table: &Table) -> Result<Tensor> {
        let (n, c) = (self.dims()[0], self.dims()[1]);
        let cg = c / groups.max(1);
        let len: usize = self.dims()[2..].iter().product();
        let (p, k) = (table.positions(), table.width());
        let x = self
            .reshape(&[n, groups, cg, len])?
            .permute(&[1, 2, 0, 3])?
            .unsqueeze(2)?
            .broadcast_to(&[groups, cg, k, n, len])?;
        let idx = table
            .upload(self)?
            .transpose(0, 1)?
            .reshape(&[1, 1, k, 1, p])?
            .broadcast_to(&[groups, cg, k, n, p])?;
        x.gather(4, &idx)?.reshape(&[groups, cg * k, n * p])
    }

    /// The taps of every window of `self` (`[n, c, spatial..]`) through `table`, for a
    /// reduction over them: `[n, c, P, K]` (0 where a tap reads padding). One gather.
    pub(super) fn windows(&self, table: &Table) -> Result<Tensor> {
        let (n, c) = (self.dims()[0], self.dims()[1]);
        let len: usize = self.dims()[2..].iter().product();
        let (p, k) = (table.positions(), table.width());
        let x = self
            .reshape(&[n, c, 1, len])?
            .broadcast_to(&[n, c, p, len])?;
        let idx = table
            .upload(self)?
            .reshape(&[1, 1, p, k])?
            .broadcast_to(&[n, c, p, k])?;
        x.gather(3, &idx)
    }
}

/// `a·b + c` for sizes from a caller's options, or [`IrError::SizeOverflow`].
pub(super) fn size(op: &'static str, a: usize, b: usize, c: usize) -> Result<usize> {
    a.checked_mul(b)
        .and_then(|ab| ab.checked_add(c))
        .ok_or_else(|| {
            Error::from(IrError::SizeOverflow {
                op,
                why: format!("{a} x {b} + {c} overflows"),
            })
        })
}

/// The extent of a window of `kernel` taps `dilation` apart: `dilation·(kernel − 1) + 1`.
pub(super) fn span(op: &'static str, kernel: usize, dilation: usize) -> Result<usize> {
    size(op, dilation, kernel.max(1) - 1, 1)
}

/// Windows of at most this many taps are folded by an elementwise chain of one gather per tap
/// (one kernel, nothing stored) instead of a reduction over stored columns, whose one
/// workgroup per output costs more than the few taps.
pub(super) const UNROLL_TAPS: usize = 16;

/// A `BadShape` error of `op` about `shape`.
pub(super) fn shape_error(op: &'static str, shape: &kiln_ir::Shape, why: String) -> Error {
    Error::from(IrError::BadShape {
        op,
        from: shape.clone(),
        to: shape.clone(),
        why,
    })
}

/// Refuses a non-float operand of a convolution, pooling or interpolation.
pub(super) fn float_only(op: &'static str, x: &Tensor) -> Result<()> {
    if !x.dtype().is_float() {
        return Err(Error::from(IrError::UnsupportedDType {
            op,
            dtype: x.dtype(),
            why: "float dtypes only",
        }));
    }
    Ok(())
}

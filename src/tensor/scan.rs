//! Cumulative scans along an axis.

use super::Tensor;
use crate::Result;
use kiln_ir::ops::ScanOp;
use kiln_ir::IrError;
use kiln_ir::Op;

impl Tensor {
    /// The inclusive scan by `op` along `axis` (negative counts from the end): element `i`
    /// folds elements `0..=i` of its line. The IR scans the last axis; another axis is
    /// transposed there and back (views). A rank-0 tensor scans as one element (axis 0 or
    /// -1).
    pub fn scan(&self, op: ScanOp, axis: isize) -> Result<Tensor> {
        if self.rank() == 0 {
            if axis != 0 && axis != -1 {
                return Err(IrError::BadAxis {
                    op: op.name(),
                    axis,
                    shape: self.shape().clone(),
                }
                .into());
            }
            return self.reshape(&[1])?.scan(op, 0)?.reshape(&[]);
        }
        let a = self.shape().axes(op.name(), &[axis])?[0] as isize;
        let last = self.rank() as isize - 1;
        if a == last {
            return Tensor::op(Op::Scan(op), &[self]);
        }
        let moved = self.transpose(a, last)?;
        Tensor::op(Op::Scan(op), &[&moved])?.transpose(a, last)
    }

    /// Running sum along `axis` (integers wrap).
    pub fn cumsum(&self, axis: isize) -> Result<Tensor> {
        self.scan(ScanOp::Sum, axis)
    }

    /// Running product along `axis` (integers wrap).
    pub fn cumprod(&self, axis: isize) -> Result<Tensor> {
        self.scan(ScanOp::Prod, axis)
    }

    /// Running maximum along `axis`; NaN from the first NaN on.
    pub fn cummax(&self, axis: isize) -> Result<Tensor> {
        self.scan(ScanOp::Max, axis)
    }

    /// Running minimum along `axis`; NaN from the first NaN on.
    pub fn cummin(&self, axis: isize) -> Result<Tensor> {
        self.scan(ScanOp::Min, axis)
    }
}

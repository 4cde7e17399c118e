//! Reductions over axes.

use super::Tensor;
use crate::Result;
use kiln_ir::ops::ReduceOp;
use kiln_ir::Op;

impl Tensor {
    /// Applies a reduction over `axes` (empty means all axes).
    pub fn reduce(&self, op: ReduceOp, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        let axes = if axes.is_empty() {
            (0..self.rank()).collect()
        } else {
            self.shape().axes(op.name(), axes)?
        };
        Tensor::op(Op::Reduce { op, axes, keepdim }, &[self])
    }

    /// Sum over `axes` (all if empty).
    pub fn sum(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Sum, axes, keepdim)
    }

    /// Mean over `axes` (floats).
    pub fn mean(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Mean, axes, keepdim)
    }

    /// Maximum over `axes`.
    pub fn max(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Max, axes, keepdim)
    }

    /// Minimum over `axes`.
    pub fn min(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Min, axes, keepdim)
    }

    /// Product over `axes`.
    pub fn prod(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Prod, axes, keepdim)
    }

    /// `log(sum(exp(x)))` over `axes` (all if empty; floats), without overflow.
    pub fn logsumexp(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::LogSumExp, axes, keepdim)
    }

    /// Index of the maximum along `axis` (`I32`).
    pub fn argmax(&self, axis: isize, keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::ArgMax, &[axis], keepdim)
    }

    /// Index of the minimum along `axis` (`I32`).
    pub fn argmin(&self, axis: isize, keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::ArgMin, &[axis], keepdim)
    }
}

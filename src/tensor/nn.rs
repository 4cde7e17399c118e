//! Composite ops built from primitives: matmul with broadcasting, softmax, log-softmax,
//! layer norm and RMS norm.

use super::Tensor;
use crate::{Error, Result};
use kiln_ir::{DType, IrError, Op, Shape};

impl Tensor {
    /// Matrix product with numpy semantics: 1-D operands are promoted and the added dim
    /// removed, batch dims broadcast. Float operands take the matmul kernels; i32 and u32
    /// operands are exact with wrapping (a reduction of the products, docs/OPS.md).
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        let err = || {
            Error::from(IrError::MatmulShape {
                lhs: self.shape().clone(),
                rhs: other.shape().clone(),
            })
        };
        if self.rank() == 0 || other.rank() == 0 {
            return Err(err());
        }
        let a = if self.rank() == 1 {
            self.unsqueeze(0)?
        } else {
            self.clone()
        };
        let b = if other.rank() == 1 {
            other.unsqueeze(1)?
        } else {
            other.clone()
        };
        let (ra, rb) = (a.rank(), b.rank());
        let (m, k) = (a.dims()[ra - 2], a.dims()[ra - 1]);
        let (k2, n) = (b.dims()[rb - 2], b.dims()[rb - 1]);
        if k != k2 {
            return Err(err());
        }
        let (ba, bb) = (
            Shape::new(&a.dims()[..ra - 2]),
            Shape::new(&b.dims()[..rb - 2]),
        );
        let batch = Shape::broadcast("matmul", &ba, &bb).map_err(|_| {
            Error::from(IrError::MatmulBatch {
                lhs: self.shape().clone(),
                rhs: other.shape().clone(),
                lhs_batch: ba.clone(),
                rhs_batch: bb.clone(),
            })
        })?;
        let mut sa = batch.dims().to_vec();
        sa.extend([m, k]);
        let mut sb = batch.dims().to_vec();
        sb.extend([k, n]);
        let a = a.reshape(&[&vec![1; sa.len() - ra][..], a.dims()].concat())?;
        let b = b.reshape(&[&vec![1; sb.len() - rb][..], b.dims()].concat())?;
        let (a, b) = (a.broadcast_to(&sa)?, b.broadcast_to(&sb)?);
        let int = matches!(a.dtype(), DType::I32 | DType::U32) && a.dtype() == b.dtype();
        let mut out = if int {
            int_matmul(&a, &b, batch.dims(), (m, k, n))?
        } else {
            Tensor::op(Op::Matmul, &[&a, &b])?
        };
        if self.rank() == 1 {
            out = out.squeeze(-2)?;
        }
        if other.rank() == 1 {
            out = out.squeeze(-1)?;
        }
        Ok(out)
    }

    /// Softmax along `axis`: `exp(x - max) / sum(exp(x - max))`.
    pub fn softmax(&self, axis: isize) -> Result<Tensor> {
        let m = self.max(&[axis], true)?;
        let e = self.sub(&m)?.exp()?;
        e.div(&e.sum(&[axis], true)?)
    }

    /// Log-softmax along `axis`: `x - max - log(sum(exp(x - max)))`.
    pub fn log_softmax(&self, axis: isize) -> Result<Tensor> {
        let m = self.max(&[axis], true)?;
        let z = self.sub(&m)?;
        z.sub(&z.exp()?.sum(&[axis], true)?.log()?)
    }

    /// Layer norm over the last dim: `(x - mean) / sqrt(var + eps) * weight + bias`
    /// (biased variance).
    ///
    /// The row is first shifted by its maximum, `s = x - max(x)`, and centred as
    /// `xc = s - mean(s)`, before any scaling. Mathematically the same, but a constant row
    /// gives `s = 0` exactly (a maximum is exact in any order), so `mean(s)`, `xc`, the
    /// variance and the output are exactly 0 (the output exactly `bias`), however the GPU
    /// orders the sum, rounds the division by the row length, or contracts `xc * rstd`
    /// (+ bias) into FMAs. Without the shift, `mean(x)` of a constant row `c` need not be `c`
    /// exactly in f32, and `(x - mean) * rstd` amplifies that ulp by up to `1/sqrt(eps)`.
    /// The maximum is one more reduction of the same row, in the same kernel (as in
    /// softmax); shifting by the row's first element instead would read the input through a
    /// view, which stops a computed input from fusing into the layer norm's kernel.
    pub fn layer_norm(
        &self,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f64,
    ) -> Result<Tensor> {
        let shifted = match self.dims().last() {
            Some(&n) if n > 0 => self.sub(&self.max(&[-1], true)?)?,
            _ => self.clone(),
        };
        let mean = shifted.mean(&[-1], true)?;
        let xc = shifted.sub(&mean)?;
        let var = xc.mul(&xc)?.mean(&[-1], true)?;
        let mut y = xc.mul(&var.add_scalar(eps)?.rsqrt()?)?;
        if let Some(w) = weight {
            y = y.mul(w)?;
        }
        if let Some(b) = bias {
            y = y.add(b)?;
        }
        Ok(y)
    }

    /// RMS norm over the last dim: `x / sqrt(mean(x^2) + eps) * weight`.
    pub fn rms_norm(&self, weight: Option<&Tensor>, eps: f64) -> Result<Tensor> {
        let ms = self.mul(self)?.mean(&[-1], true)?;
        let mut y = self.mul(&ms.add_scalar(eps)?.rsqrt()?)?;
        if let Some(w) = weight {
            y = y.mul(w)?;
        }
        Ok(y)
    }
}

/// An integer matmul, exact with wrapping: the products `[batch, m, k, n]` summed over `k`,
/// one reduction whose products are computed in its kernel, never stored.
fn int_matmul(
    a: &Tensor,
    b: &Tensor,
    batch: &[usize],
    (m, k, n): (usize, usize, usize),
) -> Result<Tensor> {
    let bn: usize = batch.iter().product();
    let a = a.reshape(&[bn, m, k])?.unsqueeze(3)?;
    let b = b.reshape(&[bn, k, n])?.unsqueeze(1)?;
    let mut dims = batch.to_vec();
    dims.extend([m, n]);
    a.mul(&b)?.sum(&[2], false)?.reshape(&dims)
}

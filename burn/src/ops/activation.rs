//! Burn's activation, transaction and distributed ops on kiln: Burn's defaults, which are
//! compositions of the tensor ops (and so kiln lowerings), except the activations kiln has
//! as one op.

use super::common as c;
use super::Kiln;
use crate::KilnTensor;
use burn_backend::distributed::DistributedOps;
use burn_backend::ops::{ActivationOps, TransactionOps};
use burn_backend::tensor::FloatTensor;
use burn_backend::TensorMetadata;
use kiln::ir::ops::UnaryOp;

impl ActivationOps<Self> for Kiln {
    fn relu(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::Relu)
    }

    fn gelu(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::GeluErf)
    }

    /// The exact GELU's derivative, `Φ(x) + x φ(x)` (Burn's default differentiates the tanh
    /// approximation instead, though its `gelu` is the exact one).
    fn gelu_backward(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        KilnTensor::lift(&[&x, &grad], x.shape(), x.dtype(), |v| {
            let x = v[0];
            let cdf = x
                .mul_scalar(std::f64::consts::FRAC_1_SQRT_2)?
                .erf()?
                .add_scalar(1.0)?
                .mul_scalar(0.5)?;
            let pdf = x
                .mul(x)?
                .mul_scalar(-0.5)?
                .exp()?
                .mul_scalar(1.0 / (2.0 * std::f64::consts::PI).sqrt())?;
            cdf.add(&x.mul(&pdf)?)?.mul(v[1])
        })
    }

    fn sigmoid(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::Sigmoid)
    }
}

impl TransactionOps<Self> for Kiln {}

impl DistributedOps<Self> for Kiln {}

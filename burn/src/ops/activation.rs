//! Burn's activation, transaction and distributed ops on kiln: Burn's defaults, which are
//! compositions of the tensor ops (and so kiln lowerings), except the activations kiln has
//! as one op.

use super::common as c;
use super::Kiln;
use burn_backend::distributed::DistributedOps;
use burn_backend::ops::{ActivationOps, TransactionOps};
use burn_backend::tensor::FloatTensor;
use kiln::ir::ops::UnaryOp;

impl ActivationOps<Self> for Kiln {
    fn relu(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::Relu)
    }

    fn gelu(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::GeluErf)
    }

    fn sigmoid(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        c::unary(&tensor, UnaryOp::Sigmoid)
    }
}

impl TransactionOps<Self> for Kiln {}

impl DistributedOps<Self> for Kiln {}

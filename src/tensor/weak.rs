//! A reference to a tensor that does not keep it alive: how a caller tracks the tensors its own
//! user still holds (the Burn backend realizes the live ones together at a read, so that a
//! training loop's parameters become values instead of an ever longer lazy history).

use super::{Tensor, TensorNode};
use std::sync::{Arc, Weak};

/// A tensor that may have been dropped.
#[derive(Clone, Debug)]
pub struct WeakTensor {
    node: Weak<TensorNode>,
}

impl Tensor {
    /// A reference that does not keep the tensor (or what it is computed from) alive.
    pub fn downgrade(&self) -> WeakTensor {
        WeakTensor {
            node: Arc::downgrade(&self.node),
        }
    }
}

impl WeakTensor {
    /// The tensor, while someone still holds it.
    pub fn upgrade(&self) -> Option<Tensor> {
        self.node.upgrade().map(|node| Tensor { node })
    }

    /// True once every holder has dropped the tensor.
    pub fn is_dropped(&self) -> bool {
        self.node.strong_count() == 0
    }
}

#[cfg(test)]
mod tests {
    use crate::{Device, Tensor};

    #[test]
    fn a_weak_tensor_follows_its_holders() {
        let d = Device::interpreter();
        let x = Tensor::from_slice_on(&d, &[1.5f32, -2.0, 3.25], &[3]).unwrap();
        let y = x.add_scalar(1.0).unwrap();
        let weak = y.downgrade();
        let z = y.clone();
        drop(y);
        let back = weak.upgrade().expect("a clone still holds it");
        assert_eq!(back.id(), z.id());
        assert_eq!(back.to_vec::<f32>().unwrap(), vec![2.5, -1.0, 4.25]);
        assert!(z.is_realized(), "the upgraded tensor is the same node");
        drop((back, z));
        assert!(weak.is_dropped());
        assert!(weak.upgrade().is_none());
    }
}

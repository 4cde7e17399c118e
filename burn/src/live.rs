//! The lazy tensors Burn still holds, realized together at every read.
//!
//! kiln computes a tensor when it is read, from its sources back to the last values. A
//! training loop reads only its loss, so without this each step's parameters would stay
//! expressions over all the steps before (each step slower than the last). At a read, every
//! lazy tensor Burn still holds is computed in the same plan as the one read: the parameters,
//! the optimizer's moments and the activations autodiff keeps become values, and a tensor
//! nobody holds any more is never computed on its own. Shared work is done once, and what dies
//! before a read still fuses away.
//!
//! "Held" means held by Burn: a [`Held`] token is shared by the clones of one Burn tensor, and
//! the list holds weak references to the tokens. A kiln tensor that lives on only as a source
//! of another lazy one (the inputs of a chain of ops Burn has dropped) is not held, so it still
//! fuses into what reads it. The list never keeps anything alive, and it is pruned of dropped
//! and realized entries whenever it doubles, so it is bounded by what Burn holds.

use kiln::{Tensor, WeakTensor};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// Entries kept before the first pruning.
const FIRST_PRUNE: usize = 1024;

/// The token of one Burn tensor (shared by its clones): its kiln tensor, weakly.
#[derive(Debug)]
pub(crate) struct Held(WeakTensor);

impl Held {
    /// The kiln tensor, while it is alive and still to be computed.
    fn lazy(&self) -> Option<Tensor> {
        self.0.upgrade().filter(|t| !t.is_realized())
    }
}

struct Live {
    tensors: Vec<Weak<Held>>,
    prune_at: usize,
}

static LIVE: Mutex<Live> = Mutex::new(Live {
    tensors: Vec::new(),
    prune_at: FIRST_PRUNE,
});

/// The list; a panic elsewhere while it was locked leaves only weak references, still valid.
fn live() -> MutexGuard<'static, Live> {
    LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Tracks `t` if it is still to be computed: the token its Burn tensor keeps.
pub(crate) fn track(t: &Tensor) -> Option<Arc<Held>> {
    if t.is_realized() {
        return None;
    }
    let held = Arc::new(Held(t.downgrade()));
    let mut live = live();
    live.tensors.push(Arc::downgrade(&held));
    if live.tensors.len() >= live.prune_at {
        live.tensors
            .retain(|w| w.upgrade().is_some_and(|h| h.lazy().is_some()));
        live.prune_at = (2 * live.tensors.len()).max(FIRST_PRUNE);
    }
    Some(held)
}

/// The tracked tensors Burn still holds that are still lazy; the list is emptied (a read
/// realizes them).
pub(crate) fn take() -> Vec<Tensor> {
    let tensors = std::mem::take(&mut live().tensors);
    tensors
        .iter()
        .filter_map(|w| w.upgrade().and_then(|h| h.lazy()))
        .collect()
}

/// How many tensors are tracked (dropped ones included until the next pruning).
#[cfg(test)]
pub(crate) fn tracked() -> usize {
    live().tensors.len()
}

#[cfg(test)]
mod tests {
    use super::tracked;
    use crate::{Kiln, KilnDevice};
    use burn_backend::ops::FloatTensorOps;
    use burn_backend::{Scalar, TensorData};

    /// A loop that reads only a loss: the state it carries is a value after every read, what
    /// Burn dropped still fuses, and the list stays bounded however many tensors die.
    #[test]
    fn a_read_computes_what_burn_holds() {
        let d = KilnDevice::default();
        let mut p = Kiln::float_from_data(TensorData::new(vec![1.0f32, 2.0, 3.0], [3]), &d);
        let mut expect = [1.0f32, 2.0, 3.0];
        for step in 0..40 {
            p = Kiln::float_add_scalar(
                Kiln::float_mul_scalar(p, Scalar::Float(0.5)),
                Scalar::Float(1.0),
            );
            expect = expect.map(|v| v * 0.5 + 1.0);
            let loss = Kiln::float_sum(p.clone());
            let read = loss.read().expect("the loss reads");
            let got: Vec<f32> = read.iter::<f32>().collect();
            assert!(
                (got[0] - expect.iter().sum::<f32>()).abs() < 1e-5,
                "step {step}: {got:?}"
            );
            assert!(
                p.tensor().expect("built").is_realized(),
                "step {step}: the state is still an expression"
            );
        }
        // A tensor Burn dropped that lives on only as a source is not computed on its own.
        let mid = Kiln::float_exp(p.clone());
        let inner = mid.tensor().expect("built").clone();
        let last = Kiln::float_add_scalar(mid, Scalar::Float(1.0));
        last.read().expect("reads");
        assert!(
            !inner.is_realized(),
            "a dropped intermediate was computed apart"
        );
        for _ in 0..5000 {
            let dead = Kiln::float_add_scalar(p.clone(), Scalar::Float(1.0));
            drop(dead);
        }
        assert!(tracked() < 2 * 1024 + 16, "{} tracked", tracked());
    }
}

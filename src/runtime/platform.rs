//! What differs between a native process and the browser, in one place.
//!
//! In the browser (wasm32) the page's one thread belongs to the event loop: nothing may block
//! it, no other thread exists, and `std::time::Instant` has no clock. So there:
//!
//! - [`block_on`] refuses with [`Error::Blocking`] instead of waiting: every wait has an
//!   async form (`Device::new_async`, `Tensor::to_vec_async`), and the blocking API names it;
//! - [`scoped`] does not wait for an error scope: the call's errors reach the device's
//!   uncaptured-error handler and surface, typed, at the next `check_alive` (a readback);
//! - [`Instant`] reads the page's clock (`performance.now()`);
//! - [`CAN_BLOCK`] is false, and the context turns off autotuning, which times candidates by
//!   waiting on the GPU; [`HAS_FILE_SYSTEM`] is false, and the disk cache is off.

use crate::{Error, Result};
use std::future::Future;

/// A monotonic clock that also runs in the browser (`std::time::Instant` on native).
pub use web_time::Instant;

/// Whether the host may block its thread to wait for the GPU.
pub const CAN_BLOCK: bool = !cfg!(target_arch = "wasm32");

/// Whether `std::fs` reaches a file system (the disk caches need one).
pub const HAS_FILE_SYSTEM: bool = !cfg!(target_arch = "wasm32");

/// Waits for `f` on native; in the browser, the typed refusal naming `what`.
#[cfg_attr(not(target_arch = "wasm32"), allow(unused_variables))]
pub fn block_on<F: Future>(what: &'static str, f: F) -> Result<F::Output> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        Ok(pollster::block_on(f))
    }
    #[cfg(target_arch = "wasm32")]
    {
        drop(f);
        Err(Error::Blocking(what))
    }
}

/// Runs `f` (wgpu calls on `device`) and returns its result with the first error of kind
/// `filter` it raised. Native: inside an error scope, waited for. Browser: no scope; an error
/// goes to the uncaptured-error handler, and `None` comes back here.
#[cfg_attr(target_arch = "wasm32", allow(unused_variables))]
pub fn scoped<T>(
    device: &wgpu::Device,
    filter: wgpu::ErrorFilter,
    f: impl FnOnce() -> T,
) -> (T, Option<wgpu::Error>) {
    #[cfg(not(target_arch = "wasm32"))]
    {
        let scope = device.push_error_scope(filter);
        let out = f();
        (out, pollster::block_on(scope.pop()))
    }
    #[cfg(target_arch = "wasm32")]
    {
        (f(), None)
    }
}

/// `Error::Blocking` unless the host may block (for waits written without a future).
pub fn ensure_can_block(what: &'static str) -> Result<()> {
    if CAN_BLOCK {
        Ok(())
    } else {
        Err(Error::Blocking(what))
    }
}

//! kiln as a backend of Burn (issue 17): Burn's devices, tensor data and tensor primitives on
//! kiln. The device is a handle ([`KilnDevice`]); a tensor ([`KilnTensor`]) is a lazy kiln
//! tensor, or the typed error that kept it from being built, carried until its data is read;
//! Burn's dtypes are stored in kiln's ([`dtype`]) and its data converted with range checks
//! ([`data`]).
//!
//! [`Kiln`] is Burn's `Backend` on kiln: every op of Burn's op traits as a kiln lowering
//! (`ops`), and `BackendIr` over it. [`server`] serves it to Burn programs through
//! `burn-remote` (the `kiln-burn-server` binary).

// Proving the server's futures `Send` walks wgpu's types through kiln's device (deeper than
// the default limit of 128).
#![recursion_limit = "256"]

pub mod data;
mod device;
pub mod dtype;
mod error;
mod live;
mod ops;
pub mod server;
mod tensor;

pub use ops::{Kiln, KilnQTensor};

pub use device::{KilnDevice, KILN_DEVICE_TYPE};
pub use error::BurnError;
pub use tensor::KilnTensor;

//! # kiln
//!
//! A JIT kernel-fusion tensor compiler: a program builds a lazy tensor graph, kiln lowers it to
//! generated WGSL compute kernels and runs them on wgpu (Vulkan, Metal, DX12, WebGPU). With no
//! GPU adapter it runs on the reference interpreter (see [`Device`]).
//!
//! ```no_run
//! use kiln::{DType, Tensor};
//! # fn main() -> kiln::Result<()> {
//! let x = Tensor::from_slice(&[1.0f32, 2.0, 3.0], &[3])?;
//! let y = (&x.exp()? * 2.0)?.sum(&[], false)?;
//! println!("{:?}", y.to_vec::<f32>()?);
//! # Ok(()) }
//! ```
//!
//! Frameworks that capture their own graphs use [`Program`]: placeholders in, compile once,
//! run many times on device-resident inputs.
#![warn(missing_docs)]
// Errors carry the offending shapes so that messages can name them; they are built only on
// the cold error path, so their size is not worth boxing.
#![allow(clippy::result_large_err)]

mod compile;
mod device;
mod error;
mod explain;
pub mod io;
pub mod llm;
mod plan_cache;
mod program;
mod realize;
pub mod runtime;
mod tensor;

pub use device::{
    Device, DeviceOptions, GemvActivations, MatmulPrecision, ShaderChecks, FUSE_ATTENTION_ROWS,
};
pub use error::{Error, Result};
pub use explain::{
    AttentionSchedule, ElementwiseSchedule, KernelInfo, MatmulSchedule, Plan, ReduceSchedule,
    Schedule,
};
pub use kiln_codegen::schedule;
pub use kiln_ir as ir;
pub use kiln_ir::{BlockFormat, DType, Element, HostTensor, Shape};
pub use program::Program;
pub use runtime::{Autotune, Counters, Submission};
pub use tensor::{
    ConvOptions, ConvTransposeOptions, DeformConvGrads, DeformConvOptions, IndexUpdate,
    InterpolateMode, PoolOptions, Tensor, WeakTensor,
};

/// Lowers the computation behind `outputs` and returns the kernels' names and generated WGSL,
/// in launch order (for inspection and tests; nothing runs).
pub fn generated_wgsl(outputs: &[&Tensor]) -> Result<Vec<(String, String)>> {
    Ok(explain::Plan::of(outputs)?
        .kernels
        .into_iter()
        .map(|k| (k.name, k.wgsl))
        .collect())
}

//! The runtime on wgpu: device context, buffers, execution.

pub mod context;
pub mod exec;

pub use context::{CompiledKernel, Counters, GpuBuffer, GpuContext};
pub use exec::Timing;

//! The runtime on wgpu: device context, buffers, execution.

pub mod context;
pub mod exec;

pub use context::{CachedPlan, CompiledKernel, Counters, GpuBuffer, GpuContext, PlanKey};
pub use exec::Timing;

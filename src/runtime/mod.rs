//! The runtime on wgpu: device context, buffers, execution.

pub mod context;
pub mod exec;
pub mod memory;

pub use context::{CachedPlan, CompiledKernel, Counters, GpuBuffer, GpuContext, PlanKey};
pub use exec::Timing;
pub use memory::MemoryPlan;

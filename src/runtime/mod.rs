//! The runtime on wgpu: device context, buffers, execution.

pub mod batch;
pub mod context;
pub mod disk;
pub mod exec;
pub mod lru;
pub mod memory;
pub mod quirks;
pub mod tune;

pub use batch::Submission;
pub use context::{CachedPlan, CompiledKernel, Counters, GpuBuffer, GpuContext, PlanKey};
pub use exec::Timing;
pub use memory::MemoryPlan;
pub use tune::Autotune;

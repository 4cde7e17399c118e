//! The runtime on wgpu. Modules, each on top of those before it (no module uses one after
//! it):
//!
//! - parts of a device: `adapter` (choosing and opening one), `bind_groups` (bind groups kept
//!   across runs), `pool` (buffers),
//!   `counters`, `pipelines`, `plans`, `batch` (gathered submissions), `transfer`
//!   (uploads and readbacks), `schedules` (device schedule and tuning results), and the
//!   helpers `disk`, `lru`, `memory`, `quirks`, and `platform` (what differs in the
//!   browser);
//! - `tune`: the autotuner's search, given closures that run a kernel;
//! - `context`: [`GpuContext`], composing the parts;
//! - `launch`: timing and launching single kernels;
//! - `autotune`: the schedule each kernel runs with, tuning it through `tune`;
//! - `exec`: preparing and running lowered programs.

pub mod adapter;
pub mod autotune;
pub mod batch;
pub mod bind_groups;
pub mod context;
pub mod counters;
pub mod disk;
pub mod exec;
pub mod launch;
pub mod lru;
pub mod memory;
pub mod pipelines;
pub mod plans;
pub mod platform;
pub mod pool;
pub mod quirks;
pub mod schedules;
pub mod transfer;
pub mod tune;

pub use batch::Submission;
pub use context::GpuContext;
pub use counters::Counters;
pub use launch::{Timing, TimingMode};
pub use memory::{Donor, MemoryPlan};
pub use pipelines::CompiledKernel;
pub use plans::{CachedPlan, Generic, PlanKey};
pub use pool::GpuBuffer;
pub use tune::Autotune;

//! Prepared plans: a lowered program with everything that does not depend on the buffers of
//! a run built once ([`Prepared`]), and the bounded cache of them by graph structure.

use super::counters::CounterCell;
use super::lru::Lru;
use super::memory::MemoryPlan;
use super::pipelines::CompiledKernel;
use kiln_codegen::Schedule;
use std::sync::{Arc, Mutex};

/// One launch made ready: its pipeline, its uniform (sizes are fixed for a compiled program)
/// and its grid.
pub(crate) struct PreparedCall {
    /// The program call it launches.
    pub(crate) call: usize,
    pub(crate) ck: Arc<CompiledKernel>,
    pub(crate) uniform: wgpu::Buffer,
    pub(crate) grid: [u32; 3],
    /// The input read through an output's binding (in place), not bound itself.
    pub(crate) skip_input: Option<usize>,
}

/// A lowered program made ready to run: everything that does not depend on the buffers of a
/// run (pipelines, uniforms, grids) is built once (`exec::prepare`).
pub struct Prepared {
    pub(crate) calls: Vec<PreparedCall>,
    pub(crate) memory: MemoryPlan,
}

impl Prepared {
    /// Which temporaries share buffers, and what that saves.
    pub fn memory(&self) -> &MemoryPlan {
        &self.memory
    }

    /// Kernels dispatched per run (empty ones are skipped).
    pub fn dispatches(&self) -> usize {
        self.calls.len()
    }

    /// The program call behind each dispatch, in order.
    pub fn dispatched_calls(&self) -> Vec<usize> {
        self.calls.iter().map(|c| c.call).collect()
    }
}

/// A compiled and prepared plan, cached by graph structure.
pub struct CachedPlan {
    /// The lowered program.
    pub program: kiln_ir::lower::Program,
    /// Its pipelines, uniforms and grids.
    pub prepared: Prepared,
}

/// What identifies a plan: the graph's structure, whether fusion was on, the schedule.
pub type PlanKey = (kiln_ir::Structure, bool, Schedule);

/// How many plans the in-memory cache keeps (least recently used go first). A plan holds
/// its pipelines, so this also bounds the pipelines kept alive through plans.
const PLAN_CACHE_CAPACITY: usize = 256;

/// The plans of one device.
pub struct Plans(Mutex<Lru<PlanKey, Arc<CachedPlan>>>);

impl Default for Plans {
    fn default() -> Self {
        Plans(Mutex::new(Lru::new(PLAN_CACHE_CAPACITY)))
    }
}

impl Plans {
    /// The cached plan for a structure key, counting the hit or miss.
    pub fn get(&self, key: &PlanKey, counters: &CounterCell) -> Option<Arc<CachedPlan>> {
        let hit = self.0.lock().ok().and_then(|mut m| m.get(key));
        counters.count(|c| {
            if hit.is_some() {
                c.plan_hits += 1
            } else {
                c.plan_misses += 1
            }
        });
        hit
    }

    /// Keeps a plan (bounded: the least recently used plan goes first).
    pub fn keep(&self, key: PlanKey, plan: Arc<CachedPlan>) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(key, plan);
        }
    }

    /// Plans held now, and plans let go to stay within the bound.
    pub fn sizes(&self) -> (u64, u64) {
        self.0.lock().map(|m| m.sizes()).unwrap_or_default()
    }
}

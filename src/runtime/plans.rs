//! Prepared plans: a lowered program with everything that does not depend on the buffers of
//! a run built once ([`Prepared`]), and the bounded cache of them by graph structure.

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

/// What identifies a plan: the graph's structure, whether fusion was on, the schedule. Under
/// a generic key ([`kiln_ir::Graph::generic_structure`]) the structure leaves out the float
/// constants' values.
pub type PlanKey = (kiln_ir::Structure, bool, Schedule);

/// How many plans each of the in-memory maps keeps (least recently used go first): by exact
/// structure and by generic structure. A plan holds its pipelines, so this also bounds the
/// pipelines kept alive through plans (at most twice it, a plan in both maps counting once).
const PLAN_CACHE_CAPACITY: usize = 256;

/// What is known of a structure without its float constants' values (`kiln_ir::generic`).
#[derive(Clone)]
pub enum Generic {
    /// Seen with one set of values; probed when a second set comes.
    Seen,
    /// A plan that serves any values, and where the values go in its kernels.
    Plan(Arc<CachedPlan>, Arc<kiln_ir::generic::ConstMap>),
    /// Its passes read the values: a plan per set of values.
    PerValues,
}

/// The plans of one device: by exact structure, and by generic structure.
pub struct Plans {
    exact: Mutex<Lru<PlanKey, Arc<CachedPlan>>>,
    generic: Mutex<Lru<PlanKey, Generic>>,
}

impl Default for Plans {
    fn default() -> Self {
        Plans {
            exact: Mutex::new(Lru::new(PLAN_CACHE_CAPACITY)),
            generic: Mutex::new(Lru::new(PLAN_CACHE_CAPACITY)),
        }
    }
}

impl Plans {
    /// The cached plan for a structure key.
    pub fn get(&self, key: &PlanKey) -> Option<Arc<CachedPlan>> {
        self.exact.lock().ok().and_then(|mut m| m.get(key))
    }

    /// Keeps a plan (bounded: the least recently used plan goes first).
    pub fn keep(&self, key: PlanKey, plan: Arc<CachedPlan>) {
        if let Ok(mut m) = self.exact.lock() {
            m.insert(key, plan);
        }
    }

    /// What is known of a generic structure key.
    pub fn generic(&self, key: &PlanKey) -> Option<Generic> {
        self.generic.lock().ok().and_then(|mut m| m.get(key))
    }

    /// Records what is known of a generic structure key (bounded like the plans).
    pub fn keep_generic(&self, key: PlanKey, g: Generic) {
        if let Ok(mut m) = self.generic.lock() {
            m.insert(key, g);
        }
    }

    /// Plans held now (by exact structure), and plans let go to stay within the bound.
    pub fn sizes(&self) -> (u64, u64) {
        self.exact.lock().map(|m| m.sizes()).unwrap_or_default()
    }
}

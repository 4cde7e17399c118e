//! Counters of what a device context has done.

use std::sync::Mutex;

/// Counters of what the context has done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Pipelines compiled.
    pub pipelines_compiled: u64,
    /// Pipeline cache hits.
    pub pipeline_hits: u64,
    /// Kernels dispatched.
    pub dispatches: u64,
    /// Submits.
    pub submits: u64,
    /// Donated inputs copied before a run wrote over them (something else held them, or
    /// the run borrowed them: `Program::run_donating`).
    pub donations_copied: u64,
    /// Realizations whose plan was found in the plan cache.
    pub plan_hits: u64,
    /// Realizations that had to compile a plan.
    pub plan_misses: u64,
    /// Realizations (among `plan_hits`) whose plan was made for other float constants and
    /// serves theirs too (`kiln_ir::generic`).
    pub plan_generic_hits: u64,
    /// Structures probed for a plan that serves any float constants (each costs two more
    /// lowerings), and of those, how many got one.
    pub plans_probed: u64,
    /// See `plans_probed`.
    pub plans_made_generic: u64,
    /// Bytes of device buffers created so far (reuse from the pool creates none).
    pub bytes_allocated: u64,
    /// Bytes of device buffers that exist now, in tensors or held by the pool for reuse.
    pub device_bytes: u64,
    /// The most `device_bytes` has been.
    pub peak_bytes: u64,
    /// Kernels the autotuner tuned (found on disk or in memory: not counted).
    pub kernels_tuned: u64,
    /// Autotune candidates skipped because they failed or disagreed with the default.
    pub candidates_skipped: u64,
    /// Pipelines held by the in-memory cache now (bounded).
    pub pipelines_cached: u64,
    /// Pipelines the in-memory cache let go to stay within its bound.
    pub pipelines_evicted: u64,
    /// Plans held by the in-memory cache now (bounded).
    pub plans_cached: u64,
    /// Plans the in-memory cache let go to stay within its bound.
    pub plans_evicted: u64,
    /// Launches whose bind group was kept from an earlier run on the same buffers.
    pub bind_group_hits: u64,
    /// Bind groups made.
    pub bind_groups_made: u64,
    /// Bind groups kept now (bounded; emptied whenever the pool lets a buffer go).
    pub bind_groups_kept: u64,
}

/// The counters the parts of a context add to; the gauges (bytes, cache sizes) are filled in
/// by whoever reads them, from the parts that know them.
#[derive(Default)]
pub struct CounterCell(Mutex<Counters>);

impl CounterCell {
    /// Updates the counters with `f`.
    pub fn count(&self, f: impl FnOnce(&mut Counters)) {
        if let Ok(mut c) = self.0.lock() {
            f(&mut c);
        }
    }

    /// The counters so far.
    pub fn get(&self) -> Counters {
        self.0.lock().map(|c| *c).unwrap_or_default()
    }
}

//! The schedules of one device: the device schedule kernels start from, the autotuner's mode,
//! and the tuning results found so far, kept on disk in [`AUTOTUNE_FILE`].

use super::disk::CacheDir;
use kiln_codegen::schedule::limits::{self, AdapterLimits};
use kiln_codegen::schedule::space::Autotune;
use kiln_codegen::schedule::tuned::{self, TunedFields, TunedTable};
use kiln_codegen::Schedule;
use kiln_ir::Kernel;
use std::sync::Mutex;

/// The autotune results file in an adapter's cache directory: one result a line, with named
/// fields (`kiln_codegen::schedule::tuned`). Files of earlier versions, with positional
/// fields or chosen among templates since changed (v5: before the attention row form, whose
/// results would keep the block forms; v6: before the aligned tensor-core tile; v7: before the
/// decode form, whose one-row tiles of 16 keys or more are another kernel; v8: before the
/// quantized gemv path's rows and items were tuned; v9: before its workgroups were; v10:
/// before short rows could be reduced an invocation a row; v11: before the decode form's
/// segments, which make a whole one-row attention another kernel), have other names and are
/// never read.
pub const AUTOTUNE_FILE: &str = "autotune.v12";

/// The schedules of one device.
pub struct Schedules {
    /// What the adapter allows a schedule.
    limits: AdapterLimits,
    device: Mutex<Schedule>,
    mode: Mutex<Autotune>,
    /// Tuned fields by autotune key ([`tuned::tune_key`]).
    tuned: Mutex<TunedTable>,
}

/// The results stored in `disk`, if any; a file whose lines are partly malformed is
/// rewritten with the good ones at once, so that it does not warn at every start (a damaged
/// container is removed by `load`).
fn load(disk: &CacheDir) -> TunedTable {
    let Some(b) = disk.load(AUTOTUNE_FILE) else {
        return TunedTable::new();
    };
    let (table, malformed) = tuned::parse(&String::from_utf8_lossy(&b));
    for line in &malformed {
        log::warn!("kiln: skipping a malformed autotune line {line}");
    }
    if !malformed.is_empty() {
        if let Err(e) = disk.store(AUTOTUNE_FILE, tuned::format(&table).as_bytes()) {
            log::warn!(
                "kiln: cannot rewrite the autotune cache in {}: {e}",
                disk.path().display()
            );
        }
    }
    table
}

impl Schedules {
    /// The schedules of a device whose starting schedule is `device` (brought within
    /// `limits`), with the results stored in `disk`.
    pub fn new(
        device: Schedule,
        limits: AdapterLimits,
        mode: Autotune,
        disk: Option<&CacheDir>,
    ) -> Schedules {
        Schedules {
            limits,
            device: Mutex::new(limits::sanitize(device, limits)),
            mode: Mutex::new(mode),
            tuned: Mutex::new(disk.map(load).unwrap_or_default()),
        }
    }

    /// The schedule kernels are generated with.
    pub fn device(&self) -> Schedule {
        *self.device.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the schedule for kernels compiled from now on, brought within what the adapter
    /// allows ([`limits::sanitize`]).
    pub fn set_device(&self, s: Schedule) {
        if let Ok(mut cur) = self.device.lock() {
            *cur = limits::sanitize(s, self.limits);
        }
    }

    /// The autotuner's mode.
    pub fn mode(&self) -> Autotune {
        self.mode.lock().map(|m| *m).unwrap_or_default()
    }

    /// Sets the autotuner's mode for kernels compiled from now on.
    pub fn set_mode(&self, mode: Autotune) {
        if let Ok(mut m) = self.mode.lock() {
            *m = mode;
        }
    }

    /// The tuned schedule of `k` over `base`, if one is known (in memory, or from disk) and
    /// valid for it.
    pub fn known(&self, k: &Kernel, base: &Schedule) -> Option<Schedule> {
        let key = tuned::tune_key(k, base);
        let f = self.tuned.lock().ok().and_then(|m| m.get(&key).copied())?;
        // A result from disk may be damaged or foreign: used only if valid for the kernel.
        match f.apply(k, base) {
            Some(s) if limits::valid(k, &s, self.limits.max_workgroup) => Some(s),
            Some(_) | None => {
                log::warn!(
                    "kiln: ignoring an invalid autotune result for {}: {f}",
                    k.name
                );
                None
            }
        }
    }

    /// Keeps the tuned schedule `s` of `k` under the device schedule `base`, in memory and in
    /// `disk`: keyed by `base`, as [`Schedules::known`] looks it up (`s`, fitted to the
    /// adapter, may have left the path `base` names).
    pub fn record(&self, k: &Kernel, base: &Schedule, s: &Schedule, disk: Option<&CacheDir>) {
        if let Ok(mut m) = self.tuned.lock() {
            m.insert(tuned::tune_key(k, base), TunedFields::of(k, s));
        }
        if let Some(d) = disk {
            self.save(d);
        }
    }

    /// Writes the results to disk, merged with what another process may have written there
    /// since (entries of this process win).
    fn save(&self, d: &CacheDir) {
        let mut all = d
            .load(AUTOTUNE_FILE)
            .map(|b| tuned::parse(&String::from_utf8_lossy(&b)).0)
            .unwrap_or_default();
        if let Ok(m) = self.tuned.lock() {
            all.extend(m.iter().map(|(k, v)| (k.clone(), *v)));
        }
        if let Err(e) = d.store(AUTOTUNE_FILE, tuned::format(&all).as_bytes()) {
            log::warn!(
                "kiln: cannot write the autotune cache in {}: {e}",
                d.path().display()
            );
        }
    }
}

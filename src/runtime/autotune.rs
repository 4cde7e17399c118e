//! Autotuning on the device: the schedule each kernel runs with (a stored result, the outcome
//! of tuning it now, or the device schedule resolved for it), and the glue that gives the
//! search (`tune.rs`) its runs: random inputs of the kernel's sizes, and closures that time
//! and read back one kernel under a schedule.

use super::context::GpuContext;
use super::launch::time_kernel;
use super::tune::{self, Autotune, Budget, Tuned};
use crate::Result;
use kiln_codegen::schedule::space;
use kiln_codegen::schedule::table::DeviceClass;
use kiln_codegen::Schedule;
use kiln_ir::{DType, HostTensor, Kernel, Shape, View};

impl GpuContext {
    /// The concrete schedule kernel `k` runs with under the device schedule `base`: its tuned
    /// schedule when one is known for its autotune key, else (when the mode allows and the
    /// kernel has a space) the outcome of tuning it now, else `base` resolved for its sizes.
    pub fn schedule_for(&self, k: &Kernel, base: &Schedule) -> Schedule {
        // Every schedule a kernel gets fits the adapter's workgroup memory.
        let limit = self.limits.max_compute_workgroup_storage_size;
        let fit = |s: Schedule| s.fit_workgroup_memory(k, limit);
        let mode = self.autotune();
        if mode == Autotune::Off {
            return fit(base.resolve(k));
        }
        if let Some(s) = self.schedules.known(k, base) {
            return fit(s);
        }
        let cands = self.tuning_candidates(k, base);
        if cands.len() < 2 {
            return fit(base.resolve(k));
        }
        let Some(budget) = Budget::of(mode) else {
            return fit(base.resolve(k));
        };
        match tune_kernel(self, k, &cands, &fit(base.resolve(k)), budget) {
            Ok(t) if t.measured => {
                let s = t.schedule;
                log::debug!("kiln: autotune {}: chose {s:?}", k.name);
                self.count(|c| {
                    c.kernels_tuned += 1;
                    c.candidates_skipped += t.skipped as u64;
                });
                self.schedules.record(k, base, &s, self.disk.as_ref());
                s
            }
            // The budget allowed no measurement: the default, not kept as a tuned result.
            Ok(t) => {
                log::debug!(
                    "kiln: autotune {}: no candidate timed within the budget",
                    k.name
                );
                self.count(|c| c.candidates_skipped += t.skipped as u64);
                t.schedule
            }
            Err(e) => {
                log::warn!("kiln: autotune {}: {e}; using the default schedule", k.name);
                fit(base.resolve(k))
            }
        }
    }

    /// The schedules kernel `k` would be tuned over now, the reference first, fitted to the
    /// adapter and without repeats: none where the mode is off, a tuned result is known, or
    /// the space holds fewer than two.
    pub fn tuning_candidates(&self, k: &Kernel, base: &Schedule) -> Vec<Schedule> {
        let mode = self.autotune();
        if mode == Autotune::Off || self.schedules.known(k, base).is_some() {
            return vec![];
        }
        let limit = self.limits.max_compute_workgroup_storage_size;
        let max_wg = self.limits.max_compute_invocations_per_workgroup;
        let mut cands: Vec<Schedule> = Vec::new();
        for c in space::candidates(k, base, mode, max_wg) {
            let c = c.fit_workgroup_memory(k, limit);
            if !cands.contains(&c) {
                cands.push(c);
            }
        }
        if cands.len() < 2 {
            cands.clear();
        }
        cands
    }
}

/// Tunes `k` on `ctx` over `cands` (the reference first) within `budget`: random inputs of
/// its sizes, then [`tune::search`] with runs on them (`device`, the schedule `k` runs
/// untuned, kept unless a candidate beats it by [`tune::KEEP_MARGIN`]). The pipelines of
/// candidates not chosen are let go. Errors only when the reference itself cannot run.
pub fn tune_kernel(
    ctx: &GpuContext,
    k: &Kernel,
    cands: &[Schedule],
    device: &Schedule,
    budget: Budget,
) -> Result<Tuned> {
    let chosen = tune_on_random_inputs(ctx, k, cands, device, budget);
    let keep = chosen.as_ref().map(|t| t.schedule).ok();
    for s in cands {
        if Some(*s) != keep {
            ctx.forget_pipeline(k, s);
        }
    }
    chosen
}

fn tune_on_random_inputs(
    ctx: &GpuContext,
    k: &Kernel,
    cands: &[Schedule],
    device: &Schedule,
    budget: Budget,
) -> Result<Tuned> {
    let started = super::platform::Instant::now();
    let mut inputs = Vec::with_capacity(k.inputs.len());
    for (i, &dt) in k.inputs.iter().enumerate() {
        let n = k
            .loads
            .iter()
            .filter(|l| l.input.index() == i)
            .map(|l| extent(&l.view))
            .max()
            .unwrap_or(1);
        let words = random_words(dt, n, 0x5eed ^ i as u32);
        let host = HostTensor::from_storage_words(dt, Shape::new(&[n]), &words);
        inputs.push(ctx.upload(&host)?);
    }
    let mut outputs = Vec::with_capacity(k.outputs.len());
    for (o, out) in k.output_ids().zip(&k.outputs) {
        let n = k.output_numel(o);
        outputs.push((ctx.alloc(out.dtype, n)?, Shape::new(&[n])));
    }
    // Inputs the size of a layer's weights are timed coming from memory, as a program reads
    // them once a run (`time_kernel`'s scrub), not from the cache they would sit in when one
    // kernel runs again and again: a quantized product's schedule chosen on cached weights
    // made a decode step 15-17% slower on an H100 (docs/PERFORMANCE.md, "Autotuner"). The
    // scrub is a pool buffer, so the device's memory limit holds for it; where the limit
    // refuses it, the kernel is timed on cached inputs.
    let input_bytes: u64 = inputs
        .iter()
        .map(|b| ctx.target.buffer_bytes(b.dtype, b.numel))
        .sum();
    // A CPU adapter's caches are the host's: not scrubbed (a clear would cost it more than
    // the kernel).
    let gpu = super::adapter::device_class(ctx.info.device_type) == DeviceClass::Gpu;
    let scrub = if gpu && input_bytes >= COLD_MIN_BYTES {
        match ctx.alloc(DType::U32, (SCRUB_BYTES / 4) as usize) {
            Ok(b) => Some(b),
            Err(e) => {
                log::debug!("{}: timed on cached inputs ({e})", k.name);
                None
            }
        }
    } else {
        None
    };
    let scrub = scrub.as_ref().map(|b| &b.buffer);
    let in_refs: Vec<&wgpu::Buffer> = inputs.iter().map(|b| &b.buffer).collect();
    let out_refs: Vec<&wgpu::Buffer> = outputs.iter().map(|(b, _)| &b.buffer).collect();
    let bufs = (&in_refs[..], &out_refs[..]);
    let check = |s: &Schedule| -> Result<(f64, Vec<HostTensor>)> {
        let ms = time_kernel(ctx, k, s, bufs, 1, false, scrub)?;
        let got = outputs
            .iter()
            .map(|(b, s)| ctx.read(b, s))
            .collect::<Result<Vec<_>>>()?;
        ctx.check_alive()?;
        Ok((ms, got))
    };
    let time =
        |s: &Schedule, reps: u32, warm: bool| time_kernel(ctx, k, s, bufs, reps, warm, scrub);
    tune::search(&k.name, cands, device, budget, started, check, time)
}

/// Kernels whose inputs take at least this many bytes are tuned on inputs read from memory.
const COLD_MIN_BYTES: u64 = 1 << 20;

/// Bytes cleared before each timed dispatch of such a kernel: twice the 50 MB last-level
/// cache of an H100 or H200, so that nothing the previous dispatch read is left there.
const SCRUB_BYTES: u64 = 128 << 20;

/// Elements a buffer read through `view` must hold.
fn extent(view: &View) -> usize {
    if view.shape.numel() == 0 {
        return 1;
    }
    let mut hi = view.offset;
    for (&d, &st) in view.shape.0.iter().zip(&view.strides) {
        if st > 0 {
            hi += (d as i64 - 1) * st;
        }
    }
    (hi.max(0) as usize) + 1
}

/// Random storage words of `dtype` (no zeros, small integers so integer ops stay defined): a
/// block of [`RANDOM_BLOCK`] values, repeated.
fn random_words(dtype: DType, n: usize, seed: u32) -> Vec<u32> {
    let block: Vec<u32> = (0..RANDOM_BLOCK.min(n) as u32)
        .map(|i| {
            let r = kiln_ir::ops::mix32(i.wrapping_mul(0x9e37_79b9) ^ seed);
            match dtype {
                DType::F32 | DType::F16 | DType::BF16 => {
                    let u = (r >> 8) as f32 / (1u32 << 24) as f32;
                    let v = 0.0625 + 0.9375 * u;
                    let v = if r & 1 == 0 { v } else { -v };
                    kiln_ir::round_float(v, dtype).to_bits()
                }
                DType::I32 => ((r % 15) as i32 - 7).max(1) as u32,
                DType::U32 => 1 + r % 15,
                DType::Bool => r & 1,
                // Bytes below 0x40: every f16 scale in a block is finite, positive and
                // below 2, every i8 scale positive.
                DType::Quant(_) => r & 0x3f3f_3f3f,
            }
        })
        .collect();
    block.iter().copied().cycle().take(n).collect()
}

/// Distinct random values per tuning input.
const RANDOM_BLOCK: usize = 1 << 16;

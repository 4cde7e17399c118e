//! The autotuner: for a kernel with a schedule space, run each candidate schedule on random
//! inputs of the kernel's sizes, keep those whose outputs match the default schedule's, and
//! pick the fastest (timestamp queries; wall clock where the adapter has none). A candidate that
//! fails to compile or run is skipped, never fatal. Results are keyed by the kernel's structure
//! and its sizes rounded up to powers of two ([`tune_key`]), kept in memory and on disk.
//!
//! The spaces are data (the tables below), one per kernel class.

use super::context::GpuContext;
use super::exec;
use crate::{Error, Result};
use kiln_codegen::Schedule;
use kiln_ir::{DType, HostTensor, Kernel, KernelKind, Shape, View};
use std::fmt::Write;

/// How much the autotuner searches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Autotune {
    /// Never: every kernel runs with the device schedule.
    Off,
    /// A few candidates, for kernels big enough to matter ([`FAST_MIN_WORK`]); not for vec4
    /// elementwise kernels, whose space is only the workgroup size (at copy speed with the
    /// default on an H100, and the costliest to tune: their outputs are the largest to read
    /// back and compare).
    #[default]
    Fast,
    /// Every candidate of the space, for every kernel with more than one.
    Full,
}

impl std::str::FromStr for Autotune {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" | "0" | "false" => Ok(Autotune::Off),
            "fast" | "1" | "on" | "true" => Ok(Autotune::Fast),
            "full" => Ok(Autotune::Full),
            other => Err(format!("autotune mode {other:?} is not off, fast or full")),
        }
    }
}

/// Elements a kernel must touch (or, for a matmul, multiply-adds it must do, over 64) before
/// the fast mode tunes it: smaller kernels cost less than tuning them.
pub const FAST_MIN_WORK: usize = 1 << 20;

/// Elementwise kernels: (workgroup size, elements per invocation).
const ELEMENTWISE_FAST: &[(u32, u32)] = &[(256, 4), (256, 1), (128, 2), (64, 4)];
const ELEMENTWISE_FULL: &[(u32, u32)] = &[
    (64, 1),
    (64, 2),
    (64, 4),
    (64, 8),
    (128, 1),
    (128, 2),
    (128, 4),
    (128, 8),
    (256, 1),
    (256, 2),
    (256, 4),
    (256, 8),
];
/// Reductions: (workgroup size, loads per step), each with every register cache size.
const REDUCE_FAST: &[(u32, u32)] = &[(256, 8), (256, 4), (128, 4), (64, 4), (32, 2)];
const REDUCE_FULL: &[(u32, u32)] = &[
    (16, 2),
    (32, 1),
    (32, 2),
    (32, 4),
    (64, 2),
    (64, 4),
    (64, 8),
    (128, 2),
    (128, 4),
    (128, 8),
    (256, 2),
    (256, 4),
    (256, 8),
    (512, 4),
    (512, 8),
];
/// Reductions: elements per invocation kept in registers (0: none).
const REDUCE_CACHE_FAST: &[u32] = &[0, 16];
const REDUCE_CACHE_FULL: &[u32] = &[0, 8, 16, 32];

/// Matrix-vector products: steps per iteration of the gemv path.
const GEMV_UNROLLS: &[u32] = &[4, 8, 16];
/// Matmuls: (rows, columns) per invocation; 0 columns: square.
const MATMUL_BLOCKS: [(u32, u32); 5] = [(1, 0), (4, 0), (8, 0), (8, 4), (4, 8)];

/// The schedules to try for `k`, the resolved base first (the reference every other candidate
/// is checked against), without repeats; none where the mode or the kernel's size says no.
pub fn candidates(k: &Kernel, base: &Schedule, mode: Autotune, max_wg: u32) -> Vec<Schedule> {
    let base = base.resolve(k);
    let vec4_elementwise = matches!(k.kind, KernelKind::Elementwise) && k.vector == 4;
    if mode == Autotune::Off
        || (mode == Autotune::Fast && (work(k) < FAST_MIN_WORK || vec4_elementwise))
    {
        return vec![];
    }
    let full = mode == Autotune::Full;
    let mut out = vec![base];
    // Candidates fitted to the kernel's sizes (as the base is): a reduction's workgroup no
    // wider than its rows need, so that differently written equal schedules collapse.
    let mut push = |s: Schedule| {
        let s = s.resolve(k);
        if fits_sizes(k, &s) && !out.contains(&s) {
            out.push(s);
        }
    };
    match &k.kind {
        KernelKind::Elementwise => {
            let table = if full {
                ELEMENTWISE_FULL
            } else {
                ELEMENTWISE_FAST
            };
            for &(wg, unroll) in table {
                if wg <= max_wg {
                    // A vec4 kernel handles four elements per invocation whatever the unroll.
                    let unroll = if k.vector == 4 { base.unroll } else { unroll };
                    push(Schedule {
                        workgroup_size: wg,
                        unroll,
                        ..base
                    });
                }
            }
        }
        KernelKind::Reduce { .. } => {
            let caches = if full {
                REDUCE_CACHE_FULL
            } else {
                REDUCE_CACHE_FAST
            };
            for &(wg, u) in if full { REDUCE_FULL } else { REDUCE_FAST } {
                for &c in caches {
                    if wg <= max_wg {
                        push(Schedule {
                            reduce_workgroup: wg,
                            reduce_unroll: u,
                            reduce_cache: c,
                            ..base
                        });
                    }
                }
            }
        }
        KernelKind::Matmul { .. } if base.matmul_block == 1 && gemv(k) => {
            // The gemv path: only its loads in flight vary (tiles would compute padding).
            for &u in GEMV_UNROLLS {
                push(Schedule {
                    matmul_unroll: u,
                    ..base
                });
            }
        }
        KernelKind::Matmul { .. } => {
            let fast = [base.matmul_unroll];
            let unrolls: &[u32] = if full { &[2, 4, 8, 16] } else { &fast };
            for (bm, bn) in MATMUL_BLOCKS {
                for &u in unrolls {
                    push(Schedule {
                        matmul_block: bm,
                        matmul_block_n: bn,
                        matmul_unroll: u,
                        ..base
                    });
                }
            }
        }
    }
    if out.len() < 2 {
        out.clear();
    }
    out
}

/// Whether schedule `s` suits `k`'s sizes: an elementwise workgroup no larger than the
/// elements (rounded up to a power of two), a matmul tile no larger than twice the output's
/// rows and columns (a larger one computes mostly padding).
fn fits_sizes(k: &Kernel, s: &Schedule) -> bool {
    let p2 = |n: usize| n.max(1).next_power_of_two();
    match &k.kind {
        KernelKind::Elementwise => s.workgroup_size as usize <= p2(k.shape.numel()).max(64),
        KernelKind::Reduce { .. } => true,
        KernelKind::Matmul { .. } => {
            let r = k.shape.rank();
            let (m, n) = (p2(k.shape.0[r - 2]), p2(k.shape.0[r - 1]));
            let (bm, bn) = s.matmul_blocks();
            s.matmul_block <= 1
                || (kiln_codegen::matmul::tile(bm) as usize <= 2 * m
                    && kiln_codegen::matmul::tile(bn) as usize <= 2 * n)
        }
    }
}

/// Whether a matmul kernel is a matrix-vector product (an output edge of 1), which block 1
/// runs on its gemv path.
fn gemv(k: &Kernel) -> bool {
    let r = k.shape.rank();
    kiln_codegen::matmul::is_gemv(k.shape.0[r - 2], k.shape.0[r - 1])
}

/// Elements touched (multiply-adds over 64 for a matmul).
fn work(k: &Kernel) -> usize {
    match k.matmul_k() {
        Some(kk) => k.shape.numel() * kk / 64,
        None => k.shape.numel(),
    }
}

/// The autotune key of a kernel. Grammar (docs/CACHE_KEYS.md):
/// `kernel-key "|" dim { "x" dim } [ "|k" k ]`, every size rounded up to a power of two; `k` is
/// a matmul's inner size.
pub fn tune_key(k: &Kernel) -> String {
    let p2 = |n: usize| n.max(1).next_power_of_two();
    let mut s = k.key();
    s.push('|');
    let dims: Vec<String> = k.shape.0.iter().map(|&d| p2(d).to_string()).collect();
    s.push_str(&dims.join("x"));
    if let Some(kk) = k.matmul_k() {
        let _ = write!(s, "|k{}", p2(kk));
    }
    s
}

/// The fields of a schedule that the kernel's class reads, as stored on disk.
pub fn fields(k: &Kernel, s: &Schedule) -> [u32; 3] {
    match &k.kind {
        KernelKind::Elementwise => [s.workgroup_size, s.unroll, 0],
        KernelKind::Reduce { .. } => [s.reduce_workgroup, s.reduce_unroll, s.reduce_cache],
        KernelKind::Matmul { .. } => [s.matmul_block, s.matmul_unroll, s.matmul_block_n],
    }
}

/// `s` with every field brought into the range code generation accepts, on an adapter with
/// `max_wg` invocations per workgroup (and subgroups where `subgroups`): power-of-two
/// workgroups within the limit, unrolls of 1 to 16, a register cache of at most 64, matmul
/// blocks of `BLOCKS` (else 0, by size), columns of 4 or 8 (else 0, square), depths of
/// `DEPTHS` (else 0, by `k`). `GpuContext::set_schedule` applies it; [`valid`] checks with it.
pub fn sanitize(s: Schedule, max_wg: u32, subgroups: bool) -> Schedule {
    let pow2 = |w: u32| 1u32 << (31 - w.clamp(1, max_wg.max(1)).leading_zeros());
    let one_of = |v: u32, set: &[u32]| if set.contains(&v) { v } else { 0 };
    Schedule {
        workgroup_size: pow2(s.workgroup_size),
        unroll: s.unroll.clamp(1, 16),
        reduce_workgroup: pow2(s.reduce_workgroup.max(kiln_codegen::MIN_REDUCE_WORKGROUP)),
        reduce_unroll: s.reduce_unroll.clamp(1, 16),
        reduce_cache: s.reduce_cache.min(64),
        reduce_subgroups: u32::from(s.reduce_subgroups != 0 && subgroups),
        gemv_subgroups: u32::from(s.gemv_subgroups != 0 && subgroups),
        matmul_block: one_of(s.matmul_block, &kiln_codegen::matmul::BLOCKS),
        matmul_unroll: s.matmul_unroll.clamp(1, 16),
        matmul_block_n: one_of(s.matmul_block_n, &[4, 8]),
        matmul_depth: one_of(s.matmul_depth, &kiln_codegen::matmul::DEPTHS),
    }
}

/// Whether `s` (a schedule made by [`apply`] from stored fields) is one code generation
/// accepts for `k` on an adapter with `max_wg` invocations per workgroup: [`sanitize`] leaves
/// it as it is, and a matmul's block and depth are concrete, with columns only beside a
/// register-tiled block. Stored results are checked with it, so that a damaged or foreign
/// file cannot make a kernel fail to compile.
pub fn valid(k: &Kernel, s: &Schedule, max_wg: u32) -> bool {
    let concrete = match &k.kind {
        KernelKind::Matmul { .. } => {
            s.matmul_block != 0
                && s.matmul_depth != 0
                && (s.matmul_block > 1 || s.matmul_block_n == 0)
        }
        _ => true,
    };
    let subgroups = s.reduce_subgroups != 0 || s.gemv_subgroups != 0;
    concrete && sanitize(*s, max_wg, subgroups) == *s
}

/// `base` with the class fields of `k` replaced by tuned values.
pub fn apply(k: &Kernel, base: &Schedule, [a, b, c]: [u32; 3]) -> Schedule {
    let mut s = base.resolve(k);
    match &k.kind {
        KernelKind::Elementwise => {
            s.workgroup_size = a;
            s.unroll = b;
        }
        KernelKind::Reduce { .. } => {
            s.reduce_workgroup = a;
            s.reduce_unroll = b;
            s.reduce_cache = c;
        }
        KernelKind::Matmul { .. } => {
            s.matmul_block = a;
            s.matmul_unroll = b;
            s.matmul_block_n = c;
        }
    }
    s
}

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
            }
        })
        .collect();
    block.iter().copied().cycle().take(n).collect()
}

/// Distinct random values per tuning input.
const RANDOM_BLOCK: usize = 1 << 16;

/// Where candidate outputs may differ from the reference's (summation order changes with the
/// schedule): floats within 1e-3 of the output's largest magnitude, NaN where the reference has
/// NaN; everything else exactly.
fn agrees(got: &HostTensor, want: &HostTensor) -> bool {
    use kiln_ir::HostData as D;
    match (&got.data, &want.data) {
        (D::F(g), D::F(w)) => {
            let scale = w
                .iter()
                .fold(1f32, |m, v| if v.is_finite() { m.max(v.abs()) } else { m });
            g.len() == w.len()
                && g.iter().zip(w).all(|(p, q)| {
                    (p.is_nan() && q.is_nan()) || p == q || (p - q).abs() <= 1e-3 * scale
                })
        }
        (D::I(g), D::I(w)) => g == w,
        (D::U(g), D::U(w)) => g == w,
        (D::B(g), D::B(w)) => g == w,
        _ => false,
    }
}

/// Timing rounds over the candidates that pass the check; each keeps its fastest round.
const ROUNDS: usize = 3;

/// Busy time on the reference before timing, at most (clocks come up from idle; see
/// docs/PERFORMANCE.md); never more than a third of what is left of the budget.
const SPIN_MS: f64 = 300.0;

/// After a timing round, a candidate this many times slower than the best so far is timed no
/// more.
const DROP_SLOWER: f64 = 1.5;

/// How long tuning one kernel may take beyond its reference (the default schedule: inputs
/// made, run once, read back; its candidates were compiled together before): `factor` times
/// that, at least `floor_ms` (a fast kernel still gets a few candidates timed) and never more
/// than `cap_ms`, so that tuning stays a small multiple of an untuned first run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Budget {
    /// Multiple of the default schedule's first run.
    pub factor: f64,
    /// Milliseconds at least.
    pub floor_ms: f64,
    /// Milliseconds at most.
    pub cap_ms: f64,
}

impl Budget {
    /// The budget of a mode (`None` when it does not tune).
    pub fn of(mode: Autotune) -> Option<Budget> {
        match mode {
            Autotune::Off => None,
            Autotune::Fast => Some(Budget {
                factor: 4.0,
                floor_ms: 200.0,
                cap_ms: 2_000.0,
            }),
            Autotune::Full => Some(Budget {
                factor: 50.0,
                floor_ms: 1_000.0,
                cap_ms: 30_000.0,
            }),
        }
    }
}

/// The outcome of tuning one kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tuned {
    /// The schedule chosen.
    pub schedule: Schedule,
    /// Candidates that failed or disagreed with the reference.
    pub skipped: usize,
    /// Whether at least two candidates were timed after the warm-up, so that the choice is a
    /// measurement and worth keeping; otherwise the budget allowed none and the reference
    /// stands in.
    pub measured: bool,
}

/// Tunes `k`: the fastest of `cands` whose outputs agree with the first's. The reference (the first) runs once, which sets the time budget;
/// then each other candidate runs once and is checked, while the budget lasts; then the
/// reference runs for up to `SPIN_MS`, and the survivors are timed in `ROUNDS` round-robin
/// rounds (so a clock change during tuning touches every candidate alike), dropping those
/// clearly slower than the best after each round, with as many dispatches per timing as the
/// budget allows (1 to `TIMING_REPS`); only candidates timed in a round compete. The
/// pipelines of candidates not chosen are let go. Errors only when the reference itself
/// cannot run.
pub fn tune(ctx: &GpuContext, k: &Kernel, cands: &[Schedule], budget: Budget) -> Result<Tuned> {
    let chosen = tune_within(ctx, k, cands, budget);
    let keep = chosen.as_ref().map(|t| t.schedule).ok();
    for s in cands {
        if Some(*s) != keep {
            ctx.forget_pipeline(k, s);
        }
    }
    chosen
}

fn tune_within(ctx: &GpuContext, k: &Kernel, cands: &[Schedule], budget: Budget) -> Result<Tuned> {
    let start = std::time::Instant::now();
    let elapsed = || start.elapsed().as_secs_f64() * 1e3;
    let Some(&reference) = cands.first() else {
        return Err(Error::Gpu("autotune: no candidates".into()));
    };
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
    for (o, out) in k.outputs.iter().enumerate() {
        outputs.push((
            ctx.alloc(out.dtype, k.output_numel(kiln_ir::OutputId::new(o)))?,
            Shape::new(&[k.output_numel(kiln_ir::OutputId::new(o))]),
        ));
    }
    let in_refs: Vec<&wgpu::Buffer> = inputs.iter().map(|b| &b.buffer).collect();
    let out_refs: Vec<&wgpu::Buffer> = outputs.iter().map(|(b, _)| &b.buffer).collect();
    let bufs = (&in_refs[..], &out_refs[..]);
    let read =
        || -> Result<Vec<HostTensor>> { outputs.iter().map(|(b, s)| ctx.read(b, s)).collect() };
    // Check candidates against the reference's outputs while the budget lasts; the
    // reference's own first run sets the budget.
    let mut want: Option<Vec<HostTensor>> = None;
    let mut ok = Vec::with_capacity(cands.len());
    let mut once = Vec::with_capacity(cands.len());
    let mut limit_ms = budget.cap_ms;
    // The budget comes on top of what the reference took (inputs made, compiled, run once,
    // read back); a candidate is checked only where what the reference's check took (its
    // compile, run and read back) still fits.
    let mut check_ms = 0.0;
    let mut ref_start = 0.0;
    let mut checked = 0;
    // Checks may take half of the budget; the rest is for the warm-up and the timings.
    let mut checks_until = limit_ms;
    for (ci, s) in cands.iter().enumerate() {
        if ci == 0 {
            ref_start = elapsed();
        }
        if ci == 1 {
            check_ms = elapsed() - ref_start;
            let b = (budget.factor * elapsed())
                .max(budget.floor_ms)
                .min(budget.cap_ms);
            limit_ms = elapsed() + b;
            checks_until = elapsed() + b / 2.0;
        }
        if ci > 0 && elapsed() + check_ms > checks_until {
            log::debug!(
                "kiln: autotune {}: budget of {limit_ms:.0} ms spent after {ci} of {} candidates",
                k.name,
                cands.len()
            );
            break;
        }
        checked += 1;
        let mut ms = 0.0;
        let outcome = (|| -> Result<bool> {
            ms = exec::time_kernel(ctx, k, s, bufs, 1, false)?;
            let got = read()?;
            ctx.check_alive()?;
            Ok(match &want {
                None => {
                    want = Some(got);
                    true
                }
                Some(w) => w.iter().zip(&got).all(|(w, g)| agrees(g, w)),
            })
        })();
        match outcome {
            Ok(true) => {
                ok.push(*s);
                once.push(ms);
            }
            Ok(false) => log::warn!(
                "kiln: autotune {}: candidate {s:?} disagrees with the default schedule; skipped",
                k.name
            ),
            Err(e) if ci == 0 => return Err(e),
            Err(e) => {
                log::warn!(
                    "kiln: autotune {}: candidate {s:?} failed ({e}); skipped",
                    k.name
                )
            }
        }
    }
    let skipped = checked - ok.len();
    let unmeasured = Tuned {
        schedule: reference,
        skipped,
        measured: false,
    };
    if ok.len() < 2 {
        return Ok(unmeasured);
    }
    let spin_end = elapsed() + SPIN_MS.min((limit_ms - elapsed()).max(0.0) / 4.0);
    while elapsed() < spin_end {
        exec::time_kernel(ctx, k, &reference, bufs, 1, false)?;
    }
    // Times after the warm-up; the check runs only estimate what a timing will cost.
    let mut best = vec![f64::INFINITY; ok.len()];
    let mut alive = vec![true; ok.len()];
    let mut timed = vec![false; ok.len()];
    for round in 0..ROUNDS {
        let left = limit_ms - elapsed();
        let n = alive.iter().filter(|&&a| a).count();
        if left <= 0.0 || n < 2 {
            break;
        }
        for i in 0..ok.len() {
            // Dispatches the budget allows this timing (one untimed run comes first); none
            // where even one would pass it.
            let per = best[i].min(once[i]).max(1e-3);
            if !alive[i] || elapsed() + 2.0 * per > limit_ms {
                continue;
            }
            let share = left / (n * (ROUNDS - round)) as f64;
            let reps = ((share / per) as u32).clamp(1, TIMING_REPS);
            let ms = exec::time_kernel(ctx, k, &ok[i], bufs, reps, true)?;
            best[i] = best[i].min(ms);
            timed[i] = true;
        }
        let top = best.iter().copied().fold(f64::INFINITY, f64::min);
        for i in 0..ok.len() {
            alive[i] &= timed[i] && best[i] <= DROP_SLOWER * top;
        }
    }
    for (s, ms) in ok.iter().zip(&best) {
        log::debug!("kiln: autotune {}: {s:?} {ms:.4} ms", k.name);
    }
    // Only candidates timed after the warm-up compete: a single check run, made while the
    // clocks were still coming up, is no match for them (a later one looks faster).
    if timed.iter().filter(|&&t| t).count() < 2 {
        return Ok(unmeasured);
    }
    let (i, _) = best.iter().enumerate().filter(|&(i, _)| timed[i]).fold(
        (0, f64::INFINITY),
        |(bi, bm), (i, &m)| {
            if m < bm {
                (i, m)
            } else {
                (bi, bm)
            }
        },
    );
    Ok(Tuned {
        schedule: ok[i],
        skipped,
        measured: true,
    })
}

/// Dispatches per timing.
const TIMING_REPS: u32 = 5;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse() {
        assert_eq!("OFF".parse::<Autotune>(), Ok(Autotune::Off));
        assert_eq!("fast".parse::<Autotune>(), Ok(Autotune::Fast));
        assert_eq!(" full".parse::<Autotune>(), Ok(Autotune::Full));
        assert!("fastest".parse::<Autotune>().is_err());
    }

    fn f(v: &[f32]) -> HostTensor {
        HostTensor::from_slice(v, Shape::new(&[v.len()])).unwrap()
    }

    /// Without subgroups (an adapter lacking `SUBGROUP`, or a browser) no schedule keeps a
    /// subgroup flag, the GPU default (gemv subgroups on) included; with them the flags stay.
    #[test]
    fn subgroup_flags_need_subgroups() {
        let on = Schedule {
            reduce_subgroups: 1,
            ..Schedule::default()
        };
        let off = sanitize(on, 1024, false);
        assert_eq!((off.reduce_subgroups, off.gemv_subgroups), (0, 0));
        let kept = sanitize(on, 1024, true);
        assert_eq!((kept.reduce_subgroups, kept.gemv_subgroups), (1, 1));
    }

    /// The gate that keeps wrong schedules out: reassociation-sized differences pass; a wrong
    /// element, a NaN on one side only, a length or dtype mismatch do not.
    #[test]
    fn agreement_gate() {
        let want = f(&[1.0, -2.0, 3.0, f32::NAN]);
        assert!(agrees(&f(&[1.0, -2.0, 3.000_001, f32::NAN]), &want));
        assert!(!agrees(&f(&[1.0, -2.0, 3.1, f32::NAN]), &want));
        assert!(!agrees(&f(&[1.0, -2.0, 3.0, 0.0]), &want));
        assert!(!agrees(&f(&[1.0, -2.0, 3.0]), &want));
        let ints = HostTensor::from_slice(&[1i32, 2], Shape::new(&[2])).unwrap();
        assert!(agrees(&ints, &ints));
        assert!(!agrees(
            &HostTensor::from_slice(&[1i32, 3], Shape::new(&[2])).unwrap(),
            &ints
        ));
        assert!(!agrees(&f(&[1.0, 2.0]), &ints));
    }
}

//! The autotuner's search: given candidate schedules (the reference first) and two ways to
//! run a kernel under a schedule, check each candidate's outputs against the reference's and
//! pick the fastest (timestamp queries; wall clock where the adapter has none). A candidate
//! that fails is skipped, never fatal. It knows nothing of devices: the runtime hands it the
//! runs as closures (`autotune.rs`), and the spaces are data (`kiln_codegen::schedule::space`).

use crate::{Error, Result};
pub use kiln_codegen::schedule::space::{Autotune, FAST_MIN_WORK};
use kiln_codegen::Schedule;
use kiln_ir::HostTensor;

/// Where candidate outputs may differ from the reference's (summation order changes with the
/// schedule): floats within 1e-3 of the larger of 1 and the output's largest magnitude, NaN
/// where the reference has NaN; everything else exactly.
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
/// docs/PERFORMANCE.md); never more than a quarter of what is left of the budget.
const SPIN_MS: f64 = 300.0;

/// After a timing round, a candidate this many times slower than the best so far is timed no
/// more.
const DROP_SLOWER: f64 = 1.5;

/// How much faster than the device schedule (the one a kernel runs untuned, which for a
/// tensor-core kernel is not the reference its outputs are checked against) a candidate must
/// run alone to replace it. A kernel is timed alone, its inputs warm in the cache and no kernel before it;
/// in a program it is a dependent launch, and the device schedule is the one measured there
/// (docs/PERFORMANCE.md, "Autotuner"). A smaller gain than this is within what isolation
/// misjudges.
pub const KEEP_MARGIN: f64 = 0.05;

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

/// Searches `cands` for the fastest whose outputs agree with the first's (the reference),
/// keeping `device` (where it is a candidate and was timed) unless the fastest runs at least
/// [`KEEP_MARGIN`] faster.
/// `check` runs a schedule once and returns its time in milliseconds and its outputs;
/// `time` returns the time of one dispatch under a schedule, over `reps` dispatches, after
/// an untimed one where asked. `started` is when the work for this kernel began (its inputs
/// made), so that the reference's first run, which sets the budget, counts it.
///
/// The reference runs once, which sets the time budget; then each other candidate runs once
/// and is checked, while the budget lasts; then the reference runs for up to `SPIN_MS`, and
/// the survivors are timed in `ROUNDS` round-robin rounds (so a clock change during tuning
/// touches every candidate alike), dropping those clearly slower than the best after each
/// round, with as many dispatches per timing as the budget allows (1 to `TIMING_REPS`);
/// only candidates timed in a round compete. Errors only when the reference itself cannot
/// run.
pub fn search(
    name: &str,
    cands: &[Schedule],
    device: &Schedule,
    budget: Budget,
    started: super::platform::Instant,
    mut check: impl FnMut(&Schedule) -> Result<(f64, Vec<HostTensor>)>,
    mut time: impl FnMut(&Schedule, u32, bool) -> Result<f64>,
) -> Result<Tuned> {
    let elapsed = || started.elapsed().as_secs_f64() * 1e3;
    let Some(&reference) = cands.first() else {
        return Err(Error::Gpu("autotune: no candidates".into()));
    };
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
                name,
                cands.len()
            );
            break;
        }
        checked += 1;
        let mut ms = 0.0;
        let outcome = (|| -> Result<bool> {
            let (t, got) = check(s)?;
            ms = t;
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
                name
            ),
            Err(e) if ci == 0 => return Err(e),
            Err(e) => {
                log::warn!(
                    "kiln: autotune {}: candidate {s:?} failed ({e}); skipped",
                    name
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
        time(&reference, 1, false)?;
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
            let ms = time(&ok[i], reps, true)?;
            best[i] = best[i].min(ms);
            timed[i] = true;
        }
        let top = best.iter().copied().fold(f64::INFINITY, f64::min);
        for i in 0..ok.len() {
            alive[i] &= timed[i] && best[i] <= DROP_SLOWER * top;
        }
    }
    for (s, ms) in ok.iter().zip(&best) {
        log::debug!("kiln: autotune {}: {s:?} {ms:.4} ms", name);
    }
    // Only candidates timed after the warm-up compete: a single check run, made while the
    // clocks were still coming up, is no match for them (a later one looks faster).
    if timed.iter().filter(|&&t| t).count() < 2 {
        return Ok(unmeasured);
    }
    let (mut i, m) = best.iter().enumerate().filter(|&(i, _)| timed[i]).fold(
        (0, f64::INFINITY),
        |(bi, bm), (i, &m)| {
            if m < bm {
                (i, m)
            } else {
                (bi, bm)
            }
        },
    );
    // The device schedule stays unless the fastest beats it by the margin (where it was
    // timed; else the fastest timed wins).
    if let Some(d) = ok.iter().position(|s| s == device).filter(|&d| timed[d]) {
        if m > (1.0 - KEEP_MARGIN) * best[d] {
            i = d;
        }
    }
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
    use kiln_ir::Shape;

    fn f(v: &[f32]) -> HostTensor {
        HostTensor::from_slice(v, Shape::new(&[v.len()])).unwrap()
    }

    /// The gate that keeps wrong schedules out: reassociation-sized differences pass; a wrong
    /// element, a NaN on one side only, a length or dtype mismatch do not.
    #[test]
    fn agreement_gate() {
        let want = f(&[1.0, -2.0, 3.0, f32::NAN]);
        // The bound is 1e-3 of the largest magnitude, 3 here: 2e-3 passes, 4e-3 does not.
        assert!(agrees(&f(&[1.0, -2.0, 3.002, f32::NAN]), &want));
        assert!(!agrees(&f(&[1.0, -2.0, 3.004, f32::NAN]), &want));
        // The bound scales with the output: 0.5 is within 1e-3 of 1000, not of 2.5.
        assert!(agrees(&f(&[1000.0, 2.0]), &f(&[1000.0, 2.5])));
        assert!(!agrees(&f(&[1.0, 2.0]), &f(&[1.0, 2.5])));
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

    /// Candidates that differ only in their elementwise unroll, the reference first.
    fn candidates(n: u32) -> Vec<Schedule> {
        (1..=n)
            .map(|u| {
                let mut s = Schedule::GPU;
                s.elementwise.unroll = u;
                s
            })
            .collect()
    }

    fn fast() -> Budget {
        Budget::of(Autotune::Fast).unwrap()
    }

    /// Cheap checks and timings: every candidate is checked and timed, and the fastest wins.
    #[test]
    fn search_picks_the_fastest_timed_candidate() {
        let cands = candidates(4);
        let t = search(
            "k",
            &cands,
            &cands[0],
            fast(),
            super::super::platform::Instant::now(),
            // The check runs rank the candidates the other way: only the timings choose.
            |s| {
                Ok((
                    0.01 * (5 - s.elementwise.unroll) as f64,
                    vec![f(&[1.0, 2.0])],
                ))
            },
            |s, _, _| Ok(if s.elementwise.unroll == 3 { 0.5 } else { 1.0 }),
        )
        .unwrap();
        assert!(t.measured);
        assert_eq!(t.skipped, 0);
        assert_eq!(t.schedule, cands[2]);
    }

    /// A candidate replaces the device schedule only when it runs at least `KEEP_MARGIN`
    /// faster: 2% faster keeps it, 10% faster is chosen. The device schedule here is not the
    /// reference (as for a tensor-core kernel, checked against the scalar template), and the
    /// reference, slower than both, is never chosen.
    #[test]
    fn search_keeps_the_device_schedule_within_the_margin() {
        let cands = candidates(3);
        let pick = |gain: f64| {
            search(
                "k",
                &cands,
                &cands[1],
                fast(),
                super::super::platform::Instant::now(),
                |_| Ok((0.01, vec![f(&[1.0, 2.0])])),
                |s, _, _| {
                    Ok(match s.elementwise.unroll {
                        1 => 1.3,
                        2 => 1.0,
                        _ => 1.0 - gain,
                    })
                },
            )
            .unwrap()
        };
        const { assert!(KEEP_MARGIN > 0.02 && KEEP_MARGIN < 0.1) };
        let t = pick(0.02);
        assert!(t.measured);
        assert_eq!(t.schedule, cands[1]);
        assert_eq!(pick(0.1).schedule, cands[2]);
    }

    /// A candidate whose output disagrees, or that fails, is skipped and never chosen; a
    /// failing reference is an error.
    #[test]
    fn search_skips_wrong_and_failing_candidates() {
        let cands = candidates(4);
        let t = search(
            "k",
            &cands,
            &cands[0],
            fast(),
            super::super::platform::Instant::now(),
            |s| match s.elementwise.unroll {
                2 => Ok((0.1, vec![f(&[1.0, 2.5])])),
                3 => Err(Error::Gpu("compile failed".into())),
                _ => Ok((0.1, vec![f(&[1.0, 2.0])])),
            },
            |s, _, _| Ok(if s.elementwise.unroll == 4 { 1.0 } else { 2.0 }),
        )
        .unwrap();
        assert!(t.measured);
        assert_eq!(t.skipped, 2);
        assert_eq!(t.schedule, cands[3]);
        let r = search(
            "k",
            &cands,
            &cands[0],
            fast(),
            super::super::platform::Instant::now(),
            |_| Err(Error::Gpu("compile failed".into())),
            |_, _, _| Ok(1.0),
        );
        assert!(r.is_err());
    }

    /// Slow checks: the budget, a multiple of the reference's first run, stops the search
    /// long before every candidate is checked.
    #[test]
    fn search_stops_at_the_budget() {
        let cands = candidates(40);
        let check_ms = 60.0;
        let started = super::super::platform::Instant::now();
        let mut checked = 0;
        let t = search(
            "k",
            &cands,
            &cands[0],
            fast(),
            started,
            |_| {
                checked += 1;
                std::thread::sleep(std::time::Duration::from_secs_f64(check_ms / 1e3));
                Ok((check_ms, vec![f(&[1.0])]))
            },
            |_, _, _| Ok(check_ms),
        )
        .unwrap();
        // The reference's check, then at most half of a budget of 4 references' worth.
        assert!(checked < 10, "{checked} of 40 candidates checked");
        assert!(cands[..checked].contains(&t.schedule), "{t:?}");
    }
}

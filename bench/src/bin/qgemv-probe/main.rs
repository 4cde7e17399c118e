//! `qgemv-probe [--warmup-ms N] [--reps N] [ROWSxKxN ...]`: what a `Q4_K` gemv's access
//! pattern allows on this adapter, beside the copy ceiling, from hand-written kernels
//! (`shader.rs`) that read a vector already rounded to 8 bits straight from its buffer, a
//! warp a row or rows. Each form is checked against the host's product first; the run fails
//! (exit status 1) if one differs by more than 1e-5 of the largest output. `N` products are
//! chained, each on a weight of its own, so that each reads its weight from memory; a
//! product's time includes its launch as a dependent dispatch. Each chain is timed after
//! `--warmup-ms` (default 300) of back-to-back chains, as `--reps` (default 25) chains queued
//! in one submission, by timestamps at the ends of each chain's pass. The journal
//! `docs/journal/2026-12-07-qgemv-direct.md` holds what it measured and why it exists.

mod data;
mod gpu;
mod shader;

use shader::Variant;
use std::process::ExitCode;

/// The decode products of `llm_decode_8b` and `llm_decode_1b`, and the `gemv_q4_k` workload's.
const SHAPES: &str =
    "28672x4096x2,6144x4096x8,4096x4096x8,4096x14336x4,8192x8192x4,8192x2048x8,2048x2048x8";

/// The largest relative difference from the host's product a form may show.
const TOLERANCE: f32 = 1e-5;

/// The forms, as (rows, warps, items, cap, loads only, staged): a warp a row or rows in small
/// workgroups, capped or not; workgroups of 16 or 32 warps, one or two a multiprocessor, the
/// vector staged once; the loads alone.
fn variants() -> Vec<Variant> {
    let mut forms = vec![];
    for (rows, warps, items) in [(1, 4, 1), (1, 8, 2), (2, 4, 1), (4, 2, 1)] {
        forms.extend([0, 264].map(|cap| (rows, warps, items, cap, false, false)));
    }
    forms.extend([
        (1, 32, 2, 132, false, true),
        (1, 32, 2, 132, false, false),
        (2, 32, 1, 132, false, true),
        (1, 16, 2, 264, false, true),
    ]);
    forms.extend([0, 264].map(|cap| (2, 4, 1, cap, true, false)));
    forms
        .into_iter()
        .map(|(rows, warps, items, cap, loads_only, staged)| Variant {
            rows,
            warps,
            items,
            cap,
            loads_only,
            staged,
        })
        .collect()
}

/// `ROWSxKxN`, `k` a multiple of 256.
fn shape(s: &str) -> Result<(u32, u32, u32), String> {
    let p: Vec<u32> = s
        .split('x')
        .map(|v| v.parse::<u32>().map_err(|e| format!("{s:?}: {e}")))
        .collect::<Result<_, _>>()?;
    match p[..] {
        [n, k, c] if n > 0 && c > 0 && k > 0 && k % 256 == 0 => Ok((n, k, c)),
        _ => Err(format!(
            "{s:?}: a shape is ROWSxKxN, K a multiple of 256, none 0"
        )),
    }
}

fn run(args: &[String]) -> Result<bool, String> {
    let (mut warmup_ms, mut reps, mut shapes) = (300u64, 25usize, vec![]);
    let mut i = 0;
    while i < args.len() {
        let value = || {
            let v = args
                .get(i + 1)
                .ok_or_else(|| format!("{} takes a number", args[i]))?;
            v.parse::<u64>()
                .map_err(|e| format!("{} {v:?}: {e}", args[i]))
        };
        match args[i].as_str() {
            "--warmup-ms" => warmup_ms = value()?,
            "--reps" => {
                reps = match value()? {
                    r @ 1..=64 => r as usize,
                    r => return Err(format!("--reps {r}: from 1 to {}", gpu::MAX_REPS)),
                }
            }
            "-h" | "--help" => {
                eprintln!(
                    "qgemv-probe [--warmup-ms N] [--reps N] [ROWSxKxN ...] (default {SHAPES})"
                );
                return Ok(true);
            }
            s => {
                shapes.push(shape(s)?);
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    if shapes.is_empty() {
        shapes = SHAPES.split(',').map(shape).collect::<Result<_, _>>()?;
    }
    let g = gpu::Gpu::new(warmup_ms, reps)?;
    println!(
        "{} (subgroup sums: {}); copy: {}",
        g.name,
        g.subgroups,
        g.copy_ceiling()?
    );
    let mut rng = data::Rng(0x9e37_79b9_7f4a_7c15);
    let mut ok = true;
    for (n, k, chain) in shapes {
        let weights: Vec<Vec<u8>> = (0..chain)
            .map(|_| data::weights(rng.next(), n, k))
            .collect();
        let x = data::vector(&mut rng, k);
        let want = data::reference(&weights[0], n, k, &x)?;
        let largest = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        let bytes = weights[0].len() as f64;
        println!("{n} x {k}, {chain} chained, {:.1} MB a weight", bytes / 1e6);
        let chain_bufs = g.chain(&weights, &x, n);
        for v in variants() {
            let (got, least, median) = chain_bufs.run(&g, &v, k)?;
            // A NaN difference is the largest (`f32::max` would drop it).
            let err = got.iter().zip(&want).fold(0f32, |m, (g, w)| {
                let d = (g - w).abs();
                if d.is_nan() || d > m {
                    d
                } else {
                    m
                }
            }) / largest;
            let verdict = match v.loads_only {
                true => "loads only".to_string(),
                false if err <= TOLERANCE => format!("err {err:.1e}"),
                false => {
                    ok = false;
                    format!("FAIL err {err:.1e}")
                }
            };
            let per = least / chain as f64;
            println!(
                "  rows {} warps {:2} items {} cap {:4}{}: {per:7.2} us a product (median {:7.2}), {:.2} TB/s, {verdict}",
                v.rows,
                v.warps,
                v.items,
                v.cap,
                if v.staged { " staged" } else { "" },
                median / chain as f64,
                bytes / per / 1e6
            );
        }
    }
    Ok(ok)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("qgemv-probe: {e}");
            ExitCode::FAILURE
        }
    }
}

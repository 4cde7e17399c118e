//! `kiln-bench`: the standard workloads of `docs/PERFORMANCE.md` on the default adapter.
//!
//! `kiln-bench [--size small|large] [--only NAME[,NAME...]] [--check] [--unroll N] [--reduce-unroll N] [--workgroup N] [--reduce-workgroup N] [--reduce-cache N] [--reduce-serial N] [--reduce-subgroups 0|1] [--gemv-subgroups 0|1] [--qgemv-rows 1|2|4] [--qgemv-items 1|2|4] [--qgemv-workgroups N] [--qgemv-warps 0|8|16|32] [--qgemv-warps-wide 0|8|16|32] [--matmul-block N] [--matmul-block-n N] [--matmul-depth 16|32] [--matmul-unroll N] [--attention-rows N] [--attention-keys N] [--attention-segments 1|2|4|8|16] [--pool-mb N] [--warmup-ms N] [--queued-runs N] [--profile]`
//! (`--unroll`/`--workgroup` override the adapter's default schedule, for comparisons; a
//! quantized gemv runs at another shape as `NAME@ROWSxK`, or `N` of them chained as
//! `NAME@ROWSxKxN`)
//!
//! Per workload: `Program::compile` (lowering, code generation, pipelines, any tuning) and 3
//! warm-up runs (compile plus the first run is reported as `first_run_ms`), then `--warmup-ms` (default 1000) of back-to-back runs that bring the GPU
//! from idle clocks to full clocks (an H100 left idle for ~10 s runs a bandwidth-bound kernel
//! 4x slower until it ramps up), then 20 timed runs, each ending when the result is complete on the device
//! (`median_ms`, `min_ms`: latency), then 20 runs queued back to back with one wait at the end
//! (`pipelined_ms`: throughput, the time the metric is computed from; runs are gathered into
//! chunked submissions, kiln's default `Submission::Gathered`), then as many with
//! `Submission::PerRun` (`per_run_ms`: one submission a run, for comparison); `--queued-runs
//! N` sets how many (the first submission's start and the final wait's wake-up are shared
//! by them), then 20 runs with timestamp queries (`gpu_ms`: the compute pass alone).
//! One JSON line per workload on stdout, a table on stderr.

use kiln::{Device, Submission};
use kiln_bench::check;
use kiln_bench::runner::Runner;
use kiln_bench::workloads::{self, Size};
use std::time::Instant;

const WARMUP: usize = 3;
const TIMED: usize = 20;

/// The number after flag `args[i]`, at least `min`; exits with a message otherwise.
fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
    args: &[String],
    i: usize,
    min: T,
) -> T {
    match args.get(i + 1).and_then(|v| v.parse::<T>().ok()) {
        Some(v) if v >= min => v,
        _ => {
            eprintln!("{} takes a number of at least {min}", args[i]);
            std::process::exit(2);
        }
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

fn json_num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.6}")
    } else {
        "null".into()
    }
}

struct Row {
    name: &'static str,
    shape: String,
    median_ms: f64,
    min_ms: f64,
    pipelined_ms: f64,
    per_run_ms: f64,
    gpu_ms: Option<f64>,
    first_ms: f64,
    kernels: usize,
    metric: f64,
    unit: &'static str,
}

fn run_one(
    dev: &Device,
    name: &str,
    size: Size,
    check: bool,
    warmup_ms: u64,
    profile: bool,
    queued_runs: usize,
) -> kiln::Result<Option<Row>> {
    let Some(w) = workloads::build(dev, name, size)? else {
        return Ok(None);
    };
    dev.synchronize()?;
    let t0 = Instant::now();
    let prog = w.compile()?;
    let mut runner = Runner::new(&w, &prog);
    let mut first_ms = 0.0;
    let mut out = Vec::new();
    for i in 0..WARMUP {
        out = runner.run()?;
        dev.synchronize()?;
        if i == 0 {
            // Compile (codegen, pipeline creation) plus the first run.
            first_ms = t0.elapsed().as_secs_f64() * 1e3;
        }
    }
    // A GPU left idle for a few seconds (compiling, tuning, checking on the host) drops to idle
    // clocks and takes a while to come back: keep it busy before timing anything.
    let t = Instant::now();
    while t.elapsed().as_millis() < warmup_ms as u128 {
        for _ in 0..4 {
            out = runner.run()?;
        }
        dev.synchronize()?;
    }
    let mut times = Vec::with_capacity(TIMED);
    for _ in 0..TIMED {
        let t = Instant::now();
        out = runner.run()?;
        dev.synchronize()?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    // Throughput: the runs queued back to back, one wait at the end (how CUDA timings with a
    // final synchronize measure); per-run host and wait costs overlap the GPU's work.
    let t = Instant::now();
    for _ in 0..queued_runs {
        out = runner.run()?;
    }
    let enqueue_ms = t.elapsed().as_secs_f64() * 1e3 / queued_runs as f64;
    dev.synchronize()?;
    let pipelined_ms = t.elapsed().as_secs_f64() * 1e3 / queued_runs as f64;
    eprintln!(
        "{name}: host time to enqueue one run {:.1} us",
        enqueue_ms * 1e3
    );
    // The same with a submission a run.
    dev.set_submission(Submission::PerRun);
    let t = Instant::now();
    let per_run = (0..queued_runs).try_for_each(|_| runner.run().map(|o| out = o));
    let sync = dev.synchronize();
    let per_run_ms = t.elapsed().as_secs_f64() * 1e3 / queued_runs as f64;
    dev.set_submission(Submission::Gathered);
    per_run.and(sync)?;
    let mut gpu = Vec::new();
    for _ in 0..TIMED {
        match prog.run_timed(&runner.inputs())? {
            (_, Some(ms)) => gpu.push(ms),
            (_, None) => break,
        }
    }
    let min_ms = times.iter().cloned().fold(f64::INFINITY, f64::min);
    let median_ms = median(&mut times);
    let gpu_ms = if gpu.is_empty() {
        None
    } else {
        Some(median(&mut gpu))
    };
    if profile {
        if let Some(ks) = prog.profile(&runner.inputs())? {
            for (name, ms) in ks {
                eprintln!("{name:>60}: {ms:.4} ms");
            }
        }
    }
    let host = out[0].to_host()?;
    let checksum: f64 = host.to_f64().iter().sum();
    if check {
        // Relative to the largest value: f32 results within 1e-3; 16-bit ones within 1e-2, for
        // a chain of kernels stores and rounds at other points than the reference's one
        // rounding per op (the H200 gave 2.4e-3 on transformer_layer_f16, 2.5 f16 ulps); and
        // within 1e-2 where a workload with quantized weights runs on a device whose
        // quantized gemvs round their vector to 8 bits (docs/OPS.md: the H100's large gemvs
        // came within 3.6e-3 to 3.9e-3).
        let narrow = matches!(host.dtype, kiln::DType::F16 | kiln::DType::BF16);
        let int8 = dev.gpu().is_some_and(|g| g.schedule().matmul.qgemv_int8) && w.quantized;
        let rel = if narrow || int8 { 1e-2 } else { 1e-3 };
        // A chain is held to the bound link by link (`kiln_bench::check`): under the 8-bit
        // vector its end-to-end result compounds flipped signs, and its reference would
        // take the host as long again.
        if w.links.is_empty() {
            // The reference from the inputs of one more run, against that run.
            let want = prog.reference(&runner.inputs())?;
            let host = runner.run()?[0].to_host()?;
            let d = check::Deviation::of(&host.to_f64(), &want[0].to_f64());
            eprintln!(
                "{name}: max |kiln - reference| = {:.3e} (max |reference| {:.3e})",
                d.err, d.scale
            );
            if !d.within(rel) {
                return Err(kiln::Error::Gpu(format!(
                    "{name}: result differs from the reference interpreter"
                )));
            }
        }
        for (i, d) in check::chain_links(&w)?.iter().enumerate() {
            eprintln!(
                "{name}: link {} of {}: max |kiln - reference| = {:.3e} (max |reference| {:.3e})",
                i + 1,
                w.links.len(),
                d.err,
                d.scale
            );
            if !d.within(rel) {
                return Err(kiln::Error::Gpu(format!(
                    "{name}: link {} differs from the reference interpreter",
                    i + 1
                )));
            }
        }
    }
    let (metric, unit) = w.metric.value(pipelined_ms);
    let row = Row {
        name: w.name,
        shape: w.shape,
        median_ms,
        min_ms,
        pipelined_ms,
        per_run_ms,
        gpu_ms,
        first_ms,
        kernels: prog.kernel_count(),
        metric,
        unit,
    };
    println!(
        "{{\"peer\":\"kiln\",\"workload\":\"{}\",\"shape\":\"{}\",\"median_ms\":{},\"min_ms\":{},\"pipelined_ms\":{},\"per_run_ms\":{},\"gpu_ms\":{},\"first_run_ms\":{},\"kernels\":{},\"metric\":{},\"unit\":\"{}\",\"checksum\":{}}}",
        row.name,
        row.shape,
        json_num(row.median_ms),
        json_num(row.min_ms),
        json_num(row.pipelined_ms),
        json_num(row.per_run_ms),
        row.gpu_ms.map_or("null".into(), json_num),
        json_num(row.first_ms),
        row.kernels,
        json_num(row.metric),
        row.unit,
        json_num(checksum)
    );
    Ok(Some(row))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut size = Size::Small;
    let mut only: Option<String> = None;
    let mut check = false;
    let mut unroll: Option<u32> = None;
    let mut reduce_unroll: Option<u32> = None;
    let mut matmul_block: Option<u32> = None;
    let mut matmul_unroll: Option<u32> = None;
    let mut matmul_block_n: Option<u32> = None;
    let mut matmul_depth: Option<u32> = None;
    let mut reduce_subgroups: Option<u32> = None;
    let mut gemv_subgroups: Option<u32> = None;
    let mut qgemv_rows: Option<u32> = None;
    let mut qgemv_items: Option<u32> = None;
    let mut qgemv_workgroups: Option<u32> = None;
    let mut qgemv_warps: Option<u32> = None;
    let mut qgemv_warps_wide: Option<u32> = None;
    let mut reduce_cache: Option<u32> = None;
    let mut reduce_serial: Option<u32> = None;
    let mut attention_rows: Option<u32> = None;
    let mut attention_keys: Option<u32> = None;
    let mut attention_segments: Option<u32> = None;
    let mut warmup_ms: u64 = 1000;
    let mut queued_runs: usize = TIMED;
    let mut profile = false;
    let mut pool_mb: Option<u64> = None;
    let mut reduce_wg: Option<u32> = None;
    let mut workgroup: Option<u32> = None;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--size" => {
                size = match args.get(i + 1).map(String::as_str) {
                    Some("large") => Size::Large,
                    Some("small") => Size::Small,
                    other => {
                        eprintln!("--size takes small or large, got {other:?}");
                        std::process::exit(2);
                    }
                };
                i += 1;
            }
            "--only" => {
                only = args.get(i + 1).cloned();
                i += 1;
            }
            "--check" => check = true,
            "--profile" => profile = true,
            "--warmup-ms" => {
                warmup_ms = number(&args, i, 0);
                i += 1;
            }
            "--queued-runs" => {
                queued_runs = number(&args, i, 1);
                i += 1;
            }
            "--pool-mb" => {
                pool_mb = args.get(i + 1).and_then(|v| v.parse().ok());
                i += 1;
            }
            "--unroll"
            | "--workgroup"
            | "--reduce-unroll"
            | "--reduce-workgroup"
            | "--matmul-block"
            | "--matmul-block-n"
            | "--matmul-depth"
            | "--matmul-unroll"
            | "--reduce-subgroups"
            | "--gemv-subgroups"
            | "--qgemv-rows"
            | "--qgemv-items"
            | "--qgemv-workgroups"
            | "--qgemv-warps"
            | "--qgemv-warps-wide"
            | "--reduce-cache"
            | "--reduce-serial"
            | "--attention-rows"
            | "--attention-keys"
            | "--attention-segments" => {
                let v: Option<u32> = args.get(i + 1).and_then(|v| v.parse().ok());
                match v {
                    Some(v) if args[i] == "--unroll" => unroll = Some(v),
                    Some(v) if args[i] == "--reduce-workgroup" => reduce_wg = Some(v),
                    Some(v) if args[i] == "--reduce-unroll" => reduce_unroll = Some(v),
                    Some(v) if args[i] == "--matmul-block" => matmul_block = Some(v),
                    Some(v) if args[i] == "--matmul-unroll" => matmul_unroll = Some(v),
                    Some(v) if args[i] == "--matmul-block-n" => matmul_block_n = Some(v),
                    Some(v) if args[i] == "--matmul-depth" => matmul_depth = Some(v),
                    Some(v) if args[i] == "--reduce-subgroups" => reduce_subgroups = Some(v),
                    Some(v) if args[i] == "--gemv-subgroups" => gemv_subgroups = Some(v),
                    Some(v) if args[i] == "--qgemv-rows" => qgemv_rows = Some(v),
                    Some(v) if args[i] == "--qgemv-items" => qgemv_items = Some(v),
                    Some(v) if args[i] == "--qgemv-workgroups" => qgemv_workgroups = Some(v),
                    Some(v) if args[i] == "--qgemv-warps" => qgemv_warps = Some(v),
                    Some(v) if args[i] == "--qgemv-warps-wide" => qgemv_warps_wide = Some(v),
                    Some(v) if args[i] == "--reduce-cache" => reduce_cache = Some(v),
                    Some(v) if args[i] == "--reduce-serial" => reduce_serial = Some(v),
                    Some(v) if args[i] == "--attention-rows" => attention_rows = Some(v),
                    Some(v) if args[i] == "--attention-keys" => attention_keys = Some(v),
                    Some(v) if args[i] == "--attention-segments" => attention_segments = Some(v),
                    Some(v) => workgroup = Some(v),
                    None => {
                        eprintln!("{} takes a number", args[i]);
                        std::process::exit(2);
                    }
                }
                i += 1;
            }
            "-h" | "--help" => {
                eprintln!(
                    "kiln-bench [--size small|large] [--only NAME[,NAME...]] [--check] [--unroll N] [--reduce-unroll N] [--workgroup N] [--reduce-workgroup N] [--reduce-cache N] [--reduce-serial N] [--reduce-subgroups 0|1] [--gemv-subgroups 0|1] [--qgemv-rows 1|2|4] [--qgemv-items 1|2|4] [--qgemv-workgroups N] [--qgemv-warps 0|8|16|32] [--qgemv-warps-wide 0|8|16|32] [--matmul-block N] [--matmul-block-n N] [--matmul-depth 16|32] [--matmul-unroll N] [--attention-rows N] [--attention-keys N] [--attention-segments 1|2|4|8|16] [--pool-mb N] [--warmup-ms N] [--queued-runs N] [--profile]\nworkloads: {} (a quantized gemv at another shape: NAME@ROWSxK; N of them chained, each on its own weight: NAME@ROWSxKxN)",
                    workloads::NAMES.join(", ")
                );
                return;
            }
            other => {
                eprintln!("unknown argument {other:?} (try --help)");
                std::process::exit(2);
            }
        }
        i += 1;
    }
    let dev = match Device::default_device() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("kiln-bench: {e}");
            std::process::exit(1);
        }
    };
    if let Some(g) = dev.gpu() {
        let mut s = g.schedule();
        // On the command line 0 means "by size" for the matmul's block, columns and depth and
        // the attention's rows and keys, and 0 or 1 turn the subgroup paths off or on.
        let by_size = |v: u32| (v != 0).then_some(v);
        let e = &mut s.elementwise;
        e.unroll = unroll.unwrap_or(e.unroll);
        e.workgroup = workgroup.unwrap_or(e.workgroup);
        let r = &mut s.reduce;
        r.unroll = reduce_unroll.unwrap_or(r.unroll);
        r.subgroups = reduce_subgroups.map_or(r.subgroups, |v| v != 0);
        r.cache = reduce_cache.unwrap_or(r.cache);
        r.serial = reduce_serial.unwrap_or(r.serial);
        r.workgroup = reduce_wg.unwrap_or(r.workgroup);
        let m = &mut s.matmul;
        m.block = matmul_block.map_or(m.block, by_size);
        m.unroll = matmul_unroll.unwrap_or(m.unroll);
        m.block_n = matmul_block_n.map_or(m.block_n, by_size);
        m.depth = matmul_depth.map_or(m.depth, by_size);
        m.gemv_subgroups = gemv_subgroups.map_or(m.gemv_subgroups, |v| v != 0);
        m.qgemv_rows = qgemv_rows.or(m.qgemv_rows);
        m.qgemv_items = qgemv_items.unwrap_or(m.qgemv_items);
        m.qgemv_workgroups = qgemv_workgroups.unwrap_or(m.qgemv_workgroups);
        m.qgemv_warps = qgemv_warps.unwrap_or(m.qgemv_warps);
        // `--qgemv-warps` alone gives every format its warps.
        m.qgemv_warps_wide = qgemv_warps_wide
            .or(qgemv_warps.map(|_| 0))
            .unwrap_or(m.qgemv_warps_wide);
        let a = &mut s.attention;
        a.rows = attention_rows.map_or(a.rows, by_size);
        a.keys = attention_keys.map_or(a.keys, by_size);
        a.segments = attention_segments.unwrap_or(a.segments);
        let explicit = [
            unroll,
            reduce_unroll,
            matmul_block,
            matmul_unroll,
            matmul_block_n,
            matmul_depth,
            reduce_subgroups,
            gemv_subgroups,
            qgemv_rows,
            qgemv_items,
            qgemv_workgroups,
            qgemv_warps,
            qgemv_warps_wide,
            reduce_cache,
            reduce_serial,
            reduce_wg,
            workgroup,
            attention_rows,
            attention_keys,
            attention_segments,
        ]
        .iter()
        .any(Option::is_some);
        if explicit {
            // An explicit schedule is for comparing schedules: the tuner would override it.
            g.set_autotune(kiln::Autotune::Off);
        }
        g.set_schedule(s);
        // The device keeps what the adapter allows; a quantized gemv's rows, items or warps,
        // or attention segments, outside the sets the adapter takes would be dropped without
        // a word.
        let kept = g.schedule().matmul;
        for (flag, asked, got) in [
            ("--qgemv-rows", qgemv_rows, kept.qgemv_rows),
            ("--qgemv-items", qgemv_items, Some(kept.qgemv_items)),
            ("--qgemv-warps", qgemv_warps, Some(kept.qgemv_warps)),
            (
                "--qgemv-warps-wide",
                qgemv_warps_wide,
                Some(kept.qgemv_warps_wide),
            ),
            (
                "--attention-segments",
                attention_segments,
                Some(g.schedule().attention.segments),
            ),
        ] {
            if asked.is_some() && asked != got {
                eprintln!(
                    "{flag} {} is not a value this adapter's schedule takes",
                    asked.unwrap_or(0)
                );
                std::process::exit(2);
            }
        }
        if let Some(mb) = pool_mb {
            g.set_pool_limit(mb << 20);
        }
        eprintln!(
            "kiln-bench on {} (autotune {:?}, cache {:?}, schedule {:?})",
            dev.describe(),
            g.autotune(),
            g.cache_dir(),
            g.schedule()
        );
    } else {
        eprintln!("kiln-bench on {}", dev.describe());
    }
    let names: Vec<&str> = match &only {
        Some(n) => n.split(',').collect(),
        None => workloads::NAMES.to_vec(),
    };
    let mut rows = Vec::new();
    let mut failed = false;
    for name in names {
        match run_one(&dev, name, size, check, warmup_ms, profile, queued_runs) {
            Ok(Some(r)) => rows.push(r),
            Ok(None) => {
                eprintln!(
                    "unknown workload {name:?}; workloads: {} (a quantized gemv at another shape: NAME@ROWSxK, or NAME@ROWSxKxN with N >= 1 and ROWS >= K where N > 1)",
                    workloads::NAMES.join(", ")
                );
                std::process::exit(2);
            }
            Err(e) => {
                eprintln!("{name}: error: {e}");
                failed = true;
            }
        }
    }
    eprintln!(
        "\n{:<18} {:>22} {:>10} {:>10} {:>10} {:>11} {:>10} {:>12} {:>8} {:>12}",
        "workload",
        "shape",
        "median ms",
        "min ms",
        "queued ms",
        "per-run ms",
        "gpu ms",
        "first ms",
        "kernels",
        "metric"
    );
    for r in &rows {
        eprintln!(
            "{:<18} {:>22} {:>10.3} {:>10.3} {:>10.3} {:>11.3} {:>10} {:>12.1} {:>8} {:>9.2} {}",
            r.name,
            r.shape,
            r.median_ms,
            r.min_ms,
            r.pipelined_ms,
            r.per_run_ms,
            r.gpu_ms.map_or("-".into(), |g| format!("{g:.3}")),
            r.first_ms,
            r.kernels,
            r.metric,
            r.unit
        );
    }
    if failed {
        // A workload that failed (or differed from the reference with --check) fails the run.
        std::process::exit(1);
    }
}

//! Autotuning and the on-disk caches: tuned schedules agree with the interpreter, a failing
//! candidate is skipped, cache files that are corrupted, truncated or foreign are rebuilt, two
//! processes can share one cache directory, and running out of memory is a typed error.

mod common;
use common::*;
use kiln::ir::lower::{lower, FusionOptions};
use kiln::ir::{Graph, Op, Shape};
use kiln::runtime::{autotune, tune};
use kiln::schedule::limits;
use kiln::schedule::space;
use kiln::schedule::tuned::TunedFields;
use kiln::{Autotune, DType, Device, DeviceOptions, Error, Tensor};
use std::path::{Path, PathBuf};

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kiln-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn device_with(cache: &Path, mode: Autotune) -> Device {
    Device::new(&DeviceOptions {
        autotune: mode,
        cache_dir: Some(cache.to_path_buf()),
        ..DeviceOptions::from_env()
    })
    .unwrap()
}

/// Softmax and a matmul with an epilogue at odd sizes: kernels of all three classes.
fn workload(dev: &Device, seed: u64) -> Vec<Tensor> {
    let x = random(dev, DType::F32, &[7, 1031], -2.0, 2.0, seed);
    let a = random(dev, DType::F32, &[127, 129], -1.0, 1.0, seed + 1);
    let b = random(dev, DType::F32, &[129, 131], -1.0, 1.0, seed + 2);
    vec![
        x.softmax(-1).unwrap(),
        a.matmul(&b).unwrap().relu().unwrap(),
        x.exp().unwrap(),
    ]
}

fn check_workload(dev: &Device, seed: u64, what: &str) {
    let ys = workload(dev, seed);
    check(&ys[0], 1e-6, 1e-4, &format!("{what}: softmax"));
    check(&ys[1], 3e-4, 1e-4, &format!("{what}: matmul"));
    check(&ys[2], 1e-6, 1e-5, &format!("{what}: exp"));
}

fn autotune_file(dev: &Device) -> PathBuf {
    dev.gpu()
        .and_then(|g| g.cache_dir())
        .expect("a cache dir")
        .join(kiln::runtime::schedules::AUTOTUNE_FILE)
}

#[test]
fn tuned_schedules_agree_with_the_interpreter() {
    let cache = temp_dir("tuned");
    let dev = device_with(&cache, Autotune::Full);
    let Some(ctx) = dev.gpu() else { return };
    check_workload(&dev, 1, "full autotune");
    let c = ctx.counters();
    assert!(c.kernels_tuned >= 3, "tuned {} kernels", c.kernels_tuned);
    assert!(autotune_file(&dev).exists());
    // A second device on the same directory finds every result: it tunes nothing.
    let dev2 = device_with(&cache, Autotune::Full);
    check_workload(&dev2, 2, "tuned from disk");
    assert_eq!(dev2.counters().unwrap().kernels_tuned, 0);
    let _ = std::fs::remove_dir_all(&cache);
}

/// Every candidate of the full space of matmul and reduction kernels at the odd sizes,
/// run as the device schedule, agrees with the interpreter.
#[test]
fn every_candidate_agrees_with_the_interpreter() {
    let dev = private_device();
    let Some(ctx) = dev.gpu() else { return };
    let base = ctx.schedule();
    let max_wg = ctx.limits.max_compute_invocations_per_workgroup;
    type Build<'a> = Box<dyn Fn() -> Tensor + 'a>;
    let cases: Vec<(&str, Build)> = vec![
        (
            "matmul 127x129x131",
            Box::new(|| {
                random(&dev, DType::F32, &[127, 129], -1.0, 1.0, 1)
                    .matmul(&random(&dev, DType::F32, &[129, 131], -1.0, 1.0, 2))
                    .unwrap()
            }),
        ),
        (
            "gemv 1x1031x1",
            Box::new(|| {
                random(&dev, DType::F32, &[1, 1031], -1.0, 1.0, 3)
                    .matmul(&random(&dev, DType::F32, &[1031, 1], -1.0, 1.0, 4))
                    .unwrap()
            }),
        ),
        (
            "gemv 1x1031x77, the matrix contiguous along k",
            Box::new(|| {
                random(&dev, DType::F32, &[1, 1031], -1.0, 1.0, 8)
                    .matmul(
                        &random(&dev, DType::F32, &[77, 1031], -1.0, 1.0, 9)
                            .transpose(0, 1)
                            .unwrap(),
                    )
                    .unwrap()
            }),
        ),
        (
            "softmax rows of 5000",
            Box::new(|| {
                random(&dev, DType::F32, &[3, 5000], -3.0, 3.0, 5)
                    .softmax(-1)
                    .unwrap()
            }),
        ),
        (
            "column sums of 1031",
            Box::new(|| {
                random(&dev, DType::F32, &[1031, 3], -1.0, 1.0, 6)
                    .sum(&[0], false)
                    .unwrap()
            }),
        ),
        (
            "layer norm rows of 7",
            Box::new(|| {
                random(&dev, DType::F32, &[5, 7], -1.0, 1.0, 7)
                    .layer_norm(None, None, 1e-5)
                    .unwrap()
            }),
        ),
    ];
    for (what, build) in &cases {
        let plan = build().explain().unwrap();
        assert_eq!(plan.kernels.len(), 1, "{what}");
        let kernel = plan.lowered().calls[0].kernel.clone();
        let cands = space::candidates(&kernel, &base, Autotune::Full, max_wg);
        assert!(cands.len() > 1, "{what}: {} candidates", cands.len());
        // Softmax outputs are about 2e-4: relative tolerance only.
        let (atol, rtol) = if what.contains("softmax") {
            (1e-7, 1e-4)
        } else {
            (3e-4, 1e-4)
        };
        for s in cands {
            ctx.set_schedule(s);
            check(&build(), atol, rtol, &format!("{what} under {s:?}"));
        }
    }
    ctx.set_schedule(base);
}

#[test]
fn a_failing_candidate_is_skipped() {
    let dev = private_device();
    let Some(ctx) = dev.gpu() else { return };
    let mut g = Graph::new();
    let x = g.input(DType::F32, Shape::new(&[5, 300])).unwrap();
    let y = g
        .add(
            Op::Reduce {
                op: kiln::ir::ops::ReduceOp::Sum,
                axes: kiln::ir::Axes::from_slice(&[1]),
                keepdim: false,
            },
            &[x],
        )
        .unwrap();
    g.mark_output(y);
    let prog = lower(&g, &FusionOptions::default()).unwrap();
    let k = &prog.calls[0].kernel;
    let good = ctx.schedule().resolve(k);
    // Not a power of two: code generation refuses it.
    let mut bad = good;
    bad.reduce.workgroup = 48;
    let budget = tune::Budget::of(kiln::Autotune::Full).unwrap();
    let t = autotune::tune_kernel(ctx, k, &[good, bad], &good, budget).unwrap();
    assert_eq!(t.schedule, good);
    assert_eq!(t.skipped, 1);
    // The device is still usable.
    check(
        &random(&dev, DType::F32, &[5, 300], -1.0, 1.0, 1)
            .sum(&[1], false)
            .unwrap(),
        1e-4,
        1e-5,
        "after a failed candidate",
    );
}

/// A kernel timed on inputs read from memory (a scrub buffer cleared before each timed
/// dispatch, each in a pass of its own) computes what the interpreter does, and is timed.
#[test]
fn a_kernel_timed_cold_computes_and_is_timed() {
    let dev = private_device();
    let Some(ctx) = dev.gpu() else { return };
    let mut g = Graph::new();
    let x = g.input(DType::F32, Shape::new(&[1031])).unwrap();
    let y = g.add(Op::Unary(kiln::ir::ops::UnaryOp::Exp), &[x]).unwrap();
    g.mark_output(y);
    let prog = lower(&g, &FusionOptions::default()).unwrap();
    let k = &prog.calls[0].kernel;
    let s = ctx.schedule().resolve(k);
    let xh = random(&dev, DType::F32, &[1031], -1.0, 1.0, 9)
        .to_host()
        .unwrap();
    let xb = ctx.upload(&xh).unwrap();
    let out = ctx.alloc(DType::F32, 1031).unwrap();
    let scrub = ctx.alloc(DType::U32, 1 << 20).unwrap();
    let bufs: (&[&wgpu::Buffer], &[&wgpu::Buffer]) = (&[&xb.buffer], &[&out.buffer]);
    let ms =
        kiln::runtime::launch::time_kernel(ctx, k, &s, bufs, 3, true, Some(&scrub.buffer)).unwrap();
    assert!(ms.is_finite() && ms >= 0.0, "{ms}");
    let got = ctx.read(&out, &Shape::new(&[1031])).unwrap();
    let want: Vec<f64> = xh
        .to_f64()
        .iter()
        .map(|v| (*v as f32).exp() as f64)
        .collect();
    assert_near(&got.to_f64(), &want, 1e-6, "timed cold");
}

/// Tuned results are stored with named fields, in a file whose name carries the format's
/// version: a file of another version is never read (the device tunes again) and left alone.
#[test]
fn tuned_results_have_named_fields_and_a_versioned_file() {
    let cache = temp_dir("named");
    let dev = device_with(&cache, Autotune::Full);
    if dev.gpu().is_none() {
        return;
    }
    check_workload(&dev, 1, "first");
    let file = autotune_file(&dev);
    let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
    for field in [
        "reduce.workgroup=",
        "reduce.cache=",
        "matmul.block=",
        "matmul.unroll=",
        "matmul.qgemv_rows=",
        "matmul.qgemv_items=",
        "matmul.qgemv_workgroups=",
    ] {
        assert!(text.contains(field), "{field} not in {text:?}");
    }
    let old = file.with_file_name("autotune.v3");
    std::fs::rename(&file, &old).unwrap();
    let d = device_with(&cache, Autotune::Full);
    check_workload(&d, 2, "with an old file only");
    assert!(
        d.counters().unwrap().kernels_tuned > 0,
        "the old file was read"
    );
    assert!(old.exists() && file.exists());
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn bad_cache_files_are_rebuilt() {
    let cache = temp_dir("corrupt");
    let dev = device_with(&cache, Autotune::Full);
    if dev.gpu().is_none() {
        return;
    }
    check_workload(&dev, 1, "first");
    let file = autotune_file(&dev);
    let good = std::fs::read(&file).unwrap();
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    let damaged: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() / 3].to_vec()),
        ("empty", vec![]),
        ("bit flip", flipped),
        ("garbage", b"not a cache file at all".repeat(20)),
    ];
    for (what, bytes) in damaged {
        std::fs::write(&file, &bytes).unwrap();
        let d = device_with(&cache, Autotune::Full);
        // Removed when found at device opening, not at the next tuning: no warning at every
        // start.
        assert!(!file.exists(), "{what}: the damaged file was left in place");
        check_workload(&d, 3, what);
        assert!(
            d.counters().unwrap().kernels_tuned > 0,
            "{what}: the damaged file was used"
        );
        // ... and rewritten whole: a third device tunes nothing.
        let d2 = device_with(&cache, Autotune::Full);
        check_workload(&d2, 4, what);
        assert_eq!(
            d2.counters().unwrap().kernels_tuned,
            0,
            "{what}: not rebuilt"
        );
    }
    // A pipeline cache file that is garbage is ignored too.
    if let Some(p) = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.ends_with(kiln::runtime::pipelines::PIPELINE_FILE))
    {
        std::fs::write(&p, b"garbage").unwrap();
        check_workload(
            &device_with(&cache, Autotune::Full),
            5,
            "bad pipeline cache",
        );
    }
    let _ = std::fs::remove_dir_all(&cache);
}

/// Run by `two_processes_share_a_cache_dir` in child processes (ignored on its own).
#[test]
#[ignore]
fn child_tunes_into_shared_dir() {
    let Ok(dir) = std::env::var("KILN_TEST_SHARED_CACHE") else {
        return;
    };
    let seed: u64 = std::env::var("KILN_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    for round in 0..3 {
        let dev = device_with(Path::new(&dir), Autotune::Full);
        check_workload(&dev, seed + round, "child");
    }
}

#[test]
fn two_processes_share_a_cache_dir() {
    let cache = temp_dir("shared");
    if device().gpu().is_none() {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..2)
        .map(|i| {
            std::process::Command::new(&exe)
                .args(["--exact", "child_tunes_into_shared_dir", "--ignored"])
                .env("KILN_TEST_SHARED_CACHE", &cache)
                .env("KILN_TEST_SEED", (10 * i + 1).to_string())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a child failed");
    }
    // What they left is one whole file that a new device uses without tuning anything.
    let dev = device_with(&cache, Autotune::Full);
    check_workload(&dev, 7, "after two writers");
    assert_eq!(dev.counters().unwrap().kernels_tuned, 0);
    let leftovers: Vec<_> = std::fs::read_dir(autotune_file(&dev).parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn out_of_memory_is_a_typed_error() {
    let dev = private_device();
    if dev.gpu().is_none() {
        return;
    }
    dev.set_memory_limit(8 << 20);
    let mut held = Vec::new();
    let err = loop {
        let t = Tensor::full_on(&dev, &[1 << 18], 1.5, DType::F32).and_then(|t| t.exp());
        match t.and_then(|t| t.realize().map(|_| t.clone())) {
            Ok(t) => held.push(t),
            Err(e) => break e,
        }
        assert!(held.len() < 64, "the limit was not enforced");
    };
    assert!(matches!(err, Error::OutOfMemory(_)), "{err}");
    assert!(held.len() >= 4, "only {} tensors fit", held.len());
    // Memory comes back when tensors drop; results are still right.
    held.clear();
    let x = random(&dev, DType::F32, &[1 << 18], -1.0, 1.0, 1);
    check(&x.exp().unwrap(), 1e-6, 1e-5, "after running out");
    dev.set_memory_limit(u64::MAX);
}

/// Constants are read from the uniform: graphs that differ only in their constants share one
/// pipeline, and arithmetic on a constant is not folded by the shader compiler
/// (`inf * 0.0` and `NaN * 0.0` stay NaN).
#[test]
fn constants_share_pipelines_and_are_not_folded() {
    let dev = private_device();
    let Some(ctx) = dev.gpu() else { return };
    let x = random(&dev, DType::F32, &[7, 1031], -1.0, 1.0, 11);
    check(
        &x.mul_scalar(1.5).unwrap().add_scalar(0.25).unwrap(),
        0.0,
        0.0,
        "first",
    );
    let compiled = ctx.counters().pipelines_compiled;
    for (a, b) in [(2.0, -3.0), (-0.5, 7.0), (0.0, 1.0)] {
        let y = x.mul_scalar(a).unwrap().add_scalar(b).unwrap();
        check(&y, 0.0, 0.0, &format!("x * {a} + {b}"));
    }
    assert_eq!(
        ctx.counters().pipelines_compiled,
        compiled,
        "a new constant compiled a pipeline"
    );
    let special = Tensor::from_slice_on(
        &dev,
        &[f32::INFINITY, f32::NEG_INFINITY, f32::NAN, -0.0, 2.0],
        &[5],
    )
    .unwrap();
    let got = special.mul_scalar(0.0).unwrap().to_host().unwrap().to_f64();
    assert!(got[..3].iter().all(|v| v.is_nan()), "{got:?}");
    // Signed zeros are implementation-defined on GPUs (docs/OPS.md): compared as values.
    assert_eq!(&got[3..], &[0.0, 0.0]);
}

/// Stored autotune results are used only when code generation would accept them: a damaged
/// or foreign file cannot make a kernel fail to compile.
#[test]
fn invalid_stored_schedules_are_rejected() {
    let mut g = Graph::new();
    let a = g.input(DType::F32, Shape::new(&[64, 32])).unwrap();
    let b = g.input(DType::F32, Shape::new(&[32, 48])).unwrap();
    let y = g.add(Op::Matmul, &[a, b]).unwrap();
    g.mark_output(y);
    let prog = lower(&g, &FusionOptions::default()).unwrap();
    let k = &prog.calls[0].kernel;
    // The GPU schedule's quantized gemv kernel of 16 warps needs 512 invocations a
    // workgroup, which an adapter of 256 lacks (and of 32 warps, for the wide formats,
    // 1024); a kernel that does not run it resolves with none.
    let base = kiln::Schedule::default();
    let mut unresolved = base;
    unresolved.matmul.block = Some(4);
    unresolved.matmul.depth = Some(16);
    unresolved.matmul.tensor_cores = false;
    // Its wide formats' 32 warps need 1024.
    assert!(!limits::valid(k, &unresolved, 512));
    assert!(limits::valid(k, &unresolved, 1024));
    unresolved.matmul.qgemv_warps_wide = 0;
    assert!(!limits::valid(k, &unresolved, 256));
    assert!(limits::valid(k, &unresolved, 512));
    assert_eq!(base.resolve(k).matmul.qgemv_warps, 0);
    assert!(limits::valid(k, &base.resolve(k), 256));
    let with = |block: Option<u32>,
                unroll: u32,
                block_n: Option<u32>,
                qgemv_rows: Option<u32>,
                qgemv_items: u32| TunedFields::Matmul {
        block,
        unroll,
        block_n,
        tensor_cores: false,
        coop_tile: None,
        qgemv_rows,
        qgemv_items,
        qgemv_workgroups: 0,
    };
    let fields = |block, unroll, block_n| with(block, unroll, block_n, None, 1);
    let ok = fields(Some(4), 8, None).apply(k, &base).unwrap();
    assert!(limits::valid(k, &ok, 256));
    assert!(limits::valid(
        k,
        &with(Some(1), 8, None, Some(2), 4).apply(k, &base).unwrap(),
        256
    ));
    for bad in [
        fields(Some(7), 8, None),
        fields(Some(0), 8, None),
        fields(None, 8, None),
        fields(Some(4), 0, None),
        fields(Some(4), 8, Some(5)),
        fields(Some(8), 99, Some(4)),
        // Block 1 with 8 columns per invocation is not a kernel the template has.
        fields(Some(1), 8, Some(8)),
        // Rows a group and items a trip outside the quantized gemv path's sets.
        with(Some(1), 8, None, Some(3), 1),
        with(Some(1), 8, None, Some(2), 3),
        with(Some(1), 8, None, Some(2), 0),
    ] {
        let s = bad.apply(k, &base).unwrap();
        assert!(!limits::valid(k, &s, 256), "{bad:?} -> {s:?}");
    }
    // A stored result cannot turn tensor cores on where the device schedule resolved for the
    // kernel has them off (here an f32 product at f32 precision): it applies as scalar.
    let coop = TunedFields::Matmul {
        block: Some(4),
        unroll: 8,
        block_n: None,
        tensor_cores: true,
        coop_tile: Some(0),
        qgemv_rows: None,
        qgemv_items: 1,
        qgemv_workgroups: 0,
    }
    .apply(k, &base)
    .unwrap();
    assert!(!coop.matmul.tensor_cores && coop.matmul.coop_tile.is_none());
    assert!(limits::valid(k, &coop, 256));
    // Another class's fields do not apply to a matmul.
    let reduce = TunedFields::Reduce {
        workgroup: 64,
        unroll: 4,
        cache: 0,
        serial: 0,
    };
    assert_eq!(reduce.apply(k, &base), None);
}

//! The explicit level: compile once, run many times on device-resident inputs.

mod common;
use common::*;
use kiln::{DType, Program, Submission, Tensor};

#[test]
fn compile_once_run_many() {
    let dev = device();
    let x = Tensor::placeholder_on(&dev, DType::F32, &[7, 33]).unwrap();
    let w = random(&dev, DType::F32, &[33, 5], -1.0, 1.0, 1);
    let y = x.matmul(&w).unwrap().relu().unwrap().softmax(-1).unwrap();
    let prog = Program::compile(&[&x], &[&y]).unwrap();
    for seed in 0..3 {
        let xi = random(&dev, DType::F32, &[7, 33], -1.0, 1.0, 10 + seed);
        let out = prog.run(&[&xi]).unwrap();
        // The same graph built eagerly on this input is the reference.
        let want = xi
            .matmul(&w)
            .unwrap()
            .relu()
            .unwrap()
            .softmax(-1)
            .unwrap()
            .reference()
            .unwrap();
        assert_close(&out[0].to_host().unwrap(), &want, 1e-6, 1e-5, "program run");
        // Outputs stay on the device and feed further work.
        check(
            &out[0].sum(&[-1], false).unwrap(),
            1e-6,
            1e-5,
            "chained after a run",
        );
    }
    if dev.is_gpu() {
        assert!(prog.kernel_count() > 0);
        let xi = random(&dev, DType::F32, &[7, 33], -1.0, 1.0, 99);
        let (out, _ms) = prog.run_timed(&[&xi]).unwrap();
        assert_eq!(out[0].dims(), &[7, 5]);
    }
}

#[test]
fn shared_subexpressions_are_computed_once() {
    let dev = device();
    let x = random(&dev, DType::F32, &[1031], -1.0, 1.0, 1);
    let a = x.exp().unwrap();
    let b = x.exp().unwrap();
    let y = (&a + &b).unwrap();
    let wgsl = kiln::generated_wgsl(&[&y]).unwrap();
    assert_eq!(
        wgsl.len(),
        1,
        "{:?}",
        wgsl.iter().map(|k| &k.0).collect::<Vec<_>>()
    );
    // Once per element: the kernel handles `unroll` elements per invocation.
    assert_eq!(
        wgsl[0].1.matches("exp(").count(),
        dev.gpu()
            .map_or(1, |g| g.schedule().elementwise.unroll as usize),
        "exp computed once per element:\n{}",
        wgsl[0].1
    );
    check(&y, 1e-6, 1e-6, "cse");
}

#[test]
fn async_readback() {
    let dev = device();
    let x = random(&dev, DType::F32, &[1031], -1.0, 1.0, 2);
    let y = x.sin().unwrap();
    let got = pollster::block_on(y.to_vec_async::<f32>()).unwrap();
    assert_eq!(got, y.to_vec::<f32>().unwrap());
}

#[test]
fn threads_share_a_device() {
    let dev = device();
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let dev = dev.clone();
            std::thread::spawn(move || {
                let x = random(&dev, DType::F32, &[257, 9], -1.0, 1.0, t);
                check(&x.softmax(-1).unwrap(), 1e-6, 1e-5, "thread");
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn a_second_realize_of_the_same_structure_compiles_nothing() {
    let dev = private_device();
    let Some(ctx) = dev.gpu() else { return };
    let build = |seed: u64| {
        let x = random(&dev, DType::F32, &[31, 7], -1.0, 1.0, seed);
        x.softmax(-1).unwrap().mul_scalar(2.0).unwrap()
    };
    check(&build(1), 1e-6, 1e-5, "first");
    let before = ctx.counters();
    let y = build(2);
    check(&y, 1e-6, 1e-5, "second");
    let after = ctx.counters();
    assert_eq!(
        after.pipelines_compiled, before.pipelines_compiled,
        "no pipeline compiled"
    );
    assert!(
        after.plan_hits > before.plan_hits,
        "{before:?} -> {after:?}"
    );
    // Another constant is another structure: a new plan.
    let x = random(&dev, DType::F32, &[31, 7], -1.0, 1.0, 3);
    check(
        &x.softmax(-1).unwrap().mul_scalar(3.0).unwrap(),
        1e-6,
        1e-5,
        "third",
    );
    assert!(ctx.counters().plan_misses > after.plan_misses);
    // Other sizes of the same size classes (rows 17..32, columns 5..8; matmul edges 33..64)
    // compile no pipeline: kernels are shape-generic and schedules are chosen per class.
    let graph = |rows: usize, cols: usize, seed: u64| {
        let x = random(&dev, DType::F32, &[rows, cols], -1.0, 1.0, seed);
        let w = random(&dev, DType::F32, &[cols, 40], -1.0, 1.0, seed + 1);
        x.softmax(-1)
            .unwrap()
            .matmul(&w)
            .unwrap()
            .relu()
            .unwrap()
            .sum(&[-1], false)
            .unwrap()
    };
    check(&graph(31, 7, 4), 1e-5, 1e-5, "class 32x8");
    let before = ctx.counters();
    for (rows, cols) in [(17, 5), (32, 7), (20, 6)] {
        check(&graph(rows, cols, 5), 1e-5, 1e-5, &format!("{rows}x{cols}"));
    }
    let after = ctx.counters();
    assert_eq!(
        after.pipelines_compiled, before.pipelines_compiled,
        "{after:?}"
    );
    // Rows whose length divides by 4 are read as vec4s: another structure, compiled once for
    // the class.
    check(&graph(32, 8, 6), 1e-5, 1e-5, "32x8");
    let before = ctx.counters();
    check(&graph(24, 8, 7), 1e-5, 1e-5, "24x8");
    let after = ctx.counters();
    assert_eq!(
        after.pipelines_compiled, before.pipelines_compiled,
        "{after:?}"
    );
}

#[test]
fn memory_plan_shares_dead_buffers() {
    let dev = device();
    if !dev.is_gpu() {
        return;
    }
    // A 40-op chain cut at every op (fusion off): 40 temporaries, at most 2 live at once.
    let mut o = kiln::DeviceOptions::from_env();
    o.autotune = kiln::Autotune::Off;
    o.fusion = false;
    let unfused = kiln::Device::new(&o).unwrap();
    // 1031: scalar kernels; 1000: vec4 kernels (in place too).
    for n in [1031usize, 1000] {
        let x = Tensor::placeholder_on(&unfused, DType::F32, &[n]).unwrap();
        let mut y = x.clone();
        for i in 0..40 {
            y = if i % 2 == 0 {
                y.sin().unwrap()
            } else {
                y.mul_scalar(1.5).unwrap()
            };
        }
        let prog = Program::compile(&[&x], &[&y]).unwrap();
        let mem = prog.memory().unwrap();
        // Buffers are whole 16-byte vectors.
        let bytes = (n as u64 * 4).next_multiple_of(16);
        assert_eq!(mem.naive_bytes, 40 * bytes);
        // In place: every launch after the first writes over its input, and the result has a
        // buffer of its own: 2 buffers.
        assert_eq!(mem.planned_bytes(), 2 * bytes, "{mem:?}");
        assert_eq!(mem.inplace.iter().flatten().count(), 38, "{mem:?}");
        assert!(mem.live_peak_bytes <= mem.planned_bytes());
        let xi = random(&unfused, DType::F32, &[n], -1.0, 1.0, 5);
        let out = prog.run(&[&xi]).unwrap();
        let want = prog.reference(&[&xi]).unwrap();
        assert_close(
            &out[0].to_host().unwrap(),
            &want[0],
            1e-5,
            1e-5,
            "shared buffers",
        );
    }
    // A value read twice is not overwritten by its first reader: t feeds sin(t) and the sum.
    let x = Tensor::placeholder_on(&unfused, DType::F32, &[7, 33]).unwrap();
    let t = x.mul_scalar(1.5).unwrap();
    let a = t.sin().unwrap();
    let y = a.add(&t).unwrap().exp().unwrap();
    let prog = Program::compile(&[&x], &[&y]).unwrap();
    let mem = prog.memory().unwrap();
    assert!(mem.inplace.iter().flatten().count() >= 1, "{mem:?}");
    let xi = random(&unfused, DType::F32, &[7, 33], -1.0, 1.0, 6);
    let out = prog.run(&[&xi]).unwrap();
    let want = prog.reference(&[&xi]).unwrap();
    assert_close(
        &out[0].to_host().unwrap(),
        &want[0],
        1e-5,
        1e-5,
        "in place, two readers",
    );
}

#[test]
fn transformer_layer_memory() {
    let dev = device();
    if !dev.is_gpu() {
        return;
    }
    let w = kiln_bench::workloads::build(
        &dev,
        "transformer_layer",
        kiln_bench::workloads::Size::Small,
    )
    .unwrap()
    .unwrap();
    let prog = w.compile().unwrap();
    let m = prog.memory().unwrap();
    eprintln!(
        "transformer layer b1 s64: temporaries {} bytes unplanned, {} planned, live peak {}",
        m.naive_bytes,
        m.planned_bytes(),
        m.live_peak_bytes
    );
    assert!(m.planned_bytes() < m.naive_bytes);
    let out = prog.run(&w.input_refs()).unwrap();
    let want = prog.reference(&w.input_refs()).unwrap();
    assert_close(
        &out[0].to_host().unwrap(),
        &want[0],
        1e-4,
        1e-4,
        "transformer with a memory plan",
    );
}

#[test]
fn profile_times_every_kernel() {
    let dev = device();
    let x = Tensor::placeholder_on(&dev, DType::F32, &[64, 33]).unwrap();
    let w = random(&dev, DType::F32, &[33, 16], -1.0, 1.0, 1);
    let y = x
        .matmul(&w)
        .unwrap()
        .softmax(-1)
        .unwrap()
        .sum(&[0], false)
        .unwrap();
    let prog = Program::compile(&[&x], &[&y]).unwrap();
    let xi = random(&dev, DType::F32, &[64, 33], -1.0, 1.0, 2);
    let profiled = prog.profile(&[&xi]).unwrap();
    // The async form (the browser's) times the same kernels.
    let profiled_async = pollster::block_on(prog.profile_async(&[&xi])).unwrap();
    match (profiled, profiled_async) {
        (Some(ks), Some(ka)) => {
            assert_eq!(ks.len(), prog.dispatch_count(), "{ks:?}");
            assert!(ks
                .iter()
                .all(|(n, ms)| !n.is_empty() && ms.is_finite() && *ms >= 0.0));
            let names = |k: &[(String, f64)]| k.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
            assert_eq!(names(&ks), names(&ka));
            assert!(ka.iter().all(|(_, ms)| ms.is_finite() && *ms >= 0.0));
        }
        (None, None) => eprintln!("this adapter cannot write timestamps inside passes"),
        (a, b) => panic!("profile {a:?}, profile_async {b:?}"),
    }
}

/// Runs made inside `Device::batch` are submitted together, in order: results equal the
/// unbatched ones, reads inside the batch see every earlier run, outputs feed later runs and
/// their buffers are reused within the batch, and batches nest.
#[test]
fn batched_runs_keep_their_order() {
    let dev = private_device();
    let x = Tensor::placeholder_on(&dev, DType::F32, &[5, 1031]).unwrap();
    let y = x.exp().unwrap().sum(&[-1], true).unwrap().mul(&x).unwrap();
    let prog = Program::compile(&[&x], &[&y]).unwrap();
    let inputs: Vec<Tensor> = (0..6)
        .map(|i| random(&dev, DType::F32, &[5, 1031], -1.0, 1.0, 40 + i))
        .collect();
    let want: Vec<_> = inputs
        .iter()
        .map(|xi| prog.run(&[xi]).unwrap()[0].to_host().unwrap())
        .collect();
    let before = dev.counters();
    let got = dev
        .batch(|| {
            let mut outs = vec![];
            for (i, xi) in inputs.iter().enumerate() {
                // Each run's output is dropped after the next run reads it, so the pool
                // hands its buffer to a later run of the same batch.
                let o = prog.run(&[xi])?.remove(0);
                let chained = prog.run(&[&o])?.remove(0);
                drop(o);
                outs.push(chained);
                if i == 2 {
                    // A read inside the batch sees every run before it.
                    let h = outs[2].to_host()?;
                    let w = prog.run(&[&prog.run(&[&inputs[2]])?[0]])?[0].to_host()?;
                    assert_close(&h, &w, 0.0, 0.0, "read inside a batch");
                }
            }
            // A nested batch joins the outer one.
            let inner = dev.batch(|| prog.run(&[&inputs[0]]))?;
            outs.push(inner.into_iter().next().unwrap());
            Ok(outs)
        })
        .unwrap();
    let after = dev.counters();
    for (i, xi) in inputs.iter().enumerate() {
        let twice = prog.run(&[&prog.run(&[xi]).unwrap()[0]]).unwrap()[0]
            .to_host()
            .unwrap();
        assert_close(
            &got[i].to_host().unwrap(),
            &twice,
            0.0,
            0.0,
            "batched chain",
        );
    }
    assert_close(
        &got[6].to_host().unwrap(),
        &want[0],
        0.0,
        0.0,
        "nested batch",
    );
    if let (Some(b), Some(a)) = (before, after) {
        // 15 runs (2 inside the check at i == 2) in chunks of 1, 2, 4, ... dispatches,
        // restarted by the two reads (which submit copies of their own).
        let dispatches = a.dispatches - b.dispatches;
        let chunks = |n: u64| (0..).find(|&c: &u64| (1u64 << c) > n).unwrap();
        assert!(dispatches >= 15 * prog.kernel_count() as u64);
        assert!(
            a.submits - b.submits <= 3 * chunks(dispatches) + 2,
            "{} submissions for {dispatches} batched dispatches",
            a.submits - b.submits
        );
        // Unbatched, each of the 15 runs and each of the two reads would submit.
        assert!(
            a.submits - b.submits < 15,
            "{} submissions",
            a.submits - b.submits
        );
    }
}

/// A long batch is submitted in chunks of at most `MAX_BATCH_DISPATCHES` dispatches, and an
/// error or a panic inside a batch still closes it.
#[test]
fn long_batches_and_errors() {
    let dev = private_device();
    let x = Tensor::placeholder_on(&dev, DType::F32, &[3, 7]).unwrap();
    let y = x.add_scalar(1.0).unwrap();
    let prog = Program::compile(&[&x], &[&y]).unwrap();
    let x0 = random(&dev, DType::F32, &[3, 7], -1.0, 1.0, 3);
    let n = 10 * kiln::runtime::batch::MAX_BATCH_DISPATCHES + 44;
    let before = dev.counters();
    let out = dev
        .batch(|| {
            let mut v = x0.clone();
            for _ in 0..n {
                v = prog.run(&[&v])?.remove(0);
            }
            Ok(v)
        })
        .unwrap();
    if let (Some(b), Some(a)) = (before, dev.counters()) {
        // Chunks of 1, 2, 4, ... up to the most a submission carries, then that.
        let most = kiln::runtime::batch::MAX_BATCH_DISPATCHES as u64;
        let submits = a.submits - b.submits;
        assert!(
            submits <= n as u64 / most + most.ilog2() as u64 + 2,
            "{submits} submissions for {n} runs"
        );
        assert!(
            submits > n as u64 / most,
            "{submits} submissions for {n} runs"
        );
    }
    let want = x0.add_scalar(n as f64).unwrap();
    check(&want, 1e-6, 1e-6, "reference of the long chain");
    assert_close(
        &out.to_host().unwrap(),
        &want.to_host().unwrap(),
        1e-4,
        1e-6,
        "a batch longer than one submission",
    );
    let bad = random(&dev, DType::F32, &[2, 7], -1.0, 1.0, 4);
    let err = dev
        .batch(|| {
            prog.run(&[&x0])?;
            prog.run(&[&bad])
        })
        .unwrap_err();
    assert!(matches!(err, kiln::Error::InputMismatch { .. }), "{err}");
    // The failed batch is closed: a run after it is submitted at once.
    let before = dev.counters();
    let again = prog.run(&[&x0]).unwrap();
    if let (Some(b), Some(a)) = (before, dev.counters()) {
        assert_eq!(a.submits - b.submits, 1, "the batch stayed open");
    }
    check(
        &again[0].sub(&x0).unwrap(),
        1e-6,
        1e-6,
        "after a failed batch",
    );
    // So is one whose closure panicked.
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = dev.batch(|| -> kiln::Result<()> {
            prog.run(&[&x0])?;
            panic!("inside a batch")
        });
    }));
    assert!(caught.is_err());
    let before = dev.counters();
    prog.run(&[&x0]).unwrap();
    if let (Some(b), Some(a)) = (before, dev.counters()) {
        assert_eq!(
            a.submits - b.submits,
            1,
            "the batch stayed open after a panic"
        );
    }
}

/// Lazy tensors realized inside a batch run in the batch too, in order, with the same
/// results as outside it; a chain that feeds each realized tensor into the next works.
#[test]
fn realizations_inside_a_batch() {
    let dev = private_device();
    let x = random(&dev, DType::F32, &[9, 1031], -1.0, 1.0, 5);
    let step = |t: &Tensor| -> kiln::Result<Tensor> {
        let y = t.softmax(-1)?.mul_scalar(3.0)?.add(t)?;
        y.realize()?;
        Ok(y)
    };
    let mut want = x.clone();
    for _ in 0..5 {
        want = step(&want).unwrap();
    }
    let want = want.to_host().unwrap();
    let before = dev.counters();
    let got = dev
        .batch(|| {
            let mut v = x.clone();
            for _ in 0..5 {
                v = step(&v)?;
            }
            Ok(v)
        })
        .unwrap();
    let after = dev.counters();
    assert_close(
        &got.to_host().unwrap(),
        &want,
        0.0,
        0.0,
        "realized in a batch",
    );
    if let (Some(b), Some(a)) = (before, after) {
        assert!(a.dispatches - b.dispatches >= 5);
        assert!(
            a.submits - b.submits < a.dispatches - b.dispatches,
            "{} submissions for {} dispatches",
            a.submits - b.submits,
            a.dispatches - b.dispatches
        );
    }
}

/// By default runs are gathered (`Submission::Gathered`): never more submissions than
/// dispatches, a run made after a read (the GPU idle, the chunk back to one) is submitted at
/// once, results are those of a submission a run, and `Device::flush` with nothing gathered
/// submits nothing. Under `Submission::PerRun` every run is one submission.
#[test]
fn submission_policies() {
    let dev = private_device();
    let x = Tensor::placeholder_on(&dev, DType::F32, &[3, 1031]).unwrap();
    let y = x.softmax(-1).unwrap().add(&x).unwrap();
    let prog = Program::compile(&[&x], &[&y]).unwrap();
    let x0 = random(&dev, DType::F32, &[3, 1031], -1.0, 1.0, 8);
    let chain = |n: usize| -> (Tensor, Option<(u64, u64)>) {
        dev.synchronize().unwrap();
        let b = dev.counters();
        let mut v = x0.clone();
        for _ in 0..n {
            v = prog.run(&[&v]).unwrap().remove(0);
        }
        let a = dev.counters();
        let d = b
            .zip(a)
            .map(|(b, a)| (a.submits - b.submits, a.dispatches - b.dispatches));
        (v, d)
    };
    dev.set_submission(Submission::PerRun);
    let (want, per_run) = chain(40);
    if let Some((submits, _)) = per_run {
        assert_eq!(submits, 40, "one submission a run");
    }
    dev.set_submission(Submission::Gathered);
    let (got, gathered) = chain(40);
    if let Some((submits, dispatches)) = gathered {
        assert!(
            submits <= dispatches,
            "{submits} submissions, {dispatches} dispatches"
        );
    }
    assert_close(
        &got.to_host().unwrap(),
        &want.to_host().unwrap(),
        0.0,
        0.0,
        "gathered against a submission a run",
    );
    // After the read the GPU is idle and the chunk is one dispatch: a lone run goes at once.
    let (_, lone) = chain(1);
    if let Some((submits, _)) = lone {
        assert_eq!(submits, 1, "a lone run waited");
    }
    dev.flush();
    let b = dev.counters();
    dev.flush();
    if let (Some(b), Some(a)) = (b, dev.counters()) {
        assert_eq!(a.submits, b.submits, "an empty flush submitted");
    }
    // Inside a scope (no idle submissions): the first run goes at once (a chunk of one), the
    // second waits for a chunk of two, and a flush sends it, in one submission.
    dev.batch(|| {
        let b = dev.counters();
        let v = prog.run(&[&x0])?.remove(0);
        let one = dev.counters();
        prog.run(&[&v])?;
        let two = dev.counters();
        dev.flush();
        let flushed = dev.counters();
        if let (Some(b), Some(one), Some(two), Some(f)) = (b, one, two, flushed) {
            assert_eq!(one.submits - b.submits, 1, "the first run waited");
            assert_eq!(two.submits, one.submits, "the second run did not wait");
            assert_eq!(f.submits - two.submits, 1, "the flush");
        }
        Ok(())
    })
    .unwrap();
}

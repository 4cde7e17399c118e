//! Bind groups kept across runs (`kiln::runtime::bind_groups`): a program run again on the
//! same buffers makes none, a run on other buffers never reuses one made for different
//! buffers, the pool letting buffers go forgets them, and they stay bounded.

mod common;
use common::*;
use kiln::runtime::bind_groups::CAPACITY;
use kiln::{Counters, DType, Device, Program, Tensor};

fn counters(dev: &Device) -> Counters {
    dev.counters().unwrap_or_default()
}

/// A program of several kernels over two inputs (a product, a row softmax, a sum over the
/// rows added back, so that fusion keeps more than one kernel).
fn program(dev: &Device) -> Program {
    let x = Tensor::placeholder_on(dev, DType::F32, &[M, K]).unwrap();
    let w = Tensor::placeholder_on(dev, DType::F32, &[K, N]).unwrap();
    let y = reference_graph(&x, &w);
    Program::compile(&[&x, &w], &[&y]).unwrap()
}

const M: usize = 7;
const K: usize = 33;
const N: usize = 31;

fn reference_graph(x: &Tensor, w: &Tensor) -> Tensor {
    let s = x.matmul(w).unwrap().softmax(-1).unwrap();
    let t = s.sum(&[0], true).unwrap();
    s.add(&t).unwrap().mul(&s).unwrap()
}

fn run_checked(prog: &Program, x: &Tensor, w: &Tensor, what: &str) -> Tensor {
    let out = prog.run(&[x, w]).unwrap().remove(0);
    let want = reference_graph(x, w).reference().unwrap();
    assert_close(&out.to_host().unwrap(), &want, 1e-6, 1e-5, what);
    out
}

#[test]
fn a_run_again_on_the_same_buffers_makes_no_bind_groups() {
    let dev = private_device();
    let prog = program(&dev);
    let x = random(&dev, DType::F32, &[M, K], -1.0, 1.0, 1);
    let w = random(&dev, DType::F32, &[K, N], -1.0, 1.0, 2);
    // The output of each run is held while the next runs, and the pool hands buffers back
    // last in, first out, so the first runs bind their temporaries in changing pairings;
    // within a few runs the loop settles into a cycle of buffers it has bound before.
    let mut out = run_checked(&prog, &x, &w, "run 0");
    for i in 1..8 {
        out = run_checked(&prog, &x, &w, &format!("run {i}"));
    }
    let before = counters(&dev);
    for i in 8..12 {
        out = run_checked(&prog, &x, &w, &format!("run {i}"));
    }
    drop(out);
    if dev.is_gpu() {
        let c = counters(&dev);
        assert!(prog.kernel_count() > 1, "the test wants several kernels");
        assert_eq!(
            c.bind_groups_made, before.bind_groups_made,
            "runs on the same buffers made bind groups"
        );
        assert_eq!(
            c.bind_group_hits - before.bind_group_hits,
            c.dispatches - before.dispatches,
            "every launch found its bind group"
        );
    }
}

#[test]
fn runs_on_other_buffers_bind_their_own() {
    let dev = private_device();
    let prog = program(&dev);
    let xs: Vec<Tensor> = (0..3)
        .map(|s| random(&dev, DType::F32, &[M, K], -1.0, 1.0, 10 + s))
        .collect();
    let ws: Vec<Tensor> = (0..2)
        .map(|s| random(&dev, DType::F32, &[K, N], -1.0, 1.0, 20 + s))
        .collect();
    // Every pairing, twice over, in an order where each run's buffers differ from the last
    // run's in one input at least; a kept bind group of another pairing would give the other
    // pairing's result.
    for round in 0..2 {
        for (i, x) in xs.iter().enumerate() {
            for (j, w) in ws.iter().enumerate() {
                run_checked(&prog, x, w, &format!("round {round}, x {i}, w {j}"));
            }
        }
    }
    // The same tensor in both places of a product where shapes allow it: `x @ x^T`-like
    // programs bind one buffer twice.
    let a = Tensor::placeholder_on(&dev, DType::F32, &[9, 9]).unwrap();
    let b = Tensor::placeholder_on(&dev, DType::F32, &[9, 9]).unwrap();
    let y = a.matmul(&b).unwrap().relu().unwrap();
    let sq = Program::compile(&[&a, &b], &[&y]).unwrap();
    let p = random(&dev, DType::F32, &[9, 9], -1.0, 1.0, 30);
    let q = random(&dev, DType::F32, &[9, 9], -1.0, 1.0, 31);
    for (l, r, what) in [
        (&p, &q, "p q"),
        (&p, &p, "p p"),
        (&q, &p, "q p"),
        (&p, &q, "p q again"),
    ] {
        let got = sq.run(&[l, r]).unwrap().remove(0);
        let want = l.matmul(r).unwrap().relu().unwrap().reference().unwrap();
        assert_close(&got.to_host().unwrap(), &want, 1e-6, 1e-5, what);
    }
}

#[test]
fn the_pool_letting_buffers_go_forgets_them() {
    let dev = private_device();
    let prog = program(&dev);
    let x = random(&dev, DType::F32, &[M, K], -1.0, 1.0, 3);
    let w = random(&dev, DType::F32, &[K, N], -1.0, 1.0, 4);
    for i in 0..3 {
        run_checked(&prog, &x, &w, &format!("run {i}"));
    }
    let Some(gpu) = dev.gpu() else { return };
    assert!(counters(&dev).bind_groups_kept > 0);
    // A pool that may hold a byte lets every buffer given back go (over its cap) as the
    // run's temporaries return, and each time forgets the kept bind groups.
    gpu.set_pool_limit(1);
    for i in 3..5 {
        run_checked(&prog, &x, &w, &format!("run {i}, a pool of a byte"));
        assert_eq!(counters(&dev).bind_groups_kept, 0, "run {i}");
    }
    gpu.set_pool_limit(u64::MAX);
    for i in 5..7 {
        run_checked(&prog, &x, &w, &format!("run {i}"));
    }
    assert!(counters(&dev).bind_groups_kept > 0);
    // Turning reuse off frees every pooled buffer: a kept bind group would hold one alive.
    gpu.set_pool_limit(0);
    assert_eq!(counters(&dev).bind_groups_kept, 0);
    for i in 7..9 {
        run_checked(&prog, &x, &w, &format!("run {i}, no pool"));
    }
}

#[test]
fn kept_bind_groups_stay_bounded() {
    let dev = private_device();
    if !dev.is_gpu() {
        return;
    }
    let x = Tensor::placeholder_on(&dev, DType::F32, &[3]).unwrap();
    let y = x.exp().unwrap().add_scalar(1.0).unwrap();
    let prog = Program::compile(&[&x], &[&y]).unwrap();
    // Every run on an input of its own, all held, so that no two runs bind the same buffers.
    let inputs: Vec<Tensor> = (0..CAPACITY as u64 + 300)
        .map(|s| random(&dev, DType::F32, &[3], -1.0, 1.0, s))
        .collect();
    let mut outs = Vec::with_capacity(inputs.len());
    let mut most = 0;
    for x in &inputs {
        outs.push(prog.run(&[x]).unwrap().remove(0));
        let kept = counters(&dev).bind_groups_kept;
        assert!(kept <= CAPACITY as u64, "{kept} kept");
        most = most.max(kept);
    }
    let c = counters(&dev);
    assert!(c.bind_groups_made >= inputs.len() as u64);
    // They were kept up to the bound, and the oldest generation went past it.
    assert!(most >= CAPACITY as u64 - 1, "at most {most} kept");
    assert!(
        c.bind_groups_kept < most,
        "nothing let go: {}",
        c.bind_groups_kept
    );
    for (i, (x, o)) in inputs.iter().zip(&outs).enumerate().step_by(97) {
        let want = x
            .exp()
            .unwrap()
            .add_scalar(1.0)
            .unwrap()
            .reference()
            .unwrap();
        assert_close(
            &o.to_host().unwrap(),
            &want,
            1e-6,
            1e-5,
            &format!("run {i}"),
        );
    }
}

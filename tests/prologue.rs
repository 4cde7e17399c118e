//! Operand prologues: a matrix-vector product computes its vector where it reads it (an
//! elementwise expression of what it loads: an activation, a product of two vectors, a norm's
//! scaling) instead of reading it from a kernel of its own. Checked against the interpreter
//! at odd sizes, with broadcasts, strided views, gathers, batches, quantized weights on each
//! gemv path, and more inputs than binding slots; and the plans: one kernel where there were
//! two, none for a matrix.
//!
//! Tolerances: those of the product (`mm_tol`: 1e-6 of `k` absolute, 1e-5 relative, f32). The
//! prologue's own operations are those of the elementwise kernel it replaces, so on a
//! quantized gemv path the product agrees with the same path reading the same vector from
//! memory to the product's tolerance; against the interpreter, the quantized products take
//! 40 times the absolute term, as `tests/quant.rs` does for K-quants.

mod common;
use common::*;
use kiln::{BlockFormat, DType, Device, DeviceOptions, Tensor};

fn mm_tol(k: usize) -> (f32, f32) {
    (1e-6 * k as f32, 1e-5)
}

/// The plan's kernel count, and whether one of its kernels computes its product's A.
fn plan_of(t: &Tensor) -> (usize, bool) {
    let plan = t.explain().unwrap();
    let prologue = plan.kernels.iter().any(|k| k.kind.contains("prologue"));
    (plan.kernels.len(), prologue)
}

/// A device of its own with the quantized gemv path on and the vector in `f32` or 8-bit
/// integers.
fn qgemv_device(activations: kiln::GemvActivations) -> Device {
    device_with_qgemv_path(&DeviceOptions {
        autotune: kiln::Autotune::Off,
        cache_dir: None,
        gemv_activations: activations,
        ..DeviceOptions::from_env()
    })
}

#[test]
fn vector_products_compute_their_operand_where_they_read_it() {
    let dev = device();
    for (i, &k) in SIZES.iter().enumerate() {
        for (j, n) in [1, 5, 33].into_iter().enumerate() {
            let seed = 10 * (i * 3 + j) as u64;
            let w = random(&dev, DType::F32, &[k, n], -1.0, 1.0, seed);
            let g = random(&dev, DType::F32, &[1, k], -2.0, 2.0, seed + 1);
            let u = random(&dev, DType::F32, &[1, k], -1.0, 1.0, seed + 2);
            let y = g.silu().unwrap().mul(&u).unwrap().matmul(&w).unwrap();
            let what = format!("silu(g) * u @ w, k {k}, n {n}");
            assert_eq!(plan_of(&y), (1, true), "{what}");
            let (at, rt) = mm_tol(k);
            check(&y, at, rt, &what);
            // With an epilogue reading another operand at the output's coordinates.
            let b = random(&dev, DType::F32, &[1, n], -1.0, 1.0, seed + 3);
            let z = g.exp().unwrap().matmul(&w).unwrap().add(&b).unwrap();
            assert_eq!(plan_of(&z), (1, true), "{what} + b");
            check(&z, at * 8.0, rt, &format!("exp(g) @ w + b, k {k}, n {n}"));
            // A matrix's tiles would recompute it: stored by a kernel of its own.
            let gm = random(&dev, DType::F32, &[3, k], -2.0, 2.0, seed + 4);
            let ym = gm.silu().unwrap().matmul(&w).unwrap();
            assert_eq!(plan_of(&ym), (2, false), "a matrix, k {k}, n {n}");
            check(&ym, at, rt, &format!("silu(m) @ w, k {k}, n {n}"));
        }
    }
}

#[test]
fn prologues_read_broadcasts_views_gathers_and_batches() {
    let dev = device();
    let k = 1031;
    let (at, rt) = mm_tol(k);
    let w = random(&dev, DType::F32, &[k, 7], -1.0, 1.0, 1);
    // Batches of vectors, and a scale of `k` values broadcast over them.
    let x = random(&dev, DType::F32, &[3, 1, k], -1.0, 1.0, 2);
    let s = random(&dev, DType::F32, &[k], 0.5, 1.5, 3);
    let wb = random(&dev, DType::F32, &[3, k, 7], -1.0, 1.0, 4);
    let y = x.mul(&s).unwrap().gelu().unwrap().matmul(&wb).unwrap();
    assert_eq!(plan_of(&y), (1, true), "batched");
    check(&y, at, rt, "gelu(x * s) @ w, 3 batches");
    // One vector broadcast over the batches (stride 0 along them).
    let x1 = random(&dev, DType::F32, &[1, 1, k], -1.0, 1.0, 11);
    let y = x1
        .expand(&[3, 1, k])
        .unwrap()
        .mul(&x)
        .unwrap()
        .sin()
        .unwrap()
        .matmul(&wb)
        .unwrap();
    assert_eq!(plan_of(&y), (1, true), "broadcast batch");
    check(&y, at, rt, "sin(x1 * x) @ w, x1 broadcast over 3 batches");
    // A padded view (its mask read in the prologue): `k - 4` values and four zeros.
    let xp = random(&dev, DType::F32, &[1, k - 4], -1.0, 1.0, 12);
    let y = xp
        .pad(&[(0, 0), (1, 3)], 0.0)
        .unwrap()
        .add_scalar(0.5)
        .unwrap()
        .matmul(&w)
        .unwrap();
    assert_eq!(plan_of(&y), (1, true), "padded");
    check(&y, at, rt, "(pad(x) + 0.5) @ w");
    // The same vector read by the prologue (over `k`) and the epilogue (over `n`), `k = n`.
    let sq = random(&dev, DType::F32, &[k, k], -1.0, 1.0, 13);
    let xs = random(&dev, DType::F32, &[1, k], -1.0, 1.0, 14);
    let y = xs.silu().unwrap().matmul(&sq).unwrap().add(&xs).unwrap();
    assert_eq!(plan_of(&y), (1, true), "k = n");
    check(&y, at, rt, "silu(x) @ w + x, w square");
    // f16 vectors and weights (computed in f32, stored in 16 bits or widened).
    let xh = random(&dev, DType::F16, &[1, k], -1.0, 1.0, 15);
    let wh = random(&dev, DType::F16, &[k, 7], -1.0, 1.0, 16);
    let y = xh.rms_norm(None, 1e-5).unwrap().matmul(&wh).unwrap();
    assert_eq!(plan_of(&y), (1, true), "f16");
    check(&y, 2e-2, 1e-2, "rms_norm(x) @ w, f16");
    // A strided view of an input (every other column, transposed into the vector).
    let wide = random(&dev, DType::F32, &[k, 2], -1.0, 1.0, 5);
    let xs = wide.narrow(1, 1, 1).unwrap().transpose(0, 1).unwrap();
    let y = xs.tanh().unwrap().matmul(&w).unwrap();
    assert_eq!(plan_of(&y), (1, true), "strided");
    check(&y, at, rt, "tanh(strided x) @ w");
    // A gather at each element's partner (RoPE's rotation) and two tables.
    let x = random(&dev, DType::F32, &[1, k - 1], -1.0, 1.0, 6);
    let partner: Vec<i32> = (0..(k - 1) as i32).map(|i| i ^ 1).collect();
    let idx = Tensor::from_slice_on(&dev, &partner, &[1, k - 1]).unwrap();
    let (c, sn) = (
        random(&dev, DType::F32, &[1, k - 1], -1.0, 1.0, 7),
        random(&dev, DType::F32, &[1, k - 1], -1.0, 1.0, 8),
    );
    let rot = x
        .mul(&c)
        .unwrap()
        .add(&x.gather(-1, &idx).unwrap().mul(&sn).unwrap())
        .unwrap();
    let w2 = random(&dev, DType::F32, &[k - 1, 5], -1.0, 1.0, 9);
    let y = rot.matmul(&w2).unwrap();
    assert_eq!(plan_of(&y), (1, true), "gather");
    check(&y, at, rt, "x * c + x[partner] * s @ w");
}

#[test]
fn norms_and_softmaxes_are_folded_before_the_product() {
    let dev = device();
    for (i, &k) in SIZES.iter().enumerate() {
        let seed = 40 + 10 * i as u64;
        let (at, rt) = mm_tol(k);
        let w = random(&dev, DType::F32, &[k, 7], -1.0, 1.0, seed);
        let g = random(&dev, DType::F32, &[k], 0.5, 1.5, seed + 1);
        let x = random(&dev, DType::F32, &[1, k], -2.0, 2.0, seed + 2);
        // A row of 1 has no broadcast to fold: kernels of their own store the vector.
        let folded = |y: &Tensor| {
            let (kernels, prologue) = plan_of(y);
            prologue == (k > 1) && (k == 1 || kernels == 1)
        };
        let cases = [
            ("rms_norm", x.rms_norm(Some(&g), 1e-5).unwrap()),
            (
                "layer_norm",
                x.layer_norm(Some(&g), Some(&g), 1e-5).unwrap(),
            ),
            ("softmax", x.softmax(-1).unwrap()),
        ];
        for (name, a) in cases {
            let y = a.matmul(&w).unwrap();
            let what = format!("{name}(x) @ w, k {k}");
            assert!(folded(&y), "{what}: {}", y.explain().unwrap());
            check(&y, at, rt, &what);
        }
        // Batches of vectors, each row's stages its own.
        let xb = random(&dev, DType::F32, &[3, 1, k], -2.0, 2.0, seed + 3);
        let wb = random(&dev, DType::F32, &[3, k, 5], -1.0, 1.0, seed + 4);
        let y = xb.rms_norm(Some(&g), 1e-5).unwrap().matmul(&wb).unwrap();
        assert!(folded(&y), "batched rms_norm, k {k}");
        check(&y, at, rt, &format!("batched rms_norm(x) @ w, k {k}"));
        // A matrix: the row kernel, then the product.
        let xm = random(&dev, DType::F32, &[3, k], -2.0, 2.0, seed + 5);
        let y = xm.rms_norm(Some(&g), 1e-5).unwrap().matmul(&w).unwrap();
        let (kernels, prologue) = plan_of(&y);
        assert!(!prologue && (k == 1 || kernels == 2), "a matrix, k {k}");
        check(&y, at, rt, &format!("rms_norm(m) @ w, k {k}"));
    }
}

/// A norm whose statistic is also read elsewhere (a graph output): the row kernel computes
/// the vector and stores the statistic, as without prologues, instead of a prologue reading
/// the statistic and its reciprocal root from kernels of their own.
#[test]
fn a_statistic_read_elsewhere_stays_in_the_row_kernel() {
    let dev = device();
    let k = 1031;
    let x = random(&dev, DType::F32, &[1, k], -1.0, 1.0, 30);
    let w = random(&dev, DType::F32, &[k, 7], -1.0, 1.0, 31);
    let r = x.mul(&x).unwrap().mean(&[-1], true).unwrap();
    let a = x
        .mul(&r.add_scalar(1e-5).unwrap().rsqrt().unwrap())
        .unwrap();
    let y = a.matmul(&w).unwrap();
    let stat = r.log().unwrap();
    let plan = kiln::Plan::of(&[&y, &stat]).unwrap();
    assert_eq!(plan.kernels.len(), 3, "{plan}");
    assert!(
        plan.kernels.iter().all(|k| !k.kind.contains("prologue")),
        "{plan}"
    );
    let (at, rt) = mm_tol(k);
    check(&y, at, rt, "x * rsqrt(mean(x^2)) @ w");
    check(&stat, 1e-6, 1e-5, "log(mean(x^2))");
}

#[test]
fn prologues_stay_within_the_binding_limit() {
    let dev = device();
    let max = dev.fusion_options().max_storage_buffers;
    let k = 257;
    // More vectors summed than a kernel may bind.
    let xs: Vec<Tensor> = (0..max as u64 + 4)
        .map(|i| random(&dev, DType::F32, &[1, k], -1.0, 1.0, 20 + i))
        .collect();
    let mut a = xs[0].clone();
    for x in &xs[1..] {
        a = a.add(x).unwrap().sin().unwrap();
    }
    let w = random(&dev, DType::F32, &[k, 9], -1.0, 1.0, 19);
    let y = a.matmul(&w).unwrap();
    let plan = y.explain().unwrap();
    for kern in &plan.kernels {
        let binds = kern.wgsl.matches("var<storage").count();
        assert!(binds <= max, "{binds} bindings > {max}");
    }
    assert!(
        plan_of(&y).1,
        "the last inputs are still the product's prologue"
    );
    let (at, rt) = mm_tol(k);
    check(&y, at, rt, "many vectors summed @ w");
}

#[test]
fn quantized_products_compute_their_vector_on_each_gemv_path() {
    const FORMATS: [BlockFormat; 4] = [
        BlockFormat::Q8_0,
        BlockFormat::Q4_0,
        BlockFormat::Q4K,
        BlockFormat::Q6K,
    ];
    // Each path: the `f32` vector's, the 8-bit one's in the block-1 template and in its
    // own kernel (where the adapter has subgroups; its prologue folds over 512 invocations).
    let paths = [
        (kiln::GemvActivations::F32, 0),
        (kiln::GemvActivations::Int8, 0),
        (kiln::GemvActivations::Int8, 16),
    ];
    for (act, warps) in paths {
        let dev = qgemv_device(act);
        if let Some(g) = dev.gpu() {
            let mut s = g.schedule();
            // Every format at `warps` (Q6_K and Q8_0 too, whose own default is 32).
            s.matmul.qgemv_warps = warps;
            s.matmul.qgemv_warps_wide = warps;
            s.matmul.gemv_subgroups |= warps > 0;
            g.set_schedule(s);
        }
        // The kernel of its own runs where the device kept subgroups.
        let own = warps > 0
            && dev
                .gpu()
                .is_some_and(|g| g.schedule().matmul.gemv_subgroups);
        for (i, f) in FORMATS.into_iter().enumerate() {
            let bv = f.block_values();
            // One block; batches of vectors, a weight each; past one chunk of the staged
            // vector (4224 or 4352 values).
            for (batch, blocks) in [(1, 1), (3, 2), (1, 4200usize.div_ceil(bv))] {
                let k = blocks * bv;
                let seed = 100 * i as u64 + blocks as u64;
                let w = random(&dev, DType::Quant(f), &[batch, 1031, k], 0.0, 0.0, seed);
                let g = random(&dev, DType::F32, &[batch, 1, k], -2.0, 2.0, seed + 1);
                let u = random(&dev, DType::F32, &[batch, 1, k], -1.0, 1.0, seed + 2);
                let wt = w.cast(DType::F32).unwrap().transpose(1, 2).unwrap();
                let gain = random(&dev, DType::F32, &[k], 0.5, 1.5, seed + 3);
                let vectors = [
                    ("silu(g) * u", g.silu().unwrap().mul(&u).unwrap()),
                    ("rms_norm(g)", g.rms_norm(Some(&gain), 1e-5).unwrap()),
                ];
                for (name, a) in vectors {
                    let y = a.matmul(&wt).unwrap();
                    let what =
                        format!("{name}, {f:?}, {act:?} vector, {warps} warps, {batch} x k {k}");
                    assert_eq!(plan_of(&y), (1, true), "{what}");
                    assert!(
                        takes_qgemv_path(&y, act),
                        "{what}: not on the quantized gemv path"
                    );
                    let plan = y.explain().unwrap();
                    let warp_kernel = plan.kernels.iter().any(|k| {
                        k.wgsl.contains("subgroupAdd") && k.wgsl.contains("@workgroup_size(512)")
                    });
                    assert_eq!(warp_kernel, own, "{what}: the kernel of its own");
                    // The same vector read from memory by the same path.
                    let stored = Tensor::from_host_on(&dev, a.to_host().unwrap()).unwrap();
                    let ys = stored.matmul(&wt).unwrap();
                    let got = y.to_host().unwrap();
                    let (at, rt) = mm_tol(k);
                    assert_close(&got, &ys.to_host().unwrap(), at, rt, &what);
                    if act == kiln::GemvActivations::F32 {
                        assert_close(&got, &y.reference().unwrap(), at * 40.0, rt, &what);
                    }
                }
            }
        }
    }
}

/// Whether `t`'s plan runs the quantized gemv path, with the vector in 8-bit integers (the
/// 8-bit dot product) or in f32 (the word or wide item functions).
fn takes_qgemv_path(t: &Tensor, act: kiln::GemvActivations) -> bool {
    let plan = t.explain().unwrap();
    plan.kernels.iter().any(|k| match act {
        kiln::GemvActivations::Int8 => k.wgsl.contains("kiln_qdot_"),
        kiln::GemvActivations::F32 => {
            k.wgsl.contains("kiln_qitem_") || k.wgsl.contains("kiln_qwide_")
        }
    })
}

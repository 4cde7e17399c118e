//! Matmul and composite ops against the reference interpreter.

mod common;
use common::*;
use kiln::{DType, Tensor};

fn mm_tol(k: usize) -> (f32, f32) {
    (1e-6 * k as f32, 1e-5)
}

#[test]
fn matmul_shapes() {
    let dev = device();
    let cases: [(&[usize], &[usize]); 10] = [
        (&[1, 1], &[1, 1]),
        (&[3, 5], &[5, 7]),
        (&[127, 129], &[129, 131]),
        (&[1, 1031], &[1031, 1]),
        (&[1031], &[1031, 3]),
        (&[7, 3], &[3]),
        (&[2, 3, 5, 4], &[4, 6]),
        (&[3, 1, 5, 4], &[1, 2, 4, 6]),
        (&[0, 4], &[4, 3]),
        // 18 rows of 64-row tiles: more than one group of the grouped tile order.
        (&[1100, 40], &[40, 70]),
    ];
    for (i, (sa, sb)) in cases.iter().enumerate() {
        let a = random(&dev, DType::F32, sa, -1.0, 1.0, 100 + i as u64);
        let b = random(&dev, DType::F32, sb, -1.0, 1.0, 200 + i as u64);
        let k = sa[sa.len() - 1];
        let (at, rt) = mm_tol(k);
        check(&a.matmul(&b).unwrap(), at, rt, &format!("{sa:?} @ {sb:?}"));
    }
}

#[test]
fn matmul_transposed_and_narrow_types() {
    let dev = device();
    let a = random(&dev, DType::F32, &[33, 17], -1.0, 1.0, 1);
    let b = random(&dev, DType::F32, &[40, 33], -1.0, 1.0, 2);
    check(
        &a.transpose(0, 1)
            .unwrap()
            .matmul(&b.transpose(0, 1).unwrap())
            .unwrap(),
        4e-5,
        1e-5,
        "A^T B^T",
    );
    let p = a.pad(&[(0, 0), (1, 2)], 0.5).unwrap();
    check(
        &p.transpose(0, 1).unwrap().matmul(&a).unwrap(),
        4e-5,
        1e-5,
        "padded operand",
    );
    for dt in [DType::F16, DType::BF16] {
        let x = random(&dev, dt, &[9, 31], -1.0, 1.0, 3);
        let y = random(&dev, dt, &[31, 5], -1.0, 1.0, 4);
        check(&x.matmul(&y).unwrap(), 1e-4, 1e-4, &format!("matmul {dt}"));
    }
}

#[test]
fn composites() {
    let dev = device();
    // Rows of 1 and 7 (held in registers), 1031 and 5000 (past the CPU schedule's register
    // cache of 16 x 64: the looping path).
    for &n in &[1usize, 7, 1031, 5000] {
        let x = random(&dev, DType::F32, &[5, n], -3.0, 3.0, n as u64);
        check(&x.softmax(-1).unwrap(), 1e-6, 1e-5, &format!("softmax {n}"));
        check(
            &x.log_softmax(-1).unwrap(),
            1e-5,
            1e-5,
            &format!("log_softmax {n}"),
        );
        let g = random(&dev, DType::F32, &[n], 0.5, 1.5, 1);
        let b = random(&dev, DType::F32, &[n], -0.5, 0.5, 2);
        check(
            &x.layer_norm(Some(&g), Some(&b), 1e-5).unwrap(),
            1e-4,
            1e-4,
            &format!("layer_norm {n}"),
        );
        check(
            &x.rms_norm(Some(&g), 1e-6).unwrap(),
            1e-5,
            1e-4,
            &format!("rms_norm {n}"),
        );
    }
    let x = random(&dev, DType::F32, &[4, 5000], -3.0, 3.0, 9);
    check(
        &x.transpose(0, 1).unwrap().softmax(0).unwrap(),
        1e-6,
        1e-4,
        "softmax over a non-innermost axis",
    );
    let sm = x
        .softmax(-1)
        .unwrap()
        .sum(&[-1], false)
        .unwrap()
        .to_vec::<f32>()
        .unwrap();
    assert!(sm.iter().all(|s| (s - 1.0).abs() < 1e-4), "{sm:?}");
}

/// Long inner sizes with few outputs run split-K (partial products in one batched matmul,
/// summed by an elementwise kernel that also takes the epilogue).
#[test]
fn split_k() {
    let dev = device();
    let cases: [(&[usize], &[usize]); 4] = [
        (&[16, 4096], &[4096, 8]),
        (&[2, 8, 2048], &[2048, 24]),
        (&[3, 5000], &[5000, 7]),
        (&[3, 4099], &[4099, 7]),
    ];
    for (sa, sb) in cases {
        let a = random(&dev, DType::F32, sa, -1.0, 1.0, 1);
        let b = random(&dev, DType::F32, sb, -1.0, 1.0, 2);
        let n = sb[sb.len() - 1];
        let bias = random(&dev, DType::F32, &[n], -1.0, 1.0, 3);
        let y = a.matmul(&b).unwrap().add(&bias).unwrap().relu().unwrap();
        let kernels = y.explain().unwrap().kernels.len();
        // 4099 has no power-of-two split (5000 = 8 x 625 has).
        let splits = sa[sa.len() - 1] % 2 == 0;
        assert_eq!(kernels, if splits { 2 } else { 1 }, "{sa:?} @ {sb:?}");
        let (at, rt) = mm_tol(sa[sa.len() - 1]);
        check(&y, at, rt, &format!("{sa:?} @ {sb:?}"));
    }
    // Narrow floats keep one matmul (partials would round to f16).
    let a = random(&dev, DType::F16, &[4, 4096], -1.0, 1.0, 4);
    let b = random(&dev, DType::F16, &[4096, 4], -1.0, 1.0, 5);
    let y = a.matmul(&b).unwrap();
    assert_eq!(y.explain().unwrap().kernels.len(), 1);
    check(&y, 1e-6 * 4096.0, 1e-4, "f16 4x4096x4");
}

/// Matrix-vector products (an output edge of 1) take the gemv path of the block-1 kernel:
/// both storage orders of the matrix (lanes along `k` or along the outputs), `m = 1` and
/// `n = 1`, odd sizes, batches with broadcast, an epilogue, split-K, and NaN propagation.
#[test]
fn gemv() {
    gemv_cases(&device());
}

/// The same cases with subgroups off and on (`gemv_subgroups`): where the adapter has them and
/// the flag is on, a matrix contiguous along `k` is summed with `subgroupAdd`.
#[test]
fn gemv_with_subgroups() {
    let dev = private_device();
    let Some(ctx) = dev.gpu() else { return };
    let has = ctx.features.contains(wgpu::Features::SUBGROUP);
    for on in [false, true] {
        let mut s = ctx.schedule();
        s.matmul.gemv_subgroups = on;
        ctx.set_schedule(s);
        let x = random(&dev, DType::F32, &[1, 300], -1.0, 1.0, 1);
        let w = random(&dev, DType::F32, &[50, 300], -1.0, 1.0, 2);
        let y = x.matmul(&w.transpose(0, 1).unwrap()).unwrap();
        let wgsl = y.explain().unwrap().to_string();
        assert_eq!(wgsl.contains("subgroupAdd"), has && on, "{wgsl}");
        gemv_cases(&dev);
    }
}

fn gemv_cases(dev: &kiln::Device) {
    let dev = dev.clone();
    for &k in &[1usize, 7, 1031] {
        for &n in &[1usize, 33, 1000] {
            let what = format!("1x{k}x{n}");
            let (at, rt) = mm_tol(k);
            let x = random(&dev, DType::F32, &[1, k], -1.0, 1.0, k as u64);
            let w = random(&dev, DType::F32, &[k, n], -1.0, 1.0, n as u64);
            check(&x.matmul(&w).unwrap(), at, rt, &format!("{what} x @ W"));
            let wt = random(&dev, DType::F32, &[n, k], -1.0, 1.0, 7 + n as u64);
            let xwt = x.matmul(&wt.transpose(0, 1).unwrap()).unwrap();
            check(&xwt, at, rt, &format!("{what} x @ W^T"));
            // n = 1: the matrix is A, in both orders.
            let a = random(&dev, DType::F32, &[n, k], -1.0, 1.0, 11);
            let v = random(&dev, DType::F32, &[k, 1], -1.0, 1.0, 12);
            check(&a.matmul(&v).unwrap(), at, rt, &format!("{what} A v"));
            let at_ = random(&dev, DType::F32, &[k, n], -1.0, 1.0, 13);
            let atv = at_.transpose(0, 1).unwrap().matmul(&v).unwrap();
            check(&atv, at, rt, &format!("{what} A^T v"));
        }
    }
    // Batched with a broadcast matrix, and an epilogue (bias, gelu).
    let x = random(&dev, DType::F32, &[3, 1, 130], -1.0, 1.0, 20);
    let w = random(&dev, DType::F32, &[130, 77], -1.0, 1.0, 21);
    let bias = random(&dev, DType::F32, &[77], -1.0, 1.0, 22);
    let y = x.matmul(&w).unwrap().add(&bias).unwrap().gelu().unwrap();
    assert_eq!(y.explain().unwrap().kernels.len(), 1);
    check(&y, 2e-6 * 130.0, 1e-5, "batched gemv with bias and gelu");
    // A long inner size: split-K partials of gemvs, summed, where the matrix is strided along
    // `k` or the outputs are few; one kernel (32 lanes per output) where it is contiguous
    // along `k` and the outputs many.
    let (at, rt) = mm_tol(2048);
    let x = random(&dev, DType::F32, &[1, 2048], -1.0, 1.0, 23);
    for (n, kernels_w, kernels_wt) in [(300, 2, 2), (1100, 2, 1)] {
        let w = random(&dev, DType::F32, &[2048, n], -1.0, 1.0, 24);
        let y = x.matmul(&w).unwrap();
        assert_eq!(y.explain().unwrap().kernels.len(), kernels_w, "1x2048x{n}");
        check(&y, at, rt, &format!("gemv 1x2048x{n}"));
        let wt = random(&dev, DType::F32, &[n, 2048], -1.0, 1.0, 29);
        let y = x.matmul(&wt.transpose(0, 1).unwrap()).unwrap();
        assert_eq!(
            y.explain().unwrap().kernels.len(),
            kernels_wt,
            "1x2048x{n} along k"
        );
        check(&y, at, rt, &format!("gemv 1x2048x{n} along k"));
        let a = random(&dev, DType::F32, &[n, 2048], -1.0, 1.0, 27);
        let v = random(&dev, DType::F32, &[2048, 1], -1.0, 1.0, 28);
        let y = a.matmul(&v).unwrap();
        assert_eq!(y.explain().unwrap().kernels.len(), kernels_wt, "{n}x2048x1");
        check(&y, at, rt, &format!("gemv {n}x2048x1 along k"));
    }
    // A NaN in the matrix reaches exactly its own output.
    let mut host: Vec<f32> = random(&dev, DType::F32, &[9, 5], -1.0, 1.0, 25)
        .to_host()
        .unwrap()
        .to_f64()
        .iter()
        .map(|&v| v as f32)
        .collect();
    host[2 * 5 + 3] = f32::NAN;
    let w = kiln::Tensor::from_slice_on(&dev, &host, &[9, 5]).unwrap();
    let x = random(&dev, DType::F32, &[1, 9], -1.0, 1.0, 26);
    let got = x.matmul(&w).unwrap().to_host().unwrap().to_f64();
    for (j, v) in got.iter().enumerate() {
        assert_eq!(v.is_nan(), j == 3, "output {j}: {v}");
    }
}

/// A gemv with more output groups than a grid dimension holds spreads them over x and y.
#[test]
fn gemv_past_one_grid_dimension() {
    let dev = device();
    // 8 outputs per workgroup where the matrix is contiguous along k: 530000 outputs need
    // 66250 workgroups, past 65535.
    let n = 530_000;
    let x = random(&dev, DType::F32, &[1, 3], -1.0, 1.0, 1);
    let w = random(&dev, DType::F32, &[n, 3], -1.0, 1.0, 2);
    let y = x.matmul(&w.transpose(0, 1).unwrap()).unwrap();
    check(&y, 1e-5, 1e-5, "1x3x530000 along k");
}

/// Integer matmuls are exact with wrapping, with numpy's shape rules: batches broadcast,
/// 1-D operands, odd sizes, and products past i32's range.
#[test]
fn integer_matmul() {
    let dev = device();
    for (ci, (sa, sb)) in [
        (vec![7, 33], vec![33, 5]),
        (vec![2, 1, 3, 4], vec![3, 4, 1]),
        (vec![1031], vec![1031, 3]),
        (vec![4], vec![4]),
        (vec![2, 2, 2, 3, 4], vec![4, 2]),
    ]
    .into_iter()
    .enumerate()
    {
        for dt in [DType::I32, DType::U32] {
            let a = random(&dev, dt, &sa, -40000.0, 40000.0, ci as u64);
            let b = random(&dev, dt, &sb, -40000.0, 40000.0, 10 + ci as u64);
            check(
                &a.matmul(&b).unwrap(),
                0.0,
                0.0,
                &format!("{dt} {sa:?} @ {sb:?}"),
            );
        }
    }
    let a = Tensor::from_slice_on(&dev, &[i32::MAX, 2, -3, 4], &[2, 2]).unwrap();
    let b = Tensor::from_slice_on(&dev, &[2i32, 0, 1, 5], &[2, 2]).unwrap();
    assert_eq!(
        a.matmul(&b).unwrap().to_vec::<i32>().unwrap(),
        vec![i32::MAX.wrapping_mul(2).wrapping_add(2), 10, -2, 20]
    );
}

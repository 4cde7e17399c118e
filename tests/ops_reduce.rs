//! Reductions against the reference interpreter: every reduction, dtypes, axes sets, keepdim,
//! odd sizes, views as inputs, NaN and empty inputs.

mod common;
use common::*;
use kiln::ir::ops::{ReduceOp, ALL_REDUCE};
use kiln::{DType, HostTensor, Tensor};

#[test]
fn every_reduction_every_size() {
    let dev = device();
    for op in ALL_REDUCE {
        for &n in &SIZES {
            for dt in [DType::F32, DType::BF16, DType::I32] {
                let x = random(&dev, dt, &[n], -1.0, 1.0, n as u64);
                let x = if dt == DType::I32 {
                    random(&dev, dt, &[n], -20.0, 20.0, 3)
                } else {
                    x
                };
                match x.reduce(op, &[0], false) {
                    Ok(y) => {
                        let (a, r) = op.tolerance_f32(n);
                        check(&y, a, r, &format!("{} {dt} [{n}]", op.name()))
                    }
                    Err(e) => assert!(!op.folds().accepts(dt), "{e}"),
                }
            }
        }
    }
}

#[test]
fn axes_sets_and_keepdim() {
    let dev = device();
    let x = random(&dev, DType::F32, &[3, 7, 5, 2], -1.0, 1.0, 11);
    let sets: [&[isize]; 6] = [&[0], &[1], &[-1], &[0, 2], &[1, 2, 3], &[]];
    for op in ALL_REDUCE {
        for axes in sets {
            if op.is_arg() && axes.len() != 1 {
                continue;
            }
            for keep in [false, true] {
                let y = x.reduce(op, axes, keep).unwrap();
                let (a, r) = op.tolerance_f32(210);
                check(&y, a, r, &format!("{} {axes:?} keepdim={keep}", op.name()));
            }
        }
    }
}

#[test]
fn reductions_of_views_and_large_rows() {
    let dev = device();
    let x = random(&dev, DType::F32, &[33, 1031], -1.0, 1.0, 12);
    check(
        &x.transpose(0, 1).unwrap().sum(&[-1], false).unwrap(),
        1e-4,
        1e-5,
        "sum of transpose",
    );
    check(
        &x.slice(1, 0, 1031, 4).unwrap().max(&[1], false).unwrap(),
        0.0,
        0.0,
        "max of step slice",
    );
    check(
        &x.flip(&[1]).unwrap().argmax(1, false).unwrap(),
        0.0,
        0.0,
        "argmax of flip",
    );
    let big = random(&dev, DType::F32, &[100003], -1.0, 1.0, 13);
    check(&big.sum(&[], false).unwrap(), 1e-2, 1e-5, "sum of 100003");
    check(&big.argmin(0, false).unwrap(), 0.0, 0.0, "argmin of 100003");
}

#[test]
fn nan_ties_and_empty() {
    let dev = device();
    let x = Tensor::from_slice_on(&dev, &[1.0f32, 5.0, f32::NAN, 5.0, f32::NAN, -1.0], &[2, 3])
        .unwrap();
    assert_eq!(
        x.argmax(1, false).unwrap().to_vec::<i32>().unwrap(),
        vec![2, 1]
    );
    assert_eq!(
        x.argmin(1, false).unwrap().to_vec::<i32>().unwrap(),
        vec![2, 1]
    );
    let m = x.max(&[1], false).unwrap().to_vec::<f32>().unwrap();
    assert!(m[0].is_nan() && m[1].is_nan());
    let ties = Tensor::from_slice_on(&dev, &[3i32, 7, 7, 1, 7], &[5]).unwrap();
    assert_eq!(
        ties.argmax(0, false).unwrap().to_vec::<i32>().unwrap(),
        vec![1]
    );
    let e = Tensor::zeros(&[0, 4], DType::F32).unwrap();
    let e = e.add_scalar(1.0).unwrap();
    assert_eq!(
        e.sum(&[0], false).unwrap().to_vec::<f32>().unwrap(),
        vec![0.0; 4]
    );
    assert_eq!(
        e.prod(&[0], false).unwrap().to_vec::<f32>().unwrap(),
        vec![1.0; 4]
    );
    assert!(e.mean(&[0], false).unwrap().to_vec::<f32>().unwrap()[0].is_nan());
    assert!(
        e.max(&[0], false).is_err(),
        "max over nothing has no identity"
    );
    assert_eq!(
        e.sum(&[1], false).unwrap().to_vec::<f32>().unwrap(),
        Vec::<f32>::new()
    );
}

/// Inputs for the split reductions whose result depends on every part of the split: a value
/// that only the tail holds (the last element) and one that only a middle part holds. Sums and
/// means get a large value in the tail; max and argmax a unique maximum there; min a unique
/// minimum in the middle; products are ones times exact powers of two (2 in the tail, -1 in the
/// middle, 0.5 and 2 near the front), so a lost or repeated factor changes the result by 2x.
fn planted(dev: &kiln::Device, dt: DType, shape: &[usize], op: ReduceOp, seed: u64) -> Tensor {
    let total: usize = shape.iter().product();
    let mut r = Rng::new(seed);
    let int = dt == DType::I32;
    let mut v: Vec<f32> = (0..total)
        .map(|_| match op {
            ReduceOp::Prod => 1.0,
            _ if int => r.i32(-50, 50) as f32,
            _ => r.f32(-1.0, 1.0),
        })
        .collect();
    let big = if int { 90.0 } else { 3.0 };
    match op {
        ReduceOp::Sum | ReduceOp::Mean => v[total - 1] += 7.0 * big,
        ReduceOp::Max | ReduceOp::ArgMax | ReduceOp::LogSumExp => v[total - 1] = big,
        ReduceOp::Min | ReduceOp::ArgMin => v[total / 2] = -big,
        ReduceOp::Prod => {
            v[total - 1] = 2.0;
            v[total / 2] = -1.0;
            v[total / 3] = 2.0;
            v[1] = if int { 2.0 } else { 0.5 };
        }
    }
    let h = match dt {
        DType::F32 => HostTensor::from_slice(&v, shape.into()),
        DType::F16 => HostTensor::from_slice(
            &v.iter()
                .map(|&x| half::f16::from_f32(x))
                .collect::<Vec<_>>(),
            shape.into(),
        ),
        _ => HostTensor::from_slice(
            &v.iter().map(|&x| x as i32).collect::<Vec<_>>(),
            shape.into(),
        ),
    }
    .unwrap();
    Tensor::from_host_on(dev, h).unwrap()
}

/// Reductions with few outputs and many elements each are split in two levels (so that they
/// fill the GPU); every op, non-innermost axes, keepdim, narrow floats and NaN still agree with
/// the reference.
#[test]
fn split_reductions() {
    let dev = device();
    let cases: [(&[usize], &[isize], bool); 5] = [
        (&[100003], &[0], false),
        (&[3, 40000], &[1], true),
        (&[40000, 3], &[0], false),
        (&[300, 300], &[0, 1], true),
        (&[2, 70001], &[-1], false),
    ];
    for (shape, axes, keepdim) in cases {
        let n: usize = axes
            .iter()
            .map(|&a| shape[a.rem_euclid(shape.len() as isize) as usize])
            .product();
        for op in ALL_REDUCE {
            for dt in [DType::F32, DType::F16, DType::I32] {
                let x = planted(&dev, dt, shape, op, n as u64);
                let Ok(y) = x.reduce(op, axes, keepdim) else {
                    assert!(!op.folds().accepts(dt), "{} {dt}", op.name());
                    continue;
                };
                let what = format!("{} {dt} {shape:?} over {axes:?}", op.name());
                // f16 inputs are summed in f32 and rounded once, as the reference does
                // (`check` allows the f16 rounding of the result on top).
                // Two levels count each element twice in the per-element part of the
                // tolerance. Products of exact powers of two are exact.
                let (a, r) = match op {
                    ReduceOp::Prod => (0.0, 0.0),
                    _ => op.tolerance_f32(2 * n),
                };
                if !op.is_arg() {
                    assert!(y.explain().unwrap().kernels.len() > 1, "{what}: not split");
                }
                check(&y, a, r, &what);
            }
        }
    }
    // NaN anywhere propagates through both levels.
    let mut v = vec![0.5f32; 100003];
    v[77777] = f32::NAN;
    let x = Tensor::from_slice_on(&dev, &v, &[100003]).unwrap();
    for op in [ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min] {
        let y = x.reduce(op, &[0], false).unwrap();
        assert!(y.to_vec::<f32>().unwrap()[0].is_nan(), "{}", op.name());
    }
}

/// Rows whose length divides by 4 are read (and written) as `vec4`s (`Kernel::vector`), held
/// in registers as vectors where they fit and read element by element where they do not
/// (4100 > 256 x 16); rows of views too (a padded row stride, an offset of 4), while an offset
/// of 2 falls back to scalars. Every reduction and the row kernels (softmax, log-softmax,
/// layer norm with weight and bias, RMS norm), under the adapter's schedule and the GPU
/// default (256 invocations x 16 registers a row).
#[test]
fn vector_rows() {
    let dev = private_device();
    for gpu_schedule in [false, true] {
        if let (true, Some(g)) = (gpu_schedule, dev.gpu()) {
            g.set_schedule(kiln::Schedule::default());
        }
        for &n in &[4usize, 8, 1000, 4096, 4100] {
            let what = |w: &str| format!("{w} [5, {n}] (GPU schedule: {gpu_schedule})");
            let x = random(&dev, DType::F32, &[5, n], -1.0, 1.0, n as u64);
            for op in ALL_REDUCE {
                let (a, r) = op.tolerance_f32(n);
                check(&x.reduce(op, &[-1], false).unwrap(), a, r, &what(op.name()));
            }
            let w = random(&dev, DType::F32, &[n], 0.5, 1.5, 1);
            let b = random(&dev, DType::F32, &[n], -0.5, 0.5, 2);
            check(&x.softmax(-1).unwrap(), 1e-6, 1e-5, &what("softmax"));
            check(
                &x.log_softmax(-1).unwrap(),
                1e-5,
                1e-5,
                &what("log_softmax"),
            );
            let ln = x.layer_norm(Some(&w), Some(&b), 1e-5).unwrap();
            check(&ln, 1e-5, 1e-5, &what("layer_norm"));
            check(
                &x.rms_norm(Some(&w), 1e-5).unwrap(),
                1e-5,
                1e-5,
                &what("rms_norm"),
            );
            let h = random(&dev, DType::F16, &[5, n], -1.0, 1.0, 3);
            check(&h.softmax(-1).unwrap(), 1e-3, 1e-3, &what("softmax f16"));
        }
        // Ties and NaNs inside one vector: the first maximum (minimum), the first NaN.
        let nan = f32::NAN;
        let t = Tensor::from_slice_on(
            &dev,
            &[
                1.0f32, 5.0, 2.0, 5.0, 0.0, 5.0, 1.0, 0.0, 1.0, 2.0, nan, 3.0, nan, 0.0, -4.0, -4.0,
            ],
            &[2, 8],
        )
        .unwrap();
        for op in [
            ReduceOp::ArgMax,
            ReduceOp::ArgMin,
            ReduceOp::Max,
            ReduceOp::Min,
        ] {
            check(&t.reduce(op, &[-1], false).unwrap(), 0.0, 0.0, op.name());
        }
        // Integers, and two reduced dims (rows of 4 x 8).
        let i = random(&dev, DType::I32, &[5, 1000], -20.0, 20.0, 4);
        for op in [ReduceOp::Sum, ReduceOp::Max, ReduceOp::ArgMin] {
            check(&i.reduce(op, &[-1], false).unwrap(), 0.0, 0.0, op.name());
        }
        let x3 = random(&dev, DType::F32, &[3, 4, 8], -1.0, 1.0, 5);
        check(
            &x3.sum(&[1, 2], false).unwrap(),
            1e-5,
            1e-5,
            "sum over [4, 8]",
        );
        check(&x3.softmax(-1).unwrap(), 1e-6, 1e-5, "softmax [3, 4, 8]");
        let wide = random(&dev, DType::F32, &[5, 1004], -1.0, 1.0, 9);
        for start in [4, 2] {
            let v = wide.narrow(1, start, 1000).unwrap();
            let y = v.softmax(-1).unwrap();
            let wgsl = y.explain().unwrap().to_string();
            check(&y, 1e-6, 1e-5, &format!("softmax of columns {start}.."));
            if dev.is_gpu() {
                assert_eq!(
                    wgsl.contains("array<vec4<f32>>"),
                    start == 4,
                    "vector rows from column {start}"
                );
            }
        }
    }
}

/// Layer norm of a constant row is exactly 0 (with weight and bias: exactly the bias), as in
/// PyTorch, on the device's schedule and on the GPU one (rows held in registers, looped,
/// vectorized), and in the interpreter. Rows of 1, 7 and 4096 elements of random nonzero
/// constants with full mantissas, whose f32 sum divided by the length is not the constant.
#[test]
fn layer_norm_of_constant_rows_is_exactly_zero() {
    let dev = private_device();
    let mut rng = Rng::new(13);
    for gpu_schedule in [false, true] {
        if let (true, Some(g)) = (gpu_schedule, dev.gpu()) {
            g.set_schedule(kiln::Schedule::default());
        }
        for &n in &[1usize, 7, 4096] {
            let rows = 9;
            let mut v = Vec::with_capacity(rows * n);
            for _ in 0..rows {
                let c = rng.f32(-100.0, 100.0);
                v.extend(std::iter::repeat_n(c, n));
            }
            let x = Tensor::from_slice_on(&dev, &v, &[rows, n]).unwrap();
            let w = random(&dev, DType::F32, &[n], 0.5, 1.5, 1);
            let b = random(&dev, DType::F32, &[n], -0.5, 0.5, 2);
            let what = format!("[{rows}, {n}] (GPU schedule: {gpu_schedule})");
            let plain = x.layer_norm(None, None, 1e-5).unwrap();
            let affine = x.layer_norm(Some(&w), Some(&b), 1e-5).unwrap();
            let bias = b.to_vec::<f32>().unwrap();
            for (got, name) in [
                (plain.to_vec::<f32>().unwrap(), "device"),
                (
                    plain.reference().unwrap().to_vec::<f32>().unwrap(),
                    "reference",
                ),
            ] {
                assert!(
                    got.iter().all(|&y| y == 0.0),
                    "{what} {name}: not all 0: {:?}",
                    got.iter().find(|&&y| y != 0.0)
                );
            }
            for (got, name) in [
                (affine.to_vec::<f32>().unwrap(), "device"),
                (
                    affine.reference().unwrap().to_vec::<f32>().unwrap(),
                    "reference",
                ),
            ] {
                for (i, &y) in got.iter().enumerate() {
                    assert_eq!(y, bias[i % n], "{what} {name}: element {i} is not the bias");
                }
            }
        }
    }
}

/// Short rows are reduced an invocation a row (`reduce.serial`), a workgroup of rows at a
/// time: more rows than one grid dimension holds workgroups of them (over 65,535 x 16 on the
/// CPU schedule), with a per-row, an index and a per-element output.
#[test]
fn serial_rows_past_one_grid_dimension() {
    let dev = device();
    let rows = 1_100_003;
    let x = random(&dev, DType::F32, &[rows, 3], -2.0, 2.0, 21);
    // Where the device's schedule names serial rows, these kernels are serial (else the
    // checks below would pass on the tree form).
    if dev.gpu().is_some_and(|g| g.schedule().reduce.serial >= 4) {
        let plan = x.sum(&[-1], false).unwrap().explain().unwrap();
        assert!(
            plan.kernels
                .iter()
                .any(|k| k.kind.ends_with("a row an invocation")),
            "{plan}"
        );
    }
    check(
        &x.sum(&[-1], false).unwrap(),
        1e-5,
        1e-5,
        "sum of rows of 3",
    );
    check(
        &x.argmax(-1, false).unwrap(),
        0.0,
        0.0,
        "argmax of rows of 3",
    );
    check(&x.softmax(-1).unwrap(), 1e-6, 1e-5, "softmax of rows of 3");
}

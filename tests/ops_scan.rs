//! Cumulative scans (cumsum, cumprod, cummax, cummin) on the GPU against the interpreter:
//! every dtype, odd sizes, every axis, strided, broadcast, padded and flipped operands, rows
//! past the loop limit (split in levels), NaN, integer wrapping, empty tensors and errors.

mod common;
use common::*;
use kiln::ir::ops::{ScanOp, ALL_SCAN};
use kiln::{DType, Tensor};

/// Values where a running product stays in range (and away from zero) for a thousand steps.
fn domain(op: ScanOp) -> (f32, f32) {
    match op {
        ScanOp::Prod => (0.9, 1.1),
        ScanOp::Sum | ScanOp::Max | ScanOp::Min => (-1.0, 1.0),
    }
}

#[test]
fn every_scan_every_dtype_odd_sizes() {
    let dev = device();
    for op in ALL_SCAN {
        let (lo, hi) = domain(op);
        for dt in [DType::F32, DType::F16, DType::BF16, DType::I32, DType::U32] {
            for (si, &n) in SIZES.iter().enumerate() {
                let (lo, hi) = if dt.is_float() { (lo, hi) } else { (-9.0, 9.0) };
                let x = random(&dev, dt, &[3, n], lo, hi, 100 + si as u64);
                let (atol, rtol) = op.tolerance_f32(n);
                check(
                    &x.scan(op, -1).unwrap(),
                    atol,
                    rtol,
                    &format!("{} {dt} [3, {n}]", op.name()),
                );
            }
        }
    }
}

#[test]
fn every_axis_and_views() {
    let dev = device();
    let x = random(&dev, DType::F32, &[5, 7, 33], -1.0, 1.0, 7);
    for axis in [0, 1, 2, -1, -3] {
        for op in ALL_SCAN {
            check(
                &x.scan(op, axis).unwrap(),
                1e-5,
                1e-5,
                &format!("{} axis {axis}", op.name()),
            );
        }
    }
    let views = [
        ("transpose", x.transpose(0, 2).unwrap()),
        ("step slice", x.slice(2, 1, 33, 3).unwrap()),
        ("flip", x.flip(&[2]).unwrap()),
        (
            "broadcast",
            x.slice(1, 2, 3, 1)
                .unwrap()
                .broadcast_to(&[5, 4, 33])
                .unwrap(),
        ),
        ("pad", x.pad(&[(0, 0), (1, 2), (3, 4)], 0.25).unwrap()),
    ];
    for (name, v) in views {
        check(&v.cumsum(-1).unwrap(), 1e-5, 1e-5, name);
        check(&v.cummax(1).unwrap(), 0.0, 0.0, name);
    }
    // A constant operand and a computed one (stored first, then scanned).
    let c = Tensor::full_on(&dev, &[4, 9], 0.5, DType::F32).unwrap();
    check(&c.cumsum(1).unwrap(), 0.0, 0.0, "constant");
    let y = x.mul_scalar(2.0).unwrap().exp().unwrap().cumsum(2).unwrap();
    check(
        &y.log().unwrap(),
        1e-5,
        1e-5,
        "computed operand, computed consumer",
    );
}

/// Rows longer than one kernel may loop over (lavapipe's budget, and `MAX_ROW` everywhere)
/// are scanned in levels; the NaN of a running maximum crosses the parts.
#[test]
fn rows_past_the_loop_limit() {
    let dev = device();
    let n = 100_003;
    let x = random(&dev, DType::F32, &[2, n], -1.0, 1.0, 11);
    let (atol, rtol) = ScanOp::Sum.tolerance_f32(n);
    check(&x.cumsum(1).unwrap(), atol, rtol, "cumsum of 100003");
    check(&x.cummin(1).unwrap(), 0.0, 0.0, "cummin of 100003");
    let mut v = vec![0.5f32; n];
    v[70_000] = f32::NAN;
    v[5] = 2.0;
    let t = Tensor::from_slice_on(&dev, &v, &[n]).unwrap();
    let m = t.cummax(0).unwrap().to_vec::<f32>().unwrap();
    assert_eq!((m[4], m[5], m[69_999]), (0.5, 2.0, 2.0));
    assert!(m[70_000..].iter().all(|x| x.is_nan()), "NaN does not stick");
    let h = random(&dev, DType::F16, &[n], 0.0, 0.01, 12);
    let (atol, rtol) = ScanOp::Sum.tolerance_f32(n);
    check(&h.cumsum(0).unwrap(), atol, rtol, "f16 cumsum of 100003");
}

#[test]
fn many_rows_nan_and_wrapping() {
    let dev = device();
    // More rows than one grid dimension holds.
    let x = random(&dev, DType::F32, &[70_000, 3], -1.0, 1.0, 13);
    check(&x.cumsum(1).unwrap(), 1e-5, 1e-5, "70000 rows");
    let v = [1.0f32, f32::NAN, 3.0, -1.0];
    let t = Tensor::from_slice_on(&dev, &v, &[4]).unwrap();
    for op in [ScanOp::Max, ScanOp::Min, ScanOp::Sum, ScanOp::Prod] {
        let r = t.scan(op, 0).unwrap().to_vec::<f32>().unwrap();
        assert_eq!(r[0], 1.0, "{}", op.name());
        assert!(r[1..].iter().all(|x| x.is_nan()), "{}: {r:?}", op.name());
    }
    let i = Tensor::from_slice_on(&dev, &[i32::MAX, 1, 2, i32::MIN], &[4]).unwrap();
    assert_eq!(
        i.cumsum(0).unwrap().to_vec::<i32>().unwrap(),
        vec![i32::MAX, i32::MIN, i32::MIN + 2, 2]
    );
    let u = Tensor::from_slice_on(&dev, &[3u32, 7, 1, 9], &[4]).unwrap();
    assert_eq!(
        u.cummin(0).unwrap().to_vec::<u32>().unwrap(),
        vec![3, 3, 1, 1]
    );
}

#[test]
fn empty_and_rank_zero() {
    let dev = device();
    for shape in [[3usize, 0], [0, 5]] {
        let x = random(&dev, DType::F32, &shape, -1.0, 1.0, 1);
        let y = x.cumsum(-1).unwrap();
        assert_eq!(y.shape().dims(), &shape);
        assert!(y.to_vec::<f32>().unwrap().is_empty());
    }
    let s = Tensor::full_on(&dev, &[], 2.5, DType::F32).unwrap();
    let y = s.cumprod(0).unwrap();
    assert_eq!(y.rank(), 0);
    assert_eq!(y.to_vec::<f32>().unwrap(), vec![2.5]);
    assert!(s.cumsum(1).is_err());
}

#[test]
fn bad_input_is_a_typed_error() {
    let dev = device();
    let b = Tensor::from_slice_on(&dev, &[true, false], &[2]).unwrap();
    let e = b.cumsum(0).unwrap_err();
    assert!(
        matches!(e.ir(), Some(kiln::ir::IrError::UnsupportedDType { .. })),
        "{e}"
    );
    let x = random(&dev, DType::F32, &[2, 3], -1.0, 1.0, 2);
    let e = x.cummax(2).unwrap_err();
    assert!(
        matches!(e.ir(), Some(kiln::ir::IrError::BadAxis { .. })),
        "{e}"
    );
}

#[test]
fn explain_names_the_scan() {
    let dev = device();
    let x = random(&dev, DType::F32, &[4, 9], -1.0, 1.0, 3);
    let y = x.cumsum(0).unwrap();
    let text = format!("{}", y.explain().unwrap());
    assert!(text.contains("cumsum along the last dim"), "{text}");
    // A computed operand that others read too is stored once, as the scan's operand.
    let e = x.exp().unwrap();
    let y = e.cumsum(1).unwrap().add(&e).unwrap();
    let plan = y.explain().unwrap();
    let text = format!("{plan}");
    let exps = plan
        .kernels
        .iter()
        .filter(|k| k.name.contains("exp"))
        .count();
    assert_eq!(exps, 1, "{text}");
    assert!(text.contains("scan operand"), "{text}");
    check(&y, 1e-5, 1e-5, "scan of a shared operand");
}

//! The trigonometric, inverse hyperbolic, error-function, bitwise and floored-remainder ops at
//! their edges (zeros, ±1, infinities, NaN, large arguments, shift amounts past 31) against the
//! interpreter. `ops_elementwise.rs` covers them on random inputs at every size.

mod common;
use common::*;
use kiln::ir::ops::{BinaryOp, UnaryOp};
use kiln::Tensor;

const INF: f32 = f32::INFINITY;

/// The values where the inverse functions change form or leave their domain.
const EDGES: [f32; 22] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    -0.5,
    1e-6,
    -1e-6,
    1e-20,
    0.999_999,
    -0.999_999,
    1.000_001,
    1.5,
    -2.0,
    4095.0,
    4097.0,
    5000.0,
    -1e30,
    1e30,
    INF,
    -INF,
    f32::NAN,
];

#[test]
fn inverse_and_hyperbolic_functions_at_their_edges() {
    let dev = device();
    let x = Tensor::from_slice_on(&dev, &EDGES, &[EDGES.len()]).unwrap();
    for op in [
        UnaryOp::Asin,
        UnaryOp::Acos,
        UnaryOp::Asinh,
        UnaryOp::Acosh,
        UnaryOp::Atanh,
        UnaryOp::Log1p,
        UnaryOp::Erf,
        UnaryOp::Atan,
        UnaryOp::Trunc,
    ] {
        let (atol, rtol) = op.tolerance_f32();
        let y = x.unary(op).unwrap();
        check(&y, atol, rtol, op.name());
        // NaN exactly where the reference has NaN, infinities exactly where it has them.
        let got = y.to_vec::<f32>().unwrap();
        let want = y.reference().unwrap().to_vec::<f32>().unwrap();
        for ((&x, &g), &w) in EDGES.iter().zip(&got).zip(&want) {
            assert_eq!(g.is_nan(), w.is_nan(), "{}({x}) = {g}, not {w}", op.name());
            if w.is_infinite() {
                assert_eq!(g, w, "{}({x})", op.name());
            }
        }
    }
}

/// The functions WGSL computes itself, at NaN and the infinities.
#[test]
fn tan_sinh_cosh_at_nan_and_infinities() {
    let dev = device();
    let v = [f32::NAN, INF, -INF, 0.5, -0.0];
    let x = Tensor::from_slice_on(&dev, &v, &[5]).unwrap();
    for op in [UnaryOp::Tan, UnaryOp::Sinh, UnaryOp::Cosh] {
        let got = x.unary(op).unwrap().to_vec::<f32>().unwrap();
        assert!(got[0].is_nan(), "{}(NaN) = {}", op.name(), got[0]);
        check(
            &x.slice(0, 3, 5, 1).unwrap().unary(op).unwrap(),
            1e-5,
            1e-4,
            op.name(),
        );
    }
    let s = x.sinh().unwrap().to_vec::<f32>().unwrap();
    let c = x.cosh().unwrap().to_vec::<f32>().unwrap();
    assert_eq!((s[1], s[2], c[1], c[2]), (INF, -INF, INF, INF));
    // Finite past e^x's overflow (88.7), up to 89.4; across the series' edge at 0.5.
    let big =
        Tensor::from_slice_on(&dev, &[-89.2f32, 88.9, 0.4999, 0.5, 0.5001, -3.0], &[6]).unwrap();
    for op in [UnaryOp::Sinh, UnaryOp::Cosh] {
        check(&big.unary(op).unwrap(), 0.0, 2e-5, op.name());
    }
}

/// log1p and asinh keep their accuracy relative to tiny arguments, where `log(1 + x)` would
/// give 0.
#[test]
fn log1p_and_asinh_are_relative_near_zero() {
    let dev = device();
    let v: Vec<f32> = (1..=40).map(|i| 1e-12 * 1.7f32.powi(i)).collect();
    let x = Tensor::from_slice_on(&dev, &v, &[v.len()]).unwrap();
    for op in [
        UnaryOp::Log1p,
        UnaryOp::Asinh,
        UnaryOp::Atanh,
        UnaryOp::Sinh,
    ] {
        check(&x.unary(op).unwrap(), 0.0, 1e-5, op.name());
        check(&x.neg().unwrap().unary(op).unwrap(), 0.0, 1e-5, op.name());
    }
}

#[test]
fn atan2_in_every_quadrant_and_at_signed_zeros() {
    let dev = device();
    let y = [
        0.0f32, -0.0, 0.0, -0.0, 1.0, 1.0, -1.0, -1.0, 3.0, -2.5, 0.0, 1e-30,
    ];
    let x = [
        0.0f32, 0.0, -0.0, -0.0, 1.0, -1.0, 1.0, -1.0, 0.0, 0.0, 5.0, -7.0,
    ];
    let ty = Tensor::from_slice_on(&dev, &y, &[12]).unwrap();
    let tx = Tensor::from_slice_on(&dev, &x, &[12]).unwrap();
    let r = ty.atan2(&tx).unwrap();
    check(&r, 2e-6, 1e-5, "atan2");
    let got = r.to_vec::<f32>().unwrap();
    // atan2(±0, +0) = ±0 and atan2(±0, -0) = ±pi, signs included.
    assert_eq!(got[0].to_bits(), 0.0f32.to_bits());
    assert_eq!(got[1].to_bits(), (-0.0f32).to_bits());
    assert_eq!(got[2], std::f32::consts::PI);
    assert_eq!(got[3], -std::f32::consts::PI);
}

#[test]
fn bitwise_ops_and_shifts_past_the_width() {
    let dev = device();
    let a = [7i32, -7, i32::MIN, 5, -1, 12345, 0x5555_5555, -8];
    let b = [2i32, 2, -1, 0, 33, -4, 31, 32];
    let ta = Tensor::from_slice_on(&dev, &a, &[8]).unwrap();
    let tb = Tensor::from_slice_on(&dev, &b, &[8]).unwrap();
    for op in [
        BinaryOp::BitAnd,
        BinaryOp::BitOr,
        BinaryOp::BitXor,
        BinaryOp::Shl,
        BinaryOp::Shr,
        BinaryOp::RemFloor,
    ] {
        check(&ta.binary(op, &tb).unwrap(), 0.0, 0.0, op.name());
        let ua = ta.cast(kiln::DType::U32).unwrap();
        let ub = tb.cast(kiln::DType::U32).unwrap();
        check(&ua.binary(op, &ub).unwrap(), 0.0, 0.0, op.name());
    }
    check(&ta.bitwise_not().unwrap(), 0.0, 0.0, "bitwise_not");
    // -1 << 33 shifts by 1; -8 >> 32 shifts by 0; i32 >> is arithmetic.
    let shl = ta.shift_left(&tb).unwrap().to_vec::<i32>().unwrap();
    let shr = ta.shift_right(&tb).unwrap().to_vec::<i32>().unwrap();
    assert_eq!((shl[4], shr[7], shr[1]), (-2, -8, -2));
    let m = ta.rem_floor(&tb).unwrap().to_vec::<i32>().unwrap();
    assert_eq!(&m[..5], &[1, 1, 0, 0, 32]);
}

#[test]
fn floored_remainder_takes_the_divisors_sign() {
    let dev = device();
    let a = [-7.5f32, 7.5, 4.0, -4.0, 0.3, -1e-8, 5.0, f32::NAN];
    let b = [2.0f32, -2.0, -2.0, 2.0, 0.1, 3.0, INF, 1.0];
    let ta = Tensor::from_slice_on(&dev, &a, &[8]).unwrap();
    let tb = Tensor::from_slice_on(&dev, &b, &[8]).unwrap();
    let r = ta.rem_floor(&tb).unwrap();
    check(&r, 1e-5, 1e-5, "rem_floor");
    let got = r.to_vec::<f32>().unwrap();
    assert_eq!(&got[..4], &[0.5, -0.5, 0.0, 0.0]);
    assert!(got[7].is_nan());
}

#[test]
fn bitwise_ops_refuse_floats() {
    let dev = device();
    let x = random(&dev, kiln::DType::F32, &[3], -1.0, 1.0, 1);
    assert!(x.bitwise_and(&x).is_err());
    assert!(x.bitwise_not().is_err());
    let i = random(&dev, kiln::DType::I32, &[3], -5.0, 5.0, 2);
    assert!(i.atan2(&i).is_err());
    assert!(i.asin().is_err());
}

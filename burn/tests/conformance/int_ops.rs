//! Burn's int ops: arithmetic (divisors away from zero), bit ops, comparisons, reductions,
//! scans, casts and creation, on i32.

use crate::conform;
use crate::harness::*;
use burn_backend::{Distribution, Scalar, TensorData};
use burn_std::{BoolStore, FloatDType, IntDType, Shape};

const BOOL: BoolStore = BoolStore::Native;

/// Nonzero ints on `[-9, 10)`.
fn nz<B: Backend>(d: &B::Device, shape: &[usize], seed: u64) -> burn_backend::tensor::IntTensor<B> {
    let t = i::<B>(d, shape, -9, 9, seed);
    // x >= 0 -> x + 1: no zeros.
    let pos = B::int_greater_equal_elem(t.clone(), Scalar::Int(0), BOOL);
    B::int_add(t, B::bool_into_int(pos, IntDType::I32))
}

macro_rules! unary {
    ($($name:ident;)*) => {$(
        conform!($name, EXACT, d => { vec![ri::<B>(B::$name(i::<B>(d, &[3, 7], -50, 50, 1)))] });
    )*};
}

unary! { int_abs; int_neg; bitwise_not; int_sign; }

macro_rules! binary {
    ($($name:ident($lo:expr, $hi:expr);)*) => {$(
        conform!($name, EXACT, d => {
            vec![
                ri::<B>(B::$name(i::<B>(d, &[3, 7], $lo, $hi, 1), nz::<B>(d, &[3, 7], 2))),
                ri::<B>(B::$name(i::<B>(d, &[1, 7], $lo, $hi, 3), nz::<B>(d, &[5, 1], 4))),
            ]
        });
    )*};
}

binary! {
    int_add(-100, 100);
    int_sub(-100, 100);
    int_mul(-100, 100);
    int_div(-100, 100);
    int_remainder(-100, 100);
    bitwise_and(-100, 100);
    bitwise_or(-100, 100);
    bitwise_xor(-100, 100);
}

macro_rules! shifts {
    ($($name:ident, $scalar:ident;)*) => {$(
        conform!($name, EXACT, d => {
            vec![ri::<B>(B::$name(i::<B>(d, &[3, 7], 0, 1000, 1), i::<B>(d, &[3, 7], 0, 8, 2)))]
        });
        conform!($scalar, EXACT, d => {
            vec![ri::<B>(B::$scalar(i::<B>(d, &[3, 7], 0, 1000, 1), Scalar::Int(3)))]
        });
    )*};
}

shifts! {
    bitwise_left_shift, bitwise_left_shift_scalar;
    bitwise_right_shift, bitwise_right_shift_scalar;
}

macro_rules! scalar {
    ($($name:ident($s:expr);)*) => {$(
        conform!($name, EXACT, d => {
            vec![ri::<B>(B::$name(i::<B>(d, &[3, 7], -100, 100, 1), Scalar::Int($s)))]
        });
    )*};
}

scalar! {
    int_add_scalar(7);
    int_sub_scalar(-7);
    int_mul_scalar(-3);
    int_div_scalar(4);
    int_remainder_scalar(6);
    bitwise_and_scalar(0x35);
    bitwise_or_scalar(0x35);
    bitwise_xor_scalar(0x35);
}

macro_rules! compare_ops {
    ($($name:ident, $elem:ident;)*) => {$(
        conform!($name, EXACT, d => {
            vec![
                rb::<B>(B::$name(i::<B>(d, &[3, 7], -3, 4, 1), i::<B>(d, &[3, 7], -3, 4, 2), BOOL)),
                rb::<B>(B::$name(i::<B>(d, &[1, 7], -3, 4, 3), i::<B>(d, &[4, 1], -3, 4, 4), BOOL)),
            ]
        });
        conform!($elem, EXACT, d => {
            vec![rb::<B>(B::$elem(i::<B>(d, &[3, 7], -3, 4, 1), Scalar::Int(1), BOOL))]
        });
    )*};
}

compare_ops! {
    int_equal, int_equal_elem;
    int_not_equal, int_not_equal_elem;
    int_greater, int_greater_elem;
    int_greater_equal, int_greater_equal_elem;
    int_lower, int_lower_elem;
    int_lower_equal, int_lower_equal_elem;
}

macro_rules! reduce_dim {
    ($($name:ident($lo:expr, $hi:expr);)*) => {$(
        conform!($name, EXACT, d => {
            vec![
                ri::<B>(B::$name(i::<B>(d, &[3, 5, 4], $lo, $hi, 1), 1)),
                ri::<B>(B::$name(i::<B>(d, &[2, 9], $lo, $hi, 2), 1)),
            ]
        });
    )*};
}

reduce_dim! {
    int_sum_dim(-100, 100);
    int_mean_dim(-100, 100);
    int_prod_dim(-3, 4);
    int_max_dim(-100, 100);
    int_min_dim(-100, 100);
    int_cumsum(-100, 100);
    int_cumprod(-3, 4);
    int_cummax(-100, 100);
    int_cummin(-100, 100);
    int_argmax(-100, 100);
    int_argmin(-100, 100);
}

macro_rules! reduce_all {
    ($($name:ident($lo:expr, $hi:expr);)*) => {$(
        conform!($name, EXACT, d => { vec![ri::<B>(B::$name(i::<B>(d, &[3, 5], $lo, $hi, 1)))] });
    )*};
}

reduce_all! {
    int_sum(-100, 100);
    int_prod(-3, 4);
    int_max(-100, 100);
    int_min(-100, 100);
}

conform!(int_matmul, EXACT, d => {
    vec![ri::<B>(B::int_matmul(i::<B>(d, &[3, 7], -9, 9, 1), i::<B>(d, &[7, 5], -9, 9, 2)))]
});

conform!(int_clamp, EXACT, d => {
    vec![ri::<B>(B::int_clamp(i::<B>(d, &[3, 7], -50, 50, 1), Scalar::Int(-9), Scalar::Int(20)))]
});

conform!(int_cast, EXACT, d => {
    vec![ri::<B>(B::int_cast(i::<B>(d, &[3, 7], -50, 50, 1), IntDType::I64))]
});

conform!(int_into_float, EXACT, d => {
    vec![rf::<B>(B::int_into_float(i::<B>(d, &[3, 7], -5000, 5000, 1), FloatDType::F32))]
});

conform!(int_from_data, EXACT, d => {
    vec![ri::<B>(B::int_from_data(ints(&[2, 3, 5], -1000, 1000, 1), d))]
});

conform!(int_into_data, EXACT, d => {
    vec![ri::<B>(B::int_add_scalar(i::<B>(d, &[7], -9, 9, 1), Scalar::Int(1)))]
});

conform!(int_to_device, EXACT, d => {
    vec![ri::<B>(B::int_to_device(i::<B>(d, &[3, 7], -9, 9, 1), d))]
});

conform!(int_zeros, EXACT, d => { vec![ri::<B>(B::int_zeros(Shape::new([3, 7]), d, IntDType::I32))] });
conform!(int_ones, EXACT, d => { vec![ri::<B>(B::int_ones(Shape::new([1031]), d, IntDType::I32))] });
conform!(int_full, EXACT, d => {
    vec![ri::<B>(B::int_full(Shape::new([3, 7]), Scalar::Int(-17), d, IntDType::I32))]
});

// An empty tensor's values are unspecified: its shape is compared.
conform!(int_empty, EXACT, d => {
    let t = B::int_empty(Shape::new([3, 7]), d, IntDType::I32);
    vec![TensorData::new(burn_backend::TensorMetadata::shape(&t).iter().map(|&x| x as i32).collect::<Vec<_>>(), [2])]
});

conform!(int_arange, EXACT, d => {
    vec![ri::<B>(B::int_arange(-5..12, d, IntDType::I32))]
});

conform!(int_arange_step, EXACT, d => {
    vec![
        ri::<B>(B::int_arange_step(-5..12, 3, d, IntDType::I32)),
        ri::<B>(B::int_arange_step(4..4, 2, d, IntDType::I32)),
    ]
});

// Random values differ between backends: the range and mean are compared.
conform!(int_random, Tol { abs: 0.1, rel: 0.0 }, d => {
    let n = 20_000;
    let t = B::int_random(Shape::new([n]), Distribution::Uniform(-4.0, 6.0), d, IntDType::I32);
    let v: Vec<f64> = ri::<B>(t).iter::<f64>().collect();
    let mean = v.iter().sum::<f64>() / n as f64;
    let inside = v.iter().all(|x| (-4.0..6.0).contains(x) && x.fract() == 0.0);
    vec![TensorData::new(vec![mean as f32, f32::from(u8::from(inside))], [2])]
});

conform!(int_sort, EXACT, d => {
    vec![ri::<B>(B::int_sort(i::<B>(d, &[3, 9], -5, 5, 1), 1, true))]
});

conform!(int_argsort, EXACT, d => {
    // Distinct values: the order of ties is each backend's own.
    let x = B::int_argsort(i::<B>(d, &[4, 9], -1000, 1000, 7), 1, false);
    let y = B::int_argsort(x, 1, false);
    vec![ri::<B>(y)]
});

conform!(int_sort_with_indices, EXACT, d => {
    let (v, i) = B::int_sort_with_indices(i::<B>(d, &[2, 9], -1000, 1000, 3), 1, false);
    vec![ri::<B>(v), ri::<B>(i)]
});

//! Burn's float ops: elementwise math, arithmetic with broadcasts, comparisons, reductions,
//! scans, casts and creation.

use crate::conform;
use crate::harness::*;
use burn_backend::{Distribution, Scalar};
use burn_std::{BoolStore, FloatDType, IntDType, Shape};

const BOOL: BoolStore = BoolStore::Native;

macro_rules! unary {
    ($($name:ident($lo:expr, $hi:expr), $tol:expr;)*) => {$(
        conform!($name, $tol, d => {
            vec![
                rf::<B>(B::$name(f::<B>(d, &[3, 7], $lo, $hi, 1))),
                rf::<B>(B::$name(f::<B>(d, &[1031], $lo, $hi, 2))),
            ]
        });
    )*};
}

unary! {
    float_exp(-3.0, 3.0), MATH;
    float_log(0.05, 5.0), MATH;
    float_log1p(-0.5, 3.0), MATH;
    float_sqrt(0.01, 4.0), F32;
    float_abs(-2.0, 2.0), EXACT;
    float_neg(-2.0, 2.0), EXACT;
    float_sign(-2.0, 2.0), EXACT;
    float_recip(0.5, 3.0), F32;
    float_cos(-4.0, 4.0), MATH;
    float_sin(-4.0, 4.0), MATH;
    float_tan(-1.2, 1.2), MATH;
    float_cosh(-3.0, 3.0), MATH;
    float_sinh(-3.0, 3.0), MATH;
    float_tanh(-3.0, 3.0), MATH;
    float_acos(-0.99, 0.99), MATH;
    float_acosh(1.01, 5.0), MATH;
    float_asin(-0.99, 0.99), MATH;
    float_asinh(-3.0, 3.0), MATH;
    float_atan(-5.0, 5.0), MATH;
    float_atanh(-0.95, 0.95), MATH;
    float_round(-5.0, 5.0), EXACT;
    float_floor(-5.0, 5.0), EXACT;
    float_ceil(-5.0, 5.0), EXACT;
    float_trunc(-5.0, 5.0), EXACT;
    float_erf(-3.0, 3.0), MATH;
}

macro_rules! binary {
    ($($name:ident($lo:expr, $hi:expr), $tol:expr;)*) => {$(
        conform!($name, $tol, d => {
            vec![
                // Same shapes, then a row broadcast against a column.
                rf::<B>(B::$name(f::<B>(d, &[3, 7], $lo, $hi, 1), f::<B>(d, &[3, 7], $lo, $hi, 2))),
                rf::<B>(B::$name(f::<B>(d, &[1, 7], $lo, $hi, 3), f::<B>(d, &[5, 1], $lo, $hi, 4))),
            ]
        });
    )*};
}

binary! {
    float_add(-2.0, 2.0), F32;
    float_sub(-2.0, 2.0), F32;
    float_mul(-2.0, 2.0), F32;
    float_div(0.5, 2.0), F32;
    float_remainder(-5.0, 5.0), F32;
    float_powf(0.2, 2.0), MATH;
    float_atan2(-2.0, 2.0), MATH;
}

macro_rules! scalar {
    ($($name:ident($lo:expr, $hi:expr, $s:expr), $tol:expr;)*) => {$(
        conform!($name, $tol, d => {
            vec![rf::<B>(B::$name(f::<B>(d, &[3, 7], $lo, $hi, 1), Scalar::Float($s)))]
        });
    )*};
}

scalar! {
    float_add_scalar(-2.0, 2.0, 0.75), F32;
    float_sub_scalar(-2.0, 2.0, 0.75), F32;
    float_mul_scalar(-2.0, 2.0, -1.5), F32;
    float_div_scalar(-2.0, 2.0, 0.3), F32;
    float_remainder_scalar(-5.0, 5.0, 1.5), F32;
    float_powf_scalar_impl(0.2, 2.0, 2.5), MATH;
    float_powf_scalar(0.2, 2.0, 3.0), MATH;
}

macro_rules! compare_ops {
    ($($name:ident, $elem:ident;)*) => {$(
        conform!($name, EXACT, d => {
            vec![
                rb::<B>(B::$name(fi::<B>(d, &[3, 7], 1), fi::<B>(d, &[3, 7], 2), BOOL)),
                rb::<B>(B::$name(fi::<B>(d, &[1, 7], 3), fi::<B>(d, &[4, 1], 4), BOOL)),
            ]
        });
        conform!($elem, EXACT, d => {
            vec![rb::<B>(B::$elem(fi::<B>(d, &[3, 7], 1), Scalar::Float(1.0), BOOL))]
        });
    )*};
}

compare_ops! {
    float_equal, float_equal_elem;
    float_not_equal, float_not_equal_elem;
    float_greater, float_greater_elem;
    float_greater_equal, float_greater_equal_elem;
    float_lower, float_lower_elem;
    float_lower_equal, float_lower_equal_elem;
}

macro_rules! reduce_dim {
    ($($name:ident, $tol:expr;)*) => {$(
        conform!($name, $tol, d => {
            vec![
                rf::<B>(B::$name(f::<B>(d, &[3, 7, 5], 0.5, 1.5, 1), 1)),
                rf::<B>(B::$name(f::<B>(d, &[2, 1031], 0.9, 1.1, 2), 1)),
            ]
        });
    )*};
}

reduce_dim! {
    float_sum_dim, SUM;
    float_mean_dim, SUM;
    float_prod_dim, SUM;
    float_max_dim, EXACT;
    float_min_dim, EXACT;
    float_cumsum, SUM;
    float_cumprod, SUM;
    float_cummax, EXACT;
    float_cummin, EXACT;
    float_max_abs_dim, EXACT;
}

macro_rules! reduce_all {
    ($($name:ident, $tol:expr;)*) => {$(
        conform!($name, $tol, d => {
            vec![rf::<B>(B::$name(f::<B>(d, &[3, 7, 5], 0.9, 1.1, 1)))]
        });
    )*};
}

reduce_all! {
    float_sum, SUM;
    float_mean, SUM;
    float_prod, SUM;
    float_max, EXACT;
    float_min, EXACT;
    float_max_abs, EXACT;
}

conform!(float_argmax, EXACT, d => {
    vec![ri::<B>(B::float_argmax(f::<B>(d, &[3, 7, 5], -1.0, 1.0, 1), 1, IntDType::I32))]
});

conform!(float_argmin, EXACT, d => {
    vec![ri::<B>(B::float_argmin(f::<B>(d, &[3, 1031], -1.0, 1.0, 1), 1, IntDType::I32))]
});

conform!(float_matmul, SUM, d => {
    vec![
        rf::<B>(B::float_matmul(f::<B>(d, &[3, 7], -1.0, 1.0, 1), f::<B>(d, &[7, 5], -1.0, 1.0, 2))),
        // Batched, the batch broadcast.
        rf::<B>(B::float_matmul(f::<B>(d, &[2, 1, 3, 7], -1.0, 1.0, 3), f::<B>(d, &[1, 3, 7, 1], -1.0, 1.0, 4))),
    ]
});

conform!(float_cross, F32, d => {
    vec![rf::<B>(B::float_cross(f::<B>(d, &[4, 3], -1.0, 1.0, 1), f::<B>(d, &[4, 3], -1.0, 1.0, 2), 1))]
});

conform!(float_clamp, EXACT, d => {
    vec![rf::<B>(B::float_clamp(f::<B>(d, &[3, 7], -2.0, 2.0, 1), Scalar::Float(-0.5), Scalar::Float(0.7)))]
});

conform!(float_cast, Tol { abs: 0.0, rel: 1e-3 }, d => {
    let x = f::<B>(d, &[3, 7], -2.0, 2.0, 1);
    vec![
        rf::<B>(B::float_cast(x.clone(), FloatDType::F16)),
        rf::<B>(B::float_cast(x, FloatDType::BF16)),
    ]
});

conform!(float_into_int, EXACT, d => {
    vec![ri::<B>(B::float_into_int(f::<B>(d, &[3, 7], -9.0, 9.0, 1), IntDType::I32))]
});

conform!(float_from_data, EXACT, d => {
    vec![rf::<B>(B::float_from_data(floats(&[2, 3, 5], -1.0, 1.0, 1), d))]
});

conform!(float_into_data, EXACT, d => {
    vec![rf::<B>(B::float_add_scalar(f::<B>(d, &[7], -1.0, 1.0, 1), Scalar::Float(1.0)))]
});

conform!(float_to_device, EXACT, d => {
    vec![rf::<B>(B::float_to_device(f::<B>(d, &[3, 7], -1.0, 1.0, 1), d))]
});

conform!(float_zeros, EXACT, d => {
    vec![rf::<B>(B::float_zeros(Shape::new([3, 7]), d, FloatDType::F32))]
});

conform!(float_ones, EXACT, d => {
    vec![rf::<B>(B::float_ones(Shape::new([1031]), d, FloatDType::F32))]
});

conform!(float_full, EXACT, d => {
    vec![rf::<B>(B::float_full(Shape::new([3, 7]), Scalar::Float(-2.5), d, FloatDType::F32))]
});

// An empty tensor's values are unspecified: its shape and dtype are compared.
conform!(float_empty, EXACT, d => {
    let t = B::float_empty(Shape::new([3, 7]), d, FloatDType::F32);
    vec![burn_backend::TensorData::new(vec![0u8; 0], [0]), burn_backend::TensorData::new(
        burn_backend::TensorMetadata::shape(&t).to_vec().iter().map(|&x| x as i32).collect::<Vec<_>>(),
        [2],
    )]
});

// Random values differ between backends: their range and moments are compared.
conform!(float_random, Tol { abs: 0.05, rel: 0.0 }, d => {
    let n = 20_000;
    let summary = |t: burn_backend::tensor::FloatTensor<B>, lo: f64, hi: f64| {
        let v: Vec<f64> = rf::<B>(t).iter::<f64>().collect();
        let mean = v.iter().sum::<f64>() / n as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        let inside = v.iter().all(|x| *x >= lo && *x < hi);
        burn_backend::TensorData::new(vec![mean as f32, var as f32, f32::from(u8::from(inside))], [3])
    };
    vec![
        summary(B::float_random(Shape::new([n]), Distribution::Default, d, FloatDType::F32), 0.0, 1.0),
        summary(B::float_random(Shape::new([n]), Distribution::Uniform(-2.0, 3.0), d, FloatDType::F32), -2.0, 3.0),
        summary(B::float_random(Shape::new([n]), Distribution::Normal(1.0, 0.5), d, FloatDType::F32), -10.0, 10.0),
        summary(B::float_random(Shape::new([n]), Distribution::Bernoulli(0.3), d, FloatDType::F32), 0.0, 1.5),
    ]
});

conform!(float_is_nan, EXACT, d => {
    let x = B::float_from_data(burn_backend::TensorData::new(vec![1.0f32, f32::NAN, -0.0, f32::INFINITY], [4]), d);
    vec![rb::<B>(B::float_is_nan(x, BOOL))]
});

conform!(float_sort, EXACT, d => {
    vec![
        rf::<B>(B::float_sort(f::<B>(d, &[3, 7], -1.0, 1.0, 1), 1, false)),
        rf::<B>(B::float_sort(f::<B>(d, &[5, 3], -1.0, 1.0, 2), 0, true)),
    ]
});

conform!(float_argsort, EXACT, d => {
    vec![ri::<B>(B::float_argsort(f::<B>(d, &[3, 7], -1.0, 1.0, 1), 1, true, IntDType::I32))]
});

conform!(float_sort_with_indices, EXACT, d => {
    let (v, i) = B::float_sort_with_indices(f::<B>(d, &[4, 9], -1.0, 1.0, 1), 1, false, IntDType::I32);
    vec![rf::<B>(v), ri::<B>(i)]
});

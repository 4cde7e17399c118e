//! Burn's provided ops (its defaults over the required ones, or kiln's overrides): derived
//! math, reductions with indices, top-k, padding, repeats, activations and their gradients,
//! linear and embedding layers with gradients, convolution gradients.

use crate::conform;
use crate::harness::*;
use burn_backend::ops::ConvOptions;
use burn_backend::Scalar;
use burn_std::{BoolStore, IntDType, PadMode};

const BOOL: BoolStore = BoolStore::Native;

macro_rules! float_unary {
    ($($name:ident($lo:expr, $hi:expr), $tol:expr;)*) => {$(
        conform!($name, $tol, d => { vec![rf::<B>(B::$name(f::<B>(d, &[3, 7], $lo, $hi, 1)))] });
    )*};
}

float_unary! {
    float_transpose(-1.0, 1.0), EXACT;
    float_detach(-1.0, 1.0), EXACT;
    log_sigmoid(-5.0, 5.0), MATH;
}

macro_rules! float_dim {
    ($($name:ident, $tol:expr;)*) => {$(
        conform!($name, $tol, d => { vec![rf::<B>(B::$name(f::<B>(d, &[3, 7, 5], -2.0, 2.0, 1), 1))] });
    )*};
}

float_dim! { softmax, MATH; log_softmax, MATH; softmin, MATH; }

macro_rules! float_pair {
    ($($name:ident($lo:expr, $hi:expr), $tol:expr;)*) => {$(
        conform!($name, $tol, d => {
            vec![rf::<B>(B::$name(f::<B>(d, &[3, 7], $lo, $hi, 1), f::<B>(d, &[3, 7], $lo, $hi, 2)))]
        });
    )*};
}

float_pair! {
    float_hypot(-2.0, 2.0), MATH;
    relu_backward(-1.0, 1.0), EXACT;
    gelu_backward(-3.0, 3.0), MATH;
    sigmoid_backward(0.1, 0.9), F32;
    log_sigmoid_backward(-4.0, 4.0), MATH;
    prelu(-1.0, 1.0), F32;
}

conform!(float_clamp_min, EXACT, d => {
    vec![rf::<B>(B::float_clamp_min(f::<B>(d, &[3, 7], -1.0, 1.0, 1), Scalar::Float(-0.2)))]
});
conform!(float_clamp_max, EXACT, d => {
    vec![rf::<B>(B::float_clamp_max(f::<B>(d, &[3, 7], -1.0, 1.0, 1), Scalar::Float(0.3)))]
});
conform!(leaky_relu, F32, d => {
    vec![rf::<B>(B::leaky_relu(f::<B>(d, &[3, 7], -1.0, 1.0, 1), Scalar::Float(0.1)))]
});
conform!(hard_sigmoid, F32, d => {
    vec![rf::<B>(B::hard_sigmoid(f::<B>(d, &[3, 7], -5.0, 5.0, 1), Scalar::Float(0.2), Scalar::Float(0.5)))]
});
conform!(float_repeat_dim, EXACT, d => {
    vec![rf::<B>(B::float_repeat_dim(f::<B>(d, &[3, 1, 2], -1.0, 1.0, 1), 1, 4))]
});
conform!(float_sum_dims, SUM, d => {
    vec![rf::<B>(B::float_sum_dims(f::<B>(d, &[3, 7, 5], -1.0, 1.0, 1), &[0, 2]))]
});
conform!(float_is_inf, EXACT, d => {
    let x = B::float_from_data(burn_backend::TensorData::new(vec![1.0f32, f32::NEG_INFINITY, f32::NAN, f32::INFINITY], [4]), d);
    vec![rb::<B>(B::float_is_inf(x, BOOL))]
});
conform!(float_any, EXACT, d => {
    vec![rb::<B>(B::float_any(fi::<B>(d, &[3, 7], 1), BOOL)), rb::<B>(B::float_any(B::float_zeros(burn_std::Shape::new([4]), d, burn_std::FloatDType::F32), BOOL))]
});
conform!(float_any_dim, EXACT, d => { vec![rb::<B>(B::float_any_dim(fi::<B>(d, &[3, 4], 1), 1, BOOL))] });
conform!(float_all, EXACT, d => { vec![rb::<B>(B::float_all(fi::<B>(d, &[3, 7], 1), BOOL))] });
conform!(float_all_dim, EXACT, d => { vec![rb::<B>(B::float_all_dim(fi::<B>(d, &[3, 4], 1), 1, BOOL))] });
conform!(float_max_dim_with_indices, EXACT, d => {
    let (v, i) = B::float_max_dim_with_indices(f::<B>(d, &[3, 7, 5], -1.0, 1.0, 1), 1, IntDType::I32);
    vec![rf::<B>(v), ri::<B>(i)]
});
conform!(float_min_dim_with_indices, EXACT, d => {
    let (v, i) = B::float_min_dim_with_indices(f::<B>(d, &[3, 7, 5], -1.0, 1.0, 1), 2, IntDType::I32);
    vec![rf::<B>(v), ri::<B>(i)]
});
conform!(float_topk, EXACT, d => { vec![rf::<B>(B::float_topk(f::<B>(d, &[3, 11], -1.0, 1.0, 1), 1, 4))] });
conform!(float_argtopk, EXACT, d => {
    vec![ri::<B>(B::float_argtopk(f::<B>(d, &[3, 11], -1.0, 1.0, 1), 1, 4, IntDType::I32))]
});
conform!(float_topk_with_indices, EXACT, d => {
    let (v, i) = B::float_topk_with_indices(f::<B>(d, &[5, 3], -1.0, 1.0, 1), 0, 2, IntDType::I32);
    vec![rf::<B>(v), ri::<B>(i)]
});
conform!(float_powi, MATH, d => {
    vec![rf::<B>(B::float_powi(f::<B>(d, &[3, 7], -2.0, 2.0, 1), i::<B>(d, &[3, 7], 0, 5, 2)))]
});
conform!(float_powi_scalar, MATH, d => {
    vec![rf::<B>(B::float_powi_scalar(f::<B>(d, &[3, 7], -2.0, 2.0, 1), Scalar::Int(3)))]
});
conform!(float_powi_scalar_impl, MATH, d => {
    vec![rf::<B>(B::float_powi_scalar_impl(f::<B>(d, &[3, 7], -2.0, 2.0, 1), Scalar::Int(2)))]
});
conform!(float_pad, EXACT, d => {
    let x = f::<B>(d, &[3, 4], -1.0, 1.0, 1);
    vec![
        rf::<B>(B::float_pad(x.clone(), &[(1, 2), (0, 3)], PadMode::Constant(0.5))),
        rf::<B>(B::float_pad(x.clone(), &[(1, 1), (2, 0)], PadMode::Reflect)),
        rf::<B>(B::float_pad(x, &[(2, 1), (1, 1)], PadMode::Edge)),
    ]
});

conform!(int_transpose, EXACT, d => { vec![ri::<B>(B::int_transpose(i::<B>(d, &[3, 7], -9, 9, 1)))] });
conform!(int_square, EXACT, d => { vec![ri::<B>(B::int_square(i::<B>(d, &[3, 7], -99, 99, 1)))] });
conform!(int_mean, EXACT, d => { vec![ri::<B>(B::int_mean(i::<B>(d, &[3, 7], -99, 99, 1)))] });
conform!(int_max_abs, EXACT, d => { vec![ri::<B>(B::int_max_abs(i::<B>(d, &[3, 7], -99, 99, 1)))] });
conform!(int_max_abs_dim, EXACT, d => { vec![ri::<B>(B::int_max_abs_dim(i::<B>(d, &[3, 7], -99, 99, 1), 1))] });
conform!(int_clamp_min, EXACT, d => { vec![ri::<B>(B::int_clamp_min(i::<B>(d, &[3, 7], -9, 9, 1), Scalar::Int(-2)))] });
conform!(int_clamp_max, EXACT, d => { vec![ri::<B>(B::int_clamp_max(i::<B>(d, &[3, 7], -9, 9, 1), Scalar::Int(3)))] });
conform!(int_repeat_dim, EXACT, d => { vec![ri::<B>(B::int_repeat_dim(i::<B>(d, &[2, 3], -9, 9, 1), 0, 3))] });
conform!(int_any, EXACT, d => { vec![rb::<B>(B::int_any(i::<B>(d, &[3, 7], -2, 2, 1), BOOL))] });
conform!(int_any_dim, EXACT, d => { vec![rb::<B>(B::int_any_dim(i::<B>(d, &[5, 3], -1, 1, 1), 1, BOOL))] });
conform!(int_all, EXACT, d => { vec![rb::<B>(B::int_all(i::<B>(d, &[3, 7], -2, 2, 1), BOOL))] });
conform!(int_all_dim, EXACT, d => { vec![rb::<B>(B::int_all_dim(i::<B>(d, &[5, 3], 0, 3, 1), 1, BOOL))] });
conform!(int_powi, EXACT, d => {
    vec![ri::<B>(B::int_powi(i::<B>(d, &[3, 7], -5, 5, 1), i::<B>(d, &[3, 7], 0, 4, 2)))]
});
conform!(int_powi_scalar, EXACT, d => { vec![ri::<B>(B::int_powi_scalar(i::<B>(d, &[3, 7], -9, 9, 1), Scalar::Int(3)))] });
conform!(int_powi_scalar_impl, EXACT, d => { vec![ri::<B>(B::int_powi_scalar_impl(i::<B>(d, &[3, 7], -9, 9, 1), Scalar::Int(2)))] });
conform!(int_max_dim_with_indices, EXACT, d => {
    let (v, i) = B::int_max_dim_with_indices(i::<B>(d, &[3, 7], -999, 999, 1), 1);
    vec![ri::<B>(v), ri::<B>(i)]
});
conform!(int_min_dim_with_indices, EXACT, d => {
    let (v, i) = B::int_min_dim_with_indices(i::<B>(d, &[3, 7], -999, 999, 1), 1);
    vec![ri::<B>(v), ri::<B>(i)]
});
conform!(int_topk, EXACT, d => { vec![ri::<B>(B::int_topk(i::<B>(d, &[3, 11], -999, 999, 1), 1, 3))] });
conform!(int_argtopk, EXACT, d => { vec![ri::<B>(B::int_argtopk(i::<B>(d, &[3, 11], -999, 999, 1), 1, 3))] });
conform!(int_topk_with_indices, EXACT, d => {
    let (v, i) = B::int_topk_with_indices(i::<B>(d, &[3, 11], -999, 999, 1), 1, 3);
    vec![ri::<B>(v), ri::<B>(i)]
});
conform!(int_pad, EXACT, d => {
    vec![ri::<B>(B::int_pad(i::<B>(d, &[3, 4], -9, 9, 1), &[(1, 0), (2, 2)], PadMode::Constant(7.0)))]
});

conform!(bool_transpose, EXACT, d => { vec![rb::<B>(B::bool_transpose(b::<B>(d, &[3, 7], 1)))] });
conform!(bool_repeat_dim, EXACT, d => { vec![rb::<B>(B::bool_repeat_dim(b::<B>(d, &[2, 3], 1), 1, 2))] });
conform!(bool_not_equal_elem, EXACT, d => { vec![rb::<B>(B::bool_not_equal_elem(b::<B>(d, &[3, 7], 1), Scalar::Bool(true)))] });
conform!(bool_any, EXACT, d => { vec![rb::<B>(B::bool_any(b::<B>(d, &[3, 7], 1)))] });
conform!(bool_any_dim, EXACT, d => { vec![rb::<B>(B::bool_any_dim(b::<B>(d, &[5, 2], 1), 1))] });
conform!(bool_all, EXACT, d => { vec![rb::<B>(B::bool_all(b::<B>(d, &[3, 7], 1)))] });
conform!(bool_all_dim, EXACT, d => { vec![rb::<B>(B::bool_all_dim(b::<B>(d, &[5, 2], 1), 1))] });

conform!(linear, SUM, d => {
    vec![rf::<B>(B::linear(f::<B>(d, &[2, 5, 7], -1.0, 1.0, 1), f::<B>(d, &[7, 3], -1.0, 1.0, 2), Some(f::<B>(d, &[3], -1.0, 1.0, 3))))]
});
conform!(linear_x_backward, SUM, d => {
    vec![rf::<B>(B::linear_x_backward(f::<B>(d, &[7, 3], -1.0, 1.0, 2), f::<B>(d, &[2, 5, 3], -1.0, 1.0, 3)))]
});
conform!(linear_weight_backward, SUM, d => {
    vec![rf::<B>(B::linear_weight_backward(f::<B>(d, &[2, 5, 7], -1.0, 1.0, 1), f::<B>(d, &[2, 5, 3], -1.0, 1.0, 3)))]
});
conform!(linear_bias_backward, SUM, d => {
    vec![rf::<B>(B::linear_bias_backward(f::<B>(d, &[2, 5, 3], -1.0, 1.0, 3)))]
});
conform!(embedding, EXACT, d => {
    vec![rf::<B>(B::embedding(f::<B>(d, &[11, 4], -1.0, 1.0, 1), i::<B>(d, &[2, 5], 0, 11, 2)))]
});
conform!(embedding_backward, SUM, d => {
    vec![rf::<B>(B::embedding_backward(f::<B>(d, &[11, 4], -1.0, 1.0, 1), f::<B>(d, &[2, 5, 4], -1.0, 1.0, 3), i::<B>(d, &[2, 5], 0, 11, 2)))]
});

conform!(conv2d_x_backward, SUM, d => {
    let o = ConvOptions::new([2, 1], [1, 1], [1, 1], 1);
    vec![rf::<B>(B::conv2d_x_backward(f::<B>(d, &[2, 3, 7, 5], -1.0, 1.0, 1), f::<B>(d, &[4, 3, 3, 3], -1.0, 1.0, 2), f::<B>(d, &[2, 4, 4, 5], -1.0, 1.0, 3), o))]
});
conform!(conv2d_weight_backward, SUM, d => {
    let o = ConvOptions::new([2, 1], [1, 1], [1, 1], 1);
    vec![rf::<B>(B::conv2d_weight_backward(f::<B>(d, &[2, 3, 7, 5], -1.0, 1.0, 1), f::<B>(d, &[4, 3, 3, 3], -1.0, 1.0, 2), f::<B>(d, &[2, 4, 4, 5], -1.0, 1.0, 3), o))]
});
conform!(conv2d_bias_backward, SUM, d => {
    vec![rf::<B>(B::conv2d_bias_backward(f::<B>(d, &[2, 3, 7, 5], -1.0, 1.0, 1), f::<B>(d, &[4], -1.0, 1.0, 2), f::<B>(d, &[2, 4, 4, 5], -1.0, 1.0, 3)))]
});

conform!(float_gather_nd, EXACT, d => {
    let data = f::<B>(d, &[4, 5, 3], -1.0, 1.0, 1);
    let idx = B::int_cat(vec![i::<B>(d, &[6, 1], 0, 4, 2), i::<B>(d, &[6, 1], 0, 5, 3)], 1);
    vec![rf::<B>(B::float_gather_nd(data, idx))]
});
conform!(int_gather_nd, EXACT, d => {
    let data = i::<B>(d, &[4, 5], -99, 99, 1);
    let idx = B::int_cat(vec![i::<B>(d, &[2, 3, 1], 0, 4, 2), i::<B>(d, &[2, 3, 1], 0, 5, 3)], 2);
    vec![ri::<B>(B::int_gather_nd(data, idx))]
});
conform!(float_scatter_nd, SUM, d => {
    // Distinct rows for Assign; repeated ones for Add.
    let rows = B::int_from_data(burn_backend::TensorData::new(vec![3i32, 0, 2], [3, 1]), d);
    let rep = B::int_from_data(burn_backend::TensorData::new(vec![1i32, 1, 3], [3, 1]), d);
    vec![
        rf::<B>(B::float_scatter_nd(f::<B>(d, &[4, 5], -1.0, 1.0, 1), rows, f::<B>(d, &[3, 5], -1.0, 1.0, 2), burn_std::IndexingUpdateOp::Assign)),
        rf::<B>(B::float_scatter_nd(f::<B>(d, &[4, 5], -1.0, 1.0, 1), rep, f::<B>(d, &[3, 5], -1.0, 1.0, 2), burn_std::IndexingUpdateOp::Add)),
    ]
});
conform!(int_scatter_nd, EXACT, d => {
    let idx = B::int_from_data(burn_backend::TensorData::new(vec![3i32, 1, 0, 4, 3, 1], [3, 2]), d);
    vec![ri::<B>(B::int_scatter_nd(i::<B>(d, &[4, 5], -9, 9, 1), idx, i::<B>(d, &[3], -9, 9, 2), burn_std::IndexingUpdateOp::Max))]
});

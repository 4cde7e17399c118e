//! Burn's quantized math (its defaults: dequantize, the float op, and a quantized or float
//! result), on tensors quantized per tensor from the same floats on both backends.

use crate::conform;
use crate::harness::*;
use burn_backend::tensor::QuantizedTensor;
use burn_backend::{Scalar, TensorData, TensorPrimitive};
use burn_std::quantization::{QuantScheme, QuantStore, QuantValue};
use burn_std::{BoolStore, FloatDType, IntDType};

fn q<B: Backend>(
    d: &B::Device,
    shape: &[usize],
    lo: f64,
    hi: f64,
    seed: u64,
) -> QuantizedTensor<B> {
    let s = QuantScheme::default()
        .with_store(QuantStore::Native)
        .with_value(QuantValue::Q8S);
    B::quantize_dynamic(f::<B>(d, shape, lo, hi, seed), &s)
}

fn rq<B: Backend>(t: QuantizedTensor<B>) -> TensorData {
    rf::<B>(B::dequantize(t, FloatDType::F32))
}

fn rp<B: Backend>(t: TensorPrimitive<B>) -> TensorData {
    match t {
        TensorPrimitive::Float(f) => rf::<B>(f),
        TensorPrimitive::QFloat(q) => rq::<B>(q),
    }
}

macro_rules! to_float {
    ($($name:ident($lo:expr, $hi:expr);)*) => {$(
        conform!($name, SUM, d => { vec![rp::<B>(B::$name(q::<B>(d, &[3, 7], $lo, $hi, 1)))] });
    )*};
}

to_float! {
    q_neg(-1.0, 1.0); q_recip(0.5, 2.0); q_sum(-1.0, 1.0); q_prod(0.9, 1.1); q_mean(-1.0, 1.0);
    q_exp(-2.0, 2.0); q_log(0.2, 3.0); q_log1p(0.0, 3.0); q_sqrt(0.1, 3.0); q_cos(-2.0, 2.0);
    q_sin(-2.0, 2.0); q_tan(-1.0, 1.0); q_cosh(-2.0, 2.0); q_sinh(-2.0, 2.0); q_tanh(-2.0, 2.0);
    q_erf(-2.0, 2.0);
}

macro_rules! to_float_dim {
    ($($name:ident;)*) => {$(
        conform!($name, SUM, d => { vec![rp::<B>(B::$name(q::<B>(d, &[3, 7], 0.5, 1.5, 1), 1))] });
    )*};
}

to_float_dim! { q_sum_dim; q_prod_dim; q_mean_dim; q_cumsum; q_cumprod; q_cummin; q_cummax; }

macro_rules! to_quant {
    ($($name:ident;)*) => {$(
        conform!($name, SUM, d => { vec![rq::<B>(B::$name(q::<B>(d, &[3, 7], -1.0, 1.0, 1)))] });
    )*};
}

to_quant! { q_abs; q_max; q_min; q_max_abs; q_transpose; q_detach; }

macro_rules! to_quant_dim {
    ($($name:ident;)*) => {$(
        conform!($name, SUM, d => { vec![rq::<B>(B::$name(q::<B>(d, &[3, 7], -1.0, 1.0, 1), 1))] });
    )*};
}

to_quant_dim! { q_max_dim; q_min_dim; q_max_abs_dim; }

macro_rules! binary {
    ($($name:ident($lo:expr, $hi:expr);)*) => {$(
        conform!($name, SUM, d => {
            vec![rp::<B>(B::$name(q::<B>(d, &[3, 7], $lo, $hi, 1), q::<B>(d, &[3, 7], $lo, $hi, 2)))]
        });
    )*};
}

binary! { q_add(-1.0, 1.0); q_sub(-1.0, 1.0); q_mul(-1.0, 1.0); q_div(0.5, 2.0); q_powf(0.5, 2.0); }

macro_rules! scalar {
    ($($name:ident($s:expr);)*) => {$(
        conform!($name, SUM, d => { vec![rp::<B>(B::$name(q::<B>(d, &[3, 7], 0.2, 2.0, 1), $s))] });
    )*};
}

scalar! {
    q_add_scalar(Scalar::Float(0.5)); q_sub_scalar(Scalar::Float(0.5)); q_mul_scalar(Scalar::Float(-2.0));
    q_div_scalar(Scalar::Float(4.0)); q_clamp_min(Scalar::Float(0.7)); q_clamp_max(Scalar::Float(1.2));
    q_powi_scalar(Scalar::Int(2)); q_powf_scalar(Scalar::Float(1.5));
}

conform!(q_clamp, SUM, d => {
    vec![rp::<B>(B::q_clamp(q::<B>(d, &[3, 7], -1.0, 1.0, 1), Scalar::Float(-0.3), Scalar::Float(0.4)))]
});

conform!(q_powi, SUM, d => {
    vec![rp::<B>(B::q_powi(q::<B>(d, &[3, 7], -1.0, 1.0, 1), i::<B>(d, &[3, 7], 0, 4, 2)))]
});

conform!(q_matmul, SUM, d => {
    let a = TensorPrimitive::QFloat(q::<B>(d, &[3, 7], -1.0, 1.0, 1));
    let b = TensorPrimitive::QFloat(q::<B>(d, &[7, 5], -1.0, 1.0, 2));
    vec![rp::<B>(B::q_matmul(a, b))]
});

conform!(q_argmax, EXACT, d => { vec![ri::<B>(B::q_argmax(q::<B>(d, &[3, 7], -1.0, 1.0, 1), 1, IntDType::I32))] });
conform!(q_argmin, EXACT, d => { vec![ri::<B>(B::q_argmin(q::<B>(d, &[3, 7], -1.0, 1.0, 1), 1, IntDType::I32))] });
conform!(q_any, EXACT, d => { vec![rb::<B>(B::q_any(q::<B>(d, &[3, 7], -1.0, 1.0, 1), BoolStore::Native))] });
conform!(q_all, EXACT, d => { vec![rb::<B>(B::q_all(q::<B>(d, &[3, 7], -1.0, 1.0, 1), BoolStore::Native))] });
conform!(q_any_dim, EXACT, d => { vec![rb::<B>(B::q_any_dim(q::<B>(d, &[3, 7], -1.0, 1.0, 1), 1, BoolStore::Native))] });
conform!(q_all_dim, EXACT, d => { vec![rb::<B>(B::q_all_dim(q::<B>(d, &[3, 7], -1.0, 1.0, 1), 1, BoolStore::Native))] });
conform!(q_sort, SUM, d => { vec![rq::<B>(B::q_sort(q::<B>(d, &[3, 7], -1.0, 1.0, 1), 1, true))] });
conform!(q_topk, SUM, d => { vec![rq::<B>(B::q_topk(q::<B>(d, &[3, 7], -1.0, 1.0, 1), 1, 3))] });
conform!(q_cat, SUM, d => {
    vec![rq::<B>(B::q_cat(vec![q::<B>(d, &[3, 7], -1.0, 1.0, 1), q::<B>(d, &[2, 7], -1.0, 1.0, 2)], 0))]
});
conform!(q_repeat_dim, SUM, d => { vec![rq::<B>(B::q_repeat_dim(q::<B>(d, &[3, 1], -1.0, 1.0, 1), 1, 4))] });
conform!(q_slice, SUM, d => {
    vec![rq::<B>(B::q_slice(q::<B>(d, &[3, 7], -1.0, 1.0, 1), &[burn_std::Slice::new(1, None, 1), burn_std::Slice::new(0, Some(5), 2)]))]
});
conform!(q_select, SUM, d => {
    vec![rq::<B>(B::q_select(q::<B>(d, &[3, 7], -1.0, 1.0, 1), 1, i::<B>(d, &[4], 0, 7, 2)))]
});
conform!(q_gather, SUM, d => {
    vec![rq::<B>(B::q_gather(1, q::<B>(d, &[3, 7], -1.0, 1.0, 1), i::<B>(d, &[3, 4], 0, 7, 2)))]
});
conform!(q_expand, SUM, d => {
    vec![rq::<B>(B::q_expand(q::<B>(d, &[3, 1], -1.0, 1.0, 1), burn_std::Shape::new([2, 3, 4])))]
});

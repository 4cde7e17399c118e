//! Burn's quantized tensors: data written by Burn's own `TensorData::quantized`, quantized and
//! dequantized per tensor and per block (Burn's blocks tile the shape), and the layout ops.

use crate::conform;
use crate::harness::*;
use burn_backend::ops::{FloatTensorOps, QTensorOps};
use burn_backend::quantization::QuantizationParametersPrimitive;
use burn_backend::TensorData;
use burn_std::quantization::{QuantScheme, QuantStore, QuantValue, ScaleDtype};
use burn_std::{FloatDType, Shape};

fn schemes() -> Vec<QuantScheme> {
    let base = QuantScheme::default()
        .with_store(QuantStore::Native)
        .with_value(QuantValue::Q8S);
    vec![
        base,
        base.per_block([3], ScaleDtype::F32),
        base.per_block([2, 3], ScaleDtype::F32),
    ]
}

/// i8 values and their scales for `scheme` on a `[4, 6]` tensor (blocks of 3 and of 2 x 3
/// tile it).
fn written(scheme: QuantScheme, seed: u64) -> TensorData {
    let values: Vec<i8> = ints(&[24], -127, 128, seed)
        .iter::<i32>()
        .map(|v| v as i8)
        .collect();
    let blocks = match scheme.block_size() {
        None => 1,
        Some(b) => b.num_blocks(&[4, 6]).iter().product(),
    };
    let scales: Vec<f32> = floats(&[blocks], 0.01, 0.1, seed + 1)
        .iter::<f32>()
        .collect();
    TensorData::quantized(values, [4, 6], scheme, &scales, None)
}

conform!(q_from_data, EXACT, d => {
    schemes().into_iter().map(|s| rf::<B>(B::dequantize(B::q_from_data(written(s, 1), d), FloatDType::F32))).collect()
});

conform!(q_into_data, EXACT, d => {
    schemes()
        .into_iter()
        .map(|s| {
            let data = got(B::q_into_data(B::q_from_data(written(s, 2), d)));
            // The values and scales, dequantized by Burn's reader.
            rf::<B>(B::dequantize(B::q_from_data(data, d), FloatDType::F32))
        })
        .collect()
});

conform!(quantize, EXACT, d => {
    schemes()
        .into_iter()
        .map(|s| {
            let x = f::<B>(d, &[4, 6], -1.0, 1.0, 3);
            let n = match s.block_size() {
                None => 1,
                Some(b) => b.num_blocks(&[4, 6]).iter().product(),
            };
            let scales = f::<B>(d, &[n], 0.005, 0.01, 4);
            let scales = B::float_reshape(scales, Shape::from(match s.block_size() {
                None => vec![1],
                Some(b) => b.num_blocks(&[4, 6]),
            }));
            let q = B::quantize(x, &s, QuantizationParametersPrimitive { scales, global: None });
            rf::<B>(B::dequantize(q, FloatDType::F32))
        })
        .collect()
});

conform!(dequantize, EXACT, d => {
    schemes().into_iter().map(|s| rf::<B>(B::dequantize(B::q_from_data(written(s, 5), d), FloatDType::F32))).collect()
});

conform!(quantize_dynamic, Tol { abs: 1e-6, rel: 1e-5 }, d => {
    schemes()
        .into_iter()
        .map(|s| rf::<B>(B::dequantize(B::quantize_dynamic(f::<B>(d, &[4, 6], -1.0, 1.0, 6), &s), FloatDType::F32)))
        .collect()
});

/// A layout op on quantized data: kiln moves the values (and a block scheme's scales) exactly,
/// so its result is compared, exactly, with Burn's reference applying the float op to the
/// dequantized tensor (Burn's reference requantizes block tensors after a layout op, which
/// rounds again).
macro_rules! layout {
    ($($name:ident, $exact:expr, $q:expr, $f:expr;)*) => {$(
        #[test]
        fn $name() {
            let (kd, fd) = (Default::default(), Default::default());
            for s in schemes().into_iter().filter(|s| $exact(s)) {
                let q = Kiln::q_from_data(written(s, 7), &kd);
                let k = rf::<Kiln>(Kiln::dequantize($q(q, &kd), FloatDType::F32));
                let x = Flex::dequantize(Flex::q_from_data(written(s, 7), &fd), FloatDType::F32);
                let f = rf::<Flex>($f(x));
                compare(stringify!($name), EXACT, &[k], &[f]);
            }
        }
    )*};
}

layout! {
    // A 2 x 3 block does not survive this reshape (requantized: tested below).
    q_reshape, |s: &QuantScheme| s.block_size().is_none_or(|b| b.as_slice().len() == 1), |q, _| Kiln::q_reshape(q, Shape::new([2, 12])), |x| Flex::float_reshape(x, Shape::new([2, 12]));
    q_swap_dims, |_: &QuantScheme| true, |q, _| Kiln::q_swap_dims(q, 0, 1), |x| Flex::float_swap_dims(x, 0, 1);
    q_permute, |_: &QuantScheme| true, |q, _| Kiln::q_permute(q, &[1, 0]), |x| Flex::float_permute(x, &[1, 0]);
    q_flip, |_: &QuantScheme| true, |q, _| Kiln::q_flip(q, &[0, 1]), |x| Flex::float_flip(x, &[0, 1]);
    q_to_device, |_: &QuantScheme| true, Kiln::q_to_device, |x| x;
}

/// A reshape that block scales do not survive requantizes: within half a step of the new
/// scales (values up to 12.7, steps of about 0.1).
#[test]
fn q_reshape_requantized() {
    let (kd, fd) = (Default::default(), Default::default());
    let s = schemes()[2];
    let q = Kiln::q_from_data(written(s, 8), &kd);
    let k = rf::<Kiln>(Kiln::dequantize(
        Kiln::q_reshape(q, Shape::new([2, 12])),
        FloatDType::F32,
    ));
    let x = Flex::dequantize(Flex::q_from_data(written(s, 8), &fd), FloatDType::F32);
    let f = rf::<Flex>(Flex::float_reshape(x, Shape::new([2, 12])));
    compare(
        "q_reshape requantized",
        Tol {
            abs: 0.06,
            rel: 0.0,
        },
        &[k],
        &[f],
    );
}

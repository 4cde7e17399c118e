//! Burn's remaining defaults, each called through the trait: the 1-D pools (over the 2-D ones),
//! the convolutions' gradients in 1-D, 3-D and transposed, batch norm, CTC loss, grid
//! sampling, fold/unfold, the ops whose output shape depends on the data (`*_mask_select`,
//! `bool_argwhere`: Burn reads the mask back), the quantized selections with indices, the
//! autodiff flags (a plain backend keeps none) and the transaction.

use crate::conform;
use crate::harness::*;
use burn_backend::ops::{
    ConvOptions, ConvTransposeOptions, GridSampleOptions, TransactionPrimitive,
};
use burn_backend::tensor::QuantizedTensor;
use burn_backend::TensorData;
use burn_std::ops::{GridSamplePaddingMode, InterpolateMode, UnfoldOptions};
use burn_std::quantization::{QuantScheme, QuantStore, QuantValue};
use burn_std::{FloatDType, IntDType};

fn flag(v: bool) -> TensorData {
    TensorData::new(vec![v], [1])
}

fn q<B: Backend>(d: &B::Device, shape: &[usize], seed: u64) -> QuantizedTensor<B> {
    let s = QuantScheme::default()
        .with_store(QuantStore::Native)
        .with_value(QuantValue::Q8S);
    B::quantize_dynamic(f::<B>(d, shape, -1.0, 1.0, seed), &s)
}

fn rq<B: Backend>(t: QuantizedTensor<B>) -> TensorData {
    rf::<B>(B::dequantize(t, FloatDType::F32))
}

// 1-D pools: odd lengths, padding, ceil mode and dilation.
conform!(avg_pool1d, F32, d => {
    let x = f::<B>(d, &[2, 3, 11], -1.0, 1.0, 1);
    vec![
        rf::<B>(B::avg_pool1d(x.clone(), 3, 2, 1, true, false)),
        rf::<B>(B::avg_pool1d(x, 4, 3, 2, false, true)),
    ]
});
conform!(avg_pool1d_backward, F32, d => {
    let x = f::<B>(d, &[2, 3, 11], -1.0, 1.0, 1);
    let g = f::<B>(d, &[2, 3, 6], -1.0, 1.0, 2);
    vec![rf::<B>(B::avg_pool1d_backward(x, g, 3, 2, 1, false, false))]
});
conform!(adaptive_avg_pool1d, F32, d => {
    vec![rf::<B>(B::adaptive_avg_pool1d(f::<B>(d, &[2, 3, 11], -1.0, 1.0, 1), 4))]
});
conform!(adaptive_avg_pool1d_backward, F32, d => {
    let x = f::<B>(d, &[2, 3, 11], -1.0, 1.0, 1);
    vec![rf::<B>(B::adaptive_avg_pool1d_backward(x, f::<B>(d, &[2, 3, 4], -1.0, 1.0, 2)))]
});
conform!(max_pool1d, EXACT, d => {
    vec![rf::<B>(B::max_pool1d(f::<B>(d, &[2, 3, 13], -1.0, 1.0, 1), 3, 2, 1, 2, true))]
});
conform!(max_pool1d_with_indices, EXACT, d => {
    let r = B::max_pool1d_with_indices(f::<B>(d, &[2, 3, 13], -1.0, 1.0, 1), 3, 2, 1, 1, false, IntDType::I32);
    vec![rf::<B>(r.output), ri::<B>(r.indices)]
});
conform!(max_pool1d_with_indices_backward, F32, d => {
    let x = f::<B>(d, &[2, 3, 13], -1.0, 1.0, 1);
    let r = B::max_pool1d_with_indices(x.clone(), 3, 2, 1, 1, false, IntDType::I32);
    let g = f::<B>(d, &[2, 3, 7], -1.0, 1.0, 2);
    vec![rf::<B>(B::max_pool1d_with_indices_backward(x, 3, 2, 1, 1, false, g, r.indices).x_grad)]
});

// Convolution gradients: strides, padding, dilation and groups.
conform!(conv1d_backward, SUM, d => {
    let o = ConvOptions::new([2], [1], [2], 2);
    let (x, w) = (f::<B>(d, &[2, 4, 13], -1.0, 1.0, 1), f::<B>(d, &[6, 2, 3], -1.0, 1.0, 2));
    let g = f::<B>(d, &[2, 6, 6], -1.0, 1.0, 3);
    let bias = f::<B>(d, &[6], -1.0, 1.0, 4);
    vec![
        rf::<B>(B::conv1d_x_backward(x.clone(), w.clone(), g.clone(), o.clone())),
        rf::<B>(B::conv1d_weight_backward(x.clone(), w, g.clone(), o)),
        rf::<B>(B::conv1d_bias_backward(x, bias, g)),
    ]
});
conform!(conv3d_backward, SUM, d => {
    let o = ConvOptions::new([1, 2, 1], [1, 0, 1], [1, 1, 1], 1);
    let (x, w) = (f::<B>(d, &[1, 3, 5, 6, 4], -1.0, 1.0, 1), f::<B>(d, &[4, 3, 3, 2, 3], -1.0, 1.0, 2));
    let g = f::<B>(d, &[1, 4, 5, 3, 4], -1.0, 1.0, 3);
    let bias = f::<B>(d, &[4], -1.0, 1.0, 4);
    vec![
        rf::<B>(B::conv3d_x_backward(x.clone(), w.clone(), g.clone(), o.clone())),
        rf::<B>(B::conv3d_weight_backward(x.clone(), w, g.clone(), o)),
        rf::<B>(B::conv3d_bias_backward(x, bias, g)),
    ]
});
conform!(conv_transpose1d_backward, SUM, d => {
    let o = ConvTransposeOptions::new([2], [1], [1], [1], 1);
    let (x, w) = (f::<B>(d, &[2, 4, 7], -1.0, 1.0, 1), f::<B>(d, &[4, 3, 3], -1.0, 1.0, 2));
    let g = f::<B>(d, &[2, 3, 14], -1.0, 1.0, 3);
    let bias = f::<B>(d, &[3], -1.0, 1.0, 4);
    vec![
        rf::<B>(B::conv_transpose1d_x_backward(w.clone(), g.clone(), o.clone())),
        rf::<B>(B::conv_transpose1d_weight_backward(x.clone(), w, g.clone(), o)),
        rf::<B>(B::conv_transpose1d_bias_backward(x, bias, g)),
    ]
});
conform!(conv_transpose2d_backward, SUM, d => {
    let o = ConvTransposeOptions::new([2, 1], [1, 0], [1, 0], [1, 2], 2);
    let (x, w) = (f::<B>(d, &[2, 4, 5, 6], -1.0, 1.0, 1), f::<B>(d, &[4, 3, 3, 2], -1.0, 1.0, 2));
    let g = f::<B>(d, &[2, 6, 10, 8], -1.0, 1.0, 3);
    let bias = f::<B>(d, &[6], -1.0, 1.0, 4);
    vec![
        rf::<B>(B::conv_transpose2d_x_backward(w.clone(), g.clone(), o.clone())),
        rf::<B>(B::conv_transpose2d_weight_backward(x.clone(), w, g.clone(), o)),
        rf::<B>(B::conv_transpose2d_bias_backward(x, bias, g)),
    ]
});
conform!(conv_transpose3d_backward, SUM, d => {
    let o = ConvTransposeOptions::new([1, 2, 2], [0, 1, 0], [0, 1, 1], [1, 1, 1], 1);
    let (x, w) = (f::<B>(d, &[1, 3, 3, 4, 3], -1.0, 1.0, 1), f::<B>(d, &[3, 2, 2, 3, 2], -1.0, 1.0, 2));
    let g = f::<B>(d, &[1, 2, 4, 8, 7], -1.0, 1.0, 3);
    let bias = f::<B>(d, &[2], -1.0, 1.0, 4);
    vec![
        rf::<B>(B::conv_transpose3d_x_backward(w.clone(), g.clone(), o.clone())),
        rf::<B>(B::conv_transpose3d_weight_backward(x.clone(), w, g.clone(), o)),
        rf::<B>(B::conv_transpose3d_bias_backward(x, bias, g)),
    ]
});

// Batch norm: inference with running statistics, training with batch ones, and the gradients.
conform!(batch_norm, SUM, d => {
    let x = f::<B>(d, &[3, 5, 4, 3], -2.0, 2.0, 1);
    let (gamma, beta) = (f::<B>(d, &[5], 0.5, 1.5, 2), f::<B>(d, &[5], -1.0, 1.0, 3));
    let (mean, var) = (f::<B>(d, &[5], -0.5, 0.5, 4), f::<B>(d, &[5], 0.5, 2.0, 5));
    vec![rf::<B>(B::batch_norm(x, gamma, beta, mean, var, 1e-5))]
});
conform!(batch_norm_train, SUM, d => {
    let x = f::<B>(d, &[3, 5, 7], -2.0, 2.0, 1);
    let (gamma, beta) = (f::<B>(d, &[5], 0.5, 1.5, 2), f::<B>(d, &[5], -1.0, 1.0, 3));
    let r = B::batch_norm_train(x, gamma, beta, 1e-5);
    vec![rf::<B>(r.output), rf::<B>(r.mean), rf::<B>(r.variance)]
});
conform!(batch_norm_train_backward, Tol { abs: 1e-4, rel: 1e-3 }, d => {
    let x = f::<B>(d, &[3, 5, 7], -2.0, 2.0, 1);
    let gamma = f::<B>(d, &[5], 0.5, 1.5, 2);
    let r = B::batch_norm_train(x.clone(), gamma.clone(), f::<B>(d, &[5], -1.0, 1.0, 3), 1e-5);
    let g = f::<B>(d, &[3, 5, 7], -1.0, 1.0, 4);
    let b = B::batch_norm_train_backward(x, gamma, r.mean, r.variance, 1e-5, g);
    vec![rf::<B>(b.x_grad), rf::<B>(b.gamma_grad), rf::<B>(b.beta_grad)]
});

// CTC loss over log-softmaxed scores; targets of several lengths, one repeated label, blank 0.
// Burn (and kiln) leave `has_ctc_loss_backward` false: autodiff differentiates the forward's
// tensor ops, and `ctc_loss_backward` is never called (see `NEVER_CALLED` in methods.rs).
conform!(ctc_loss, Tol { abs: 1e-4, rel: 1e-4 }, d => {
    let (t, n, c) = (9, 3, 5);
    let logits = f::<B>(d, &[t, n, c], -2.0, 2.0, 1);
    let log_probs = B::log_softmax(logits, 2);
    let targets = B::int_from_data(TensorData::new(vec![1i32, 2, 2, 3, 4, 1, 0, 0, 3, 3, 1, 0], [n, 4]), d);
    let input_lengths = B::int_from_data(TensorData::new(vec![9i32, 7, 8], [n]), d);
    let target_lengths = B::int_from_data(TensorData::new(vec![4i32, 2, 3], [n]), d);
    vec![
        rf::<B>(B::ctc_loss(log_probs, targets, input_lengths, target_lengths, 0)),
        flag(B::has_ctc_loss_backward()),
    ]
});

// Grid sampling: both of the reference's modes and every padding rule, with and without
// aligned corners, at points inside and past the edges. (Bicubic, which the reference lacks,
// is a typed error: errors.rs.)
conform!(float_grid_sample_2d, Tol { abs: 1e-5, rel: 1e-4 }, d => {
    let x = f::<B>(d, &[2, 3, 5, 7], -1.0, 1.0, 1);
    let grid = f::<B>(d, &[2, 4, 6, 2], -1.3, 1.3, 2);
    let mut out = Vec::new();
    for mode in [InterpolateMode::Bilinear, InterpolateMode::Nearest] {
        for pad in [GridSamplePaddingMode::Zeros, GridSamplePaddingMode::Border, GridSamplePaddingMode::Reflection] {
            for align_corners in [false, true] {
                let o = GridSampleOptions { mode: mode.clone(), padding_mode: pad, align_corners };
                out.push(rf::<B>(B::float_grid_sample_2d(x.clone(), grid.clone(), o)));
            }
        }
    }
    // Points halfway between pixels (exact in binary: 5 pixels, corners aligned), where
    // nearest sampling rounds ties to even.
    let x5 = f::<B>(d, &[1, 2, 5, 5], -1.0, 1.0, 3);
    let halves: Vec<f32> = [-0.75f32, -0.25, 0.25, 0.75].iter().flat_map(|&a| [a, -a]).collect();
    let ties = B::float_from_data(TensorData::new(halves, [1, 2, 2, 2]), d);
    for mode in [InterpolateMode::Nearest, InterpolateMode::Bilinear] {
        let o = GridSampleOptions { mode, padding_mode: GridSamplePaddingMode::Zeros, align_corners: true };
        out.push(rf::<B>(B::float_grid_sample_2d(x5.clone(), ties.clone(), o)));
    }
    out
});

// Unfold into columns and fold back (a sum where patches overlap).
conform!(unfold4d, EXACT, d => {
    let o = UnfoldOptions::new([2, 1], [1, 0], [1, 2]);
    vec![rf::<B>(B::unfold4d(f::<B>(d, &[2, 3, 7, 6], -1.0, 1.0, 1), [3, 2], o))]
});
conform!(fold4d, SUM, d => {
    let o = UnfoldOptions::new([2, 1], [1, 0], [1, 2]);
    // 3 x 2 patches of 3 channels over a 7 x 6 output: 4 x 4 positions.
    vec![rf::<B>(B::fold4d(f::<B>(d, &[2, 3 * 6, 16], -1.0, 1.0, 1), [7, 6], [3, 2], o))]
});

// Data-dependent output shapes (Burn's defaults read the mask).
conform!(mask_select, EXACT, d => {
    let mask = b::<B>(d, &[4, 7], 1);
    vec![
        rf::<B>(block_on(B::float_mask_select(f::<B>(d, &[4, 7], -1.0, 1.0, 2), mask.clone()))),
        ri::<B>(block_on(B::int_mask_select(i::<B>(d, &[4, 7], -50, 50, 3), mask.clone()))),
        rb::<B>(block_on(B::bool_mask_select(b::<B>(d, &[4, 7], 4), mask))),
    ]
});
conform!(bool_argwhere, EXACT, d => {
    vec![ri::<B>(block_on(B::bool_argwhere(b::<B>(d, &[3, 5, 2], 1), IntDType::I32)))]
});

// Quantized selections with indices (per-tensor scale: dequantized order is the values' order).
conform!(q_sort_with_indices, SUM, d => {
    let (v, i) = B::q_sort_with_indices(q::<B>(d, &[3, 7], 1), 1, true, IntDType::I32);
    vec![rq::<B>(v), ri::<B>(i), ri::<B>(B::q_argsort(q::<B>(d, &[3, 7], 1), 1, false, IntDType::I32))]
});
conform!(q_topk_with_indices, SUM, d => {
    let (v, i) = B::q_topk_with_indices(q::<B>(d, &[3, 7], 2), 1, 3, IntDType::I32);
    vec![rq::<B>(v), ri::<B>(i), ri::<B>(B::q_argtopk(q::<B>(d, &[3, 7], 2), 1, 3, IntDType::I32))]
});
conform!(q_dim_with_indices, SUM, d => {
    let (maxv, maxi) = B::q_max_dim_with_indices(q::<B>(d, &[3, 7], 3), 1, IntDType::I32);
    let (minv, mini) = B::q_min_dim_with_indices(q::<B>(d, &[3, 7], 3), 0, IntDType::I32);
    vec![rq::<B>(maxv), ri::<B>(maxi), rq::<B>(minv), ri::<B>(mini)]
});

// A plain backend records no gradients: the flags read false whatever was set.
conform!(require_grad_flags, EXACT, d => {
    let x = B::float_set_require_grad(f::<B>(d, &[3], -1.0, 1.0, 1), true);
    let qx = B::q_set_require_grad(q::<B>(d, &[3], 2), true);
    vec![flag(B::float_is_require_grad(&x)), flag(B::q_is_require_grad(&qx)), rf::<B>(x), rq::<B>(qx)]
});

// A transaction reads every kind in one go.
conform!(tr_execute, EXACT, d => {
    let tr = TransactionPrimitive::<B>::new(
        vec![f::<B>(d, &[3, 2], -1.0, 1.0, 1)],
        vec![q::<B>(d, &[5], 2)],
        vec![i::<B>(d, &[7], -9, 9, 3)],
        vec![b::<B>(d, &[4], 4)],
    );
    let data = match block_on(B::tr_execute(tr)) {
        Ok(data) => data,
        Err(e) => panic!("transaction: {e:?}"),
    };
    let qs: Vec<TensorData> = data
        .read_qfloats
        .into_iter()
        .map(|q| rq::<B>(B::q_from_data(q, d)))
        .collect();
    [data.read_floats, qs, data.read_ints, data.read_bools].concat()
});

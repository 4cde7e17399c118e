//! Burn's module ops: convolutions (plain, transposed, deformable, with gradients), pooling
//! with gradients, interpolation with gradients, attention, layer norm and activations.

use crate::conform;
use crate::harness::*;
use burn_backend::ops::{
    AttentionModuleOptions, ConvOptions, ConvTransposeOptions, DeformConvOptions, InterpolateMode,
    InterpolateOptions,
};
use burn_std::IntDType;

fn interp(mode: InterpolateMode, align_corners: bool) -> InterpolateOptions {
    InterpolateOptions {
        mode,
        align_corners,
        output_size: None,
        scale_factor: None,
    }
}

// Burn's reference has no `NearestExact` (kiln's is tested against PyTorch's rule in
// tests/ops_interpolate.rs).
const MODES: [InterpolateMode; 4] = [
    InterpolateMode::Nearest,
    InterpolateMode::Bilinear,
    InterpolateMode::Bicubic,
    InterpolateMode::Lanczos3,
];

conform!(conv1d, SUM, d => {
    let o = ConvOptions::new([2], [1], [1], 1);
    vec![rf::<B>(B::conv1d(f::<B>(d, &[2, 4, 11], -1.0, 1.0, 1), f::<B>(d, &[6, 4, 3], -1.0, 1.0, 2), Some(f::<B>(d, &[6], -1.0, 1.0, 3)), o))]
});

conform!(conv2d, SUM, d => {
    let o = ConvOptions::new([2, 1], [1, 2], [1, 2], 2);
    vec![rf::<B>(B::conv2d(f::<B>(d, &[2, 4, 9, 7], -1.0, 1.0, 1), f::<B>(d, &[6, 2, 3, 3], -1.0, 1.0, 2), Some(f::<B>(d, &[6], -1.0, 1.0, 3)), o))]
});

conform!(conv3d, SUM, d => {
    let o = ConvOptions::new([1, 2, 1], [1, 0, 1], [1, 1, 1], 1);
    vec![rf::<B>(B::conv3d(f::<B>(d, &[1, 3, 5, 6, 4], -1.0, 1.0, 1), f::<B>(d, &[4, 3, 3, 2, 3], -1.0, 1.0, 2), None, o))]
});

conform!(conv_transpose1d, SUM, d => {
    let o = ConvTransposeOptions::new([2], [1], [1], [1], 1);
    vec![rf::<B>(B::conv_transpose1d(f::<B>(d, &[2, 4, 7], -1.0, 1.0, 1), f::<B>(d, &[4, 3, 3], -1.0, 1.0, 2), Some(f::<B>(d, &[3], -1.0, 1.0, 3)), o))]
});

conform!(conv_transpose2d, SUM, d => {
    let o = ConvTransposeOptions::new([2, 1], [1, 0], [1, 0], [1, 2], 2);
    vec![rf::<B>(B::conv_transpose2d(f::<B>(d, &[2, 4, 5, 6], -1.0, 1.0, 1), f::<B>(d, &[4, 3, 3, 2], -1.0, 1.0, 2), Some(f::<B>(d, &[6], -1.0, 1.0, 3)), o))]
});

conform!(conv_transpose3d, SUM, d => {
    let o = ConvTransposeOptions::new([1, 2, 2], [0, 1, 0], [0, 1, 1], [1, 1, 1], 1);
    vec![rf::<B>(B::conv_transpose3d(f::<B>(d, &[1, 3, 3, 4, 3], -1.0, 1.0, 1), f::<B>(d, &[3, 2, 2, 3, 2], -1.0, 1.0, 2), None, o))]
});

conform!(deform_conv2d, SUM, d => {
    let o = DeformConvOptions::new([1, 2], [1, 0], [1, 1], 1, 2);
    // Output 5 x 3 for a 5 x 7 input, kernel 3 x 3.
    let x = f::<B>(d, &[2, 4, 5, 7], -1.0, 1.0, 1);
    let off = f::<B>(d, &[2, 2 * 2 * 9, 5, 3], -1.5, 1.5, 2);
    let w = f::<B>(d, &[3, 4, 3, 3], -1.0, 1.0, 3);
    let m = f::<B>(d, &[2, 2 * 9, 5, 3], 0.0, 1.0, 4);
    vec![
        rf::<B>(B::deform_conv2d(x.clone(), off.clone(), w.clone(), Some(m), Some(f::<B>(d, &[3], -1.0, 1.0, 5)), o.clone())),
        rf::<B>(B::deform_conv2d(x, off, w, None, None, o)),
    ]
});

conform!(deform_conv2d_backward, Tol { abs: 1e-3, rel: 1e-3 }, d => {
    let o = DeformConvOptions::new([1, 1], [1, 1], [1, 1], 1, 1);
    let x = f::<B>(d, &[1, 2, 4, 5], -1.0, 1.0, 1);
    let off = f::<B>(d, &[1, 2 * 9, 4, 5], -1.5, 1.5, 2);
    let w = f::<B>(d, &[3, 2, 3, 3], -1.0, 1.0, 3);
    let m = f::<B>(d, &[1, 9, 4, 5], 0.0, 1.0, 4);
    let bias = f::<B>(d, &[3], -1.0, 1.0, 5);
    let g = f::<B>(d, &[1, 3, 4, 5], -1.0, 1.0, 6);
    let r = B::deform_conv2d_backward(x, off, w, Some(m), Some(bias), g, o);
    vec![
        rf::<B>(r.x_grad),
        rf::<B>(r.offset_grad),
        rf::<B>(r.weight_grad),
        rf::<B>(r.mask_grad.expect("a mask gradient")),
        rf::<B>(r.bias_grad.expect("a bias gradient")),
    ]
});

conform!(avg_pool2d, F32, d => {
    let x = f::<B>(d, &[2, 3, 9, 7], -1.0, 1.0, 1);
    vec![
        rf::<B>(B::avg_pool2d(x.clone(), [3, 2], [2, 2], [1, 1], true, false)),
        rf::<B>(B::avg_pool2d(x, [3, 3], [2, 2], [1, 0], false, true)),
    ]
});

conform!(avg_pool2d_backward, F32, d => {
    let x = f::<B>(d, &[2, 3, 9, 7], -1.0, 1.0, 1);
    let g = f::<B>(d, &[2, 3, 5, 4], -1.0, 1.0, 2);
    vec![rf::<B>(B::avg_pool2d_backward(x, g, [3, 2], [2, 2], [1, 1], true, false))]
});

conform!(adaptive_avg_pool2d, F32, d => {
    vec![rf::<B>(B::adaptive_avg_pool2d(f::<B>(d, &[2, 3, 9, 7], -1.0, 1.0, 1), [4, 3]))]
});

conform!(adaptive_avg_pool2d_backward, F32, d => {
    let x = f::<B>(d, &[2, 3, 9, 7], -1.0, 1.0, 1);
    vec![rf::<B>(B::adaptive_avg_pool2d_backward(x, f::<B>(d, &[2, 3, 4, 3], -1.0, 1.0, 2)))]
});

conform!(adaptive_avg_pool3d, F32, d => {
    vec![rf::<B>(B::adaptive_avg_pool3d(f::<B>(d, &[1, 2, 5, 7, 4], -1.0, 1.0, 1), [2, 3, 3]))]
});

conform!(adaptive_avg_pool3d_backward, F32, d => {
    let x = f::<B>(d, &[1, 2, 5, 7, 4], -1.0, 1.0, 1);
    vec![rf::<B>(B::adaptive_avg_pool3d_backward(x, f::<B>(d, &[1, 2, 2, 3, 3], -1.0, 1.0, 2)))]
});

conform!(max_pool2d, EXACT, d => {
    let x = f::<B>(d, &[2, 3, 9, 7], -1.0, 1.0, 1);
    vec![
        rf::<B>(B::max_pool2d(x.clone(), [3, 2], [2, 1], [1, 1], [1, 2], false)),
        rf::<B>(B::max_pool2d(x, [2, 2], [2, 2], [0, 0], [1, 1], true)),
    ]
});

conform!(max_pool2d_with_indices, EXACT, d => {
    let r = B::max_pool2d_with_indices(f::<B>(d, &[2, 3, 9, 7], -1.0, 1.0, 1), [3, 3], [2, 2], [1, 1], [1, 1], false, IntDType::I32);
    vec![rf::<B>(r.output), ri::<B>(r.indices)]
});

conform!(max_pool2d_with_indices_backward, F32, d => {
    let x = f::<B>(d, &[2, 3, 9, 7], -1.0, 1.0, 1);
    let r = B::max_pool2d_with_indices(x.clone(), [3, 3], [2, 2], [1, 1], [1, 1], false, IntDType::I32);
    let g = f::<B>(d, &[2, 3, 5, 4], -1.0, 1.0, 2);
    let back = B::max_pool2d_with_indices_backward(x, [3, 3], [2, 2], [1, 1], [1, 1], false, g, r.indices);
    vec![rf::<B>(back.x_grad)]
});

conform!(interpolate, Tol { abs: 1e-5, rel: 1e-5 }, d => {
    let x = f::<B>(d, &[2, 3, 5, 7], -1.0, 1.0, 1);
    let mut out = Vec::new();
    for mode in MODES {
        for align in [false, true] {
            for size in [[9, 4], [3, 11]] {
                out.push(rf::<B>(B::interpolate(x.clone(), size, interp(mode.clone(), align))));
            }
        }
    }
    out
});

conform!(interpolate_backward, Tol { abs: 1e-5, rel: 1e-5 }, d => {
    let x = f::<B>(d, &[1, 2, 5, 7], -1.0, 1.0, 1);
    let g = f::<B>(d, &[1, 2, 9, 4], -1.0, 1.0, 2);
    // Burn's reference has no Lanczos3 gradient (kiln's is checked as the adjoint in
    // tests/ops_interpolate.rs).
    MODES[..3]
        .iter()
        .map(|m| rf::<B>(B::interpolate_backward(x.clone(), g.clone(), [9, 4], interp(m.clone(), false))))
        .collect()
});

conform!(attention, Tol { abs: 1e-5, rel: 1e-4 }, d => {
    let q = f::<B>(d, &[2, 3, 17, 16], -1.0, 1.0, 1);
    let k = f::<B>(d, &[2, 3, 33, 16], -1.0, 1.0, 2);
    let v = f::<B>(d, &[2, 3, 33, 8], -1.0, 1.0, 3);
    let mask = b::<B>(d, &[2, 3, 17, 33], 4);
    let bias = f::<B>(d, &[2, 3, 17, 33], -1.0, 1.0, 5);
    let opts = |scale, softcap, is_causal| AttentionModuleOptions { scale, softcap, is_causal };
    // Square causal: every row keeps a key.
    let qs = f::<B>(d, &[1, 2, 9, 16], -1.0, 1.0, 6);
    let ks = f::<B>(d, &[1, 2, 9, 16], -1.0, 1.0, 7);
    let vs = f::<B>(d, &[1, 2, 9, 8], -1.0, 1.0, 8);
    vec![
        rf::<B>(B::attention(q.clone(), k.clone(), v.clone(), None, None, opts(None, None, false))),
        rf::<B>(B::attention(q.clone(), k.clone(), v.clone(), Some(mask.clone()), None, opts(Some(0.3), None, false))),
        rf::<B>(B::attention(q.clone(), k.clone(), v.clone(), None, None, opts(None, None, true))),
        rf::<B>(B::attention(q.clone(), k.clone(), v.clone(), Some(mask), Some(bias), opts(None, Some(2.0), false))),
        rf::<B>(B::attention(q, k, v, None, None, opts(None, Some(1.5), true))),
        rf::<B>(B::attention(qs, ks, vs, None, None, opts(None, None, true))),
    ]
});

conform!(layer_norm, Tol { abs: 1e-5, rel: 1e-4 }, d => {
    let x = f::<B>(d, &[3, 5, 37], -2.0, 2.0, 1);
    vec![
        rf::<B>(B::layer_norm(x.clone(), f::<B>(d, &[37], 0.5, 1.5, 2), Some(f::<B>(d, &[37], -1.0, 1.0, 3)), 1e-5)),
        rf::<B>(B::layer_norm(x, f::<B>(d, &[37], 0.5, 1.5, 4), None, 1e-3)),
    ]
});

conform!(relu, EXACT, d => { vec![rf::<B>(B::relu(f::<B>(d, &[3, 7], -1.0, 1.0, 1)))] });
conform!(gelu, MATH, d => { vec![rf::<B>(B::gelu(f::<B>(d, &[3, 7], -3.0, 3.0, 1)))] });
conform!(sigmoid, MATH, d => { vec![rf::<B>(B::sigmoid(f::<B>(d, &[3, 7], -5.0, 5.0, 1)))] });

//! Grid sampling (`float_grid_sample_2d`), by the rule of PyTorch and of Burn's reference
//! backend: grid points in [-1, 1] mapped to pixel coordinates (corners aligned or not), the
//! padding rule applied to the coordinates (border clamps, reflection folds them back), then
//! bilinear weights over the four neighbours or the nearest pixel (ties to even), a neighbour
//! outside the input reading 0 under zero padding. Bicubic sampling is a typed error: Burn's
//! reference has no bicubic grid sampling to define it against.
//!
//! Built from the backend's own tested ops: the coordinates are `[n, 1, h_out, w_out]`, each
//! neighbour is a gather from the input flattened to `[n, c, h · w]`.

use super::Kiln;
use crate::{BurnError, KilnTensor};
use burn_backend::ops::{
    BoolTensorOps, FloatTensorOps, GridSampleOptions, GridSamplePaddingMode, IntTensorOps,
    InterpolateMode,
};
use burn_backend::{Scalar, TensorMetadata};
use burn_std::{BoolDType, IntDType, Shape, Slice};
use std::sync::Arc;

const OP: &str = "grid_sample_2d";

fn f(v: f64) -> Scalar {
    Scalar::Float(v)
}

/// Samples `x: [n, c, h, w]` at `grid: [n, h_out, w_out, 2]` (x then y).
pub(super) fn grid_sample_2d(x: KilnTensor, grid: KilnTensor, o: GridSampleOptions) -> KilnTensor {
    let (xs, gs) = (x.shape(), grid.shape());
    let fail =
        |e: BurnError, out: Shape| KilnTensor::failed(Arc::new(e), out, x.dtype(), x.device());
    if xs.num_dims() != 4 || gs.num_dims() != 4 || gs[3] != 2 || gs[0] != xs[0] {
        let why =
            format!("input {xs:?} and grid {gs:?}: [n, c, h, w] and [n, h_out, w_out, 2] expected");
        return fail(BurnError::Shape { op: OP, why }, xs);
    }
    let (n, c, h, w) = (xs[0], xs[1], xs[2], xs[3]);
    let (ho, wo) = (gs[1], gs[2]);
    let out = Shape::new([n, c, ho, wo]);
    if h == 0 || w == 0 {
        let why = format!("an empty input {xs:?} has no pixel to sample");
        return fail(BurnError::Shape { op: OP, why }, out);
    }
    let bilinear = match o.mode {
        InterpolateMode::Bilinear => true,
        InterpolateMode::Nearest => false,
        InterpolateMode::NearestExact | InterpolateMode::Bicubic | InterpolateMode::Lanczos3 => {
            let why = format!(
                "{:?} sampling is not served (bilinear and nearest are)",
                o.mode
            );
            return fail(BurnError::Unsupported { op: OP, why }, out);
        }
    };
    let coord = |axis: usize, size: usize| {
        let all = |d: usize| Slice::new(0, Some(d as isize), 1);
        let g = Kiln::float_slice(
            grid.clone(),
            &[
                all(n),
                all(ho),
                all(wo),
                Slice::new(axis as isize, Some(axis as isize + 1), 1),
            ],
        );
        let g = Kiln::float_reshape(g, Shape::new([n, 1, ho, wo]));
        let s = size as f64;
        let p = if o.align_corners {
            Kiln::float_mul_scalar(Kiln::float_add_scalar(g, f(1.0)), f((s - 1.0) / 2.0))
        } else {
            let p = Kiln::float_mul_scalar(Kiln::float_add_scalar(g, f(1.0)), f(s / 2.0));
            Kiln::float_sub_scalar(p, f(0.5))
        };
        match o.padding_mode {
            GridSamplePaddingMode::Zeros => p,
            GridSamplePaddingMode::Border => Kiln::float_clamp(p, f(0.0), f(s - 1.0)),
            GridSamplePaddingMode::Reflection => reflect(p, s, o.align_corners),
        }
    };
    let (px, py) = (coord(0, w), coord(1, h));
    let flat = Kiln::float_reshape(x, Shape::new([n, c, h * w]));
    let zeros = o.padding_mode == GridSamplePaddingMode::Zeros;
    let tap = |xi: KilnTensor, yi: KilnTensor| sample(&flat, xi, yi, [n, c, h, w, ho, wo], zeros);
    if !bilinear {
        return tap(Kiln::float_round(px), Kiln::float_round(py));
    }
    let (x0, y0) = (Kiln::float_floor(px.clone()), Kiln::float_floor(py.clone()));
    let fx = Kiln::float_sub(px, x0.clone());
    let fy = Kiln::float_sub(py, y0.clone());
    let (x1, y1) = (
        Kiln::float_add_scalar(x0.clone(), f(1.0)),
        Kiln::float_add_scalar(y0.clone(), f(1.0)),
    );
    let gx = Kiln::float_neg(Kiln::float_sub_scalar(fx.clone(), f(1.0)));
    let gy = Kiln::float_neg(Kiln::float_sub_scalar(fy.clone(), f(1.0)));
    let term = |xi: &KilnTensor, yi: &KilnTensor, wx: &KilnTensor, wy: &KilnTensor| {
        let weight = Kiln::float_mul(wx.clone(), wy.clone());
        Kiln::float_mul(tap(xi.clone(), yi.clone()), weight)
    };
    let top = Kiln::float_add(term(&x0, &y0, &gx, &gy), term(&x1, &y0, &fx, &gy));
    let bottom = Kiln::float_add(term(&x0, &y1, &gx, &fy), term(&x1, &y1, &fx, &fy));
    Kiln::float_add(top, bottom)
}

/// Folds `p` back into the input, mirrored at its edges (pixel centres or pixel borders).
fn reflect(p: KilnTensor, size: f64, align_corners: bool) -> KilnTensor {
    let (lo, hi) = if align_corners {
        (0.0, size - 1.0)
    } else {
        (-0.5, size - 0.5)
    };
    let span = hi - lo;
    if span <= 0.0 {
        return Kiln::float_mul_scalar(p, f(0.0));
    }
    let period = 2.0 * span;
    let d = Kiln::float_abs(Kiln::float_sub_scalar(p, f(lo)));
    let wraps = Kiln::float_floor(Kiln::float_div_scalar(d.clone(), f(period)));
    let m = Kiln::float_sub(d, Kiln::float_mul_scalar(wraps, f(period)));
    let folded = Kiln::float_abs(Kiln::float_sub_scalar(m, f(span)));
    Kiln::float_add_scalar(Kiln::float_neg(folded), f(span + lo))
}

/// The pixel at integral coordinates `(xi, yi)` (`[n, 1, ho, wo]`) of every channel, as
/// `[n, c, ho, wo]`: clamped into the input, or 0 outside it under zero padding.
fn sample(
    flat: &KilnTensor,
    xi: KilnTensor,
    yi: KilnTensor,
    [n, c, h, w, ho, wo]: [usize; 6],
    zeros: bool,
) -> KilnTensor {
    let b = BoolDType::Native;
    let outside = zeros.then(|| {
        let inside_x = Kiln::bool_and(
            Kiln::float_greater_equal_elem(xi.clone(), f(0.0), b),
            Kiln::float_lower_equal_elem(xi.clone(), f(w as f64 - 1.0), b),
        );
        let inside_y = Kiln::bool_and(
            Kiln::float_greater_equal_elem(yi.clone(), f(0.0), b),
            Kiln::float_lower_equal_elem(yi.clone(), f(h as f64 - 1.0), b),
        );
        Kiln::bool_not(Kiln::bool_and(inside_x, inside_y))
    });
    // A NaN coordinate gathers pixel 0, never an index out of range (the value is NaN or 0).
    let safe = |v: KilnTensor, size: usize| {
        let nan = Kiln::float_is_nan(v.clone(), b);
        Kiln::float_clamp(
            Kiln::float_mask_fill(v, nan, f(0.0)),
            f(0.0),
            f(size as f64 - 1.0),
        )
    };
    let index = Kiln::float_add(
        Kiln::float_mul_scalar(safe(yi, h), f(w as f64)),
        safe(xi, w),
    );
    let index = Kiln::float_into_int(index, IntDType::I32);
    let index = Kiln::int_reshape(index, Shape::new([n, 1, ho * wo]));
    let index = Kiln::int_expand(index, Shape::new([n, c, ho * wo]));
    let v = Kiln::float_reshape(
        Kiln::float_gather(2, flat.clone(), index),
        Shape::new([n, c, ho, wo]),
    );
    match outside {
        Some(mask) => {
            let mask = Kiln::bool_expand(mask, Shape::new([n, c, ho, wo]));
            Kiln::float_mask_fill(v, mask, f(0.0))
        }
        None => v,
    }
}

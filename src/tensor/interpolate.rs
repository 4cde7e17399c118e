//! Resampling of the spatial dims (`torch.nn.functional.interpolate`, Burn's `interpolate`):
//! nearest, nearest-exact, (bi)linear and (bi)cubic, with PyTorch's source coordinates. Each
//! output reads a few taps per dim with weights that depend only on the sizes: a table of taps
//! and weights made on the host, one gather and a weighted sum. The gradient scatters the
//! weighted output gradient back through the same taps.

use super::window::{float_only, unflatten, Table, UNROLL_TAPS};
use super::{IndexUpdate, Tensor};
use crate::{Error, Result};
use kiln_ir::{IrError, Shape};

/// How [`Tensor::interpolate`] picks and weighs its taps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InterpolateMode {
    /// The input at `floor(out · in / size)` (PyTorch's `nearest`).
    Nearest,
    /// The input at `floor((out + 0.5) · in / size)` (PyTorch's `nearest-exact`).
    NearestExact,
    /// Linear along each dim between the two nearest inputs (bilinear in 2-D).
    Linear,
    /// Keys' cubic convolution (`A = -0.75`) over four inputs per dim (bicubic in 2-D), the
    /// taps clamped to the input.
    Cubic,
    /// The Lanczos kernel of 3 lobes over six inputs per dim (`floor(src) - 2 ..= + 3`),
    /// taps outside the input left out and the rest normalized to sum 1 (Burn's `Lanczos3`).
    Lanczos3,
}

/// The Lanczos kernel `sinc(x) · sinc(x / 3)` on `|x| < 3`.
fn lanczos3(x: f64) -> f64 {
    if x == 0.0 {
        return 1.0;
    }
    if x.abs() >= 3.0 {
        return 0.0;
    }
    let px = std::f64::consts::PI * x;
    (px.sin() * (px / 3.0).sin()) / (px * px / 3.0)
}

/// One dim's taps for output `o`: `(input index, weight)`.
fn taps(mode: InterpolateMode, align: bool, n: usize, out: usize, o: usize) -> Vec<(usize, f64)> {
    let last = n as isize - 1;
    let clamp = |i: isize| i.clamp(0, last) as usize;
    let scale = n as f64 / out as f64;
    // The source coordinate of linear and cubic modes.
    let src = || {
        if align {
            if out > 1 {
                o as f64 * (n as f64 - 1.0) / (out as f64 - 1.0)
            } else {
                0.0
            }
        } else {
            (o as f64 + 0.5) * scale - 0.5
        }
    };
    match mode {
        // Exact integer floors (a float scale misses the boundaries: 49·2/98 would floor to 0).
        InterpolateMode::Nearest => {
            let i = o as u128 * n as u128 / out as u128;
            vec![(clamp(i as isize), 1.0)]
        }
        InterpolateMode::NearestExact => {
            let i = (2 * o as u128 + 1) * n as u128 / (2 * out as u128);
            vec![(clamp(i as isize), 1.0)]
        }
        InterpolateMode::Linear => {
            let s = src().max(0.0);
            let i0 = (s.floor() as isize).min(last);
            let l = s - i0 as f64;
            vec![(clamp(i0), 1.0 - l), (clamp(i0 + 1), l)]
        }
        InterpolateMode::Cubic => {
            let s = src();
            let i = s.floor();
            let t = s - i;
            let a = -0.75;
            let near = |x: f64| ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
            let far = |x: f64| ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a;
            let w = [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)];
            (0..4)
                .map(|k| (clamp(i as isize - 1 + k as isize), w[k as usize]))
                .collect()
        }
        InterpolateMode::Lanczos3 => {
            // Six taps always (a table's rows are one width): those outside the input weigh 0.
            let s = src();
            let base = s.floor() as isize;
            let taps: Vec<(usize, f64)> = (base - 2..=base + 3)
                .map(|i| {
                    let w = if (0..=last).contains(&i) {
                        lanczos3(s - i as f64)
                    } else {
                        0.0
                    };
                    (clamp(i), w)
                })
                .collect();
            let sum: f64 = taps.iter().map(|t| t.1).sum();
            let norm = if sum != 0.0 { sum } else { 1.0 };
            taps.into_iter().map(|(i, w)| (i, w / norm)).collect()
        }
    }
}

/// The table of an interpolation of `x` to `size`, and its weights `[P, K]` (host values).
fn table(
    op: &'static str,
    x: &Tensor,
    size: &[usize],
    mode: InterpolateMode,
    align: bool,
) -> Result<(Table, Vec<f32>)> {
    float_only(op, x)?;
    let input = x.dims().get(2..).unwrap_or(&[]).to_vec();
    if !(3..=6).contains(&x.rank())
        || size.len() != input.len()
        || size.contains(&0)
        || input.contains(&0)
    {
        return Err(Error::from(IrError::BadShape {
            op,
            from: x.shape().clone(),
            to: Shape::new(size),
            why: "input [n, c, 1 to 4 spatial dims] of sizes at least 1, one output size each"
                .into(),
        }));
    }
    let per_dim: Vec<Vec<Vec<(usize, f64)>>> = (0..size.len())
        .map(|d| {
            (0..size[d])
                .map(|o| taps(mode, align, input[d], size[d], o))
                .collect()
        })
        .collect();
    let widths: Vec<usize> = per_dim.iter().map(|t| t[0].len()).collect();
    let table = Table::build(op, &input, size, &widths, |p, t| {
        Some((0..size.len()).map(|d| per_dim[d][p[d]][t[d]].0).collect())
    })?;
    let mut weights = Vec::with_capacity(table.index.len());
    for pi in 0..table.positions() {
        let p = unflatten(pi, size);
        for ki in 0..table.width() {
            let t = unflatten(ki, &widths);
            let w: f64 = (0..size.len()).map(|d| per_dim[d][p[d]][t[d]].1).product();
            weights.push(w as f32);
        }
    }
    Ok((table, weights))
}

impl Tensor {
    /// `self` (`[n, c, spatial..]`) resampled to `size` (one entry per spatial dim) by `mode`;
    /// with `align_corners`, the first and last outputs of a dim sit on its first and last
    /// inputs (linear and cubic modes). Weights are computed in f64 and rounded to f32; the
    /// weighted sum runs in f32.
    pub fn interpolate(
        &self,
        size: &[usize],
        mode: InterpolateMode,
        align_corners: bool,
    ) -> Result<Tensor> {
        let (table, w) = table("interpolate", self, size, mode, align_corners)?;
        let (p, k) = (table.positions(), table.width());
        let w = Tensor::from_slice_on(self.device(), &w, &[p, k])?.cast(self.dtype())?;
        let y = if k <= UNROLL_TAPS {
            // One gather per tap, weighted and summed in one elementwise kernel.
            let taps = table.upload(self)?;
            let mut acc: Option<Tensor> = None;
            for i in 0..k {
                let t = self.tap(&taps, i)?;
                let t = if k == 1 {
                    t
                } else {
                    t.mul(&w.narrow(1, i, 1)?.squeeze(1)?)?
                };
                acc = Some(match acc {
                    None => t,
                    Some(a) => a.add(&t)?,
                });
            }
            acc.ok_or_else(|| Error::from(IrError::Verify("an interpolation without taps".into())))?
        } else {
            self.windows(&table)?.mul(&w)?.sum(&[-1], false)?
        };
        let mut dims = self.dims()[..2].to_vec();
        dims.extend(size);
        y.reshape(&dims)
    }

    /// The gradient of [`Tensor::interpolate`] with respect to its input `self`, given the
    /// output's gradient `grad` (its spatial dims are the output size).
    pub fn interpolate_backward(
        &self,
        grad: &Tensor,
        mode: InterpolateMode,
        align_corners: bool,
    ) -> Result<Tensor> {
        const OP: &str = "interpolate_backward";
        let size = grad.dims().get(2..).unwrap_or(&[]).to_vec();
        let (table, w) = table(OP, self, &size, mode, align_corners)?;
        let (n, c) = (self.dims()[0], self.dims()[1]);
        if grad.dims()[..2] != [n, c] || grad.dtype() != self.dtype() {
            return Err(Error::from(IrError::BadShape {
                op: OP,
                from: grad.shape().clone(),
                to: self.shape().clone(),
                why: format!("the gradient must be [{n}, {c}, ..] of the input's dtype"),
            }));
        }
        let (p, k) = (table.positions(), table.width());
        let w = Tensor::from_slice_on(self.device(), &w, &[p, k])?.cast(self.dtype())?;
        let share = grad
            .reshape(&[n, c, p, 1])?
            .mul(&w)?
            .reshape(&[n, c, p * k])?;
        let index = table
            .upload(self)?
            .reshape(&[1, 1, p * k])?
            .broadcast_to(&[n, c, p * k])?;
        let len: usize = self.dims()[2..].iter().product();
        Tensor::full_on(self.device(), &[n, c, len], 0.0, self.dtype())?
            .scatter_reduce(2, &index, &share, IndexUpdate::Add)?
            .reshape(self.dims())
    }
}

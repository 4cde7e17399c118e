//! Interpolation on the GPU: PyTorch's published results for a 2 x 2 image (bilinear and
//! bicubic, with and without aligned corners), PyTorch's 2-D bilinear and nearest algorithms
//! transcribed here as loops, 1-D and 3-D linear, and gradients against the adjoint (the
//! gradient is the transpose of the linear map: `<interp(x), g> = <x, grad(g)>`).

mod common;
use common::*;
use kiln::{DType, InterpolateMode, Tensor};

#[test]
fn pytorch_results_for_a_two_by_two_image() {
    let dev = device();
    let x = Tensor::from_slice_on(&dev, &[1.0f32, 2.0, 3.0, 4.0], &[1, 1, 2, 2]).unwrap();
    let up = |mode, align| host_f64(&x.interpolate(&[4, 4], mode, align).unwrap());
    #[rustfmt::skip]
    let bilinear = [
        1.0, 1.25, 1.75, 2.0, 1.5, 1.75, 2.25, 2.5,
        2.5, 2.75, 3.25, 3.5, 3.0, 3.25, 3.75, 4.0,
    ];
    assert_near(
        &up(InterpolateMode::Linear, false),
        &bilinear,
        1e-6,
        "bilinear",
    );
    let t = 1.0 / 3.0;
    #[rustfmt::skip]
    let aligned = [
        1.0, 1.0 + t, 2.0 - t, 2.0, 1.0 + 2.0 * t, 2.0, 2.0 + t, 3.0 - t,
        2.0 + t, 3.0 - t, 3.0, 3.0 + t, 3.0, 3.0 + t, 4.0 - t, 4.0,
    ];
    assert_near(
        &up(InterpolateMode::Linear, true),
        &aligned,
        1e-6,
        "bilinear aligned",
    );
    #[rustfmt::skip]
    let bicubic = [
        0.68359375, 1.015625, 1.5625, 1.89453125, 1.34765625, 1.6796875, 2.2265625, 2.55859375,
        2.44140625, 2.7734375, 3.3203125, 3.65234375, 3.10546875, 3.4375, 3.984375, 4.31640625,
    ];
    assert_near(
        &up(InterpolateMode::Cubic, false),
        &bicubic,
        1e-6,
        "bicubic",
    );
    #[rustfmt::skip]
    let nearest = [1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0, 3.0, 3.0, 4.0, 4.0];
    assert_near(
        &up(InterpolateMode::Nearest, false),
        &nearest,
        0.0,
        "nearest",
    );
}

/// PyTorch's `upsample_bilinear2d` and `upsample_nearest2d` loops (area_pixel_compute_source_index,
/// then the two neighbours with `h1p = h1 < in - 1`).
fn torch_2d(
    x: &[f64],
    (h, w): (usize, usize),
    (oh, ow): (usize, usize),
    bilinear: bool,
    align: bool,
) -> Vec<f64> {
    let src = |o: usize, n: usize, out: usize| -> f64 {
        if align {
            if out > 1 {
                (n - 1) as f64 / (out - 1) as f64 * o as f64
            } else {
                0.0
            }
        } else {
            let r = (n as f64 / out as f64) * (o as f64 + 0.5) - 0.5;
            r.max(0.0)
        }
    };
    let mut y = vec![0.0; oh * ow];
    for i in 0..oh {
        for j in 0..ow {
            y[i * ow + j] = if bilinear {
                let (hr, wr) = (src(i, h, oh), src(j, w, ow));
                let (h1, w1) = (hr as usize, wr as usize);
                let (h1p, w1p) = ((h1 < h - 1) as usize, (w1 < w - 1) as usize);
                let (hl1, wl1) = (hr - h1 as f64, wr - w1 as f64);
                let (hl0, wl0) = (1.0 - hl1, 1.0 - wl1);
                hl0 * (wl0 * x[h1 * w + w1] + wl1 * x[h1 * w + w1 + w1p])
                    + hl1 * (wl0 * x[(h1 + h1p) * w + w1] + wl1 * x[(h1 + h1p) * w + w1 + w1p])
            } else {
                let hi = (i * h / oh).min(h - 1);
                let wi = (j * w / ow).min(w - 1);
                x[hi * w + wi]
            };
        }
    }
    y
}

#[test]
fn bilinear_and_nearest_as_pytorch_computes_them() {
    let dev = device();
    for (ci, (h, w, oh, ow)) in [
        (5, 7, 9, 4),
        (3, 3, 3, 3),
        (8, 6, 3, 11),
        (1, 4, 5, 1),
        (2, 3, 98, 5),
    ]
    .into_iter()
    .enumerate()
    {
        let x = random(&dev, DType::F32, &[2, 3, h, w], -1.0, 1.0, ci as u64);
        let xv = host_f64(&x);
        for (mode, bilinear) in [
            (InterpolateMode::Linear, true),
            (InterpolateMode::Nearest, false),
        ] {
            for align in [false, true] {
                let y = x.interpolate(&[oh, ow], mode, align).unwrap();
                let want: Vec<f64> = xv
                    .chunks(h * w)
                    .flat_map(|plane| torch_2d(plane, (h, w), (oh, ow), bilinear, align))
                    .collect();
                let what = format!("{mode:?} align {align} {h}x{w} -> {oh}x{ow}");
                assert_near(&host_f64(&y), &want, 1e-5, &what);
                check(&y, 1e-6, 1e-5, &what);
            }
        }
    }
}

/// The gradient is the adjoint: `<interp(x), g> = <x, backward(g)>` for random x and g, in
/// every mode, 1 to 3 spatial dims.
#[test]
fn gradients_are_the_adjoint() {
    let dev = device();
    let modes = [
        InterpolateMode::Nearest,
        InterpolateMode::NearestExact,
        InterpolateMode::Linear,
        InterpolateMode::Cubic,
        InterpolateMode::Lanczos3,
    ];
    for (ci, (xd, size)) in [
        (vec![2, 3, 7], vec![12]),
        (vec![1, 2, 5, 6], vec![3, 9]),
        (vec![1, 1, 3, 4, 2], vec![5, 2, 3]),
    ]
    .into_iter()
    .enumerate()
    {
        let x = random(&dev, DType::F32, &xd, -1.0, 1.0, 10 + ci as u64);
        for mode in modes {
            for align in [false, true] {
                let y = x.interpolate(&size, mode, align).unwrap();
                let g = random(&dev, DType::F32, y.dims(), -1.0, 1.0, 20 + ci as u64);
                let dx = x.interpolate_backward(&g, mode, align).unwrap();
                let lhs: f64 = host_f64(&y)
                    .iter()
                    .zip(host_f64(&g))
                    .map(|(a, b)| a * b)
                    .sum();
                let rhs: f64 = host_f64(&x)
                    .iter()
                    .zip(host_f64(&dx))
                    .map(|(a, b)| a * b)
                    .sum();
                let what = format!("{mode:?} align {align} {xd:?} -> {size:?}");
                assert!(
                    (lhs - rhs).abs() <= 1e-4 * (1.0 + lhs.abs()),
                    "{what}: {lhs} vs {rhs}"
                );
                check(&dx, 1e-5, 1e-5, &what);
            }
        }
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let dev = device();
    let x = random(&dev, DType::F32, &[1, 2, 4, 4], -1.0, 1.0, 1);
    assert!(x.interpolate(&[3], InterpolateMode::Linear, false).is_err());
    assert!(x
        .interpolate(&[0, 3], InterpolateMode::Linear, false)
        .is_err());
    let i = random(&dev, DType::I32, &[1, 2, 4, 4], -3.0, 3.0, 2);
    assert!(i
        .interpolate(&[3, 3], InterpolateMode::Nearest, false)
        .is_err());
    let g = random(&dev, DType::F32, &[1, 3, 4, 4], -1.0, 1.0, 3);
    assert!(x
        .interpolate_backward(&g, InterpolateMode::Linear, false)
        .is_err());
}

/// Lanczos3 in 1-D from its definition: six taps around `floor(src)`, those inside the input
/// weighted by `sinc(d) sinc(d / 3)` and normalized, down and up, aligned or not.
#[test]
fn lanczos3_matches_its_definition() {
    let dev = device();
    let n = 7;
    let x = random(&dev, DType::F32, &[1, 1, n], -1.0, 1.0, 31);
    let xs = host_f64(&x);
    let kernel = |d: f64| {
        if d == 0.0 {
            1.0
        } else if d.abs() >= 3.0 {
            0.0
        } else {
            let p = std::f64::consts::PI * d;
            p.sin() * (p / 3.0).sin() / (p * p / 3.0)
        }
    };
    for out in [3usize, 12] {
        for align in [false, true] {
            let y = host_f64(
                &x.interpolate(&[out], InterpolateMode::Lanczos3, align)
                    .unwrap(),
            );
            for (o, got) in y.iter().enumerate() {
                let s = if align {
                    o as f64 * (n - 1) as f64 / (out - 1) as f64
                } else {
                    (o as f64 + 0.5) * n as f64 / out as f64 - 0.5
                };
                let b = s.floor() as isize;
                let (mut acc, mut wsum) = (0.0, 0.0);
                for i in (b - 2..=b + 3).filter(|&i| i >= 0 && i < n as isize) {
                    let w = kernel(s - i as f64);
                    acc += w * xs[i as usize];
                    wsum += w;
                }
                let want = acc / wsum;
                assert!(
                    (got - want).abs() < 1e-5,
                    "out {out} align {align} o {o}: {got} vs {want}"
                );
            }
        }
    }
}

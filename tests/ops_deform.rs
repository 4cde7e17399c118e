//! Deformable convolution on the GPU: against torchvision's bilinear sampling written here as
//! loops, against `conv` at zero offsets, and its gradients against the adjoint identities
//! (the output is linear in the input, the weight and the mask) and a central difference
//! along a random offset direction (exact: the samples are bilinear in the offsets, and the
//! steps stay inside one cell).

mod common;
use common::*;
use kiln::{ConvOptions, DType, DeformConvOptions, Tensor};

fn dot(a: &Tensor, b: &Tensor) -> f64 {
    host_f64(a)
        .iter()
        .zip(host_f64(b))
        .map(|(x, y)| x * y)
        .sum()
}

/// torchvision's `bilinear_interpolate` of one plane.
fn sample(x: &[f64], h: usize, w: usize, y: f64, xx: f64) -> f64 {
    if y <= -1.0 || y >= h as f64 || xx <= -1.0 || xx >= w as f64 {
        return 0.0;
    }
    let (y0, x0) = (y.floor() as isize, xx.floor() as isize);
    let (ly, lx) = (y - y0 as f64, xx - x0 as f64);
    let at = |i: isize, j: isize| {
        if i >= 0 && j >= 0 && i < h as isize && j < w as isize {
            x[i as usize * w + j as usize]
        } else {
            0.0
        }
    };
    (1.0 - ly) * (1.0 - lx) * at(y0, x0)
        + (1.0 - ly) * lx * at(y0, x0 + 1)
        + ly * (1.0 - lx) * at(y0 + 1, x0)
        + ly * lx * at(y0 + 1, x0 + 1)
}

struct Case {
    x: Tensor,
    offset: Tensor,
    weight: Tensor,
    mask: Tensor,
    bias: Tensor,
    o: DeformConvOptions,
}

fn case(dev: &kiln::Device, seed: u64, frac: bool) -> Case {
    let o = DeformConvOptions {
        stride: [2, 1],
        padding: [1, 1],
        dilation: [1, 2],
        weight_groups: 2,
        offset_groups: 2,
    };
    let (n, c, h, w, oc, kh, kw) = (2, 4, 7, 6, 6, 3, 2);
    let (ho, wo) = ((h + 2 - 3) / 2 + 1, (w + 2 - 3) + 1);
    let k = kh * kw;
    let mut offset = random(
        dev,
        DType::F32,
        &[n, 2 * 2 * k, ho, wo],
        -2.0,
        2.0,
        seed + 1,
    );
    if frac {
        // Fractional parts in [0.25, 0.75]: steps of 0.1 never cross a cell.
        let v: Vec<f32> = offset
            .to_vec::<f32>()
            .unwrap()
            .into_iter()
            .map(|t| t.floor() + 0.25 + 0.5 * (t - t.floor()))
            .collect();
        offset = Tensor::from_slice_on(dev, &v, offset.dims()).unwrap();
    }
    Case {
        x: random(dev, DType::F32, &[n, c, h, w], -1.0, 1.0, seed),
        offset,
        weight: random(dev, DType::F32, &[oc, c / 2, kh, kw], -1.0, 1.0, seed + 2),
        mask: random(dev, DType::F32, &[n, 2 * k, ho, wo], 0.0, 1.0, seed + 3),
        bias: random(dev, DType::F32, &[oc], -1.0, 1.0, seed + 4),
        o,
    }
}

#[test]
fn forward_against_torchvision_sampling() {
    let dev = device();
    let t = case(&dev, 1, false);
    let y =
        t.x.deform_conv2d(&t.offset, &t.weight, Some(&t.mask), Some(&t.bias), &t.o)
            .unwrap();
    let (xd, yd) = (t.x.dims().to_vec(), y.dims().to_vec());
    let (n, c, h, w) = (xd[0], xd[1], xd[2], xd[3]);
    let (oc, ho, wo) = (yd[1], yd[2], yd[3]);
    let (kh, kw) = (t.weight.dims()[2], t.weight.dims()[3]);
    let (xv, ov, wv, mv, bv) = (
        host_f64(&t.x),
        host_f64(&t.offset),
        host_f64(&t.weight),
        host_f64(&t.mask),
        host_f64(&t.bias),
    );
    let (cg, ocg, cog) = (c / 2, oc / 2, c / 2);
    let k = kh * kw;
    let mut want = vec![0.0; n * oc * ho * wo];
    for ni in 0..n {
        for oi in 0..oc {
            for py in 0..ho {
                for px in 0..wo {
                    let mut acc = bv[oi];
                    for j in 0..cg {
                        let ch = oi / ocg * cg + j;
                        let g = ch / cog;
                        for ti in 0..k {
                            let (i, jj) = (ti / kw, ti % kw);
                            let at = |chan: usize| ((ni * (4 * k) + chan) * ho + py) * wo + px;
                            let dy = ov[at(2 * (g * k + ti))];
                            let dx = ov[at(2 * (g * k + ti) + 1)];
                            let m = mv[((ni * 2 * k + g * k + ti) * ho + py) * wo + px];
                            let yy = (py * 2 + i) as f64 - 1.0 + dy;
                            let xx = (px + jj * 2) as f64 - 1.0 + dx;
                            let plane = &xv[(ni * c + ch) * h * w..][..h * w];
                            acc += sample(plane, h, w, yy, xx) * m * wv[(oi * cg + j) * k + ti];
                        }
                    }
                    want[((ni * oc + oi) * ho + py) * wo + px] = acc;
                }
            }
        }
    }
    let got = host_f64(&y);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-5 * (1.0 + w.abs()),
            "[{i}]: got {g}, want {w}"
        );
    }
    check(&y, 1e-5, 1e-5, "deform_conv2d");
}

#[test]
fn zero_offsets_are_a_convolution() {
    let dev = device();
    let t = case(&dev, 2, false);
    let zero = t.offset.mul_scalar(0.0).unwrap();
    let y =
        t.x.deform_conv2d(&zero, &t.weight, None, Some(&t.bias), &t.o)
            .unwrap();
    let conv = ConvOptions {
        stride: vec![2, 1],
        padding: vec![(1, 1), (1, 1)],
        dilation: vec![1, 2],
        groups: 2,
    };
    let want = t.x.conv(&t.weight, Some(&t.bias), &conv).unwrap();
    let (g, w) = (host_f64(&y), host_f64(&want));
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "[{i}]: {a} vs {b}");
    }
}

#[test]
fn gradients_are_the_adjoint_and_the_derivative() {
    let dev = device();
    let t = case(&dev, 3, true);
    let f = |x: &Tensor, off: &Tensor, w: &Tensor, m: &Tensor| {
        x.deform_conv2d(off, w, Some(m), None, &t.o).unwrap()
    };
    let y = f(&t.x, &t.offset, &t.weight, &t.mask);
    let g = random(&dev, DType::F32, y.dims(), -1.0, 1.0, 30);
    let gr =
        t.x.deform_conv2d_backward(&t.offset, &t.weight, Some(&t.mask), &g, &t.o)
            .unwrap();
    let lhs = dot(&g, &y);
    let close = |a: f64, b: f64, what: &str| {
        assert!(
            (a - b).abs() <= 1e-3 * (1.0 + a.abs()),
            "{what}: {a} vs {b}"
        );
    };
    close(lhs, dot(&t.x, &gr.x), "input");
    close(lhs, dot(&t.weight, &gr.weight), "weight");
    close(lhs, dot(&t.mask, gr.mask.as_ref().unwrap()), "mask");
    let bias_want: Vec<f64> = {
        let gv = host_f64(&g);
        let per = gv.len() / (g.dims()[0] * g.dims()[1]);
        (0..g.dims()[1])
            .map(|o| {
                (0..g.dims()[0])
                    .map(|n| gv[(n * g.dims()[1] + o) * per..][..per].iter().sum::<f64>())
                    .sum()
            })
            .collect()
    };
    for (a, b) in host_f64(&gr.bias).iter().zip(&bias_want) {
        close(*b, *a, "bias");
    }
    // A central difference along a random direction of the offsets.
    let dir = random(&dev, DType::F32, t.offset.dims(), -1.0, 1.0, 31);
    let step = dir.mul_scalar(0.1).unwrap();
    let up = dot(
        &g,
        &f(&t.x, &t.offset.add(&step).unwrap(), &t.weight, &t.mask),
    );
    let down = dot(
        &g,
        &f(&t.x, &t.offset.sub(&step).unwrap(), &t.weight, &t.mask),
    );
    close((up - down) / 0.2, dot(&dir, &gr.offset), "offset");
    check(&gr.offset, 1e-4, 1e-4, "offset gradient");
    check(&gr.x, 1e-4, 1e-4, "input gradient");
}

#[test]
fn bad_input_is_a_typed_error() {
    let dev = device();
    let t = case(&dev, 4, false);
    let short = t.offset.narrow(1, 0, 4).unwrap();
    assert!(
        t.x.deform_conv2d(&short, &t.weight, None, None, &t.o)
            .is_err(),
        "offset channels"
    );
    let m = t.mask.narrow(1, 0, 3).unwrap();
    assert!(
        t.x.deform_conv2d(&t.offset, &t.weight, Some(&m), None, &t.o)
            .is_err(),
        "mask channels"
    );
    let o = DeformConvOptions {
        offset_groups: 3,
        ..t.o.clone()
    };
    assert!(
        t.x.deform_conv2d(&t.offset, &t.weight, None, None, &o)
            .is_err(),
        "offset groups"
    );
    let g = random(&dev, DType::F32, &[1, 6, 4, 7], -1.0, 1.0, 5);
    assert!(
        t.x.deform_conv2d_backward(&t.offset, &t.weight, None, &g, &t.o)
            .is_err(),
        "gradient shape"
    );
}

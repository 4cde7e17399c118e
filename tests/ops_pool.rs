//! Max, average and adaptive average pooling and their gradients on the GPU, against loops
//! written here from PyTorch's definitions: padding, strides, dilation, ceil mode, both
//! counting rules, 1 to 3 spatial dims, NaN, overlapping windows, and typed errors.

mod common;
use common::*;
use kiln::{DType, PoolOptions, Tensor};

/// For each plane and output position: the window's (input flat index, value) taps inside
/// the input, in tap order.
fn windows(
    x: &[f64],
    planes: usize,
    sp: &[usize],
    out: &[usize],
    o: &PoolOptions,
) -> Vec<Vec<Vec<(usize, f64)>>> {
    let (sn, pn, kn) = (
        sp.iter().product::<usize>(),
        out.iter().product::<usize>(),
        o.kernel.iter().product::<usize>(),
    );
    (0..planes)
        .map(|pl| {
            (0..pn)
                .map(|pi| {
                    let p = unflatten(pi, out);
                    (0..kn)
                        .filter_map(|ti| {
                            let t = unflatten(ti, &o.kernel);
                            let i: Option<Vec<usize>> = (0..sp.len())
                                .map(|d| {
                                    let v = (p[d] * o.stride[d] + t[d] * o.dilation[d]) as isize
                                        - o.padding[d] as isize;
                                    (0..sp[d] as isize).contains(&v).then_some(v as usize)
                                })
                                .collect();
                            i.map(|i| (flat(&i, sp), x[pl * sn + flat(&i, sp)]))
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
}

fn opts(
    kernel: &[usize],
    stride: &[usize],
    padding: &[usize],
    dilation: &[usize],
    ceil: bool,
) -> PoolOptions {
    PoolOptions {
        kernel: kernel.to_vec(),
        stride: stride.to_vec(),
        padding: padding.to_vec(),
        dilation: dilation.to_vec(),
        ceil_mode: ceil,
    }
}

#[test]
fn max_pool_values_indices_and_gradient() {
    let dev = device();
    let cases = [
        (
            vec![2, 3, 9, 8],
            opts(&[3, 2], &[2, 2], &[1, 1], &[1, 2], false),
        ),
        (
            vec![1, 2, 7, 7],
            opts(&[3, 3], &[2, 2], &[1, 0], &[1, 1], true),
        ),
        (vec![2, 2, 13], opts(&[4], &[3], &[2], &[1], true)),
        (
            vec![1, 2, 4, 5, 6],
            opts(&[2, 2, 3], &[2, 1, 3], &[0, 1, 1], &[1, 1, 1], false),
        ),
    ];
    for (ci, (xd, o)) in cases.into_iter().enumerate() {
        let mut x = random(&dev, DType::F32, &xd, -1.0, 1.0, ci as u64);
        if ci == 1 {
            // A NaN wins its windows.
            let mut v = x.to_vec::<f32>().unwrap();
            v[10] = f32::NAN;
            x = Tensor::from_slice_on(&dev, &v, &xd).unwrap();
        }
        let (y, idx) = x.max_pool_with_indices(&o).unwrap();
        // PyTorch's output sizes, worked by hand (ceil mode drops a last window that starts
        // past the input and its left padding).
        let sizes: [&[usize]; 4] = [&[2, 3, 5, 4], &[1, 2, 4, 3], &[2, 2, 5], &[1, 2, 2, 6, 2]];
        assert_eq!(y.dims(), sizes[ci], "output size of {xd:?}");
        // The values alone take the unrolled path: the same bits.
        let alone = x.max_pool(&o).unwrap().to_vec::<f32>().unwrap();
        let with = y.to_vec::<f32>().unwrap();
        assert!(
            alone
                .iter()
                .zip(&with)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "max_pool {xd:?}"
        );
        let out = y.dims()[2..].to_vec();
        let planes = xd[0] * xd[1];
        let w = windows(&host_f64(&x), planes, &xd[2..], &out, &o);
        let (mut want_v, mut want_i) = (vec![], vec![]);
        for plane in &w {
            for taps in plane {
                let mut best = taps[0];
                for &(i, v) in &taps[1..] {
                    if !best.1.is_nan() && (v.is_nan() || v > best.1) {
                        best = (i, v);
                    }
                }
                want_v.push(best.1);
                want_i.push(best.0 as f64);
            }
        }
        let what = format!("max_pool {xd:?}");
        assert_near(&host_f64(&y), &want_v, 0.0, &what);
        assert_near(&host_f64(&idx), &want_i, 0.0, &what);
        check(&y, 0.0, 0.0, &what);
        // The gradient adds each output's at its winner.
        let g = random(&dev, DType::F32, y.dims(), -1.0, 1.0, 50 + ci as u64);
        let dx = x.max_pool_backward(&g, &idx).unwrap();
        let sn: usize = xd[2..].iter().product();
        let mut want = vec![0.0; planes * sn];
        for (k, (gv, iv)) in host_f64(&g).iter().zip(&want_i).enumerate() {
            want[(k / out.iter().product::<usize>()) * sn + *iv as usize] += gv;
        }
        assert_near(&host_f64(&dx), &want, 1e-6, &format!("{what} backward"));
    }
}

/// A window whose input taps are all -inf: the first input tap wins, never the padding.
#[test]
fn max_pool_never_picks_padding() {
    let dev = device();
    let x = Tensor::full_on(&dev, &[1, 1, 4, 4], f64::NEG_INFINITY, DType::F32).unwrap();
    let (y, idx) = x
        .max_pool_with_indices(&opts(&[3, 3], &[2, 2], &[1, 1], &[1, 1], false))
        .unwrap();
    assert!(y
        .to_vec::<f32>()
        .unwrap()
        .iter()
        .all(|v| *v == f32::NEG_INFINITY));
    assert_eq!(idx.to_vec::<i32>().unwrap(), vec![0, 1, 4, 5]);
}

#[test]
fn avg_pool_both_counting_rules_and_gradient() {
    let dev = device();
    let cases = [
        (
            vec![2, 3, 9, 8],
            opts(&[3, 2], &[2, 2], &[1, 1], &[1, 1], false),
        ),
        (
            vec![1, 2, 7, 6],
            opts(&[3, 3], &[2, 2], &[1, 1], &[1, 1], true),
        ),
        (vec![2, 1, 11], opts(&[4], &[3], &[2], &[1], true)),
        // 20 taps: the reduction over stored columns.
        (
            vec![1, 2, 9, 8],
            opts(&[5, 4], &[2, 3], &[2, 1], &[1, 1], false),
        ),
    ];
    for (ci, (xd, o)) in cases.into_iter().enumerate() {
        let x = random(&dev, DType::F32, &xd, -1.0, 1.0, 10 + ci as u64);
        for include in [false, true] {
            let y = x.avg_pool(&o, include).unwrap();
            let sizes: [&[usize]; 4] = [&[2, 3, 5, 5], &[1, 2, 4, 4], &[2, 1, 5], &[1, 2, 5, 3]];
            assert_eq!(y.dims(), sizes[ci], "output size of {xd:?}");
            let out = y.dims()[2..].to_vec();
            let planes = xd[0] * xd[1];
            let sp = &xd[2..];
            let w = windows(&host_f64(&x), planes, sp, &out, &o);
            let mut want = vec![];
            let mut divs = vec![];
            for plane in &w {
                for (pi, taps) in plane.iter().enumerate() {
                    let p = unflatten(pi, &out);
                    let div: f64 = if include {
                        (0..sp.len())
                            .map(|d| {
                                let s = (p[d] * o.stride[d]) as isize - o.padding[d] as isize;
                                let e =
                                    (s + o.kernel[d] as isize).min((sp[d] + o.padding[d]) as isize);
                                (e - s) as f64
                            })
                            .product()
                    } else {
                        taps.len() as f64
                    };
                    want.push(taps.iter().map(|t| t.1).sum::<f64>() / div);
                    divs.push(div);
                }
            }
            let what = format!("avg_pool {xd:?} include_pad {include}");
            assert_near(&host_f64(&y), &want, 1e-6, &what);
            check(&y, 1e-6, 1e-5, &what);
            let g = random(&dev, DType::F32, y.dims(), -1.0, 1.0, 60 + ci as u64);
            let dx = x.avg_pool_backward(&g, &o, include).unwrap();
            let sn: usize = sp.iter().product();
            let pn: usize = out.iter().product();
            let mut wdx = vec![0.0; planes * sn];
            for (k, gv) in host_f64(&g).iter().enumerate() {
                for &(i, _) in &w[k / pn][k % pn] {
                    wdx[(k / pn) * sn + i] += gv / divs[k];
                }
            }
            assert_near(&host_f64(&dx), &wdx, 1e-5, &format!("{what} backward"));
        }
    }
}

#[test]
fn adaptive_avg_pool_down_and_up() {
    let dev = device();
    for (ci, (xd, out)) in [
        (vec![2, 3, 7, 9], vec![3, 4]),
        (vec![1, 2, 4, 5], vec![6, 5]),
        (vec![2, 2, 10], vec![1]),
        (vec![1, 1, 3, 4, 5], vec![2, 3, 2]),
        // Windows of up to 7 x 7: the reduction over stored columns.
        (vec![1, 2, 20, 20], vec![3, 3]),
    ]
    .into_iter()
    .enumerate()
    {
        let x = random(&dev, DType::F32, &xd, -1.0, 1.0, 20 + ci as u64);
        let y = x.adaptive_avg_pool(&out).unwrap();
        let sp = &xd[2..];
        let (sn, pn) = (sp.iter().product::<usize>(), out.iter().product::<usize>());
        let xv = host_f64(&x);
        let g = random(&dev, DType::F32, y.dims(), -1.0, 1.0, 70 + ci as u64);
        let gv = host_f64(&g);
        let planes = xd[0] * xd[1];
        let (mut want, mut wdx) = (vec![], vec![0.0; planes * sn]);
        for pl in 0..planes {
            for pi in 0..pn {
                let p = unflatten(pi, &out);
                let ranges: Vec<(usize, usize)> = (0..sp.len())
                    .map(|d| (p[d] * sp[d] / out[d], ((p[d] + 1) * sp[d]).div_ceil(out[d])))
                    .collect();
                let cells: Vec<usize> = (0..sn)
                    .filter(|&si| {
                        let i = unflatten(si, sp);
                        (0..sp.len()).all(|d| (ranges[d].0..ranges[d].1).contains(&i[d]))
                    })
                    .collect();
                let div = cells.len() as f64;
                want.push(cells.iter().map(|&si| xv[pl * sn + si]).sum::<f64>() / div);
                for &si in &cells {
                    wdx[pl * sn + si] += gv[pl * pn + pi] / div;
                }
            }
        }
        let what = format!("adaptive_avg_pool {xd:?} -> {out:?}");
        assert_near(&host_f64(&y), &want, 1e-6, &what);
        check(&y, 1e-6, 1e-5, &what);
        let dx = x.adaptive_avg_pool_backward(&g).unwrap();
        assert_near(&host_f64(&dx), &wdx, 1e-5, &format!("{what} backward"));
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let dev = device();
    let x = random(&dev, DType::F32, &[1, 2, 5, 5], -1.0, 1.0, 1);
    assert!(
        x.max_pool(&PoolOptions::new(&[2])).is_err(),
        "options of the wrong length"
    );
    assert!(
        x.max_pool(&opts(&[2, 2], &[1, 1], &[2, 0], &[1, 1], false))
            .is_err(),
        "padding past half"
    );
    assert!(
        x.max_pool(&PoolOptions::new(&[6, 2])).is_err(),
        "window past the input"
    );
    assert!(
        x.max_pool(&opts(&[2, 2], &[0, 1], &[0, 0], &[1, 1], false))
            .is_err(),
        "stride 0"
    );
    assert!(
        x.avg_pool(&opts(&[2, 2], &[1, 1], &[0, 0], &[2, 1], false), true)
            .is_err(),
        "dilated average"
    );
    assert!(x.adaptive_avg_pool(&[0, 2]).is_err());
    let i = random(&dev, DType::I32, &[1, 2, 5, 5], -5.0, 5.0, 2);
    assert!(i.max_pool(&PoolOptions::new(&[2, 2])).is_err(), "int input");
    let g = random(&dev, DType::F32, &[1, 2, 3, 3], -1.0, 1.0, 3);
    assert!(
        x.avg_pool_backward(&g, &PoolOptions::new(&[2, 2]), true)
            .is_err(),
        "gradient shape"
    );
}

//! Convolutions and transposed convolutions on the GPU against loops written here from their
//! definitions (the convolution as a gather of taps, its transpose as a scatter of products,
//! so the two references share no index arithmetic with the kernels' window tables): 1, 2 and
//! 3 spatial dims, strides, asymmetric padding, dilation, groups, bias and typed errors.

mod common;
use common::*;
use kiln::{ConvOptions, ConvTransposeOptions, DType, Tensor};

/// `y[n, o, p] = b[o] + sum over j, t of x[n, g·cg + j, p·s + t·dil - pad] · w[o, j, t]`.
fn conv_ref(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    o: &ConvOptions,
    out: &[usize],
) -> Vec<f64> {
    let (xd, wd) = (x.dims().to_vec(), w.dims().to_vec());
    let (xv, wv) = (host_f64(x), host_f64(w));
    let bv = b.map(host_f64);
    let (n, oc, cg) = (xd[0], wd[0], wd[1]);
    let og = oc / o.groups;
    let (sp, ker) = (&xd[2..], &wd[2..]);
    let pn: usize = out.iter().product();
    let kn: usize = ker.iter().product();
    let mut y = vec![0.0; n * oc * pn];
    for ni in 0..n {
        for oi in 0..oc {
            for pi in 0..pn {
                let p = unflatten(pi, out);
                let mut acc = bv.as_ref().map_or(0.0, |b| b[oi]);
                for j in 0..cg {
                    for ti in 0..kn {
                        let t = unflatten(ti, ker);
                        let i: Option<Vec<usize>> = (0..sp.len())
                            .map(|d| {
                                let v = (p[d] * o.stride[d] + t[d] * o.dilation[d]) as isize
                                    - o.padding[d].0 as isize;
                                (0..sp[d] as isize).contains(&v).then_some(v as usize)
                            })
                            .collect();
                        if let Some(i) = i {
                            let c = oi / og * cg + j;
                            let xi = (ni * xd[1] + c) * sp.iter().product::<usize>() + flat(&i, sp);
                            acc += xv[xi] * wv[(oi * cg + j) * kn + ti];
                        }
                    }
                }
                y[(ni * oc + oi) * pn + pi] = acc;
            }
        }
    }
    y
}

/// Every input element scatters `x · w[c, j, t]` to output `i·s - pad + t·dil`.
fn conv_t_ref(x: &Tensor, w: &Tensor, o: &ConvTransposeOptions, out: &[usize]) -> Vec<f64> {
    let (xd, wd) = (x.dims().to_vec(), w.dims().to_vec());
    let (xv, wv) = (host_f64(x), host_f64(w));
    let (n, c, og) = (xd[0], xd[1], wd[1]);
    let cg = c / o.groups;
    let oc = og * o.groups;
    let (sp, ker) = (&xd[2..], &wd[2..]);
    let (sn, kn, pn) = (
        sp.iter().product::<usize>(),
        ker.iter().product::<usize>(),
        out.iter().product::<usize>(),
    );
    let mut y = vec![0.0; n * oc * pn];
    for ni in 0..n {
        for ci in 0..c {
            for si in 0..sn {
                let i = unflatten(si, sp);
                for j in 0..og {
                    for ti in 0..kn {
                        let t = unflatten(ti, ker);
                        let p: Option<Vec<usize>> = (0..sp.len())
                            .map(|d| {
                                let v = (i[d] * o.stride[d] + t[d] * o.dilation[d]) as isize
                                    - o.padding[d] as isize;
                                (0..out[d] as isize).contains(&v).then_some(v as usize)
                            })
                            .collect();
                        if let Some(p) = p {
                            let oi = ci / cg * og + j;
                            y[(ni * oc + oi) * pn + flat(&p, out)] +=
                                xv[(ni * c + ci) * sn + si] * wv[(ci * og + j) * kn + ti];
                        }
                    }
                }
            }
        }
    }
    y
}

#[test]
fn convolutions_in_one_two_and_three_dims() {
    let dev = device();
    let cases: Vec<(Vec<usize>, Vec<usize>, ConvOptions, bool)> = vec![
        (
            vec![2, 3, 11],
            vec![4, 3, 3],
            ConvOptions {
                stride: vec![2],
                padding: vec![(1, 2)],
                dilation: vec![2],
                groups: 1,
            },
            true,
        ),
        (
            vec![2, 4, 9, 7],
            vec![6, 2, 3, 2],
            ConvOptions {
                stride: vec![2, 1],
                padding: vec![(1, 0), (0, 1)],
                dilation: vec![1, 2],
                groups: 2,
            },
            true,
        ),
        (
            vec![1, 2, 5, 6, 4],
            vec![3, 2, 2, 3, 1],
            ConvOptions {
                stride: vec![1, 1, 2],
                padding: vec![(1, 1), (1, 1), (0, 0)],
                dilation: vec![1, 1, 1],
                groups: 1,
            },
            false,
        ),
        (
            vec![3, 5, 1, 1],
            vec![7, 5, 1, 1],
            ConvOptions::new(2),
            true,
        ),
    ];
    for (ci, (xd, wd, o, with_bias)) in cases.into_iter().enumerate() {
        let s = 10 * ci as u64;
        let x = random(&dev, DType::F32, &xd, -1.0, 1.0, s);
        let w = random(&dev, DType::F32, &wd, -1.0, 1.0, s + 1);
        let b = random(&dev, DType::F32, &[wd[0]], -1.0, 1.0, s + 2);
        let bias = with_bias.then_some(&b);
        let y = x.conv(&w, bias, &o).unwrap();
        let sizes: [&[usize]; 4] = [&[2, 4, 5], &[2, 6, 4, 6], &[1, 3, 6, 6, 2], &[3, 7, 1, 1]];
        assert_eq!(y.dims(), sizes[ci], "output size of {xd:?}");
        let what = format!("conv {xd:?} * {wd:?}");
        let want = conv_ref(&x, &w, bias, &o, &y.dims()[2..]);
        assert_near(&host_f64(&y), &want, 1e-5, &what);
        check(&y, 1e-5, 1e-5, &what);
    }
}

#[test]
fn transposed_convolutions() {
    let dev = device();
    /// Input dims, weight dims, options, expected output dims.
    type Case = (Vec<usize>, Vec<usize>, ConvTransposeOptions, Vec<usize>);
    let cases: Vec<Case> = vec![
        (
            vec![2, 4, 5],
            vec![4, 3, 3],
            ConvTransposeOptions {
                stride: vec![2],
                padding: vec![1],
                output_padding: vec![1],
                dilation: vec![1],
                groups: 1,
            },
            vec![10],
        ),
        (
            vec![1, 4, 4, 3],
            vec![4, 2, 3, 2],
            ConvTransposeOptions {
                stride: vec![2, 3],
                padding: vec![1, 0],
                output_padding: vec![1, 2],
                dilation: vec![1, 2],
                groups: 2,
            },
            vec![8, 11],
        ),
        (
            vec![2, 3, 2, 2, 2],
            vec![3, 2, 2, 2, 2],
            ConvTransposeOptions::new(3),
            vec![3, 3, 3],
        ),
    ];
    for (ci, (xd, wd, o, out)) in cases.into_iter().enumerate() {
        let s = 100 + 10 * ci as u64;
        let x = random(&dev, DType::F32, &xd, -1.0, 1.0, s);
        let w = random(&dev, DType::F32, &wd, -1.0, 1.0, s + 1);
        let y = x.conv_transpose(&w, None, &o).unwrap();
        assert_eq!(&y.dims()[2..], out.as_slice(), "output size of {xd:?}");
        let what = format!("conv_transpose {xd:?} * {wd:?}");
        assert_near(&host_f64(&y), &conv_t_ref(&x, &w, &o, &out), 1e-5, &what);
        check(&y, 1e-5, 1e-5, &what);
    }
    // With a bias, and f16.
    let x = random(&dev, DType::F16, &[1, 2, 3], -1.0, 1.0, 1);
    let w = random(&dev, DType::F16, &[2, 2, 2], -1.0, 1.0, 2);
    let b = random(&dev, DType::F16, &[2], -1.0, 1.0, 3);
    let y = x
        .conv_transpose(&w, Some(&b), &ConvTransposeOptions::new(1))
        .unwrap();
    check(&y, 2e-3, 2e-3, "f16 conv_transpose with bias");
}

#[test]
fn bad_input_is_a_typed_error() {
    let dev = device();
    let x = random(&dev, DType::F32, &[1, 4, 5, 5], -1.0, 1.0, 1);
    let w = random(&dev, DType::F32, &[2, 4, 3, 3], -1.0, 1.0, 2);
    let o = ConvOptions::new(2);
    assert!(
        x.conv(&w, None, &ConvOptions::new(1)).is_err(),
        "options of the wrong length"
    );
    let grouped = ConvOptions {
        groups: 3,
        ..o.clone()
    };
    assert!(
        x.conv(&w, None, &grouped).is_err(),
        "channels do not divide"
    );
    let big = random(&dev, DType::F32, &[2, 4, 7, 3], -1.0, 1.0, 3);
    assert!(x.conv(&big, None, &o).is_err(), "kernel past the input");
    let bias = random(&dev, DType::F32, &[3], -1.0, 1.0, 4);
    assert!(
        x.conv(&w, Some(&bias), &o).is_err(),
        "bias of the wrong size"
    );
    let xi = random(&dev, DType::I32, &[1, 4, 5, 5], -3.0, 3.0, 5);
    assert!(xi.conv(&w, None, &o).is_err(), "int input");
    let zero = ConvOptions {
        stride: vec![0, 1],
        ..o
    };
    assert!(x.conv(&w, None, &zero).is_err(), "stride 0");
    let t = ConvTransposeOptions {
        output_padding: vec![1, 0],
        ..ConvTransposeOptions::new(2)
    };
    assert!(
        x.conv_transpose(&w.transpose(0, 1).unwrap(), None, &t)
            .is_err(),
        "output padding past the stride"
    );
}

/// The columns are one gather and the product one matmul; the bias joins the layout copy.
#[test]
fn a_convolution_is_a_gather_and_a_matmul() {
    let dev = device();
    let x = random(&dev, DType::F32, &[2, 3, 8, 8], -1.0, 1.0, 1);
    let w = random(&dev, DType::F32, &[4, 3, 3, 3], -1.0, 1.0, 2);
    let b = random(&dev, DType::F32, &[4], -1.0, 1.0, 3);
    let plan = x
        .conv(&w, Some(&b), &ConvOptions::new(2))
        .unwrap()
        .explain()
        .unwrap();
    let text = format!("{plan}");
    assert_eq!(
        plan.kernels
            .iter()
            .filter(|k| k.kind.contains("matmul"))
            .count(),
        1,
        "{text}"
    );
    assert!(plan.kernels.len() <= 3, "{text}");
}

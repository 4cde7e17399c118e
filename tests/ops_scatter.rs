//! scatter_reduce, index_reduce and slice_assign on the GPU, against plain loops written here
//! from their definitions (docs/OPS.md) and against the interpreter: every update, f32, i32
//! and bool, negative, duplicate and out-of-range indices, index shapes smaller than the
//! tensor, strided boxes, and typed errors.

mod common;
use common::*;
use kiln::{DType, IndexUpdate, Tensor};

const UPDATES: [IndexUpdate; 5] = [
    IndexUpdate::Assign,
    IndexUpdate::Add,
    IndexUpdate::Mul,
    IndexUpdate::Max,
    IndexUpdate::Min,
];

/// Row-major strides of `dims`.
fn strides(dims: &[usize]) -> Vec<usize> {
    let mut s = vec![1; dims.len()];
    for d in (0..dims.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * dims[d + 1];
    }
    s
}

/// The definition, on f64 values: each element named by the index meets the fold (in index
/// order) of the values naming it; `Assign` takes the last.
fn scatter_ref(
    x: &[f64],
    xd: &[usize],
    axis: usize,
    idx: &[i32],
    id: &[usize],
    vals: &[f64],
    up: IndexUpdate,
) -> Vec<f64> {
    let (xs, is) = (strides(xd), strides(id));
    let n = xd[axis] as i32;
    let mut hits: Vec<Vec<f64>> = vec![vec![]; x.len()];
    for (c, (&j, &v)) in idx.iter().zip(vals).enumerate() {
        let j = if j < 0 { j + n } else { j };
        if !(0..n).contains(&j) {
            continue;
        }
        let mut t = 0;
        for d in 0..xd.len() {
            let cd = (c / is[d]) % id[d];
            t += xs[d] * if d == axis { j as usize } else { cd };
        }
        hits[t].push(v);
    }
    x.iter()
        .zip(&hits)
        .map(|(&old, h)| {
            if h.is_empty() {
                return old;
            }
            match up {
                IndexUpdate::Assign => *h.last().unwrap(),
                IndexUpdate::Add => old + h.iter().sum::<f64>(),
                IndexUpdate::Mul => old * h.iter().product::<f64>(),
                IndexUpdate::Max => h.iter().fold(old, |a, &b| a.max(b)),
                IndexUpdate::Min => h.iter().fold(old, |a, &b| a.min(b)),
            }
        })
        .collect()
}

/// Indices in `[-n - 2, n + 2)`: negatives, and some out of range either way.
fn indices(dev: &kiln::Device, shape: &[usize], n: usize, seed: u64) -> Tensor {
    let m = n as f32 + 2.0;
    random(dev, DType::I32, shape, -m, m, seed)
}

#[test]
fn scatter_every_update_f32_and_i32() {
    let dev = device();
    let cases: [(&[usize], usize, &[usize]); 4] = [
        (&[5, 7], 1, &[5, 3]),
        (&[5, 7], 0, &[2, 4]),
        (&[3, 4, 6], 2, &[3, 2, 20]),
        (&[1031], 0, &[7]),
    ];
    for (ci, &(xd, axis, id)) in cases.iter().enumerate() {
        for dt in [DType::F32, DType::I32] {
            let s = 10 * ci as u64;
            let x = random(&dev, dt, xd, -5.0, 5.0, s);
            let v = random(&dev, dt, id, -5.0, 5.0, s + 1);
            let i = indices(&dev, id, xd[axis], s + 2);
            let iv = i.to_vec::<i32>().unwrap();
            for up in UPDATES {
                let y = x.scatter_reduce(axis as isize, &i, &v, up).unwrap();
                let what = format!("{up:?} {dt} {xd:?} axis {axis} index {id:?}");
                let want = scatter_ref(&host_f64(&x), xd, axis, &iv, id, &host_f64(&v), up);
                assert_near(&host_f64(&y), &want, 1e-5, &what);
                check(&y, 1e-4, 1e-5, &what);
            }
        }
    }
}

#[test]
fn scatter_keeps_untouched_elements_bit_for_bit_and_bool_folds_as_logic() {
    let dev = device();
    let x = Tensor::from_slice_on(&dev, &[-0.0f32, 1.0, f32::NAN, 3.0], &[4]).unwrap();
    let i = Tensor::from_slice_on(&dev, &[3i32, 3, -1], &[3]).unwrap();
    let v = Tensor::from_slice_on(&dev, &[1.0f32, 2.0, 4.0], &[3]).unwrap();
    let y = x.scatter_reduce(0, &i, &v, IndexUpdate::Add).unwrap();
    let got = y.to_vec::<f32>().unwrap();
    assert_eq!(got[0].to_bits(), (-0.0f32).to_bits());
    assert_eq!((got[1], got[3]), (1.0, 10.0));
    assert!(got[2].is_nan());
    let a = Tensor::from_slice_on(&dev, &[false, true, false, true], &[4]).unwrap();
    let j = Tensor::from_slice_on(&dev, &[0i32, 1, 0, 2], &[4]).unwrap();
    let w = Tensor::from_slice_on(&dev, &[true, false, false, false], &[4]).unwrap();
    let or = a.scatter_reduce(0, &j, &w, IndexUpdate::Add).unwrap();
    assert_eq!(or.to_vec::<bool>().unwrap(), vec![true, true, false, true]);
    let and = a.scatter_reduce(0, &j, &w, IndexUpdate::Mul).unwrap();
    assert_eq!(
        and.to_vec::<bool>().unwrap(),
        vec![false, false, false, true]
    );
    let set = a.scatter_reduce(0, &j, &w, IndexUpdate::Assign).unwrap();
    assert_eq!(
        set.to_vec::<bool>().unwrap(),
        vec![false, false, false, true]
    );
}

#[test]
fn index_reduce_with_duplicates_and_negatives() {
    let dev = device();
    let x = random(&dev, DType::F32, &[6, 33], -1.0, 1.0, 1);
    let i = Tensor::from_slice_on(&dev, &[0i32, 5, -1, 2, 2, 9, -7, 0, 3, 2], &[10]).unwrap();
    let v = random(&dev, DType::F32, &[10, 33], -1.0, 1.0, 2);
    let iv = i.to_vec::<i32>().unwrap();
    let full: Vec<i32> = (0..10 * 33).map(|c| iv[c / 33]).collect();
    for up in UPDATES {
        let y = x.index_reduce(0, &i, &v, up).unwrap();
        let want = scatter_ref(
            &host_f64(&x),
            &[6, 33],
            0,
            &full,
            &[10, 33],
            &host_f64(&v),
            up,
        );
        assert_near(&host_f64(&y), &want, 1e-5, &format!("{up:?}"));
        check(&y, 1e-5, 1e-5, &format!("index_reduce {up:?}"));
    }
    // Along the last axis too.
    let x = random(&dev, DType::F32, &[4, 7], -1.0, 1.0, 3);
    let i = Tensor::from_slice_on(&dev, &[6i32, 0, 6], &[3]).unwrap();
    let v = random(&dev, DType::F32, &[4, 3], -1.0, 1.0, 4);
    check(
        &x.index_reduce(-1, &i, &v, IndexUpdate::Add).unwrap(),
        1e-6,
        1e-6,
        "index_reduce last axis",
    );
}

#[test]
fn slice_assign_boxes_steps_and_broadcasts() {
    let dev = device();
    let x = random(&dev, DType::F32, &[7, 9, 5], -1.0, 1.0, 5);
    let xv = x.to_vec::<f32>().unwrap();
    let v = random(&dev, DType::F32, &[3, 4, 5], -1.0, 1.0, 6);
    let vv = v.to_vec::<f32>().unwrap();
    let y = x.slice_assign(&[(1, 6, 2), (-4, 99, 1)], &v).unwrap();
    let got = y.to_vec::<f32>().unwrap();
    for a in 0..7 {
        for b in 0..9 {
            for c in 0..5 {
                let inside = (1..6).contains(&a) && (a - 1) % 2 == 0 && b >= 5;
                let want = if inside {
                    vv[((a - 1) / 2 * 4 + (b - 5)) * 5 + c]
                } else {
                    xv[(a * 9 + b) * 5 + c]
                };
                assert_eq!(got[(a * 9 + b) * 5 + c], want, "[{a}, {b}, {c}]");
            }
        }
    }
    check(&y, 0.0, 0.0, "slice_assign");
    // A broadcast value, a step of 3 in the last dim, an empty box, rank 0.
    let s = Tensor::full_on(&dev, &[], 2.5, DType::F32).unwrap();
    check(
        &x.slice_assign(&[(0, 7, 3), (0, 9, 1), (4, 0, 1)], &s)
            .unwrap(),
        0.0,
        0.0,
        "empty box",
    );
    check(
        &x.slice_assign(&[(2, 3, 1), (0, 9, 4), (0, 5, 3)], &s)
            .unwrap(),
        0.0,
        0.0,
        "steps 4 and 3",
    );
    let r0 = s.slice_assign(&[], &Tensor::full_on(&dev, &[], 1.5, DType::F32).unwrap());
    assert_eq!(r0.unwrap().to_vec::<f32>().unwrap(), vec![1.5]);
    let i = random(&dev, DType::I32, &[5, 6], -9.0, 9.0, 7);
    let w = Tensor::full_on(&dev, &[2, 6], -100.0, DType::I32).unwrap();
    check(&i.slice_assign(&[(3, 5, 1)], &w).unwrap(), 0.0, 0.0, "i32");
}

#[test]
fn one_reduce_kernel_for_a_scatter() {
    let dev = device();
    let x = random(&dev, DType::F32, &[64, 100], -1.0, 1.0, 8);
    let i = indices(&dev, &[64, 9], 100, 9);
    let v = random(&dev, DType::F32, &[64, 9], -1.0, 1.0, 10);
    let y = x.scatter_reduce(1, &i, &v, IndexUpdate::Add).unwrap();
    let plan = y.explain().unwrap();
    let text = format!("{plan}");
    let reduces = plan
        .kernels
        .iter()
        .filter(|k| k.kind.starts_with("reduce"))
        .count();
    assert_eq!(reduces, 1, "{text}");
    assert!(plan.kernels.len() <= 3, "{text}");
}

#[test]
fn bad_input_is_a_typed_error() {
    let dev = device();
    let x = random(&dev, DType::F32, &[4, 5], -1.0, 1.0, 1);
    let i = indices(&dev, &[4, 2], 5, 2);
    let v = random(&dev, DType::F32, &[4, 2], -1.0, 1.0, 3);
    let f = i.cast(DType::F32).unwrap();
    assert!(x.scatter_reduce(1, &f, &v, IndexUpdate::Add).is_err());
    assert!(x.scatter_reduce(1, &i, &i, IndexUpdate::Add).is_err());
    assert!(x.scatter_reduce(2, &i, &v, IndexUpdate::Add).is_err());
    let big = indices(&dev, &[5, 2], 5, 4);
    let bv = random(&dev, DType::F32, &[5, 2], -1.0, 1.0, 5);
    assert!(x.scatter_reduce(1, &big, &bv, IndexUpdate::Add).is_err());
    assert!(x.scatter_reduce(1, &i, &bv, IndexUpdate::Add).is_err());
    let one = Tensor::from_slice_on(&dev, &[1i32, 2], &[2]).unwrap();
    assert!(x.index_reduce(0, &one, &v, IndexUpdate::Add).is_err());
    assert!(x.index_reduce(0, &i, &v, IndexUpdate::Add).is_err());
    assert!(x.slice_assign(&[(0, 2, 1)], &i).is_err());
    assert!(x.slice_assign(&[(0, 2, 0)], &v).is_err());
    assert!(x
        .slice_assign(&[(0, 2, 1), (0, 1, 1), (0, 1, 1)], &v)
        .is_err());
    assert!(x.slice_assign(&[(0, 2, 1)], &v).is_err());
}

#[test]
fn empty_indices_write_nothing() {
    let dev = device();
    let x = random(&dev, DType::F32, &[4, 5], -1.0, 1.0, 1);
    let i = Tensor::from_slice_on(&dev, &[0i32; 0], &[4, 0]).unwrap();
    let v = Tensor::from_slice_on(&dev, &[0f32; 0], &[4, 0]).unwrap();
    for up in UPDATES {
        let y = x.scatter_reduce(1, &i, &v, up).unwrap();
        assert_eq!(
            y.to_vec::<f32>().unwrap(),
            x.to_vec::<f32>().unwrap(),
            "{up:?}"
        );
    }
    let e = Tensor::from_slice_on(&dev, &[0i32; 0], &[0]).unwrap();
    let ev = Tensor::from_slice_on(&dev, &[0f32; 0], &[0, 5]).unwrap();
    let y = x.index_reduce(0, &e, &ev, IndexUpdate::Max).unwrap();
    assert_eq!(y.to_vec::<f32>().unwrap(), x.to_vec::<f32>().unwrap());
}

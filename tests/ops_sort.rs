//! sort, argsort and topk on the GPU against Rust's stable sort with NaN as the largest value:
//! odd line lengths, ties, NaN and signed zeros, every axis, descending, integers, and errors.

mod common;
use common::*;
use kiln::{DType, Tensor};
use std::cmp::Ordering;

/// The order the ops promise: NaN largest, -0 == +0, ties by index (a stable sort keeps them).
fn order(a: f32, b: f32, descending: bool) -> Ordering {
    let o = match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    };
    if descending {
        o.reverse()
    } else {
        o
    }
}

/// Argsort of each line of `rows x n` values.
fn argsort_ref(v: &[f32], n: usize, descending: bool) -> Vec<i32> {
    let mut out = Vec::with_capacity(v.len());
    for line in v.chunks(n.max(1)) {
        let mut idx: Vec<usize> = (0..line.len()).collect();
        idx.sort_by(|&i, &j| order(line[i], line[j], descending));
        out.extend(idx.into_iter().map(|i| i as i32));
    }
    out
}

/// Values on a coarse grid (many ties), with NaNs and signed zeros planted.
fn tied(dev: &kiln::Device, rows: usize, n: usize, seed: u64) -> (Tensor, Vec<f32>) {
    let mut rng = Rng::new(seed);
    let mut v: Vec<f32> = (0..rows * n)
        .map(|_| (rng.f32(-3.0, 3.0) * 4.0).round() / 4.0)
        .collect();
    for (k, x) in v.iter_mut().enumerate() {
        match k % 17 {
            3 => *x = f32::NAN,
            5 => *x = -0.0,
            8 => *x = 0.0,
            _ => {}
        }
    }
    (Tensor::from_slice_on(dev, &v, &[rows, n]).unwrap(), v)
}

#[test]
fn argsort_and_sort_odd_lengths_both_directions() {
    let dev = device();
    for (si, &n) in SIZES.iter().enumerate() {
        let (x, v) = tied(&dev, 3, n, si as u64);
        for descending in [false, true] {
            let (vals, idx) = x.sort(-1, descending).unwrap();
            let got = idx.to_vec::<i32>().unwrap();
            assert_eq!(
                got,
                argsort_ref(&v, n, descending),
                "n={n} desc={descending}"
            );
            let sorted = vals.to_vec::<f32>().unwrap();
            for (k, (&s, &i)) in sorted.iter().zip(&got).enumerate() {
                let want = v[(k / n) * n + i as usize];
                assert!(s.to_bits() == want.to_bits(), "value {k}: {s} vs {want}");
            }
            check(&idx, 0.0, 0.0, &format!("argsort n={n}"));
        }
    }
}

#[test]
fn other_axes_integers_and_topk() {
    let dev = device();
    let (x, v) = tied(&dev, 7, 5, 9);
    // Along axis 0: the transposed lines.
    let idx = x.argsort(0, false).unwrap().to_vec::<i32>().unwrap();
    let vt: Vec<f32> = (0..5)
        .flat_map(|c| (0..7).map(move |r| (r, c)))
        .map(|(r, c)| v[r * 5 + c])
        .collect();
    let want = argsort_ref(&vt, 7, false);
    for c in 0..5 {
        for r in 0..7 {
            assert_eq!(idx[r * 5 + c], want[c * 7 + r], "[{r}, {c}]");
        }
    }
    for dt in [DType::I32, DType::U32] {
        let i = random(&dev, dt, &[4, 33], -20.0, 20.0, 3);
        check(&i.sort(1, true).unwrap().0, 0.0, 0.0, &format!("sort {dt}"));
        check(
            &i.argsort(1, false).unwrap(),
            0.0,
            0.0,
            &format!("argsort {dt}"),
        );
    }
    let (vals, idx) = x.topk(3, 1, true).unwrap();
    assert_eq!(vals.dims(), &[7, 3]);
    let all = argsort_ref(&v, 5, true);
    let got = idx.to_vec::<i32>().unwrap();
    for r in 0..7 {
        assert_eq!(&got[r * 3..r * 3 + 3], &all[r * 5..r * 5 + 3], "row {r}");
    }
    check(&x.topk(2, 0, false).unwrap().0, 0.0, 0.0, "topk smallest");
    assert!(x.topk(6, 1, true).is_err());
    assert!(x.argsort(2, false).is_err());
    let s = Tensor::full_on(&dev, &[], 1.5, DType::F32).unwrap();
    assert_eq!(
        s.argsort(0, false).unwrap().to_vec::<i32>().unwrap(),
        vec![0]
    );
}

/// The `n x n` comparisons stay inside reduce kernels.
#[test]
fn no_pairwise_tensor_is_stored() {
    let dev = device();
    let x = random(&dev, DType::F32, &[2, 300], -1.0, 1.0, 4);
    let plan = x.sort(-1, false).unwrap().0.explain().unwrap();
    let text = format!("{plan}");
    let pairwise = plan
        .kernels
        .iter()
        .filter(|k| {
            !k.kind.starts_with("reduce") && k.ops.iter().any(|o| o.contains("[2, 300, 300]"))
        })
        .count();
    assert_eq!(pairwise, 0, "{text}");
}

#[test]
fn empty_lines() {
    let dev = device();
    let x = Tensor::from_slice_on(&dev, &[0f32; 0], &[3, 0]).unwrap();
    let (v, i) = x.sort(-1, false).unwrap();
    assert_eq!((v.dims(), i.dims()), (&[3usize, 0][..], &[3usize, 0][..]));
    assert!(i.to_vec::<i32>().unwrap().is_empty());
    let y = random(&dev, DType::F32, &[2, 5], -1.0, 1.0, 1);
    let (tv, ti) = y.topk(0, 1, true).unwrap();
    assert_eq!((tv.dims(), ti.dims()), (&[2usize, 0][..], &[2usize, 0][..]));
}

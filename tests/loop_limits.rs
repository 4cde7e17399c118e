//! Rows and inner dimensions longer than one shader invocation may loop over on the adapter
//! (llvmpipe ends every loop of an invocation past about 16,384 trips in all): the split
//! passes cut them into parts, so results stay right. Each case failed silently before.

mod common;

use common::{check, device, random, Rng};
use kiln::{DType, Tensor};

#[test]
fn argmax_of_a_long_vector_finds_a_late_maximum() {
    let dev = device();
    let n = (1 << 21) + 64;
    let mut r = Rng::new(11);
    let mut v: Vec<f32> = (0..n).map(|_| r.f32(-1.0, 1.0)).collect();
    v[n - 40] = 7.0;
    v[n - 3] = -7.0;
    let x = Tensor::from_slice_on(&dev, &v, &[n]).unwrap();
    let am: Vec<i32> = x.argmax(0, false).unwrap().to_vec().unwrap();
    assert_eq!(am, vec![(n - 40) as i32]);
    let an: Vec<i32> = x.argmin(0, false).unwrap().to_vec().unwrap();
    assert_eq!(an, vec![(n - 3) as i32]);
    // Ties: the first of equal maxima, in another part than the last one.
    let mut t = v.clone();
    t[1000] = 7.0;
    let x = Tensor::from_slice_on(&dev, &t, &[n]).unwrap();
    let am: Vec<i32> = x.argmax(0, false).unwrap().to_vec().unwrap();
    assert_eq!(am, vec![1000]);
}

#[test]
fn long_rows_sum_in_full() {
    let dev = device();
    let x = random(&dev, DType::F32, &[300, 1], 0.5, 1.5, 3);
    let n = 2_100_000;
    let y = x.expand(&[300, n]).unwrap().sum(&[-1], false).unwrap();
    let got: Vec<f32> = y.to_vec().unwrap();
    let xs: Vec<f32> = x.to_vec().unwrap();
    for (i, (g, a)) in got.iter().zip(&xs).enumerate() {
        let want = *a as f64 * n as f64;
        assert!(
            ((*g as f64) - want).abs() <= 1e-5 * want,
            "row {i}: {g} for {want}"
        );
    }
    // Rows that differ along their length, so that a part read twice or skipped shows.
    let x = random(&dev, DType::F32, &[3, n], 0.5, 1.5, 4);
    let got: Vec<f32> = x.sum(&[-1], false).unwrap().to_vec().unwrap();
    let xs: Vec<f32> = x.to_vec().unwrap();
    for (i, g) in got.iter().enumerate() {
        let want: f64 = xs[i * n..(i + 1) * n].iter().map(|&v| v as f64).sum();
        assert!(
            ((*g as f64) - want).abs() <= 1e-5 * want,
            "random row {i}: {g} for {want}"
        );
    }
}

#[test]
fn a_sum_of_two_to_the_32_ones() {
    let dev = device();
    let x = Tensor::full_on(&dev, &[65536, 65536], 1.0, DType::F32).unwrap();
    let s: Vec<f32> = x.sum(&[], false).unwrap().to_vec().unwrap();
    assert_eq!(s, vec![4_294_967_296.0]);
}

#[test]
fn a_bf16_matmul_with_a_long_inner_dimension() {
    let dev = device();
    let k = 1 << 21;
    // Small integers that differ by row, column and position along k, so that a part read
    // twice, a part skipped or operands swapped change the result; every partial sum is an
    // integer below 2^24, exact in f32, and the result is rounded to bf16 once.
    let av = |i: usize, p: usize| 1 + ((p + i) % 2) as i64;
    let bv = |p: usize, j: usize| 1 + (p + j).is_multiple_of(3) as i64;
    let ah: Vec<half::bf16> = (0..4 * k)
        .map(|x| half::bf16::from_f32(av(x / k, x % k) as f32))
        .collect();
    let bh: Vec<half::bf16> = (0..k * 4)
        .map(|x| half::bf16::from_f32(bv(x / 4, x % 4) as f32))
        .collect();
    let a = Tensor::from_slice_on(&dev, &ah, &[4, k]).unwrap();
    let b = Tensor::from_slice_on(&dev, &bh, &[k, 4]).unwrap();
    let want: Vec<f32> = (0..16)
        .map(|o| {
            let (i, j) = (o / 4, o % 4);
            let s: i64 = (0..k).map(|p| av(i, p) * bv(p, j)).sum();
            half::bf16::from_f32(s as f32).to_f32()
        })
        .collect();
    let y: Vec<f32> = a
        .matmul(&b)
        .unwrap()
        .cast(DType::F32)
        .unwrap()
        .to_vec()
        .unwrap();
    assert_eq!(y, want);
}

#[test]
fn long_inner_dimensions_and_rows_match_the_reference() {
    let dev = device();
    // An inner size that no part count divides (a tail), in f32 and f16.
    for dtype in [DType::F32, DType::F16] {
        let a = random(&dev, dtype, &[3, 70001], -1.0, 1.0, 1);
        let b = random(&dev, dtype, &[70001, 5], -1.0, 1.0, 2);
        let tol = if dtype == DType::F32 { 1e-4 } else { 2e-3 };
        check(&a.matmul(&b).unwrap(), tol, tol, "matmul k 70001");
        // The transposed matrix, read through a view.
        let bt = random(&dev, dtype, &[5, 70001], -1.0, 1.0, 4);
        let y = a.matmul(&bt.transpose(0, 1).unwrap()).unwrap();
        check(&y, tol, tol, "matmul k 70001, transposed view");
    }
    // Rows longer than the limit, through row kernels of several stages.
    let x = random(&dev, DType::F32, &[3, 100_003], -4.0, 4.0, 5);
    check(&x.softmax(-1).unwrap(), 1e-6, 1e-4, "softmax of long rows");
    check(&x.max(&[-1], true).unwrap(), 0.0, 0.0, "max of long rows");
    check(
        &x.argmin(1, false).unwrap(),
        0.0,
        0.0,
        "argmin of long rows",
    );
    let h = random(&dev, DType::F16, &[2, 50_001], -1.0, 1.0, 6);
    check(
        &h.mean(&[-1], false).unwrap(),
        1e-4,
        1e-3,
        "f16 mean of long rows",
    );
    // Integers, and an argmax over the first axis (a strided row).
    let i = random(&dev, DType::I32, &[40_000, 3], -50.0, 50.0, 7);
    check(
        &i.argmax(0, false).unwrap(),
        0.0,
        0.0,
        "i32 argmax over axis 0",
    );
    check(
        &i.sum(&[0], false).unwrap(),
        0.0,
        0.0,
        "i32 sum over axis 0",
    );
}

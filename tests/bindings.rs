//! Kernels never bind more storage buffers than the device allows: fusion splits them, so a
//! valid graph with many inputs computes instead of failing. The limit is forced down to
//! WebGPU's minimum of 8 through `DeviceOptions`.

mod common;

use common::{check, random};
use kiln::{DType, Device, DeviceOptions, Tensor};

fn device_with(max: Option<u32>) -> Device {
    Device::new(&DeviceOptions {
        autotune: kiln::Autotune::Off,
        cache_dir: None,
        max_storage_buffers: max,
        ..DeviceOptions::from_env()
    })
    .expect("opening a device")
}

fn inputs(dev: &Device, n: usize, shape: &[usize]) -> Vec<Tensor> {
    (0..n)
        .map(|i| random(dev, DType::F32, shape, -1.0, 1.0, 100 + i as u64))
        .collect()
}

/// The kernels of `y`'s plan, after checking that none binds more than `max` buffers.
fn kernels_within(y: &Tensor, max: usize, what: &str) -> usize {
    let plan = y.explain().unwrap();
    for k in &plan.kernels {
        let bindings = k.wgsl.matches("var<storage").count();
        assert!(
            bindings <= max,
            "{what}: kernel {} binds {bindings} buffers\n{}",
            k.name,
            k.wgsl
        );
    }
    plan.kernels.len()
}

#[test]
fn long_chains_of_inputs_split_under_eight_bindings() {
    let dev = device_with(Some(8));
    for n in [8, 33, 100] {
        let xs = inputs(&dev, n, &[7, 3]);
        // Left-folded: ((a0 + a1) + a2) + ...
        let mut left = xs[0].clone();
        for x in &xs[1..] {
            left = (&left + x).unwrap();
        }
        let k = kernels_within(&left, 8, "left fold");
        assert!(k <= n.div_ceil(5), "left fold of {n}: {k} kernels");
        check(&left, 1e-5, 1e-5, &format!("left fold of {n}"));
        // Right-folded: a0 * (a1 + (a2 * ...)), mixed ops.
        let mut right = xs[n - 1].clone();
        for (i, x) in xs[..n - 1].iter().enumerate().rev() {
            right = if i % 2 == 0 { x * &right } else { x + &right }.unwrap();
        }
        kernels_within(&right, 8, "right fold");
        check(&right, 1e-5, 1e-5, &format!("right fold of {n}"));
        // A balanced tree, and where() with three operands at every level.
        let mut level = xs.clone();
        while level.len() > 1 {
            level = level
                .chunks(3)
                .map(|c| match c {
                    [a, b, c] => {
                        let m = a.gt(b).unwrap();
                        Tensor::where_(&m, c, &(a - b).unwrap()).unwrap()
                    }
                    [a, b] => (a + b).unwrap(),
                    [a] => a.clone(),
                    _ => unreachable!(),
                })
                .collect();
        }
        kernels_within(&level[0], 8, "tree");
        check(&level[0], 1e-5, 1e-5, &format!("tree of {n}"));
    }
}

#[test]
fn reductions_and_broadcasts_of_many_inputs_fit() {
    let dev = device_with(Some(8));
    let xs = inputs(&dev, 20, &[5, 1031]);
    let row = random(&dev, DType::F32, &[1, 1031], -1.0, 1.0, 9);
    let mut acc = xs[0].clone();
    for x in &xs[1..] {
        acc = (&acc + &(x * &row).unwrap()).unwrap();
    }
    let y = acc.exp().unwrap().sum(&[-1], false).unwrap();
    kernels_within(&y, 8, "sum of 20 inputs");
    check(&y, 1e-4, 1e-4, "sum of 20 inputs");
    let s = acc.softmax(-1).unwrap();
    kernels_within(&s, 8, "softmax of 20 inputs");
    check(&s, 1e-6, 1e-4, "softmax of 20 inputs");
}

#[test]
fn the_adapters_own_limit_holds_past_32_inputs() {
    let dev = device_with(None);
    for n in [33, 100] {
        let xs = inputs(&dev, n, &[3]);
        let mut left = xs[0].clone();
        for x in &xs[1..] {
            left = (&left + x).unwrap();
        }
        check(&left, 1e-5, 1e-5, &format!("left fold of {n}"));
    }
}

/// Shapes that once slipped past the count: a row broadcast that pulls a reduction's seven
/// inputs into the kernel, and a matmul absorbed as an epilogue's operand (two bindings).
#[test]
fn row_broadcasts_and_absorbed_matmuls_count_every_binding() {
    let dev = device_with(Some(8));
    let xs = inputs(&dev, 9, &[6, 33]);
    let mut prod = xs[2].clone();
    for x in &xs[3..] {
        prod = (&prod * x).unwrap();
    }
    let s = prod.sum(&[-1], true).unwrap();
    let z = (&(&xs[0] * &s).unwrap() + &xs[1]).unwrap();
    kernels_within(&z, 8, "row broadcast of a 7-input reduction");
    check(&z, 1e-5, 1e-4, "row broadcast of a 7-input reduction");

    let xs = inputs(&dev, 7, &[5, 6]);
    let a = random(&dev, DType::F32, &[5, 7], -1.0, 1.0, 40);
    let b = random(&dev, DType::F32, &[7, 6], -1.0, 1.0, 41);
    let left = (&(&xs[0] + &xs[1]).unwrap() + &(&xs[2] + &xs[3]).unwrap()).unwrap();
    let right = (&(&xs[4] + &xs[5]).unwrap() + &xs[6]).unwrap();
    let y = (&(&left + &right).unwrap() + &a.matmul(&b).unwrap()).unwrap();
    kernels_within(&y, 8, "matmul beside seven inputs");
    check(&y, 1e-5, 1e-5, "matmul beside seven inputs");
}

/// A value the kernel binds already, read again through views that must be copied (a
/// reshape of a transpose), binds the copy: the estimate that lets a subtree in without
/// further checks counts it, so the kernel stays within 8 bindings.
#[test]
fn a_bound_value_read_again_through_a_copy_counts_the_copy() {
    let dev = device_with(Some(8));
    let x = random(&dev, DType::F32, &[2, 8], -1.0, 1.0, 300);
    let xs = inputs(&dev, 6, &[16]);
    let p = x.reshape(&[16]).unwrap().add(&xs[0]).unwrap();
    let mut q = x.permute(&[1, 0]).unwrap().reshape(&[16]).unwrap();
    for b in &xs[1..] {
        q = q.add(b).unwrap();
    }
    let y = p.add(&q).unwrap();
    kernels_within(&y, 8, "x read again through a copy");
    check(&y, 1e-5, 1e-5, "x read again through a copy");
}

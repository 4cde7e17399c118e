//! Tensor-core matmuls (`kiln_codegen::coop`) against the reference interpreter, where the
//! adapter lists the cooperative matrices the template uses; skipped with the reason printed
//! elsewhere (lavapipe has none: CI checks the generated WGSL with naga instead,
//! `codegen/tests/naga_tensor_cores.rs`). Odd sizes, transposed and batched operands, fused
//! epilogues, f32 under the opt-in precision, and every tuned candidate (the tuner checks
//! each against the scalar template, and the kept one is checked here again).

mod common;
use common::*;
use kiln::{DType, Device, DeviceOptions, MatmulPrecision, Tensor};

/// A device of the given matmul precision and tuning, or `None` (printed) where the adapter
/// has no tensor cores kiln can use.
fn device_with(precision: MatmulPrecision, autotune: kiln::Autotune) -> Option<Device> {
    let dev = Device::new(&DeviceOptions {
        matmul_precision: precision,
        autotune,
        cache_dir: None,
        ..DeviceOptions::from_env()
    })
    .expect("opening a device");
    if dev.tensor_cores() {
        Some(dev)
    } else {
        eprintln!(
            "tensor cores: skipped on {}: no 16x16x16 f16 x f16 -> f32 cooperative matrices \
             with 32-wide subgroups",
            dev.describe()
        );
        None
    }
}

fn on_tensor_cores(t: &Tensor) -> bool {
    t.explain()
        .unwrap()
        .kernels
        .iter()
        .any(|k| k.kind.ends_with("on tensor cores"))
}

/// Products of `dt` operands: `[m, k] @ [k, n]`, transposed B, batched with a bias and a
/// GELU, at odd sizes.
fn products(dev: &Device, dt: DType, seed: u64) -> Vec<(String, Tensor, usize)> {
    let mut out = Vec::new();
    for (i, &(m, k, n)) in [(16, 16, 16), (17, 19, 23), (1031, 40, 33), (130, 257, 129)]
        .iter()
        .enumerate()
    {
        let s = seed + 10 * i as u64;
        let a = random(dev, dt, &[m, k], -1.0, 1.0, s);
        let b = random(dev, dt, &[k, n], -1.0, 1.0, s + 1);
        out.push((format!("{m}x{k}x{n}"), a.matmul(&b).unwrap(), k));
        let bt = random(dev, dt, &[n, k], -1.0, 1.0, s + 2);
        out.push((
            format!("{m}x{k}x{n} B^T"),
            a.matmul(&bt.transpose(0, 1).unwrap()).unwrap(),
            k,
        ));
    }
    // The aligned tile (`coop::aligned`: no tests around its loads, 16-byte staging): chosen
    // by size at 2048 x 64 x 2048 (tuned onto 256 x 96 x 512 by the tuning test); a kernel
    // with a part tile and a depth of no whole slices settles on another tile.
    for (i, &(m, k, n)) in [(2048, 64, 2048), (256, 96, 512), (300, 72, 520)]
        .iter()
        .enumerate()
    {
        let s = seed + 50 + 10 * i as u64;
        let a = random(dev, dt, &[m, k], -1.0, 1.0, s);
        let b = random(dev, dt, &[k, n], -1.0, 1.0, s + 1);
        out.push((format!("{m}x{k}x{n}"), a.matmul(&b).unwrap(), k));
    }
    // A contiguous A at an offset of 3 elements: not aligned, so on a tile that is not.
    let flat = random(dev, dt, &[3 + 256 * 64], -1.0, 1.0, seed + 90);
    let a = flat
        .narrow(0, 3, 256 * 64)
        .unwrap()
        .reshape(&[256, 64])
        .unwrap();
    let b = random(dev, dt, &[64, 256], -1.0, 1.0, seed + 91);
    out.push(("256x64x256 A at offset 3".into(), a.matmul(&b).unwrap(), 64));
    // A batch against one B (a weight, broadcast by a stride of 0), with a bias: the aligned
    // tile, B read wide like A.
    let a = random(dev, dt, &[8, 1024, 64], -1.0, 1.0, seed + 95);
    let b = random(dev, dt, &[64, 1024], -1.0, 1.0, seed + 96);
    let bias = random(dev, dt, &[1024], -1.0, 1.0, seed + 97);
    out.push((
        "shared B 8x1024x64x1024 + bias".into(),
        a.matmul(&b).unwrap().add(&bias).unwrap(),
        64,
    ));
    // Products 64 columns wide (attention's with V): the aligned 128 x 64 tile, wide.
    let a = random(dev, dt, &[32, 512, 128], -1.0, 1.0, seed + 98);
    let b = random(dev, dt, &[32, 128, 64], -1.0, 1.0, seed + 99);
    out.push(("narrow 32x512x128x64".into(), a.matmul(&b).unwrap(), 128));
    let a = random(dev, dt, &[3, 65, 48], -1.0, 1.0, seed + 100);
    let b = random(dev, dt, &[3, 48, 70], -1.0, 1.0, seed + 101);
    let bias = random(dev, dt, &[70], -1.0, 1.0, seed + 102);
    out.push((
        "batched + bias + gelu".into(),
        a.matmul(&b).unwrap().add(&bias).unwrap().gelu().unwrap(),
        48,
    ));
    out
}

/// f16 products are exact in f32 and summed in f32: the scalar matmul's tolerance, plus the
/// one f16 ulp `check` adds. A fused epilogue rounds once where the reference rounds the
/// product, the biased sum and the GELU each to f16: two more ulps (the H200 showed 2).
fn f16_rtol(what: &str) -> f32 {
    if what.contains("gelu") {
        1e-4 + 2.0 * 2f32.powi(-10)
    } else {
        1e-4
    }
}

/// The absolute tolerance of an f16 product over depth `k`: the scalar matmul's, and, where
/// a bias follows, one f16 ulp of the product's typical size (`sqrt(k)` / 3 for operands
/// uniform in [-1, 1], three of those at most). Summed in another order, a product may round
/// to the neighbouring f16; where the bias cancels it, that ulp is the whole of the biased
/// value, and GELU keeps half of it. On the H100 an element biased to -0.0039 (product
/// -0.8193) came out 1.2e-4 from the reference (journal 2026-12-06-tensor-core-staging.md).
fn f16_atol(what: &str, k: usize) -> f32 {
    if what.contains("bias") {
        1e-4 + 2f32.powi(-10) * (k as f32).sqrt()
    } else {
        1e-4
    }
}

#[test]
fn f16_matmuls_on_tensor_cores() {
    let Some(dev) = device_with(MatmulPrecision::F32, kiln::Autotune::Off) else {
        return;
    };
    for (what, y, k) in products(&dev, DType::F16, 1) {
        assert!(on_tensor_cores(&y), "{what}: not on tensor cores");
        // Only the aligned tile binds f16 operands wide, for its 16-byte loads.
        let wide = y
            .explain()
            .unwrap()
            .kernels
            .iter()
            .any(|k| k.wgsl.contains("array<vec4<u32>>"));
        // Where the adapter's workgroup memory holds the aligned tile.
        let holds = dev.gpu().is_some_and(|g| {
            let t = kiln_codegen::coop::COOP_TILES
                .iter()
                .find(|t| t.aligned)
                .unwrap();
            g.limits.max_compute_workgroup_storage_size >= t.workgroup_bytes()
        });
        assert_eq!(
            wide,
            holds
                && (what == "2048x64x2048"
                    || what.starts_with("shared B")
                    || what.starts_with("narrow")),
            "{what}: on the aligned tile"
        );
        check(
            &y,
            f16_atol(&what, k),
            f16_rtol(&what),
            &format!("f16 {what}"),
        );
    }
    // f32 stays on the f32 path at the default precision.
    let a = random(&dev, DType::F32, &[64, 64], -1.0, 1.0, 9);
    assert!(!on_tensor_cores(&a.matmul(&a).unwrap()));
}

#[test]
fn f32_matmuls_at_f16_precision() {
    let Some(dev) = device_with(MatmulPrecision::F16, kiln::Autotune::Off) else {
        return;
    };
    for (what, y, k) in products(&dev, DType::F32, 2) {
        assert!(on_tensor_cores(&y), "{what}: not on tensor cores");
        // Operands rounded to f16 (relative 2^-11 each), summed in f32.
        check(
            &y,
            2e-3 * (k as f32).sqrt(),
            1e-2,
            &format!("f32 at f16 precision {what}"),
        );
    }
}

/// Fused attention with both products on tensor cores: odd lengths, causal and masked, heads
/// of 32, 64 and 80 (padded), f16; f32 at f16 precision.
#[test]
fn attention_on_tensor_cores() {
    for (precision, dt, tol) in [
        (MatmulPrecision::F32, DType::F16, (2e-3, 2e-3)),
        (MatmulPrecision::F16, DType::F32, (3e-3, 3e-3)),
    ] {
        let Some(dev) = device_with(precision, kiln::Autotune::Off) else {
            return;
        };
        for (i, &(sq, sk, d, causal, masked)) in [
            (16, 16, 32, false, false),
            (33, 129, 64, true, false),
            (129, 1031, 80, false, true),
            (7, 7, 64, true, true),
        ]
        .iter()
        .enumerate()
        {
            let s = 50 + 10 * i as u64;
            let q = random(&dev, dt, &[2, 3, sq, d], -1.0, 1.0, s);
            let k = random(&dev, dt, &[2, 3, sk, d], -1.0, 1.0, s + 1);
            let v = random(&dev, dt, &[2, 3, sk, d], -1.0, 1.0, s + 2);
            let mask = random(&dev, dt, &[sq, sk], -0.5, 0.5, s + 3);
            let y = q
                .scaled_dot_product_attention(&k, &v, masked.then_some(&mask), None, causal)
                .unwrap();
            let what = format!("{dt} sq {sq} sk {sk} d {d} causal {causal} masked {masked}");
            // Blocks of 16 rows take tensor cores; fewer rows stay scalar, and so do the parts
            // of a split attention (these few row blocks split from 128 keys).
            assert_eq!(on_tensor_cores(&y), sq >= 9 && sk < 128, "{what}");
            check(&y, tol.0, tol.1, &what);
        }
    }
}

#[test]
fn every_tuned_candidate_is_right() {
    let Some(dev) = device_with(MatmulPrecision::F32, kiln::Autotune::Full) else {
        return;
    };
    for (what, y, k) in products(&dev, DType::F16, 3) {
        check(
            &y,
            f16_atol(&what, k),
            f16_rtol(&what),
            &format!("tuned f16 {what}"),
        );
    }
}

//! wgpu's run-time checks in kiln's shaders (`DeviceOptions::shader_checks`): the setting's
//! grammar, and kernels of every kind run with no check at all (the default leaves out only
//! the loop counters) against the reference interpreter, at odd sizes, past 65,535 loop
//! iterations, with broadcasts and strided views.

mod common;
use common::*;
use kiln::{BlockFormat, DType, Device, DeviceOptions, ShaderChecks};

#[test]
fn the_setting_reads_all_none_default_or_a_list() {
    let parse = |s: &str| s.parse::<ShaderChecks>();
    assert_eq!(parse("all"), Ok(ShaderChecks::ALL));
    assert_eq!(parse(" None "), Ok(ShaderChecks::NONE));
    assert_eq!(parse(""), Ok(ShaderChecks::NONE));
    assert_eq!(parse("default"), Ok(ShaderChecks::DEFAULT));
    assert_eq!(
        parse("bounds, division"),
        Ok(ShaderChecks {
            bounds: true,
            loops: false,
            division: true
        })
    );
    assert_eq!(
        parse("loops"),
        Ok(ShaderChecks {
            bounds: false,
            loops: true,
            division: false
        })
    );
    let e = parse("bounds,speed").unwrap_err();
    assert!(e.contains("\"speed\""), "{e}");
    // The default keeps the index clamps and division guards and leaves out the loop
    // counters, which cost the quantized gemvs a third of their speed on an H100.
    assert_eq!(ShaderChecks::default(), ShaderChecks::DEFAULT);
    assert_eq!(
        ShaderChecks::default(),
        ShaderChecks {
            bounds: true,
            loops: false,
            division: true
        }
    );
    assert_eq!(
        DeviceOptions::default().shader_checks,
        ShaderChecks::DEFAULT
    );
}

/// The quantized gemv path too (off by default on CPU adapters).
fn device_with(checks: ShaderChecks) -> Device {
    device_with_qgemv_path(&DeviceOptions {
        autotune: kiln::Autotune::Off,
        cache_dir: None,
        shader_checks: checks,
        ..DeviceOptions::from_env()
    })
}

#[test]
fn kernels_match_the_interpreter_with_every_check_and_none() {
    for checks in [ShaderChecks::NONE, ShaderChecks::ALL] {
        let dev = device_with(checks);
        let what = |s: &str| format!("{s} ({checks:?})");
        // A row past 65,535 loop iterations, reduced; an elementwise chain over a broadcast
        // and a transposed view.
        let x = random(&dev, DType::F32, &[3, 70_001], -2.0, 2.0, 1);
        check(&x.softmax(-1).unwrap(), 1e-6, 1e-4, &what("softmax"));
        check(&x.sum(&[-1], false).unwrap(), 1e-2, 1e-4, &what("sum"));
        let a = random(&dev, DType::F32, &[7, 1031], -1.0, 1.0, 2);
        let b = random(&dev, DType::F32, &[1031, 7], -1.0, 1.0, 3);
        let c = random(&dev, DType::F32, &[1, 1031], -1.0, 1.0, 4);
        let e = a
            .add(&b.transpose(0, 1).unwrap())
            .unwrap()
            .mul(&c)
            .unwrap()
            .tanh()
            .unwrap();
        check(&e, 1e-6, 1e-5, &what("broadcast and strided elementwise"));
        check(&a.cumsum(-1).unwrap(), 1e-3, 1e-4, &what("cumsum"));
        // A matmul with an epilogue, and quantized gemvs.
        let m = a.matmul(&b).unwrap().relu().unwrap();
        check(&m, 2e-6 * 1031.0, 1e-5, &what("matmul"));
        for (i, f) in [BlockFormat::Q8_0, BlockFormat::Q4K]
            .into_iter()
            .enumerate()
        {
            let k = 3 * f.block_values();
            let w = random(&dev, DType::Quant(f), &[33, k], 0.0, 0.0, 10 + i as u64);
            let v = random(&dev, DType::F32, &[1, k], -1.0, 1.0, 20 + i as u64);
            let y = v
                .matmul(&w.cast(DType::F32).unwrap().transpose(0, 1).unwrap())
                .unwrap();
            check(
                &y,
                2e-6 * k as f32 * 400.0,
                1e-5,
                &what(&format!("{f:?} gemv")),
            );
        }
        // Fused attention, the row form (65 queries) and a decode row, causal.
        for sq in [65, 1] {
            let q = random(&dev, DType::F32, &[1, 2, sq, 64], -1.0, 1.0, 30);
            let k = random(&dev, DType::F32, &[1, 2, 70, 64], -1.0, 1.0, 31);
            let v = random(&dev, DType::F32, &[1, 2, 70, 64], -1.0, 1.0, 32);
            let o = q
                .scaled_dot_product_attention(&k, &v, None, None, true)
                .unwrap();
            check(&o, 2e-5, 1e-4, &what(&format!("attention, {sq} queries")));
        }
    }
}

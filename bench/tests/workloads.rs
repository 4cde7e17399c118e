//! The standard workloads of kiln-bench, checked once against the reference interpreter at
//! small size (the transformer layer included).

#[path = "../../tests/common/mod.rs"]
mod common;
use common::*;
use kiln_bench::workloads::{self, Size};

#[test]
fn standard_workloads_match_reference_at_small_size() {
    let dev = device();
    for name in workloads::NAMES {
        if name == "matmul" || name == "matmul_f16" || name == "matmul_bias_gelu" {
            // Covered by ops_matmul at odd sizes; the 512^3 reference is slow in debug builds.
            continue;
        }
        let w = workloads::build(&dev, name, Size::Small).unwrap().unwrap();
        let prog = w.compile().unwrap();
        let out = prog.run(&w.input_refs()).unwrap();
        let want = prog.reference(&w.input_refs()).unwrap();
        // A quantized gemv sums 1024 products of weights up to about 100 (K-quants): the
        // matmul tolerance of tests/quant.rs.
        let (atol, rtol) = match name {
            "transformer_layer" => (1e-4, 1e-4),
            // f16 everywhere: the unfused reference rounds after every op.
            "transformer_layer_f16" => (3e-2, 3e-2),
            _ if name.starts_with("attention") && name.ends_with("f16") => (2e-3, 2e-3),
            _ if name.starts_with("attention") => (2e-5, 1e-4),
            // Logits after two layers of quantized products.
            _ if name.starts_with("llm_") => (1e-3, 1e-3),
            _ if name.starts_with("gemv_q") => (2e-6 * 1024.0 * 40.0, 1e-5),
            // Running sums of 1024 values: the scan's tolerance.
            "cumsum" => (1e-6 * 1024.0, 1e-5),
            _ => (1e-5, 1e-5),
        };
        assert_close(&out[0].to_host().unwrap(), &want[0], atol, rtol, name);
    }
    assert!(workloads::build(&dev, "nope", Size::Small)
        .unwrap()
        .is_none());
}

#[test]
fn quantized_gemvs_take_shapes_and_chains() {
    let dev = device();
    for (name, kernels) in [
        ("gemv_q4_k@96x256", 1),
        ("gemv_q8_0@288x256x3", 3),
        ("gemv_q6_k@64x512x1", 1),
    ] {
        let w = workloads::build(&dev, name, Size::Small).unwrap().unwrap();
        let prog = w.compile().unwrap();
        assert_eq!(prog.kernel_count(), kernels, "{name}");
        let out = prog.run(&w.input_refs()).unwrap();
        let want = prog.reference(&w.input_refs()).unwrap();
        assert_close(
            &out[0].to_host().unwrap(),
            &want[0],
            2e-6 * 512.0 * 40.0,
            1e-5,
            name,
        );
    }
    // Malformed, a chain of none, a chained product narrower than its vector, not a gemv.
    for name in [
        "gemv_q4_k@96",
        "gemv_q4_k@96xk",
        "gemv_q4_k@256x256x0",
        "gemv_q4_k@96x256x2",
        "copy@96x256",
    ] {
        assert!(
            workloads::build(&dev, name, Size::Small).unwrap().is_none(),
            "{name}"
        );
    }
}

/// `--check`'s link-by-link check of a chain of quantized products: every link within the
/// `f32` bound on the `f32` vector and within kiln-bench's 8-bit bound (1e-2 of the largest
/// output) where the vector is rounded to 8 bits (by the warp kernel where the adapter has
/// subgroups); each link's reference is fed with the device's previous link, not the
/// reference's; a link off by 5%, or NaN, is the one named.
#[test]
fn chains_are_checked_link_by_link() {
    use kiln_bench::check::{chain_links, compare_links, run_links, Deviation};
    use kiln_bench::workloads::chain_link;
    let f32_vector = kiln::Device::new(&kiln::DeviceOptions {
        autotune: kiln::Autotune::Off,
        cache_dir: None,
        gemv_activations: kiln::GemvActivations::F32,
        ..kiln::DeviceOptions::from_env()
    })
    .unwrap();
    let w = workloads::build(&f32_vector, "gemv_q8_0@288x256x3", Size::Small)
        .unwrap()
        .unwrap();
    let links = chain_links(&w).unwrap();
    assert_eq!(links.len(), 3);
    for l in &links {
        assert!(l.within(1e-5), "{l:?}");
    }
    let int8 = device_with_qgemv_path(&kiln::DeviceOptions {
        autotune: kiln::Autotune::Off,
        cache_dir: None,
        gemv_activations: kiln::GemvActivations::Int8,
        ..kiln::DeviceOptions::from_env()
    });
    if let Some(g) = int8.gpu() {
        let mut s = g.schedule();
        s.matmul.qgemv_warps = 16;
        s.matmul.gemv_subgroups = true;
        g.set_schedule(s);
    }
    let w = workloads::build(&int8, "gemv_q4_k@1031x1024x3", Size::Small)
        .unwrap()
        .unwrap();
    let links = chain_links(&w).unwrap();
    for l in &links {
        assert!(l.within(1e-2), "{l:?}");
    }
    // More than f32 rounding where the first vector (random in [-1, 1]) was rounded to 8
    // bits (the later ones are the tanh of outputs in the thousands, ±1, which round
    // exactly). The interpreter (no GPU) has no 8-bit path: there the links pass the f32
    // bound, which the loop above covers.
    assert!(
        int8.gpu().is_none() || links[0].relative() > 1e-5,
        "{:?}",
        links[0]
    );
    let got = run_links(&w).unwrap();
    assert_eq!(compare_links(&w, &got).unwrap(), links);
    // Link 2 computed on the host from a first link made 5% wrong: the first is named, the
    // second matches exactly, since its reference is fed the first as given.
    let cpu = kiln::Device::interpreter();
    let on_cpu = |t: &kiln::Tensor| kiln::Tensor::from_host_on(&cpu, t.to_host().unwrap()).unwrap();
    let v = got[0].to_f64();
    let big = v.iter().fold(0f64, |m, x| m.max(x.abs()));
    let mut off: Vec<f32> = v.iter().map(|&x| x as f32).collect();
    off[517] += (0.05 * big) as f32;
    let mut wrong = got.clone();
    wrong[0] = kiln::HostTensor::from_slice(&off, got[0].shape.clone()).unwrap();
    let first = kiln::Tensor::from_host_on(&cpu, wrong[0].clone()).unwrap();
    wrong[1] = chain_link(&first, &on_cpu(&w.inputs[2]), 1)
        .unwrap()
        .to_host()
        .unwrap();
    let links = compare_links(&w, &wrong).unwrap();
    assert!(!links[0].within(3e-2), "{:?}", links[0]);
    assert_eq!(links[1].err, 0.0, "{:?}", links[1]);
    // A NaN is never within a bound; too few products are an error.
    off[517] = f32::NAN;
    wrong[0] = kiln::HostTensor::from_slice(&off, got[0].shape.clone()).unwrap();
    let links = compare_links(&w, &wrong).unwrap();
    assert!(links[0].relative().is_nan() && !links[0].within(1.0));
    assert!(compare_links(&w, &got[..2]).is_err());
    assert!(!Deviation::of(&[1.0, f64::NAN], &[1.0, 2.0]).within(1.0));
    assert!(Deviation::of(&[1.0, f64::NAN], &[1.0, f64::NAN]).within(0.0));
    assert!(!Deviation::of(&[1.0], &[1.0, 2.0]).within(1.0));
}

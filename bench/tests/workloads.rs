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

//! kiln in the browser: a representative part of the op suite, run on the page's WebGPU adapter
//! (headless Chromium, SwiftShader in CI) and checked against the reference interpreter, with
//! the tolerances of the native suite (docs/OPS.md). Built only for wasm32; `.ci/run` runs it
//! with `cargo test --target wasm32-unknown-unknown --test browser` under
//! `wasm-bindgen-test-runner`.
#![cfg(target_arch = "wasm32")]

mod common;

use common::{assert_close, kernel_kinds, random};
use kiln::ir::BlockFormat;
use kiln::{DType, Device, DeviceOptions, Error, Program, Tensor};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// The sizes run here: the native suite's odd ones (1000 and its vec4 neighbours are covered
/// natively; SwiftShader runs every invocation on the CPU).
const SIZES: [usize; 4] = [1, 3, 7, 1031];

/// A device on the browser's adapter, which must be a WebGPU one (no silent interpreter).
async fn gpu() -> Device {
    gpu_with(DeviceOptions {
        require_adapter: true,
        ..DeviceOptions::default()
    })
    .await
}

async fn gpu_with(opts: DeviceOptions) -> Device {
    let d = Device::new_async(&opts)
        .await
        .expect("opening a WebGPU device");
    assert!(d.is_gpu(), "not a GPU device: {}", d.describe());
    assert!(
        d.describe().contains("BrowserWebGpu"),
        "not the browser's WebGPU: {}",
        d.describe()
    );
    d
}

/// The tensor `build` makes on `d`, read back without blocking, against the same graph built
/// on the interpreter from the same seeds (a GPU leaf cannot be read for `reference()` here
/// without blocking).
async fn check(d: &Device, what: &str, atol: f32, rtol: f32, build: impl Fn(&Device) -> Tensor) {
    let want = build(&Device::interpreter())
        .to_host()
        .unwrap_or_else(|e| panic!("{what}: reference: {e}"));
    let got = build(d)
        .to_host_async()
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_close(&got, &want, atol, rtol, what);
}

#[wasm_bindgen_test]
async fn elementwise_with_broadcasts_and_strided_views() {
    let d = gpu().await;
    for (i, &n) in SIZES.iter().enumerate() {
        let s = 10 * i as u64;
        let x = |d: &Device| random(d, DType::F32, &[3, n], -2.0, 2.0, s + 1);
        let row = |d: &Device| random(d, DType::F32, &[1, n], 0.5, 2.0, s + 2);
        let col = |d: &Device| random(d, DType::F32, &[3, 1], -1.0, 1.0, s + 3);
        check(&d, &format!("tanh(x*row+col) n={n}"), 1e-6, 1e-5, |d| {
            x(d).mul(&row(d))
                .unwrap()
                .add(&col(d))
                .unwrap()
                .tanh()
                .unwrap()
        })
        .await;
        check(&d, &format!("sqrt(exp(x)/row) n={n}"), 1e-6, 1e-5, |d| {
            x(d).exp().unwrap().div(&row(d)).unwrap().sqrt().unwrap()
        })
        .await;
        // A transposed view read in place.
        check(&d, &format!("x^T - 0.5 n={n}"), 0.0, 0.0, |d| {
            x(d).transpose(0, 1).unwrap().sub_scalar(0.5).unwrap()
        })
        .await;
        check(
            &d,
            &format!("where(x > row, x, col) n={n}"),
            0.0,
            0.0,
            |d| {
                let x = x(d);
                Tensor::where_(&x.gt(&row(d)).unwrap(), &x, &col(d)).unwrap()
            },
        )
        .await;
    }
}

#[wasm_bindgen_test]
async fn reductions_over_each_axis() {
    let d = gpu().await;
    for (i, &n) in SIZES.iter().enumerate() {
        let x = |d: &Device| random(d, DType::F32, &[5, n], -3.0, 3.0, 100 + i as u64);
        check(&d, &format!("sum rows n={n}"), 1e-5, 1e-5, |d| {
            x(d).sum(&[-1], false).unwrap()
        })
        .await;
        check(&d, &format!("sum columns n={n}"), 1e-5, 1e-5, |d| {
            x(d).sum(&[0], true).unwrap()
        })
        .await;
        check(&d, &format!("max n={n}"), 0.0, 0.0, |d| {
            x(d).max(&[-1], false).unwrap()
        })
        .await;
        check(&d, &format!("mean n={n}"), 1e-5, 1e-5, |d| {
            x(d).mean(&[0, 1], false).unwrap()
        })
        .await;
        check(&d, &format!("argmax n={n}"), 0.0, 0.0, |d| {
            x(d).argmax(-1, false).unwrap()
        })
        .await;
    }
}

#[wasm_bindgen_test]
async fn softmax_and_norms() {
    let d = gpu().await;
    for (i, &n) in SIZES.iter().enumerate() {
        let s = 200 + 10 * i as u64;
        let x = |d: &Device| random(d, DType::F32, &[4, n], -5.0, 5.0, s);
        let w = |d: &Device| random(d, DType::F32, &[n], 0.5, 1.5, s + 1);
        let b = |d: &Device| random(d, DType::F32, &[n], -0.5, 0.5, s + 2);
        check(&d, &format!("softmax n={n}"), 1e-6, 1e-5, |d| {
            x(d).softmax(-1).unwrap()
        })
        .await;
        if n > 1 {
            check(&d, &format!("layer_norm n={n}"), 1e-5, 1e-4, |d| {
                x(d).layer_norm(Some(&w(d)), Some(&b(d)), 1e-5).unwrap()
            })
            .await;
        }
        check(&d, &format!("rms_norm n={n}"), 1e-5, 1e-4, |d| {
            x(d).rms_norm(Some(&w(d)), 1e-6).unwrap()
        })
        .await;
    }
}

/// Scans (a workgroup barrier in a loop, which Tint's uniformity analysis checks) and the
/// math and bit ops of the Burn backend, through Chromium's compiler.
#[wasm_bindgen_test]
async fn scans_and_math_ops() {
    use kiln::ir::ops::{BinaryOp, ScanOp, UnaryOp, ALL_SCAN};
    let d = gpu().await;
    for (i, &n) in SIZES.iter().enumerate() {
        for op in ALL_SCAN {
            let (lo, hi) = if op == ScanOp::Prod {
                (0.9, 1.1)
            } else {
                (-1.0, 1.0)
            };
            let (atol, rtol) = op.tolerance_f32(n);
            check(&d, &format!("{} n={n}", op.name()), atol, rtol, |d| {
                random(d, DType::F32, &[3, n], lo, hi, 300 + i as u64)
                    .scan(op, 0)
                    .unwrap()
            })
            .await;
        }
    }
    for op in [
        UnaryOp::Asinh,
        UnaryOp::Atanh,
        UnaryOp::Log1p,
        UnaryOp::Erf,
        UnaryOp::Tan,
    ] {
        let (atol, rtol) = op.tolerance_f32();
        check(&d, op.name(), atol, rtol, |d| {
            random(d, DType::F32, &[1031], -0.9, 0.9, 7)
                .unary(op)
                .unwrap()
        })
        .await;
    }
    for op in [BinaryOp::Atan2, BinaryOp::RemFloor] {
        check(&d, op.name(), 2e-6, 1e-5, |d| {
            let a = random(d, DType::F32, &[1031], -4.0, 4.0, 8);
            a.binary(op, &random(d, DType::F32, &[1031], -3.0, -0.5, 9))
                .unwrap()
        })
        .await;
    }
    for op in [
        BinaryOp::BitXor,
        BinaryOp::Shl,
        BinaryOp::Shr,
        BinaryOp::RemFloor,
    ] {
        check(&d, op.name(), 0.0, 0.0, |d| {
            let a = random(d, DType::I32, &[1031], -1000.0, 1000.0, 10);
            a.binary(op, &random(d, DType::I32, &[1031], -40.0, 40.0, 11))
                .unwrap()
        })
        .await;
    }
}

/// The compositions of the Burn backend's ops (gathers through window tables, pairwise
/// reductions, scatters) through Chromium's compiler.
#[wasm_bindgen_test]
async fn convolution_pooling_sort_and_scatter() {
    use kiln::{ConvOptions, IndexUpdate, InterpolateMode, PoolOptions};
    let d = gpu().await;
    let conv = ConvOptions {
        stride: vec![2, 1],
        padding: vec![(1, 0), (1, 1)],
        dilation: vec![1, 2],
        groups: 2,
    };
    check(&d, "conv2d", 1e-5, 1e-5, |d| {
        let x = random(d, DType::F32, &[2, 4, 9, 7], -1.0, 1.0, 1);
        let w = random(d, DType::F32, &[6, 2, 3, 2], -1.0, 1.0, 2);
        x.conv(&w, None, &conv).unwrap()
    })
    .await;
    check(&d, "max_pool", 0.0, 0.0, |d| {
        let x = random(d, DType::F32, &[2, 3, 9, 8], -1.0, 1.0, 3);
        x.max_pool_with_indices(&PoolOptions::new(&[3, 2]))
            .unwrap()
            .1
    })
    .await;
    check(&d, "bicubic", 1e-6, 1e-5, |d| {
        let x = random(d, DType::F32, &[1, 2, 5, 6], -1.0, 1.0, 4);
        x.interpolate(&[8, 3], InterpolateMode::Cubic, false)
            .unwrap()
    })
    .await;
    check(&d, "argsort", 0.0, 0.0, |d| {
        random(d, DType::F32, &[3, 129], -1.0, 1.0, 5)
            .argsort(-1, true)
            .unwrap()
    })
    .await;
    check(&d, "scatter add", 1e-5, 1e-5, |d| {
        let x = random(d, DType::F32, &[5, 31], -1.0, 1.0, 6);
        let i = random(d, DType::I32, &[5, 9], -33.0, 33.0, 7);
        let v = random(d, DType::F32, &[5, 9], -1.0, 1.0, 8);
        x.scatter_reduce(1, &i, &v, IndexUpdate::Add).unwrap()
    })
    .await;
}

#[wasm_bindgen_test]
async fn matmuls_at_odd_sizes_batched_and_transposed() {
    let d = gpu().await;
    for (m, k, n) in [(1, 1, 1), (7, 33, 5), (1, 1031, 3), (65, 7, 129)] {
        let a = |d: &Device| random(d, DType::F32, &[m, k], -1.0, 1.0, (m * k) as u64);
        let b = |d: &Device| random(d, DType::F32, &[k, n], -1.0, 1.0, (k * n + 1) as u64);
        let tol = 1e-5 * k as f32;
        check(&d, &format!("{m}x{k}x{n}"), tol, 1e-4, |d| {
            a(d).matmul(&b(d)).unwrap()
        })
        .await;
        // B read through a transposed view, A broadcast over a batch.
        check(&d, &format!("batched {m}x{k}x{n}^T"), tol, 1e-4, |d| {
            let bt = random(d, DType::F32, &[2, n, k], -1.0, 1.0, 7 + n as u64);
            a(d).matmul(&bt.transpose(1, 2).unwrap()).unwrap()
        })
        .await;
    }
}

/// Fused attention in the browser's WGSL compiler (Tint checks uniformity strictly): causal
/// and masked, odd lengths, a head of 80, a decode row split over 1031 keys, and 65 queries
/// (the row form, an invocation a row); the unfused pattern is recognized there too.
#[wasm_bindgen_test]
async fn fused_attention() {
    let d = gpu().await;
    for (sq, sk, dh, causal) in [
        (7, 7, 80, true),
        (3, 129, 32, false),
        (1, 1031, 64, false),
        (65, 70, 64, true),
    ] {
        let what = format!("attention sq {sq} sk {sk} d {dh} causal {causal}");
        check(&d, &what, 2e-5, 1e-4, |d| {
            let q = random(d, DType::F32, &[2, sq, dh], -1.0, 1.0, 1 + sq as u64);
            let k = random(d, DType::F32, &[2, sk, dh], -1.0, 1.0, 2 + sk as u64);
            let v = random(d, DType::F32, &[2, sk, dh], -1.0, 1.0, 3 + sk as u64);
            let mask = random(d, DType::F32, &[sq, sk], -0.5, 0.5, 4);
            q.scaled_dot_product_attention(&k, &v, Some(&mask), None, causal)
                .unwrap()
        })
        .await;
    }
    let pattern = |d: &Device| {
        let q = random(d, DType::F32, &[3, 9, 16], -1.0, 1.0, 5);
        let k = random(d, DType::F32, &[3, 11, 16], -1.0, 1.0, 6);
        let v = random(d, DType::F32, &[3, 11, 16], -1.0, 1.0, 7);
        q.matmul(&k.transpose(-1, -2).unwrap())
            .unwrap()
            .mul_scalar(0.25)
            .unwrap()
            .softmax(-1)
            .unwrap()
            .matmul(&v)
            .unwrap()
    };
    let kinds = kernel_kinds(&pattern(&d));
    assert!(
        kinds.iter().any(|k| k.starts_with("fused attention")),
        "{kinds:?}"
    );
    check(&d, "attention pattern", 2e-5, 1e-4, pattern).await;
    // Queries computed where the kernel reads them (a q prologue), split over 300 keys.
    let computed = |d: &Device| {
        let x = random(d, DType::F32, &[2, 1, 64], -1.0, 1.0, 8);
        let k = random(d, DType::F32, &[2, 300, 64], -1.0, 1.0, 9);
        let v = random(d, DType::F32, &[2, 300, 64], -1.0, 1.0, 10);
        x.mul(&x.sin().unwrap())
            .unwrap()
            .scaled_dot_product_attention(&k, &v, None, None, false)
            .unwrap()
    };
    let kinds = kernel_kinds(&computed(&d));
    assert!(
        kinds.iter().any(|k| k.contains("queries computed")),
        "{kinds:?}"
    );
    check(&d, "attention, computed queries", 2e-5, 1e-4, computed).await;
}

/// A chain that fuses into one kernel (checked through `explain()`), and a matmul with its
/// epilogue fused.
#[wasm_bindgen_test]
async fn a_fused_chain_is_one_kernel() {
    let d = gpu().await;
    let chain = |d: &Device| {
        let x = random(d, DType::F32, &[8, 1031], -2.0, 2.0, 300);
        let y = random(d, DType::F32, &[1031], 0.5, 1.5, 301);
        let z = x.mul(&y).unwrap().add_scalar(1.0).unwrap().relu().unwrap();
        z.mul(&x).unwrap().sigmoid().unwrap()
    };
    let plan = chain(&d).explain().unwrap();
    assert_eq!(plan.kernels.len(), 1, "{:?}", plan.kernels);
    check(&d, "fused chain", 1e-6, 1e-5, chain).await;
    let mlp = |d: &Device| {
        let a = random(d, DType::F32, &[9, 40], -1.0, 1.0, 302);
        let w = random(d, DType::F32, &[40, 24], -1.0, 1.0, 303);
        let bias = random(d, DType::F32, &[24], -1.0, 1.0, 304);
        a.matmul(&w).unwrap().add(&bias).unwrap().gelu().unwrap()
    };
    assert_eq!(mlp(&d).explain().unwrap().kernels.len(), 1);
    check(&d, "matmul + bias + gelu", 1e-4, 1e-4, mlp).await;
}

/// More inputs than one kernel may bind: fusion splits the concat so every kernel stays under
/// the adapter's storage-buffer limit.
#[wasm_bindgen_test]
async fn more_inputs_than_binding_slots() {
    let d = gpu().await;
    check(&d, "concat of 20", 0.0, 0.0, |d| {
        let parts: Vec<Tensor> = (0..20)
            .map(|i| random(d, DType::F32, &[3, 1 + i], -1.0, 1.0, 400 + i as u64))
            .collect();
        let refs: Vec<&Tensor> = parts.iter().collect();
        Tensor::concat(&refs, 1).unwrap().mul_scalar(2.0).unwrap()
    })
    .await;
}

/// f16 tensors: widened to f32 everywhere, and stored in 16 bits where the adapter has
/// `shader-f16` (SwiftShader does not; then the device falls back to widened storage).
#[wasm_bindgen_test]
async fn f16_tensors() {
    for f16_storage in [false, true] {
        let d = gpu_with(DeviceOptions {
            require_adapter: true,
            f16_storage,
            ..DeviceOptions::default()
        })
        .await;
        let x = |d: &Device| random(d, DType::F16, &[5, 1031], -4.0, 4.0, 500);
        let y = |d: &Device| random(d, DType::F16, &[1031], 0.5, 2.0, 501);
        let what = format!("f16 (16-bit storage asked: {f16_storage})");
        check(&d, &what, 0.0, 0.0, |d| {
            x(d).mul(&y(d)).unwrap().add(&x(d)).unwrap()
        })
        .await;
        check(&d, &what, 1e-3, 1e-3, |d| x(d).softmax(-1).unwrap()).await;
        check(&d, &what, 1e-2, 1e-2, |d| {
            let w = random(d, DType::F16, &[1031, 6], -1.0, 1.0, 502);
            x(d).matmul(&w).unwrap()
        })
        .await;
    }
}

/// Quantized weights in a gemv and an embedding gather, decoded where they are loaded.
#[wasm_bindgen_test]
async fn quantized_gemv_and_gather() {
    let d = gpu().await;
    for (i, f) in [BlockFormat::Q8_0, BlockFormat::Q4K]
        .into_iter()
        .enumerate()
    {
        let w = |d: &Device| random(d, DType::Quant(f), &[7, 512], 0.0, 0.0, 600 + i as u64);
        check(&d, &format!("{f:?} gemv"), 1e-3, 1e-4, |d| {
            let x = random(d, DType::F32, &[1, 512], -1.0, 1.0, 610 + i as u64);
            let wt = w(d).cast(DType::F32).unwrap().transpose(0, 1).unwrap();
            x.matmul(&wt).unwrap()
        })
        .await;
        check(&d, &format!("{f:?} gather"), 0.0, 0.0, |d| {
            let idx = Tensor::from_slice_on(d, &[6i32, 0, 3], &[3, 1]).unwrap();
            let idx = idx.expand(&[3, 512]).unwrap();
            w(d).gather(0, &idx).unwrap().cast(DType::F32).unwrap()
        })
        .await;
    }
}

/// Vectors computed where their products read them (operand prologues, checked through
/// `explain()`): `silu(g) * u` before a quantized product, and an RMSNorm, whose mean of
/// squares the workgroup folds before the product.
#[wasm_bindgen_test]
async fn vectors_computed_where_products_read_them() {
    let d = gpu().await;
    let w = |d: &Device| random(d, DType::Quant(BlockFormat::Q4K), &[7, 512], 0.0, 0.0, 620);
    let silu_mul = |d: &Device| {
        let g = random(d, DType::F32, &[1, 512], -2.0, 2.0, 621);
        let u = random(d, DType::F32, &[1, 512], -1.0, 1.0, 622);
        let wt = w(d).cast(DType::F32).unwrap().transpose(0, 1).unwrap();
        g.silu().unwrap().mul(&u).unwrap().matmul(&wt).unwrap()
    };
    let norm = |d: &Device| {
        let x = random(d, DType::F32, &[1, 1031], -2.0, 2.0, 623);
        let g = random(d, DType::F32, &[1031], 0.5, 1.5, 624);
        let w = random(d, DType::F32, &[1031, 6], -1.0, 1.0, 625);
        x.rms_norm(Some(&g), 1e-5).unwrap().matmul(&w).unwrap()
    };
    for t in [silu_mul(&d), norm(&d)] {
        let plan = t.explain().unwrap();
        assert_eq!(plan.kernels.len(), 1, "{:?}", plan.kernels);
        assert!(
            plan.kernels[0].kind.contains("prologue"),
            "{:?}",
            plan.kernels
        );
    }
    check(&d, "silu(g) * u @ W^T", 1e-3, 1e-4, silu_mul).await;
    check(&d, "rms_norm(x) @ w", 1e-3, 1e-4, norm).await;
}

/// The device has the adapter's own limits, not WebGPU's defaults (SwiftShader's storage
/// bindings go to 1 GiB, the default is 128 MiB), and no wgpu-only feature.
#[wasm_bindgen_test]
async fn the_adapters_real_limits() {
    let d = gpu().await;
    let g = d.gpu().unwrap();
    let adapter = g.adapter.limits();
    assert_eq!(
        g.limits.max_storage_buffer_binding_size,
        adapter.max_storage_buffer_binding_size
    );
    assert_eq!(g.limits.max_buffer_size, adapter.max_buffer_size);
    assert_eq!(
        g.limits.max_compute_invocations_per_workgroup,
        adapter.max_compute_invocations_per_workgroup
    );
    assert!(
        adapter.max_storage_buffer_binding_size > 128 << 20,
        "{adapter:?}"
    );
    // Shaders sent to the browser use no subgroups (see runtime::adapter::subgroups_usable).
    assert!(!kiln::runtime::adapter::subgroups_usable(
        g.features,
        g.info.backend
    ));
}

/// A compiled program run twice with new inputs; its results read without blocking.
#[wasm_bindgen_test]
async fn a_program_runs_with_new_inputs() {
    let d = gpu().await;
    let x = Tensor::placeholder_on(&d, DType::F32, &[3, 7]).unwrap();
    let y = x.softmax(-1).unwrap().mul_scalar(3.0).unwrap();
    let p = Program::compile(&[&x], &[&y]).unwrap();
    for seed in [700, 701] {
        let input = random(&d, DType::F32, &[3, 7], -2.0, 2.0, seed);
        let want = p.reference(&[&input]).unwrap().remove(0);
        let got = p.run(&[&input]).unwrap().remove(0);
        let got = got.to_host_async().await.unwrap();
        assert_close(&got, &want, 1e-6, 1e-5, "program");
    }
}

/// A state carried from run to run and donated: each run writes its new row where the
/// state lies (never copied), and agrees with the interpreter.
#[wasm_bindgen_test]
async fn a_donated_state_is_updated_where_it_lies() {
    let d = gpu().await;
    let (n, w) = (37, 8);
    let at = Tensor::placeholder_on(&d, DType::I32, &[1]).unwrap();
    let row = Tensor::placeholder_on(&d, DType::F32, &[1, w]).unwrap();
    let state = Tensor::placeholder_on(&d, DType::F32, &[n, w]).unwrap();
    let slots: Vec<i32> = (0..n as i32).collect();
    // Host data throughout, so that the interpreter's reads of it do not block.
    let slots = kiln::HostTensor::from_slice(&slots, kiln::Shape::new(&[n, 1])).unwrap();
    let slot = Tensor::from_host_on(&d, slots)
        .unwrap()
        .expand(&[n, w])
        .unwrap();
    let fresh = slot
        .eq(&at.reshape(&[1, 1]).unwrap().expand(&[n, w]).unwrap())
        .unwrap();
    let placed = row.mul_scalar(2.0).unwrap().expand(&[n, w]).unwrap();
    let next = Tensor::where_(&fresh, &placed, &state).unwrap();
    let p = Program::compile_donating(&[&at, &row, &state], &[&next], &[2]).unwrap();
    assert_eq!(p.donations(), [(2, 0)]);
    // The interpreter's steps first, on host data (a run moves its inputs to the device,
    // and reading them back there would block).
    let steps: Vec<(Tensor, Tensor)> = (0..3)
        .map(|step| {
            let at = kiln::HostTensor::from_slice(&[5 + 9 * step], kiln::Shape::new(&[1]));
            let a = Tensor::from_host_on(&d, at.unwrap()).unwrap();
            (
                a,
                random(&d, DType::F32, &[1, w], -1.0, 1.0, 721 + step as u64),
            )
        })
        .collect();
    let mut s = random(&d, DType::F32, &[n, w], -1.0, 1.0, 720);
    let mut wants = Vec::new();
    let mut state = s.clone();
    for (a, r) in &steps {
        let want = p.reference(&[a, r, &state]).unwrap().remove(0);
        state = Tensor::from_host_on(&d, want.clone()).unwrap();
        wants.push(want);
    }
    drop(state);
    for ((a, r), want) in steps.into_iter().zip(wants) {
        let copied = d.counters().map_or(0, |c| c.donations_copied);
        s = p.run_donating(vec![a, r, s]).unwrap().remove(0);
        assert_eq!(d.counters().map_or(0, |c| c.donations_copied), copied);
        let got = s.to_host_async().await.unwrap();
        assert_close(&got, &want, 0.0, 0.0, "donated state");
    }
}

/// Each kernel's GPU time, read without blocking, wherever the browser's adapter has
/// timestamp queries (browsers write them only at pass boundaries: a pass a dispatch).
#[wasm_bindgen_test]
async fn a_program_is_profiled() {
    let d = gpu().await;
    let x = Tensor::placeholder_on(&d, DType::F32, &[64, 33]).unwrap();
    let w = random(&d, DType::F32, &[33, 16], -1.0, 1.0, 900);
    let y = x.matmul(&w).unwrap().softmax(-1).unwrap();
    let p = Program::compile(&[&x], &[&y.sum(&[0], false).unwrap()]).unwrap();
    let input = random(&d, DType::F32, &[64, 33], -1.0, 1.0, 901);
    assert!(matches!(p.profile(&[&input]), Err(Error::Blocking(_))));
    let timing = kiln::runtime::Timing::per_dispatch(d.gpu().unwrap(), p.dispatch_count());
    let profiled = p.profile_async(&[&input]).await.unwrap();
    assert_eq!(profiled.is_some(), timing.is_some());
    if let Some(ks) = profiled {
        assert_eq!(ks.len(), p.dispatch_count(), "{ks:?}");
        assert!(ks
            .iter()
            .all(|(n, ms)| !n.is_empty() && ms.is_finite() && *ms >= 0.0));
    }
}

/// Bad input is a typed error in the browser too, and a blocking call is refused with
/// `Error::Blocking` instead of hanging the page.
#[wasm_bindgen_test]
async fn errors_are_typed() {
    let d = gpu().await;
    let a = random(&d, DType::F32, &[3, 4], -1.0, 1.0, 800);
    let b = random(&d, DType::F32, &[5, 6], -1.0, 1.0, 801);
    let e = a.matmul(&b).unwrap_err();
    assert!(e.ir().is_some(), "{e}");
    let e = a.add(&b).unwrap_err();
    assert!(e.ir().is_some(), "{e}");
    let y = a.exp().unwrap();
    assert!(matches!(y.to_vec::<f32>(), Err(Error::Blocking(_))));
    assert!(matches!(
        Device::new(&DeviceOptions::default()),
        Err(Error::Blocking(_))
    ));
    assert!(matches!(d.synchronize(), Err(Error::Blocking(_))));
    // The refused read left the device usable.
    let got = y.to_vec_async::<f32>().await.unwrap();
    assert_eq!(got.len(), 12);
    assert!(got.iter().all(|v| v.is_finite() && *v > 0.0), "{got:?}");
}

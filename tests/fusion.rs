//! Fusion: kernel counts for canonical graphs (with the ideal beside any that kiln does not
//! reach yet), fused vs unfused vs interpreter on random graphs, and golden WGSL snapshots.

mod common;
use common::*;
use kiln::{DType, Device, DeviceOptions, Plan, Tensor};
use kiln_bench::workloads::{self, Size};
use proptest::prelude::*;

fn kernels(t: &Tensor) -> usize {
    Plan::of(&[t]).unwrap().kernels.len()
}

fn unfused_device() -> Device {
    let mut o = DeviceOptions::from_env();
    o.autotune = kiln::Autotune::Off;
    o.fusion = false;
    let d = Device::new(&o).unwrap();
    assert!(!d.fusion());
    d
}

#[test]
fn kernel_counts_of_canonical_graphs() {
    let dev = device();
    let x = random(&dev, DType::F32, &[64, 1031], -2.0, 2.0, 1);
    let g = random(&dev, DType::F32, &[1031], 0.5, 1.5, 2);
    let b = random(&dev, DType::F32, &[1031], -0.5, 0.5, 3);
    let gelu_chain = workloads::gelu_chain(&x).unwrap();
    let cases: Vec<(&str, Tensor, usize)> = vec![
        ("gelu_chain", gelu_chain, 1),
        ("softmax", x.softmax(-1).unwrap(), 1),
        ("log_softmax", x.log_softmax(-1).unwrap(), 1),
        (
            "layer_norm",
            x.layer_norm(Some(&g), Some(&b), 1e-5).unwrap(),
            1,
        ),
        ("rms_norm", x.rms_norm(Some(&g), 1e-6).unwrap(), 1),
        (
            "sum(exp(x))",
            x.exp().unwrap().sum(&[-1], false).unwrap(),
            1,
        ),
        // Ideal 1; kiln reaches it.
        (
            "x - mean(x)",
            x.sub(&x.mean(&[-1], true).unwrap()).unwrap(),
            1,
        ),
        // Views of computed values, moved onto the inputs (the view-pushdown pass).
        (
            "flip(exp(x) * x) + x",
            x.exp()
                .unwrap()
                .mul(&x)
                .unwrap()
                .flip(&[0])
                .unwrap()
                .add(&x)
                .unwrap(),
            1,
        ),
        (
            "sin(x)[:1] broadcast + x",
            x.sin()
                .unwrap()
                .narrow(0, 0, 1)
                .unwrap()
                .expand(&[64, 1031])
                .unwrap()
                .add(&x)
                .unwrap(),
            1,
        ),
    ];
    for (name, t, want) in cases {
        assert_eq!(kernels(&t), want, "{name}:\n{}", Plan::of(&[&t]).unwrap());
        check(&t, 1e-5, 1e-4, name);
    }
    // matmul + bias + gelu, batched.
    let a = random(&dev, DType::F32, &[2, 33, 17], -1.0, 1.0, 4);
    let w = random(&dev, DType::F32, &[2, 17, 9], -1.0, 1.0, 5);
    let bias = random(&dev, DType::F32, &[9], -1.0, 1.0, 6);
    let mbg = a.matmul(&w).unwrap().add(&bias).unwrap().gelu().unwrap();
    assert_eq!(kernels(&mbg), 1, "{}", Plan::of(&[&mbg]).unwrap());
    check(&mbg, 1e-5, 1e-4, "matmul+bias+gelu");
    // Residual add and cast in a matmul epilogue.
    let res = random(&dev, DType::F32, &[2, 33, 9], -1.0, 1.0, 7);
    let epi = a
        .matmul(&w)
        .unwrap()
        .add(&res)
        .unwrap()
        .cast(DType::BF16)
        .unwrap();
    assert_eq!(kernels(&epi), 1);
    check(&epi, 1e-5, 1e-4, "matmul+residual+cast");
    // Casts on load: the matmul rounds its operands as it reads them (a view in between too).
    let a32 = random(&dev, DType::F32, &[37, 19], -1.0, 1.0, 8);
    let w32 = random(&dev, DType::F32, &[23, 19], -1.0, 1.0, 9);
    let cl = a32
        .cast(DType::BF16)
        .unwrap()
        .matmul(&w32.cast(DType::BF16).unwrap().transpose(0, 1).unwrap())
        .unwrap();
    assert_eq!(kernels(&cl), 1, "{}", Plan::of(&[&cl]).unwrap());
    check(&cl, 1e-4, 1e-4, "cast on load");
    let ch = a32
        .cast(DType::F16)
        .unwrap()
        .matmul(&w32.transpose(0, 1).unwrap().cast(DType::F16).unwrap())
        .unwrap();
    assert_eq!(kernels(&ch), 1, "{}", Plan::of(&[&ch]).unwrap());
    check(&ch, 1e-4, 1e-4, "f16 cast on load");
    // Two reductions of one input over one axis: one kernel, two outputs.
    let s = x.sum(&[-1], false).unwrap();
    let m = x.max(&[-1], false).unwrap();
    let plan = Plan::of(&[&s, &m]).unwrap();
    assert_eq!(plan.kernels.len(), 1, "{plan}");
    Tensor::realize_all(&[&s, &m]).unwrap();
    check(&s, 1e-4, 1e-5, "sibling sum");
    check(&m, 0.0, 0.0, "sibling max");
}

#[test]
fn transformer_layer_kernel_count() {
    let dev = device();
    let w = workloads::build(&dev, "transformer_layer", Size::Small)
        .unwrap()
        .unwrap();
    let n = w.compile().unwrap().kernel_count();
    // 12: Q, K, V projections with bias (3), scores with the scale fused (1), softmax (1),
    // attention x V (1), a copy for the head merge (1), output projection + bias + residual
    // (1), layer norm (1), MLP up + bias + GELU (1), MLP down + bias + residual (1), layer
    // norm (1). Its 64 query rows are past the default's attention fusion, where the
    // matmuls ran faster on a GPU.
    assert!(n <= 12, "transformer layer: {n} kernels");
    // Fusing its attention: 10. The ideal is about 7: the head merge stored by the matmul's
    // epilogue, and each layer norm fused into the matmul that reads it.
    let every = Device::new(&DeviceOptions {
        fuse_attention_rows: None,
        ..DeviceOptions::from_env()
    })
    .unwrap();
    let w = workloads::build(&every, "transformer_layer", Size::Small)
        .unwrap()
        .unwrap();
    let fused = w.compile().unwrap().kernel_count();
    assert!(
        fused <= 10,
        "transformer layer, attention fused: {fused} kernels"
    );
    eprintln!("transformer layer: {n} kernels, {fused} with its attention fused (ideal about 7)");
}

#[test]
fn fusion_switch_and_explain() {
    let dev = unfused_device();
    let x = random(&dev, DType::F32, &[8, 31], -1.0, 1.0, 1);
    let y = x.softmax(-1).unwrap();
    let plan = y.explain().unwrap();
    assert_eq!(plan.kernels.len(), 5, "{plan}");
    assert!(plan.kernels.iter().all(|k| k
        .boundaries
        .iter()
        .all(|b| b.contains("fusion is off") || b.contains("already computed"))));
    let text = plan.to_string();
    assert!(text.contains("kernel 4") && text.contains("@compute"));
    assert!(plan.op_dot().starts_with("digraph ops") && plan.kernel_dot().contains("k3 -> k4"));
    check(&y, 1e-6, 1e-5, "unfused softmax");
    // Explain names the ops of the optimized graph: `x * 1` is gone after the passes.
    let dev = device();
    let x = random(&dev, DType::F32, &[8, 31], -1.0, 1.0, 2);
    let z = x.mul_scalar(1.0).unwrap().add(&x).unwrap().exp().unwrap();
    let plan = z.explain().unwrap();
    assert_eq!(plan.kernels.len(), 1);
    let ops = plan.kernels[0].ops.join(" ");
    assert!(
        ops.contains("add") && ops.contains("exp") && !ops.contains("mul"),
        "{ops}"
    );
}

#[test]
fn limits_split_instead_of_failing() {
    let dev = device();
    // Twelve distinct inputs summed: more than 8 storage buffers in one kernel would be refused
    // on WebGPU, so the fused plan must split while staying correct.
    let xs: Vec<Tensor> = (0..12)
        .map(|i| random(&dev, DType::F32, &[1000], -1.0, 1.0, i))
        .collect();
    let mut y = xs[0].clone();
    for x in &xs[1..] {
        y = y.add(x).unwrap().sin().unwrap();
    }
    let plan = Plan::of(&[&y]).unwrap();
    let max = dev.fusion_options().max_storage_buffers;
    for k in &plan.kernels {
        let binds = k.wgsl.matches("var<storage").count();
        assert!(binds <= max, "{binds} bindings > {max}");
    }
    check(&y, 1e-5, 1e-5, "many inputs");
}

#[derive(Clone, Debug)]
enum G {
    Leaf(usize),
    Unary(u8, Box<G>),
    Binary(u8, Box<G>, Box<G>),
    /// Reduce over the last axis and broadcast back (keepdim).
    RowReduce(u8, Box<G>),
    /// Transpose twice through a materializing view (permute + reshape).
    View(Box<G>),
    /// `x @ W` with a fixed square weight, then bias.
    Matmul(Box<G>),
}

fn gtree() -> impl Strategy<Value = G> {
    (0usize..3)
        .prop_map(G::Leaf)
        .prop_recursive(5, 32, 2, |inner| {
            prop_oneof![
                (0u8..4, inner.clone()).prop_map(|(o, a)| G::Unary(o, Box::new(a))),
                (0u8..3, inner.clone(), inner.clone()).prop_map(|(o, a, b)| G::Binary(
                    o,
                    Box::new(a),
                    Box::new(b)
                )),
                (0u8..4, inner.clone()).prop_map(|(o, a)| G::RowReduce(o, Box::new(a))),
                inner.clone().prop_map(|a| G::View(Box::new(a))),
                inner.prop_map(|a| G::Matmul(Box::new(a))),
            ]
        })
}

fn gbuild(g: &G, leaves: &[Tensor], w: &Tensor) -> Tensor {
    match g {
        G::Leaf(i) => leaves[*i].clone(),
        G::Unary(o, a) => {
            let a = gbuild(a, leaves, w);
            match o {
                0 => a.tanh(),
                1 => a.sigmoid(),
                2 => a.neg(),
                _ => a.sin(),
            }
            .unwrap()
        }
        G::Binary(o, a, b) => {
            let (a, b) = (gbuild(a, leaves, w), gbuild(b, leaves, w));
            match o {
                0 => a.add(&b),
                1 => a.mul(&b),
                _ => a.maximum(&b),
            }
            .unwrap()
        }
        G::RowReduce(o, a) => {
            let a = gbuild(a, leaves, w);
            match o {
                0 => a.sub(&a.mean(&[-1], true).unwrap()),
                1 => a.softmax(-1),
                2 => a.div(
                    &a.abs()
                        .unwrap()
                        .max(&[-1], true)
                        .unwrap()
                        .add_scalar(1.0)
                        .unwrap(),
                ),
                _ => a.mul(&a.sum(&[0], true).unwrap().tanh().unwrap()),
            }
            .unwrap()
        }
        G::View(a) => {
            let a = gbuild(a, leaves, w);
            let d = a.dims().to_vec();
            a.transpose(0, 1)
                .unwrap()
                .reshape(&[d[1], d[0]])
                .unwrap()
                .transpose(0, 1)
                .unwrap()
        }
        G::Matmul(a) => gbuild(a, leaves, w).matmul(w).unwrap().tanh().unwrap(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn fused_unfused_and_reference_agree(g in gtree(), seed in 0u64..1000, rows in prop::sample::select(vec![1usize, 3, 7]), cols in prop::sample::select(vec![1usize, 5, 33])) {
        let fused = device();
        let unfused = unfused_device();
        let host: Vec<kiln::HostTensor> = (0..3)
            .map(|i| random(&fused, DType::F32, &[rows, cols], -1.0, 1.0, seed + i).to_host().unwrap())
            .collect();
        let wh = random(&fused, DType::F32, &[cols, cols], -0.5, 0.5, seed + 9).to_host().unwrap();
        let run = |dev: &Device| {
            let leaves: Vec<Tensor> = host.iter().map(|h| Tensor::from_host_on(dev, h.clone()).unwrap()).collect();
            let w = Tensor::from_host_on(dev, wh.clone()).unwrap();
            gbuild(&g, &leaves, &w)
        };
        let yf = run(&fused);
        let yu = run(&unfused);
        let want = yf.reference().unwrap();
        assert_close(&yf.to_host().unwrap(), &want, 1e-5, 1e-4, &format!("fused {g:?}"));
        assert_close(&yu.to_host().unwrap(), &want, 1e-5, 1e-4, &format!("unfused {g:?}"));
    }
}

/// Golden WGSL of canonical fused kernels: `tests/golden/NAME.K.wgsl`. Set `KILN_BLESS=1` to
/// rewrite them; review the diff.
#[test]
fn golden_wgsl() {
    // A fixed schedule, so that the files do not depend on the adapter: the GPU's, with the
    // decode form's segments of CPU adapters and browsers (every adapter takes 4), which
    // also decide which one-row attentions the graph leaves whole.
    let mut fixed = kiln::Schedule::default();
    fixed.attention.segments = 4;
    let dev = private_device();
    if let Some(ctx) = dev.gpu() {
        ctx.set_schedule(fixed);
    }
    let x = random(&dev, DType::F32, &[4, 33], -1.0, 1.0, 1);
    let g = random(&dev, DType::F32, &[33], -1.0, 1.0, 2);
    let w = random(&dev, DType::F32, &[33, 5], -1.0, 1.0, 3);
    let cases: Vec<(&str, Tensor)> = vec![
        ("gelu_chain", workloads::gelu_chain(&x).unwrap()),
        ("softmax", x.softmax(-1).unwrap()),
        (
            "layer_norm",
            x.layer_norm(Some(&g), Some(&g), 1e-5).unwrap(),
        ),
        (
            "matmul_bias_gelu",
            x.matmul(&w)
                .unwrap()
                .add(&g.narrow(0, 0, 5).unwrap())
                .unwrap()
                .gelu()
                .unwrap(),
        ),
        ("sum_exp", x.exp().unwrap().sum(&[-1], false).unwrap()),
        // A vector computed where the product reads it (the operand prologue).
        (
            "matvec_prologue",
            x.narrow(0, 0, 1)
                .unwrap()
                .silu()
                .unwrap()
                .mul(&x.narrow(0, 1, 1).unwrap())
                .unwrap()
                .matmul(&w)
                .unwrap(),
        ),
        // 64 x 64 register-tiled (the schedule picks the block from the sizes).
        (
            "matmul_tiled_bias",
            random(&dev, DType::F32, &[64, 40], -1.0, 1.0, 4)
                .matmul(&random(&dev, DType::F32, &[40, 96], -1.0, 1.0, 5))
                .unwrap()
                .add(&random(&dev, DType::F32, &[96], -1.0, 1.0, 6))
                .unwrap(),
        ),
        (
            "attention_causal_masked",
            random(&dev, DType::F32, &[2, 3, 9, 16], -1.0, 1.0, 7)
                .scaled_dot_product_attention(
                    &random(&dev, DType::F32, &[2, 3, 11, 16], -1.0, 1.0, 8),
                    &random(&dev, DType::F32, &[2, 3, 11, 16], -1.0, 1.0, 9),
                    Some(&random(&dev, DType::F32, &[9, 11], -1.0, 1.0, 10)),
                    None,
                    true,
                )
                .unwrap(),
        ),
        // Queries computed where attention reads them (a q prologue): `q * sin(q)`.
        ("attention_computed_q", {
            let q = random(&dev, DType::F32, &[2, 3, 5, 16], -1.0, 1.0, 14);
            q.mul(&q.sin().unwrap())
                .unwrap()
                .scaled_dot_product_attention(
                    &random(&dev, DType::F32, &[2, 3, 11, 16], -1.0, 1.0, 15),
                    &random(&dev, DType::F32, &[2, 3, 11, 16], -1.0, 1.0, 16),
                    None,
                    None,
                    false,
                )
                .unwrap()
        }),
        // One query row against 600 keys, past what any schedule's segments take whole:
        // split into runs, then the combine.
        (
            "attention_split",
            random(&dev, DType::F32, &[2, 1, 16], -1.0, 1.0, 11)
                .scaled_dot_product_attention(
                    &random(&dev, DType::F32, &[2, 600, 16], -1.0, 1.0, 12),
                    &random(&dev, DType::F32, &[2, 600, 16], -1.0, 1.0, 13),
                    None,
                    None,
                    false,
                )
                .unwrap(),
        ),
        // Against 100 keys, which every adapter's schedule takes whole: one kernel, its
        // keys over 4 segments of one workgroup.
        (
            "attention_segments",
            random(&dev, DType::F32, &[2, 1, 16], -1.0, 1.0, 17)
                .scaled_dot_product_attention(
                    &random(&dev, DType::F32, &[2, 100, 16], -1.0, 1.0, 18),
                    &random(&dev, DType::F32, &[2, 100, 16], -1.0, 1.0, 19),
                    None,
                    None,
                    false,
                )
                .unwrap(),
        ),
    ];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let bless = std::env::var("KILN_BLESS").as_deref() == Ok("1");
    let mut stale = Vec::new();
    for (name, t) in cases {
        let plan = Plan::of(&[&t]).unwrap();
        let wgsl = plan.wgsl_for(&fixed).unwrap();
        for (i, k) in wgsl.iter().enumerate() {
            let path = dir.join(format!("{name}.{i}.wgsl"));
            if bless {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, k).unwrap();
            } else {
                match std::fs::read_to_string(&path) {
                    Ok(want) if want == *k => {}
                    _ => stale.push(path.display().to_string()),
                }
            }
        }
    }
    assert!(stale.is_empty(), "generated WGSL differs from the golden files (run with KILN_BLESS=1 and review the diff): {stale:?}");
}

#[test]
fn long_chains_are_cut_not_overflowed() {
    for dev in [device(), unfused_device()] {
        let x = random(&dev, DType::F32, &[7], -1.0, 1.0, 1);
        let mut y = x.clone();
        for i in 0..3000 {
            y = if i % 2 == 0 {
                y.mul_scalar(0.999).unwrap()
            } else {
                y.add_scalar(0.001).unwrap()
            };
        }
        check(&y, 1e-5, 1e-4, "3000-op chain");
    }
}

/// Every schedule the code generator offers computes the same values (the unrolled paths run
/// here even where the adapter's default schedule does not use them).
#[test]
fn schedules_agree_with_reference() {
    let dev = private_device();
    let Some(ctx) = dev.gpu() else { return };
    // Register caches of 0 (off), 3 (rows of up to 192 in registers: 7 fits, 1031 does not),
    // 16 and 64 (every row here fits).
    // Subgroup reductions where the adapter has them (set_schedule turns them off otherwise).
    for (
        wg,
        unroll,
        reduce_unroll,
        reduce_cache,
        matmul_block,
        matmul_unroll,
        matmul_block_n,
        sg,
        matmul_depth,
        serial,
    ) in [
        (64, 1, 1, 0, Some(1), 1, None, false, None, 0),
        (256, 4, 8, 16, Some(8), 4, None, true, Some(32), 32),
        (128, 3, 5, 3, Some(4), 3, Some(8), false, Some(16), 64),
        (32, 2, 16, 64, Some(8), 16, Some(4), true, Some(16), 8),
        (32, 2, 16, 64, None, 4, None, true, Some(32), 1),
        (1024, 2, 4, 8, None, 4, None, true, None, 0),
    ] {
        ctx.set_schedule(kiln::Schedule {
            elementwise: kiln::ElementwiseSchedule {
                workgroup: wg,
                unroll,
            },
            reduce: kiln::ReduceSchedule {
                workgroup: wg / 2,
                unroll: reduce_unroll,
                cache: reduce_cache,
                subgroups: sg,
                serial,
            },
            matmul: kiln::MatmulSchedule {
                block: matmul_block,
                block_n: matmul_block_n,
                unroll: matmul_unroll,
                depth: matmul_depth,
                gemv_subgroups: sg,
                quantized_gemv: !sg,
                qgemv_rows: Some(if sg { 1 } else { 2 }),
                qgemv_int8: false,
                qgemv_items: 1,
                qgemv_workgroups: 0,
                qgemv_warps: 0,
                qgemv_warps_wide: 0,
                tensor_cores: false,
                coop_tile: None,
                tensor_core_f32: false,
            },
            attention: kiln::Schedule::GPU.attention,
        });
        // 32 and 64: serial vec4 rows at the bounds 32 and 64; 65: past them.
        for &n in &[1usize, 7, 32, 64, 65, 1031, 5000] {
            // Rows of at most `serial` elements (the softmaxes over 1 and 7, the sums over 3)
            // are reduced an invocation a row.
            let what = format!(
                "wg {wg} unroll {unroll}/{reduce_unroll} cache {reduce_cache} serial {serial} n {n}"
            );
            let x = random(&dev, DType::F32, &[3, n], -2.0, 2.0, n as u64);
            check(&x.softmax(-1).unwrap(), 1e-6, 1e-4, &what);
            check(&x.layer_norm(None, None, 1e-5).unwrap(), 1e-4, 1e-4, &what);
            check(&x.argmax(-1, false).unwrap(), 0.0, 0.0, &what);
            check(&x.sum(&[0], false).unwrap(), 1e-5, 1e-5, &what);
            check(
                &x.transpose(0, 1).unwrap().exp().unwrap(),
                1e-6,
                1e-5,
                &what,
            );
        }
        // Matmuls: thin, odd, tile-sized and not, batched with broadcast, transposed, with an
        // epilogue.
        for (m, k, n) in [
            (1, 1031, 1),
            (3, 5, 7),
            (127, 129, 131),
            (64, 16, 128),
            (130, 33, 65),
        ] {
            let what = format!(
                "matmul block {matmul_block:?}x{matmul_block_n:?} depth {matmul_depth:?} {m}x{k}x{n}"
            );
            let a = random(&dev, DType::F32, &[2, m, k], -1.0, 1.0, m as u64);
            let b = random(&dev, DType::F32, &[k, n], -1.0, 1.0, n as u64);
            let bias = random(&dev, DType::F32, &[n], -1.0, 1.0, 9);
            let (at, rt) = (2e-6 * k as f32, 1e-5);
            let y = a.matmul(&b).unwrap().add(&bias).unwrap().gelu().unwrap();
            check(&y, at, rt, &what);
            let bt = random(&dev, DType::F32, &[n, k], -1.0, 1.0, 3);
            let at_ = random(&dev, DType::F32, &[k, m], -1.0, 1.0, 4);
            let y = at_
                .transpose(0, 1)
                .unwrap()
                .matmul(&bt.transpose(0, 1).unwrap())
                .unwrap();
            check(&y, at, rt, &format!("{what} transposed"));
        }
    }
}

#[test]
fn vec4_where_contiguous_aligned_and_divisible() {
    let dev = device();
    let a = random(&dev, DType::F32, &[1000], -1.0, 1.0, 1);
    let b = random(&dev, DType::F32, &[1031], -1.0, 1.0, 2);
    let wa = Plan::of(&[&a.exp().unwrap()]).unwrap().kernels[0]
        .wgsl
        .clone();
    let wb = Plan::of(&[&b.exp().unwrap()]).unwrap().kernels[0]
        .wgsl
        .clone();
    assert!(wa.contains("array<vec4<f32>>"), "{wa}");
    assert!(!wb.contains("vec4<f32>>"), "{wb}");
    // Offset views: aligned slice (offset 4) vectorizes, unaligned (offset 1) does not.
    let x = random(&dev, DType::F32, &[2000], -1.0, 1.0, 3);
    for (start, vec) in [(4isize, true), (1, false)] {
        let y = x.slice(0, start, start + 996, 1).unwrap().sin().unwrap();
        let w = &Plan::of(&[&y]).unwrap().kernels[0].wgsl;
        assert_eq!(w.contains("array<vec4<f32>>"), vec, "slice from {start}");
        check(&y, 1e-6, 1e-5, "sliced");
    }
    let c = random(&dev, DType::Bool, &[1000], 0.0, 1.0, 4);
    let i = random(&dev, DType::I32, &[1000], -9.0, 9.0, 5);
    check(
        &Tensor::where_(&c, &i, &i.neg().unwrap()).unwrap(),
        0.0,
        0.0,
        "vec4 bool/i32",
    );
    check(&c.logical_not().unwrap(), 0.0, 0.0, "vec4 bool store");
}

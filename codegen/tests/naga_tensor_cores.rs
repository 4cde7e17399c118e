//! The tensor-core kernels (`kiln_codegen::coop`, `kiln_codegen::attention_coop`) as CI can
//! check them without an adapter that runs them: generated for every tile and variant,
//! validated by naga with every capability on, and written as SPIR-V (where naga 30.0.2 has a
//! known panic on some cooperative stores). `tests/tensor_cores.rs` of the kiln crate runs
//! them where an adapter has tensor cores.

use kiln_codegen::{generate, Schedule, Target};
use kiln_ir::lower::{lower, lower_unfused, FusionOptions};
use kiln_ir::ops::{BinaryOp, SliceDim, UnaryOp, ViewOp};
use kiln_ir::{DType, Graph, Op, Shape};
use smallvec::smallvec;

mod common;

/// Parses and validates `wgsl` with every capability on, then writes it as SPIR-V (naga
/// 30.0.2 panics in that writer on some cooperative stores: `../shared/notes/tensor-cores.md`).
fn validate_to_spirv(wgsl: &str, what: &str) {
    let module = naga::front::wgsl::parse_str(wgsl)
        .unwrap_or_else(|e| panic!("{what}: parse: {}\n{wgsl}", e.emit_to_string(wgsl)));
    let info = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::all(),
    )
    .validate(&module)
    .unwrap_or_else(|e| panic!("{what}: validate: {e:?}\n{wgsl}"));
    let spv = naga::back::spv::write_vec(
        &module,
        &info,
        &naga::back::spv::Options {
            lang_version: (1, 3),
            ..Default::default()
        },
        None,
    )
    .unwrap_or_else(|e| panic!("{what}: SPIR-V: {e}\n{wgsl}"));
    assert!(!spv.is_empty(), "{what}: empty SPIR-V");
}

/// Tensor-core matmuls (cooperative matrices, with the capability on): f16 operands, f32
/// operands under the opt-in precision, a cast fused into a load, transposed and batched
/// operands, an epilogue, odd sizes, every tile; validated, and compiled by naga's SPIR-V
/// writer too (naga 30.0.2 panics there on some cooperative stores:
/// `../shared/notes/tensor-cores.md`).
#[test]
fn tensor_core_matmuls() {
    let mut seen = 0;
    for (dt, f32_ok) in [(DType::F16, false), (DType::F32, true), (DType::BF16, true)] {
        let mut g = Graph::new();
        let a = g.input(dt, Shape::new(&[2, 3, 1031, 40])).unwrap();
        let b = g.input(dt, Shape::new(&[2, 3, 33, 40])).unwrap();
        let bt = g
            .add(Op::View(ViewOp::Permute(smallvec![0, 1, 3, 2])), &[b])
            .unwrap();
        let y = g.add(Op::Matmul, &[a, bt]).unwrap();
        let bias = g.input(dt, Shape::new(&[2, 3, 1031, 33])).unwrap();
        let y = g.add(Op::Binary(BinaryOp::Add), &[y, bias]).unwrap();
        let y = g.add(Op::Unary(UnaryOp::Tanh), &[y]).unwrap();
        g.mark_output(y);
        // f32 operands cast to f16 on load: tensor cores without the opt-in.
        let x = g.input(DType::F32, Shape::new(&[17, 19])).unwrap();
        let w = g.input(DType::F32, Shape::new(&[19, 1031])).unwrap();
        let xc = g.add(Op::Cast(DType::F16), &[x]).unwrap();
        let wc = g.add(Op::Cast(DType::F16), &[w]).unwrap();
        let z = g.add(Op::Matmul, &[xc, wc]).unwrap();
        g.mark_output(z);
        let prog = lower(&g, &FusionOptions::default()).unwrap();
        for call in &prog.calls {
            let k = &call.kernel;
            if !kiln_codegen::coop::eligible(k, f32_ok) {
                continue;
            }
            for tile in 0..kiln_codegen::coop::COOP_TILES.len() as u32 {
                for f16 in [false, true] {
                    let mut s = Schedule::GPU;
                    s.matmul.tensor_core_f32 = f32_ok;
                    s.matmul.coop_tile = Some(tile);
                    let s = s.resolve(k);
                    assert!(s.matmul.tensor_cores, "{dt}: {}", k.name);
                    let what = format!(
                        "tensor cores {dt} tile {tile} f16 storage {f16}: {}",
                        k.name
                    );
                    let src = generate(k, &s, &Target { f16, bf16: f16 })
                        .unwrap_or_else(|e| panic!("{what}: codegen: {e}"));
                    validate_to_spirv(&src.wgsl, &what);
                    assert!(!src.wgsl.contains("1031"), "{what}: a size leaked");
                    seen += 1;
                }
            }
        }
    }
    assert!(seen >= 3 * 5 * 2, "{seen} tensor-core kernels checked");
}

/// The aligned tile (`CoopTile::aligned`: no tests around its loads, f16 operands read 16
/// bytes a load): kept only for kernels whose tiles are whole and whose f16 operands are
/// aligned (`coop::aligned`), any other kernel's schedule settling on the tile chosen by
/// size; its WGSL for f16 operands (wide where stored as f16), f32 operands at f16
/// precision and a fused epilogue, validated and written as SPIR-V.
#[test]
fn aligned_tensor_core_tile() {
    let t = kiln_codegen::coop::COOP_TILES
        .iter()
        .position(|t| t.aligned)
        .expect("an aligned tile") as u32;
    let kernel = |dt: DType, m: usize, k: usize, n: usize, offset: usize| {
        let mut g = Graph::new();
        // A contiguous A that starts `offset` elements into its buffer.
        let a = g.input(dt, Shape::new(&[2 * m * k + offset])).unwrap();
        let whole = SliceDim {
            start: offset,
            end: offset + 2 * m * k,
            step: 1,
        };
        let a = g
            .add(Op::View(ViewOp::Slice(smallvec![whole])), &[a])
            .unwrap();
        let a = g
            .add(Op::View(ViewOp::Reshape(Shape::new(&[2, m, k]))), &[a])
            .unwrap();
        let b = g.input(dt, Shape::new(&[2, k, n])).unwrap();
        let y = g.add(Op::Matmul, &[a, b]).unwrap();
        let bias = g.input(dt, Shape::new(&[2, m, n])).unwrap();
        let y = g.add(Op::Binary(BinaryOp::Add), &[y, bias]).unwrap();
        g.mark_output(y);
        let prog = lower(&g, &FusionOptions::default()).unwrap();
        prog.calls
            .iter()
            .find(|c| matches!(c.kernel.kind, kiln_ir::KernelKind::Matmul { .. }))
            .expect("a matmul kernel")
            .kernel
            .clone()
    };
    let mut s = Schedule::GPU;
    s.matmul.coop_tile = Some(t);
    for (dt, f32_ok) in [(DType::F16, false), (DType::F32, true)] {
        s.matmul.tensor_core_f32 = f32_ok;
        let k = kernel(dt, 256, 96, 512, 0);
        assert_eq!(
            s.resolve(&k).matmul.coop_tile,
            Some(t),
            "{dt}: aligned kept"
        );
        for f16 in [false, true] {
            let src = generate(&k, &s.resolve(&k), &Target { f16, bf16: f16 }).unwrap();
            let wide = src.wgsl.contains("array<vec4<u32>>");
            assert_eq!(
                wide,
                f16 && dt == DType::F16,
                "{dt} f16 storage {f16}: wide bindings"
            );
            assert!(
                !src.wgsl.contains("inside"),
                "{dt}: a test in the aligned loop"
            );
            validate_to_spirv(&src.wgsl, &format!("aligned tile {dt} f16 storage {f16}"));
        }
        // Workgroup memory under the aligned tile's: the tile chosen by size without it,
        // still on tensor cores.
        let small = s.resolve(&k).fit_workgroup_memory(&k, 32 << 10);
        assert!(small.matmul.tensor_cores, "{dt}: 32 KiB keeps tensor cores");
        assert_ne!(
            small.matmul.coop_tile,
            Some(t),
            "{dt}: 32 KiB leaves the aligned tile"
        );
        // Not whole tiles, a depth not a multiple of the slice's, and (f16) an offset of 3.
        // An empty depth: whole by every multiple, but nothing to read.
        for (m, kk, n, offset) in [
            (250, 96, 512, 0),
            (256, 80, 512, 0),
            (256, 96, 512, 3),
            (256, 0, 512, 0),
        ] {
            let k = kernel(dt, m, kk, n, offset);
            let settled = s.resolve(&k).matmul.coop_tile;
            let keeps = dt == DType::F32 && offset == 3 && kk > 0;
            assert_eq!(
                settled == Some(t),
                keeps,
                "{dt} {m}x{kk}x{n} offset {offset}"
            );
            assert_eq!(
                s.fit_workgroup_memory(&k, 1 << 16).matmul.coop_tile == Some(t),
                keeps,
                "{dt} {m}x{kk}x{n} offset {offset}: fitting a tuned schedule settles it too"
            );
        }
    }
    // f16 B shared by the batch (a weight: a stride of 0) is read wide on the aligned tile;
    // a transposed f16 B (`x @ W^T`, step 1 along `k`) cannot be, so it settles off it.
    s.matmul.tensor_core_f32 = false;
    for transposed in [false, true] {
        let mut g = Graph::new();
        let a = g.input(DType::F16, Shape::new(&[8, 1024, 96])).unwrap();
        let b = f16_b(&mut g, [1, 96, 1024], transposed);
        let b = g
            .add(Op::View(ViewOp::Expand(Shape::new(&[8, 96, 1024]))), &[b])
            .unwrap();
        let y = g.add(Op::Matmul, &[a, b]).unwrap();
        g.mark_output(y);
        let k = &matmul_kernel(&g);
        let mut by_size = s;
        by_size.matmul.coop_tile = None;
        let settled = by_size.resolve(k);
        let tile = kiln_codegen::coop::tile(settled.matmul.coop_tile).unwrap();
        assert!(tile.aligned, "transposed {transposed}: an aligned tile");
        assert_eq!(
            tile.wide, !transposed,
            "transposed {transposed}: the wide tile"
        );
        // The wide tile named for the transposed B settles on the other one.
        assert_eq!(
            s.resolve(k).matmul.coop_tile,
            settled.matmul.coop_tile,
            "transposed {transposed}: settled"
        );
        aligned_wgsl(k, &settled, !transposed, "aligned 128 x 256");
    }
}

/// An f16 B of shape `[batch, k, n]`: an input, or where `transposed` an input `[batch, n,
/// k]` read through a permute (`x @ W^T`, step 1 along `k`).
fn f16_b(g: &mut Graph, [batch, k, n]: [usize; 3], transposed: bool) -> kiln_ir::NodeId {
    if transposed {
        let w = g.input(DType::F16, Shape::new(&[batch, n, k])).unwrap();
        g.add(Op::View(ViewOp::Permute(smallvec![0, 2, 1])), &[w])
            .unwrap()
    } else {
        g.input(DType::F16, Shape::new(&[batch, k, n])).unwrap()
    }
}

/// The matmul kernel of graph `g`, lowered with fusion.
fn matmul_kernel(g: &Graph) -> kiln_ir::Kernel {
    let prog = lower(g, &FusionOptions::default()).unwrap();
    prog.calls
        .into_iter()
        .find(|c| matches!(c.kernel.kind, kiln_ir::KernelKind::Matmul { .. }))
        .expect("a matmul kernel")
        .kernel
}

/// Kernel `k`'s WGSL on the aligned tile of schedule `s`: both f16 operands bound wide where
/// `wide` (else none), no test in the loop; validated and written as SPIR-V.
fn aligned_wgsl(k: &kiln_ir::Kernel, s: &Schedule, wide: bool, what: &str) {
    let src = generate(
        k,
        s,
        &Target {
            f16: true,
            bf16: true,
        },
    )
    .unwrap();
    assert_eq!(
        src.wgsl.matches("array<vec4<u32>>").count(),
        if wide { 2 } else { 0 },
        "{what}, wide {wide}: operands wide"
    );
    assert!(
        !src.wgsl.contains("inside"),
        "{what}: a test in the aligned loop"
    );
    validate_to_spirv(&src.wgsl, &format!("{what}, wide {wide}"));
}

/// The aligned 128 x 64 tiles: a batch of products 64 columns wide (attention's product with
/// V) takes the wide one by size, f16 operands bound wide, no test in its loop; with B
/// transposed, its element-by-element twin.
#[test]
fn aligned_narrow_tile() {
    for transposed in [false, true] {
        let mut g = Graph::new();
        let a = g.input(DType::F16, Shape::new(&[32, 512, 128])).unwrap();
        let b = f16_b(&mut g, [32, 128, 64], transposed);
        let y = g.add(Op::Matmul, &[a, b]).unwrap();
        g.mark_output(y);
        let k = &matmul_kernel(&g);
        let s = Schedule::GPU.resolve(k);
        let tile = kiln_codegen::coop::tile(s.matmul.coop_tile).unwrap();
        assert_eq!((tile.bm, tile.bn), (128, 64), "transposed {transposed}");
        assert!(tile.aligned, "transposed {transposed}: aligned");
        assert_eq!(tile.wide, !transposed, "transposed {transposed}: wide");
        aligned_wgsl(k, &s, !transposed, "aligned 128 x 64");
    }
}

/// Attention on tensor cores: masked and causal, heads of 32 to 128 (80 padded to 96), f16
/// operands and f32 ones at f16 precision; validated and written as SPIR-V.
#[test]
fn tensor_core_attention() {
    use kiln_ir::ops::Attention;
    let mut seen = 0;
    for (dt, f32_ok) in [(DType::F16, false), (DType::F32, true), (DType::BF16, true)] {
        for (d, masked, causal) in [(32, false, false), (80, true, true), (128, true, false)] {
            let mut g = Graph::new();
            let q = g.input(dt, Shape::new(&[2, 3, 1031, d])).unwrap();
            let k = g.input(dt, Shape::new(&[2, 3, 33, d])).unwrap();
            let v = g.input(dt, Shape::new(&[2, 3, 33, 48])).unwrap();
            let mut srcs = vec![q, k, v];
            if masked {
                let m = g.input(dt, Shape::new(&[2, 3, 1031, 33])).unwrap();
                srcs.push(m);
            }
            let y = g
                .add(Op::Attention(Attention::new(0.125, causal)), &srcs)
                .unwrap();
            g.mark_output(y);
            let prog = lower_unfused(&g).unwrap();
            let kernel = &prog.calls[0].kernel;
            for keys in [32, 64] {
                for f16 in [false, true] {
                    let mut s = Schedule::GPU;
                    s.matmul.tensor_core_f32 = f32_ok;
                    s.attention.keys = Some(keys);
                    // The tensor-core block form (heads up to 64 default to the row form).
                    s.attention.rows = Some(16);
                    let s = s.resolve(kernel);
                    assert!(s.attention.tensor_cores, "{dt} d {d}");
                    let what = format!("tensor-core attention {dt} d {d} keys {keys} f16 {f16}");
                    let src = generate(kernel, &s, &Target { f16, bf16: f16 })
                        .unwrap_or_else(|e| panic!("{what}: codegen: {e}"));
                    validate_to_spirv(&src.wgsl, &what);
                    seen += 1;
                }
            }
        }
    }
    assert_eq!(seen, 3 * 3 * 2 * 2);
}

/// Attention on tensor cores computing its queries (RoPE's form, [`common::rotated_attention`])
/// where it stages them: f16 operands and f32 ones at f16 precision, heads of 32 and 128.
#[test]
fn tensor_core_attention_computes_its_queries() {
    for (dt, f32_ok) in [(DType::F16, false), (DType::F32, true)] {
        for d in [32, 128] {
            let g = common::rotated_attention(dt, d, 1031, false);
            let prog = lower(&g, &FusionOptions::default()).unwrap();
            assert_eq!(prog.calls.len(), 1, "{dt} d {d}: one kernel");
            let kernel = &prog.calls[0].kernel;
            let mut s = Schedule::GPU;
            s.matmul.tensor_core_f32 = f32_ok;
            s.attention.keys = Some(32);
            s.attention.rows = Some(16);
            let s = s.resolve(kernel);
            assert!(s.attention.tensor_cores, "{dt} d {d}");
            for f16 in [false, true] {
                let what = format!("tensor-core attention, computed q, {dt} d {d} f16 {f16}");
                let src = generate(kernel, &s, &Target { f16, bf16: f16 })
                    .unwrap_or_else(|e| panic!("{what}: codegen: {e}"));
                assert!(src.wgsl.contains("fn kiln_q_in"), "{what}");
                validate_to_spirv(&src.wgsl, &what);
            }
        }
    }
}

//! Every kernel shape the lowering can produce, for every op and dtype it accepts, generates
//! WGSL that naga parses and validates.

use kiln_codegen::{generate, Schedule, Target};
use kiln_ir::lower::{lower, lower_unfused, FusionOptions};
use kiln_ir::ops::{
    BinaryOp, RandDist, SliceDim, UnaryOp, ViewOp, ALL_BINARY, ALL_REDUCE, ALL_UNARY,
};
use kiln_ir::{
    DType, Graph, Kernel, NodeId, Op, Scalar, Shape, TensorType, ALL_BLOCK_FORMATS, ALL_DTYPES,
};
use smallvec::smallvec;

mod common;
#[path = "common/validate.rs"]
mod validate;
use validate::{nonfinite_constant, validate_program};

fn validate_graph(g: &Graph, what: &str) -> usize {
    let prog = lower_unfused(g).unwrap_or_else(|e| panic!("{what}: lowering: {e}"));
    validate_program(&prog, what)
}

/// The check above sees a constant infinity or NaN written through `bitcast`, and not one
/// made at run time by kiln's helper.
#[test]
fn nonfinite_constants_are_seen() {
    let parse = |src: &str| naga::front::wgsl::parse_str(src).unwrap();
    let folded = parse("fn f() -> f32 { var a: f32 = bitcast<f32>(0xff800000u); return a; }");
    assert_eq!(nonfinite_constant(&folded), Some(f32::NEG_INFINITY));
    let nan = parse("fn f() -> f32 { return bitcast<f32>(0x7fc00000u) + 1.0; }");
    assert!(nonfinite_constant(&nan).is_some_and(f32::is_nan));
    let helper = parse(
        "fn kiln_f32_bits(b: u32) -> f32 { return bitcast<f32>(b); }\n\
         fn f() -> f32 { var a: f32 = kiln_f32_bits(0xff800000u); return a; }",
    );
    assert_eq!(nonfinite_constant(&helper), None);
}

fn graph_with(
    dtype: DType,
    shape: &[usize],
    build: impl FnOnce(&mut Graph, NodeId) -> Option<NodeId>,
) -> Option<Graph> {
    let mut g = Graph::new();
    let x = g.input(dtype, Shape::new(shape)).unwrap();
    let y = build(&mut g, x)?;
    g.mark_output(y);
    Some(g)
}

#[test]
fn unary_binary_cast_all_dtypes() {
    let mut n = 0;
    // 1031: scalar kernels; 1032: vec4 kernels (packing of every storage type).
    for size in [1031, 1032] {
        for dt in ALL_DTYPES {
            for op in ALL_UNARY {
                if let Some(g) = graph_with(dt, &[size], |g, x| g.add(Op::Unary(op), &[x]).ok()) {
                    n += validate_graph(&g, &format!("{} {dt} [{size}]", op.name()));
                }
            }
            for op in ALL_BINARY {
                if let Some(g) =
                    graph_with(dt, &[3, size], |g, x| g.add(Op::Binary(op), &[x, x]).ok())
                {
                    n += validate_graph(&g, &format!("{} {dt} [3, {size}]", op.name()));
                }
            }
            for to in ALL_DTYPES {
                let g = graph_with(dt, &[size], |g, x| g.add(Op::Cast(to), &[x]).ok()).unwrap();
                n += validate_graph(&g, &format!("cast {dt}->{to} [{size}]"));
            }
        }
    }
    assert!(n > 150, "{n} kernels validated");
}

#[test]
fn reductions_views_and_the_rest() {
    for dt in ALL_DTYPES {
        for op in ALL_REDUCE {
            for axes in [vec![1usize], vec![0, 2]] {
                let g = graph_with(dt, &[3, 1031, 5], |g, x| {
                    let p = g
                        .add(Op::View(ViewOp::Permute(smallvec![2, 0, 1])), &[x])
                        .ok()?;
                    g.add(
                        Op::Reduce {
                            op,
                            axes: axes.clone().into(),
                            keepdim: false,
                        },
                        &[p],
                    )
                    .ok()
                });
                if let Some(g) = g {
                    validate_graph(&g, &format!("{} {dt}", op.name()));
                }
            }
        }
    }
    // Masked, strided, flipped and expanded loads, concat and gather.
    let g = graph_with(DType::F32, &[7, 1031], |g, x| {
        let p = g
            .add(
                Op::View(ViewOp::Pad {
                    before: smallvec![1, 0],
                    after: smallvec![0, 2],
                    value: Scalar::F(1.5),
                }),
                &[x],
            )
            .ok()?;
        let s = g
            .add(
                Op::View(ViewOp::Slice(smallvec![
                    SliceDim {
                        start: 0,
                        end: 8,
                        step: 1
                    },
                    SliceDim {
                        start: 0,
                        end: 1033,
                        step: 1
                    }
                ])),
                &[p],
            )
            .ok()?;
        let f = g.add(Op::View(ViewOp::Flip(smallvec![1])), &[s]).ok()?;
        let c = g.add(Op::Concat { axis: 0 }, &[f, p]).ok()?;
        let e = g.add(Op::Unary(UnaryOp::Exp), &[c]).ok()?;
        let t = g
            .add(Op::View(ViewOp::Permute(smallvec![1, 0])), &[e])
            .ok()?;
        g.add(Op::Binary(BinaryOp::Add), &[t, t]).ok()
    })
    .unwrap();
    assert!(validate_graph(&g, "views") >= 3);
    let mut g = Graph::new();
    let x = g.input(DType::F32, Shape::new(&[1031, 4])).unwrap();
    let i = g.input(DType::I32, Shape::new(&[9, 4])).unwrap();
    let y = g.add(Op::Gather { axis: 0 }, &[x, i]).unwrap();
    let a = g
        .add_leaf(
            Op::Arange {
                start: Scalar::I(3),
                step: Scalar::I(2),
            },
            TensorType::new(DType::I32, Shape::new(&[9])),
        )
        .unwrap();
    let r = g
        .add_leaf(
            Op::Rand {
                seed: 5,
                dist: RandDist::Normal,
            },
            TensorType::new(DType::BF16, Shape::new(&[9, 4])),
        )
        .unwrap();
    g.mark_output(y);
    g.mark_output(a);
    g.mark_output(r);
    validate_graph(&g, "gather, arange, rand");
}

#[test]
fn matmuls() {
    for dt in [DType::F32, DType::F16, DType::BF16] {
        let mut g = Graph::new();
        let a = g.input(dt, Shape::new(&[2, 3, 1031, 7])).unwrap();
        let b = g.input(dt, Shape::new(&[2, 3, 9, 7])).unwrap();
        let bt = g
            .add(Op::View(ViewOp::Permute(smallvec![0, 1, 3, 2])), &[b])
            .unwrap();
        let y = g.add(Op::Matmul, &[a, bt]).unwrap();
        g.mark_output(y);
        validate_graph(&g, &format!("matmul {dt}"));
    }
    let mut g = Graph::new();
    let a = g.input(DType::F32, Shape::new(&[5, 1031])).unwrap();
    let b = g.input(DType::F32, Shape::new(&[1031, 1])).unwrap();
    let y = g.add(Op::Matmul, &[a, b]).unwrap();
    g.mark_output(y);
    validate_graph(&g, "matmul rank 2");
}

/// Attention kernels: with and without a mask, causal, a part of a split attention, strided
/// and broadcast operands, head sizes 32 to 128 (80 not a power of two), every float dtype;
/// heads up to 64 in the row form too (1031 queries), and one query row (the decode form,
/// and the block form of one row past its heads).
#[test]
fn attention() {
    use kiln_ir::ops::Attention;
    for dt in [DType::F32, DType::F16, DType::BF16] {
        for (sq, d, masked, causal, splits) in [
            (1031, 32, false, false, 1),
            (1031, 80, true, true, 1),
            (1031, 128, true, false, 3),
            (1031, 64, false, true, 7),
            (1031, 64, true, false, 1),
            (1, 128, true, false, 4),
            (1, 80, false, true, 1),
            (1, 320, true, false, 2),
            (1, 30, true, true, 3),
        ] {
            let mut g = Graph::new();
            let q = g.input(dt, Shape::new(&[2, sq, 3, d])).unwrap();
            let q = g
                .add(Op::View(ViewOp::Permute(smallvec![0, 2, 1, 3])), &[q])
                .unwrap();
            let k = g.input(dt, Shape::new(&[2, 1, 9, d])).unwrap();
            let k = g
                .add(Op::View(ViewOp::Expand(Shape::new(&[2, 3, 9, d]))), &[k])
                .unwrap();
            let v = g.input(dt, Shape::new(&[2, 3, 9, 48])).unwrap();
            let mut srcs = vec![q, k, v];
            if masked {
                let m = g.input(dt, Shape::new(&[sq, 9])).unwrap();
                let m = g
                    .add(Op::View(ViewOp::Expand(Shape::new(&[2, 3, sq, 9]))), &[m])
                    .unwrap();
                srcs.push(m);
            }
            let att = Attention {
                splits,
                ..Attention::new(0.125, causal)
            };
            let y = g.add(Op::Attention(att), &srcs).unwrap();
            g.mark_output(y);
            let what =
                format!("attention {dt} sq {sq} d {d} masked {masked} causal {causal} {splits}");
            validate_graph(&g, &what);
        }
    }
}

/// Kernels reading quantized blocks: a cast (elementwise), a gather, and `x @ W^T` fused
/// (the gemv path decoding whole words, and the element-wise paths), for every format.
#[test]
fn quantized_reads() {
    for f in ALL_BLOCK_FORMATS {
        let q = DType::Quant(f);
        let k = 3 * f.block_values();
        let g = graph_with(q, &[5, k], |g, x| g.add(Op::Cast(DType::F16), &[x]).ok()).unwrap();
        assert_eq!(validate_graph(&g, &format!("cast {f:?}")), 1);
        let mut g = Graph::new();
        let w = g.input(q, Shape::new(&[9, k])).unwrap();
        let idx = g.input(DType::I32, Shape::new(&[4, k])).unwrap();
        let e = g.add(Op::Gather { axis: 0 }, &[w, idx]).unwrap();
        let y = g.add(Op::Cast(DType::F32), &[e]).unwrap();
        g.mark_output(y);
        validate_graph(&g, &format!("gather {f:?}"));
        for m in [1, 7] {
            let g = common::x_wt(f, m, k, 1031);
            let prog = lower(&g, &FusionOptions::default()).unwrap();
            assert!(
                prog.calls
                    .iter()
                    .any(|c| c.kernel.inputs.contains(&q) && c.kernel.matmul_k().is_some()),
                "{f:?}: the matmul reads the blocks"
            );
            validate_program(&prog, &format!("x[{m}] @ W^T {f:?}"));
        }
    }
}

/// The kernel of `A @ B` for inputs stored with shapes `sa` and `sb`, B read through a
/// transpose of its two dims where `b_transposed`.
fn matmul_kernel(sa: &[usize], sb: &[usize], b_transposed: bool) -> Kernel {
    let mut g = Graph::new();
    let a = g.input(DType::F32, Shape::new(sa)).unwrap();
    let mut b = g.input(DType::F32, Shape::new(sb)).unwrap();
    if b_transposed {
        let perm = Op::View(ViewOp::Permute([1, 0].into_iter().collect()));
        b = g.add(perm, &[b]).unwrap();
    }
    let y = g.add(Op::Matmul, &[a, b]).unwrap();
    g.mark_output(y);
    lower_unfused(&g).unwrap().calls.remove(0).kernel
}

/// A matmul's grid covers its output with as few tiles as the schedule's tile allows: sizes
/// are not rounded to their class there (that would launch idle tiles).
#[test]
fn matmul_grids_cover_the_output_exactly() {
    let k = &matmul_kernel(&[2, 300, 70], &[2, 70, 520], false);
    for (bm, bn, want) in [
        (1, None, [33, 19, 2]),
        (4, None, [9, 5, 2]),
        (8, None, [5, 3, 2]),
        (8, Some(4), [9, 3, 2]),
    ] {
        let mut s = Schedule::default();
        s.matmul.block = Some(bm);
        s.matmul.block_n = bn;
        let s = s.resolve(k);
        let src = generate(k, &s, &Target::default()).unwrap();
        assert_eq!(src.grid(k, 65535).unwrap(), want, "block {bm}x{bn:?}");
    }
}

#[test]
fn gemv_grids_cover_the_outputs() {
    for (sb, outs) in [([8usize, 1000], 32usize), ([1000, 8], 8)] {
        // [1000, 8] is read transposed: contiguous along k.
        let k = &matmul_kernel(&[1, 8], &sb, sb[0] == 1000);
        let mut s = Schedule::default();
        s.matmul.block = Some(1);
        s.matmul.tensor_cores = false;
        let src = generate(k, &s, &Target::default()).unwrap();
        let groups = 1000usize.div_ceil(outs);
        assert_eq!(src.grid(k, 65535).unwrap(), [groups as u32, 1, 1]);
        // A small grid limit spreads the groups over y.
        let [x, y, z] = src.grid(k, 16).unwrap();
        assert!(
            x <= 16 && y > 1 && (x * y) as usize >= groups && z == 1,
            "{x} {y} {z}"
        );
    }
}

#[test]
fn matmul_schedules_fit_the_workgroup_memory_limit() {
    let k = &matmul_kernel(&[512, 64], &[64, 512], false);
    let mut s = Schedule::default();
    s.matmul.block = Some(8);
    s.matmul.block_n = None;
    s.matmul.depth = Some(32);
    s.matmul.tensor_cores = false;
    for (limit, want) in [
        (49152, (8, None, 32)),
        (32768, (8, None, 16)),
        (16384, (8, Some(4), 16)),
        (10000, (4, None, 16)),
        (8000, (1, None, 16)),
    ] {
        let f = s.fit_workgroup_memory(k, limit);
        let (want_block, want_n, want_depth) = want;
        assert_eq!(
            (f.matmul.block, f.matmul.block_n, f.matmul.depth),
            (Some(want_block), want_n, Some(want_depth)),
            "limit {limit}"
        );
        let (bm, bn) = f.matmul.blocks().unwrap();
        let bytes = kiln_codegen::matmul::workgroup_bytes(bm, bn, want_depth);
        assert!(bytes <= limit, "limit {limit}: {bytes} bytes");
        // The generated text declares exactly that much workgroup memory.
        let src = generate(k, &f, &Target::default()).unwrap();
        let declared = common::declared(&src.wgsl);
        assert_eq!(declared, bytes, "limit {limit}");
    }
}

/// `Schedule::resolve`'s matmul tiles by size, as measured in docs/PERFORMANCE.md.
#[test]
fn matmul_tiles_by_size() {
    let tiles = |sa: &[usize], sb: &[usize]| {
        Schedule::default()
            .resolve(&matmul_kernel(sa, sb, false))
            .matmul
            .blocks()
            .unwrap()
    };
    // Many square tiles: 128 x 128.
    assert_eq!(tiles(&[4096, 4096], &[4096, 4096]), (8, 8));
    assert_eq!(tiles(&[16, 2048, 2048], &[16, 2048, 2048]), (8, 8));
    // Few (the 4096 x 768 projections: 256 in their size class): 128 x 64.
    assert_eq!(tiles(&[8, 512, 768], &[8, 768, 768]), (8, 4));
    // k at most 64 (attention scores): 128 x 64.
    assert_eq!(tiles(&[128, 512, 64], &[128, 64, 512]), (8, 4));
    // n = 64 (attention times values): 128 x 64; other narrow products 64 x 64.
    assert_eq!(tiles(&[128, 512, 512], &[128, 512, 64]), (8, 4));
    assert_eq!(tiles(&[64, 512], &[512, 4096]), (4, 4));
    assert_eq!(tiles(&[4096, 512], &[512, 100]), (4, 4));
    // Thin and matrix-vector products: block 1.
    assert_eq!(tiles(&[1, 4096], &[4096, 4096]), (1, 1));
    assert_eq!(tiles(&[32, 4096], &[4096, 4096]), (1, 1));
}

/// A stored tuning result gives back exactly the schedule that was tuned, for every candidate
/// of every kernel class: equal code keeps one pipeline cache key across processes.
#[test]
fn tuned_results_round_trip_every_candidate() {
    use kiln_codegen::schedule::space::{candidates, Autotune};
    use kiln_codegen::schedule::tuned::TunedFields;
    let mut g = Graph::new();
    let x = g.input(DType::F32, Shape::new(&[1024, 1031])).unwrap();
    let e = g.add(Op::Unary(UnaryOp::Exp), &[x]).unwrap();
    let r = g
        .add(
            Op::Reduce {
                op: kiln_ir::ops::ReduceOp::Sum,
                axes: smallvec![1],
                keepdim: false,
            },
            &[x],
        )
        .unwrap();
    g.mark_output(e);
    g.mark_output(r);
    let mut kernels: Vec<Kernel> = lower_unfused(&g)
        .unwrap()
        .calls
        .into_iter()
        .map(|c| c.kernel)
        .collect();
    // A deep inner dimension (32-deep slices by default) and a thin one (block 1 candidates).
    kernels.push(matmul_kernel(&[256, 4096], &[4096, 256], false));
    kernels.push(matmul_kernel(&[3, 4096], &[4096, 1031], false));
    for k in &kernels {
        let cands = candidates(k, &Schedule::GPU, Autotune::Full, 1024);
        assert!(cands.len() > 1, "{}: no candidates", k.name);
        for c in cands {
            assert_eq!(
                TunedFields::of(k, &c).apply(k, &Schedule::GPU),
                Some(c),
                "{}",
                k.name
            );
        }
    }
}

/// An in-place kernel whose output is `where(c, x, old)` over the input it runs in place of
/// stores only where `c` holds (`update_guard`), in the scalar and vector forms and every
/// storage of its dtype; naga validates each.
#[test]
fn in_place_updates_are_guarded() {
    use kiln_ir::{InputId, OutputId};
    // 1031 elements: scalar kernels; 1032: vec4 kernels.
    for n in [1031usize, 1032] {
        for dt in [DType::F32, DType::F16, DType::BF16, DType::I32] {
            let mut g = Graph::new();
            let old = g.input(dt, Shape::new(&[n])).unwrap();
            let new = g.input(dt, Shape::new(&[n])).unwrap();
            let at = g.input(DType::I32, Shape::new(&[n])).unwrap();
            let lo = g.input(DType::I32, Shape::new(&[n])).unwrap();
            let c = g.add(Op::Binary(BinaryOp::Lt), &[at, lo]).unwrap();
            let x = g.add(Op::Binary(BinaryOp::Add), &[new, new]).unwrap();
            let y = g.add(Op::Where, &[c, x, old]).unwrap();
            g.mark_output(y);
            let mut prog = lower(&g, &FusionOptions::default()).unwrap();
            assert_eq!(prog.calls.len(), 1);
            let k = &mut prog.calls[0].kernel;
            assert!(kiln_codegen::elementwise::update_guard(k).is_none());
            // In place of the old value: guarded; in place of the new one (which it may also
            // run over): not.
            let pairs: Vec<InputId> = (0..k.inputs.len())
                .map(InputId::new)
                .filter(|&i| k.can_run_in_place(i, OutputId::new(0)))
                .collect();
            assert!(
                pairs.len() >= 2,
                "{dt} [{n}]: old and new may be written over"
            );
            let mut guarded = Vec::new();
            for i in pairs {
                k.inplace = Some((i, OutputId::new(0)));
                if kiln_codegen::elementwise::update_guard(k).is_some() {
                    guarded.push(i);
                }
            }
            assert_eq!(
                guarded.len(),
                1,
                "{dt} [{n}]: guarded over the old value only"
            );
            k.inplace = Some((guarded[0], OutputId::new(0)));
            validate_program(&prog, &format!("in-place update {dt} [{n}]"));
        }
    }
}

fn sum_kernel(shape: &[usize]) -> Kernel {
    let mut g = Graph::new();
    let x = g.input(DType::F32, Shape::new(shape)).unwrap();
    let y = g
        .add(
            Op::Reduce {
                op: kiln_ir::ops::ReduceOp::Sum,
                axes: smallvec![shape.len() - 1],
                keepdim: false,
            },
            &[x],
        )
        .unwrap();
    g.mark_output(y);
    lower_unfused(&g).unwrap().calls.remove(0).kernel
}

/// `reduce.serial` stays only for rows that short, and then holds the row whole in registers
/// without subgroups; its grid is a workgroup per `workgroup` rows, its shader has no barrier
/// and no workgroup memory, and naga takes it.
#[test]
fn serial_rows_resolve_and_generate() {
    let mut base = Schedule::GPU;
    base.reduce.subgroups = true;
    base.reduce.serial = 32;
    let short = sum_kernel(&[4096, 22]);
    let s = base.resolve(&short);
    assert_eq!(
        (
            s.reduce.serial,
            s.reduce.cache,
            s.reduce.subgroups,
            s.reduce.unroll
        ),
        (32, 32, false, 1)
    );
    assert_eq!(s.resolve(&short), s, "resolve is idempotent");
    let src = generate(&short, &s, &Target::default()).unwrap();
    assert_eq!(src.grid(&short, 65535).unwrap(), [4096 / 32, 1, 1]);
    assert!(!src.wgsl.contains("workgroupBarrier") && !src.wgsl.contains("var<workgroup>"));
    common::validated(&src.wgsl, "serial sum");
    // The tuner weighs both forms: serial rows a workgroup, and the tree's workgroups.
    let cands = kiln_codegen::schedule::space::candidates(
        &short,
        &base,
        kiln_codegen::schedule::space::Autotune::Full,
        1024,
    );
    assert_eq!(cands[0], s);
    assert!(cands.iter().any(|c| c.reduce.serial == 0));
    assert!(cands.iter().filter(|c| c.reduce.serial > 0).count() > 1);
    for c in &cands {
        assert!(
            kiln_codegen::schedule::limits::valid(&short, c, 1024),
            "{c:?}"
        );
        common::validated(
            &generate(&short, c, &Target::default()).unwrap().wgsl,
            "candidate",
        );
    }
    // Rows of 33 are of the size class 64: the tree form under a serial bound of 32.
    let long = sum_kernel(&[4096, 33]);
    let s = base.resolve(&long);
    assert_eq!(s.reduce.serial, 0);
    let src = generate(&long, &s, &Target::default()).unwrap();
    assert_eq!(src.grid(&long, 65535).unwrap(), [4096, 1, 1]);
    assert!(src.wgsl.contains("workgroupBarrier"));
}

//! Vectors computed where their products read them (operand prologues): every float dtype,
//! stages over the row, quantized weights of every format under the schedules of
//! `common/validate.rs`, and the workgroup memory of a prologue's stages counted against the
//! adapter's limit.

use kiln_codegen::{generate, Schedule, Target};
use kiln_ir::lower::{lower, FusionOptions};
use kiln_ir::ops::{BinaryOp, ReduceOp, UnaryOp};
use kiln_ir::{DType, Graph, KernelKind, Op, Shape, ALL_BLOCK_FORMATS};

mod common;
#[path = "common/validate.rs"]
mod validate;
use validate::validate_program;

/// Vectors computed where their products read them (operand prologues): `silu(x) * y[partner]`
/// (a gather) in every float dtype over batches, a softmax's (two stages over the row), and
/// `x * y` against quantized weights of every format (each gemv path, under the schedules
/// above).
#[test]
fn operand_prologues() {
    let prologue = |prog: &kiln_ir::lower::Program| {
        prog.calls.iter().any(|c| {
            matches!(
                c.kernel.kind,
                KernelKind::Matmul {
                    prologue: Some(_),
                    ..
                }
            )
        })
    };
    for dt in [DType::F32, DType::F16, DType::BF16] {
        let mut g = Graph::new();
        let x = g.input(dt, Shape::new(&[2, 3, 1, 1031])).unwrap();
        let y = g.input(dt, Shape::new(&[2, 3, 1, 1031])).unwrap();
        let idx = g.input(DType::I32, Shape::new(&[2, 3, 1, 1031])).unwrap();
        let yp = g.add(Op::Gather { axis: 3 }, &[y, idx]).unwrap();
        let s = g.add(Op::Unary(UnaryOp::Silu), &[x]).unwrap();
        let a = g.add(Op::Binary(BinaryOp::Mul), &[s, yp]).unwrap();
        let b = g.input(dt, Shape::new(&[2, 3, 1031, 9])).unwrap();
        let out = g.add(Op::Matmul, &[a, b]).unwrap();
        g.mark_output(out);
        let prog = lower(&g, &FusionOptions::default()).unwrap();
        assert!(prologue(&prog), "{dt}: a prologue");
        validate_program(&prog, &format!("prologue {dt}"));
        // softmax(x) @ b: its max and sum folded over the row first.
        let mut g = Graph::new();
        let shape = Shape::new(&[2, 3, 1, 1031]);
        let x = g.input(dt, shape.clone()).unwrap();
        let mxe = common::row_value(&mut g, ReduceOp::Max, x, &shape);
        let d = g.add(Op::Binary(BinaryOp::Sub), &[x, mxe]).unwrap();
        let ex = g.add(Op::Unary(UnaryOp::Exp), &[d]).unwrap();
        let sme = common::row_value(&mut g, ReduceOp::Sum, ex, &shape);
        let a = g.add(Op::Binary(BinaryOp::Div), &[ex, sme]).unwrap();
        let b = g.input(dt, Shape::new(&[2, 3, 1031, 9])).unwrap();
        let out = g.add(Op::Matmul, &[a, b]).unwrap();
        g.mark_output(out);
        let prog = lower(&g, &FusionOptions::default()).unwrap();
        assert_eq!(prog.calls.len(), 1, "{dt}: softmax @ b in one kernel");
        assert!(prologue(&prog), "{dt}: a prologue with stages");
        validate_program(&prog, &format!("softmax prologue {dt}"));
    }
    for f in ALL_BLOCK_FORMATS {
        let k = 3 * f.block_values();
        let mut g = Graph::new();
        let x = g.input(DType::F32, Shape::new(&[1, k])).unwrap();
        let y = g.input(DType::F32, Shape::new(&[1, k])).unwrap();
        let a = g.add(Op::Binary(BinaryOp::Mul), &[x, y]).unwrap();
        let wt = common::wt(&mut g, f, 1031, k);
        let out = g.add(Op::Matmul, &[a, wt]).unwrap();
        g.mark_output(out);
        let prog = lower(&g, &FusionOptions::default()).unwrap();
        assert!(prologue(&prog), "{f:?}: a prologue");
        validate_program(&prog, &format!("prologue @ W^T {f:?}"));
    }
}

/// `x * rsqrt(mean(x * x)) @ W^T` for one vector of `k` values and a Q4_K weight of 1031
/// rows: a norm before a quantized product.
fn norm_before_q4k(k: usize) -> Graph {
    let mut g = Graph::new();
    let x = g.input(DType::F32, Shape::new(&[1, k])).unwrap();
    let sq = g.add(Op::Binary(BinaryOp::Mul), &[x, x]).unwrap();
    let mean = common::row_value(&mut g, ReduceOp::Mean, sq, &Shape::new(&[1, k]));
    let r = g.add(Op::Unary(UnaryOp::Rsqrt), &[mean]).unwrap();
    let a = g.add(Op::Binary(BinaryOp::Mul), &[x, r]).unwrap();
    let wt = common::wt(&mut g, kiln_ir::quant::BlockFormat::Q4K, 1031, k);
    let y = g.add(Op::Matmul, &[a, wt]).unwrap();
    g.mark_output(y);
    g
}

/// A prologue's stages declare workgroup memory on every path (the fold's tree and the
/// stages' results): the schedule fitted to WebGPU's default 16,384 bytes counts them, so
/// that the 8-bit gemv path, which alone can fill the limit, gives up rows a group for them.
#[test]
fn stages_are_counted_against_the_workgroup_memory_limit() {
    let prog = lower(&norm_before_q4k(4096), &FusionOptions::default()).unwrap();
    let [call] = prog.calls.as_slice() else {
        panic!("{} kernels, one expected", prog.calls.len());
    };
    let k = &call.kernel;
    assert!(matches!(&k.kind, KernelKind::Matmul { prologue: Some(p), .. } if p.stages.len() == 1));
    assert_eq!(
        kiln_codegen::prologue::workgroup_bytes(k, 256),
        4 * (256 + 1)
    );
    let mut s = Schedule::default();
    s.matmul.block = Some(1);
    s.matmul.block_n = None;
    s.matmul.depth = Some(16);
    s.matmul.tensor_cores = false;
    s.matmul.quantized_gemv = true;
    s.matmul.qgemv_int8 = true;
    s.matmul.qgemv_rows = Some(4);
    s.matmul.qgemv_items = 2;
    let limit = 16384;
    let declared = |s: &Schedule| {
        let wgsl = generate(k, s, &Target::default()).unwrap().wgsl;
        common::validated(&wgsl, "norm before Q4_K");
        (common::declared(&wgsl), wgsl.contains("kiln_qdot_"))
    };
    // Unfitted, the path and the stages together pass the limit.
    let (before, int8) = declared(&s);
    assert!(int8 && before > limit, "{before} bytes on the 8-bit path");
    let fitted = s.fit_workgroup_memory(k, limit);
    let (after, _) = declared(&fitted);
    assert!(after <= limit, "{after} bytes > {limit} ({fitted:?})");
}

/// Attention's queries in RoPE's form, `x * c + gather(x, partner) * c`, computed where the
/// kernel reads them: every float dtype and heads of 32, 80 and 128, masked and causal, under
/// the schedules above (the row, block and decode forms).
#[test]
fn attention_computes_its_queries() {
    for dt in [DType::F32, DType::F16, DType::BF16] {
        for (d, causal) in [(32, false), (80, true), (128, false)] {
            let g = common::rotated_attention(dt, d, 7, causal);
            let prog = lower(&g, &FusionOptions::default()).unwrap();
            let computed = prog.calls.iter().any(|c| {
                matches!(
                    c.kernel.kind,
                    KernelKind::Attention {
                        q_prologue: Some(_),
                        ..
                    }
                )
            });
            let names: Vec<&str> = prog.calls.iter().map(|c| c.kernel.name.as_str()).collect();
            assert!(computed, "{dt} d {d}: q computed {names:?}");
            assert_eq!(prog.calls.len(), 1, "{dt} d {d}: one kernel {names:?}");
            validate_program(&prog, &format!("attention, computed q, {dt} d {d}"));
        }
    }
    // The same graph with no fusion stores q first.
    let g = common::rotated_attention(DType::F32, 32, 7, false);
    let prog = kiln_ir::lower::lower_unfused(&g).unwrap();
    assert!(prog.calls.len() > 1);
}

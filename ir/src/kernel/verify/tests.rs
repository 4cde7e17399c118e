//! Each check of the kernel verifier, shown a kernel broken in exactly that way.

use super::KernelError;
use crate::kernel::{
    Expr, ExprId, ExprNode, InputId, Kernel, KernelKind, Load, LoadId, Output, OutputId, Prologue,
    Stage, StageId, Store,
};
use crate::lower::{lower, FusionOptions};
use crate::ops::{BinaryOp, Op, ReduceOp, UnaryOp, ViewOp};
use crate::view::View;
use crate::{Axes, DType, Graph, Scalar, Shape};

fn e(i: usize) -> ExprId {
    ExprId::new(i)
}

fn node(expr: Expr, dtype: DType) -> ExprNode {
    ExprNode { expr, dtype }
}

fn load(input: usize, shape: &[usize]) -> Load {
    Load {
        input: InputId::new(input),
        view: View::contiguous(&Shape::new(shape)),
    }
}

/// `out0 = exp(in0) + in1` over `[4, 8]`.
fn elementwise() -> Kernel {
    Kernel {
        name: "add".into(),
        kind: KernelKind::Elementwise,
        shape: Shape::new(&[4, 8]),
        inputs: vec![DType::F32, DType::F32],
        loads: vec![load(0, &[4, 8]), load(1, &[4, 8])],
        exprs: vec![
            node(Expr::Load(LoadId::new(0)), DType::F32),
            node(Expr::Unary(UnaryOp::Exp, e(0)), DType::F32),
            node(Expr::Load(LoadId::new(1)), DType::F32),
            node(Expr::Binary(BinaryOp::Add, e(1), e(2)), DType::F32),
        ],
        outputs: vec![Output {
            dtype: DType::F32,
            expr: e(3),
            store: Store::Full,
        }],
        vector: 1,
        inplace: None,
    }
}

/// Rows of `[4, 8]`: stage 0 the max, stage 1 the sum of `x - max`; both stored per row.
fn reduce() -> Kernel {
    Kernel {
        name: "max+sum".into(),
        kind: KernelKind::Reduce {
            red_rank: 1,
            stages: vec![
                Stage {
                    op: ReduceOp::Max,
                    expr: e(0),
                },
                Stage {
                    op: ReduceOp::Sum,
                    expr: e(2),
                },
            ],
        },
        shape: Shape::new(&[4, 8]),
        inputs: vec![DType::F32],
        loads: vec![load(0, &[4, 8])],
        exprs: vec![
            node(Expr::Load(LoadId::new(0)), DType::F32),
            node(Expr::Acc(StageId::new(0)), DType::F32),
            node(Expr::Binary(BinaryOp::Sub, e(0), e(1)), DType::F32),
            node(Expr::Acc(StageId::new(1)), DType::F32),
        ],
        outputs: vec![
            Output {
                dtype: DType::F32,
                expr: e(1),
                store: Store::Row,
            },
            Output {
                dtype: DType::F32,
                expr: e(3),
                store: Store::Row,
            },
        ],
        vector: 1,
        inplace: None,
    }
}

/// `[2, 3] @ [3, 5]` with a relu epilogue.
fn matmul() -> Kernel {
    Kernel {
        name: "matmul+relu".into(),
        kind: KernelKind::Matmul {
            a: LoadId::new(0),
            b: LoadId::new(1),
            dtype: DType::F32,
            a_round: None,
            b_round: None,
            prologue: None,
        },
        shape: Shape::new(&[2, 5]),
        inputs: vec![DType::F32, DType::F32],
        loads: vec![load(0, &[2, 3]), load(1, &[3, 5])],
        exprs: vec![
            node(Expr::Acc(StageId::new(0)), DType::F32),
            node(Expr::Unary(UnaryOp::Relu, e(0)), DType::F32),
        ],
        outputs: vec![Output {
            dtype: DType::F32,
            expr: e(1),
            store: Store::Full,
        }],
        vector: 1,
        inplace: None,
    }
}

fn rejected(k: &Kernel) -> KernelError {
    match k.verify() {
        Err(err) => err,
        Ok(()) => panic!("a broken kernel passed the verifier: {k:?}"),
    }
}

#[test]
fn well_formed_kernels_pass() {
    for k in [elementwise(), reduce(), matmul()] {
        assert_eq!(k.verify(), Ok(()), "{}", k.name);
    }
    let mut k = elementwise();
    k.inplace = Some((InputId::new(1), OutputId::new(0)));
    assert_eq!(k.verify(), Ok(()));
    k.vector = 4;
    assert_eq!(k.verify(), Ok(()));
}

#[test]
fn lowered_kernels_pass() {
    // Softmax's numerator: a reduction broadcast back over its rows.
    let mut g = Graph::new();
    let x = g.input(DType::F32, Shape::new(&[4, 8])).unwrap();
    let reduce = Op::Reduce {
        op: ReduceOp::Max,
        axes: Axes::from_slice(&[1]),
        keepdim: true,
    };
    let m = g.add(reduce, &[x]).unwrap();
    let m = g
        .add(Op::View(ViewOp::Expand(Shape::new(&[4, 8]))), &[m])
        .unwrap();
    let d = g.add(Op::Binary(BinaryOp::Sub), &[x, m]).unwrap();
    let y = g.add(Op::Unary(UnaryOp::Exp), &[d]).unwrap();
    g.mark_output(y);
    for enabled in [true, false] {
        let prog = lower(
            &g,
            &FusionOptions {
                enabled,
                ..FusionOptions::default()
            },
        )
        .unwrap();
        for c in &prog.calls {
            assert_eq!(c.kernel.verify(), Ok(()), "{}", c.kernel.name);
        }
    }
}

#[test]
fn operands_must_come_before_their_readers() {
    let mut k = elementwise();
    k.exprs[1].expr = Expr::Unary(UnaryOp::Exp, e(1));
    assert_eq!(
        rejected(&k),
        KernelError::ExprOrder {
            expr: e(1),
            operand: e(1)
        }
    );
    k.exprs[1].expr = Expr::Unary(UnaryOp::Exp, e(9));
    assert!(matches!(rejected(&k), KernelError::ExprOrder { .. }));
}

#[test]
fn load_ids_must_be_in_range() {
    let mut k = elementwise();
    k.exprs[2].expr = Expr::Load(LoadId::new(2));
    assert!(matches!(
        rejected(&k),
        KernelError::LoadOutOfRange { count: 2, .. }
    ));
    let mut k = elementwise();
    k.exprs[0] = node(Expr::LoadValid(LoadId::new(7)), DType::Bool);
    assert!(matches!(rejected(&k), KernelError::LoadOutOfRange { .. }));
}

#[test]
fn input_ids_must_be_in_range() {
    let mut k = elementwise();
    k.loads[1].input = InputId::new(2);
    assert!(matches!(
        rejected(&k),
        KernelError::InputOutOfRange { count: 2, .. }
    ));
}

#[test]
fn loads_have_the_kernel_rank() {
    let mut k = elementwise();
    k.loads[0] = load(0, &[32]);
    assert!(matches!(
        rejected(&k),
        KernelError::LoadRank { rank: 1, .. }
    ));
}

#[test]
fn accumulators_must_exist_and_come_from_earlier_stages() {
    let mut k = elementwise();
    k.exprs.push(node(Expr::Acc(StageId::new(0)), DType::F32));
    assert!(matches!(rejected(&k), KernelError::BadAcc { .. }));
    let mut k = reduce();
    k.exprs[3].expr = Expr::Acc(StageId::new(2));
    assert!(matches!(rejected(&k), KernelError::BadAcc { .. }));
    // Stage 0 reading its own result.
    let mut k = reduce();
    if let KernelKind::Reduce { stages, .. } = &mut k.kind {
        stages[0].expr = e(2);
    }
    assert!(matches!(
        rejected(&k),
        KernelError::BadAcc {
            why: "read by a stage that is not after it",
            ..
        }
    ));
}

#[test]
fn dtypes_follow_the_ops() {
    let mut k = elementwise();
    k.exprs[3].dtype = DType::I32;
    assert!(matches!(rejected(&k), KernelError::ExprDType { .. }));
    // A predicate gives bool.
    let mut k = elementwise();
    k.exprs[3].expr = Expr::Binary(BinaryOp::Lt, e(1), e(2));
    assert!(matches!(rejected(&k), KernelError::ExprDType { .. }));
    // A load has its input's dtype.
    let mut k = elementwise();
    k.inputs[1] = DType::I32;
    assert!(matches!(rejected(&k), KernelError::ExprDType { .. }));
    // Where takes a bool condition.
    let mut k = elementwise();
    k.exprs[3].expr = Expr::Where(e(0), e(1), e(2));
    assert!(matches!(rejected(&k), KernelError::ExprDType { .. }));
    // Argmax gives i32.
    let mut k = reduce();
    if let KernelKind::Reduce { stages, .. } = &mut k.kind {
        stages[0].op = ReduceOp::ArgMax;
    }
    assert!(matches!(rejected(&k), KernelError::ExprDType { .. }));
    // A matmul's product has the kernel's product dtype.
    let mut k = matmul();
    k.exprs[0].dtype = DType::F16;
    assert!(matches!(rejected(&k), KernelError::ExprDType { .. }));
    // A constant of any dtype is fine.
    for d in crate::ALL_DTYPES {
        let mut k = elementwise();
        k.exprs.push(node(Expr::Const(Scalar::F(1.0)), d));
        assert_eq!(k.verify(), Ok(()), "{d}");
    }
}

#[test]
fn outputs_fit_the_kernel() {
    let mut k = elementwise();
    k.outputs[0].expr = e(4);
    assert!(matches!(rejected(&k), KernelError::ExprOutOfRange { .. }));
    let mut k = elementwise();
    k.outputs[0].dtype = DType::F16;
    assert!(matches!(rejected(&k), KernelError::OutputDType { .. }));
    let mut k = elementwise();
    k.outputs[0].store = Store::Row;
    assert!(matches!(rejected(&k), KernelError::Outputs(_)));
    let mut k = elementwise();
    k.outputs.clear();
    assert!(matches!(rejected(&k), KernelError::Outputs(_)));
}

#[test]
fn shapes_fit_the_kernel_kind() {
    let mut k = reduce();
    if let KernelKind::Reduce { red_rank, .. } = &mut k.kind {
        *red_rank = 3;
    }
    assert!(matches!(rejected(&k), KernelError::Shape(_)));
    let mut k = reduce();
    if let KernelKind::Reduce { stages, .. } = &mut k.kind {
        stages[1].expr = e(8);
    }
    assert!(matches!(rejected(&k), KernelError::ExprOutOfRange { .. }));
    let mut k = matmul();
    k.vector = 4;
    assert_eq!(rejected(&k), KernelError::Vector(4));
    let mut k = elementwise();
    k.vector = 2;
    assert_eq!(rejected(&k), KernelError::Vector(2));
}

#[test]
fn matmul_operands_are_valid() {
    let mut k = matmul();
    if let KernelKind::Matmul { b, .. } = &mut k.kind {
        *b = LoadId::new(0);
    }
    assert!(matches!(rejected(&k), KernelError::Matmul(_)));
    let mut k = matmul();
    if let KernelKind::Matmul { a, .. } = &mut k.kind {
        *a = LoadId::new(5);
    }
    assert!(matches!(rejected(&k), KernelError::LoadOutOfRange { .. }));
    // Inner dimensions that differ.
    let mut k = matmul();
    k.loads[1] = load(1, &[4, 5]);
    assert!(matches!(rejected(&k), KernelError::Matmul(_)));
    // Rounding on load to an integer type.
    let mut k = matmul();
    if let KernelKind::Matmul { a_round, .. } = &mut k.kind {
        *a_round = Some(DType::I32);
    }
    assert!(matches!(rejected(&k), KernelError::Matmul(_)));
}

/// [`matmul`] of one row whose A is `silu(x) * y` computed where it is read: loads 2 and 3
/// of two more buffers, expressions 2-5.
fn matmul_with_prologue() -> Kernel {
    let mut k = matmul();
    k.shape = Shape::new(&[1, 5]);
    k.loads[0] = load(0, &[1, 3]);
    k.inputs.extend([DType::F32, DType::F32]);
    k.loads.extend([load(2, &[1, 3]), load(3, &[1, 3])]);
    k.exprs.extend([
        node(Expr::Load(LoadId::new(2)), DType::F32),
        node(Expr::Unary(UnaryOp::Silu, e(2)), DType::F32),
        node(Expr::Load(LoadId::new(3)), DType::F32),
    ]);
    k.exprs
        .push(node(Expr::Binary(BinaryOp::Mul, e(3), e(4)), DType::F32));
    if let KernelKind::Matmul { a, prologue, .. } = &mut k.kind {
        *a = LoadId::new(2);
        *prologue = Some(Prologue {
            a: e(5),
            stages: vec![],
        });
    }
    k
}

/// [`matmul`] of one row whose A is `x * rsqrt(mean(x * x))` (a norm): stage 0 over A's
/// row, read as `Acc(1)`; expressions 2-6.
fn matmul_with_norm() -> Kernel {
    let mut k = matmul();
    k.shape = Shape::new(&[1, 5]);
    k.loads[0] = load(0, &[1, 3]);
    k.inputs.push(DType::F32);
    k.loads.push(load(2, &[1, 3]));
    k.exprs.extend([
        node(Expr::Load(LoadId::new(2)), DType::F32),
        node(Expr::Binary(BinaryOp::Mul, e(2), e(2)), DType::F32),
        node(Expr::Acc(StageId::new(1)), DType::F32),
        node(Expr::Unary(UnaryOp::Rsqrt, e(4)), DType::F32),
        node(Expr::Binary(BinaryOp::Mul, e(2), e(5)), DType::F32),
    ]);
    if let KernelKind::Matmul { a, prologue, .. } = &mut k.kind {
        *a = LoadId::new(2);
        *prologue = Some(Prologue {
            a: e(6),
            stages: vec![Stage {
                op: ReduceOp::Mean,
                expr: e(3),
            }],
        });
    }
    k
}

#[test]
fn matmul_prologues_are_valid() {
    let set = |k: &mut Kernel, p: usize| {
        if let KernelKind::Matmul {
            prologue: Some(pr), ..
        } = &mut k.kind
        {
            pr.a = e(p);
        }
    };
    matmul_with_prologue().verify().unwrap();
    // The product under the prologue.
    let mut k = matmul_with_prologue();
    set(&mut k, 0);
    assert!(matches!(rejected(&k), KernelError::Matmul(_)));
    // A prologue that does not read `a`.
    let mut k = matmul_with_prologue();
    set(&mut k, 4);
    assert!(matches!(rejected(&k), KernelError::Matmul(_)));
    // A load not over A's shape.
    let mut k = matmul_with_prologue();
    k.loads[3] = load(3, &[1, 4]);
    assert!(matches!(rejected(&k), KernelError::Matmul(_)));
    // A of another dtype than the product's.
    let mut k = matmul_with_prologue();
    k.exprs.push(node(Expr::Cast(e(5)), DType::F16));
    set(&mut k, 6);
    assert!(matches!(rejected(&k), KernelError::Matmul(_)));
    // Several rows of A.
    let mut k = matmul_with_prologue();
    k.shape = Shape::new(&[2, 5]);
    k.loads[0] = load(0, &[2, 3]);
    k.loads[2] = load(2, &[2, 3]);
    k.loads[3] = load(3, &[2, 3]);
    assert!(matches!(rejected(&k), KernelError::Matmul(_)));
    // A rounded on load as well.
    let mut k = matmul_with_prologue();
    if let KernelKind::Matmul { a_round, .. } = &mut k.kind {
        *a_round = Some(DType::F16);
    }
    assert!(matches!(rejected(&k), KernelError::Matmul(_)));
    // An expression out of range.
    let mut k = matmul_with_prologue();
    set(&mut k, 9);
    assert!(matches!(rejected(&k), KernelError::ExprOutOfRange { .. }));
    // Stages: a norm's mean over A's row, read by the prologue as `Acc(1)`.
    matmul_with_norm().verify().unwrap();
    fn stages(k: &mut Kernel) -> Option<&mut Vec<Stage>> {
        match &mut k.kind {
            KernelKind::Matmul {
                prologue: Some(p), ..
            } => Some(&mut p.stages),
            _ => None,
        }
    }
    // A stage reading itself.
    let mut k = matmul_with_norm();
    if let Some(st) = stages(&mut k) {
        st[0].expr = e(5);
    }
    assert!(matches!(rejected(&k), KernelError::BadAcc { .. }));
    // An argmax stage.
    let mut k = matmul_with_norm();
    if let Some(st) = stages(&mut k) {
        st[0].op = ReduceOp::ArgMax;
    }
    assert!(matches!(
        rejected(&k),
        KernelError::Matmul(_) | KernelError::ExprDType { .. }
    ));
    // No such stage.
    let mut k = matmul_with_norm();
    if let Some(st) = stages(&mut k) {
        st.clear();
    }
    assert!(matches!(rejected(&k), KernelError::BadAcc { .. }));
    // An output reading a stage.
    let mut k = matmul_with_norm();
    k.outputs[0].expr = e(5);
    assert!(matches!(rejected(&k), KernelError::BadAcc { .. }));
    // Stages over several rows of A.
    let mut k = matmul_with_norm();
    k.shape = Shape::new(&[2, 5]);
    k.loads[0] = load(0, &[2, 3]);
    k.loads[2] = load(2, &[2, 3]);
    assert!(matches!(rejected(&k), KernelError::Matmul(_)));
}

#[test]
fn in_place_pairs_are_valid() {
    let mut k = elementwise();
    k.inplace = Some((InputId::new(2), OutputId::new(0)));
    assert!(matches!(
        rejected(&k),
        KernelError::InPlace {
            why: "out of range",
            ..
        }
    ));
    k.inplace = Some((InputId::new(0), OutputId::new(1)));
    assert!(matches!(rejected(&k), KernelError::InPlace { .. }));
    // A pair the kernel allows, then the same pair once the input is read at an offset.
    k.inplace = Some((InputId::new(0), OutputId::new(0)));
    assert_eq!(k.verify(), Ok(()));
    k.loads[0].view.offset = 1;
    assert!(matches!(
        rejected(&k),
        KernelError::InPlace {
            why: "the output may not overwrite that input",
            ..
        }
    ));
    // A reduce kernel never runs in place.
    let mut k = reduce();
    k.inplace = Some((InputId::new(0), OutputId::new(0)));
    assert!(matches!(
        rejected(&k),
        KernelError::InPlace {
            why: "the output may not overwrite that input",
            ..
        }
    ));
}

/// An attention kernel takes vector width 4 only where its f32 rows are aligned vectors (and
/// every input is 32-bit), and the verifier holds it to that: f16 operands, a head of 30 and
/// an offset of one element keep width 1; forcing 4 on them is refused.
#[test]
fn attention_vectors_only_on_aligned_rows() {
    use crate::ops::Attention;
    use crate::ops::SliceDim;
    let kernel = |dt: DType, d: usize, offset: usize| {
        let mut g = Graph::new();
        let q = g.input(dt, Shape::new(&[2, 1, d])).unwrap();
        let flat = g.input(dt, Shape::new(&[offset + 2 * 9 * d])).unwrap();
        let whole = SliceDim {
            start: offset,
            end: offset + 2 * 9 * d,
            step: 1,
        };
        let k = g
            .add(Op::View(ViewOp::Slice(smallvec::smallvec![whole])), &[flat])
            .unwrap();
        let k = g
            .add(Op::View(ViewOp::Reshape(Shape::new(&[2, 9, d]))), &[k])
            .unwrap();
        let v = g.input(dt, Shape::new(&[2, 9, d])).unwrap();
        let y = g
            .add(Op::Attention(Attention::new(0.125, false)), &[q, k, v])
            .unwrap();
        g.mark_output(y);
        let prog = lower(&g, &FusionOptions::default()).unwrap();
        prog.calls
            .iter()
            .find(|c| matches!(c.kernel.kind, KernelKind::Attention { .. }))
            .expect("an attention kernel")
            .kernel
            .clone()
    };
    for (dt, d, offset, vector) in [
        (DType::F32, 32, 0, 4),
        (DType::F32, 32, 4, 4),
        (DType::F32, 32, 1, 1),
        (DType::F32, 30, 0, 1),
        (DType::F16, 32, 0, 1),
    ] {
        let mut k = kernel(dt, d, offset);
        assert_eq!(k.vector, vector, "{dt} d {d} offset {offset}");
        assert_eq!(k.verify(), Ok(()));
        k.vector = 4;
        let forced = k.verify();
        assert_eq!(
            forced.is_ok(),
            vector == 4,
            "{dt} d {d} offset {offset}: {forced:?}"
        );
    }
}

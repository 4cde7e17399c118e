//! The verifier's checks of attention's computed q, each shown a kernel broken that way.

use crate::kernel::{Expr, ExprNode, KernelError, KernelKind, LoadId, StageId};
use crate::lower::{lower, FusionOptions};
use crate::ops::{Attention, BinaryOp, Op};
use crate::{DType, Graph, Kernel, Shape};

/// `attention(x * c, k, v)`, its q computed where it is read.
fn computed_q() -> Kernel {
    let mut g = Graph::new();
    let qs = Shape::new(&[2, 3, 8]);
    let x = g.input(DType::F32, qs.clone()).unwrap();
    let c = g.input(DType::F32, qs).unwrap();
    let q = g.add(Op::Binary(BinaryOp::Mul), &[x, c]).unwrap();
    let k = g.input(DType::F32, Shape::new(&[2, 5, 8])).unwrap();
    let v = g.input(DType::F32, Shape::new(&[2, 5, 8])).unwrap();
    let y = g
        .add(Op::Attention(Attention::new(0.125, false)), &[q, k, v])
        .unwrap();
    g.mark_output(y);
    let prog = lower(&g, &FusionOptions::default()).unwrap();
    assert_eq!(prog.calls.len(), 1);
    prog.calls[0].kernel.clone()
}

/// The kernel's computed q and its loads of q, k and v.
fn parts(k: &Kernel) -> (crate::kernel::ExprId, LoadId, LoadId, LoadId) {
    let KernelKind::Attention {
        q_prologue: Some(e),
        q,
        k,
        v,
        ..
    } = k.kind
    else {
        panic!("not attention with a computed q: {:?}", k.kind);
    };
    (e, q, k, v)
}

fn set_q(k: &mut Kernel, expr: Expr, dtype: DType) {
    k.exprs.push(ExprNode { expr, dtype });
    let new = crate::kernel::ExprId::new(k.exprs.len() - 1);
    if let KernelKind::Attention { q_prologue, .. } = &mut k.kind {
        *q_prologue = Some(new);
    }
}

fn refused(k: &Kernel) -> KernelError {
    k.verify().expect_err("a broken computed q is refused")
}

#[test]
fn computed_queries_are_checked() {
    let good = computed_q();
    assert_eq!(good.verify(), Ok(()));
    let (e, q, kl, _) = parts(&good);
    assert!(matches!(good.expr(e).expr, Expr::Binary(BinaryOp::Mul, ..)));

    // Reading k's load.
    let mut k = good.clone();
    set_q(&mut k, Expr::Load(kl), DType::F32);
    assert!(matches!(refused(&k), KernelError::Attention(_)));

    // Reading the kernel's result.
    let mut k = good.clone();
    set_q(&mut k, Expr::Acc(StageId::new(0)), DType::F32);
    assert!(matches!(refused(&k), KernelError::Attention(_)));

    // Reading a stage attention does not fold.
    let mut k = good.clone();
    set_q(&mut k, Expr::Acc(StageId::new(1)), DType::F32);
    assert!(matches!(refused(&k), KernelError::BadAcc { .. }));

    // Not the operands' dtype.
    for d in [DType::I32, DType::F16] {
        let mut k = good.clone();
        set_q(&mut k, Expr::Cast(e), d);
        assert!(matches!(refused(&k), KernelError::Attention(_)), "{d}");
    }

    // Not reading the load that gives q's shape (only the other of its shape, `c`).
    let mut k = good.clone();
    let c = (0..k.loads.len())
        .map(LoadId::new)
        .find(|&l| l != q && k.load(l).view.shape == k.load(q).view.shape)
        .expect("c's load");
    set_q(&mut k, Expr::Load(c), DType::F32);
    assert!(matches!(refused(&k), KernelError::Attention(_)));
}

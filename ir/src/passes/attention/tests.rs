//! Both attention passes alone, on graphs built by hand, checked with the interpreter.

use super::*;
use crate::host::HostTensor;
use crate::interp::evaluate;
use crate::ops::{BinaryOp, ReduceOp, UnaryOp, ViewOp};
use crate::passes::Pass;
use crate::{DType, Graph, NodeId, Op, Shape};

/// `softmax(q @ kt * c + mask) @ v` over inputs `[2, sq, d]`, `[2, d, sk]`, `[2, sk, dv]`
/// and `[2, sq, sk]`.
fn pattern(sq: usize, sk: usize, d: usize, masked: bool) -> (Graph, NodeId) {
    let mut g = Graph::new();
    let f = DType::F32;
    let q = g.input(f, Shape::new(&[2, sq, d])).unwrap();
    let kt = g.input(f, Shape::new(&[2, d, sk])).unwrap();
    let v = g.input(f, Shape::new(&[2, sk, 5])).unwrap();
    let s = g.add(Op::Matmul, &[q, kt]).unwrap();
    let ty = g.node(s).ty.clone();
    let c = crate::passes::const_like(&mut g, &ty, crate::Scalar::F(0.5)).unwrap();
    let mut x = g.add(Op::Binary(BinaryOp::Mul), &[c, s]).unwrap();
    if masked {
        let m = g.input(f, Shape::new(&[2, sq, sk])).unwrap();
        x = g.add(Op::Binary(BinaryOp::Add), &[m, x]).unwrap();
    }
    let red = |g: &mut Graph, op, x| {
        let r = g
            .add(
                Op::Reduce {
                    op,
                    axes: [2].into_iter().collect(),
                    keepdim: true,
                },
                &[x],
            )
            .unwrap();
        g.add(Op::View(ViewOp::Expand(Shape::new(&[2, sq, sk]))), &[r])
            .unwrap()
    };
    let mx = red(&mut g, ReduceOp::Max, x);
    let z = g.add(Op::Binary(BinaryOp::Sub), &[x, mx]).unwrap();
    let e = g.add(Op::Unary(UnaryOp::Exp), &[z]).unwrap();
    let sm = red(&mut g, ReduceOp::Sum, e);
    let p = g.add(Op::Binary(BinaryOp::Div), &[e, sm]).unwrap();
    let y = g.add(Op::Matmul, &[p, v]).unwrap();
    (g, y)
}

fn inputs(g: &Graph) -> Vec<HostTensor> {
    g.inputs()
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let shape = g.node(n).shape().clone();
            let v: Vec<f32> = (0..shape.numel())
                .map(|j| ((j * 7 + i * 13) % 17) as f32 / 8.0 - 1.0)
                .collect();
            HostTensor::from_slice(&v, shape).unwrap()
        })
        .collect()
}

fn close(a: &HostTensor, b: &HostTensor) {
    for (x, y) in a.to_f64().iter().zip(b.to_f64()) {
        assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()), "{x} vs {y}");
    }
}

#[test]
fn pattern_becomes_one_op_with_the_same_values() {
    for masked in [false, true] {
        let (mut g, y) = pattern(3, 7, 4, masked);
        g.mark_output(y);
        let fused = FuseAttention::default().run(&g).unwrap();
        let att = fused
            .topo()
            .into_iter()
            .filter(|&n| matches!(fused.node(n).op, Op::Attention(_)))
            .count();
        assert_eq!(att, 1, "masked {masked}");
        assert!(fused.topo().iter().all(|&n| fused.node(n).op != Op::Matmul));
        let x = inputs(&g);
        close(
            &evaluate(&fused, &x).unwrap()[0],
            &evaluate(&g, &x).unwrap()[0],
        );
        // Split into three runs: the same values again.
        let split = SplitAttention {
            max_trips: None,
            max_head: ATTENTION_MAX_HEAD,
            whole_decode_keys: 0,
        };
        assert!(split.runs(1, 1, 4096, 64, 64) > 1);
        assert_eq!(split.runs(4096, 16, 4096, 64, 64), 1);
        // A decode step's attention the kernel's segments take whole: up to their keys, with
        // heads of the decode form, within the loop budget; one row only.
        let whole = SplitAttention {
            whole_decode_keys: 16 * DECODE_SEGMENT_KEYS,
            ..split
        };
        assert_eq!(whole.runs(32, 1, 512, 128, 128), 1);
        assert!(split.runs(32, 1, 512, 128, 128) > 1);
        assert!(whole.runs(32, 1, 513, 128, 128) > 1);
        assert!(whole.runs(32, 1, 512, DECODE_MAX_HEAD + 16, 64) > 1);
        assert!(whole.runs(32, 2, 512, 64, 64) > 1);
        let budget = SplitAttention {
            max_trips: Some(attention_trips(512, 64, 64) - 1),
            ..whole
        };
        assert!(budget.runs(32, 1, 512, 64, 64) > 1);
        let limited = SplitAttention {
            max_trips: Some(attention_trips(7, 4, 5) - 1),
            max_head: ATTENTION_MAX_HEAD,
            whole_decode_keys: 0,
        };
        let parts = limited.run(&fused).unwrap();
        assert!(parts
            .topo()
            .iter()
            .any(|&n| matches!(parts.node(n).op, Op::Attention(a) if a.splits > 1)));
        close(
            &evaluate(&parts, &x).unwrap()[0],
            &evaluate(&g, &x).unwrap()[0],
        );
    }
}

/// A maximum whose kept axis a reshape moves is broadcast across rows, not back over its
/// own: no softmax, no attention.
#[test]
fn a_transposed_maximum_is_no_softmax() {
    let mut g = Graph::new();
    let f = DType::F32;
    let q = g.input(f, Shape::new(&[2, 5, 4])).unwrap();
    let kt = g.input(f, Shape::new(&[2, 4, 5])).unwrap();
    let v = g.input(f, Shape::new(&[2, 5, 3])).unwrap();
    let x = g.add(Op::Matmul, &[q, kt]).unwrap();
    let m = g
        .add(
            Op::Reduce {
                op: ReduceOp::Max,
                axes: [2].into_iter().collect(),
                keepdim: true,
            },
            &[x],
        )
        .unwrap();
    let m = g
        .add(Op::View(ViewOp::Reshape(Shape::new(&[2, 1, 5]))), &[m])
        .unwrap();
    let m = g
        .add(Op::View(ViewOp::Expand(Shape::new(&[2, 5, 5]))), &[m])
        .unwrap();
    let z = g.add(Op::Binary(BinaryOp::Sub), &[x, m]).unwrap();
    let e = g.add(Op::Unary(UnaryOp::Exp), &[z]).unwrap();
    let sm = g
        .add(
            Op::Reduce {
                op: ReduceOp::Sum,
                axes: [2].into_iter().collect(),
                keepdim: true,
            },
            &[e],
        )
        .unwrap();
    let sm = g
        .add(Op::View(ViewOp::Expand(Shape::new(&[2, 5, 5]))), &[sm])
        .unwrap();
    let p = g.add(Op::Binary(BinaryOp::Div), &[e, sm]).unwrap();
    let y = g.add(Op::Matmul, &[p, v]).unwrap();
    g.mark_output(y);
    let out = FuseAttention::default().run(&g).unwrap();
    assert!(out
        .topo()
        .iter()
        .all(|&n| !matches!(out.node(n).op, Op::Attention(_))));
}

#[test]
fn shared_or_output_intermediates_are_left_alone() {
    let (mut g, y) = pattern(3, 7, 4, true);
    g.mark_output(y);
    // The probabilities are an output too.
    let p = g.srcs(y)[0];
    g.mark_output(p);
    let out = FuseAttention::default().run(&g).unwrap();
    assert!(out
        .topo()
        .iter()
        .all(|&n| !matches!(out.node(n).op, Op::Attention(_))));
}

#[test]
fn patterns_past_max_rows_are_left_as_written() {
    // 3 query rows (per batch of 2) against 7 keys.
    let (mut g, y) = pattern(3, 7, 4, true);
    g.mark_output(y);
    let count = |max_rows| {
        let out = FuseAttention { max_rows }.run(&g).unwrap();
        out.topo()
            .into_iter()
            .filter(|&n| matches!(out.node(n).op, Op::Attention(_)))
            .count()
    };
    assert_eq!(count(None), 1);
    assert_eq!(count(Some(3)), 1);
    assert_eq!(count(Some(2)), 0);
}

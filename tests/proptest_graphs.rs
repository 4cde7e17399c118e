//! Random elementwise expression trees (depth up to 6) over broadcastable shapes, with views
//! of computed subtrees (which the view-pushdown pass moves onto the leaves): the GPU result
//! must match the reference interpreter.

mod common;
use common::*;
use kiln::ir::ops::{BinaryOp, UnaryOp};
use kiln::{DType, Tensor};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Node {
    Leaf(usize),
    Unary(UnaryOp, Box<Node>),
    Binary(BinaryOp, Box<Node>, Box<Node>),
    Where(Box<Node>, Box<Node>, Box<Node>),
    /// A subtree reversed along an axis (`Flip`), or its first slice along an axis broadcast
    /// back over it (`First`).
    Flip(usize, Box<Node>),
    First(usize, Box<Node>),
}

/// Ops that stay finite and well conditioned on bounded inputs (others are covered per op).
const UNARY: [UnaryOp; 12] = [
    UnaryOp::Neg,
    UnaryOp::Abs,
    UnaryOp::Tanh,
    UnaryOp::Sigmoid,
    UnaryOp::Relu,
    UnaryOp::Sin,
    UnaryOp::Silu,
    UnaryOp::Floor,
    UnaryOp::GeluErf,
    UnaryOp::Atan,
    UnaryOp::Asinh,
    UnaryOp::Erf,
];
const BINARY: [BinaryOp; 5] = [
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Mul,
    BinaryOp::Max,
    BinaryOp::Min,
];

fn tree() -> impl Strategy<Value = Node> {
    let leaf = (0usize..4).prop_map(Node::Leaf);
    leaf.prop_recursive(6, 48, 3, |inner| {
        prop_oneof![
            (0..UNARY.len(), inner.clone()).prop_map(|(o, a)| Node::Unary(UNARY[o], Box::new(a))),
            (0..BINARY.len(), inner.clone(), inner.clone()).prop_map(|(o, a, b)| Node::Binary(
                BINARY[o],
                Box::new(a),
                Box::new(b)
            )),
            (inner.clone(), inner.clone(), inner.clone()).prop_map(|(c, a, b)| Node::Where(
                Box::new(c),
                Box::new(a),
                Box::new(b)
            )),
            (0usize..3, inner.clone()).prop_map(|(ax, a)| Node::Flip(ax, Box::new(a))),
            (0usize..3, inner).prop_map(|(ax, a)| Node::First(ax, Box::new(a))),
        ]
    })
}

fn build(n: &Node, leaves: &[Tensor]) -> Tensor {
    match n {
        Node::Leaf(i) => leaves[*i].clone(),
        // Bounded so that deep trees stay in a range where f32 tolerances are meaningful.
        Node::Unary(op, a) => build(a, leaves).unary(*op).unwrap().tanh().unwrap(),
        Node::Binary(op, a, b) => build(a, leaves).binary(*op, &build(b, leaves)).unwrap(),
        Node::Where(c, a, b) => {
            let cond = build(c, leaves)
                .gt(&leaves[0].scalar_like(0.0).unwrap())
                .unwrap();
            Tensor::where_(&cond, &build(a, leaves), &build(b, leaves)).unwrap()
        }
        Node::Flip(ax, a) => {
            let t = build(a, leaves);
            let ax = (*ax).min(t.dims().len() - 1) as isize;
            t.flip(&[ax]).unwrap()
        }
        Node::First(ax, a) => {
            let t = build(a, leaves);
            let ax = (*ax).min(t.dims().len() - 1);
            let dims = t.dims().to_vec();
            t.narrow(ax as isize, 0, 1).unwrap().expand(&dims).unwrap()
        }
    }
}

/// Four leaf shapes that broadcast to `[d0, d1, d2]`.
fn shapes() -> impl Strategy<Value = Vec<Vec<usize>>> {
    (
        prop::sample::select(vec![1usize, 3, 7]),
        prop::sample::select(vec![1usize, 2, 5]),
        prop::sample::select(vec![1usize, 31, 33]),
    )
        .prop_flat_map(|(a, b, c)| {
            let full = [a, b, c];
            prop::collection::vec(prop::collection::vec(any::<bool>(), 3), 4).prop_map(
                move |masks| {
                    masks
                        .into_iter()
                        .map(|m| {
                            full.iter()
                                .zip(m)
                                .map(|(&d, keep)| if keep { d } else { 1 })
                                .collect()
                        })
                        .collect()
                },
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn elementwise_trees_match_reference(t in tree(), shapes in shapes(), seed in 0u64..1000) {
        let dev = device();
        let leaves: Vec<Tensor> = shapes
            .iter()
            .enumerate()
            .map(|(i, s)| random(&dev, DType::F32, s, -2.0, 2.0, seed * 7 + i as u64))
            .collect();
        let y = build(&t, &leaves);
        check(&y, 2e-5, 2e-5, &format!("{t:?}"));
    }
}

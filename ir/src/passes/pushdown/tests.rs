use super::*;
use crate::ops::{BinaryOp, ReduceOp, UnaryOp};
use crate::{DType, HostTensor, Scalar};
use smallvec::smallvec;

fn input(g: &mut Graph, dims: &[usize]) -> NodeId {
    g.input(DType::F32, Shape::new(dims)).unwrap()
}

fn bin(g: &mut Graph, op: BinaryOp, a: NodeId, b: NodeId) -> NodeId {
    g.add(Op::Binary(op), &[a, b]).unwrap()
}

fn view(g: &mut Graph, v: ViewOp, x: NodeId) -> NodeId {
    g.add(Op::View(v), &[x]).unwrap()
}

fn slice(dims: &[usize], axis: usize, start: usize, end: usize) -> ViewOp {
    ViewOp::Slice(
        dims.iter()
            .enumerate()
            .map(|(d, &n)| {
                let (start, end) = if d == axis { (start, end) } else { (0, n) };
                SliceDim {
                    start,
                    end,
                    step: 1,
                }
            })
            .collect(),
    )
}

/// Random, nonzero inputs for `g`'s input slots (i32 ones within `-bound..bound`).
fn inputs(g: &Graph, bound: i32) -> Vec<HostTensor> {
    let mut seed = 0x2545_f491_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    g.inputs()
        .iter()
        .map(|&i| {
            let n = g.node(i);
            let numel = n.shape().numel();
            match n.dtype() {
                DType::I32 => {
                    // Negative indices count from the end.
                    let span = 2 * bound as u64;
                    let v: Vec<i32> = (0..numel).map(|_| (next() % span) as i32 - bound).collect();
                    HostTensor::from_slice(&v, n.shape().clone()).unwrap()
                }
                _ => {
                    let v: Vec<f32> = (0..numel)
                        .map(|_| 0.25 + (next() % 1000) as f32 / 500.0)
                        .collect();
                    HostTensor::from_slice(&v, n.shape().clone()).unwrap()
                }
            }
        })
        .collect()
}

/// Runs the pass, checks that the interpreter gives the same outputs before and after, and
/// returns the rewritten graph.
fn pushed(g: &Graph, bound: i32) -> Graph {
    let out = ViewPushdown.run(g).unwrap();
    out.verify().unwrap();
    let xs = inputs(g, bound);
    let want = crate::interp::evaluate(g, &xs).unwrap();
    let got = crate::interp::evaluate(&out, &xs).unwrap();
    for (w, o) in want.iter().zip(&got) {
        assert_eq!(w.shape, o.shape);
        assert_eq!(w.to_f64(), o.to_f64());
    }
    out
}

fn is_view(g: &Graph, n: NodeId) -> bool {
    matches!(g.node(n).op, Op::View(_))
}

/// Marks `t + y` (`y` a new input) as an output: a reader that computes `t` where it reads
/// it.
fn read_by_add(g: &mut Graph, t: NodeId) {
    let dims = g.node(t).shape().dims().to_vec();
    let y = input(g, &dims);
    let o = bin(g, BinaryOp::Add, t, y);
    g.mark_output(o);
}

/// What the first output (`t + y`, [`read_by_add`]) reads as `t` after the pass.
fn read(out: &Graph) -> NodeId {
    out.srcs(out.outputs()[0])[0]
}

/// RoPE's shape: `x * c + gather(x, partner) * s` over `[t, heads, d]`, its heads narrowed,
/// permuted and reshaped into attention's queries (as a decoder's are), its other heads
/// placed over a broadcast (as keys are in a cache).
#[test]
fn views_of_rotated_heads_move_onto_the_inputs() {
    let mut g = Graph::new();
    let x = input(&mut g, &[3, 6, 4]);
    let c = input(&mut g, &[3, 6, 4]);
    let s = input(&mut g, &[3, 6, 4]);
    let idx = g.input(DType::I32, Shape::new(&[3, 6, 4])).unwrap();
    let xc = bin(&mut g, BinaryOp::Mul, x, c);
    let rot = g.add(Op::Gather { axis: 2 }, &[x, idx]).unwrap();
    let rs = bin(&mut g, BinaryOp::Mul, rot, s);
    let r = bin(&mut g, BinaryOp::Add, xc, rs);
    let q = view(&mut g, slice(&[3, 6, 4], 1, 0, 4), r);
    let q = view(&mut g, ViewOp::Permute(smallvec![1, 0, 2]), q);
    let q = view(&mut g, ViewOp::Reshape(Shape::new(&[2, 2, 3, 4])), q);
    let k = view(&mut g, slice(&[3, 6, 4], 1, 4, 6), r);
    let k = view(&mut g, ViewOp::Permute(smallvec![1, 0, 2]), k);
    let k = view(&mut g, ViewOp::Reshape(Shape::new(&[2, 1, 3, 4])), k);
    let k = view(&mut g, ViewOp::Expand(Shape::new(&[2, 5, 3, 4])), k);
    let old = input(&mut g, &[2, 5, 3, 4]);
    let placed = bin(&mut g, BinaryOp::Add, k, old);
    let kk = input(&mut g, &[2, 2, 7, 4]);
    let vv = input(&mut g, &[2, 2, 7, 4]);
    let att = g
        .add(
            Op::Attention(crate::ops::Attention::new(0.5, false)),
            &[q, kk, vv],
        )
        .unwrap();
    g.mark_output(att);
    g.mark_output(placed);
    let out = pushed(&g, 4);
    let q = out.srcs(out.outputs()[0])[0];
    assert!(
        matches!(out.node(q).op, Op::Binary(BinaryOp::Add)),
        "attention's q: {:?}",
        out.node(q).op
    );
    let k = out.srcs(out.outputs()[1])[0];
    assert!(!is_view(&out, k), "the broadcast moved too");
    // Every view now sits on an input.
    for n in out.topo() {
        if is_view(&out, n) {
            let mut b = n;
            while is_view(&out, b) {
                b = out.srcs(b)[0];
            }
            assert!(matches!(out.node(b).op, Op::Input { .. }));
        }
    }
}

#[test]
fn pads_and_graph_outputs_keep_their_views() {
    let mut g = Graph::new();
    let x = input(&mut g, &[4]);
    let e = g.add(Op::Unary(UnaryOp::Exp), &[x]).unwrap();
    let p = view(
        &mut g,
        ViewOp::Pad {
            before: smallvec![1],
            after: smallvec![1],
            value: Scalar::F(0.0),
        },
        e,
    );
    g.mark_output(p);
    let out = pushed(&g, 1);
    assert!(is_view(&out, out.outputs()[0]), "a pad stays");

    let mut g = Graph::new();
    let x = input(&mut g, &[2, 3]);
    let e = g.add(Op::Unary(UnaryOp::Exp), &[x]).unwrap();
    let t = view(&mut g, ViewOp::Permute(smallvec![1, 0]), e);
    g.mark_output(e);
    g.mark_output(t);
    let out = pushed(&g, 1);
    assert!(
        is_view(&out, out.outputs()[1]),
        "an output is stored: read it"
    );
}

/// A product's result read directly is its epilogue's operand; read through a view, it is
/// stored whatever reads it.
#[test]
fn epilogues_stay_and_viewed_products_are_leaves() {
    let mut g = Graph::new();
    let a = input(&mut g, &[3, 4]);
    let b = input(&mut g, &[4, 6]);
    let m = g.add(Op::Matmul, &[a, b]).unwrap();
    let bias = input(&mut g, &[3, 6]);
    let z = bin(&mut g, BinaryOp::Add, m, bias);
    let t = view(&mut g, ViewOp::Reshape(Shape::new(&[3, 2, 3])), z);
    read_by_add(&mut g, t);
    let out = pushed(&g, 1);
    assert!(is_view(&out, read(&out)), "the epilogue stays whole");

    let mut g = Graph::new();
    let a = input(&mut g, &[3, 4]);
    let b = input(&mut g, &[4, 6]);
    let m = g.add(Op::Matmul, &[a, b]).unwrap();
    let m3 = view(&mut g, ViewOp::Reshape(Shape::new(&[3, 2, 3])), m);
    let c = input(&mut g, &[3, 2, 3]);
    let z = bin(&mut g, BinaryOp::Mul, m3, c);
    let t = view(&mut g, ViewOp::Permute(smallvec![2, 1, 0]), z);
    read_by_add(&mut g, t);
    let out = pushed(&g, 1);
    assert!(!is_view(&out, read(&out)));
}

/// A broadcast moves only where its readers compute per element.
#[test]
fn broadcasts_move_only_toward_elementwise_readers() {
    let build = |into_matmul: bool| {
        let mut g = Graph::new();
        let x = input(&mut g, &[1, 4]);
        let e = g.add(Op::Unary(UnaryOp::Exp), &[x]).unwrap();
        let b = view(&mut g, ViewOp::Expand(Shape::new(&[3, 4])), e);
        let out = if into_matmul {
            let w = input(&mut g, &[4, 2]);
            g.add(Op::Matmul, &[b, w]).unwrap()
        } else {
            let y = input(&mut g, &[3, 4]);
            bin(&mut g, BinaryOp::Add, b, y)
        };
        g.mark_output(out);
        g
    };
    let out = pushed(&build(false), 1);
    let add = out.outputs()[0];
    assert!(!is_view(&out, out.srcs(add)[0]));
    let out = pushed(&build(true), 1);
    let mm = out.outputs()[0];
    assert!(
        is_view(&out, out.srcs(mm)[0]),
        "a product's operand is stored: not broadcast"
    );
}

#[test]
fn reductions_cut_gathered_axes_and_long_chains_stop_it() {
    // A reduction under the ops.
    let mut g = Graph::new();
    let x = input(&mut g, &[2, 3]);
    let s = g
        .add(
            Op::Reduce {
                op: ReduceOp::Sum,
                axes: smallvec![1],
                keepdim: true,
            },
            &[x],
        )
        .unwrap();
    let e = g.add(Op::Unary(UnaryOp::Exp), &[s]).unwrap();
    let t = view(&mut g, ViewOp::Permute(smallvec![1, 0]), e);
    read_by_add(&mut g, t);
    let out = pushed(&g, 1);
    assert!(is_view(&out, read(&out)));

    // A slice of the gathered axis.
    let mut g = Graph::new();
    let x = input(&mut g, &[2, 5]);
    let idx = g.input(DType::I32, Shape::new(&[2, 4])).unwrap();
    let ga = g.add(Op::Gather { axis: 1 }, &[x, idx]).unwrap();
    let t = view(&mut g, slice(&[2, 4], 1, 1, 3), ga);
    read_by_add(&mut g, t);
    let out = pushed(&g, 5);
    assert!(is_view(&out, read(&out)));

    // More ops than the limit; as many as it moves.
    for (ops, moved) in [(MAX_OPS + 1, false), (MAX_OPS, true)] {
        let mut g = Graph::new();
        let mut e = input(&mut g, &[2, 3]);
        for _ in 0..ops {
            e = g.add(Op::Unary(UnaryOp::Neg), &[e]).unwrap();
        }
        let t = view(&mut g, ViewOp::Permute(smallvec![1, 0]), e);
        read_by_add(&mut g, t);
        let out = pushed(&g, 1);
        assert_eq!(!is_view(&out, read(&out)), moved, "{ops} ops");
    }
}

/// Each view a gather's result takes, where it keeps the gathered axis whole, moves onto
/// the gather's source and index, with the axis renumbered.
#[test]
fn views_move_through_gathers_on_other_axes() {
    let views = [
        ViewOp::Permute(smallvec![2, 0, 1]),
        slice(&[2, 3, 4], 1, 1, 3),
        ViewOp::Expand(Shape::new(&[5, 2, 3, 4])),
        ViewOp::Reshape(Shape::new(&[6, 4])),
        ViewOp::Flip(smallvec![0]),
    ];
    for v in views {
        let mut g = Graph::new();
        let x = input(&mut g, &[2, 3, 7]);
        let idx = g.input(DType::I32, Shape::new(&[2, 3, 4])).unwrap();
        let ga = g.add(Op::Gather { axis: 2 }, &[x, idx]).unwrap();
        let t = view(&mut g, v.clone(), ga);
        let dims = g.node(t).shape().dims().to_vec();
        let y = input(&mut g, &dims);
        let o = bin(&mut g, BinaryOp::Add, t, y);
        g.mark_output(o);
        let out = pushed(&g, 7);
        let moved = out.srcs(out.outputs()[0])[0];
        assert!(
            matches!(out.node(moved).op, Op::Gather { .. }),
            "{v:?}: {:?}",
            out.node(moved).op
        );
    }
}

/// Readers that would store the moved value keep the view above it (the value is stored
/// once for all its views): a matrix product's operand, a gather's source. A vector
/// product's A moves (the product computes it where it reads it).
#[test]
fn views_toward_stored_operands_stay() {
    let build = |rows: usize, gather: bool| {
        let mut g = Graph::new();
        let x = input(&mut g, &[4, rows]);
        let e = g.add(Op::Unary(UnaryOp::Exp), &[x]).unwrap();
        let t = view(&mut g, ViewOp::Permute(smallvec![1, 0]), e);
        let o = if gather {
            let idx = g.input(DType::I32, Shape::new(&[rows, 4])).unwrap();
            g.add(Op::Gather { axis: 0 }, &[t, idx]).unwrap()
        } else {
            let w = input(&mut g, &[4, 5]);
            g.add(Op::Matmul, &[t, w]).unwrap()
        };
        g.mark_output(o);
        g
    };
    for (rows, gather, moves) in [(3, false, false), (3, true, false), (1, false, true)] {
        let out = pushed(&build(rows, gather), 1);
        let a = out.srcs(out.outputs()[0])[0];
        assert_eq!(!is_view(&out, a), moves, "rows {rows} gather {gather}");
    }
}

/// Views of a gather that cut, merge, reverse or broadcast its axis, or whose index is
/// smaller than the source off the axis, stay above it; a gather's computed source takes no
/// view (it is stored).
#[test]
fn gathers_refuse_views_of_their_axis() {
    let cases: [(&[usize], &[usize], ViewOp); 5] = [
        (
            &[2, 3, 7],
            &[2, 3, 4],
            ViewOp::Reshape(Shape::new(&[2, 12])),
        ),
        (&[2, 3, 7], &[2, 3, 4], ViewOp::Flip(smallvec![2])),
        (
            &[2, 3, 7],
            &[2, 3, 1],
            ViewOp::Expand(Shape::new(&[2, 3, 5])),
        ),
        (&[2, 5, 7], &[2, 3, 4], ViewOp::Permute(smallvec![1, 0, 2])),
        (&[2, 3, 7], &[2, 3, 4], slice(&[2, 3, 4], 2, 0, 2)),
    ];
    for (xs, is, v) in cases {
        let mut g = Graph::new();
        let x = input(&mut g, xs);
        let idx = g.input(DType::I32, Shape::new(is)).unwrap();
        let ga = g.add(Op::Gather { axis: 2 }, &[x, idx]).unwrap();
        let t = view(&mut g, v.clone(), ga);
        read_by_add(&mut g, t);
        let out = pushed(&g, 7);
        assert!(is_view(&out, read(&out)), "{v:?} stays");
    }
    let mut g = Graph::new();
    let x = input(&mut g, &[2, 3, 7]);
    let e = g.add(Op::Unary(UnaryOp::Exp), &[x]).unwrap();
    let idx = g.input(DType::I32, Shape::new(&[2, 3, 4])).unwrap();
    let ga = g.add(Op::Gather { axis: 2 }, &[e, idx]).unwrap();
    let t = view(&mut g, ViewOp::Permute(smallvec![1, 0, 2]), ga);
    read_by_add(&mut g, t);
    let out = pushed(&g, 7);
    assert!(
        is_view(&out, read(&out)),
        "a computed source stays stored once"
    );
}

/// A broadcast read twice, or under a pad, would be stored broadcast: it stays.
#[test]
fn shared_or_padded_broadcasts_stay() {
    let mut g = Graph::new();
    let x = input(&mut g, &[1, 4]);
    let e = g.add(Op::Unary(UnaryOp::Exp), &[x]).unwrap();
    let b = view(&mut g, ViewOp::Expand(Shape::new(&[3, 4])), e);
    read_by_add(&mut g, b);
    read_by_add(&mut g, b);
    let out = pushed(&g, 1);
    assert!(is_view(&out, read(&out)), "read twice");

    let mut g = Graph::new();
    let x = input(&mut g, &[1, 4]);
    let e = g.add(Op::Unary(UnaryOp::Exp), &[x]).unwrap();
    let b = view(&mut g, ViewOp::Expand(Shape::new(&[3, 4])), e);
    let p = view(
        &mut g,
        ViewOp::Pad {
            before: smallvec![0, 1],
            after: smallvec![0, 0],
            value: Scalar::F(0.0),
        },
        b,
    );
    read_by_add(&mut g, p);
    let out = pushed(&g, 1);
    let padded = read(&out);
    assert!(is_view(&out, out.srcs(padded)[0]), "under a pad");
}

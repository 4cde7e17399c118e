//! Plans generic over float constants. A training step's optimizer scalars (a learning rate
//! with its bias correction) change every step; kernels take constants from their uniform, so
//! the step's kernels are the same, but the passes may read constant values (folding,
//! identities, the attention scale), so a plan lowered for one set of values is not in general
//! the plan of another.
//!
//! Three rules keep a plan that serves other values exact:
//! - the values the passes test for stay in the key ([`float_const`]: 0, -0, 1, -1 and the
//!   non-finite, after rounding to the constant's dtype);
//! - a graph where a slot meets an op whose operands are all constants (which constant
//!   folding would compute on the host: `max(a, b)`, `c < 3.0`, a cast) is never generic
//!   ([`folds_a_slot`]);
//! - [`ConstMap::probe`] compares the program lowered from the graph's own constants with two
//!   lowered from probe values (the second the negation of the first, so order and sign
//!   flip between them). Where the three are the same kernels, buffers and wiring, and every
//!   kernel constant is either the same in all three or, in all three, the value of one graph
//!   constant (its slot), the plan serves any values: the runtime substitutes them into the
//!   kernels' uniforms ([`ConstMap::kernel`]).
//!
//! Otherwise the graph keeps a plan per set of values.

use crate::kernel::{Expr, ExprId, Kernel};
use crate::lower::Program;
use crate::passes::{broadcast_const, const_node, identity_operand, Operand};
use crate::{Graph, IrError, Node, NodeId, Op, Result, Scalar};

/// Finite values the passes test constants for (the algebraic identities' 0, -0 and 1, the
/// attention scale's 1, and -1): a constant holding one stays in the structure, so that
/// a graph with `x * 1` and one with `x * 0.5` do not share a plan and the identity still
/// applies. Non-finite values stay in it too (the attention pass fuses finite scales only).
pub const KEPT: [f64; 4] = [0.0, -0.0, 1.0, -1.0];

/// The value of a float constant node that is a slot, or `None`: not a float constant, or
/// holding (once rounded to its dtype) one of [`KEPT`] or a non-finite value.
pub fn float_const(node: &Node) -> Option<f64> {
    let Op::Const(Scalar::F(v)) = node.op else {
        return None;
    };
    let r = Scalar::F(v).to_dtype(node.dtype()).as_f64();
    let kept = !r.is_finite() || KEPT.iter().any(|k| k.to_bits() == r.to_bits());
    (node.dtype().is_float() && !kept).then_some(v)
}

/// An op of constants only that a slot meets, which constant folding computes on the host
/// from the values (`crate::passes::ConstantFolding` folds the elementwise ops), if any. An
/// identity on the slot (the algebraic pass's: `c * 1`, `c / 1`, `c + -0`, `c - 0`, the other
/// operand kept in the key) folds to the slot's own value, whatever it is: not counted.
pub fn folds_a_slot(g: &Graph) -> Option<NodeId> {
    let slot = |c: NodeId| float_const(g.node(c)).is_some();
    g.topo().into_iter().find(|&n| {
        let srcs = g.srcs(n);
        let folded = g.node(n).op.is_elementwise() && !srcs.is_empty();
        let Some(roots) = srcs
            .iter()
            .map(|&s| const_node(g, s))
            .collect::<Option<Vec<NodeId>>>()
        else {
            return false;
        };
        let identity = match (&g.node(n).op, roots.as_slice()) {
            (Op::Binary(op), &[a, b]) => {
                let (ca, cb) = (broadcast_const(g, a), broadcast_const(g, b));
                match identity_operand(*op, ca, cb, g.node(n).dtype().is_float()) {
                    Some(Operand::First) => slot(a),
                    Some(Operand::Second) => slot(b),
                    None => false,
                }
            }
            // Any other op (a new one too) counts as a fold: the safe side.
            _ => false,
        };
        folded && !identity && roots.iter().any(|&c| slot(c))
    })
}

/// `g` with its float constants (in the order of [`Graph::generic_structure`]) set to
/// `values`: the same structure where the values are distinct slots.
pub fn with_float_consts(g: &Graph, values: &[f64]) -> Result<Graph> {
    let mut slot = 0;
    let out = crate::passes::rewrite(g, |ng, node, _| {
        if float_const(node).is_none() {
            return Ok(None);
        }
        let v = values.get(slot).copied().ok_or_else(|| {
            IrError::Verify(format!(
                "{} constant values for more float constants",
                values.len()
            ))
        })?;
        slot += 1;
        ng.add_leaf(Op::Const(Scalar::F(v)), node.ty.clone())
            .map(Some)
    })?;
    match slot == values.len() {
        true => Ok(out),
        false => Err(IrError::Verify(format!(
            "{} constant values for {slot} float constants",
            values.len()
        ))),
    }
}

/// Mantissas per binade of the probe values: `(1 + m / 64) 2^e` for `m` in `1..=63` is exact in
/// bf16 (8 significant bits), f16 and f32, and never 1.
const MANTISSAS: usize = 63;
/// Binades per probe set: within f16's range.
const BINADES: usize = 14;

/// Probe values for `n` slots: the first set positive and growing from 1.016, the second its
/// negation (so any order or sign between constants flips from one set to the other). `None`
/// past [`MAX_SLOTS`] slots.
pub fn probes(n: usize, second: bool) -> Option<Vec<f64>> {
    let sign = if second { -1.0 } else { 1.0 };
    (n <= MAX_SLOTS).then(|| {
        (0..n)
            .map(|i| {
                let (e, m) = ((i / MANTISSAS) as i32, (i % MANTISSAS) as f64);
                sign * (1.0 + (m + 1.0) / 64.0) * 2f64.powi(e)
            })
            .collect()
    })
}

/// The most float constants a graph may have for its plan to be made generic.
pub const MAX_SLOTS: usize = MANTISSAS * BINADES;

/// Why a plan is not generic: what the probes showed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotGeneric {
    /// The probe values lowered to other kernels, buffers or wiring (a pass read a value).
    Programs,
    /// A constant of a kernel changed with the graph's constants but holds none of them (a
    /// fold of several, or of one through another op).
    Derived {
        /// The program call.
        call: usize,
        /// The constant expression of its kernel.
        expr: ExprId,
    },
}

/// Where each kernel constant of a generic plan comes from: `(call, expression, slot)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConstMap {
    entries: Vec<(usize, ExprId, usize)>,
    /// The graph's slots.
    slots: usize,
}

/// A constant of a kernel as stored in its uniform (`None` for other expressions).
fn const_bits(k: &Kernel, e: usize) -> Option<(u32, bool)> {
    let n = &k.exprs[e];
    let Expr::Const(s) = n.expr else {
        return None;
    };
    Some((s.storage_bits(n.dtype), n.dtype.is_float()))
}

impl ConstMap {
    /// The map of `real`, lowered from a graph whose float constants are `values`, given the
    /// programs `a` and `b` lowered from the same graph with [`probes`]`(n, false)` and
    /// `(n, true)`, or why the programs show that a pass read a value.
    pub fn probe(
        real: (&Program, &[f64]),
        a: (&Program, &[f64]),
        b: (&Program, &[f64]),
    ) -> std::result::Result<ConstMap, NotGeneric> {
        let same = |p: &Program, q: &Program| {
            p.temps == q.temps
                && p.outputs == q.outputs
                && p.calls.len() == q.calls.len()
                && p.calls.iter().zip(&q.calls).all(|(c, d)| {
                    c.inputs == d.inputs
                        && c.outputs == d.outputs
                        && c.kernel.exprs.len() == d.kernel.exprs.len()
                        && c.kernel.key() == d.kernel.key()
                })
        };
        if !same(real.0, a.0) || !same(real.0, b.0) {
            return Err(NotGeneric::Programs);
        }
        let mut entries = Vec::new();
        for (ci, call) in real.0.calls.iter().enumerate() {
            let k = &call.kernel;
            for e in 0..k.exprs.len() {
                let Some((r, float)) = const_bits(k, e) else {
                    continue;
                };
                let derived = NotGeneric::Derived {
                    call: ci,
                    expr: ExprId::new(e),
                };
                let (Some((x, _)), Some((y, _))) = (
                    const_bits(&a.0.calls[ci].kernel, e),
                    const_bits(&b.0.calls[ci].kernel, e),
                ) else {
                    return Err(derived);
                };
                if r == x && x == y {
                    // Not from a graph constant (or from one the probes left alone).
                    continue;
                }
                let dt = k.exprs[e].dtype;
                let bits = |v: f64| Scalar::F(v).storage_bits(dt);
                let slot = float
                    .then(|| a.1.iter().position(|&p| bits(p) == x))
                    .flatten()
                    .filter(|&s| bits(b.1[s]) == y && bits(real.1[s]) == r)
                    .ok_or(derived)?;
                entries.push((ci, ExprId::new(e), slot));
            }
        }
        Ok(ConstMap {
            entries,
            slots: real.1.len(),
        })
    }

    /// The graph's float constants (slots) the map was made for.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Call `call`'s kernel with the constants `values` (one per slot) substituted, or `None`
    /// where none of its constants comes from a slot. Values for another number of slots are
    /// an error.
    pub fn kernel(&self, prog: &Program, call: usize, values: &[f64]) -> Result<Option<Kernel>> {
        if values.len() != self.slots {
            return Err(IrError::Verify(format!(
                "{} constant values for a plan of {} float constants",
                values.len(),
                self.slots
            )));
        }
        let mut mine = self
            .entries
            .iter()
            .filter(|(c, _, _)| *c == call)
            .peekable();
        if mine.peek().is_none() {
            return Ok(None);
        }
        let mut k = prog.calls[call].kernel.clone();
        for &(_, e, slot) in mine {
            k.exprs[e.index()].expr = Expr::Const(Scalar::F(values[slot]));
        }
        Ok(Some(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::{lower, FusionOptions};
    use crate::ops::BinaryOp;
    use crate::passes::{pipeline, run_pipeline, LoopLimits};
    use crate::{DType, Shape, TensorType};

    /// `x * c0 + c1 * c2` over a vector `x`, the constants broadcast.
    fn graph(c: [f64; 3]) -> Graph {
        let mut g = Graph::new();
        let x = g.input(DType::F32, Shape::new(&[7])).unwrap();
        let k: Vec<NodeId> = c
            .iter()
            .map(|&v| {
                g.add_leaf(
                    Op::Const(Scalar::F(v)),
                    TensorType::new(DType::F32, Shape::new(&[7])),
                )
                .unwrap()
            })
            .collect();
        let a = g.add(Op::Binary(BinaryOp::Mul), &[x, k[0]]).unwrap();
        let b = g.add(Op::Binary(BinaryOp::Mul), &[k[1], k[2]]).unwrap();
        let y = g.add(Op::Binary(BinaryOp::Add), &[a, b]).unwrap();
        g.mark_output(y);
        g
    }

    fn lowered(g: &Graph) -> Program {
        let opt = run_pipeline(g, &pipeline(LoopLimits::default(), None), true).unwrap();
        lower(&opt, &FusionOptions::default()).unwrap()
    }

    use crate::NodeId;

    #[test]
    fn probes_are_distinct_exact_and_never_zero_or_one() {
        for second in [false, true] {
            let p = probes(MAX_SLOTS, second).unwrap();
            for (i, &v) in p.iter().enumerate() {
                assert!(v != 0.0 && v.abs() != 1.0, "{v}");
                assert_eq!(v > 0.0, !second);
                for dt in [DType::F16, DType::BF16, DType::F32] {
                    assert_eq!(Scalar::F(v).to_dtype(dt).as_f64(), v, "{v} in {dt}");
                }
                assert!(p[..i].iter().all(|&w| w != v));
            }
        }
        assert!(probes(MAX_SLOTS + 1, false).is_none());
    }

    /// Constants folded together (`c1 * c2` here), or kept values, are not slots' business:
    /// a fold of a slot makes the graph per-values; 1 in f16 (1.0001 rounded) and infinities
    /// are kept.
    #[test]
    fn folds_and_kept_values() {
        assert!(folds_a_slot(&graph([0.5, 2.0, 3.0])).is_some());
        let mut g = Graph::new();
        let x = g.input(DType::F32, Shape::new(&[7])).unwrap();
        let ty = |d| TensorType::new(d, Shape::new(&[7]));
        let c = g
            .add_leaf(Op::Const(Scalar::F(0.5)), ty(DType::F32))
            .unwrap();
        let y = g.add(Op::Binary(BinaryOp::Mul), &[x, c]).unwrap();
        g.mark_output(y);
        assert_eq!(folds_a_slot(&g), None);
        // `c * 1` folds to `c` whatever `c` is; `c * 2` does not.
        for (k, folds) in [(1.0, false), (2.0, true)] {
            let mut h = Graph::new();
            let x = h.input(DType::F32, Shape::new(&[7])).unwrap();
            let c = h
                .add_leaf(Op::Const(Scalar::F(0.5)), ty(DType::F32))
                .unwrap();
            let k = h.add_leaf(Op::Const(Scalar::F(k)), ty(DType::F32)).unwrap();
            let ck = h.add(Op::Binary(BinaryOp::Mul), &[c, k]).unwrap();
            let y = h.add(Op::Binary(BinaryOp::Mul), &[x, ck]).unwrap();
            h.mark_output(y);
            assert_eq!(folds_a_slot(&h).is_some(), folds);
        }
        let node = |v: f64, d| Node {
            op: Op::Const(Scalar::F(v)),
            ty: ty(d),
        };
        assert_eq!(float_const(&node(0.5, DType::F16)), Some(0.5));
        assert_eq!(float_const(&node(1.0001, DType::F16)), None);
        assert_eq!(float_const(&node(1.0001, DType::F32)), Some(1.0001));
        assert_eq!(float_const(&node(f64::INFINITY, DType::F32)), None);
        assert_eq!(float_const(&node(-0.0, DType::F32)), None);
    }

    #[test]
    fn constants_are_slots_in_topological_order() {
        let g = graph([0.5, 2.0, 3.0]);
        let (s, values) = g.generic_structure();
        let h = with_float_consts(&g, &[0.25, 4.0, 6.0]).unwrap();
        let (t, w) = h.generic_structure();
        assert_eq!(s, t);
        assert_eq!(values.len(), 3);
        assert_eq!(w.len(), 3);
        assert_ne!(g.structure(), h.structure());
        assert!(with_float_consts(&g, &[1.0]).is_err());
    }

    /// `c1 * c2` folds into one constant, which no slot holds in all three programs: no map.
    /// Without the fold (the product of an input), the plan serves any values.
    #[test]
    fn a_folded_constant_has_no_slot() {
        let values = [0.5, 2.0, 3.0];
        let g = graph(values);
        let probe = |g: &Graph, v: &[f64]| {
            let (pa, pb) = (
                probes(v.len(), false).unwrap(),
                probes(v.len(), true).unwrap(),
            );
            let a = lowered(&with_float_consts(g, &pa).unwrap());
            let b = lowered(&with_float_consts(g, &pb).unwrap());
            ConstMap::probe((&lowered(g), v), (&a, &pa), (&b, &pb))
        };
        assert!(matches!(
            probe(&g, &values),
            Err(NotGeneric::Derived { .. })
        ));
        let mut h = Graph::new();
        let x = h.input(DType::F32, Shape::new(&[7])).unwrap();
        let one = TensorType::new(DType::F32, Shape::new(&[7]));
        let c0 = h.add_leaf(Op::Const(Scalar::F(0.5)), one.clone()).unwrap();
        let c1 = h.add_leaf(Op::Const(Scalar::F(2.0)), one).unwrap();
        let a = h.add(Op::Binary(BinaryOp::Mul), &[x, c0]).unwrap();
        let y = h.add(Op::Binary(BinaryOp::Add), &[a, c1]).unwrap();
        h.mark_output(y);
        let map = probe(&h, &[0.5, 2.0]).expect("no pass reads these constants");
        assert_eq!(map.entries.len(), 2);
        let p = lowered(&h);
        assert!(map.kernel(&p, 0, &[0.25]).is_err());
        let k = map.kernel(&p, 0, &[0.25, -8.0]).unwrap().unwrap();
        let consts: Vec<f64> = k
            .exprs
            .iter()
            .filter_map(|e| match e.expr {
                Expr::Const(Scalar::F(v)) => Some(v),
                _ => None,
            })
            .collect();
        assert_eq!(consts, vec![0.25, -8.0]);
    }

    /// `x * 1` loses its multiplication for the value 1 only, so 1 (like 0, -0 and -1) is
    /// not a slot: its graph's generic structure is its own, and the probes of a graph at
    /// 0.5 (no identity) find the plan generic.
    #[test]
    fn values_the_identities_test_stay_in_the_structure() {
        let graph = |c: f64| {
            let mut g = Graph::new();
            let x = g.input(DType::F32, Shape::new(&[7])).unwrap();
            let k = g
                .add_leaf(
                    Op::Const(Scalar::F(c)),
                    TensorType::new(DType::F32, Shape::new(&[7])),
                )
                .unwrap();
            let y = g.add(Op::Binary(BinaryOp::Mul), &[x, k]).unwrap();
            let z = g.add(Op::Binary(BinaryOp::Add), &[y, x]).unwrap();
            g.mark_output(z);
            g
        };
        let (one, half) = (graph(1.0), graph(0.5));
        assert_eq!(one.generic_structure().1, Vec::<f64>::new());
        assert_eq!(half.generic_structure().1, vec![0.5]);
        assert_ne!(one.generic_structure().0, half.generic_structure().0);
        let (pa, pb) = (probes(1, false).unwrap(), probes(1, true).unwrap());
        let a = lowered(&with_float_consts(&half, &pa).unwrap());
        let b = lowered(&with_float_consts(&half, &pb).unwrap());
        assert!(ConstMap::probe((&lowered(&half), &[0.5]), (&a, &pa), (&b, &pb)).is_ok());
        // The program at 1 (the product gone) is not the probes' program.
        assert_eq!(
            ConstMap::probe((&lowered(&one), &[1.0]), (&a, &pa), (&b, &pb)),
            Err(NotGeneric::Programs)
        );
    }
}

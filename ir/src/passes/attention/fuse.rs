//! Recognizing `softmax(q @ kt * c + mask) @ v` as one attention op.

use super::super::{broadcast_const, rewrite_ids, Pass};
use crate::ops::{Attention, BinaryOp, ReduceOp, UnaryOp, ViewOp};
use crate::{Graph, NodeId, Op, Result, Shape};
use hashbrown::{HashMap, HashSet};
use smallvec::SmallVec;

/// The pattern [`FuseAttention`] recognizes, as `explain()` names it.
pub const PATTERN: &str = "matmul -> scale -> add mask -> softmax -> matmul";

/// Rewrites `softmax(q @ kt * c + mask, -1) @ v` into one [`Op::Attention`] over `q`,
/// `kt` transposed back (a view), `v` and the mask, wherever it appears:
///
/// - the scale is a constant multiplied on either side, a division by a constant, or absent;
/// - the mask, added on either side, is optional;
/// - the softmax is the one `Tensor::softmax` records: `e = exp(x - max(x))`,
///   `e / sum(e)`, over the last axis, the reductions kept as size 1 and broadcast back;
/// - every value inside the pattern is read only by the pattern and is no graph output (a
///   score matrix someone reads must still be computed), and all of it has one float dtype.
///
/// The fused op computes in f32 and rounds once, so a narrow float's result is at least as
/// accurate as the unfused graph's (within the attention tolerance of docs/OPS.md).
///
/// `max_rows` leaves patterns with more query rows (per batch) than that as they are written:
/// where the two matmuls and the softmax run faster than the fused kernel (long prompts on a
/// GPU; docs/PERFORMANCE.md). `None` fuses every one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FuseAttention {
    /// The most query rows a fused pattern has (`None`: no limit).
    pub max_rows: Option<usize>,
}

/// What was found under a final matmul: the operands of the fused op.
struct Found {
    q: NodeId,
    kt: NodeId,
    v: NodeId,
    mask: Option<NodeId>,
    scale: f64,
}

impl Pass for FuseAttention {
    fn name(&self) -> &'static str {
        "fuse-attention"
    }

    fn run(&self, g: &Graph) -> Result<Graph> {
        let found: HashMap<NodeId, Found> = g
            .topo()
            .into_iter()
            .filter_map(|n| recognize(g, n).map(|f| (n, f)))
            .filter(|(_, f)| {
                let qs = &g.node(f.q).shape().0;
                let rows = qs.len().checked_sub(2).map_or(1, |i| qs[i]);
                self.max_rows.is_none_or(|m| rows <= m)
            })
            .collect();
        rewrite_ids(g, |ng, old, _, _, map| {
            let Some(f) = found.get(&old) else {
                return Ok(None);
            };
            let kt = map[&f.kt];
            let r = ng.node(kt).shape().rank();
            let mut perm: SmallVec<[usize; crate::MAX_RANK]> = (0..r).collect();
            perm.swap(r - 2, r - 1);
            let k = ng.add(Op::View(ViewOp::Permute(perm)), &[kt])?;
            let mut srcs = vec![map[&f.q], k, map[&f.v]];
            srcs.extend(f.mask.map(|m| map[&m]));
            let mut att = Attention::new(f.scale, false);
            att.pattern = Some(PATTERN);
            ng.add(Op::Attention(att), &srcs).map(Some)
        })
    }
}

/// The node under a chain of `Expand` views and `Reshape`s that only add or drop leading
/// 1s (how a kept reduction is broadcast back over its row), or `None` where another view
/// is in the chain (a reshape that moves the kept axis would broadcast across rows).
fn under_broadcast(g: &Graph, mut n: NodeId) -> Option<NodeId> {
    let core = |s: &Shape| -> Vec<usize> {
        let first = s.0.iter().position(|&d| d != 1).unwrap_or(s.0.len());
        s.0[first..].to_vec()
    };
    loop {
        match &g.node(n).op {
            Op::View(ViewOp::Expand(_)) => n = g.srcs(n)[0],
            Op::View(ViewOp::Reshape(to)) => {
                let src = g.srcs(n)[0];
                if core(to) != core(g.node(src).shape()) {
                    return None;
                }
                n = src;
            }
            Op::View(_) => return None,
            _ => return Some(n),
        }
    }
}

/// Whether every reader of `n` (seen through views) is in `allowed`, and `n` is no output.
fn read_only_by(g: &Graph, n: NodeId, allowed: &[NodeId]) -> bool {
    let mut stack = vec![n];
    let mut seen = HashSet::new();
    while let Some(x) = stack.pop() {
        if g.outputs().contains(&x) {
            return false;
        }
        if !seen.insert(x) {
            continue;
        }
        for u in g.users(x) {
            if matches!(g.node(u).op, Op::View(_)) {
                stack.push(u);
            } else if !allowed.contains(&u) {
                return false;
            }
        }
    }
    true
}

/// A reduction `op` of `x` over its last axis, kept as size 1, under broadcast views.
fn last_axis_reduce(g: &Graph, n: NodeId, op: ReduceOp, x: NodeId) -> Option<NodeId> {
    if g.node(n).shape() != g.node(x).shape() {
        return None;
    }
    let base = under_broadcast(g, n)?;
    let r = g.node(x).shape().rank();
    match &g.node(base).op {
        Op::Reduce {
            op: o,
            axes,
            keepdim: true,
        } if *o == op && axes.as_slice() == [r - 1] && g.srcs(base)[0] == x => Some(base),
        _ => None,
    }
}

/// The binary op `op` at `n`, with its operands.
fn binary(g: &Graph, n: NodeId, op: BinaryOp) -> Option<(NodeId, NodeId)> {
    match g.node(n).op {
        Op::Binary(o) if o == op => {
            let s = g.srcs(n);
            Some((s[0], s[1]))
        }
        _ => None,
    }
}

/// The pattern under final matmul `n`, if it is one.
fn recognize(g: &Graph, n: NodeId) -> Option<Found> {
    if g.node(n).op != Op::Matmul {
        return None;
    }
    let (p, v) = (g.srcs(n)[0], g.srcs(n)[1]);
    // p = e / sum(e), e = exp(z), z = x - max(x)
    let (e, sb) = binary(g, p, BinaryOp::Div)?;
    let sum = last_axis_reduce(g, sb, ReduceOp::Sum, e)?;
    let z = match g.node(e).op {
        Op::Unary(UnaryOp::Exp) => g.srcs(e)[0],
        _ => return None,
    };
    let (x, mb) = binary(g, z, BinaryOp::Sub)?;
    let max = last_axis_reduce(g, mb, ReduceOp::Max, x)?;
    // x = scaled (+ mask)
    let scaled_of = |s: NodeId| -> Option<(NodeId, f64)> {
        if g.node(s).op == Op::Matmul {
            return Some((s, 1.0));
        }
        if let Some((a, b)) = binary(g, s, BinaryOp::Mul) {
            for (m, c) in [(a, b), (b, a)] {
                if let (Op::Matmul, Some(c)) = (&g.node(m).op, broadcast_const(g, c)) {
                    return Some((m, c.as_f64()));
                }
            }
        }
        let (m, c) = binary(g, s, BinaryOp::Div)?;
        match (&g.node(m).op, broadcast_const(g, c)) {
            (Op::Matmul, Some(c)) => Some((m, 1.0 / c.as_f64())),
            _ => None,
        }
    };
    let (scaled, mask, scores, scale) = match scaled_of(x) {
        Some((m, c)) => (x, None, m, c),
        None => {
            let (a, b) = binary(g, x, BinaryOp::Add)?;
            [(a, b), (b, a)]
                .into_iter()
                .find_map(|(s, mask)| scaled_of(s).map(|(m, c)| (s, Some(mask), m, c)))?
        }
    };
    let (q, kt) = (g.srcs(scores)[0], g.srcs(scores)[1]);
    let dtype = g.node(n).dtype();
    let ok = dtype.is_float()
        && [q, kt, v, x, p].iter().all(|&t| g.node(t).dtype() == dtype)
        && mask.is_none_or(|m| g.node(m).dtype() == dtype)
        && g.node(q).shape().rank() >= 2
        && scale.is_finite()
        && read_only_by(g, scores, &[scaled, x, z, max])
        && (scaled == scores || read_only_by(g, scaled, &[x, z, max]))
        && (x == scaled || read_only_by(g, x, &[z, max]))
        && read_only_by(g, max, &[z])
        && read_only_by(g, z, &[e])
        && read_only_by(g, e, &[p, sum])
        && read_only_by(g, sum, &[p])
        && read_only_by(g, p, &[n]);
    ok.then_some(Found {
        q,
        kt,
        v,
        mask,
        scale,
    })
}

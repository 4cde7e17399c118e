//! Movement ops moved below elementwise ops, onto the values kernels read from memory.

use super::{rewrite_ids, Pass};
use crate::ops::{SliceDim, ViewOp};
use crate::view::View;
use crate::{Graph, NodeId, Op, Result, Shape};
use hashbrown::HashMap;

/// Rewrites a view of an elementwise value into the same ops over views of their operands,
/// `view(f(a, g(b)))` → `f(view(a), g(view(b)))`, down to graph inputs, constants and views
/// of stored results (of products, attention and scans):
///
/// - What it does: lowering reads a computed value through a view (other than a row
///   broadcast) from memory, so a value that is sliced, permuted or reshaped before its reader
///   (RoPE's rotated heads narrowed into queries and keys, then placed in a cache) is stored
///   by a kernel of its own. Moved down, the view folds into the readers' loads and the value
///   is computed by the kernel that reads it.
/// - Ops it moves through: unary, binary, where and cast; a gather where the view keeps the
///   gathered axis whole and the source is a leaf (the gather then reads it through the
///   matching view; a computed source is stored, and would be stored in the view's shape).
/// - Where it stops (the view stays above the value): a pad (its edges hold a constant, not
///   the ops of one), windows (`unfold`), a graph output, and any value whose elementwise tree
///   reaches a reduction, an index source, a concat, a product read without a view between
///   (its epilogue), more than `MAX_OPS` (32) ops, or a view that no single strided view
///   composes with.
/// - Only toward readers that compute the value where they read it: elementwise ops,
///   reductions, a gather's index, attention's q, a vector product's A. A reader that stores
///   its operand (a matrix product, a gather's source, a concat, a scan, a graph output)
///   keeps the view above the value, which is then stored once for all its views.
/// - A broadcast (`expand`) repeats the ops for every repeated element: it moves only toward
///   one reader that computes per element (not attention's q or a product's A, which would
///   store it broadcast where the lowering leaves it stored; not several, whose shared value
///   the lowering may store; not through a pad, below which the value is stored).
pub struct ViewPushdown;

/// Most elementwise ops one moved view repeats.
pub const MAX_OPS: usize = 32;

impl Pass for ViewPushdown {
    fn name(&self) -> &'static str {
        "view-pushdown"
    }
    fn run(&self, g: &Graph) -> Result<Graph> {
        let mut consumers: HashMap<NodeId, Vec<NodeId>> = HashMap::new();
        for n in g.topo() {
            for s in g.srcs(n) {
                consumers.entry(s).or_default().push(n);
            }
        }
        rewrite_ids(g, |ng, old, node, srcs, _| {
            let Op::View(v) = &node.op else {
                return Ok(None);
            };
            let broadcast = matches!(v, ViewOp::Expand(_));
            if matches!(v, ViewOp::Pad { .. } | ViewOp::Unfold { .. })
                || g.outputs().contains(&g.srcs(old)[0])
                || !computed_by_readers(g, &consumers, old, broadcast)
            {
                return Ok(None);
            }
            let mut ops = 0;
            if !movable(ng, v, srcs[0], &mut ops) || ops == 0 {
                return Ok(None);
            }
            build(ng, v, srcs[0]).map(Some)
        })
    }
}

/// What the pass sees in an op: the one place it sorts them.
#[derive(Clone, Copy)]
enum Role {
    /// Unary, binary, where, cast: computed per element from the same element of each
    /// operand, so any view moves through.
    Pointwise,
    /// A gather along the axis.
    Gather(usize),
    /// A movement op.
    View,
    /// An input or constant.
    Source,
    /// A product (its result is stored by its own kernel; it may compute its operand A).
    Product,
    /// Attention (its result is stored by its own kernel; it may compute its q).
    Attention,
    /// A scan: its result is stored by its own kernel.
    Stored,
    /// A reduction: it reads its operand per element, and stops the views.
    Reduce,
    /// An index source (its values follow the linear index) or a concat: stops the views.
    Other,
}

fn role(op: &Op) -> Role {
    match op {
        Op::Unary(_) | Op::Binary(_) | Op::Where | Op::Cast(_) => Role::Pointwise,
        &Op::Gather { axis } => Role::Gather(axis),
        Op::View(_) => Role::View,
        Op::Input { .. } | Op::Const(_) => Role::Source,
        Op::Matmul => Role::Product,
        Op::Attention(_) => Role::Attention,
        Op::Scan(_) => Role::Stored,
        Op::Reduce { .. } => Role::Reduce,
        Op::Arange { .. } | Op::Rand { .. } | Op::Concat { .. } => Role::Other,
    }
}

/// Whether every reader of view `n` (through further views) computes the value where it
/// reads it, so that moving the view below the value stores nothing more: not a graph output,
/// and read by elementwise ops, reductions and gathers' indices; where not a `broadcast`,
/// also as attention's q or a vector product's A (which compute their operand where the
/// lowering's rules let them, [`crate::lower::policy::operand_prologue`]). A broadcast value
/// such a reader left stored would be stored broadcast.
fn computed_by_readers(
    g: &Graph,
    consumers: &HashMap<NodeId, Vec<NodeId>>,
    n: NodeId,
    broadcast: bool,
) -> bool {
    let cs = consumers.get(&n).map_or(&[][..], Vec::as_slice);
    // A broadcast value with several readers would be shared, and stored broadcast where
    // the lowering finds it too costly to compute again.
    !g.outputs().contains(&n)
        && (!broadcast || cs.len() <= 1)
        && cs.iter().all(|&c| {
            let srcs = g.srcs(c);
            let first_only = srcs[0] == n && !srcs[1..].contains(&n);
            match role(&g.node(c).op) {
                // The pass stops at a pad and at windows: the value below is stored.
                Role::View => {
                    !matches!(
                        g.node(c).op,
                        Op::View(ViewOp::Pad { .. } | ViewOp::Unfold { .. })
                    ) && computed_by_readers(g, consumers, c, broadcast)
                }
                Role::Pointwise | Role::Reduce => true,
                Role::Gather(_) => srcs[0] != n,
                Role::Attention => !broadcast && first_only,
                Role::Product => {
                    let a = g.node(n).shape();
                    !broadcast && first_only && a.rank() >= 2 && a.0[a.rank() - 2] == 1
                }
                Role::Source | Role::Stored | Role::Other => false,
            }
        })
}

/// Whether view `v` of `n` can move below `n`'s elementwise ops (see [`ViewPushdown`]);
/// counts the ops it would repeat in `ops`.
fn movable(g: &Graph, v: &ViewOp, n: NodeId, ops: &mut usize) -> bool {
    let node = g.node(n);
    if node.dtype().is_quantized() {
        return false;
    }
    match role(&node.op) {
        Role::Pointwise => {
            *ops += 1;
            *ops <= MAX_OPS && g.srcs(n).iter().all(|&s| operand(g, v, s, ops))
        }
        Role::Gather(axis) => {
            let (x, idx) = (g.srcs(n)[0], g.srcs(n)[1]);
            let Some((vx, _)) = gather_view(v, node.shape(), g.node(x).shape(), axis) else {
                return false;
            };
            *ops += 1;
            // A gather's source is stored where computed: only a leaf takes the view.
            *ops <= MAX_OPS && leaf(g, &vx, x) && operand(g, v, idx, ops)
        }
        Role::View
        | Role::Source
        | Role::Product
        | Role::Attention
        | Role::Stored
        | Role::Reduce
        | Role::Other => false,
    }
}

/// Whether operand `n` of a moved op can take view `v`: an elementwise value the view moves
/// through in turn, or a [`leaf`].
fn operand(g: &Graph, v: &ViewOp, n: NodeId, ops: &mut usize) -> bool {
    match role(&g.node(n).op) {
        Role::Pointwise | Role::Gather(_) => movable(g, v, n, ops),
        Role::View
        | Role::Source
        | Role::Product
        | Role::Attention
        | Role::Stored
        | Role::Reduce
        | Role::Other => leaf(g, v, n),
    }
}

/// Whether `n` is a leaf that takes view `v`: an input or constant, or a view of one or of a
/// stored result (a product read directly may be an epilogue's operand), not quantized, whose
/// view composes with `v` into one strided view.
fn leaf(g: &Graph, v: &ViewOp, n: NodeId) -> bool {
    if g.node(n).dtype().is_quantized() {
        return false;
    }
    let mut chain = Vec::new();
    let mut base = n;
    while let Op::View(op) = &g.node(base).op {
        chain.push(op);
        base = g.srcs(base)[0];
    }
    let stored = match role(&g.node(base).op) {
        Role::Source => true,
        Role::Product | Role::Attention | Role::Stored => !chain.is_empty(),
        Role::Pointwise | Role::Gather(_) | Role::View | Role::Reduce | Role::Other => false,
    };
    stored && View::of_chain(g.node(base).shape(), chain.into_iter().rev().chain([v])).is_some()
}

/// `v` moved below `n` (which [`movable`] accepted): the ops rebuilt over views of their
/// operands.
fn build(g: &mut Graph, v: &ViewOp, n: NodeId) -> Result<NodeId> {
    let node = g.node(n).clone();
    let srcs = g.srcs(n);
    match role(&node.op) {
        Role::Pointwise => {
            let moved = srcs
                .iter()
                .map(|&s| build(g, v, s))
                .collect::<Result<Vec<_>>>()?;
            g.add(node.op.clone(), &moved)
        }
        Role::Gather(axis) => {
            let (x, idx) = (srcs[0], srcs[1]);
            let (vx, axis) = gather_view(v, node.shape(), g.node(x).shape(), axis)
                .ok_or_else(|| crate::IrError::Verify("a view moved below a gather".into()))?;
            let x = build(g, &vx, x)?;
            let idx = build(g, v, idx)?;
            g.add(Op::Gather { axis }, &[x, idx])
        }
        Role::View
        | Role::Source
        | Role::Product
        | Role::Attention
        | Role::Stored
        | Role::Reduce
        | Role::Other => g.add(Op::View(v.clone()), &[n]),
    }
}

/// For view `v` of a gather along `axis` (result `out`, source `x`): the view of the source
/// that matches it and the gathered axis after the view, where `v` keeps that axis whole
/// (not cut, reversed, broadcast, padded, windowed or merged with another) and the source
/// has the result's size off the axis.
fn gather_view(v: &ViewOp, out: &Shape, x: &Shape, axis: usize) -> Option<(ViewOp, usize)> {
    let rank = out.rank();
    if x.rank() != rank || (0..rank).any(|d| d != axis && x.0[d] != out.0[d]) {
        return None;
    }
    let (n, len) = (out.0[axis], x.0[axis]);
    match v {
        ViewOp::Permute(p) => {
            let at = p.iter().position(|&a| a == axis)?;
            Some((v.clone(), at))
        }
        ViewOp::Slice(dims) => {
            let d = dims.get(axis)?;
            (d.start == 0 && d.end == n && d.step == 1).then(|| {
                let mut dims = dims.clone();
                dims[axis] = SliceDim {
                    start: 0,
                    end: len,
                    step: 1,
                };
                (ViewOp::Slice(dims), axis)
            })
        }
        ViewOp::Expand(to) => {
            let at = axis + to.rank().checked_sub(rank)?;
            (to.0[at] == n).then(|| {
                let mut to = to.clone();
                to.0[at] = len;
                (ViewOp::Expand(to), at)
            })
        }
        ViewOp::Reshape(to) => {
            let tail = rank - axis;
            let at = to.rank().checked_sub(tail)?;
            (to.0[at..] == out.0[axis..]).then(|| {
                let mut to = to.clone();
                to.0[at] = len;
                (ViewOp::Reshape(to), at)
            })
        }
        ViewOp::Flip(axes) => (!axes.contains(&axis)).then(|| (v.clone(), axis)),
        ViewOp::Pad { .. } | ViewOp::Unfold { .. } => None,
    }
}

#[cfg(test)]
mod tests;

//! Graph passes: named rewrites, each a small type whose doc comment states its rewrite, run as
//! a listed pipeline with the IR verifier after each pass in debug builds.
//!
//! Every pass rebuilds the graph from its outputs through [`rewrite`], so unreachable nodes
//! disappear and equal nodes merge (the graph hash-conses on insert) as a side effect of any
//! pass; [`DeadCodeElimination`] and [`CommonSubexpressionElimination`] are exactly that.
//! Folding movement ops into index expressions happens later, in lowering
//! ([`crate::lower`]); [`ViewFolding`] only canonicalizes chains of views.

mod algebraic;
mod attention;
mod casts;
mod constants;
mod pushdown;
mod split;
mod split_k;
mod split_scan;
mod views;

pub use algebraic::{identity_operand, AlgebraicSimplification, Operand};
pub use attention::{
    attention_trips, FuseAttention, SplitAttention, ATTENTION_MAX_HEAD, DECODE_MAX_HEAD,
    DECODE_SEGMENT_KEYS, PATTERN as ATTENTION_PATTERN, SPLIT_ATTENTION_MIN_RUN,
    SPLIT_ATTENTION_TARGET, SPLIT_DECODE_MIN_RUN, SPLIT_DECODE_TARGET,
};
pub use casts::CastElimination;
pub use constants::ConstantFolding;
pub use pushdown::ViewPushdown;
pub use split::SplitReductions;
pub use split_k::SplitK;
pub use split_scan::SplitScans;
pub use views::ViewFolding;

use crate::{Graph, Node, NodeId, Result};
use hashbrown::HashMap;

/// A graph-to-graph rewrite.
pub trait Pass {
    /// The pass's name, for logs.
    fn name(&self) -> &'static str;
    /// Rewrites the graph; outputs keep their order and inputs their slots.
    fn run(&self, g: &Graph) -> Result<Graph>;
}

/// Removes nodes no output depends on.
pub struct DeadCodeElimination;

impl Pass for DeadCodeElimination {
    fn name(&self) -> &'static str {
        "dead-code-elimination"
    }
    fn run(&self, g: &Graph) -> Result<Graph> {
        rewrite(g, |_, _, _| Ok(None))
    }
}

/// Merges nodes with the same op, type and operands (re-inserting every node into a fresh
/// hash-consed graph).
pub struct CommonSubexpressionElimination;

impl Pass for CommonSubexpressionElimination {
    fn name(&self) -> &'static str {
        "common-subexpression-elimination"
    }
    fn run(&self, g: &Graph) -> Result<Graph> {
        rewrite(g, |_, _, _| Ok(None))
    }
}

/// How long a loop one shader invocation of the target adapter may run, as graph sizes: the
/// longest reduced row one reduction kernel may loop over, and the longest inner dimension
/// one matmul kernel may. `None`: only the caps every adapter has ([`MAX_ROW`], [`MAX_LOOP`]).
/// The runtime derives them from the adapter's
/// loop budget (its quirk table) and the smallest workgroups its schedules use; the split
/// passes cut longer rows and inner dimensions into parts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LoopLimits {
    /// Longest reduced row (elements per output) of one reduction kernel.
    pub max_row: Option<usize>,
    /// Longest inner dimension of one matmul kernel.
    pub max_k: Option<usize>,
    /// Loop trips one attention invocation may run in all (`None`: no limit); see
    /// [`attention_trips`].
    pub attention_trips: Option<usize>,
    /// The largest head (`d`, `dv`) an attention kernel's workgroup memory holds on the
    /// adapter (`None`: [`ATTENTION_MAX_HEAD`]); a larger one runs unfused.
    pub attention_head: Option<usize>,
    /// The most keys of a one-row attention the adapter's decode-form workgroup takes whole
    /// (0: every such attention splits as its sizes ask); see
    /// [`SplitAttention::whole_decode_keys`].
    pub whole_decode_keys: usize,
}

/// The longest inner dimension one kernel loops over on any adapter: shaders index with
/// 32-bit integers (signed in places), so longer ones always split.
pub const MAX_LOOP: usize = i32::MAX as usize;

/// The longest row one reduction kernel reduces on any adapter. A workgroup's f32
/// accumulators would each sum more than 256 elements of a longer row, and their rounding
/// passes the documented 1e-5 (rows of millions of elements reach 1e-4), while one workgroup
/// per row of such length leaves the GPU idle anyway.
pub const MAX_ROW: usize = 1 << 16;

impl LoopLimits {
    /// The longest row of one reduction kernel, at most [`MAX_ROW`].
    pub fn row(&self) -> usize {
        self.max_row.map_or(MAX_ROW, |m| m.min(MAX_ROW))
    }

    /// The longest inner dimension of one matmul kernel, at most [`MAX_LOOP`].
    pub fn k(&self) -> usize {
        self.max_k.map_or(MAX_LOOP, |m| m.min(MAX_LOOP))
    }
}

/// The default pipeline, in order, for an adapter with `limits`, every attention pattern
/// fused.
pub fn default_pipeline(limits: LoopLimits) -> Vec<Box<dyn Pass>> {
    pipeline(limits, Some(FuseAttention::default()))
}

/// The pipeline, in order, for an adapter with `limits`; with `attention` `None` (fusion
/// off), the unfused attention pattern is left as the user wrote it (one kernel per op).
pub fn pipeline(limits: LoopLimits, attention: Option<FuseAttention>) -> Vec<Box<dyn Pass>> {
    let mut passes: Vec<Box<dyn Pass>> = vec![
        Box::new(DeadCodeElimination),
        Box::new(ViewFolding),
        Box::new(CastElimination),
        Box::new(ConstantFolding),
        Box::new(AlgebraicSimplification),
        Box::new(CommonSubexpressionElimination),
    ];
    if let Some(a) = attention {
        passes.push(Box::new(a));
        // After attention fusion, which matches the pattern's views as written.
        passes.push(Box::new(ViewPushdown));
    }
    passes.extend(rest(limits));
    passes
}

/// The passes after attention fusion.
fn rest(limits: LoopLimits) -> Vec<Box<dyn Pass>> {
    vec![
        // Before split-K: the combine of a split attention is reductions (which the last
        // pass may split), and an attention's loop must stay within the adapter's limit.
        Box::new(SplitAttention {
            max_trips: limits.attention_trips,
            max_head: limits
                .attention_head
                .map_or(ATTENTION_MAX_HEAD, |h| h.min(ATTENTION_MAX_HEAD)),
            whole_decode_keys: limits.whole_decode_keys,
        }),
        // Split-K first: the sum over its parts is a reduction, which the next pass may split.
        Box::new(SplitK {
            max_k: limits.max_k,
        }),
        Box::new(SplitReductions {
            max_row: limits.max_row,
        }),
        Box::new(SplitScans {
            max_row: limits.max_row,
        }),
    ]
}

/// A view of `x` added to `g` (the split passes build their levels from views).
pub(crate) fn view(g: &mut Graph, v: crate::ops::ViewOp, x: NodeId) -> Result<NodeId> {
    g.add(crate::Op::View(v), &[x])
}

/// `x` reshaped to `dims`.
pub(crate) fn reshape(g: &mut Graph, x: NodeId, dims: &[usize]) -> Result<NodeId> {
    view(g, crate::ops::ViewOp::Reshape(crate::Shape::new(dims)), x)
}

/// Runs passes in order; with `verify`, checks the IR after each and names the pass that broke
/// it.
pub fn run_pipeline(g: &Graph, passes: &[Box<dyn Pass>], verify: bool) -> Result<Graph> {
    let mut cur = g.clone();
    for p in passes {
        cur = p.run(&cur)?;
        if verify {
            cur.verify()
                .map_err(|e| crate::IrError::Verify(format!("after pass {}: {e}", p.name())))?;
        }
        log::trace!("kiln: pass {} left {} nodes", p.name(), cur.len());
    }
    Ok(cur)
}

/// Rebuilds `g` from its outputs. For each node (operands first), `f` gets the new graph, the
/// old node and its operands already rewritten, and may return a replacement; otherwise the
/// node is re-inserted as it was.
pub fn rewrite(
    g: &Graph,
    mut f: impl FnMut(&mut Graph, &Node, &[NodeId]) -> Result<Option<NodeId>>,
) -> Result<Graph> {
    rewrite_ids(g, |ng, _, node, srcs, _| f(ng, node, srcs))
}

/// [`rewrite`], with `f` also given the old node's id and the map from old ids to new ones
/// (every operand of the node, and everything before it, is in the map).
pub fn rewrite_ids(
    g: &Graph,
    mut f: impl FnMut(
        &mut Graph,
        NodeId,
        &Node,
        &[NodeId],
        &HashMap<NodeId, NodeId>,
    ) -> Result<Option<NodeId>>,
) -> Result<Graph> {
    let mut ng = Graph::new();
    let mut map: HashMap<NodeId, NodeId> = HashMap::new();
    for &i in g.inputs() {
        let node = g.node(i);
        let ni = ng.input(node.dtype(), node.shape().clone())?;
        map.insert(i, ni);
    }
    for n in g.topo() {
        if map.contains_key(&n) {
            continue;
        }
        let node = g.node(n);
        let srcs: Vec<NodeId> = g.srcs(n).iter().map(|s| map[s]).collect();
        let id = match f(&mut ng, n, node, &srcs, &map)? {
            Some(id) => id,
            None if srcs.is_empty() => ng.add_leaf(node.op.clone(), node.ty.clone())?,
            None => ng.add(node.op.clone(), &srcs)?,
        };
        map.insert(n, id);
    }
    for &o in g.outputs() {
        ng.mark_output(map[&o]);
    }
    Ok(ng)
}

/// The constant node behind `n`, if `n` is a constant or a view of one (not a pad, which
/// holds another value at its edges).
pub fn const_node(g: &Graph, mut n: NodeId) -> Option<NodeId> {
    loop {
        match &g.node(n).op {
            crate::Op::Const(_) => return Some(n),
            crate::Op::View(v) if !matches!(v, crate::ops::ViewOp::Pad { .. }) => {
                n = g.srcs(n)[0];
            }
            _ => return None,
        }
    }
}

/// The constant a node holds everywhere, if it is a constant or a view of one.
pub fn broadcast_const(g: &Graph, n: NodeId) -> Option<crate::Scalar> {
    let c = const_node(g, n)?;
    match g.node(c).op {
        crate::Op::Const(s) => Some(s.to_dtype(g.node(c).dtype())),
        _ => None,
    }
}

/// A constant of `node`'s type: a rank-0 constant broadcast to its shape.
pub fn const_like(ng: &mut Graph, ty: &crate::TensorType, v: crate::Scalar) -> Result<NodeId> {
    let c = ng.add_leaf(
        crate::Op::Const(v),
        crate::TensorType::new(ty.dtype, crate::Shape::scalar()),
    )?;
    if ty.shape.rank() == 0 {
        return Ok(c);
    }
    ng.add(
        crate::Op::View(crate::ops::ViewOp::Expand(ty.shape.clone())),
        &[c],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::UnaryOp;
    use crate::{DType, Op, Shape};

    #[test]
    fn dead_code_goes_and_slots_stay() {
        let mut g = Graph::new();
        let a = g.input(DType::F32, Shape::new(&[3])).unwrap();
        let b = g.input(DType::F32, Shape::new(&[3])).unwrap();
        let _dead = g.add(Op::Unary(UnaryOp::Exp), &[a]).unwrap();
        let y = g.add(Op::Unary(UnaryOp::Sin), &[b]).unwrap();
        g.mark_output(y);
        let out = DeadCodeElimination.run(&g).unwrap();
        assert_eq!(out.len(), 3, "two inputs and sin");
        assert_eq!(out.inputs().len(), 2);
    }

    #[test]
    fn pipeline_verifies() {
        let mut g = Graph::new();
        let a = g.input(DType::F32, Shape::new(&[3])).unwrap();
        let y = g.add(Op::Unary(UnaryOp::Exp), &[a]).unwrap();
        g.mark_output(y);
        let out = run_pipeline(&g, &default_pipeline(LoopLimits::default()), true).unwrap();
        assert_eq!(out.structural_hash(), g.structural_hash());
    }
}

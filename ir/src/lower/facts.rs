//! The graph facts the fusion policy reads: the bindings a subtree needs, the cost of
//! recomputing a value, and whether a value holds a matmul not built yet.

use super::builder::{Access, Ctx, Grow};
use super::policy::{Facts, NodeClass};
use super::{is_view, Lowering};
use crate::ops::Op;
use crate::NodeId;
use hashbrown::HashSet;

/// The facts about node `n` and the kernel `gr` being grown, answered from the graph.
pub(super) struct NodeFacts<'a, 'g> {
    pub(super) l: &'a Lowering<'g>,
    pub(super) gr: &'a Grow,
    pub(super) n: NodeId,
    pub(super) is_root: bool,
}

impl NodeFacts<'_, '_> {
    fn op(&self) -> &Op {
        &self.l.g.node(self.n).op
    }
}

impl Facts for NodeFacts<'_, '_> {
    fn class(&self) -> NodeClass {
        NodeClass::of(self.op())
    }
    fn is_root(&self) -> bool {
        self.is_root
    }
    fn fusion_enabled(&self) -> bool {
        self.l.opts.enabled
    }
    fn stored_earlier(&self) -> bool {
        self.l.access.contains_key(&self.n) && !is_view(self.op())
    }
    fn graph_output(&self) -> bool {
        self.l.output_bases.contains(&self.n)
    }
    fn chain_cut(&self) -> bool {
        self.l.deep.contains(&self.n)
    }
    fn epilogue_end(&self) -> bool {
        self.l.epilogue_ends.contains(&self.n)
    }
    fn consumers(&self) -> usize {
        self.l.consumers.get(&self.n).map_or(0, |c| c.len())
    }
    fn matmul_fits_kernel(&self) -> bool {
        self.gr.ctx == Ctx::Elementwise
            && self.gr.matmul.is_none()
            && self.l.g.node(self.n).shape() == &self.gr.shape
    }
    fn permuted_reduce(&self) -> bool {
        self.gr.ctx == Ctx::PermutedReduce
    }
    fn holds_unbuilt_matmul(&self) -> bool {
        self.l.holds_unbuilt_matmul(self.n)
    }
    fn quantized(&self) -> bool {
        self.l.g.node(self.n).dtype().is_quantized()
    }
    fn inline_cost(&self) -> (usize, usize) {
        self.l.inline_cost(self.n)
    }
    fn recompute_budget(&self) -> (usize, usize) {
        (
            self.l.opts.recompute_max_ops,
            self.l.opts.recompute_max_loads,
        )
    }
    fn max_bindings(&self) -> usize {
        self.l.opts.max_storage_buffers
    }
    fn bindings_left(&self) -> usize {
        self.max_bindings()
            .saturating_sub(self.gr.b.input_count() + self.gr.reserve + 1)
    }
    fn fits_above(&self) -> bool {
        self.gr.fits
    }
    fn subtree_bindings(&self) -> usize {
        self.l.new_bindings(self.gr, self.n)
    }
    fn operand_bindings(&self) -> usize {
        self.l.binding_operands(self.gr, &self.l.g.srcs(self.n))
    }
}

impl Lowering<'_> {
    /// How many bindings `srcs` need at least (not constants, not already in the kernel): one
    /// each, two for a matmul that would be absorbed (both its operands).
    pub(super) fn binding_operands(&self, gr: &Grow, srcs: &[NodeId]) -> usize {
        srcs.iter()
            .filter(|&&s| !gr.memo.contains_key(&s))
            .map(|&s| match &self.g.node(self.strip_views(s)).op {
                Op::Const(_) => 0,
                Op::Matmul if !self.access.contains_key(&s) => 2,
                _ => 1,
            })
            .sum()
    }

    /// At most how many storage buffers inlining all of `n` would bind: each stored value
    /// (an input, or a value an earlier kernel or this one's boundary computes) once, a view
    /// of a computed value as that value and as what it reads (a row broadcast pulls a
    /// reduction's sources into the kernel), the sources of a gather or concat as one each,
    /// and a matmul's operands at least one each. An upper bound, so that a subtree found to
    /// fit needs no check below.
    pub(super) fn binding_cost(&self, n: NodeId) -> usize {
        self.bound_by(n).len()
    }

    /// [`Lowering::binding_cost`] less the buffers kernel `gr` binds already (a value it reads
    /// again takes no new binding).
    pub(super) fn new_bindings(&self, gr: &Grow, n: NodeId) -> usize {
        self.bound_by(n)
            .into_iter()
            .filter(
                |b| !matches!(self.access.get(b), Some(Access::Buf { buf, .. }) if gr.b.binds(buf)),
            )
            .count()
    }

    /// The values whose buffers inlining all of `n` would bind ([`Lowering::binding_cost`]).
    fn bound_by(&self, n: NodeId) -> HashSet<NodeId> {
        let mut bound: HashSet<NodeId> = HashSet::new();
        let mut seen: HashSet<NodeId> = HashSet::new();
        let mut stack = vec![n];
        while let Some(x) = stack.pop() {
            if !seen.insert(x) {
                continue;
            }
            let node = self.g.node(x);
            if self.read_from_memory(x) && x != n {
                bound.insert(self.strip_views(x));
                continue;
            }
            let srcs = self.g.srcs(x);
            match &node.op {
                Op::Const(_) | Op::Input { .. } => {}
                // Stored and read through the view (one binding), or, broadcast per row,
                // computed here from what it reads: both counted. A read that copies binds
                // the copy alone.
                Op::View(_) => match self.bound_value(x, false) {
                    Some(b) if b == x => {
                        bound.insert(x);
                    }
                    Some(b) => {
                        bound.insert(b);
                        stack.push(b);
                    }
                    None => {}
                },
                Op::Gather { .. } => {
                    bound.extend(self.bound_value(srcs[0], true));
                    stack.push(srcs[1]);
                }
                Op::Concat { .. } => {
                    bound.extend(srcs.iter().filter_map(|&s| self.bound_value(s, true)));
                }
                Op::Matmul => {
                    bound.extend(srcs.iter().filter_map(|&s| self.bound_value(s, true)));
                    stack.extend(srcs);
                }
                _ => stack.extend(srcs),
            }
        }
        bound
    }

    /// The value whose buffer a read of `x` binds: the base under `x`'s views, or `x` itself
    /// where the read makes a copy (views that compose into no single view, a masked one
    /// where the reader needs a plain view, `plain`, or a padded constant); `None` for a
    /// constant read as is (no binding).
    fn bound_value(&self, x: NodeId, plain: bool) -> Option<NodeId> {
        let mut chain = Vec::new();
        let mut base = x;
        while let Op::View(v) = &self.g.node(base).op {
            chain.push(v);
            base = self.g.srcs(base)[0];
        }
        if matches!(self.g.node(base).op, Op::Const(_)) {
            let padded = chain
                .iter()
                .any(|v| matches!(v, crate::ops::ViewOp::Pad { .. }));
            return padded.then_some(x);
        }
        match crate::View::of_chain(self.g.node(base).shape(), chain.into_iter().rev()) {
            Some(w) if !(plain && w.mask.is_some()) => Some(base),
            Some(_) | None => Some(x),
        }
    }

    /// Whether a kernel reading `x` reads it from memory whatever it fuses: an input, a value
    /// an earlier kernel stored, a matmul epilogue's end, or a graph output's base.
    pub(super) fn read_from_memory(&self, x: NodeId) -> bool {
        let op = &self.g.node(x).op;
        (self.access.contains_key(&x) && !is_view(op))
            || self.epilogue_ends.contains(&x)
            || self.output_bases.contains(&x)
            || matches!(op, Op::Input { .. })
    }

    /// Estimated ops and distinct loads of inlining `n` (for the recompute policy).
    pub(super) fn inline_cost(&self, n: NodeId) -> (usize, usize) {
        let mut ops = 0;
        let mut loads: HashSet<NodeId> = HashSet::new();
        let mut seen: HashSet<NodeId> = HashSet::new();
        let mut stack = vec![n];
        while let Some(x) = stack.pop() {
            if !seen.insert(x) {
                continue;
            }
            let node = self.g.node(x);
            let stored = self.read_from_memory(x) || node.op == Op::Matmul;
            if stored && x != n {
                loads.insert(self.strip_views(x));
                continue;
            }
            match &node.op {
                Op::Const(_) | Op::Input { .. } => {}
                Op::View(_) => stack.extend(self.g.srcs(x)),
                // A reduction read here is a stage of this kernel (computed once per row) or
                // a load: either way not an elementwise cost.
                Op::Reduce { .. } => {}
                _ => {
                    ops += 1;
                    stack.extend(self.g.srcs(x));
                }
            }
        }
        (ops, loads.len())
    }

    /// True if inlining `n` would pull in a matmul that has no buffer yet (views are loads or
    /// row broadcasts, so the walk stops there).
    pub(super) fn holds_unbuilt_matmul(&self, n: NodeId) -> bool {
        let mut seen: HashSet<NodeId> = HashSet::new();
        let mut stack = vec![n];
        while let Some(x) = stack.pop() {
            if !seen.insert(x) || self.access.contains_key(&x) || self.epilogue_ends.contains(&x) {
                continue;
            }
            match &self.g.node(x).op {
                Op::Matmul => return true,
                Op::View(_) | Op::Input { .. } | Op::Const(_) | Op::Reduce { .. } => {}
                _ => stack.extend(self.g.srcs(x)),
            }
        }
        false
    }
}

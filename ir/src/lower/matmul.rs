//! Matmul absorption: a matmul becomes the product of the kernel being grown, whose epilogue
//! (bias, activation, residual, cast) is applied before the store; float casts on its
//! operands are applied on load; and the tops of epilogue chains with several consumers are
//! marked to be stored, so that no consumer recomputes the matmul.

use super::builder::{Access, Ctx, Grow};
use super::facts::NodeFacts;
use super::plan::BufRef;
use super::policy::{self, NodeClass, StoreReason};
use super::Lowering;
use crate::kernel::{Expr, ExprId, LoadId, Prologue, StageId};
use crate::ops::Op;
use crate::view::View;
use crate::{DType, NodeId, Result};
use hashbrown::HashSet;

/// The kernel that computes an operand where it reads it ([`Lowering::grow_operand`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reader {
    /// A matmul's A.
    Product,
    /// Attention's q.
    Attention,
}

impl Lowering<'_> {
    /// Follows each matmul up its chain of sole consumers (elementwise, same shape, no view in
    /// between) and marks where the chain meets a value with several consumers.
    pub(super) fn mark_epilogue_ends(&mut self) {
        for n in self.g.topo() {
            if !matches!(self.g.node(n).op, Op::Matmul) {
                continue;
            }
            let mut top = n;
            loop {
                let cs = self.consumers.get(&top).cloned().unwrap_or_default();
                if cs.len() != 1 || self.output_bases.contains(&top) {
                    break;
                }
                let c = cs[0];
                let direct = self.g.srcs(c).contains(&top);
                let cn = self.g.node(c);
                if !direct
                    || cn.shape() != self.g.node(n).shape()
                    || !matches!(
                        cn.op,
                        Op::Unary(_) | Op::Binary(_) | Op::Where | Op::Cast(_)
                    )
                {
                    break;
                }
                top = c;
            }
            if self.consumers.get(&top).is_some_and(|c| c.len() > 1) {
                self.epilogue_ends.insert(top);
            }
        }
    }

    /// Makes matmul `m` the kernel's product; returns its `Acc` expr.
    pub(super) fn absorb_matmul(&mut self, gr: &mut Grow, m: NodeId) -> Result<ExprId> {
        let srcs = self.g.srcs(m);
        let dtype = self.g.node(m).dtype();
        let (la, ar, prologue) = match self.prologue(gr, srcs[0])? {
            Some((la, p)) => (la, None, Some(p)),
            None => {
                let (ab, av, ad, ar) = self.matmul_operand(gr, srcs[0])?;
                (gr.b.load_distinct(ab, ad, av), ar, None)
            }
        };
        let (bb, bv, bd, br) = self.matmul_operand(gr, srcs[1])?;
        let lb = gr.b.load_distinct(bb, bd, bv);
        gr.ctx = Ctx::Matmul;
        gr.matmul = Some((m, la, lb));
        gr.matmul_round = (ar, br);
        gr.prologue = prologue;
        let acc = gr.b.expr(Expr::Acc(StageId::new(0)), dtype);
        gr.memo.insert(m, acc);
        gr.cover(m);
        Ok(acc)
    }

    /// Operand A (`a`) computed where the product reads it, where the policy says so
    /// ([`policy::operand_prologue`]): grown over A's space into the kernel's builder, with a
    /// binding kept for B. Returns the load that gives A's shape (the first of A's shape the
    /// expression reads) and the expression; `None` (and the builder as it was) where the
    /// policy says no or the expression reads no such load.
    fn prologue(&mut self, gr: &mut Grow, a: NodeId) -> Result<Option<(LoadId, Prologue)>> {
        if !self.operand_prologue(a) {
            return Ok(None);
        }
        Ok(self
            .grow_operand(gr, a, 1, Reader::Product)?
            .map(|(la, e, stages)| (la, Prologue { a: e, stages })))
    }

    /// Grows operand `a` of `reader` over its own space into the kernel's builder (an operand
    /// prologue), with `keep` bindings kept for the operands read after it. Returns the load
    /// that gives `a`'s shape (the first the expression reads of that shape: a float one for
    /// a product, one of `a`'s dtype for attention, which takes its operands' dtype from it),
    /// the expression and its stages (reductions over the row; attention folds none); `None`,
    /// and the builder as it was, where the expression reads no such load or folds a stage its
    /// reader does not.
    pub(super) fn grow_operand(
        &mut self,
        gr: &mut Grow,
        a: NodeId,
        keep: usize,
        reader: Reader,
    ) -> Result<Option<(LoadId, ExprId, Vec<crate::kernel::Stage>)>> {
        let shape = self.g.node(a).shape().clone();
        let dtype = self.g.node(a).dtype();
        let before = gr.b.clone();
        let mut sub = Grow::new(Ctx::Prologue, shape.clone());
        // Its stages follow the kernel's result, `Acc(0)`.
        sub.first_acc = 1;
        sub.b = std::mem::take(&mut gr.b);
        sub.reserve = gr.reserve + keep;
        let e = self.inline(&mut sub, a, true);
        gr.b = std::mem::take(&mut sub.b);
        let e = e?;
        let reads = gr.b.loads_read(e);
        let la = reads.into_iter().find(|&l| {
            let d = gr.b.load_dtype(l);
            gr.b.load_shape(l) == &shape
                && match reader {
                    Reader::Product => d.is_float(),
                    Reader::Attention => d == dtype,
                }
        });
        let stages_taken = match reader {
            Reader::Product => true,
            Reader::Attention => sub.stages.is_empty(),
        };
        let Some(la) = la.filter(|_| stages_taken) else {
            gr.b = before;
            return Ok(None);
        };
        for n in sub.covered {
            gr.cover(n);
        }
        gr.boundaries.extend(sub.boundaries);
        Ok(Some((la, e, sub.stages)))
    }

    /// Whether attention computes its operand q (`q`) where it reads it: as a matmul's
    /// prologue would ([`policy::operand_prologue`]), with no reduction under it (attention
    /// folds no stage) and every buffer it reads bound beside the other operands' (`others`)
    /// and the result, so that computing it never splits it into kernels of its own.
    pub(super) fn attention_prologue(&self, q: NodeId, others: usize) -> bool {
        let shape = self.g.node(q).shape();
        let facts = NodeFacts {
            l: self,
            gr: &Grow::new(Ctx::Prologue, shape.clone()),
            n: q,
            is_root: false,
        };
        policy::operand_prologue(&facts, true, !self.row_reductions(q).is_empty())
            && self.binding_cost(q) + others < self.opts.max_storage_buffers
    }

    /// Whether matmul `m` computes its operand A where it reads it (see
    /// [`Lowering::prologue`]).
    pub(super) fn computes_prologue(&self, m: NodeId) -> bool {
        self.operand_prologue(self.g.srcs(m)[0])
    }

    /// [`policy::operand_prologue`] for operand A `a`, where no cast is applied on its load.
    fn operand_prologue(&self, a: NodeId) -> bool {
        let shape = self.g.node(a).shape();
        let vector = shape.rank() >= 2 && shape.0[shape.rank() - 2] == 1;
        let facts = NodeFacts {
            l: self,
            gr: &Grow::new(Ctx::Prologue, shape.clone()),
            n: a,
            is_root: false,
        };
        self.cast_on_load(a).is_none()
            && policy::operand_prologue(&facts, vector, self.unstaged_row_values(a))
    }

    /// True if A (`a`) reads a reduction's per-row values that its prologue could not compute
    /// as stages: a reduction under it through elementwise ops and views (not below a
    /// product, attention or scan, which store their results) that is not a float fold over
    /// A's last axis broadcast back over it ([`Lowering::try_row_broadcast`] in a prologue,
    /// whose decisions this foresees), any where that axis is 1 (no broadcast to fold), or
    /// any whose per-row values are read outside A (or are a graph output): those are stored,
    /// and the row kernel that computes A stores them as its extra outputs.
    fn unstaged_row_values(&self, a: NodeId) -> bool {
        let shape = self.g.node(a).shape();
        let last = shape.rank() - 1;
        let row = Grow::new(Ctx::Prologue, shape.clone());
        // What the prologue would compute: A and everything under it but stored results.
        let mut inside: HashSet<NodeId> = HashSet::new();
        let mut stack = vec![a];
        while let Some(x) = stack.pop() {
            if inside.insert(x) {
                stack.extend(self.row_chain(x).into_iter().flat_map(|c| self.g.srcs(c)));
            }
        }
        let private = |x: &NodeId| {
            !self.output_bases.contains(x)
                && self
                    .consumers
                    .get(x)
                    .is_none_or(|cs| cs.iter().all(|c| inside.contains(c)))
        };
        let mut seen: HashSet<NodeId> = HashSet::new();
        let mut stack = vec![a];
        while let Some(x) = stack.pop() {
            if !seen.insert(x) {
                continue;
            }
            match NodeClass::of(&self.g.node(x).op) {
                NodeClass::Reduce => return true,
                NodeClass::Source | NodeClass::Matmul | NodeClass::Attention | NodeClass::Scan => {}
                NodeClass::View => {
                    let base = self.strip_views(x);
                    let reductions = self.row_reductions(base);
                    if reductions.is_empty() {
                        stack.push(base);
                    } else if shape.0[last] <= 1
                        || !self.row_evaluable(&row, base, &[last])
                        || !self.row_folds(base)
                        || !self.row_chain(base).iter().all(private)
                    {
                        return true;
                    } else {
                        // The reductions' sources are computed over A's space.
                        stack.extend(reductions.iter().map(|&q| self.g.srcs(q)[0]));
                    }
                }
                NodeClass::IndexSource | NodeClass::Compute => stack.extend(self.g.srcs(x)),
            }
        }
        false
    }

    /// A float-to-float cast under matmul operand `n` (through views only) that the matmul can
    /// apply while loading: the cast and its source, if fusion is on and nothing else reads
    /// the cast, or its source is quantized blocks (decoded by every matmul that reads them,
    /// a split matmul's parts and tail both, since a dequantized copy is never stored).
    pub(super) fn cast_on_load(&self, n: NodeId) -> Option<(NodeId, NodeId)> {
        if !self.opts.enabled {
            return None;
        }
        let base = self.strip_views(n);
        let Op::Cast(to) = self.g.node(base).op else {
            return None;
        };
        let src = self.g.srcs(base)[0];
        let sole = self.consumers.get(&base).is_some_and(|c| c.len() == 1);
        let from = self.g.node(src).dtype();
        (to.is_float()
            && (from.is_float() || from.is_quantized())
            && (sole || from.is_quantized())
            && !self.output_bases.contains(&base))
        .then_some((base, src))
    }

    /// A matmul operand as an unmasked buffer view, the dtype the buffer holds (a fused cast's
    /// source dtype), and the rounding that cast applies on load (`None`: values are used as
    /// stored).
    pub(super) fn matmul_operand(
        &mut self,
        gr: &mut Grow,
        n: NodeId,
    ) -> Result<(BufRef, View, DType, Option<DType>)> {
        if let Some((cast, src)) = self.cast_on_load(n) {
            let mut chain = Vec::new();
            let mut x = n;
            while x != cast {
                if let Op::View(v) = &self.g.node(x).op {
                    chain.push((x, v.clone()));
                }
                x = self.g.srcs(x)[0];
            }
            let mut a = self.access(src, "source of a cast fused into a matmul")?;
            let mut prev = src;
            for (vn, v) in chain.iter().rev() {
                a = self.view_of(prev, a, v)?;
                prev = *vn;
                gr.cover(*vn);
            }
            gr.cover(cast);
            if let Access::Buf { buf, view } = a {
                if view.mask.is_none() {
                    let to = self.g.node(cast).dtype();
                    // Widening to f32 is exact: only narrowing needs rounding on load.
                    let round = (to != DType::F32).then_some(to);
                    return Ok((buf, view, self.g.node(src).dtype(), round));
                }
            }
        }
        let (b, v) = self.plain_access(n, StoreReason::MatmulOperand)?;
        Ok((b, v, self.g.node(n).dtype(), None))
    }

    /// A node as an unmasked buffer view, copying where needed (the operands of matmuls,
    /// attention, gathers and concats; `why` says which where it is stored).
    pub(super) fn plain_access(&mut self, n: NodeId, why: StoreReason) -> Result<(BufRef, View)> {
        match self.access(n, &why.to_string())? {
            Access::Buf { buf, view } if view.mask.is_none() => Ok((buf, view)),
            a => {
                let buf = self.materialize(a, n, &format!("a {why} needs a plain strided view"))?;
                Ok((buf, View::contiguous(self.g.node(n).shape())))
            }
        }
    }
}

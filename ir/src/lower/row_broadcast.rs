//! Row-broadcast absorption: a per-row value (a reduction over the kernel's space, or an
//! elementwise expression of such reductions) broadcast back over its rows is computed in the
//! same kernel, as a stage, instead of being stored and loaded (softmax, layer norm, ...).

use super::builder::{Ctx, Grow};
use super::policy::NodeClass;
use super::{is_view, Lowering};
use crate::kernel::{Expr, ExprId};
use crate::ops::{Op, ViewOp};
use crate::view::View;
use crate::{IrError, NodeId, Result, Shape};
use hashbrown::HashSet;
use smallvec::SmallVec;

impl Lowering<'_> {
    /// If view node `n` broadcasts a per-row value (a reduction over this kernel's space, or an
    /// elementwise expression of such reductions) back over the rows, fuses it as a stage.
    pub(super) fn try_row_broadcast(&mut self, gr: &mut Grow, n: NodeId) -> Result<Option<ExprId>> {
        if !self.opts.enabled
            || !matches!(
                gr.ctx,
                Ctx::Elementwise | Ctx::Row | Ctx::PermutedReduce | Ctx::Prologue
            )
        {
            return Ok(None);
        }
        // Compose the view chain over the base's contiguous layout.
        let mut chain = Vec::new();
        let mut x = n;
        while let Op::View(v) = &self.g.node(x).op {
            chain.push(v.clone());
            x = self.g.srcs(x)[0];
        }
        let base = x;
        let bshape = self.g.node(base).shape().clone();
        let mut view = View::contiguous(&bshape);
        for v in chain.iter().rev() {
            match view.apply(v) {
                Some(nv) => view = nv,
                None => return Ok(None),
            }
        }
        if view.mask.is_some() || view.offset != 0 || view.shape != gr.shape {
            return Ok(None);
        }
        // Which axes the view broadcasts: stride 0 on dims of size > 1.
        let r = gr.shape.rank();
        let axes: SmallVec<[usize; 6]> = (0..r)
            .filter(|&d| view.strides[d] == 0 && gr.shape.0[d] > 1)
            .collect();
        if axes.is_empty() {
            return Ok(None);
        }
        // The kept coordinates must address the base in row-major order.
        let kept: Vec<usize> = (0..r).filter(|d| !axes.contains(d)).collect();
        let kept_shape = Shape(kept.iter().map(|&d| gr.shape.0[d]).collect());
        let cs = kept_shape.contiguous_strides();
        if kept
            .iter()
            .enumerate()
            .any(|(i, &d)| gr.shape.0[d] > 1 && view.strides[d] != cs[i])
            || kept_shape.numel() != bshape.numel()
        {
            return Ok(None);
        }
        match gr.ctx {
            Ctx::Elementwise => {
                let trailing = axes
                    .iter()
                    .enumerate()
                    .all(|(i, &a)| a == r - axes.len() + i);
                if !trailing || gr.matmul.is_some() {
                    return Ok(None);
                }
            }
            // A matmul's prologue: float folds over A's row, `k`, the last axis.
            Ctx::Prologue => {
                let same = gr.axes.is_empty() || gr.axes == axes;
                if axes.as_slice() != [r - 1] || !same || !self.row_folds(base) {
                    return Ok(None);
                }
            }
            Ctx::Row | Ctx::PermutedReduce | Ctx::Matmul | Ctx::Fixed => {
                if gr.axes != axes {
                    return Ok(None);
                }
            }
        }
        if !self.row_evaluable(gr, base, &axes) || !self.reads_reduction(base) {
            return Ok(None);
        }
        match gr.ctx {
            Ctx::Elementwise => {
                gr.ctx = Ctx::Row;
                gr.axes = axes.clone();
            }
            Ctx::Prologue => gr.axes = axes.clone(),
            Ctx::Row | Ctx::PermutedReduce | Ctx::Matmul | Ctx::Fixed => {}
        }
        let e = self.inline_row(gr, base)?;
        let mut x = n;
        while is_view(&self.g.node(x).op) {
            gr.cover(x);
            gr.memo.insert(x, e);
            x = self.g.srcs(x)[0];
        }
        Ok(Some(e))
    }

    /// True if `n` can be computed once per row of `gr` from stages and constants.
    pub(super) fn row_evaluable(&self, gr: &Grow, n: NodeId, axes: &[usize]) -> bool {
        if gr.memo.contains_key(&n) && gr.stage_of.contains_key(&n) {
            return true;
        }
        let node = self.g.node(n);
        match &node.op {
            Op::Const(_) => true,
            Op::Reduce { axes: qa, .. } => {
                let src = self.g.srcs(n)[0];
                qa.as_slice() == axes
                    && self.g.node(src).shape() == &gr.shape
                    && !self.access.contains_key(&n)
                    && !self.in_progress.contains(&n)
            }
            Op::View(v) => {
                let src = self.g.srcs(n)[0];
                let only_unit_dims = |a: &Shape, b: &Shape| {
                    a.0.iter()
                        .filter(|&&d| d != 1)
                        .eq(b.0.iter().filter(|&&d| d != 1))
                };
                let ok = match v {
                    ViewOp::Reshape(to) => only_unit_dims(to, self.g.node(src).shape()),
                    ViewOp::Expand(_) => {
                        matches!(self.g.node(self.strip_views(src)).op, Op::Const(_))
                    }
                    ViewOp::Permute(_)
                    | ViewOp::Slice(_)
                    | ViewOp::Pad { .. }
                    | ViewOp::Flip(_)
                    | ViewOp::Unfold { .. } => false,
                };
                ok && self.row_evaluable(gr, src, axes)
            }
            Op::Unary(_) | Op::Binary(_) | Op::Where | Op::Cast(_) => {
                !self.output_bases.contains(&n)
                    && !self.access.contains_key(&n)
                    && self
                        .g
                        .srcs(n)
                        .iter()
                        .all(|&s| self.row_evaluable(gr, s, axes))
            }
            // Values of the whole space, or kernels of their own: not once per row.
            Op::Input { .. }
            | Op::Arange { .. }
            | Op::Rand { .. }
            | Op::Scan(_)
            | Op::Concat { .. }
            | Op::Gather { .. }
            | Op::Matmul
            | Op::Attention(_) => false,
        }
    }

    /// True if a reduction lies under `n` (through elementwise ops and views).
    pub(super) fn reads_reduction(&self, n: NodeId) -> bool {
        let mut seen: HashSet<NodeId> = HashSet::new();
        let mut stack = vec![n];
        while let Some(x) = stack.pop() {
            if !seen.insert(x) {
                continue;
            }
            match &self.g.node(x).op {
                Op::Reduce { .. } => return true,
                Op::Const(_) | Op::Input { .. } => {}
                _ => stack.extend(self.g.srcs(x)),
            }
        }
        false
    }

    /// True if every reduction under `n` ([`Self::row_reductions`]) folds floats: a sum, mean,
    /// product, minimum, maximum or log-sum-exp, not an argmax or argmin (which a matmul's
    /// prologue does not take as a stage).
    pub(super) fn row_folds(&self, n: NodeId) -> bool {
        self.row_reductions(n).into_iter().all(|q| {
            let node = self.g.node(q);
            matches!(&node.op, Op::Reduce { op, .. } if !op.is_arg()) && node.dtype().is_float()
        })
    }

    /// The reductions under `n` through elementwise ops and views only (not below a product,
    /// attention or scan, which store their results, nor below another reduction).
    pub(super) fn row_reductions(&self, n: NodeId) -> Vec<NodeId> {
        self.row_chain(n)
            .into_iter()
            .filter(|&x| NodeClass::of(&self.g.node(x).op) == NodeClass::Reduce)
            .collect()
    }

    /// `n` and the nodes under it through elementwise ops and views, down to the reductions
    /// (included) and the sources, products, attention and scans (left out).
    pub(super) fn row_chain(&self, n: NodeId) -> Vec<NodeId> {
        let mut chain = Vec::new();
        let mut seen: HashSet<NodeId> = HashSet::new();
        let mut stack = vec![n];
        while let Some(x) = stack.pop() {
            if !seen.insert(x) {
                continue;
            }
            match NodeClass::of(&self.g.node(x).op) {
                NodeClass::Reduce => chain.push(x),
                NodeClass::Source | NodeClass::Matmul | NodeClass::Attention | NodeClass::Scan => {}
                NodeClass::View | NodeClass::IndexSource | NodeClass::Compute => {
                    chain.push(x);
                    stack.extend(self.g.srcs(x))
                }
            }
        }
        chain
    }

    /// Inlines a row-evaluable node (see [`Self::row_evaluable`]).
    pub(super) fn inline_row(&mut self, gr: &mut Grow, n: NodeId) -> Result<ExprId> {
        if let Some(&e) = gr.memo.get(&n) {
            return Ok(e);
        }
        let node = self.g.node(n).clone();
        let dtype = node.dtype();
        let srcs = self.g.srcs(n);
        let e = match &node.op {
            Op::Const(s) => gr.b.expr(Expr::Const(s.to_dtype(dtype)), dtype),
            Op::Reduce { .. } => return self.add_stage(gr, n),
            Op::View(_) => self.inline_row(gr, srcs[0])?,
            Op::Unary(u) => {
                let a = self.inline_row(gr, srcs[0])?;
                gr.b.expr(Expr::Unary(*u, a), dtype)
            }
            Op::Binary(o) => {
                let a = self.inline_row(gr, srcs[0])?;
                let b = self.inline_row(gr, srcs[1])?;
                gr.b.expr(Expr::Binary(*o, a, b), dtype)
            }
            Op::Where => {
                let c = self.inline_row(gr, srcs[0])?;
                let a = self.inline_row(gr, srcs[1])?;
                let b = self.inline_row(gr, srcs[2])?;
                gr.b.expr(Expr::Where(c, a, b), dtype)
            }
            Op::Cast(_) => {
                let a = self.inline_row(gr, srcs[0])?;
                gr.b.expr(Expr::Cast(a), dtype)
            }
            other => return Err(IrError::Verify(format!("{} is not per-row", other.name()))),
        };
        gr.memo.insert(n, e);
        gr.cover(n);
        Ok(e)
    }
}

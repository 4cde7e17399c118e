//! Growing a kernel from its root: each operand is either computed in the kernel or read
//! from memory, as [`super::policy::decide`] says; reductions join as stages, siblings over
//! the same space join as extra stages, and fused values needed elsewhere become extra
//! outputs.

use super::builder::{Access, Ctx, Grow};
use super::facts::NodeFacts;
use super::matmul::Reader;
use super::policy::NodeClass;
use super::policy::{self, Boundary, Decision, StoreReason};
use super::Lowering;
use crate::kernel::{Expr, ExprId, Output, Stage, StageId, Store};
use crate::ops::{Op, ViewOp};
use crate::{DType, IrError, NodeId, Result, Scalar};
use smallvec::SmallVec;

impl Lowering<'_> {
    /// Builds the kernel rooted at computing node `root` (and whatever fuses into it).
    pub(super) fn build_root(&mut self, root: NodeId, why: &str) -> Result<()> {
        self.in_progress.insert(root);
        let node = self.g.node(root).clone();
        let srcs = self.g.srcs(root);
        let result = match &node.op {
            Op::Reduce { axes, .. } => {
                let in_shape = self.g.node(srcs[0]).shape().clone();
                let trailing = axes
                    .iter()
                    .enumerate()
                    .all(|(i, &a)| a == in_shape.rank() - axes.len() + i);
                let ctx = if trailing {
                    Ctx::Row
                } else {
                    Ctx::PermutedReduce
                };
                let mut gr = Grow::new(ctx, in_shape.clone());
                gr.axes = axes.clone();
                let acc = self.add_stage(&mut gr, root)?;
                let mut outs = vec![(
                    Output {
                        dtype: node.dtype(),
                        expr: acc,
                        store: Store::Row,
                    },
                    Some(root),
                )];
                if self.opts.enabled {
                    self.add_sibling_stages(&mut gr, root, srcs[0], &mut outs)?;
                }
                self.add_stored_extras(&mut gr, &mut outs, &[root]);
                self.finish(gr, outs, format!("reduction ({why})"))
            }
            Op::Matmul => {
                let mut gr = Grow::new(Ctx::Matmul, node.shape().clone());
                let acc = self.absorb_matmul(&mut gr, root)?;
                let outs = vec![(
                    Output {
                        dtype: node.dtype(),
                        expr: acc,
                        store: Store::Full,
                    },
                    Some(root),
                )];
                self.finish(gr, outs, format!("matmul ({why})"))
            }
            Op::Attention(att) => {
                let mut gr = Grow::new(Ctx::Fixed, node.shape().clone());
                let mut loads = SmallVec::<[crate::kernel::LoadId; 4]>::new();
                let others = srcs.len() - 1;
                // Attention folds no stage: a q that would is stored instead.
                let q_prologue = match self.attention_prologue(srcs[0], others) {
                    true => self.grow_operand(&mut gr, srcs[0], others, Reader::Attention)?,
                    false => None,
                };
                let q_prologue = q_prologue.map(|(l, e, _)| {
                    loads.push(l);
                    e
                });
                for &s in &srcs[loads.len()..] {
                    let (buf, view) = self.plain_access(s, StoreReason::AttentionOperand)?;
                    loads.push(self.load_operand(&mut gr, s, buf, view));
                }
                let scale = gr.b.expr(Expr::Const(att.scale), DType::F32);
                let kind = crate::kernel::KernelKind::Attention {
                    q: loads[0],
                    k: loads[1],
                    v: loads[2],
                    mask: loads.get(3).copied(),
                    scale,
                    causal: att.causal,
                    partial: att.splits > 1,
                    q_prologue,
                };
                self.finish_fixed(gr, root, kind, format!("{} ({why})", att.name()))
            }
            &Op::Scan(op) => {
                let mut gr = Grow::new(Ctx::Fixed, node.shape().clone());
                let src = srcs[0];
                let dtype = self.g.node(src).dtype();
                let value = match self.access(src, &StoreReason::ScanOperand.to_string())? {
                    Access::Buf { buf, view } => {
                        let l = self.load_operand(&mut gr, src, buf, view);
                        gr.b.expr(Expr::Load(l), dtype)
                    }
                    Access::Const(c) => gr.b.expr(Expr::Const(c), dtype),
                };
                let kind = crate::kernel::KernelKind::Scan { op, expr: value };
                self.finish_fixed(gr, root, kind, format!("{} ({why})", op.name()))
            }
            op if NodeClass::of(op).is_elementwise() => {
                let mut gr = Grow::new(Ctx::Elementwise, node.shape().clone());
                let e = self.inline(&mut gr, root, true)?;
                let mut outs = vec![(
                    Output {
                        dtype: node.dtype(),
                        expr: e,
                        store: Store::Full,
                    },
                    Some(root),
                )];
                self.add_stored_extras(&mut gr, &mut outs, &[root]);
                let kind = match gr.ctx {
                    Ctx::Matmul => "matmul with epilogue",
                    Ctx::Row => "row kernel: reductions broadcast back over their rows",
                    Ctx::Elementwise | Ctx::PermutedReduce | Ctx::Fixed | Ctx::Prologue => {
                        "elementwise"
                    }
                };
                self.finish(gr, outs, format!("{kind} ({why})"))
            }
            other => Err(IrError::Verify(format!(
                "{} cannot root a kernel",
                other.name()
            ))),
        };
        self.in_progress.remove(&root);
        result.map(|_| ())
    }

    /// A load of operand `src` (a buffer seen through `view`) in a kernel of its own; a
    /// computed operand is a boundary the kernel reads from memory.
    fn load_operand(
        &self,
        gr: &mut Grow,
        src: NodeId,
        buf: super::plan::BufRef,
        view: crate::View,
    ) -> crate::kernel::LoadId {
        let base = self.strip_views(src);
        if !matches!(self.g.node(base).op, Op::Input { .. }) {
            gr.boundaries.push((base, Boundary::AlreadyComputed));
        }
        gr.b.load_distinct(buf, self.g.node(src).dtype(), view)
    }

    /// Finishes a `Ctx::Fixed` kernel of `kind` whose one output is its result (`Acc(0)`).
    fn finish_fixed(
        &mut self,
        mut gr: Grow,
        root: NodeId,
        kind: crate::kernel::KernelKind,
        why: String,
    ) -> Result<Vec<usize>> {
        let dtype = self.g.node(root).dtype();
        let acc = gr.b.expr(Expr::Acc(StageId::new(0)), dtype);
        gr.fixed = Some(kind);
        gr.cover(root);
        let outs = vec![(
            Output {
                dtype,
                expr: acc,
                store: Store::Full,
            },
            Some(root),
        )];
        self.finish(gr, outs, why)
    }

    /// Adds outputs for fused reductions and matmuls that are also needed outside this kernel
    /// (or are graph outputs): they are stored, never recomputed.
    pub(super) fn add_stored_extras(
        &self,
        gr: &mut Grow,
        outs: &mut Vec<(Output, Option<NodeId>)>,
        roots: &[NodeId],
    ) {
        let needed_outside = |n: NodeId| -> bool {
            self.output_bases.contains(&n)
                || self
                    .consumers
                    .get(&n)
                    .is_some_and(|cs| cs.iter().any(|c| !gr.covered_set.contains(c)))
        };
        let mut stage_nodes: Vec<(NodeId, StageId)> =
            gr.stage_of.iter().map(|(&n, &s)| (n, s)).collect();
        stage_nodes.sort_by_key(|x| x.1);
        for (n, _) in stage_nodes {
            if roots.contains(&n) || outs.iter().any(|o| o.1 == Some(n)) || !needed_outside(n) {
                continue;
            }
            if gr.b.input_count() + outs.len() + 1 > self.opts.max_storage_buffers {
                // No binding left: the reduction is recomputed by its other readers instead of
                // stored here (correct, and only past the adapter's limit).
                break;
            }
            outs.push(self.stored(gr, n, Store::Row));
        }
        if let Some((m, _, _)) = gr.matmul {
            if !roots.contains(&m) && needed_outside(m) {
                outs.push(self.stored(gr, m, Store::Full));
            }
        }
    }

    /// An extra output storing fused node `n`'s value (its expression in `gr`).
    pub(super) fn stored(&self, gr: &Grow, n: NodeId, store: Store) -> (Output, Option<NodeId>) {
        (
            Output {
                dtype: self.g.node(n).dtype(),
                expr: gr.memo[&n],
                store,
            },
            Some(n),
        )
    }

    /// Adds reduction `q` (over `gr`'s space and axes) as a stage; returns its `Acc` expr.
    pub(super) fn add_stage(&mut self, gr: &mut Grow, q: NodeId) -> Result<ExprId> {
        if let Some(&e) = gr.memo.get(&q) {
            return Ok(e);
        }
        let node = self.g.node(q).clone();
        let Op::Reduce { op, .. } = node.op else {
            return Err(IrError::Verify("stage of a non-reduction".into()));
        };
        let src = self.g.srcs(q)[0];
        let e = self.inline(gr, src, false)?;
        gr.stages.push(Stage { op, expr: e });
        let s = StageId::new(gr.first_acc + gr.stages.len() - 1);
        gr.stage_of.insert(q, s);
        let acc = gr.b.expr(Expr::Acc(s), node.dtype());
        gr.memo.insert(q, acc);
        gr.cover(q);
        Ok(acc)
    }

    /// Other reductions of the same space and axes that can join this kernel as stages.
    pub(super) fn add_sibling_stages(
        &mut self,
        gr: &mut Grow,
        root: NodeId,
        src: NodeId,
        outs: &mut Vec<(Output, Option<NodeId>)>,
    ) -> Result<()> {
        let siblings: Vec<NodeId> = self
            .consumers
            .get(&src)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|&c| {
                c != root
                    && !self.access.contains_key(&c)
                    && !self.in_progress.contains(&c)
                    && matches!(&self.g.node(c).op, Op::Reduce { axes, .. } if *axes == gr.axes)
                    && self.g.srcs(c)[0] == src
            })
            .collect();
        for c in siblings {
            // Each sibling adds an output binding: stop at the adapter's limit.
            if gr.b.input_count() + outs.len() + 1 > self.opts.max_storage_buffers {
                break;
            }
            let acc = self.add_stage(gr, c)?;
            outs.push((
                Output {
                    dtype: self.g.node(c).dtype(),
                    expr: acc,
                    store: Store::Row,
                },
                Some(c),
            ));
        }
        Ok(())
    }

    /// Reads `n` from memory, recording why it is a kernel boundary (`None`: a graph input
    /// or a constant, read where it is, which is no boundary).
    pub(super) fn read_boundary(
        &mut self,
        gr: &mut Grow,
        n: NodeId,
        why: Option<Boundary>,
    ) -> Result<ExprId> {
        let dtype = self.g.node(n).dtype();
        let text = why.as_ref().map_or_else(
            || "a graph input or constant".to_string(),
            Boundary::to_string,
        );
        let a = self.access(n, &text)?;
        let base = self.strip_views(n);
        if let Some(why) = why {
            if NodeClass::of(&self.g.node(base).op) != NodeClass::Source {
                gr.boundaries.push((base, why));
            }
        }
        let e = self.read(gr, &a, dtype);
        gr.memo.insert(n, e);
        Ok(e)
    }

    /// The operands `srcs` inlined in order, each with one binding reserved for every later
    /// operand that reads memory, so that an earlier operand cannot take the bindings a later
    /// one needs.
    pub(super) fn inline_operands(
        &mut self,
        gr: &mut Grow,
        srcs: &[NodeId],
    ) -> Result<SmallVec<[ExprId; 3]>> {
        let mut out = SmallVec::new();
        for (i, &s) in srcs.iter().enumerate() {
            let later = self.binding_operands(gr, &srcs[i + 1..]);
            gr.reserve += later;
            let e = self.inline(gr, s, false);
            gr.reserve -= later;
            out.push(e?);
        }
        Ok(out)
    }

    /// The expression of `n` inside the kernel being grown, fusing what the rules allow.
    pub(super) fn inline(&mut self, gr: &mut Grow, n: NodeId, is_root: bool) -> Result<ExprId> {
        if let Some(&e) = gr.memo.get(&n) {
            return Ok(e);
        }
        let node = self.g.node(n).clone();
        let dtype = node.dtype();
        let fits_above = gr.fits;
        let decision = policy::decide(&NodeFacts {
            l: self,
            gr,
            n,
            is_root,
        });
        match decision {
            Decision::Inline { subtree_fits } => gr.fits |= subtree_fits,
            Decision::Source => return self.read_boundary(gr, n, None),
            Decision::Boundary(why) => return self.read_boundary(gr, n, Some(why)),
        }
        let srcs = self.g.srcs(n);
        let e = match &node.op {
            Op::View(_) => {
                if let Some(e) = self.try_row_broadcast(gr, n)? {
                    e
                } else {
                    let base = self.strip_views(n);
                    let source = NodeClass::of(&self.g.node(base).op) == NodeClass::Source;
                    let why = policy::view_boundary(source, self.opts.enabled);
                    return self.read_boundary(gr, n, why);
                }
            }
            Op::Matmul => self.absorb_matmul(gr, n)?,
            Op::Unary(u) => {
                let a = self.inline_operands(gr, &srcs)?;
                gr.b.expr(Expr::Unary(*u, a[0]), dtype)
            }
            Op::Binary(o) => {
                let a = self.inline_operands(gr, &srcs)?;
                gr.b.expr(Expr::Binary(*o, a[0], a[1]), dtype)
            }
            Op::Where => {
                let a = self.inline_operands(gr, &srcs)?;
                gr.b.expr(Expr::Where(a[0], a[1], a[2]), dtype)
            }
            Op::Cast(_) => {
                let a = self.inline_operands(gr, &srcs)?;
                gr.b.expr(Expr::Cast(a[0]), dtype)
            }
            Op::Arange { start, step } => gr.b.expr(
                Expr::Arange {
                    start: *start,
                    step: *step,
                },
                dtype,
            ),
            Op::Rand { seed, dist } => gr.b.expr(
                Expr::Rand {
                    seed: *seed,
                    dist: *dist,
                },
                dtype,
            ),
            Op::Gather { axis } => {
                // The source is loaded after the index: one binding kept for it.
                gr.reserve += 1;
                let idx = self.inline(gr, srcs[1], false);
                gr.reserve -= 1;
                let idx = idx?;
                let (xb, xv) = self.plain_access(srcs[0], StoreReason::GatherSource)?;
                let base = self.strip_views(srcs[0]);
                if !matches!(self.g.node(base).op, Op::Input { .. }) {
                    gr.boundaries.push((base, Boundary::GatherSource));
                }
                let lx = gr.b.load(xb, dtype, xv);
                gr.b.expr(
                    Expr::Gather {
                        load: lx,
                        axis: *axis,
                        index: idx,
                    },
                    dtype,
                )
            }
            Op::Concat { axis } => {
                let total = node.shape().0[*axis];
                let mut parts: Vec<(ExprId, ExprId)> = Vec::new();
                let mut start = 0usize;
                for &s in srcs.iter() {
                    let sshape = self.g.node(s).shape().clone();
                    let len = sshape.0[*axis];
                    let mut before: SmallVec<[usize; 6]> = SmallVec::from_elem(0, sshape.rank());
                    let mut after = before.clone();
                    before[*axis] = start;
                    after[*axis] = total - start - len;
                    let pad = ViewOp::Pad {
                        before,
                        after,
                        value: Scalar::I(0),
                    };
                    let (buf, view) = self.plain_access(s, StoreReason::ConcatPart)?;
                    let base = self.strip_views(s);
                    if !matches!(self.g.node(base).op, Op::Input { .. }) {
                        gr.boundaries.push((base, Boundary::ConcatPart));
                    }
                    let pv = view
                        .apply(&pad)
                        .ok_or_else(|| IrError::Verify("pad failed".into()))?;
                    let l = gr.b.load(buf, dtype, pv);
                    let v = gr.b.expr(Expr::Load(l), dtype);
                    let ok = gr.b.expr(Expr::LoadValid(l), DType::Bool);
                    parts.push((ok, v));
                    start += len;
                }
                let mut e = parts
                    .last()
                    .map(|p| p.1)
                    .ok_or_else(|| IrError::Verify("concat without parts".into()))?;
                for &(ok, v) in parts.iter().rev().skip(1) {
                    e = gr.b.expr(Expr::Where(ok, v, e), dtype);
                }
                e
            }
            other => {
                return Err(IrError::Verify(format!("cannot inline {}", other.name())));
            }
        };
        gr.fits = fits_above;
        gr.memo.insert(n, e);
        gr.cover(n);
        Ok(e)
    }
}

//! Building one kernel: bindings, loads and expressions deduplicated as they are added
//! ([`KernelBuilder`]), the state of a kernel being grown from its root (`Grow`), reading a
//! node's value (a constant, or a view of a buffer, computing the buffer first if needed),
//! and emitting the grown kernel into the plan.

use super::plan::{BufRef, KernelCall};
use super::policy::Boundary;
use super::{is_view, Lowering};
use crate::kernel::{
    Expr, ExprId, ExprNode, InputId, Kernel, KernelKind, Load, LoadId, Output, OutputId, Prologue,
    Stage, StageId, Store,
};
use crate::ops::{Op, ViewOp};
use crate::view::View;
use crate::{DType, IrError, NodeId, Result, Scalar, Shape};
use hashbrown::{HashMap, HashSet};
use smallvec::SmallVec;

/// How a node's value can be read.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub(super) enum Access {
    /// Through a view of a buffer.
    Buf { buf: BufRef, view: View },
    /// A constant everywhere.
    Const(Scalar),
}

/// Builds one kernel: deduplicates bindings, loads and expressions.
#[derive(Clone, Default)]
pub struct KernelBuilder {
    inputs: Vec<BufRef>,
    input_dtypes: Vec<DType>,
    loads: Vec<Load>,
    exprs: Vec<ExprNode>,
}

impl KernelBuilder {
    /// Adds (or reuses) an expression.
    pub fn expr(&mut self, expr: Expr, dtype: DType) -> ExprId {
        let node = ExprNode { expr, dtype };
        if let Some(i) = self.exprs.iter().position(|e| *e == node) {
            return ExprId::new(i);
        }
        self.exprs.push(node);
        ExprId::new(self.exprs.len() - 1)
    }

    /// Adds a load that is never merged with an equal one (for kernels whose template
    /// addresses loads by position, like matmul's A and B).
    pub fn load_distinct(&mut self, buf: BufRef, dtype: DType, view: View) -> LoadId {
        let n = self.loads.len();
        let l = self.load(buf, dtype, view);
        if l.index() < n {
            let dup = self.loads[l.index()].clone();
            self.loads.push(dup);
            return LoadId::new(self.loads.len() - 1);
        }
        l
    }

    /// Adds (or reuses) a load of `buf` through `view`.
    pub fn load(&mut self, buf: BufRef, dtype: DType, view: View) -> LoadId {
        let input = match self.inputs.iter().position(|b| *b == buf) {
            Some(i) => InputId::new(i),
            None => {
                self.inputs.push(buf);
                self.input_dtypes.push(dtype);
                InputId::new(self.inputs.len() - 1)
            }
        };
        let load = Load { input, view };
        if let Some(i) = self.loads.iter().position(|l| *l == load) {
            return LoadId::new(i);
        }
        self.loads.push(load);
        LoadId::new(self.loads.len() - 1)
    }

    /// Distinct buffers bound so far.
    pub fn input_count(&self) -> usize {
        self.inputs.len()
    }

    /// The loads that `root` reads plainly (not through gathers), in expression order.
    pub fn loads_read(&self, root: ExprId) -> Vec<LoadId> {
        let need = crate::kernel::needed(&self.exprs, &[root]);
        self.exprs
            .iter()
            .zip(need)
            .filter(|(_, n)| *n)
            .filter_map(|(e, _)| {
                if let Expr::Load(l) = e.expr {
                    Some(l)
                } else {
                    None
                }
            })
            .collect()
    }

    /// The shape of load `l`'s view.
    pub fn load_shape(&self, l: LoadId) -> &Shape {
        &self.loads[l.index()].view.shape
    }

    /// Whether the kernel binds `buf` already.
    pub fn binds(&self, buf: &BufRef) -> bool {
        self.inputs.contains(buf)
    }

    /// The dtype of load `l`'s buffer.
    pub fn load_dtype(&self, l: LoadId) -> DType {
        self.input_dtypes[self.loads[l.index()].input.index()]
    }
}

/// The kernel being grown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ctx {
    /// One point per element of the root's shape.
    Elementwise,
    /// A reduce kernel over the same space with the reduced axes innermost (identity order).
    Row,
    /// A reduce kernel whose reduced axes are not innermost: loads are permuted at the end,
    /// and nothing may depend on the linear index.
    PermutedReduce,
    /// A matmul with an epilogue.
    Matmul,
    /// A kernel whose kind is set when it starts, computing one node from loaded operands
    /// (fused attention, scans): the kind is in `Grow::fixed`.
    Fixed,
    /// A matmul's operand A computed where the product reads it, over A's space: elementwise,
    /// with row broadcasts of folds over A's last axis as stages (no matmul); grown inside the
    /// matmul's kernel, never finished on its own.
    Prologue,
}

pub(super) struct Grow {
    pub(super) b: KernelBuilder,
    pub(super) ctx: Ctx,
    /// The iteration space in natural (unpermuted) order.
    pub(super) shape: Shape,
    /// Reduced axes (sorted) for reduce contexts.
    pub(super) axes: SmallVec<[usize; 6]>,
    pub(super) stages: Vec<Stage>,
    /// The accumulator of the first stage: 0, or 1 in a matmul's prologue (whose product is
    /// `Acc(0)`).
    pub(super) first_acc: usize,
    pub(super) stage_of: HashMap<NodeId, StageId>,
    pub(super) matmul: Option<(NodeId, LoadId, LoadId)>,
    pub(super) matmul_round: (Option<DType>, Option<DType>),
    /// The matmul's operand prologue (A computed where it is read).
    pub(super) prologue: Option<Prologue>,
    /// The kind of a `Ctx::Fixed` kernel, once its operands are loaded.
    pub(super) fixed: Option<KernelKind>,
    pub(super) memo: HashMap<NodeId, ExprId>,
    pub(super) covered: Vec<NodeId>,
    pub(super) covered_set: HashSet<NodeId>,
    pub(super) boundaries: Vec<(NodeId, Boundary)>,
    /// Bindings promised to operands not inlined yet (of the ops being inlined above).
    pub(super) reserve: usize,
    /// True below a node whose whole subtree was found to fit the bindings left.
    pub(super) fits: bool,
}

impl Grow {
    pub(super) fn new(ctx: Ctx, shape: Shape) -> Self {
        Grow {
            b: KernelBuilder::default(),
            ctx,
            shape,
            axes: SmallVec::new(),
            stages: Vec::new(),
            first_acc: 0,
            stage_of: HashMap::new(),
            matmul: None,
            matmul_round: (None, None),
            prologue: None,
            fixed: None,
            memo: HashMap::new(),
            covered: Vec::new(),
            covered_set: HashSet::new(),
            boundaries: Vec::new(),
            reserve: 0,
            fits: false,
        }
    }

    pub(super) fn cover(&mut self, n: NodeId) {
        if self.covered_set.insert(n) {
            self.covered.push(n);
        }
    }
}

impl Lowering<'_> {
    /// Reads an access inside a kernel being grown.
    pub(super) fn read(&self, gr: &mut Grow, a: &Access, dtype: DType) -> ExprId {
        match a {
            Access::Const(s) => gr.b.expr(Expr::Const(*s), dtype),
            Access::Buf { buf, view } => {
                let l = gr.b.load(*buf, dtype, view.clone());
                gr.b.expr(Expr::Load(l), dtype)
            }
        }
    }

    /// How to read `n` as a buffer view, computing it in a kernel of its own if needed.
    pub(super) fn access(&mut self, n: NodeId, why: &str) -> Result<Access> {
        if let Some(a) = self.access.get(&n) {
            return Ok(a.clone());
        }
        let node = self.g.node(n).clone();
        let a = match &node.op {
            Op::Input { slot } => Access::Buf {
                buf: BufRef::Input(*slot),
                view: View::contiguous(node.shape()),
            },
            Op::Const(s) => Access::Const(s.to_dtype(node.dtype())),
            Op::View(v) => {
                let src = self.g.srcs(n)[0];
                let sa = self.access(src, why)?;
                self.view_of(src, sa, v)?
            }
            _ => {
                if self.in_progress.contains(&n) {
                    return Err(IrError::Verify(format!(
                        "node {} is needed while its own kernel is being built ({why})",
                        n.index()
                    )));
                }
                self.build_root(n, why)?;
                return self
                    .access
                    .get(&n)
                    .cloned()
                    .ok_or_else(|| IrError::Verify("a built kernel left no buffer".into()));
            }
        };
        self.access.insert(n, a.clone());
        Ok(a)
    }

    pub(super) fn view_of(&mut self, src: NodeId, a: Access, v: &ViewOp) -> Result<Access> {
        match a {
            Access::Const(s) => match v {
                ViewOp::Pad { value, .. } if value.to_dtype(self.g.node(src).dtype()) != s => {
                    let buf = self.materialize(
                        Access::Const(s),
                        src,
                        "a constant padded with another value",
                    )?;
                    let base = View::contiguous(self.g.node(src).shape());
                    Ok(Access::Buf {
                        buf,
                        view: base.apply(v).ok_or_else(|| {
                            IrError::Verify("view of a contiguous buffer failed".into())
                        })?,
                    })
                }
                _ => Ok(Access::Const(s)),
            },
            Access::Buf { buf, view } => {
                if let Some(nv) = view.apply(v) {
                    return Ok(Access::Buf { buf, view: nv });
                }
                let reason = format!("no single view describes {} of this view", v.name());
                let b2 = self.materialize(Access::Buf { buf, view }, src, &reason)?;
                let base = View::contiguous(self.g.node(src).shape());
                let nv = base
                    .apply(v)
                    .ok_or_else(|| IrError::Verify("view of a contiguous buffer failed".into()))?;
                Ok(Access::Buf { buf: b2, view: nv })
            }
        }
    }

    /// Copies an access into a fresh contiguous buffer of node `n`'s shape.
    pub(super) fn materialize(&mut self, a: Access, n: NodeId, reason: &str) -> Result<BufRef> {
        let node = self.g.node(n).clone();
        let mut gr = Grow::new(Ctx::Elementwise, node.shape().clone());
        let e = self.read(&mut gr, &a, node.dtype());
        gr.cover(n);
        let outs = vec![(
            Output {
                dtype: node.dtype(),
                expr: e,
                store: Store::Full,
            },
            None,
        )];
        let t = self.finish(gr, outs, format!("copy: {reason}"))?;
        Ok(BufRef::Temp(t[0]))
    }

    /// Emits the kernel grown in `gr` with its outputs (each optionally the value of a node,
    /// whose access becomes the output buffer). Returns the output temps.
    pub(super) fn finish(
        &mut self,
        gr: Grow,
        outputs: Vec<(Output, Option<NodeId>)>,
        reason: String,
    ) -> Result<Vec<usize>> {
        if let Some(o) = outputs.iter().find(|(o, _)| o.dtype.is_quantized()) {
            return Err(IrError::UnsupportedDType {
                op: "store",
                dtype: o.0.dtype,
                why: "quantized values are read, never stored (cast to a float dtype first)",
            });
        }
        let Grow {
            b,
            ctx,
            shape,
            axes,
            stages,
            covered,
            boundaries,
            matmul,
            matmul_round,
            prologue,
            fixed,
            ..
        } = gr;
        let (kind, iter_shape, loads, exprs) = match ctx {
            Ctx::Elementwise => (KernelKind::Elementwise, shape.clone(), b.loads, b.exprs),
            Ctx::Matmul => {
                let (m, a, bb) = matmul
                    .ok_or_else(|| IrError::Verify("matmul kernel without a matmul".into()))?;
                if !stages.is_empty() {
                    return Err(IrError::Verify("matmul with stages".into()));
                }
                let dtype = self.g.node(m).dtype();
                (
                    KernelKind::Matmul {
                        a,
                        b: bb,
                        dtype,
                        a_round: matmul_round.0,
                        b_round: matmul_round.1,
                        prologue,
                    },
                    shape.clone(),
                    b.loads,
                    b.exprs,
                )
            }
            Ctx::Prologue => {
                return Err(IrError::Verify(
                    "a prologue is finished as its matmul's kernel, not alone".into(),
                ))
            }
            Ctx::Fixed => (
                fixed.ok_or_else(|| IrError::Verify("a fixed kernel without its kind".into()))?,
                shape.clone(),
                b.loads,
                b.exprs,
            ),
            Ctx::Row | Ctx::PermutedReduce => {
                let mut perm: SmallVec<[usize; 6]> =
                    (0..shape.rank()).filter(|d| !axes.contains(d)).collect();
                perm.extend(axes.iter().copied());
                let permute = ViewOp::Permute(perm.clone());
                let loads = b
                    .loads
                    .into_iter()
                    .map(|l| {
                        Ok(Load {
                            input: l.input,
                            view: l
                                .view
                                .apply(&permute)
                                .ok_or_else(|| IrError::Verify("permute failed".into()))?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                let exprs = b
                    .exprs
                    .into_iter()
                    .map(|mut e| {
                        if let Expr::Gather { axis, .. } = &mut e.expr {
                            *axis = perm.iter().position(|&p| p == *axis).unwrap_or(*axis);
                        }
                        e
                    })
                    .collect();
                let iter_shape = Shape(perm.iter().map(|&d| shape.0[d]).collect());
                (
                    KernelKind::Reduce {
                        red_rank: axes.len(),
                        stages,
                    },
                    iter_shape,
                    loads,
                    exprs,
                )
            }
        };
        let name = covered
            .iter()
            .filter(|&&n| !is_view(&self.g.node(n).op))
            .map(|&n| self.g.node(n).op.name())
            .collect::<Vec<_>>()
            .join("+");
        let mut kernel = Kernel {
            name: if name.is_empty() { "copy".into() } else { name },
            kind,
            shape: iter_shape,
            inputs: b.input_dtypes,
            loads,
            exprs,
            outputs: outputs.iter().map(|o| o.0.clone()).collect(),
            vector: 1,
            inplace: None,
        };
        kernel.choose_vector();
        let mut temps = Vec::new();
        for (i, (o, node)) in outputs.iter().enumerate() {
            let t = self.temp(o.dtype, kernel.output_numel(OutputId::new(i)));
            temps.push(t);
            if let Some(n) = node {
                let nshape = self.g.node(*n).shape().clone();
                self.access.insert(
                    *n,
                    Access::Buf {
                        buf: BufRef::Temp(t),
                        view: View::contiguous(&nshape),
                    },
                );
            }
        }
        if kernel.name.len() > 120 {
            kernel.name.truncate(117);
            kernel.name.push_str("...");
        }
        self.prog.calls.push(KernelCall {
            kernel,
            inputs: b.inputs,
            outputs: temps.clone(),
            nodes: covered,
            reason,
            boundaries,
        });
        Ok(temps)
    }
}

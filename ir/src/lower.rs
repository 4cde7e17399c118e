//! Lowering a graph to kernels. Movement ops never become kernels: they compose into the view
//! through which the next kernel reads ([`View::apply`]); a copy kernel is made only where no
//! single view can describe the result. Constants are inlined into their readers. Every other
//! op becomes one kernel here; fusion (grouping several ops into one kernel) builds on the same
//! [`KernelBuilder`].

use crate::kernel::{Expr, ExprId, ExprNode, Kernel, KernelKind, Load};
use crate::ops::{Op, ViewOp};
use crate::view::View;
use crate::{DType, Graph, NodeId, Result, Scalar, Shape};
use hashbrown::HashMap;
use smallvec::SmallVec;

/// A buffer a kernel reads or writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BufRef {
    /// The graph input of this slot.
    Input(u32),
    /// A buffer the program allocates (index into [`Program::temps`]).
    Temp(usize),
}

/// A buffer the program allocates.
#[derive(Clone, Debug, PartialEq)]
pub struct TempInfo {
    /// Element type.
    pub dtype: DType,
    /// Element count.
    pub numel: usize,
}

/// One kernel launch: the kernel, its bindings and the graph nodes it computes.
#[derive(Clone, Debug)]
pub struct KernelCall {
    /// The kernel.
    pub kernel: Kernel,
    /// Buffers bound to the kernel's inputs, in order.
    pub inputs: Vec<BufRef>,
    /// Temp buffers bound to the kernel's outputs, in order.
    pub outputs: Vec<usize>,
    /// The graph nodes computed inside (movement ops folded into its loads included).
    pub nodes: Vec<NodeId>,
    /// Why this kernel ends where it does.
    pub reason: String,
}

/// A lowered graph: kernel launches in execution order, the buffers they need, and where each
/// graph output ends up (a contiguous buffer and the output's shape).
#[derive(Clone, Debug, Default)]
pub struct Program {
    /// Launches, in order.
    pub calls: Vec<KernelCall>,
    /// Buffers to allocate.
    pub temps: Vec<TempInfo>,
    /// Per graph output: its buffer, dtype and shape.
    pub outputs: Vec<(BufRef, DType, Shape)>,
}

/// How a node's value can be read.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
enum Access {
    /// Through a view of a buffer.
    Buf { buf: BufRef, view: View },
    /// A constant everywhere.
    Const(Scalar),
}

/// Builds one kernel: deduplicates bindings, loads and expressions.
#[derive(Default)]
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
            return i;
        }
        self.exprs.push(node);
        self.exprs.len() - 1
    }

    /// Adds a load that is never merged with an equal one (for kernels whose template
    /// addresses loads by position, like matmul's A and B).
    pub fn load_distinct(&mut self, buf: BufRef, dtype: DType, view: View) -> usize {
        let n = self.loads.len();
        let l = self.load(buf, dtype, view);
        if l < n {
            let dup = self.loads[l].clone();
            self.loads.push(dup);
            return self.loads.len() - 1;
        }
        l
    }

    /// Adds (or reuses) a load of `buf` through `view`, returning the load index.
    pub fn load(&mut self, buf: BufRef, dtype: DType, view: View) -> usize {
        let input = match self.inputs.iter().position(|b| *b == buf) {
            Some(i) => i,
            None => {
                self.inputs.push(buf);
                self.input_dtypes.push(dtype);
                self.inputs.len() - 1
            }
        };
        let load = Load { input, view };
        if let Some(i) = self.loads.iter().position(|l| *l == load) {
            return i;
        }
        self.loads.push(load);
        self.loads.len() - 1
    }

    /// Finishes the kernel.
    pub fn finish(
        self,
        name: String,
        kind: KernelKind,
        shape: Shape,
        outputs: Vec<(DType, ExprId)>,
    ) -> (Kernel, Vec<BufRef>) {
        (
            Kernel {
                name,
                kind,
                shape,
                inputs: self.input_dtypes,
                loads: self.loads,
                exprs: self.exprs,
                outputs,
            },
            self.inputs,
        )
    }
}

/// Lowers a graph with one kernel per computing op.
pub fn lower_unfused(graph: &Graph) -> Result<Program> {
    Lowering::new(graph).run()
}

struct Lowering<'g> {
    g: &'g Graph,
    prog: Program,
    access: HashMap<NodeId, Access>,
}

impl<'g> Lowering<'g> {
    fn new(g: &'g Graph) -> Self {
        Lowering {
            g,
            prog: Program::default(),
            access: HashMap::new(),
        }
    }

    fn run(mut self) -> Result<Program> {
        for n in self.g.topo() {
            let a = self.lower_node(n)?;
            self.access.insert(n, a);
        }
        for &o in self.g.outputs() {
            let node = self.g.node(o);
            let buf = match self.access[&o].clone() {
                Access::Buf {
                    buf: BufRef::Temp(t),
                    view,
                } if view.is_contiguous()
                    && view.offset == 0
                    && self.prog.temps[t].numel == node.shape().numel() =>
                {
                    BufRef::Temp(t)
                }
                a => self.materialize(a, o, "graph output needs its own contiguous buffer")?,
            };
            self.prog
                .outputs
                .push((buf, node.dtype(), node.shape().clone()));
        }
        Ok(self.prog)
    }

    fn temp(&mut self, dtype: DType, numel: usize) -> usize {
        self.prog.temps.push(TempInfo { dtype, numel });
        self.prog.temps.len() - 1
    }

    fn read(&self, b: &mut KernelBuilder, a: &Access, dtype: DType) -> ExprId {
        match a {
            Access::Const(s) => b.expr(Expr::Const(*s), dtype),
            Access::Buf { buf, view } => {
                let l = b.load(*buf, dtype, view.clone());
                b.expr(Expr::Load(l), dtype)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        b: KernelBuilder,
        kind: KernelKind,
        shape: Shape,
        out: (DType, ExprId),
        out_numel: usize,
        nodes: Vec<NodeId>,
        reason: &str,
    ) -> BufRef {
        let name = nodes
            .iter()
            .map(|&n| self.g.node(n).op.name())
            .collect::<Vec<_>>()
            .join("+");
        let (kernel, inputs) = b.finish(name, kind, shape, vec![out]);
        let t = self.temp(out.0, out_numel);
        self.prog.calls.push(KernelCall {
            kernel,
            inputs,
            outputs: vec![t],
            nodes,
            reason: reason.to_string(),
        });
        BufRef::Temp(t)
    }

    /// Writes a node's current access into a fresh contiguous buffer.
    fn materialize(&mut self, a: Access, n: NodeId, reason: &str) -> Result<BufRef> {
        let node = self.g.node(n);
        let mut b = KernelBuilder::default();
        let e = self.read(&mut b, &a, node.dtype());
        Ok(self.emit(
            b,
            KernelKind::Elementwise,
            node.shape().clone(),
            (node.dtype(), e),
            node.shape().numel(),
            vec![n],
            reason,
        ))
    }

    /// The node's access as an unmasked buffer view, copying where needed.
    fn buf_access(&mut self, src: NodeId, allow_mask: bool) -> Result<(BufRef, View)> {
        match self.access[&src].clone() {
            Access::Buf { buf, view } if allow_mask || view.mask.is_none() => Ok((buf, view)),
            a => {
                let buf = self.materialize(a, src, "the reader needs a plain strided view")?;
                Ok((buf, View::contiguous(self.g.node(src).shape())))
            }
        }
    }

    fn lower_node(&mut self, n: NodeId) -> Result<Access> {
        let node = self.g.node(n).clone();
        let srcs: SmallVec<[NodeId; 4]> = self.g.srcs(n);
        let dtype = node.dtype();
        let shape = node.shape().clone();
        let numel = shape.numel();
        let single = |me: &mut Self, expr: Expr, reason: &str| -> Access {
            let mut b = KernelBuilder::default();
            let e = b.expr(expr, dtype);
            let buf = me.emit(
                b,
                KernelKind::Elementwise,
                shape.clone(),
                (dtype, e),
                numel,
                vec![n],
                reason,
            );
            Access::Buf {
                buf,
                view: View::contiguous(&shape),
            }
        };
        Ok(match &node.op {
            Op::Input { slot } => Access::Buf {
                buf: BufRef::Input(*slot),
                view: View::contiguous(&shape),
            },
            Op::Const(s) => Access::Const(s.to_dtype(dtype)),
            Op::Arange { start, step } => single(
                self,
                Expr::Arange {
                    start: *start,
                    step: *step,
                },
                "source op",
            ),
            Op::Rand { seed, dist } => single(
                self,
                Expr::Rand {
                    seed: *seed,
                    dist: *dist,
                },
                "source op",
            ),
            Op::View(v) => self.lower_view(n, srcs[0], v)?,
            Op::Unary(_) | Op::Binary(_) | Op::Where | Op::Cast(_) => {
                let mut b = KernelBuilder::default();
                let ids: SmallVec<[ExprId; 3]> = srcs
                    .iter()
                    .map(|&s| {
                        let a = self.access[&s].clone();
                        self.read(&mut b, &a, self.g.node(s).dtype())
                    })
                    .collect();
                let expr = match &node.op {
                    Op::Unary(u) => Expr::Unary(*u, ids[0]),
                    Op::Binary(o) => Expr::Binary(*o, ids[0], ids[1]),
                    Op::Where => Expr::Where(ids[0], ids[1], ids[2]),
                    _ => Expr::Cast(ids[0]),
                };
                let e = b.expr(expr, dtype);
                let buf = self.emit(
                    b,
                    KernelKind::Elementwise,
                    shape.clone(),
                    (dtype, e),
                    numel,
                    vec![n],
                    "one kernel per op (fusion off)",
                );
                Access::Buf {
                    buf,
                    view: View::contiguous(&shape),
                }
            }
            Op::Reduce { op, axes, .. } => {
                let src_shape = self.g.node(srcs[0]).shape().clone();
                let src_dtype = self.g.node(srcs[0]).dtype();
                let (buf, view) = self.buf_access(srcs[0], true)?;
                let mut perm: SmallVec<[usize; 6]> = (0..src_shape.rank())
                    .filter(|d| !axes.contains(d))
                    .collect();
                perm.extend(axes.iter().copied());
                let pview = view
                    .apply(&ViewOp::Permute(perm.clone()))
                    .ok_or_else(|| crate::IrError::Verify("permute failed".into()))?;
                let iter_shape = pview.shape.clone();
                let mut b = KernelBuilder::default();
                let l = b.load(buf, src_dtype, pview);
                let e = b.expr(Expr::Load(l), src_dtype);
                let out = self.emit(
                    b,
                    KernelKind::Reduce {
                        op: *op,
                        red_rank: axes.len(),
                    },
                    iter_shape,
                    (dtype, e),
                    numel,
                    vec![n],
                    "a reduction ends a kernel",
                );
                Access::Buf {
                    buf: out,
                    view: View::contiguous(&shape),
                }
            }
            Op::Matmul => {
                let (ab, av) = self.buf_access(srcs[0], false)?;
                let (bb, bv) = self.buf_access(srcs[1], false)?;
                let mut b = KernelBuilder::default();
                let la = b.load_distinct(ab, dtype, av);
                let lb = b.load_distinct(bb, dtype, bv);
                let ea = b.expr(Expr::Load(la), dtype);
                let _eb = b.expr(Expr::Load(lb), dtype);
                let out = self.emit(
                    b,
                    KernelKind::Matmul,
                    shape.clone(),
                    (dtype, ea),
                    numel,
                    vec![n],
                    "matmul is its own kernel",
                );
                Access::Buf {
                    buf: out,
                    view: View::contiguous(&shape),
                }
            }
            Op::Gather { axis } => {
                let (xb, xv) = self.buf_access(srcs[0], false)?;
                let mut b = KernelBuilder::default();
                let ia = self.access[&srcs[1]].clone();
                let idx = self.read(&mut b, &ia, DType::I32);
                let lx = b.load(xb, dtype, xv);
                let e = b.expr(
                    Expr::Gather {
                        load: lx,
                        axis: *axis,
                        index: idx,
                    },
                    dtype,
                );
                let out = self.emit(
                    b,
                    KernelKind::Elementwise,
                    shape.clone(),
                    (dtype, e),
                    numel,
                    vec![n],
                    "gather reads through data-dependent indices",
                );
                Access::Buf {
                    buf: out,
                    view: View::contiguous(&shape),
                }
            }
            Op::Concat { axis } => {
                let total = shape.0[*axis];
                let mut b = KernelBuilder::default();
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
                    let (buf, view) = self.buf_access(s, false)?;
                    let pv = view
                        .apply(&pad)
                        .ok_or_else(|| crate::IrError::Verify("pad failed".into()))?;
                    let l = b.load(buf, dtype, pv);
                    let v = b.expr(Expr::Load(l), dtype);
                    let ok = b.expr(Expr::LoadValid(l), DType::Bool);
                    parts.push((ok, v));
                    start += len;
                }
                let mut e = parts.last().map(|p| p.1).unwrap_or(0);
                for &(ok, v) in parts.iter().rev().skip(1) {
                    e = b.expr(Expr::Where(ok, v, e), dtype);
                }
                let out = self.emit(
                    b,
                    KernelKind::Elementwise,
                    shape.clone(),
                    (dtype, e),
                    numel,
                    vec![n],
                    "concat selects between its inputs by coordinate",
                );
                Access::Buf {
                    buf: out,
                    view: View::contiguous(&shape),
                }
            }
        })
    }

    fn lower_view(&mut self, n: NodeId, src: NodeId, v: &ViewOp) -> Result<Access> {
        let a = self.access[&src].clone();
        match a {
            Access::Const(s) => match v {
                ViewOp::Pad { value, .. } if value.to_dtype(self.g.node(n).dtype()) != s => {
                    let buf = self.materialize(
                        Access::Const(s),
                        src,
                        "a constant padded with another value",
                    )?;
                    let view = View::contiguous(self.g.node(src).shape());
                    self.view_of(n, src, buf, view, v)
                }
                _ => Ok(Access::Const(s)),
            },
            Access::Buf { buf, view } => self.view_of(n, src, buf, view, v),
        }
    }

    fn view_of(
        &mut self,
        _n: NodeId,
        src: NodeId,
        buf: BufRef,
        view: View,
        v: &ViewOp,
    ) -> Result<Access> {
        if let Some(nv) = view.apply(v) {
            return Ok(Access::Buf { buf, view: nv });
        }
        let reason = format!("no single view describes {} of this view", v.name());
        let b2 = self.materialize(Access::Buf { buf, view }, src, &reason)?;
        let base = View::contiguous(self.g.node(src).shape());
        let nv = base
            .apply(v)
            .ok_or_else(|| crate::IrError::Verify("view of a contiguous buffer failed".into()))?;
        Ok(Access::Buf { buf: b2, view: nv })
    }
}

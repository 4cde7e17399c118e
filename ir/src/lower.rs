//! Lowering a graph to kernels, with fusion.
//!
//! Movement ops never become kernels: they compose into the view through which a kernel reads
//! ([`View::apply`]); a copy is made only where no single view describes the result. Constants
//! are inlined. With fusion on, a kernel is grown from a root node by inlining its producers
//! (see `docs/FUSION.md` for each rule and its reason):
//!
//! 1. elementwise chains of any length, with broadcasts and views on the loads;
//! 2. elementwise prologues into a reduction;
//! 3. reduction epilogues (`mean` divides before the store; per-row expressions);
//! 4. sibling reductions over the same space in one kernel, and extra outputs where a fused
//!    value is also needed elsewhere;
//! 5. reduce-then-broadcast in one kernel (softmax, layer norm, ...) when the reduced axes are
//!    the innermost ones;
//! 6. matmul epilogues (bias, activation, residual, cast) before the store;
//! 7. casts on a matmul's operand loads (`cast_on_load`);
//! 8. (split reductions are a graph pass, `passes::SplitReductions`, before lowering);
//! 9. a store-versus-recompute policy: shared producers are recomputed by each reader only
//!    while cheap; reductions and matmuls are never recomputed.
//!
//! With fusion off every computing op is its own kernel, through the same code.

use crate::kernel::{Expr, ExprId, ExprNode, Kernel, KernelKind, Load, Output, Stage, Store};
use crate::ops::{Op, ViewOp};
use crate::view::View;
use crate::{DType, Graph, IrError, NodeId, Result, Scalar, Shape};
use hashbrown::{HashMap, HashSet};
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
    /// Why this kernel exists (its root).
    pub reason: String,
    /// For each computed value this kernel reads from memory instead of fusing: the producer
    /// and why the boundary is there.
    pub boundaries: Vec<(NodeId, String)>,
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

/// What the lowering may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FusionOptions {
    /// Fuse at all (off: one kernel per computing op).
    pub enabled: bool,
    /// Storage buffers one kernel may bind (the adapter's per-stage limit).
    pub max_storage_buffers: usize,
    /// A producer read by several kernels is recomputed in each only up to this many ops...
    pub recompute_max_ops: usize,
    /// ...and this many distinct buffer reads; beyond, it is stored once and loaded.
    pub recompute_max_loads: usize,
}

impl Default for FusionOptions {
    fn default() -> Self {
        FusionOptions {
            enabled: true,
            max_storage_buffers: 8,
            recompute_max_ops: 30,
            recompute_max_loads: 3,
        }
    }
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

    /// Distinct buffers bound so far.
    pub fn input_count(&self) -> usize {
        self.inputs.len()
    }
}

/// The kernel being grown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ctx {
    /// One point per element of the root's shape.
    Elementwise,
    /// A reduce kernel over the same space with the reduced axes innermost (identity order).
    Row,
    /// A reduce kernel whose reduced axes are not innermost: loads are permuted at the end,
    /// and nothing may depend on the linear index.
    PermutedReduce,
    /// A matmul with an epilogue.
    Matmul,
}

struct Grow {
    b: KernelBuilder,
    ctx: Ctx,
    /// The iteration space in natural (unpermuted) order.
    shape: Shape,
    /// Reduced axes (sorted) for reduce contexts.
    axes: SmallVec<[usize; 6]>,
    stages: Vec<Stage>,
    stage_of: HashMap<NodeId, usize>,
    matmul: Option<(NodeId, usize, usize)>,
    matmul_round: (Option<DType>, Option<DType>),
    memo: HashMap<NodeId, ExprId>,
    covered: Vec<NodeId>,
    covered_set: HashSet<NodeId>,
    boundaries: Vec<(NodeId, String)>,
    /// Bindings promised to operands not inlined yet (of the ops being inlined above).
    reserve: usize,
    /// True below a node whose whole subtree was found to fit the bindings left.
    fits: bool,
}

impl Grow {
    fn new(ctx: Ctx, shape: Shape) -> Self {
        Grow {
            b: KernelBuilder::default(),
            ctx,
            shape,
            axes: SmallVec::new(),
            stages: Vec::new(),
            stage_of: HashMap::new(),
            matmul: None,
            matmul_round: (None, None),
            memo: HashMap::new(),
            covered: Vec::new(),
            covered_set: HashSet::new(),
            boundaries: Vec::new(),
            reserve: 0,
            fits: false,
        }
    }

    fn cover(&mut self, n: NodeId) {
        if self.covered_set.insert(n) {
            self.covered.push(n);
        }
    }
}

/// Lowers a graph with one kernel per computing op.
pub fn lower_unfused(graph: &Graph) -> Result<Program> {
    lower(
        graph,
        &FusionOptions {
            enabled: false,
            ..FusionOptions::default()
        },
    )
}

/// Lowers a graph into kernel launches under `opts`.
pub fn lower(graph: &Graph, opts: &FusionOptions) -> Result<Program> {
    let mut l = Lowering::new(graph, opts.clone());
    for n in graph.topo() {
        l.note_consumers(n);
    }
    for &o in graph.outputs() {
        let base = l.strip_views(o);
        l.output_bases.insert(base);
    }
    if opts.enabled {
        l.mark_epilogue_ends();
        l.mark_deep_chains();
    }
    // Build what must be stored in dependency order, so that no kernel inlines a producer that
    // a later kernel stores anyway, and so that no build recurses deeply.
    for n in graph.topo() {
        if let Some(why) = l.must_store(n) {
            l.access(n, why)?;
        }
    }
    for &o in graph.outputs() {
        let node = graph.node(o);
        let a = l.access(o, "graph output")?;
        let buf = match a {
            Access::Buf {
                buf: BufRef::Temp(t),
                view,
            } if view.is_contiguous()
                && view.offset == 0
                && l.prog.temps[t].numel == node.shape().numel() =>
            {
                BufRef::Temp(t)
            }
            a => l.materialize(a, o, "a graph output needs its own contiguous buffer")?,
        };
        l.prog
            .outputs
            .push((buf, node.dtype(), node.shape().clone()));
    }
    Ok(l.prog)
}

struct Lowering<'g> {
    g: &'g Graph,
    opts: FusionOptions,
    prog: Program,
    access: HashMap<NodeId, Access>,
    consumers: HashMap<NodeId, Vec<NodeId>>,
    output_bases: HashSet<NodeId>,
    in_progress: HashSet<NodeId>,
    /// Tops of matmul epilogue chains whose value has several consumers: stored there, so that
    /// no consumer recomputes the matmul.
    epilogue_ends: HashSet<NodeId>,
    /// Nodes that cut long chains.
    deep: HashSet<NodeId>,
}

fn is_view(op: &Op) -> bool {
    matches!(op, Op::View(_))
}

fn is_elementwise_like(op: &Op) -> bool {
    matches!(
        op,
        Op::Unary(_)
            | Op::Binary(_)
            | Op::Where
            | Op::Cast(_)
            | Op::Concat { .. }
            | Op::Gather { .. }
            | Op::Arange { .. }
            | Op::Rand { .. }
    )
}

impl<'g> Lowering<'g> {
    fn new(g: &'g Graph, opts: FusionOptions) -> Self {
        Lowering {
            g,
            opts,
            prog: Program::default(),
            access: HashMap::new(),
            consumers: HashMap::new(),
            output_bases: HashSet::new(),
            in_progress: HashSet::new(),
            epilogue_ends: HashSet::new(),
            deep: HashSet::new(),
        }
    }

    /// The first non-view node under a chain of views.
    fn strip_views(&self, mut n: NodeId) -> NodeId {
        while is_view(&self.g.node(n).op) {
            n = self.g.srcs(n)[0];
        }
        n
    }

    /// Stores every `MAX_CHAIN`-th node of long elementwise chains, so that kernels (and the
    /// recursion that builds them) stay bounded.
    fn mark_deep_chains(&mut self) {
        const MAX_CHAIN: usize = 128;
        let mut depth: HashMap<NodeId, usize> = HashMap::new();
        for n in self.g.topo() {
            let node = self.g.node(n);
            let d = match &node.op {
                Op::Input { .. } | Op::Const(_) | Op::Reduce { .. } | Op::Matmul => 0,
                _ => {
                    1 + self
                        .g
                        .srcs(n)
                        .iter()
                        .map(|s| depth.get(s).copied().unwrap_or(0))
                        .max()
                        .unwrap_or(0)
                }
            };
            let d = if d >= MAX_CHAIN && !is_view(&node.op) {
                self.deep.insert(n);
                0
            } else {
                d
            };
            depth.insert(n, d);
        }
    }

    /// Why `n` must be stored whatever fuses around it, if it must.
    fn must_store(&self, n: NodeId) -> Option<&'static str> {
        let node = self.g.node(n);
        if matches!(node.op, Op::Input { .. } | Op::Const(_) | Op::View(_)) {
            return None;
        }
        if !self.opts.enabled {
            return Some("fusion is off");
        }
        if self.deep.contains(&n) {
            return Some("a long chain is cut into kernels of at most 128 ops");
        }
        if self.output_bases.contains(&n) {
            return Some("graph output");
        }
        if self.epilogue_ends.contains(&n) {
            return Some("a matmul epilogue ends here: its value has several consumers");
        }
        let consumers = self.consumers.get(&n).map(|c| c.as_slice()).unwrap_or(&[]);
        for &c in consumers {
            let cop = &self.g.node(c).op;
            let srcs = self.g.srcs(c);
            match cop {
                Op::Matmul => {
                    let reads = srcs.iter().filter(|&&s| self.strip_views(s) == n);
                    let mut fused_cast = true;
                    for &s in reads {
                        if self.cast_on_load(s).is_none() {
                            fused_cast = false;
                        }
                    }
                    if !fused_cast {
                        return Some("matmul operand");
                    }
                    // A cast the matmul applies on load: its views fold into the load.
                    continue;
                }
                Op::Gather { .. } if self.strip_views(srcs[0]) == n => {
                    return Some("gather source");
                }
                Op::Concat { .. } => return Some("concat part"),
                _ => {}
            }
            let through_view = srcs.iter().any(|&s| s != n && self.strip_views(s) == n);
            // Per-row values (reductions and expressions of them) may fuse as row broadcasts.
            if through_view && !self.reads_reduction(n) {
                return Some("a computed value read through a view (stored, then indexed)");
            }
        }
        None
    }

    /// Follows each matmul up its chain of sole consumers (elementwise, same shape, no view in
    /// between) and marks where the chain meets a value with several consumers.
    fn mark_epilogue_ends(&mut self) {
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

    fn note_consumers(&mut self, n: NodeId) {
        if is_view(&self.g.node(n).op) {
            return;
        }
        for s in self.g.srcs(n) {
            let base = self.strip_views(s);
            self.consumers.entry(base).or_default().push(n);
        }
    }

    fn temp(&mut self, dtype: DType, numel: usize) -> usize {
        self.prog.temps.push(TempInfo { dtype, numel });
        self.prog.temps.len() - 1
    }

    /// Reads an access inside a kernel being grown.
    fn read(&self, gr: &mut Grow, a: &Access, dtype: DType) -> ExprId {
        match a {
            Access::Const(s) => gr.b.expr(Expr::Const(*s), dtype),
            Access::Buf { buf, view } => {
                let l = gr.b.load(*buf, dtype, view.clone());
                gr.b.expr(Expr::Load(l), dtype)
            }
        }
    }

    /// How to read `n` as a buffer view, computing it in a kernel of its own if needed.
    fn access(&mut self, n: NodeId, why: &str) -> Result<Access> {
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

    fn view_of(&mut self, src: NodeId, a: Access, v: &ViewOp) -> Result<Access> {
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
    fn materialize(&mut self, a: Access, n: NodeId, reason: &str) -> Result<BufRef> {
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
    fn finish(
        &mut self,
        gr: Grow,
        outputs: Vec<(Output, Option<NodeId>)>,
        reason: String,
    ) -> Result<Vec<usize>> {
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
                    },
                    shape.clone(),
                    b.loads,
                    b.exprs,
                )
            }
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
            let t = self.temp(o.dtype, kernel.output_numel(i));
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

    /// Builds the kernel rooted at computing node `root` (and whatever fuses into it).
    fn build_root(&mut self, root: NodeId, why: &str) -> Result<()> {
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
            op if is_elementwise_like(op) => {
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
                    _ => "elementwise",
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

    /// Adds outputs for fused reductions and matmuls that are also needed outside this kernel
    /// (or are graph outputs): they are stored, never recomputed.
    fn add_stored_extras(
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
        let mut stage_nodes: Vec<(NodeId, usize)> =
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
    fn stored(&self, gr: &Grow, n: NodeId, store: Store) -> (Output, Option<NodeId>) {
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
    fn add_stage(&mut self, gr: &mut Grow, q: NodeId) -> Result<ExprId> {
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
        let s = gr.stages.len() - 1;
        gr.stage_of.insert(q, s);
        let acc = gr.b.expr(Expr::Acc(s), node.dtype());
        gr.memo.insert(q, acc);
        gr.cover(q);
        Ok(acc)
    }

    /// Other reductions of the same space and axes that can join this kernel as stages.
    fn add_sibling_stages(
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

    /// Makes matmul `m` the kernel's product; returns its `Acc` expr.
    fn absorb_matmul(&mut self, gr: &mut Grow, m: NodeId) -> Result<ExprId> {
        let srcs = self.g.srcs(m);
        let dtype = self.g.node(m).dtype();
        let (ab, av, ad, ar) = self.matmul_operand(gr, srcs[0])?;
        let (bb, bv, bd, br) = self.matmul_operand(gr, srcs[1])?;
        let la = gr.b.load_distinct(ab, ad, av);
        let lb = gr.b.load_distinct(bb, bd, bv);
        gr.ctx = Ctx::Matmul;
        gr.matmul = Some((m, la, lb));
        gr.matmul_round = (ar, br);
        let acc = gr.b.expr(Expr::Acc(0), dtype);
        gr.memo.insert(m, acc);
        gr.cover(m);
        Ok(acc)
    }

    /// A float-to-float cast under matmul operand `n` (through views only) that the matmul can
    /// apply while loading: the cast and its source, if fusion is on and nothing else reads
    /// the cast.
    fn cast_on_load(&self, n: NodeId) -> Option<(NodeId, NodeId)> {
        if !self.opts.enabled {
            return None;
        }
        let base = self.strip_views(n);
        let Op::Cast(to) = self.g.node(base).op else {
            return None;
        };
        let src = self.g.srcs(base)[0];
        let sole = self.consumers.get(&base).is_some_and(|c| c.len() == 1);
        (to.is_float()
            && self.g.node(src).dtype().is_float()
            && sole
            && !self.output_bases.contains(&base))
        .then_some((base, src))
    }

    /// A matmul operand as an unmasked buffer view, the dtype the buffer holds (a fused cast's
    /// source dtype), and the rounding that cast applies on load (`None`: values are used as
    /// stored).
    fn matmul_operand(
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
        let (b, v) = self.plain_access(n)?;
        Ok((b, v, self.g.node(n).dtype(), None))
    }

    /// A node as an unmasked buffer view, copying where needed (matmul operands).
    fn plain_access(&mut self, n: NodeId) -> Result<(BufRef, View)> {
        match self.access(n, "matmul operand")? {
            Access::Buf { buf, view } if view.mask.is_none() => Ok((buf, view)),
            a => {
                let buf = self.materialize(a, n, "a matmul operand needs a plain strided view")?;
                Ok((buf, View::contiguous(self.g.node(n).shape())))
            }
        }
    }

    /// Loads `n` from memory, recording why it is a kernel boundary.
    fn load_boundary(&mut self, gr: &mut Grow, n: NodeId, why: &str) -> Result<ExprId> {
        let dtype = self.g.node(n).dtype();
        let a = self.access(n, why)?;
        let base = self.strip_views(n);
        if !matches!(self.g.node(base).op, Op::Input { .. } | Op::Const(_)) {
            gr.boundaries.push((base, why.to_string()));
        }
        Ok(self.read(gr, &a, dtype))
    }

    /// The operands `srcs` inlined in order, each with one binding reserved for every later
    /// operand that reads memory, so that an earlier operand cannot take the bindings a later
    /// one needs.
    fn inline_operands(&mut self, gr: &mut Grow, srcs: &[NodeId]) -> Result<SmallVec<[ExprId; 3]>> {
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

    /// How many bindings `srcs` need at least (not constants, not already in the kernel): one
    /// each, two for a matmul that would be absorbed (both its operands).
    fn binding_operands(&self, gr: &Grow, srcs: &[NodeId]) -> usize {
        srcs.iter()
            .filter(|&&s| !gr.memo.contains_key(&s))
            .map(|&s| match &self.g.node(self.strip_views(s)).op {
                Op::Const(_) => 0,
                Op::Matmul if !self.access.contains_key(&s) => 2,
                _ => 1,
            })
            .sum()
    }

    /// The boundary the storage-buffer limit puts at `n` (whose inlined subtree reads `loads`
    /// distinct buffers), given the bindings the kernel holds, those promised to operands
    /// not inlined yet and one for the output:
    /// - `None` where the whole subtree fits (nothing below is checked again), or where there
    ///   is room for each of `n`'s operands to take at least one binding: `n` is inlined and
    ///   its operands decide in turn, each with a binding kept for every later one;
    /// - else `n` is stored by a kernel of its own and read here through one binding.
    ///
    /// So every operand reached has at least one binding left, and no kernel binds more
    /// than the adapter allows: a valid graph is split, never rejected.
    fn binding_boundary(&self, gr: &mut Grow, n: NodeId) -> Option<String> {
        if gr.fits {
            return None;
        }
        let max = self.opts.max_storage_buffers;
        let left = max.saturating_sub(gr.b.input_count() + gr.reserve + 1);
        if self.binding_cost(n) <= left {
            gr.fits = true;
            return None;
        }
        let operands = self.binding_operands(gr, &self.g.srcs(n));
        if left >= operands.max(2) {
            return None;
        }
        Some(format!(
            "the kernel would bind more than {max} storage buffers (inputs and outputs)"
        ))
    }

    /// At most how many storage buffers inlining all of `n` would bind: each stored value
    /// (an input, or a value an earlier kernel or this one's boundary computes) once, a view
    /// of a computed value as that value and as what it reads (a row broadcast pulls a
    /// reduction's sources into the kernel), the sources of a gather or concat as one each,
    /// and a matmul's operands at least one each. An upper bound, so that a subtree found to
    /// fit needs no check below.
    fn binding_cost(&self, n: NodeId) -> usize {
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
                // computed here from what it reads: both counted.
                Op::View(_) => {
                    let base = self.strip_views(x);
                    if matches!(self.g.node(base).op, Op::Const(_)) {
                        continue;
                    }
                    bound.insert(base);
                    stack.push(base);
                }
                Op::Gather { .. } => {
                    bound.insert(self.strip_views(srcs[0]));
                    stack.push(srcs[1]);
                }
                Op::Concat { .. } => {
                    bound.extend(srcs.iter().map(|&s| self.strip_views(s)));
                }
                Op::Matmul => {
                    bound.extend(srcs.iter().map(|&s| self.strip_views(s)));
                    stack.extend(srcs);
                }
                _ => stack.extend(srcs),
            }
        }
        bound.len()
    }

    /// Whether a kernel reading `x` reads it from memory whatever it fuses: an input, a value
    /// an earlier kernel stored, a matmul epilogue's end, or a graph output's base.
    fn read_from_memory(&self, x: NodeId) -> bool {
        let op = &self.g.node(x).op;
        (self.access.contains_key(&x) && !is_view(op))
            || self.epilogue_ends.contains(&x)
            || self.output_bases.contains(&x)
            || matches!(op, Op::Input { .. })
    }

    /// Estimated ops and distinct loads of inlining `n` (for the recompute policy).
    fn inline_cost(&self, n: NodeId) -> (usize, usize) {
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
    fn holds_unbuilt_matmul(&self, n: NodeId) -> bool {
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

    /// The expression of `n` inside the kernel being grown, fusing what the rules allow.
    fn inline(&mut self, gr: &mut Grow, n: NodeId, is_root: bool) -> Result<ExprId> {
        if let Some(&e) = gr.memo.get(&n) {
            return Ok(e);
        }
        let node = self.g.node(n).clone();
        let dtype = node.dtype();
        let fusing = self.opts.enabled;
        let fits_above = gr.fits;
        // Decide whether `n` is computed here or read from memory.
        let boundary: Option<String> = if is_root {
            None
        } else {
            match &node.op {
                Op::Input { .. } | Op::Const(_) => Some(String::new()),
                _ if self.access.contains_key(&n) && !is_view(&node.op) => {
                    Some("already computed by an earlier kernel".into())
                }
                Op::View(_) => None,
                _ if !fusing => Some("fusion is off".into()),
                _ if self.output_bases.contains(&n) => {
                    Some("a graph output is stored by its own kernel".into())
                }
                _ if self.deep.contains(&n) => Some("a long chain is cut into kernels".into()),
                _ if self.epilogue_ends.contains(&n) => {
                    Some("a matmul epilogue ends here: its value has several consumers".into())
                }
                Op::Reduce { .. } => {
                    Some("a reduction read elementwise without a row broadcast".into())
                }
                Op::Matmul => {
                    let sole = self.consumers.get(&n).is_some_and(|c| c.len() == 1);
                    if !sole {
                        Some("a matmul read by several consumers is stored once".into())
                    } else if gr.ctx == Ctx::Elementwise
                        && gr.matmul.is_none()
                        && node.shape() == &gr.shape
                    {
                        // Absorbing it binds both operands.
                        let max = self.opts.max_storage_buffers;
                        let left = max.saturating_sub(gr.b.input_count() + gr.reserve + 1);
                        (left < 2).then(|| {
                            format!("the kernel would bind more than {max} storage buffers (inputs and outputs)")
                        })
                    } else {
                        Some("matmul: one per kernel, and not inside a reduction".into())
                    }
                }
                Op::Arange { .. } | Op::Rand { .. } if gr.ctx == Ctx::PermutedReduce => {
                    Some("source op read in permuted order".into())
                }
                _ => {
                    let shared = self.consumers.get(&n).map_or(0, |c| c.len()) > 1;
                    let (ops, loads) = self.inline_cost(n);
                    if shared && self.holds_unbuilt_matmul(n) {
                        Some("shared, and recomputing it would repeat a matmul".into())
                    } else if shared
                        && (ops > self.opts.recompute_max_ops
                            || loads > self.opts.recompute_max_loads)
                    {
                        Some(format!(
                            "shared by several readers and too costly to recompute ({ops} ops, {loads} loads)"
                        ))
                    } else {
                        self.binding_boundary(gr, n)
                    }
                }
            }
        };
        if let Some(why) = boundary {
            let e = self.load_boundary(gr, n, &why)?;
            gr.memo.insert(n, e);
            return Ok(e);
        }
        let srcs = self.g.srcs(n);
        let e = match &node.op {
            Op::View(_) => {
                if let Some(e) = self.try_row_broadcast(gr, n)? {
                    e
                } else {
                    let base = self.strip_views(n);
                    let why = match &self.g.node(base).op {
                        Op::Input { .. } | Op::Const(_) => String::new(),
                        _ if !fusing => "fusion is off".into(),
                        _ => "a computed value read through a view (stored, then indexed)".into(),
                    };
                    let e = self.load_boundary(gr, n, &why)?;
                    gr.memo.insert(n, e);
                    return Ok(e);
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
                let (xb, xv) = self.plain_access(srcs[0])?;
                let base = self.strip_views(srcs[0]);
                if !matches!(self.g.node(base).op, Op::Input { .. }) {
                    gr.boundaries.push((
                        base,
                        "gather reads its source through computed indices".into(),
                    ));
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
                    let (buf, view) = self.plain_access(s)?;
                    let base = self.strip_views(s);
                    if !matches!(self.g.node(base).op, Op::Input { .. }) {
                        gr.boundaries
                            .push((base, "concat reads its parts from memory".into()));
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
                let mut e = parts.last().map(|p| p.1).unwrap_or(0);
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

    /// If view node `n` broadcasts a per-row value (a reduction over this kernel's space, or an
    /// elementwise expression of such reductions) back over the rows, fuses it as a stage.
    fn try_row_broadcast(&mut self, gr: &mut Grow, n: NodeId) -> Result<Option<ExprId>> {
        if !self.opts.enabled
            || !matches!(gr.ctx, Ctx::Elementwise | Ctx::Row | Ctx::PermutedReduce)
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
            _ => {
                if gr.axes != axes {
                    return Ok(None);
                }
            }
        }
        if !self.row_evaluable(gr, base, &axes) || !self.reads_reduction(base) {
            return Ok(None);
        }
        if gr.ctx == Ctx::Elementwise {
            gr.ctx = Ctx::Row;
            gr.axes = axes.clone();
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
    fn row_evaluable(&self, gr: &Grow, n: NodeId, axes: &[usize]) -> bool {
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
                    _ => false,
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
            _ => false,
        }
    }

    /// True if a reduction lies under `n` (through elementwise ops and views).
    fn reads_reduction(&self, n: NodeId) -> bool {
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

    /// Inlines a row-evaluable node (see [`Self::row_evaluable`]).
    fn inline_row(&mut self, gr: &mut Grow, n: NodeId) -> Result<ExprId> {
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

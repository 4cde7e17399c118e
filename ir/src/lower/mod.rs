//! Lowering a graph to kernels, with fusion.
//!
//! Movement ops never become kernels: they compose into the view through which a kernel reads
//! ([`View::apply`](crate::view::View::apply)); a copy is made only where no single view
//! describes the result. Constants are inlined. With fusion on, a kernel is grown from a root
//! node by inlining its producers (see `docs/FUSION.md` for each rule and its reason):
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
//!
//! The parts, one file each: [`plan`] (the launch plan lowering produces), [`policy`] (the
//! fusion decision for one node, and the typed [`Boundary`] saying why a value is read from
//! memory), the graph facts that decision reads (`facts`), the kernel builder (`builder`), the
//! growth of a kernel from its root (`fuse`), and the two absorptions, of row broadcasts
//! (`row_broadcast`) and of a matmul with its epilogue (`matmul`). This file is the driver:
//! the public entry and the list of steps ([`STEPS`]).

mod builder;
mod facts;
mod fuse;
mod matmul;
pub mod plan;
pub mod policy;
mod row_broadcast;

pub use builder::KernelBuilder;
pub use plan::{BufRef, KernelCall, Program, TempInfo};
pub use policy::{Boundary, NodeClass, StoreReason};

/// The most elementwise ops one kernel's chain holds before it is cut: bounds kernel size and
/// the recursion that builds kernels.
const MAX_CHAIN: usize = 128;

use crate::ops::Op;
use crate::{DType, Graph, IrError, NodeId, Result};
use builder::Access;
use hashbrown::{HashMap, HashSet};

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

/// One step of lowering; [`lower`] runs [`STEPS`] in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Record each computed value's consumers (seen through views).
    NoteConsumers,
    /// Record the values under the graph outputs (stored by their own kernels).
    MarkOutputs,
    /// With fusion on: find where matmul epilogue chains meet a shared value.
    MarkEpilogueEnds,
    /// With fusion on: cut long elementwise chains.
    CutLongChains,
    /// Build a kernel for every value that must be stored, in dependency order, each fusing
    /// what the policy allows.
    StoreValues,
    /// Give each graph output a contiguous buffer of its own.
    BindOutputs,
    /// In debug builds (and so in tests): check every kernel with
    /// [`Kernel::verify`](crate::Kernel::verify) before code generation sees it.
    VerifyKernels,
}

/// The steps of lowering, in order.
pub const STEPS: [Step; 7] = [
    Step::NoteConsumers,
    Step::MarkOutputs,
    Step::MarkEpilogueEnds,
    Step::CutLongChains,
    Step::StoreValues,
    Step::BindOutputs,
    Step::VerifyKernels,
];

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
    for step in STEPS {
        l.run(step)?;
    }
    Ok(l.prog)
}

/// The state of one lowering: the graph, what is known about its nodes, and the plan so far.
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

    /// Runs one step of [`STEPS`].
    fn run(&mut self, step: Step) -> Result<()> {
        let g = self.g;
        match step {
            Step::NoteConsumers => {
                for n in g.topo() {
                    self.note_consumers(n);
                }
            }
            Step::MarkOutputs => {
                for &o in g.outputs() {
                    let base = self.strip_views(o);
                    self.output_bases.insert(base);
                }
            }
            Step::MarkEpilogueEnds => {
                if self.opts.enabled {
                    self.mark_epilogue_ends();
                }
            }
            Step::CutLongChains => {
                if self.opts.enabled {
                    self.mark_deep_chains();
                }
            }
            // In dependency order, so that no kernel inlines a producer that a later kernel
            // stores anyway, and so that no build recurses deeply.
            Step::StoreValues => {
                for n in g.topo() {
                    if let Some(why) = self.must_store(n) {
                        self.access(n, &why.to_string())?;
                    }
                }
            }
            Step::BindOutputs => {
                for &o in g.outputs() {
                    self.bind_output(o)?;
                }
            }
            Step::VerifyKernels => {
                if cfg!(debug_assertions) {
                    for c in &self.prog.calls {
                        c.kernel.verify().map_err(|error| IrError::Kernel {
                            kernel: c.kernel.name.clone(),
                            error,
                        })?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Gives graph output `o` a contiguous buffer of its own (its kernel's output where that
    /// one is already exactly the output, else a copy).
    fn bind_output(&mut self, o: NodeId) -> Result<()> {
        let g = self.g;
        let node = g.node(o);
        let a = self.access(o, &StoreReason::GraphOutput.to_string())?;
        let buf = match a {
            Access::Buf {
                buf: BufRef::Temp(t),
                view,
            } if view.is_contiguous()
                && view.offset == 0
                && self.prog.temps[t].numel == node.shape().numel() =>
            {
                BufRef::Temp(t)
            }
            a => self.materialize(a, o, "a graph output needs its own contiguous buffer")?,
        };
        self.prog
            .outputs
            .push((buf, node.dtype(), node.shape().clone()));
        Ok(())
    }

    /// The first non-view node under a chain of views.
    fn strip_views(&self, mut n: NodeId) -> NodeId {
        while is_view(&self.g.node(n).op) {
            n = self.g.srcs(n)[0];
        }
        n
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

    /// Stores every `MAX_CHAIN`-th node of long elementwise chains, so that kernels (and the
    /// recursion that builds them) stay bounded.
    fn mark_deep_chains(&mut self) {
        let mut depth: HashMap<NodeId, usize> = HashMap::new();
        for n in self.g.topo() {
            let node = self.g.node(n);
            let d = match &node.op {
                Op::Input { .. }
                | Op::Const(_)
                | Op::Reduce { .. }
                | Op::Matmul
                | Op::Scan(_)
                | Op::Attention(_) => 0,
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
    fn must_store(&self, n: NodeId) -> Option<StoreReason> {
        let node = self.g.node(n);
        if matches!(NodeClass::of(&node.op), NodeClass::Source | NodeClass::View) {
            return None;
        }
        // Quantized blocks (gathered) are decoded where they are read; only a graph output
        // would store them, which the kernel builder refuses.
        if node.dtype().is_quantized() && !self.output_bases.contains(&n) {
            return None;
        }
        if !self.opts.enabled {
            return Some(StoreReason::FusionOff);
        }
        if self.deep.contains(&n) {
            return Some(StoreReason::LongChain { max_ops: MAX_CHAIN });
        }
        if self.output_bases.contains(&n) {
            return Some(StoreReason::GraphOutput);
        }
        if self.epilogue_ends.contains(&n) {
            return Some(StoreReason::EpilogueEnd);
        }
        let consumers = self.consumers.get(&n).map(|c| c.as_slice()).unwrap_or(&[]);
        for &c in consumers {
            let cop = &self.g.node(c).op;
            let srcs = self.g.srcs(c);
            match cop {
                Op::Matmul => {
                    // A cast the matmul applies on load (its views fold into the load), or A
                    // computed where the matmul reads it, is not stored.
                    let stored = srcs.iter().enumerate().any(|(i, &s)| {
                        self.strip_views(s) == n
                            && self.cast_on_load(s).is_none()
                            && !(i == 0 && self.computes_prologue(c))
                    });
                    if stored {
                        return Some(StoreReason::MatmulOperand);
                    }
                    continue;
                }
                Op::Attention(_) => {
                    // q computed where attention reads it is not stored.
                    let computed = srcs[0] == n
                        && !srcs[1..].contains(&n)
                        && self.attention_prologue(n, srcs.len() - 1);
                    if !computed {
                        return Some(StoreReason::AttentionOperand);
                    }
                    continue;
                }
                Op::Gather { .. } if self.strip_views(srcs[0]) == n => {
                    return Some(StoreReason::GatherSource);
                }
                Op::Concat { .. } => return Some(StoreReason::ConcatPart),
                Op::Scan(_) => return Some(StoreReason::ScanOperand),
                // Readers that take the value where it is computed (or through its views).
                Op::Input { .. }
                | Op::Const(_)
                | Op::Arange { .. }
                | Op::Rand { .. }
                | Op::Unary(_)
                | Op::Binary(_)
                | Op::Where
                | Op::Cast(_)
                | Op::Reduce { .. }
                | Op::View(_)
                | Op::Gather { .. } => {}
            }
            let through_view = srcs.iter().any(|&s| s != n && self.strip_views(s) == n);
            // Per-row values (reductions and expressions of them) may fuse as row broadcasts.
            if through_view && !self.reads_reduction(n) {
                return Some(StoreReason::ComputedThroughView);
            }
        }
        None
    }

    fn temp(&mut self, dtype: DType, numel: usize) -> usize {
        self.prog.temps.push(TempInfo { dtype, numel });
        self.prog.temps.len() - 1
    }
}

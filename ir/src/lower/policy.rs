//! The fusion policy: whether a node is computed inside the kernel being grown or read from
//! memory, and if read, why ([`Boundary`]). [`decide`] is a pure function of the facts it asks
//! for ([`Facts`]); the lowering answers them from the graph and the kernel being grown, and
//! the tests below from hand-written values.

use std::fmt;

/// What kind of node the policy is deciding about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeClass {
    /// A graph input or a constant: read where it is, never computed.
    Source,
    /// A movement op: folded into a load, or absorbed as a row broadcast.
    View,
    /// A reduction.
    Reduce,
    /// A matmul.
    Matmul,
    /// Fused attention: always a kernel of its own.
    Attention,
    /// A cumulative scan: always a kernel of its own.
    Scan,
    /// `arange` or `rand`: computed from the linear index.
    IndexSource,
    /// Any other computing op (elementwise, cast, where, gather, concat).
    Compute,
}

impl NodeClass {
    /// The class of a node computing `op`: the one place the lowering sorts ops.
    pub fn of(op: &crate::ops::Op) -> NodeClass {
        use crate::ops::Op;
        match op {
            Op::Input { .. } | Op::Const(_) => NodeClass::Source,
            Op::View(_) => NodeClass::View,
            Op::Reduce { .. } => NodeClass::Reduce,
            Op::Matmul => NodeClass::Matmul,
            Op::Attention(_) => NodeClass::Attention,
            Op::Scan(_) => NodeClass::Scan,
            Op::Arange { .. } | Op::Rand { .. } => NodeClass::IndexSource,
            Op::Unary(_)
            | Op::Binary(_)
            | Op::Where
            | Op::Cast(_)
            | Op::Concat { .. }
            | Op::Gather { .. } => NodeClass::Compute,
        }
    }

    /// Computed per element from its operands or its index (grown into an elementwise
    /// kernel).
    pub fn is_elementwise(self) -> bool {
        matches!(self, NodeClass::Compute | NodeClass::IndexSource)
    }
}

/// Why a value is read from memory instead of computed in the kernel that reads it. Its
/// `Display` is the text `explain()` and the debug log print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Boundary {
    /// An earlier kernel already stored it.
    AlreadyComputed,
    /// Fusion is disabled.
    FusionOff,
    /// It is (the value under) a graph output.
    GraphOutput,
    /// A long elementwise chain is cut here.
    LongChain,
    /// A matmul epilogue chain ends here, and its value has several consumers.
    EpilogueEnd,
    /// A reduction read elementwise, not as a row broadcast.
    ReductionWithoutRowBroadcast,
    /// A matmul with several consumers.
    SharedMatmul,
    /// A matmul that cannot be this kernel's product (one per kernel, none in a reduction).
    MatmulPlacement,
    /// Fused attention is a kernel of its own.
    AttentionResult,
    /// A scan is a kernel of its own.
    ScanResult,
    /// Computing it here would bind more storage buffers than the adapter allows.
    BindingLimit {
        /// The adapter's limit.
        max: usize,
    },
    /// `arange` or `rand` in a reduce kernel whose loads are permuted.
    SourceInPermutedOrder,
    /// Shared, and recomputing it would repeat a matmul.
    RecomputeRepeatsMatmul,
    /// Shared, and past the recompute budget.
    TooCostlyToRecompute {
        /// Its elementwise ops.
        ops: usize,
        /// The distinct buffers it reads.
        loads: usize,
    },
    /// A computed value read through a view that is not a row broadcast.
    ComputedThroughView,
    /// The source of a gather (read at computed indices).
    GatherSource,
    /// A part of a concat.
    ConcatPart,
}

impl fmt::Display for Boundary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Boundary::AlreadyComputed => f.write_str("already computed by an earlier kernel"),
            Boundary::FusionOff => f.write_str("fusion is off"),
            Boundary::GraphOutput => f.write_str("a graph output is stored by its own kernel"),
            Boundary::LongChain => f.write_str("a long chain is cut into kernels"),
            Boundary::EpilogueEnd => {
                f.write_str("a matmul epilogue ends here: its value has several consumers")
            }
            Boundary::ReductionWithoutRowBroadcast => {
                f.write_str("a reduction read elementwise without a row broadcast")
            }
            Boundary::SharedMatmul => {
                f.write_str("a matmul read by several consumers is stored once")
            }
            Boundary::MatmulPlacement => {
                f.write_str("matmul: one per kernel, and not inside a reduction")
            }
            Boundary::AttentionResult => f.write_str("fused attention is a kernel of its own"),
            Boundary::ScanResult => f.write_str("a cumulative scan is a kernel of its own"),
            Boundary::BindingLimit { max } => write!(
                f,
                "the kernel would bind more than {max} storage buffers (inputs and outputs)"
            ),
            Boundary::SourceInPermutedOrder => f.write_str("source op read in permuted order"),
            Boundary::RecomputeRepeatsMatmul => {
                f.write_str("shared, and recomputing it would repeat a matmul")
            }
            Boundary::TooCostlyToRecompute { ops, loads } => write!(
                f,
                "shared by several readers and too costly to recompute ({ops} ops, {loads} loads)"
            ),
            Boundary::ComputedThroughView => {
                f.write_str("a computed value read through a view (stored, then indexed)")
            }
            Boundary::GatherSource => {
                f.write_str("gather reads its source through computed indices")
            }
            Boundary::ConcatPart => f.write_str("concat reads its parts from memory"),
        }
    }
}

/// Why a node is stored by a kernel of its own whatever fuses around it: the lowering
/// builds these first. Its `Display` is the reason `explain()` gives for the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreReason {
    /// Fusion is disabled.
    FusionOff,
    /// A long elementwise chain is cut here.
    LongChain {
        /// The most ops one kernel's chain holds.
        max_ops: usize,
    },
    /// It is (the value under) a graph output.
    GraphOutput,
    /// A matmul epilogue chain ends here, and its value has several consumers.
    EpilogueEnd,
    /// A matmul reads it, other than through a cast applied on load.
    MatmulOperand,
    /// Fused attention reads it (q, k, v or the mask).
    AttentionOperand,
    /// A scan reads it.
    ScanOperand,
    /// A gather reads it at computed indices.
    GatherSource,
    /// A concat reads it as a part.
    ConcatPart,
    /// A consumer reads the computed value through a view that is not a row broadcast.
    ComputedThroughView,
}

impl fmt::Display for StoreReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Where a reason is also a boundary, the texts are the boundary's.
            StoreReason::FusionOff => Boundary::FusionOff.fmt(f),
            StoreReason::LongChain { max_ops } => {
                write!(
                    f,
                    "a long chain is cut into kernels of at most {max_ops} ops"
                )
            }
            StoreReason::GraphOutput => f.write_str("graph output"),
            StoreReason::EpilogueEnd => Boundary::EpilogueEnd.fmt(f),
            StoreReason::MatmulOperand => f.write_str("matmul operand"),
            StoreReason::AttentionOperand => f.write_str("attention operand"),
            StoreReason::ScanOperand => f.write_str("scan operand"),
            StoreReason::GatherSource => f.write_str("gather source"),
            StoreReason::ConcatPart => f.write_str("concat part"),
            StoreReason::ComputedThroughView => Boundary::ComputedThroughView.fmt(f),
        }
    }
}

/// The policy's answer for one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Compute it in this kernel. `subtree_fits`: its whole subtree was found to fit the
    /// bindings left, so nothing below it needs the binding check again.
    Inline {
        /// The subtree fits the bindings left.
        subtree_fits: bool,
    },
    /// A graph input or a constant: read where it is (not a kernel boundary).
    Source,
    /// Read it from memory, computed by a kernel of its own.
    Boundary(Boundary),
}

/// What the policy needs to know about a node and the kernel being grown. The costly facts
/// are asked only where the decision depends on them.
pub trait Facts {
    /// The node's kind.
    fn class(&self) -> NodeClass;
    /// The node is the kernel's root.
    fn is_root(&self) -> bool;
    /// Fusion is enabled.
    fn fusion_enabled(&self) -> bool;
    /// An earlier kernel already stored the node's value.
    fn stored_earlier(&self) -> bool;
    /// The node is the value under a graph output.
    fn graph_output(&self) -> bool;
    /// A long chain is cut at the node.
    fn chain_cut(&self) -> bool;
    /// A matmul epilogue chain with several consumers ends at the node.
    fn epilogue_end(&self) -> bool;
    /// How many ops read the node's value (through views).
    fn consumers(&self) -> usize;
    /// The kernel can take a matmul of the node's shape as its product: an elementwise
    /// kernel of that shape without one.
    fn matmul_fits_kernel(&self) -> bool;
    /// The kernel is a reduction whose loads are permuted (reduced axes not innermost).
    fn permuted_reduce(&self) -> bool;
    /// Inlining the node would compute a matmul that has no buffer yet.
    fn holds_unbuilt_matmul(&self) -> bool;
    /// Elementwise ops and distinct buffer reads of inlining the node.
    fn inline_cost(&self) -> (usize, usize);
    /// The recompute budget: most ops and most loads a shared value may cost.
    fn recompute_budget(&self) -> (usize, usize);
    /// The storage buffers one kernel may bind.
    fn max_bindings(&self) -> usize;
    /// Bindings still free: the limit less those the kernel holds, those promised to
    /// operands not inlined yet, and one for the output.
    fn bindings_left(&self) -> usize;
    /// A node above was found to fit with its whole subtree.
    fn fits_above(&self) -> bool;
    /// At most how many new bindings inlining the whole subtree would take (buffers the kernel
    /// binds already take none; a read that copies binds its copy).
    fn subtree_bindings(&self) -> usize;
    /// At least how many bindings the node's operands need.
    fn operand_bindings(&self) -> usize;
    /// The node's value is quantized blocks (a gather of them), which no kernel stores.
    fn quantized(&self) -> bool;
}

/// Decides whether the node `f` describes is computed in the kernel or read from memory.
pub fn decide(f: &impl Facts) -> Decision {
    let inline = Decision::Inline {
        subtree_fits: false,
    };
    if f.is_root() {
        return inline;
    }
    let class = f.class();
    let boundary = match class {
        NodeClass::Source => return Decision::Source,
        NodeClass::View => return inline,
        // Blocks are decoded where they are read: a gather of them is too.
        _ if f.quantized() => return inline,
        _ if f.stored_earlier() => Boundary::AlreadyComputed,
        _ if !f.fusion_enabled() => Boundary::FusionOff,
        _ if f.graph_output() => Boundary::GraphOutput,
        _ if f.chain_cut() => Boundary::LongChain,
        _ if f.epilogue_end() => Boundary::EpilogueEnd,
        NodeClass::Reduce => Boundary::ReductionWithoutRowBroadcast,
        NodeClass::Matmul if f.consumers() != 1 => Boundary::SharedMatmul,
        NodeClass::Matmul if f.matmul_fits_kernel() => {
            // Absorbing it binds both operands.
            if f.bindings_left() < 2 {
                Boundary::BindingLimit {
                    max: f.max_bindings(),
                }
            } else {
                return inline;
            }
        }
        NodeClass::Matmul => Boundary::MatmulPlacement,
        NodeClass::Attention => Boundary::AttentionResult,
        NodeClass::Scan => Boundary::ScanResult,
        NodeClass::IndexSource if f.permuted_reduce() => Boundary::SourceInPermutedOrder,
        NodeClass::IndexSource | NodeClass::Compute => {
            let shared = f.consumers() > 1;
            let (ops, loads) = f.inline_cost();
            let (max_ops, max_loads) = f.recompute_budget();
            if shared && f.holds_unbuilt_matmul() {
                Boundary::RecomputeRepeatsMatmul
            } else if shared && (ops > max_ops || loads > max_loads) {
                Boundary::TooCostlyToRecompute { ops, loads }
            } else {
                return binding_decision(f);
            }
        }
    };
    Decision::Boundary(boundary)
}

/// Whether a matmul computes its operand A, a value with the facts `f`, where it reads it (an
/// operand prologue, [`crate::kernel::KernelKind::Matmul`]) instead of reading it from a kernel
/// of its own: where fusion is on, A is computed elementwise (not a view, a source, a
/// reduction or a product), read by this matmul alone, not stored for another reason (an
/// earlier kernel, a graph output, a long chain's cut), and the product is a matrix-vector
/// one (`vector`: A has one row a batch). There every workgroup reads all of A anyway, so
/// computing it costs a few operations an element and saves a kernel and A's round trip
/// through memory; a matrix's tiles would recompute A once per column tile. What A reads is
/// then decided node by node as in any kernel ([`decide`]), over A's space.
///
/// A reduction's per-row values under A (a norm's `rsqrt(mean(x^2) + eps)`) are computed by
/// the prologue as stages, before the product, where they fold floats over A's row; not
/// where they cannot be (`unstaged_row_values`): a row kernel computes such a reduction and A
/// together, where a prologue would read the reduction from a kernel of its own and the
/// values computed from it from another.
pub fn operand_prologue(f: &impl Facts, vector: bool, unstaged_row_values: bool) -> bool {
    vector
        && !unstaged_row_values
        && f.fusion_enabled()
        && f.class() == NodeClass::Compute
        && !f.quantized()
        && f.consumers() == 1
        && !f.stored_earlier()
        && !f.graph_output()
        && !f.chain_cut()
        && !f.epilogue_end()
}

/// The boundary the storage-buffer limit puts at a node:
/// - inline where the whole subtree fits (nothing below is checked again), or where there is
///   room for each of the node's operands to take at least one binding: it is inlined and its
///   operands decide in turn, each with a binding kept for every later one;
/// - else the node is stored by a kernel of its own and read here through one binding.
///
/// So every operand reached has at least one binding left, and no kernel binds more than the
/// adapter allows: a valid graph is split, never rejected.
fn binding_decision(f: &impl Facts) -> Decision {
    if f.fits_above() {
        return Decision::Inline {
            subtree_fits: false,
        };
    }
    let left = f.bindings_left();
    if f.subtree_bindings() <= left {
        return Decision::Inline { subtree_fits: true };
    }
    if left >= f.operand_bindings().max(2) {
        return Decision::Inline {
            subtree_fits: false,
        };
    }
    Decision::Boundary(Boundary::BindingLimit {
        max: f.max_bindings(),
    })
}

/// The decision for a view that is not absorbed as a row broadcast: its base (the node under
/// the views) is a source, read where it is (`None`), or a computed value, stored and then
/// indexed.
pub fn view_boundary(base_is_source: bool, fusion_enabled: bool) -> Option<Boundary> {
    if base_is_source {
        None
    } else if !fusion_enabled {
        Some(Boundary::FusionOff)
    } else {
        Some(Boundary::ComputedThroughView)
    }
}

#[cfg(test)]
mod tests;

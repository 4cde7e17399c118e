//! The launch plan lowering produces: kernel launches in order, the buffers they bind, and
//! where each graph output ends up.

use super::policy::Boundary;
use crate::kernel::Kernel;
use crate::{DType, NodeId, Shape};

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
    pub boundaries: Vec<(NodeId, Boundary)>,
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

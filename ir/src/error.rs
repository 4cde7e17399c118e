//! Typed errors of the IR: everything a user can get wrong when building a graph.

use crate::{DType, Shape};

/// Errors raised while building or evaluating a graph.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IrError {
    /// Two shapes cannot be broadcast together.
    #[error("{op}: shapes {lhs} and {rhs} cannot be broadcast together")]
    Broadcast {
        /// The op that failed.
        op: &'static str,
        /// Left shape.
        lhs: Shape,
        /// Right shape.
        rhs: Shape,
    },
    /// Operand dtypes differ where they must agree.
    #[error("{op}: dtype mismatch, {lhs} vs {rhs} (cast one operand explicitly)")]
    DTypeMismatch {
        /// The op that failed.
        op: &'static str,
        /// Left dtype.
        lhs: DType,
        /// Right dtype.
        rhs: DType,
    },
    /// The op does not accept this dtype.
    #[error("{op}: dtype {dtype} is not supported ({why})")]
    UnsupportedDType {
        /// The op that failed.
        op: &'static str,
        /// The dtype given.
        dtype: DType,
        /// What the op accepts.
        why: &'static str,
    },
    /// An axis is out of range for the tensor's rank, or repeated.
    #[error("{op}: axis {axis} is invalid for a tensor of shape {shape}")]
    BadAxis {
        /// The op that failed.
        op: &'static str,
        /// The axis given.
        axis: isize,
        /// The shape it was applied to.
        shape: Shape,
    },
    /// A shape argument does not fit the input.
    #[error("{op}: cannot turn shape {from} into {to}: {why}")]
    BadShape {
        /// The op that failed.
        op: &'static str,
        /// The input shape.
        from: Shape,
        /// The requested shape (or the other operand's shape).
        to: Shape,
        /// Why not.
        why: String,
    },
    /// Matmul operands whose inner dimensions differ (or that are not matrices).
    #[error("matmul: inner dimensions differ, {lhs} @ {rhs}")]
    MatmulShape {
        /// Left shape.
        lhs: Shape,
        /// Right shape.
        rhs: Shape,
    },
    /// Matmul operands whose batch (leading) dimensions differ or do not broadcast.
    #[error("matmul: batch dimensions {lhs_batch} and {rhs_batch} differ, {lhs} @ {rhs}")]
    MatmulBatch {
        /// Left shape.
        lhs: Shape,
        /// Right shape.
        rhs: Shape,
        /// Left batch dims.
        lhs_batch: Shape,
        /// Right batch dims.
        rhs_batch: Shape,
    },
    /// Attention operands whose shapes do not fit together.
    #[error("attention: q {q}, k {k}, v {v}: {why}")]
    AttentionShape {
        /// The queries' shape.
        q: Shape,
        /// The keys' shape.
        k: Shape,
        /// The values' shape.
        v: Shape,
        /// What is wrong.
        why: String,
    },
    /// A size computed from the arguments does not fit: an element count above `usize`, a
    /// byte size above `usize`/`u64`, or an index sum that overflows.
    #[error("{op}: size overflow: {why}")]
    SizeOverflow {
        /// The op that failed.
        op: &'static str,
        /// What overflowed.
        why: String,
    },
    /// A range of indices that does not lie inside a dimension.
    #[error("{op}: range start {start}, length {len} is out of bounds for axis {axis} of size {dim} (shape {shape})")]
    OutOfRange {
        /// The op that failed.
        op: &'static str,
        /// The axis.
        axis: usize,
        /// First index asked for.
        start: usize,
        /// Number of indices asked for.
        len: usize,
        /// The axis' size.
        dim: usize,
        /// The tensor's shape.
        shape: Shape,
    },
    /// A tensor of rank above [`crate::MAX_RANK`].
    #[error("rank {rank} exceeds the maximum rank {max}")]
    RankTooHigh {
        /// The rank asked for.
        rank: usize,
        /// The maximum rank.
        max: usize,
    },
    /// Host data whose length does not match the shape.
    #[error("data of length {len} does not fill shape {shape} ({numel} elements)")]
    DataLength {
        /// The data length.
        len: usize,
        /// The shape.
        shape: Shape,
        /// Elements the shape holds.
        numel: usize,
    },
    /// Quantized data that is not whole blocks of its format, or not the values asked for.
    #[error("{format}: {bytes} bytes are not whole blocks holding {values} values")]
    QuantizedLength {
        /// The block format's name.
        format: &'static str,
        /// Bytes given.
        bytes: usize,
        /// Values asked for.
        values: usize,
    },
    /// A quantized tensor's shape is not whole blocks along its innermost dimension, or its
    /// bytes are not those blocks.
    #[error("a {format} tensor of shape {shape}: {why}")]
    QuantizedShape {
        /// The block format's name.
        format: &'static str,
        /// The shape.
        shape: Shape,
        /// What is wrong.
        why: String,
    },
    /// Host data of another element type than asked.
    #[error("expected {expected} data, found {found}")]
    HostDType {
        /// The dtype asked for.
        expected: DType,
        /// The dtype held.
        found: DType,
    },
    /// Host data whose element kind does not match the declared dtype (for example `i32`
    /// declared over float data).
    #[error("host tensor declares dtype {dtype} but holds {data} data")]
    HostDataKind {
        /// The declared dtype.
        dtype: DType,
        /// The kind of data held.
        data: &'static str,
    },
    /// An op was given the wrong number of operands.
    #[error("{op}: expected {expected} operands, got {got}")]
    Arity {
        /// The op.
        op: &'static str,
        /// Operands expected.
        expected: usize,
        /// Operands given.
        got: usize,
    },
    /// An input placeholder was not bound to a value.
    #[error("input slot {0} has no value bound")]
    UnboundInput(u32),
    /// A graph that fails the IR verifier (a compiler bug, reported rather than panicking).
    #[error("IR verification failed: {0}")]
    Verify(String),
    /// A lowered kernel that fails the kernel verifier (a compiler bug).
    #[error("kernel {kernel} failed verification: {error}")]
    Kernel {
        /// The kernel's name.
        kernel: String,
        /// What is wrong with it.
        error: crate::kernel::KernelError,
    },
}

/// Result with [`IrError`].
pub type Result<T, E = IrError> = std::result::Result<T, E>;

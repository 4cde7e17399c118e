//! `kiln-ir`: kiln's tensor IR.
//!
//! dtypes ([`DType`]), shapes ([`Shape`]), views as index expressions ([`View`]), the op set
//! ([`ops`]), the hash-consed graph ([`Graph`]) and the reference interpreter ([`interp`]),
//! the oracle for every test. Nothing here knows about GPUs.
#![warn(missing_docs)]
// Errors carry the offending shapes so that messages can name them; they are built only on
// the cold error path, so their size is not worth boxing.
#![allow(clippy::result_large_err)]

pub mod dtype;
pub mod error;
pub mod generic;
pub mod graph;
pub mod host;
pub mod interp;
pub mod kernel;
pub mod lower;
pub mod ops;
pub mod passes;
pub mod quant;
pub mod shape;
pub mod view;

pub use dtype::{round_float, DType, Scalar, ALL_DTYPES};
pub use error::{IrError, Result};
pub use graph::{Graph, Node, NodeId, Structure};
pub use host::{Element, HostData, HostTensor};
pub use kernel::{
    Expr, ExprId, ExprNode, InputId, Kernel, KernelError, KernelKind, Load, LoadId, Output,
    OutputId, Prologue, Stage, StageId, Store,
};
pub use ops::{Op, TensorType};
pub use quant::{BlockFormat, ALL_BLOCK_FORMATS};
pub use shape::{Axes, Shape, MAX_RANK, STORAGE_BYTES};
pub use view::{Mask, View, ViewKind};

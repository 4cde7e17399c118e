//! The errors of the bridge between Burn and kiln.

use burn_std::{backtrace::BackTrace, DType, ExecutionError};

/// Why a Burn request could not be served by kiln.
#[derive(Debug, thiserror::Error)]
pub enum BurnError {
    /// kiln refused the op or failed to run it (its typed error).
    #[error("kiln: {0}")]
    Kiln(#[from] kiln::Error),
    /// A Burn dtype kiln has no storage for.
    #[error("dtype {dtype:?} is not served by kiln: {why}")]
    UnsupportedDType {
        /// The Burn dtype.
        dtype: DType,
        /// What kiln has instead.
        why: &'static str,
    },
    /// A kiln dtype with no Burn dtype (kiln's GGUF block formats).
    #[error("kiln's {0} has no Burn dtype")]
    NoBurnDType(kiln::DType),
    /// Host data whose kind is not its dtype's.
    #[error("host data of another kind than its dtype {0}")]
    HostData(kiln::DType),
    /// A value that does not fit the kiln dtype it is stored as.
    #[error("element {index} of a {from:?} tensor ({value}) does not fit kiln's {to}")]
    OutOfRange {
        /// The Burn dtype.
        from: DType,
        /// The kiln dtype.
        to: kiln::DType,
        /// The element's position.
        index: usize,
        /// The element, printed.
        value: String,
    },
    /// Tensor data whose bytes do not match its shape and dtype.
    #[error("tensor data of {dtype:?} and shape {shape:?}: {len} bytes, {want} expected")]
    DataLength {
        /// The declared dtype.
        dtype: DType,
        /// The declared shape.
        shape: Vec<usize>,
        /// The bytes held.
        len: usize,
        /// The bytes the shape and dtype need.
        want: usize,
    },
    /// A condition on the data failed (an index out of range), found when it was read.
    #[error("{0}")]
    Check(String),
    /// Quantized data or a quantized op kiln could not serve.
    #[error("quantized tensor: {0}")]
    Quantized(String),
    /// A Burn IR handle of another kind than the one asked for.
    #[error("a tensor handle of kind {got} where kind {want} was expected")]
    Handle {
        /// The kind asked for.
        want: &'static str,
        /// The kind held.
        got: String,
    },
    /// Operands whose shapes the op cannot take.
    #[error("{op}: {why}")]
    Shape {
        /// The op.
        op: &'static str,
        /// What is wrong with the shapes.
        why: String,
    },
    /// An option of an op that kiln does not serve (nor does Burn's reference backend).
    #[error("{op}: {why}")]
    Unsupported {
        /// The op.
        op: &'static str,
        /// Which option.
        why: String,
    },
    /// A device kiln does not serve.
    #[error("device {index}: {why}")]
    Device {
        /// The device's index.
        index: u16,
        /// Why.
        why: String,
    },
}

impl BurnError {
    /// The error as Burn reports a failed execution.
    pub fn execution(&self) -> ExecutionError {
        ExecutionError::Generic {
            reason: self.to_string(),
            backtrace: BackTrace::capture(),
        }
    }
}

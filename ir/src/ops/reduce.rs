//! Reductions over a set of axes: names, dtype rules and the reference accumulators.

use crate::{DType, IrError, Result};

/// A reduction. Float sums accumulate in `f32` on the GPU (the reference uses `f64`), and
/// `f16`/`bf16` round once at the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReduceOp {
    /// Sum; empty gives 0.
    Sum,
    /// Arithmetic mean (floats only); empty gives NaN.
    Mean,
    /// Maximum; NaN if any element is NaN; empty is an error.
    Max,
    /// Minimum; NaN if any element is NaN; empty is an error.
    Min,
    /// Product; empty gives 1.
    Prod,
    /// Index of the first maximum (the first NaN if any), as `I32`, row-major over the
    /// reduced axes.
    ArgMax,
    /// Index of the first minimum (the first NaN if any), as `I32`.
    ArgMin,
}

/// Every reduction, for tests and tables.
pub const ALL_REDUCE: [ReduceOp; 7] = [
    ReduceOp::Sum,
    ReduceOp::Mean,
    ReduceOp::Max,
    ReduceOp::Min,
    ReduceOp::Prod,
    ReduceOp::ArgMax,
    ReduceOp::ArgMin,
];

impl ReduceOp {
    /// The op's name, as in the API and in `docs/OPS.md`.
    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Mean => "mean",
            ReduceOp::Max => "max",
            ReduceOp::Min => "min",
            ReduceOp::Prod => "prod",
            ReduceOp::ArgMax => "argmax",
            ReduceOp::ArgMin => "argmin",
        }
    }

    /// The binary op that combines two partial results of this reduction (`None` for mean,
    /// argmax and argmin, whose partials need more than their values).
    pub fn combine(self) -> Option<crate::ops::BinaryOp> {
        use crate::ops::BinaryOp;
        match self {
            ReduceOp::Sum => Some(BinaryOp::Add),
            ReduceOp::Prod => Some(BinaryOp::Mul),
            ReduceOp::Max => Some(BinaryOp::Max),
            ReduceOp::Min => Some(BinaryOp::Min),
            ReduceOp::Mean | ReduceOp::ArgMax | ReduceOp::ArgMin => None,
        }
    }

    /// True for argmax and argmin.
    pub fn is_arg(self) -> bool {
        matches!(self, ReduceOp::ArgMax | ReduceOp::ArgMin)
    }

    /// The result dtype for an input of `dtype` reducing `count` elements per output.
    pub fn result_dtype(self, dtype: DType, count: usize) -> Result<DType> {
        let ok = match self {
            ReduceOp::Mean => dtype.is_float(),
            _ => dtype.is_numeric(),
        };
        if !ok {
            return Err(IrError::UnsupportedDType {
                op: self.name(),
                dtype,
                why: if self == ReduceOp::Mean {
                    "float dtypes only"
                } else {
                    "numeric dtypes only (cast bool first)"
                },
            });
        }
        let no_identity = matches!(self, ReduceOp::Max | ReduceOp::Min) || self.is_arg();
        if count == 0 && no_identity {
            return Err(IrError::BadShape {
                op: self.name(),
                from: Default::default(),
                to: Default::default(),
                why: "reduction over an empty set of elements has no identity".into(),
            });
        }
        Ok(if self.is_arg() { DType::I32 } else { dtype })
    }

    /// The documented relative tolerance of an `f32` result: for sums and means relative to
    /// `sum(|x|)` (resp. its mean) of the reduced elements, for products relative to the
    /// product, exact for the rest (see `docs/OPS.md`).
    pub fn tolerance_f32(self) -> f32 {
        match self {
            ReduceOp::Sum | ReduceOp::Mean => 1e-5,
            ReduceOp::Prod => 1e-5,
            _ => 0.0,
        }
    }
}

//! Binary elementwise ops on same-shape operands (the front end makes numpy broadcasting
//! explicit): names, dtype rules, reference semantics.

use crate::{DType, IrError, Result};

/// A binary elementwise op. Both operands must have the same dtype (cast explicitly).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BinaryOp {
    /// `a + b` (wrapping for integers).
    Add,
    /// `a - b` (wrapping for integers).
    Sub,
    /// `a * b` (wrapping for integers).
    Mul,
    /// `a / b`; integer division truncates, and `x / 0 = x` as in WGSL.
    Div,
    /// `a ^ b` for floats, with C99 `pow` special cases.
    Pow,
    /// Elementwise maximum; NaN if either is NaN.
    Max,
    /// Elementwise minimum; NaN if either is NaN.
    Min,
    /// Truncated remainder `a - b * trunc(a / b)`; integer `x % 0 = 0` as in WGSL.
    Rem,
    /// `a == b`, result `Bool`.
    Eq,
    /// `a != b`, result `Bool`.
    Ne,
    /// `a < b`, result `Bool`.
    Lt,
    /// `a <= b`, result `Bool`.
    Le,
    /// `a > b`, result `Bool`.
    Gt,
    /// `a >= b`, result `Bool`.
    Ge,
    /// Logical and of truthiness (`x != 0`), result `Bool`.
    And,
    /// Logical or of truthiness, result `Bool`.
    Or,
}

/// Every binary op, for tests and tables.
pub const ALL_BINARY: [BinaryOp; 16] = [
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Mul,
    BinaryOp::Div,
    BinaryOp::Pow,
    BinaryOp::Max,
    BinaryOp::Min,
    BinaryOp::Rem,
    BinaryOp::Eq,
    BinaryOp::Ne,
    BinaryOp::Lt,
    BinaryOp::Le,
    BinaryOp::Gt,
    BinaryOp::Ge,
    BinaryOp::And,
    BinaryOp::Or,
];

impl BinaryOp {
    /// The op's name, as in the API and in `docs/OPS.md`.
    pub fn name(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Add => "add",
            Sub => "sub",
            Mul => "mul",
            Div => "div",
            Pow => "pow",
            Max => "maximum",
            Min => "minimum",
            Rem => "rem",
            Eq => "eq",
            Ne => "ne",
            Lt => "lt",
            Le => "le",
            Gt => "gt",
            Ge => "ge",
            And => "logical_and",
            Or => "logical_or",
        }
    }

    /// True for comparisons and logical ops, whose result is `Bool`.
    pub fn is_predicate(self) -> bool {
        use BinaryOp::*;
        matches!(self, Eq | Ne | Lt | Le | Gt | Ge | And | Or)
    }

    /// The result dtype for operands of `lhs` and `rhs`, or a typed error.
    pub fn result_dtype(self, lhs: DType, rhs: DType) -> Result<DType> {
        if lhs != rhs {
            return Err(IrError::DTypeMismatch {
                op: self.name(),
                lhs,
                rhs,
            });
        }
        use BinaryOp::*;
        let (ok, why) = match self {
            Pow => (lhs.is_float(), "float dtypes only"),
            Add | Sub | Mul | Div | Max | Min | Rem => (lhs.is_numeric(), "numeric dtypes only"),
            _ => (true, ""),
        };
        if !ok {
            return Err(IrError::UnsupportedDType {
                op: self.name(),
                dtype: lhs,
                why,
            });
        }
        Ok(if self.is_predicate() {
            DType::Bool
        } else {
            lhs
        })
    }

    /// Reference semantics on `f32` for arithmetic ops (before rounding).
    pub fn eval_f32(self, a: f32, b: f32) -> f32 {
        use BinaryOp::*;
        match self {
            Add => a + b,
            Sub => a - b,
            Mul => a * b,
            Div => a / b,
            Pow => a.powf(b),
            Max => {
                if a.is_nan() || b.is_nan() {
                    f32::NAN
                } else {
                    a.max(b)
                }
            }
            Min => {
                if a.is_nan() || b.is_nan() {
                    f32::NAN
                } else {
                    a.min(b)
                }
            }
            Rem => a - b * (a / b).trunc(),
            _ => self.eval_pred_f32(a, b) as u8 as f32,
        }
    }

    /// Reference semantics of comparisons and logical ops on `f32`.
    pub fn eval_pred_f32(self, a: f32, b: f32) -> bool {
        use BinaryOp::*;
        match self {
            Eq => a == b,
            Ne => a != b,
            Lt => a < b,
            Le => a <= b,
            Gt => a > b,
            Ge => a >= b,
            And => a != 0.0 && b != 0.0,
            Or => a != 0.0 || b != 0.0,
            _ => false,
        }
    }

    /// Reference semantics on `i32` (wrapping; division and remainder as in WGSL).
    pub fn eval_i32(self, a: i32, b: i32) -> i32 {
        use BinaryOp::*;
        match self {
            Add => a.wrapping_add(b),
            Sub => a.wrapping_sub(b),
            Mul => a.wrapping_mul(b),
            Div => a.checked_div(b).unwrap_or(a),
            Rem => a.checked_rem(b).unwrap_or(0),
            Max => a.max(b),
            Min => a.min(b),
            Pow => 0,
            _ => self.eval_pred_ord(a.cmp(&b), a != 0, b != 0) as i32,
        }
    }

    /// Reference semantics on `u32` (wrapping; division and remainder as in WGSL).
    pub fn eval_u32(self, a: u32, b: u32) -> u32 {
        use BinaryOp::*;
        match self {
            Add => a.wrapping_add(b),
            Sub => a.wrapping_sub(b),
            Mul => a.wrapping_mul(b),
            Div => a.checked_div(b).unwrap_or(a),
            Rem => a.checked_rem(b).unwrap_or(0),
            Max => a.max(b),
            Min => a.min(b),
            Pow => 0,
            _ => self.eval_pred_ord(a.cmp(&b), a != 0, b != 0) as u32,
        }
    }

    /// Reference semantics of a predicate from an ordering and the operands' truthiness.
    pub fn eval_pred_ord(self, ord: std::cmp::Ordering, ta: bool, tb: bool) -> bool {
        use std::cmp::Ordering::*;
        use BinaryOp::*;
        match self {
            Eq => ord == Equal,
            Ne => ord != Equal,
            Lt => ord == Less,
            Le => ord != Greater,
            Gt => ord == Greater,
            Ge => ord != Less,
            And => ta && tb,
            Or => ta || tb,
            _ => false,
        }
    }

    /// Documented absolute and relative tolerance against the reference for `f32`.
    pub fn tolerance_f32(self) -> (f32, f32) {
        match self {
            BinaryOp::Div => (1e-6, 1e-6),
            BinaryOp::Pow => (1e-5, 1e-4),
            BinaryOp::Rem => (1e-5, 1e-5),
            _ => (0.0, 0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wgsl_integer_division_rules() {
        assert_eq!(BinaryOp::Div.eval_i32(7, 0), 7);
        assert_eq!(BinaryOp::Div.eval_i32(i32::MIN, -1), i32::MIN);
        assert_eq!(BinaryOp::Rem.eval_i32(7, 0), 0);
        assert_eq!(BinaryOp::Rem.eval_i32(-7, 2), -1);
        assert_eq!(BinaryOp::Div.eval_u32(9, 0), 9);
    }

    #[test]
    fn float_rules() {
        assert!(BinaryOp::Max.eval_f32(f32::NAN, 1.0).is_nan());
        assert!(BinaryOp::Min.eval_f32(1.0, f32::NAN).is_nan());
        assert_eq!(BinaryOp::Pow.eval_f32(-2.0, 3.0), -8.0);
        assert_eq!(BinaryOp::Pow.eval_f32(0.0, 0.0), 1.0);
        assert_eq!(BinaryOp::Rem.eval_f32(-7.5, 2.0), -1.5);
    }

    #[test]
    fn dtype_rules() {
        assert!(BinaryOp::Add.result_dtype(DType::F32, DType::I32).is_err());
        assert!(BinaryOp::Pow.result_dtype(DType::I32, DType::I32).is_err());
        assert!(BinaryOp::Add
            .result_dtype(DType::Bool, DType::Bool)
            .is_err());
        assert_eq!(
            BinaryOp::Lt.result_dtype(DType::U32, DType::U32).unwrap(),
            DType::Bool
        );
    }
}

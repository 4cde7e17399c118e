//! Binary elementwise ops on same-shape operands (the front end makes numpy broadcasting
//! explicit): the table of every op's name, accepted dtypes, reference semantics, WGSL
//! template and tolerance, one entry per op in [`BinaryOp::spec`].

use super::spec::{imp, op_enum, wgsl, wgsl_with, Accepts, Class, Impl, PerClass, Tol, Wgsl};
use crate::{DType, IrError, Result};

op_enum! {
    /// A binary elementwise op. Both operands must have the same dtype (cast explicitly).
    pub enum BinaryOp;
    /// Every binary op, in table order.
    pub const ALL_BINARY;
    {
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
        /// Floored remainder, with the divisor's sign (Python's `%`, `torch.remainder`).
        RemFloor,
        /// Four-quadrant arctangent of `a / b` (`a` is y, `b` is x).
        Atan2,
        /// Bitwise and of integers.
        BitAnd,
        /// Bitwise or of integers.
        BitOr,
        /// Bitwise exclusive or of integers.
        BitXor,
        /// `a << (b mod 32)`.
        Shl,
        /// `a >> (b mod 32)`: arithmetic for `i32`, logical for `u32`.
        Shr,
    }
}

/// Implementations of an op whose result has the operands' dtype.
pub type MapImpls = PerClass<
    Impl<fn(f32, f32) -> f32>,
    Impl<fn(i32, i32) -> i32>,
    Impl<fn(u32, u32) -> u32>,
    Impl<fn(bool, bool) -> bool>,
>;

/// Implementations of a predicate, whose result is `Bool`.
pub type TestImpls = PerClass<
    Impl<fn(f32, f32) -> bool>,
    Impl<fn(i32, i32) -> bool>,
    Impl<fn(u32, u32) -> bool>,
    Impl<fn(bool, bool) -> bool>,
>;

/// What a binary op computes, per dtype class.
#[derive(Clone, Copy, Debug)]
pub enum BinaryRule {
    /// A value of the operands' dtype.
    Map(MapImpls),
    /// A `Bool` (comparisons and logical ops).
    Test(TestImpls),
}

/// Everything about one binary op.
#[derive(Clone, Copy, Debug)]
pub struct BinarySpec {
    /// The op's name, as in the API and in `docs/OPS.md`.
    pub name: &'static str,
    /// Semantics and WGSL per accepted class.
    pub rule: BinaryRule,
    /// Tolerance of `f32` results.
    pub tol: Tol,
}

const fn spec(name: &'static str, rule: BinaryRule, tol: Tol) -> BinarySpec {
    BinarySpec { name, rule, tol }
}

/// Arithmetic on floats and integers.
const fn numeric(
    f: Impl<fn(f32, f32) -> f32>,
    i: Impl<fn(i32, i32) -> i32>,
    u: Impl<fn(u32, u32) -> u32>,
) -> BinaryRule {
    BinaryRule::Map(PerClass {
        float: Some(f),
        i32: Some(i),
        u32: Some(u),
        bool: None,
    })
}

/// A comparison of every dtype: the same template for all, except where `bool_wgsl` spells
/// out the order `false < true` as logic.
const fn compare(
    f: fn(f32, f32) -> bool,
    i: fn(i32, i32) -> bool,
    u: fn(u32, u32) -> bool,
    b: fn(bool, bool) -> bool,
    w: Wgsl,
    bool_wgsl: Wgsl,
) -> BinaryRule {
    BinaryRule::Test(PerClass {
        float: Some(imp(f, w)),
        i32: Some(imp(i, w)),
        u32: Some(imp(u, w)),
        bool: Some(imp(b, bool_wgsl)),
    })
}

/// The truthiness of a float: nonzero, NaN included.
fn truthy(x: f32) -> bool {
    x != 0.0
}

/// Integers only, the same template for both.
const fn int(i: fn(i32, i32) -> i32, u: fn(u32, u32) -> u32, w: Wgsl) -> BinaryRule {
    BinaryRule::Map(PerClass {
        float: None,
        i32: Some(imp(i, w)),
        u32: Some(imp(u, w)),
        bool: None,
    })
}

/// A truncated remainder moved by the divisor where their signs differ.
fn rem_floor_f32(a: f32, b: f32) -> f32 {
    let r = a - b * (a / b).trunc();
    if r != 0.0 && (r < 0.0) != (b < 0.0) {
        r + b
    } else {
        r
    }
}

fn rem_floor_i32(a: i32, b: i32) -> i32 {
    let r = a.checked_rem(b).unwrap_or(0);
    if r != 0 && (r < 0) != (b < 0) {
        r.wrapping_add(b)
    } else {
        r
    }
}

fn max_f32(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else {
        a.max(b)
    }
}

fn min_f32(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else {
        a.min(b)
    }
}

impl BinaryOp {
    /// The op's table entry.
    pub const fn spec(self) -> BinarySpec {
        use BinaryOp::*;
        match self {
            Add => spec(
                "add",
                numeric(
                    imp(|a, b| a + b, wgsl("({0} + {1})")),
                    imp(i32::wrapping_add, wgsl("({0} + {1})")),
                    imp(u32::wrapping_add, wgsl("({0} + {1})")),
                ),
                Tol::EXACT,
            ),
            Sub => spec(
                "sub",
                numeric(
                    imp(|a, b| a - b, wgsl("({0} - {1})")),
                    imp(i32::wrapping_sub, wgsl("({0} - {1})")),
                    imp(u32::wrapping_sub, wgsl("({0} - {1})")),
                ),
                Tol::EXACT,
            ),
            Mul => spec(
                "mul",
                numeric(
                    imp(|a, b| a * b, wgsl("({0} * {1})")),
                    imp(i32::wrapping_mul, wgsl("({0} * {1})")),
                    imp(u32::wrapping_mul, wgsl("({0} * {1})")),
                ),
                Tol::EXACT,
            ),
            // Integer division truncates and `x / 0 = x` (and `i32::MIN / -1 = i32::MIN`), as
            // WGSL's own division, made explicit by helpers.
            Div => spec(
                "div",
                numeric(
                    imp(|a, b| a / b, wgsl("({0} / {1})")),
                    imp(
                        |a, b| a.checked_div(b).unwrap_or(a),
                        wgsl_with("kiln_div_i32({0}, {1})", &["kiln_div_i32"]),
                    ),
                    imp(
                        |a, b| a.checked_div(b).unwrap_or(a),
                        wgsl_with("kiln_div_u32({0}, {1})", &["kiln_div_u32"]),
                    ),
                ),
                Tol::new(1e-6, 1e-6),
            ),
            Pow => spec(
                "pow",
                BinaryRule::Map(PerClass {
                    float: Some(imp(
                        f32::powf,
                        wgsl_with("kiln_pow({0}, {1})", &["kiln_pow"]),
                    )),
                    i32: None,
                    u32: None,
                    bool: None,
                }),
                Tol::new(1e-5, 1e-4),
            ),
            Max => spec(
                "maximum",
                numeric(
                    imp(max_f32, wgsl_with("kiln_fmax({0}, {1})", &["kiln_fmax"])),
                    imp(i32::max, wgsl("max({0}, {1})")),
                    imp(u32::max, wgsl("max({0}, {1})")),
                ),
                Tol::EXACT,
            ),
            Min => spec(
                "minimum",
                numeric(
                    imp(min_f32, wgsl_with("kiln_fmin({0}, {1})", &["kiln_fmin"])),
                    imp(i32::min, wgsl("min({0}, {1})")),
                    imp(u32::min, wgsl("min({0}, {1})")),
                ),
                Tol::EXACT,
            ),
            // Integer `x % 0 = 0`, as WGSL.
            Rem => spec(
                "rem",
                numeric(
                    imp(
                        |a, b| a - b * (a / b).trunc(),
                        wgsl_with("kiln_fmod({0}, {1})", &["kiln_fmod"]),
                    ),
                    imp(
                        |a, b| a.checked_rem(b).unwrap_or(0),
                        wgsl_with("kiln_rem_i32({0}, {1})", &["kiln_rem_i32"]),
                    ),
                    imp(
                        |a, b| a.checked_rem(b).unwrap_or(0),
                        wgsl_with("kiln_rem_u32({0}, {1})", &["kiln_rem_u32"]),
                    ),
                ),
                Tol::new(1e-5, 1e-5),
            ),
            Eq => spec(
                "eq",
                compare(
                    |a, b| a == b,
                    |a, b| a == b,
                    |a, b| a == b,
                    |a, b| a == b,
                    wgsl("({0} == {1})"),
                    wgsl("({0} == {1})"),
                ),
                Tol::EXACT,
            ),
            // Float `ne` is true for NaN even where a compiler assumes finite math.
            Ne => spec(
                "ne",
                BinaryRule::Test(PerClass {
                    float: Some(imp(
                        |a, b| a != b,
                        wgsl_with("kiln_fne({0}, {1})", &["kiln_fne"]),
                    )),
                    i32: Some(imp(|a, b| a != b, wgsl("({0} != {1})"))),
                    u32: Some(imp(|a, b| a != b, wgsl("({0} != {1})"))),
                    bool: Some(imp(|a, b| a != b, wgsl("({0} != {1})"))),
                }),
                Tol::EXACT,
            ),
            Lt => spec(
                "lt",
                compare(
                    |a, b| a < b,
                    |a, b| a < b,
                    |a, b| a < b,
                    |a, b| !a & b,
                    wgsl("({0} < {1})"),
                    wgsl("(!{0} && {1})"),
                ),
                Tol::EXACT,
            ),
            Le => spec(
                "le",
                compare(
                    |a, b| a <= b,
                    |a, b| a <= b,
                    |a, b| a <= b,
                    |a, b| !a | b,
                    wgsl("({0} <= {1})"),
                    wgsl("(!{0} || {1})"),
                ),
                Tol::EXACT,
            ),
            Gt => spec(
                "gt",
                compare(
                    |a, b| a > b,
                    |a, b| a > b,
                    |a, b| a > b,
                    |a, b| a & !b,
                    wgsl("({0} > {1})"),
                    wgsl("({0} && !{1})"),
                ),
                Tol::EXACT,
            ),
            Ge => spec(
                "ge",
                compare(
                    |a, b| a >= b,
                    |a, b| a >= b,
                    |a, b| a >= b,
                    |a, b| a | !b,
                    wgsl("({0} >= {1})"),
                    wgsl("({0} || !{1})"),
                ),
                Tol::EXACT,
            ),
            And => spec(
                "logical_and",
                BinaryRule::Test(PerClass {
                    float: Some(imp(
                        |a, b| truthy(a) && truthy(b),
                        wgsl_with("(kiln_truthy({0}) && kiln_truthy({1}))", &["kiln_truthy"]),
                    )),
                    i32: Some(imp(
                        |a, b| a != 0 && b != 0,
                        wgsl("(({0} != {Z}) && ({1} != {Z}))"),
                    )),
                    u32: Some(imp(
                        |a, b| a != 0 && b != 0,
                        wgsl("(({0} != {Z}) && ({1} != {Z}))"),
                    )),
                    bool: Some(imp(|a, b| a && b, wgsl("({0} && {1})"))),
                }),
                Tol::EXACT,
            ),
            Or => spec(
                "logical_or",
                BinaryRule::Test(PerClass {
                    float: Some(imp(
                        |a, b| truthy(a) || truthy(b),
                        wgsl_with("(kiln_truthy({0}) || kiln_truthy({1}))", &["kiln_truthy"]),
                    )),
                    i32: Some(imp(
                        |a, b| a != 0 || b != 0,
                        wgsl("(({0} != {Z}) || ({1} != {Z}))"),
                    )),
                    u32: Some(imp(
                        |a, b| a != 0 || b != 0,
                        wgsl("(({0} != {Z}) || ({1} != {Z}))"),
                    )),
                    bool: Some(imp(|a, b| a || b, wgsl("({0} || {1})"))),
                }),
                Tol::EXACT,
            ),
            RemFloor => spec(
                "rem_floor",
                numeric(
                    imp(
                        rem_floor_f32,
                        wgsl_with("kiln_frem_floor({0}, {1})", &["kiln_frem_floor"]),
                    ),
                    imp(
                        rem_floor_i32,
                        wgsl_with("kiln_rem_floor_i32({0}, {1})", &["kiln_rem_floor_i32"]),
                    ),
                    imp(
                        |a, b| a.checked_rem(b).unwrap_or(0),
                        wgsl_with("kiln_rem_u32({0}, {1})", &["kiln_rem_u32"]),
                    ),
                ),
                Tol::new(1e-5, 1e-5),
            ),
            Atan2 => spec(
                "atan2",
                BinaryRule::Map(PerClass {
                    float: Some(imp(
                        f32::atan2,
                        wgsl_with("kiln_atan2({0}, {1})", &["kiln_atan2"]),
                    )),
                    i32: None,
                    u32: None,
                    bool: None,
                }),
                Tol::new(2e-6, 1e-5),
            ),
            BitAnd => spec(
                "bitwise_and",
                int(|a, b| a & b, |a, b| a & b, wgsl("({0} & {1})")),
                Tol::EXACT,
            ),
            BitOr => spec(
                "bitwise_or",
                int(|a, b| a | b, |a, b| a | b, wgsl("({0} | {1})")),
                Tol::EXACT,
            ),
            BitXor => spec(
                "bitwise_xor",
                int(|a, b| a ^ b, |a, b| a ^ b, wgsl("({0} ^ {1})")),
                Tol::EXACT,
            ),
            // The shift amount is taken mod 32 (Rust's `wrapping_shl`), in WGSL too.
            Shl => spec(
                "shift_left",
                int(
                    |a, b| a.wrapping_shl(b as u32),
                    u32::wrapping_shl,
                    wgsl("({0} << (bitcast<u32>({1}) & 31u))"),
                ),
                Tol::EXACT,
            ),
            Shr => spec(
                "shift_right",
                int(
                    |a, b| a.wrapping_shr(b as u32),
                    u32::wrapping_shr,
                    wgsl("({0} >> (bitcast<u32>({1}) & 31u))"),
                ),
                Tol::EXACT,
            ),
        }
    }

    /// The op's name, as in the API and in `docs/OPS.md`.
    pub const fn name(self) -> &'static str {
        self.spec().name
    }

    /// True for comparisons and logical ops, whose result is `Bool`.
    pub const fn is_predicate(self) -> bool {
        match self.spec().rule {
            BinaryRule::Map(_) => false,
            BinaryRule::Test(_) => true,
        }
    }

    /// The dtypes the op accepts.
    pub const fn accepts(self) -> Accepts {
        match self.spec().rule {
            BinaryRule::Map(m) => m.accepted(),
            BinaryRule::Test(t) => t.accepted(),
        }
    }

    /// True if the op accepts dtype class `c`.
    pub const fn accepts_class(self, c: Class) -> bool {
        match self.spec().rule {
            BinaryRule::Map(m) => m.accepts_class(c),
            BinaryRule::Test(t) => t.accepts_class(c),
        }
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
        if !self.accepts_class(Class::of(lhs)) {
            return Err(IrError::UnsupportedDType {
                op: self.name(),
                dtype: lhs,
                why: self.accepts().why(),
            });
        }
        Ok(if self.is_predicate() {
            DType::Bool
        } else {
            lhs
        })
    }

    /// The WGSL template of the op on operands of class `c` (`None` where it refuses `c`).
    pub const fn wgsl(self, c: Class) -> Option<Wgsl> {
        match self.spec().rule {
            BinaryRule::Map(m) => m.wgsl(c),
            BinaryRule::Test(t) => t.wgsl(c),
        }
    }

    /// Reference semantics on `f32` (before rounding); a predicate gives 0 or 1. `None` where
    /// the op refuses floats.
    pub fn eval_f32(self, a: f32, b: f32) -> Option<f32> {
        match self.spec().rule {
            BinaryRule::Map(m) => m.float.map(|i| (i.eval)(a, b)),
            BinaryRule::Test(t) => t.float.map(|i| (i.eval)(a, b) as u8 as f32),
        }
    }

    /// Reference semantics on `i32` of an op whose result is `i32`.
    pub fn eval_i32(self, a: i32, b: i32) -> Option<i32> {
        match self.spec().rule {
            BinaryRule::Map(m) => m.i32.map(|i| (i.eval)(a, b)),
            BinaryRule::Test(_) => None,
        }
    }

    /// Reference semantics on `u32` of an op whose result is `u32`.
    pub fn eval_u32(self, a: u32, b: u32) -> Option<u32> {
        match self.spec().rule {
            BinaryRule::Map(m) => m.u32.map(|i| (i.eval)(a, b)),
            BinaryRule::Test(_) => None,
        }
    }

    /// Documented absolute and relative tolerance against the reference for `f32`.
    pub const fn tolerance_f32(self) -> (f32, f32) {
        self.spec().tol.pair()
    }
}

#[cfg(test)]
#[path = "binary_tests.rs"]
mod tests;

//! Unary elementwise ops: the table of every op's name, accepted dtypes, reference semantics,
//! WGSL template and tolerance, one entry per op in [`UnaryOp::spec`].

use super::spec::{imp, op_enum, wgsl, wgsl_with, Accepts, Class, Impl, PerClass, Tol, Wgsl};
use super::special::{erf, erfc};
use crate::{DType, IrError, Result};

op_enum! {
    /// A unary elementwise op. Float ops are computed in `f32` (see `docs/OPS.md`).
    pub enum UnaryOp;
    /// Every unary op, in table order.
    pub const ALL_UNARY;
    {
        /// `-x` (wrapping for integers).
        Neg,
        /// `|x|` (wrapping for `i32::MIN`).
        Abs,
        /// `e^x`.
        Exp,
        /// `2^x`.
        Exp2,
        /// Natural logarithm; `log(0) = -inf`, `log(x<0) = NaN`.
        Log,
        /// Base-2 logarithm.
        Log2,
        /// Square root; negative gives NaN.
        Sqrt,
        /// `1 / sqrt(x)`.
        Rsqrt,
        /// `1 / x`.
        Recip,
        /// Sine.
        Sin,
        /// Cosine.
        Cos,
        /// Hyperbolic tangent.
        Tanh,
        /// `1 / (1 + e^-x)`.
        Sigmoid,
        /// `max(x, 0)`; NaN stays NaN.
        Relu,
        /// `x * Phi(x)` with the exact normal CDF (erf form).
        GeluErf,
        /// `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`.
        GeluTanh,
        /// `x * sigmoid(x)`.
        Silu,
        /// Round toward -inf.
        Floor,
        /// Round toward +inf.
        Ceil,
        /// Round half to even.
        Round,
        /// -1, 0 or 1 (NaN stays NaN).
        Sign,
        /// Logical not: `x == 0`, result `Bool`.
        Not,
        /// `log(1 + e^x)`, as `max(x, 0) + log(1 + e^-|x|)` (no overflow).
        Softplus,
        /// Tangent.
        Tan,
        /// Hyperbolic sine.
        Sinh,
        /// Hyperbolic cosine.
        Cosh,
        /// Arcsine; NaN outside `[-1, 1]`.
        Asin,
        /// Arccosine; NaN outside `[-1, 1]`.
        Acos,
        /// Arctangent.
        Atan,
        /// Inverse hyperbolic sine.
        Asinh,
        /// Inverse hyperbolic cosine; NaN below 1.
        Acosh,
        /// Inverse hyperbolic tangent; `±inf` at `±1`, NaN beyond.
        Atanh,
        /// `log(1 + x)`, accurate for small `x`.
        Log1p,
        /// The error function.
        Erf,
        /// Round toward zero.
        Trunc,
        /// Bitwise not of an integer.
        BitNot,
    }
}

/// Implementations of an op whose result has the operand's dtype.
pub type MapImpls = PerClass<
    Impl<fn(f32) -> f32>,
    Impl<fn(i32) -> i32>,
    Impl<fn(u32) -> u32>,
    Impl<fn(bool) -> bool>,
>;

/// The `u32` implementation of an op, where it has one.
type U32Impl = Option<Impl<fn(u32) -> u32>>;

/// Implementations of a test, whose result is `Bool`.
pub type TestImpls = PerClass<
    Impl<fn(f32) -> bool>,
    Impl<fn(i32) -> bool>,
    Impl<fn(u32) -> bool>,
    Impl<fn(bool) -> bool>,
>;

/// What a unary op computes, per dtype class.
#[derive(Clone, Copy, Debug)]
pub enum UnaryRule {
    /// A value of the operand's dtype.
    Map(MapImpls),
    /// A `Bool`.
    Test(TestImpls),
}

/// Everything about one unary op.
#[derive(Clone, Copy, Debug)]
pub struct UnarySpec {
    /// The op's name, as in the API and in `docs/OPS.md`.
    pub name: &'static str,
    /// Semantics and WGSL per accepted class.
    pub rule: UnaryRule,
    /// Tolerance of `f32` results.
    pub tol: Tol,
    /// A relative bound that holds alone (no absolute part) for `x < 0` where the value is in
    /// f32's normal range, for ops accurate relative to their value in the left tail.
    pub left_tail_rtol: Option<f32>,
}

const fn spec(name: &'static str, rule: UnaryRule, tol: Tol) -> UnarySpec {
    UnarySpec {
        name,
        rule,
        tol,
        left_tail_rtol: None,
    }
}

/// Floats only.
const fn float(eval: fn(f32) -> f32, w: Wgsl) -> UnaryRule {
    UnaryRule::Map(PerClass {
        float: Some(imp(eval, w)),
        i32: None,
        u32: None,
        bool: None,
    })
}

/// Floats and integers.
const fn numeric(f: Impl<fn(f32) -> f32>, i: Impl<fn(i32) -> i32>, u: U32Impl) -> UnaryRule {
    UnaryRule::Map(PerClass {
        float: Some(f),
        i32: Some(i),
        u32: u,
        bool: None,
    })
}

/// The identity on integers (rounding, `abs` and `relu` of unsigned values).
const fn same_i32() -> Impl<fn(i32) -> i32> {
    imp(|x| x, wgsl("{0}"))
}

const fn same_u32() -> U32Impl {
    Some(imp(|x| x, wgsl("{0}")))
}

/// Transcendental functions of f32.
const TRANSCENDENTAL: Tol = Tol::new(1e-5, 2e-5);

impl UnaryOp {
    /// The op's table entry.
    pub const fn spec(self) -> UnarySpec {
        use UnaryOp::*;
        match self {
            Neg => spec(
                "neg",
                numeric(
                    imp(|x| -x, wgsl("(-{0})")),
                    imp(i32::wrapping_neg, wgsl("(-{0})")),
                    None,
                ),
                Tol::EXACT,
            ),
            Abs => spec(
                "abs",
                numeric(
                    imp(f32::abs, wgsl("abs({0})")),
                    imp(i32::wrapping_abs, wgsl("abs({0})")),
                    same_u32(),
                ),
                Tol::EXACT,
            ),
            Exp => spec("exp", float(f32::exp, wgsl("exp({0})")), TRANSCENDENTAL),
            Exp2 => spec("exp2", float(f32::exp2, wgsl("exp2({0})")), TRANSCENDENTAL),
            Log => spec("log", float(f32::ln, wgsl("log({0})")), TRANSCENDENTAL),
            Log2 => spec("log2", float(f32::log2, wgsl("log2({0})")), TRANSCENDENTAL),
            Sqrt => spec(
                "sqrt",
                float(f32::sqrt, wgsl("sqrt({0})")),
                Tol::new(1e-6, 1e-5),
            ),
            Rsqrt => spec(
                "rsqrt",
                float(|x| 1.0 / x.sqrt(), wgsl("(1.0 / sqrt({0}))")),
                Tol::new(1e-6, 1e-5),
            ),
            Recip => spec(
                "recip",
                float(|x| 1.0 / x, wgsl("(1.0 / {0})")),
                Tol::new(1e-6, 1e-5),
            ),
            Sin => spec("sin", float(f32::sin, wgsl("sin({0})")), Tol::new(2e-6, 1e-5)),
            Cos => spec("cos", float(f32::cos, wgsl("cos({0})")), Tol::new(2e-6, 1e-5)),
            Tanh => spec(
                "tanh",
                float(f32::tanh, wgsl_with("kiln_tanh({0})", &["kiln_tanh"])),
                TRANSCENDENTAL,
            ),
            Sigmoid => spec(
                "sigmoid",
                float(
                    |x| (1.0 / (1.0 + (-(x as f64)).exp())) as f32,
                    wgsl("(1.0 / (1.0 + exp(-{0})))"),
                ),
                TRANSCENDENTAL,
            ),
            Relu => spec(
                "relu",
                numeric(
                    imp(
                        |x| if x.is_nan() { x } else { x.max(0.0) },
                        wgsl_with("select(max({0}, {Z}), {0}, kiln_isnan({0}))", &["kiln_isnan"]),
                    ),
                    imp(|x| x.max(0), wgsl("max({0}, {Z})")),
                    same_u32(),
                ),
                Tol::EXACT,
            ),
            // Accurate relative to the result in the left tail, where `1 + erf` would cancel.
            GeluErf => UnarySpec {
                left_tail_rtol: Some(2e-6),
                ..spec(
                    "gelu",
                    float(gelu_erf, wgsl_with("kiln_gelu({0})", &["kiln_gelu"])),
                    TRANSCENDENTAL,
                )
            },
            GeluTanh => spec(
                "gelu_tanh",
                float(
                    |x| {
                        let xd = x as f64;
                        let k = (2.0 / std::f64::consts::PI).sqrt();
                        (0.5 * xd * (1.0 + (k * (xd + 0.044715 * xd * xd * xd)).tanh())) as f32
                    },
                    wgsl_with(
                        "(0.5 * {0} * (1.0 + kiln_tanh(0.79788456080286536 * ({0} + 0.044715 * {0} * {0} * {0}))))",
                        &["kiln_tanh"],
                    ),
                ),
                TRANSCENDENTAL,
            ),
            Silu => spec(
                "silu",
                float(
                    |x| (x as f64 / (1.0 + (-(x as f64)).exp())) as f32,
                    wgsl("({0} / (1.0 + exp(-{0})))"),
                ),
                TRANSCENDENTAL,
            ),
            Floor => spec(
                "floor",
                numeric(imp(f32::floor, wgsl("floor({0})")), same_i32(), same_u32()),
                Tol::EXACT,
            ),
            Ceil => spec(
                "ceil",
                numeric(imp(f32::ceil, wgsl("ceil({0})")), same_i32(), same_u32()),
                Tol::EXACT,
            ),
            Round => spec(
                "round",
                numeric(
                    imp(f32::round_ties_even, wgsl("round({0})")),
                    same_i32(),
                    same_u32(),
                ),
                Tol::EXACT,
            ),
            Sign => spec(
                "sign",
                numeric(
                    imp(
                        sign_f32,
                        wgsl_with("select(sign({0}), {0}, kiln_isnan({0}))", &["kiln_isnan"]),
                    ),
                    imp(i32::signum, wgsl("sign({0})")),
                    None,
                ),
                Tol::EXACT,
            ),
            Softplus => spec(
                "softplus",
                float(
                    |x| super::spec::log_add_exp(x as f64, 0.0) as f32,
                    wgsl("(max({0}, 0.0) + log(1.0 + exp(-abs({0}))))"),
                ),
                TRANSCENDENTAL,
            ),
            Tan => spec("tan", float(|x| (x as f64).tan() as f32, wgsl("tan({0})")), Tol::new(1e-5, 1e-4)),
            Sinh => spec(
                "sinh",
                float(|x| (x as f64).sinh() as f32, wgsl_with("kiln_sinh({0})", &["kiln_sinh"])),
                TRANSCENDENTAL,
            ),
            Cosh => spec(
                "cosh",
                float(|x| (x as f64).cosh() as f32, wgsl_with("kiln_cosh({0})", &["kiln_cosh"])),
                TRANSCENDENTAL,
            ),
            Asin => spec(
                "asin",
                float(|x| (x as f64).asin() as f32, wgsl_with("kiln_asin({0})", &["kiln_asin"])),
                TRANSCENDENTAL,
            ),
            Acos => spec(
                "acos",
                float(|x| (x as f64).acos() as f32, wgsl_with("kiln_acos({0})", &["kiln_acos"])),
                TRANSCENDENTAL,
            ),
            Atan => spec("atan", float(
                    |x| (x as f64).atan() as f32,
                    wgsl_with("select(atan({0}), {0}, kiln_isnan({0}))", &["kiln_isnan"]),
                ), TRANSCENDENTAL),
            Asinh => spec(
                "asinh",
                float(|x| (x as f64).asinh() as f32, wgsl_with("kiln_asinh({0})", &["kiln_asinh"])),
                TRANSCENDENTAL,
            ),
            Acosh => spec(
                "acosh",
                float(|x| (x as f64).acosh() as f32, wgsl_with("kiln_acosh({0})", &["kiln_acosh"])),
                TRANSCENDENTAL,
            ),
            Atanh => spec(
                "atanh",
                float(|x| (x as f64).atanh() as f32, wgsl_with("kiln_atanh({0})", &["kiln_atanh"])),
                TRANSCENDENTAL,
            ),
            Log1p => spec(
                "log1p",
                float(|x| (x as f64).ln_1p() as f32, wgsl_with("kiln_log1p({0})", &["kiln_log1p"])),
                TRANSCENDENTAL,
            ),
            Erf => spec(
                "erf",
                float(
                    |x| erf(x as f64) as f32,
                    wgsl_with(
                        "select(kiln_erf({0}), {0}, kiln_isnan({0}))",
                        &["kiln_erf", "kiln_isnan"],
                    ),
                ),
                Tol::new(1e-6, 1e-5),
            ),
            Trunc => spec(
                "trunc",
                numeric(imp(f32::trunc, wgsl("trunc({0})")), same_i32(), same_u32()),
                Tol::EXACT,
            ),
            BitNot => spec(
                "bitwise_not",
                UnaryRule::Map(PerClass {
                    float: None,
                    i32: Some(imp(|x| !x, wgsl("(~{0})"))),
                    u32: Some(imp(|x| !x, wgsl("(~{0})"))),
                    bool: None,
                }),
                Tol::EXACT,
            ),
            Not => spec(
                "logical_not",
                UnaryRule::Test(PerClass {
                    float: Some(imp(|x| x == 0.0, wgsl("({0} == {Z})"))),
                    i32: Some(imp(|x| x == 0, wgsl("({0} == {Z})"))),
                    u32: Some(imp(|x| x == 0, wgsl("({0} == {Z})"))),
                    bool: Some(imp(|x| !x, wgsl("(!{0})"))),
                }),
                Tol::EXACT,
            ),
        }
    }

    /// The op's name, as in the API and in `docs/OPS.md`.
    pub const fn name(self) -> &'static str {
        self.spec().name
    }

    /// The dtypes the op accepts.
    pub const fn accepts(self) -> Accepts {
        match self.spec().rule {
            UnaryRule::Map(m) => m.accepted(),
            UnaryRule::Test(t) => t.accepted(),
        }
    }

    /// True if the op accepts dtype class `c`.
    pub const fn accepts_class(self, c: Class) -> bool {
        match self.spec().rule {
            UnaryRule::Map(m) => m.accepts_class(c),
            UnaryRule::Test(t) => t.accepts_class(c),
        }
    }

    /// The result dtype for an input of `dtype`, or a typed error.
    pub fn result_dtype(self, dtype: DType) -> Result<DType> {
        if !self.accepts_class(Class::of(dtype)) {
            return Err(IrError::UnsupportedDType {
                op: self.name(),
                dtype,
                why: self.accepts().why(),
            });
        }
        Ok(match self.spec().rule {
            UnaryRule::Map(_) => dtype,
            UnaryRule::Test(_) => DType::Bool,
        })
    }

    /// The WGSL template of the op on operands of class `c` (`None` where it refuses `c`).
    pub const fn wgsl(self, c: Class) -> Option<Wgsl> {
        match self.spec().rule {
            UnaryRule::Map(m) => m.wgsl(c),
            UnaryRule::Test(t) => t.wgsl(c),
        }
    }

    /// Reference semantics on `f32` (before rounding to `f16`/`bf16`); a test gives 0 or 1.
    /// `None` where the op refuses floats.
    pub fn eval_f32(self, x: f32) -> Option<f32> {
        match self.spec().rule {
            UnaryRule::Map(m) => m.float.map(|i| (i.eval)(x)),
            UnaryRule::Test(t) => t.float.map(|i| (i.eval)(x) as u8 as f32),
        }
    }

    /// Documented absolute and relative tolerance of the GPU result against the reference, for
    /// `f32` (see `docs/OPS.md`). `f16`/`bf16` add one unit in the last place of their type.
    pub const fn tolerance_f32(self) -> (f32, f32) {
        self.spec().tol.pair()
    }

    /// The relative tolerance of `f32` results for `x < 0` where the value is in f32's normal
    /// range: [`UnarySpec::left_tail_rtol`] where the op documents one, else its `rtol`.
    pub const fn tail_rtol_f32(self) -> f32 {
        let s = self.spec();
        match s.left_tail_rtol {
            Some(r) => r,
            None => s.tol.rtol,
        }
    }
}

fn sign_f32(x: f32) -> f32 {
    if x.is_nan() {
        x
    } else if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// `x * Phi(x)` in f64. For x < 0, `1 + erf(x/√2)` cancels (to 0 in f64 by x = -12): use
/// `erfc(-x/√2)`, accurate relative to its own size.
fn gelu_erf(x: f32) -> f32 {
    let xd = x as f64;
    let z = xd / std::f64::consts::SQRT_2;
    if xd < 0.0 {
        (0.5 * xd * erfc(-z)) as f32
    } else {
        (0.5 * xd * (1.0 + erf(z))) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gelu_left_tail_does_not_cancel() {
        // x * Phi(x) for x = -4.809 and -5.92 (mpmath), -20 underflows to -0.
        let g = |x: f32| UnaryOp::GeluErf.eval_f32(x).unwrap();
        let rel = |got: f32, want: f64| ((got as f64 - want) / want).abs();
        assert!(
            rel(g(-4.809), -3.647_318_879_315_073e-6) < 1e-6,
            "{}",
            g(-4.809)
        );
        assert!(
            rel(g(-5.92), -9.529_471_913_130_743e-9) < 1e-6,
            "{}",
            g(-5.92)
        );
        assert!(
            rel(g(-10.0), -7.619_853_024_160_526e-23) < 1e-6,
            "{}",
            g(-10.0)
        );
        assert_eq!(g(-20.0).to_bits(), (-0.0f32).to_bits());
        assert!(g(f32::NEG_INFINITY).is_nan());
    }

    #[test]
    fn nan_propagates() {
        for op in ALL_UNARY {
            if op != UnaryOp::Not && op.accepts_class(Class::Float) {
                assert!(op.eval_f32(f32::NAN).unwrap().is_nan(), "{}", op.name());
            }
        }
        assert_eq!(UnaryOp::Not.eval_f32(f32::NAN), Some(0.0));
    }

    #[test]
    fn every_entry_names_a_known_dtype_set() {
        for op in ALL_UNARY {
            assert_ne!(op.accepts(), Accepts::Other, "{}", op.name());
            assert!(
                op.accepts_class(Class::Float) || op.accepts() == Accepts::Int,
                "{}",
                op.name()
            );
        }
    }

    #[test]
    fn dtype_rules() {
        assert!(UnaryOp::Exp.result_dtype(DType::I32).is_err());
        assert_eq!(UnaryOp::Not.result_dtype(DType::F32).unwrap(), DType::Bool);
        assert!(UnaryOp::Neg.result_dtype(DType::U32).is_err());
        assert!(UnaryOp::Abs.result_dtype(DType::U32).is_ok());
    }
}

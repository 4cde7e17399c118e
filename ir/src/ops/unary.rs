//! Unary elementwise ops: their names, the dtypes they accept and their reference semantics.

use crate::{DType, IrError, Result};

/// A unary elementwise op. Float ops are computed in `f32` (see `docs/OPS.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UnaryOp {
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
}

/// Every unary op, for tests and tables.
pub const ALL_UNARY: [UnaryOp; 22] = [
    UnaryOp::Neg,
    UnaryOp::Abs,
    UnaryOp::Exp,
    UnaryOp::Exp2,
    UnaryOp::Log,
    UnaryOp::Log2,
    UnaryOp::Sqrt,
    UnaryOp::Rsqrt,
    UnaryOp::Recip,
    UnaryOp::Sin,
    UnaryOp::Cos,
    UnaryOp::Tanh,
    UnaryOp::Sigmoid,
    UnaryOp::Relu,
    UnaryOp::GeluErf,
    UnaryOp::GeluTanh,
    UnaryOp::Silu,
    UnaryOp::Floor,
    UnaryOp::Ceil,
    UnaryOp::Round,
    UnaryOp::Sign,
    UnaryOp::Not,
];

/// What an op accepts, as a small table instead of scattered checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Accepts {
    /// Float dtypes only.
    Float,
    /// Float and signed integers.
    Signed,
    /// Every numeric dtype.
    Numeric,
    /// Every dtype.
    Any,
}

impl UnaryOp {
    /// The op's name, as in the API and in `docs/OPS.md`.
    pub fn name(self) -> &'static str {
        use UnaryOp::*;
        match self {
            Neg => "neg",
            Abs => "abs",
            Exp => "exp",
            Exp2 => "exp2",
            Log => "log",
            Log2 => "log2",
            Sqrt => "sqrt",
            Rsqrt => "rsqrt",
            Recip => "recip",
            Sin => "sin",
            Cos => "cos",
            Tanh => "tanh",
            Sigmoid => "sigmoid",
            Relu => "relu",
            GeluErf => "gelu",
            GeluTanh => "gelu_tanh",
            Silu => "silu",
            Floor => "floor",
            Ceil => "ceil",
            Round => "round",
            Sign => "sign",
            Not => "logical_not",
        }
    }

    fn accepts(self) -> Accepts {
        use UnaryOp::*;
        match self {
            Neg | Sign => Accepts::Signed,
            Abs | Relu | Floor | Ceil | Round => Accepts::Numeric,
            Not => Accepts::Any,
            _ => Accepts::Float,
        }
    }

    /// The result dtype for an input of `dtype`, or a typed error.
    pub fn result_dtype(self, dtype: DType) -> Result<DType> {
        let ok = match self.accepts() {
            Accepts::Float => dtype.is_float(),
            Accepts::Signed => dtype.is_float() || dtype == DType::I32,
            Accepts::Numeric => dtype.is_numeric(),
            Accepts::Any => true,
        };
        if !ok {
            return Err(IrError::UnsupportedDType {
                op: self.name(),
                dtype,
                why: match self.accepts() {
                    Accepts::Float => "float dtypes only",
                    Accepts::Signed => "float and i32 only",
                    _ => "numeric dtypes only",
                },
            });
        }
        Ok(if self == UnaryOp::Not {
            DType::Bool
        } else {
            dtype
        })
    }

    /// Reference semantics on `f32` (before rounding to `f16`/`bf16`).
    pub fn eval_f32(self, x: f32) -> f32 {
        use UnaryOp::*;
        match self {
            Neg => -x,
            Abs => x.abs(),
            Exp => x.exp(),
            Exp2 => x.exp2(),
            Log => x.ln(),
            Log2 => x.log2(),
            Sqrt => x.sqrt(),
            Rsqrt => 1.0 / x.sqrt(),
            Recip => 1.0 / x,
            Sin => x.sin(),
            Cos => x.cos(),
            Tanh => x.tanh(),
            Sigmoid => (1.0 / (1.0 + (-(x as f64)).exp())) as f32,
            Relu => {
                if x.is_nan() {
                    x
                } else {
                    x.max(0.0)
                }
            }
            GeluErf => {
                // For x < 0, `1 + erf(x/√2)` cancels (to 0 in f64 by x = -12): use
                // `erfc(-x/√2)`, accurate relative to its own size.
                let xd = x as f64;
                let z = xd / std::f64::consts::SQRT_2;
                if xd < 0.0 {
                    (0.5 * xd * erfc(-z)) as f32
                } else {
                    (0.5 * xd * (1.0 + erf(z))) as f32
                }
            }
            GeluTanh => {
                let xd = x as f64;
                let k = (2.0 / std::f64::consts::PI).sqrt();
                (0.5 * xd * (1.0 + (k * (xd + 0.044715 * xd * xd * xd)).tanh())) as f32
            }
            Silu => (x as f64 / (1.0 + (-(x as f64)).exp())) as f32,
            Floor => x.floor(),
            Ceil => x.ceil(),
            Round => x.round_ties_even(),
            Sign => {
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
            Not => (x == 0.0) as u8 as f32,
        }
    }

    /// Reference semantics on `i32` (wrapping).
    pub fn eval_i32(self, x: i32) -> i32 {
        match self {
            UnaryOp::Neg => x.wrapping_neg(),
            UnaryOp::Abs => x.wrapping_abs(),
            UnaryOp::Relu => x.max(0),
            UnaryOp::Sign => x.signum(),
            UnaryOp::Not => (x == 0) as i32,
            _ => x,
        }
    }

    /// Reference semantics on `u32`.
    pub fn eval_u32(self, x: u32) -> u32 {
        match self {
            UnaryOp::Not => (x == 0) as u32,
            _ => x,
        }
    }

    /// The documented relative tolerance of `f32` gelu for `x < 0`, where its value is in
    /// f32's normal range (`docs/OPS.md`): the left tail is computed in an erfc form, accurate
    /// relative to the value, not only absolutely.
    pub fn tail_rtol_f32(self) -> f32 {
        match self {
            UnaryOp::GeluErf => 2e-6,
            _ => self.tolerance_f32().1,
        }
    }

    /// Documented absolute and relative tolerance of the GPU result against the reference, for
    /// `f32` (see `docs/OPS.md`). `f16`/`bf16` add one unit in the last place of their type.
    pub fn tolerance_f32(self) -> (f32, f32) {
        use UnaryOp::*;
        match self {
            Neg | Abs | Relu | Floor | Ceil | Round | Sign | Not => (0.0, 0.0),
            Sqrt | Recip | Rsqrt => (1e-6, 1e-5),
            Sin | Cos => (2e-6, 1e-5),
            _ => (1e-5, 2e-5),
        }
    }
}

/// The complementary error function `1 - erf(x)`, accurate relative to its value (about
/// 1e-13 relative for `x >= 0`, where it is small; reference use only). It underflows to 0
/// for `x > 27.2` and is 2 for `x < -6`.
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 2.5 {
        // erfc >= 4e-4 here, so `1 - erf` loses at most 12 bits of f64's 53.
        return 1.0 - erf(x);
    }
    if x > 27.3 {
        return 0.0;
    }
    // Continued fraction: erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))).
    let mut f = x;
    for k in (1..80).rev() {
        f = x + (k as f64 / 2.0) / f;
    }
    // exp(-x^2) with x^2 split so that its rounding error does not scale the result: x = h + l
    // with h holding 26 bits, h^2 exact.
    let h = f64::from_bits(x.to_bits() & !((1u64 << 27) - 1));
    let l = x - h;
    (-h * h).exp() * (-l * (x + h)).exp() / (std::f64::consts::PI.sqrt() * f)
}

/// The error function, accurate to about 1e-15 (reference use only).
pub fn erf(x: f64) -> f64 {
    // erf via its Maclaurin series for small |x| and a continued fraction of erfc otherwise.
    let ax = x.abs();
    let r = if ax < 2.5 {
        let mut sum = ax;
        let mut term = ax;
        let x2 = ax * ax;
        let mut n = 0.0;
        loop {
            n += 1.0;
            term *= -x2 / n;
            let add = term / (2.0 * n + 1.0);
            sum += add;
            if add.abs() <= 1e-17 * sum.abs() || n > 200.0 {
                break;
            }
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    } else {
        // Lentz's continued fraction for erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + ...))).
        let mut f = ax;
        for k in (1..60).rev() {
            f = ax + (k as f64 / 2.0) / f;
        }
        1.0 - (-ax * ax).exp() / (std::f64::consts::PI.sqrt() * f)
    };
    if x < 0.0 {
        -r
    } else {
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_known_values() {
        assert!((erf(0.5) - 0.520_499_877_813_046_5).abs() < 1e-14);
        assert!((erf(-1.0) + 0.842_700_792_949_714_9).abs() < 1e-14);
        assert!((erf(3.0) - 0.999_977_909_503_001_4).abs() < 1e-14);
        assert_eq!(erf(0.0), 0.0);
    }

    #[test]
    fn erfc_is_accurate_relative_to_its_value() {
        // Values from mpmath (50 digits).
        for (x, want) in [
            (0.5, 0.479_500_122_186_953_5),
            (2.0, 4.677_734_981_047_266e-3),
            (3.0, 2.209_049_699_858_544e-5),
            (3.4, 1.521_993_362_862_286_3e-6),
            (4.1854, 3.238_076_167_217_474e-9),
            (7.0, 4.183_825_607_779_414e-23),
            (10.0, 2.088_487_583_762_545e-45),
        ] {
            let got = erfc(x);
            assert!(
                ((got - want) / want).abs() < 1e-12,
                "erfc({x}) = {got}, not {want}"
            );
        }
        assert_eq!(erfc(-40.0), 2.0);
        assert_eq!(erfc(40.0), 0.0);
        assert!(erfc(f64::NAN).is_nan());
    }

    #[test]
    fn gelu_left_tail_does_not_cancel() {
        // x * Phi(x) for x = -4.809 and -5.92 (mpmath), -20 underflows to -0.
        let g = |x: f32| UnaryOp::GeluErf.eval_f32(x);
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
            if op != UnaryOp::Not && op.result_dtype(DType::F32).is_ok() {
                assert!(op.eval_f32(f32::NAN).is_nan(), "{}", op.name());
            }
        }
        assert_eq!(UnaryOp::Not.eval_f32(f32::NAN), 0.0);
    }

    #[test]
    fn dtype_rules() {
        assert!(UnaryOp::Exp.result_dtype(DType::I32).is_err());
        assert_eq!(UnaryOp::Not.result_dtype(DType::F32).unwrap(), DType::Bool);
        assert!(UnaryOp::Neg.result_dtype(DType::U32).is_err());
        assert!(UnaryOp::Abs.result_dtype(DType::U32).is_ok());
    }
}

//! Elementwise ops with numpy broadcasting, and the `+ - * /` operators (which return
//! `Result<Tensor>`, so a shape error is a value, never a panic).

use super::Tensor;
use crate::Result;
use kiln_ir::ops::{BinaryOp, UnaryOp};
use kiln_ir::{DType, Op, Shape};

macro_rules! unary_methods {
    ($($(#[$doc:meta])* $name:ident => $op:ident;)*) => {
        impl Tensor {
            $($(#[$doc])* pub fn $name(&self) -> Result<Tensor> { self.unary(UnaryOp::$op) })*
        }
    };
}

unary_methods! {
    /// `-x`.
    neg => Neg;
    /// `|x|`.
    abs => Abs;
    /// `e^x`.
    exp => Exp;
    /// `2^x`.
    exp2 => Exp2;
    /// Natural log.
    log => Log;
    /// Base-2 log.
    log2 => Log2;
    /// Square root.
    sqrt => Sqrt;
    /// `1 / sqrt(x)`.
    rsqrt => Rsqrt;
    /// `1 / x`.
    recip => Recip;
    /// Sine.
    sin => Sin;
    /// Cosine.
    cos => Cos;
    /// Hyperbolic tangent.
    tanh => Tanh;
    /// Logistic sigmoid.
    sigmoid => Sigmoid;
    /// `max(x, 0)`.
    relu => Relu;
    /// GELU, exact (erf) form.
    gelu => GeluErf;
    /// GELU, tanh approximation.
    gelu_tanh => GeluTanh;
    /// `x * sigmoid(x)`.
    silu => Silu;
    /// Round down.
    floor => Floor;
    /// Round up.
    ceil => Ceil;
    /// Round half to even.
    round => Round;
    /// Sign: -1, 0 or 1.
    sign => Sign;
    /// `x == 0`, as bool.
    logical_not => Not;
    /// `log(1 + e^x)`, without overflow.
    softplus => Softplus;
    /// Tangent.
    tan => Tan;
    /// Hyperbolic sine.
    sinh => Sinh;
    /// Hyperbolic cosine.
    cosh => Cosh;
    /// Arcsine.
    asin => Asin;
    /// Arccosine.
    acos => Acos;
    /// Arctangent.
    atan => Atan;
    /// Inverse hyperbolic sine.
    asinh => Asinh;
    /// Inverse hyperbolic cosine.
    acosh => Acosh;
    /// Inverse hyperbolic tangent.
    atanh => Atanh;
    /// `log(1 + x)`, accurate near 0.
    log1p => Log1p;
    /// The error function.
    erf => Erf;
    /// Round toward zero.
    trunc => Trunc;
    /// Bitwise not (integers).
    bitwise_not => BitNot;
}

macro_rules! binary_methods {
    ($($(#[$doc:meta])* $name:ident => $op:ident;)*) => {
        impl Tensor {
            $($(#[$doc])* pub fn $name(&self, other: &Tensor) -> Result<Tensor> {
                self.binary(BinaryOp::$op, other)
            })*
        }
    };
}

binary_methods! {
    /// `self + other`, broadcasting.
    add => Add;
    /// `self - other`, broadcasting.
    sub => Sub;
    /// `self * other`, broadcasting.
    mul => Mul;
    /// `self / other`, broadcasting.
    div => Div;
    /// `self ^ other` (floats).
    pow => Pow;
    /// Elementwise maximum (NaN propagates).
    maximum => Max;
    /// Elementwise minimum (NaN propagates).
    minimum => Min;
    /// Truncated remainder.
    rem => Rem;
    /// `self == other`.
    eq => Eq;
    /// `self != other`.
    ne => Ne;
    /// `self < other`.
    lt => Lt;
    /// `self <= other`.
    le => Le;
    /// `self > other`.
    gt => Gt;
    /// `self >= other`.
    ge => Ge;
    /// Logical and.
    logical_and => And;
    /// Logical or.
    logical_or => Or;
    /// Floored remainder, with the divisor's sign (Python's `%`).
    rem_floor => RemFloor;
    /// Four-quadrant arctangent of `self / other` (`self` is y).
    atan2 => Atan2;
    /// Bitwise and (integers).
    bitwise_and => BitAnd;
    /// Bitwise or (integers).
    bitwise_or => BitOr;
    /// Bitwise exclusive or (integers).
    bitwise_xor => BitXor;
    /// `self << (other mod 32)` (integers).
    shift_left => Shl;
    /// `self >> (other mod 32)`: arithmetic for i32, logical for u32.
    shift_right => Shr;
}

impl Tensor {
    /// Applies a unary op.
    pub fn unary(&self, op: UnaryOp) -> Result<Tensor> {
        Tensor::op(Op::Unary(op), &[self])
    }

    /// Applies a binary op with numpy broadcasting.
    pub fn binary(&self, op: BinaryOp, other: &Tensor) -> Result<Tensor> {
        if self.dtype() != other.dtype() {
            // Report the dtype error before any broadcast error.
            op.result_dtype(self.dtype(), other.dtype())?;
        }
        let shape = Shape::broadcast(op.name(), self.shape(), other.shape())?;
        let a = self.broadcast_to(shape.dims())?;
        let b = other.broadcast_to(shape.dims())?;
        Tensor::op(Op::Binary(op), &[&a, &b])
    }

    /// A rank-0 constant of this tensor's dtype and device.
    pub fn scalar_like(&self, v: f64) -> Result<Tensor> {
        Tensor::full_on(self.device(), &[], v, self.dtype())
    }

    /// `self + v`.
    pub fn add_scalar(&self, v: f64) -> Result<Tensor> {
        self.add(&self.scalar_like(v)?)
    }

    /// `self * v`.
    pub fn mul_scalar(&self, v: f64) -> Result<Tensor> {
        self.mul(&self.scalar_like(v)?)
    }

    /// `self - v`.
    pub fn sub_scalar(&self, v: f64) -> Result<Tensor> {
        self.sub(&self.scalar_like(v)?)
    }

    /// `self / v`.
    pub fn div_scalar(&self, v: f64) -> Result<Tensor> {
        self.div(&self.scalar_like(v)?)
    }

    /// `self ^ v`.
    pub fn pow_scalar(&self, v: f64) -> Result<Tensor> {
        self.pow(&self.scalar_like(v)?)
    }

    /// `where(cond, a, b)` with broadcasting over all three.
    pub fn where_(cond: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        let s = Shape::broadcast("where", cond.shape(), a.shape())?;
        let s = Shape::broadcast("where", &s, b.shape())?;
        let (c, x, y) = (
            cond.broadcast_to(s.dims())?,
            a.broadcast_to(s.dims())?,
            b.broadcast_to(s.dims())?,
        );
        Tensor::op(Op::Where, &[&c, &x, &y])
    }

    /// Converts to another dtype (rules in `docs/OPS.md`).
    pub fn cast(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        Tensor::op(Op::Cast(dtype), &[self])
    }

    /// `max(min(self, hi), lo)`.
    pub fn clamp(&self, lo: f64, hi: f64) -> Result<Tensor> {
        self.minimum(&self.scalar_like(hi)?)?
            .maximum(&self.scalar_like(lo)?)
    }
}

macro_rules! operator {
    ($trait:ident, $method:ident, $call:ident, $scalar:ident) => {
        impl std::ops::$trait<&Tensor> for &Tensor {
            type Output = Result<Tensor>;
            fn $method(self, rhs: &Tensor) -> Result<Tensor> {
                Tensor::$call(self, rhs)
            }
        }
        impl std::ops::$trait<Tensor> for Tensor {
            type Output = Result<Tensor>;
            fn $method(self, rhs: Tensor) -> Result<Tensor> {
                Tensor::$call(&self, &rhs)
            }
        }
        impl std::ops::$trait<&Tensor> for Tensor {
            type Output = Result<Tensor>;
            fn $method(self, rhs: &Tensor) -> Result<Tensor> {
                Tensor::$call(&self, rhs)
            }
        }
        impl std::ops::$trait<f64> for &Tensor {
            type Output = Result<Tensor>;
            fn $method(self, rhs: f64) -> Result<Tensor> {
                Tensor::$scalar(self, rhs)
            }
        }
        impl std::ops::$trait<f64> for Tensor {
            type Output = Result<Tensor>;
            fn $method(self, rhs: f64) -> Result<Tensor> {
                Tensor::$scalar(&self, rhs)
            }
        }
    };
}

operator!(Add, add, add, add_scalar);
operator!(Sub, sub, sub, sub_scalar);
operator!(Mul, mul, mul, mul_scalar);
operator!(Div, div, div, div_scalar);

impl std::ops::Neg for &Tensor {
    type Output = Result<Tensor>;
    fn neg(self) -> Result<Tensor> {
        Tensor::neg(self)
    }
}

//! Element types and typed scalar constants.

use crate::quant::BlockFormat;
use std::fmt;
use std::hash::{Hash, Hasher};

/// The element type of a tensor.
///
/// `F16` and `BF16` are computed in `f32` and rounded to their own precision after every op,
/// on the GPU and in the reference interpreter alike (see `docs/OPS.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    /// IEEE-754 binary32.
    F32,
    /// IEEE-754 binary16.
    F16,
    /// bfloat16: the upper half of a binary32.
    BF16,
    /// Signed 32-bit integer, wrapping arithmetic.
    I32,
    /// Unsigned 32-bit integer, wrapping arithmetic.
    U32,
    /// Boolean.
    Bool,
    /// A block-quantized weight ([`BlockFormat`]): stored in its blocks, read as `f32`.
    /// Only views, gathers and casts to a float dtype take it; a cast dequantizes, and the
    /// lowering applies it where the value is loaded, so no dequantized copy is stored.
    Quant(BlockFormat),
}

/// Every dtype that values compute in, in declaration order (the quantized storage dtypes,
/// [`DType::Quant`], are not among them); handy for tests.
pub const ALL_DTYPES: [DType; 6] = [
    DType::F32,
    DType::F16,
    DType::BF16,
    DType::I32,
    DType::U32,
    DType::Bool,
];

impl DType {
    /// Bytes of `numel` elements as the user holds them on the host (whole blocks for a
    /// quantized dtype); `None` where that overflows or is not whole blocks.
    pub fn bytes_for(self, numel: usize) -> Option<usize> {
        match self {
            DType::F32 | DType::I32 | DType::U32 => numel.checked_mul(4),
            DType::F16 | DType::BF16 => numel.checked_mul(2),
            DType::Bool => Some(numel),
            DType::Quant(f) => f.bytes_for(numel),
        }
    }

    /// The block format of a quantized dtype.
    pub fn quant(self) -> Option<BlockFormat> {
        match self {
            DType::Quant(f) => Some(f),
            _ => None,
        }
    }

    /// True for the block-quantized dtypes.
    pub fn is_quantized(self) -> bool {
        self.quant().is_some()
    }

    /// True for `F32`, `F16` and `BF16`.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F16 | DType::BF16)
    }

    /// True for `I32` and `U32`.
    pub fn is_int(self) -> bool {
        matches!(self, DType::I32 | DType::U32)
    }

    /// True for the types values compute in with arithmetic (not `Bool`, not quantized).
    pub fn is_numeric(self) -> bool {
        self != DType::Bool && !self.is_quantized()
    }

    /// The short name used in cache keys, WGSL identifiers and messages.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::I32 => "i32",
            DType::U32 => "u32",
            DType::Bool => "bool",
            DType::Quant(f) => f.dtype_name(),
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A constant value together with its dtype.
///
/// Floats are kept as `f64` and rounded to the dtype where they are used; hashing and equality
/// go through the bit pattern, so `NaN` constants hash-cons like any other value.
#[derive(Clone, Copy, Debug)]
pub enum Scalar {
    /// A float constant (`F32`, `F16`, `BF16`).
    F(f64),
    /// An integer constant (`I32`, `U32`).
    I(i64),
    /// A boolean constant.
    B(bool),
}

impl Scalar {
    /// The value as `f64` (booleans are 0 or 1).
    pub fn as_f64(self) -> f64 {
        match self {
            Scalar::F(v) => v,
            Scalar::I(v) => v as f64,
            Scalar::B(v) => v as u8 as f64,
        }
    }

    /// The value as `i64` (floats truncate toward zero, saturating; NaN gives 0).
    pub fn as_i64(self) -> i64 {
        match self {
            Scalar::F(v) => v as i64,
            Scalar::I(v) => v,
            Scalar::B(v) => v as i64,
        }
    }

    /// The value converted to `dtype` by the rules of [`crate::Op::Cast`].
    pub fn to_dtype(self, dtype: DType) -> Scalar {
        match dtype {
            // A quantized dtype's values are read as f32.
            DType::F32 | DType::F16 | DType::BF16 | DType::Quant(_) => {
                Scalar::F(round_float(self.as_f64() as f32, dtype) as f64)
            }
            DType::I32 => Scalar::I(match self {
                Scalar::F(v) => (v as f32) as i32 as i64,
                _ => self.as_i64() as i32 as i64,
            }),
            DType::U32 => Scalar::I(match self {
                Scalar::F(v) => (v as f32) as u32 as i64,
                _ => self.as_i64() as u32 as i64,
            }),
            DType::Bool => Scalar::B(match self {
                Scalar::F(v) => v != 0.0,
                Scalar::I(v) => v != 0,
                Scalar::B(v) => v,
            }),
        }
    }

    /// The 32-bit pattern this constant has in a GPU storage buffer of `dtype`
    /// (`F16`/`BF16` are stored widened to `f32`, `Bool` as `0u`/`1u`).
    pub fn storage_bits(self, dtype: DType) -> u32 {
        match self.to_dtype(dtype) {
            Scalar::F(v) => (v as f32).to_bits(),
            Scalar::I(v) => v as i32 as u32,
            Scalar::B(v) => v as u32,
        }
    }

    fn key(self) -> (u8, u64) {
        match self {
            Scalar::F(v) => (0, v.to_bits()),
            Scalar::I(v) => (1, v as u64),
            Scalar::B(v) => (2, v as u64),
        }
    }
}

impl PartialEq for Scalar {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for Scalar {}
impl Hash for Scalar {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state)
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::F(v) => write!(f, "{v}"),
            Scalar::I(v) => write!(f, "{v}"),
            Scalar::B(v) => write!(f, "{v}"),
        }
    }
}

/// Rounds an `f32` to the precision of a float dtype (round to nearest, ties to even).
/// `F32` is returned unchanged; NaN stays NaN.
pub fn round_float(v: f32, dtype: DType) -> f32 {
    match dtype {
        DType::F16 => half::f16::from_f32(v).to_f32(),
        DType::BF16 => half::bf16::from_f32(v).to_f32(),
        _ => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_matches_half() {
        assert_eq!(round_float(1.0 + 1.0 / 4096.0, DType::F16), 1.0);
        assert_eq!(round_float(1.0 + 1.0 / 128.0, DType::BF16), 1.0078125);
        assert!(round_float(f32::NAN, DType::BF16).is_nan());
    }

    #[test]
    fn scalar_casts_saturate() {
        assert_eq!(
            Scalar::F(1e20).to_dtype(DType::I32),
            Scalar::I(i32::MAX as i64)
        );
        assert_eq!(Scalar::F(-3.0).to_dtype(DType::U32), Scalar::I(0));
        assert_eq!(Scalar::F(f64::NAN).to_dtype(DType::I32), Scalar::I(0));
        assert_eq!(Scalar::I(2).to_dtype(DType::Bool), Scalar::B(true));
    }
}

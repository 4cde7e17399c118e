//! The tensor types of GGUF files: GGML's type numbers and what kiln reads them as.

use super::GgufError;
use kiln_ir::BlockFormat;

/// A GGUF tensor type that kiln reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TensorType {
    /// 32-bit floats.
    F32,
    /// 16-bit IEEE floats.
    F16,
    /// bfloat16.
    BF16,
    /// A block-quantized format.
    Quantized(BlockFormat),
}

/// GGML's type numbers: `(number, name, what kiln reads it as)`, `None` where kiln does not
/// read the type. The table is GGML's `ggml_type` enum.
const GGML_TYPES: &[(u32, &str, Option<TensorType>)] = &[
    (0, "F32", Some(TensorType::F32)),
    (1, "F16", Some(TensorType::F16)),
    (2, "Q4_0", Some(TensorType::Quantized(BlockFormat::Q4_0))),
    (3, "Q4_1", None),
    (6, "Q5_0", None),
    (7, "Q5_1", None),
    (8, "Q8_0", Some(TensorType::Quantized(BlockFormat::Q8_0))),
    (9, "Q8_1", None),
    (10, "Q2_K", None),
    (11, "Q3_K", None),
    (12, "Q4_K", Some(TensorType::Quantized(BlockFormat::Q4K))),
    (13, "Q5_K", None),
    (14, "Q6_K", Some(TensorType::Quantized(BlockFormat::Q6K))),
    (15, "Q8_K", None),
    (16, "IQ2_XXS", None),
    (17, "IQ2_XS", None),
    (18, "IQ3_XXS", None),
    (19, "IQ1_S", None),
    (20, "IQ4_NL", None),
    (21, "IQ3_S", None),
    (22, "IQ2_S", None),
    (23, "IQ4_XS", None),
    (24, "I8", None),
    (25, "I16", None),
    (26, "I32", None),
    (27, "I64", None),
    (28, "F64", None),
    (29, "IQ1_M", None),
    (30, "BF16", Some(TensorType::BF16)),
];

impl TensorType {
    /// The type of GGML type number `id`, or the error naming it.
    pub(super) fn of(id: u32, tensor: &str) -> Result<TensorType, GgufError> {
        let row = GGML_TYPES.iter().find(|(n, _, _)| *n == id);
        match row {
            Some((_, _, Some(t))) => Ok(*t),
            Some((_, name, None)) => Err(GgufError::UnsupportedTensorType {
                name: tensor.into(),
                type_id: id,
                type_name: name,
            }),
            None => Err(GgufError::UnsupportedTensorType {
                name: tensor.into(),
                type_id: id,
                type_name: "unknown",
            }),
        }
    }

    /// The GGML type number.
    pub fn id(self) -> u32 {
        GGML_TYPES
            .iter()
            .find(|(_, _, t)| *t == Some(self))
            .map_or(u32::MAX, |(n, _, _)| *n)
    }

    /// The GGML name.
    pub fn name(self) -> &'static str {
        match self {
            TensorType::F32 => "F32",
            TensorType::F16 => "F16",
            TensorType::BF16 => "BF16",
            TensorType::Quantized(f) => f.name(),
        }
    }

    /// Values per storage unit (a block for quantized types) and that unit's bytes.
    pub(super) fn unit(self) -> (u64, u64) {
        match self {
            TensorType::F32 => (1, 4),
            TensorType::F16 | TensorType::BF16 => (1, 2),
            TensorType::Quantized(f) => (f.block_values() as u64, f.block_bytes() as u64),
        }
    }
}

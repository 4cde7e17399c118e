//! How Burn's dtypes are stored in kiln: floats as f32, f16 and bf16 (f64 and flex32 as f32),
//! signed integers as i32 and unsigned ones as u32 (values must fit), bools as bool.
//! Quantized dtypes are not plain tensors (they map through the quantized ops).

use crate::BurnError;
use burn_std::{BoolStore, DType};

/// The kiln dtype a Burn dtype is stored as.
pub fn to_kiln(d: DType) -> Result<kiln::DType, BurnError> {
    Ok(match d {
        DType::F64 | DType::F32 | DType::Flex32 => kiln::DType::F32,
        DType::F16 => kiln::DType::F16,
        DType::BF16 => kiln::DType::BF16,
        DType::I64 | DType::I32 | DType::I16 | DType::I8 => kiln::DType::I32,
        DType::U64 | DType::U32 | DType::U16 | DType::U8 => kiln::DType::U32,
        DType::Bool(_) => kiln::DType::Bool,
        DType::QFloat(_) => {
            return Err(BurnError::UnsupportedDType {
                dtype: d,
                why: "a quantized tensor is not a plain tensor (use the quantized ops)",
            })
        }
    })
}

/// The Burn dtype of a kiln tensor, or an error for kiln's quantized block dtypes.
pub fn to_burn(d: kiln::DType) -> Result<DType, BurnError> {
    Ok(match d {
        kiln::DType::F32 => DType::F32,
        kiln::DType::F16 => DType::F16,
        kiln::DType::BF16 => DType::BF16,
        kiln::DType::I32 => DType::I32,
        kiln::DType::U32 => DType::U32,
        kiln::DType::Bool => DType::Bool(BoolStore::Native),
        kiln::DType::Quant(_) => return Err(BurnError::NoBurnDType(d)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_plain_dtype_round_trips_through_its_storage() {
        for d in [DType::F32, DType::F16, DType::BF16, DType::I32, DType::U32] {
            assert_eq!(to_burn(to_kiln(d).unwrap()).unwrap(), d);
        }
        assert_eq!(to_kiln(DType::I64).unwrap(), kiln::DType::I32);
        assert_eq!(
            to_kiln(DType::Bool(BoolStore::U8)).unwrap(),
            kiln::DType::Bool
        );
    }
}

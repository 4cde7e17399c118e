//! Model files: readers that turn weights on disk into host tensors.

pub mod gguf;
pub mod safetensors;

pub use gguf::{Gguf, GgufError, GgufWriter, TensorInfo, TensorType, Value};
pub use safetensors::{Safetensors, SafetensorsError};

use kiln_ir::{DType, HostTensor, Shape};

/// A host tensor from the little-endian elements a weight file stores for `dtype`: 4 bytes for
/// `F32`, `I32` and `U32`, 2 for `F16` and `BF16`, 1 for `Bool` (nonzero is true), whole
/// blocks for a quantized dtype. A length that is not the shape's elements is an error.
pub(crate) fn from_le_bytes(dtype: DType, shape: Shape, b: &[u8]) -> crate::Result<HostTensor> {
    fn le<const N: usize, T>(b: &[u8], f: fn([u8; N]) -> T) -> Vec<T> {
        b.chunks_exact(N)
            .map(|c| {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                f(a)
            })
            .collect()
    }
    Ok(match dtype {
        DType::F32 => HostTensor::from_slice(&le(b, f32::from_le_bytes), shape)?,
        DType::F16 => HostTensor::from_slice(&le(b, half::f16::from_le_bytes), shape)?,
        DType::BF16 => HostTensor::from_slice(&le(b, half::bf16::from_le_bytes), shape)?,
        DType::I32 => HostTensor::from_slice(&le(b, i32::from_le_bytes), shape)?,
        DType::U32 => HostTensor::from_slice(&le(b, u32::from_le_bytes), shape)?,
        DType::Bool => {
            let v: Vec<bool> = b.iter().map(|&x| x != 0).collect();
            HostTensor::from_slice(&v, shape)?
        }
        DType::Quant(f) => HostTensor::quantized(f, shape, b)?,
    })
}

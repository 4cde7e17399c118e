//! Tensor data between Burn (`TensorData`: the little-endian bytes of a dtype) and kiln
//! (`HostTensor`): every Burn dtype with a kiln storage (`dtype.rs`); integers are checked
//! against the range of the kiln dtype that stores them, f64 rounds to f32.

use crate::dtype::to_kiln;
use crate::BurnError;
use burn_std::{BoolStore, DType, TensorData};
use half::{bf16, f16};
use kiln::ir::HostData;
use kiln::HostTensor;

/// The bytes of one element of `d`.
fn width(d: DType) -> Result<usize, BurnError> {
    Ok(match d {
        DType::F64 | DType::I64 | DType::U64 => 8,
        DType::F32 | DType::Flex32 | DType::I32 | DType::U32 | DType::Bool(BoolStore::U32) => 4,
        DType::F16 | DType::BF16 | DType::I16 | DType::U16 => 2,
        DType::I8 | DType::U8 | DType::Bool(BoolStore::Native | BoolStore::U8) => 1,
        DType::QFloat(_) => return Err(quantized(d)),
    })
}

/// Quantized data is not a plain tensor's.
fn quantized(d: DType) -> BurnError {
    BurnError::UnsupportedDType {
        dtype: d,
        why: "quantized data is read by the quantized ops",
    }
}

/// Each element's bytes as a `u64` (zero-extended) and its position.
fn words(bytes: &[u8], w: usize) -> impl Iterator<Item = (usize, u64)> + '_ {
    bytes.chunks_exact(w).enumerate().map(move |(i, c)| {
        let mut b = [0u8; 8];
        b[..w].copy_from_slice(c);
        (i, u64::from_le_bytes(b))
    })
}

/// Integers that must fit `i32` (or `u32`): `value` turns a word into the element as i128.
fn ints<T: TryFrom<i128>>(
    data: &TensorData,
    w: usize,
    to: kiln::DType,
    value: impl Fn(u64) -> i128,
) -> Result<Vec<T>, BurnError> {
    words(data.as_bytes(), w)
        .map(|(index, x)| {
            let v = value(x);
            T::try_from(v).map_err(|_| BurnError::OutOfRange {
                from: data.dtype(),
                to,
                index,
                value: v.to_string(),
            })
        })
        .collect()
}

/// Burn's data as a kiln host tensor of the dtype that stores it.
pub fn to_host(data: &TensorData) -> Result<HostTensor, BurnError> {
    let d = data.dtype();
    let to = to_kiln(d)?;
    let w = width(d)?;
    let dims = data.shape().to_vec();
    let want = dims
        .iter()
        .try_fold(w, |a, &n| a.checked_mul(n))
        .unwrap_or(usize::MAX);
    if data.as_bytes().len() != want {
        return Err(BurnError::DataLength {
            dtype: d,
            shape: dims,
            len: data.as_bytes().len(),
            want,
        });
    }
    let shape = kiln::Shape::new(&dims);
    let b = data.as_bytes();
    let sign = |x: u64, bits: u32| ((x << (64 - bits)) as i64 >> (64 - bits)) as i128;
    let h = match d {
        DType::F64 => {
            let v: Vec<f32> = words(b, 8).map(|(_, x)| f64::from_bits(x) as f32).collect();
            HostTensor::from_slice(&v, shape)
        }
        DType::F32 | DType::Flex32 => {
            let v: Vec<f32> = words(b, 4).map(|(_, x)| f32::from_bits(x as u32)).collect();
            HostTensor::from_slice(&v, shape)
        }
        DType::F16 => {
            let v: Vec<f16> = words(b, 2).map(|(_, x)| f16::from_bits(x as u16)).collect();
            HostTensor::from_slice(&v, shape)
        }
        DType::BF16 => {
            let v: Vec<bf16> = words(b, 2)
                .map(|(_, x)| bf16::from_bits(x as u16))
                .collect();
            HostTensor::from_slice(&v, shape)
        }
        DType::I64 | DType::I32 | DType::I16 | DType::I8 => {
            let bits = 8 * w as u32;
            let v: Vec<i32> = ints(data, w, to, |x| sign(x, bits))?;
            HostTensor::from_slice(&v, shape)
        }
        DType::U64 | DType::U32 | DType::U16 | DType::U8 => {
            let v: Vec<u32> = ints(data, w, to, |x| x as i128)?;
            HostTensor::from_slice(&v, shape)
        }
        DType::Bool(_) => {
            let v: Vec<bool> = words(b, w).map(|(_, x)| x != 0).collect();
            HostTensor::from_slice(&v, shape)
        }
        DType::QFloat(_) => return Err(quantized(d)),
    };
    Ok(h.map_err(kiln::Error::from)?)
}

/// A kiln host tensor as Burn's data, in the Burn dtype of its storage (`dtype::to_burn`).
pub fn from_host(h: &HostTensor) -> Result<TensorData, BurnError> {
    let shape = h.shape.dims().to_vec();
    Ok(match (h.dtype, &h.data) {
        (kiln::DType::F32, HostData::F(v)) => TensorData::new(v.clone(), shape),
        (kiln::DType::F16, HostData::F(v)) => TensorData::new(
            v.iter().map(|&x| f16::from_f32(x)).collect::<Vec<_>>(),
            shape,
        ),
        (kiln::DType::BF16, HostData::F(v)) => TensorData::new(
            v.iter().map(|&x| bf16::from_f32(x)).collect::<Vec<_>>(),
            shape,
        ),
        (kiln::DType::I32, HostData::I(v)) => TensorData::new(v.clone(), shape),
        (kiln::DType::U32, HostData::U(v)) => TensorData::new(v.clone(), shape),
        (kiln::DType::Bool, HostData::B(v)) => TensorData::new(v.clone(), shape),
        (d @ kiln::DType::Quant(_), _) => return Err(BurnError::NoBurnDType(d)),
        // Any other pairing is data of the wrong kind for its dtype.
        (d, _) => return Err(BurnError::HostData(d)),
    })
}

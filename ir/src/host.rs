//! Host-side tensors: the values the reference interpreter computes and the bytes the runtime
//! uploads and reads back.

use crate::quant::BlockFormat;
use crate::{DType, IrError, Result, Shape};
use half::{bf16, f16};

/// Element storage by value domain. `F` holds `f32`, `f16` and `bf16` values (the latter two
/// already rounded to their precision), as the GPU stores them.
#[derive(Clone, Debug, PartialEq)]
pub enum HostData {
    /// Float values.
    F(Vec<f32>),
    /// `i32` values.
    I(Vec<i32>),
    /// `u32` values.
    U(Vec<u32>),
    /// Booleans.
    B(Vec<bool>),
}

impl HostData {
    /// The number of elements held (of 32-bit words, for a quantized tensor's blocks).
    pub fn len(&self) -> usize {
        match self {
            HostData::F(v) => v.len(),
            HostData::I(v) => v.len(),
            HostData::U(v) => v.len(),
            HostData::B(v) => v.len(),
        }
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The kind of element held, for messages: `float`, `i32`, `u32` or `bool`.
    pub fn kind(&self) -> &'static str {
        match self {
            HostData::F(_) => "float",
            HostData::I(_) => "i32",
            HostData::U(_) => "u32",
            HostData::B(_) => "bool",
        }
    }

    /// True when this storage is the one `dtype` uses (`F` for the float dtypes).
    pub fn holds(&self, dtype: DType) -> bool {
        matches!(
            (self, dtype),
            (HostData::F(_), DType::F32 | DType::F16 | DType::BF16)
                | (HostData::I(_), DType::I32)
                | (HostData::U(_), DType::U32)
                | (HostData::B(_), DType::Bool)
                | (HostData::U(_), DType::Quant(_))
        )
    }
}

/// A tensor value on the host.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTensor {
    /// Element type.
    pub dtype: DType,
    /// Shape.
    pub shape: Shape,
    /// Row-major elements.
    pub data: HostData,
}

/// A Rust element type that maps to a kiln [`DType`].
pub trait Element: Copy + Send + Sync + std::fmt::Debug + 'static {
    /// The matching dtype.
    const DTYPE: DType;
    /// Packs a slice into host storage.
    fn pack(v: &[Self]) -> HostData;
    /// Unpacks host storage of the matching dtype.
    fn unpack(d: &HostData) -> Option<Vec<Self>>;
}

macro_rules! element {
    ($t:ty, $dt:expr, $var:ident, $to:expr, $from:expr) => {
        impl Element for $t {
            const DTYPE: DType = $dt;
            fn pack(v: &[Self]) -> HostData {
                HostData::$var(v.iter().map($to).collect())
            }
            fn unpack(d: &HostData) -> Option<Vec<Self>> {
                match d {
                    HostData::$var(v) => Some(v.iter().map($from).collect()),
                    _ => None,
                }
            }
        }
    };
}
element!(f32, DType::F32, F, |&x| x, |&x| x);
element!(
    f16,
    DType::F16,
    F,
    |x: &f16| x.to_f32(),
    |&x| f16::from_f32(x)
);
element!(bf16, DType::BF16, F, |x: &bf16| x.to_f32(), |&x| {
    bf16::from_f32(x)
});
element!(i32, DType::I32, I, |&x| x, |&x| x);
element!(u32, DType::U32, U, |&x| x, |&x| x);
element!(bool, DType::Bool, B, |&x| x, |&x| x);

impl HostTensor {
    /// A tensor from a slice and a shape; the lengths must agree.
    pub fn from_slice<T: Element>(data: &[T], shape: Shape) -> Result<Self> {
        let numel = shape.check_size("from_slice")?;
        if data.len() != numel {
            return Err(IrError::DataLength {
                len: data.len(),
                numel,
                shape,
            });
        }
        Ok(HostTensor {
            dtype: T::DTYPE,
            shape,
            data: T::pack(data),
        })
    }

    /// A quantized tensor of `shape` from its blocks: whole blocks along the innermost
    /// dimension, exactly as many bytes as they take.
    pub fn quantized(format: BlockFormat, shape: Shape, blocks: &[u8]) -> Result<Self> {
        let numel = shape.check_size("quantized tensor")?;
        if format.bytes_for(numel) != Some(blocks.len()) {
            return Err(IrError::QuantizedShape {
                format: format.name(),
                shape,
                why: format!("{} bytes are not its blocks", blocks.len()),
            });
        }
        let t = HostTensor {
            dtype: DType::Quant(format),
            shape,
            data: HostData::U(words_of(blocks)),
        };
        t.validate()?;
        Ok(t)
    }

    /// A quantized tensor of `shape` from its blocks already in little-endian 32-bit words
    /// (the last one padded), without a copy: how a model file's tensor is read.
    pub fn quantized_words(format: BlockFormat, shape: Shape, words: Vec<u32>) -> Result<Self> {
        let t = HostTensor {
            dtype: DType::Quant(format),
            shape,
            data: HostData::U(words),
        };
        t.validate()?;
        Ok(t)
    }

    /// A quantized tensor's blocks as bytes (without the last word's padding).
    pub fn blocks(&self) -> Result<Vec<u8>> {
        let (DType::Quant(f), HostData::U(w)) = (self.dtype, &self.data) else {
            return Err(IrError::HostDataKind {
                dtype: self.dtype,
                data: self.data.kind(),
            });
        };
        let n = f.bytes_for(self.numel()).unwrap_or(0);
        Ok(w.iter().flat_map(|w| w.to_le_bytes()).take(n).collect())
    }

    /// Checks what the public fields do not guarantee: the shape's rank and size are valid
    /// ([`Shape::check_size`]), the data holds exactly the shape's element count (a quantized
    /// tensor: whole blocks along its innermost dimension, as many 32-bit words as their
    /// bytes fill), and its storage is the dtype's (`F` for float dtypes, `I` for `I32`, `U`
    /// words of blocks for a quantized dtype, ...). Every host tensor kiln is
    /// given passes here before it is read or uploaded.
    pub fn validate(&self) -> Result<()> {
        let numel = self.shape.check_size("host tensor")?;
        if !self.data.holds(self.dtype) {
            return Err(IrError::HostDataKind {
                dtype: self.dtype,
                data: self.data.kind(),
            });
        }
        if let DType::Quant(f) = self.dtype {
            let row = self.shape.0.last().copied().unwrap_or(1);
            let words = f.bytes_for(numel).map(|b| b.div_ceil(4));
            if !row.is_multiple_of(f.block_values()) || words != Some(self.data.len()) {
                return Err(IrError::QuantizedShape {
                    format: f.name(),
                    shape: self.shape.clone(),
                    why: format!(
                        "rows must be whole blocks of {}, held in {} words ({} given)",
                        f.block_values(),
                        words.map_or("too many".to_string(), |w| w.to_string()),
                        self.data.len()
                    ),
                });
            }
            return Ok(());
        }
        if self.data.len() != numel {
            return Err(IrError::DataLength {
                len: self.data.len(),
                numel,
                shape: self.shape.clone(),
            });
        }
        Ok(())
    }

    /// The elements as `T`, which must be the tensor's dtype.
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        if T::DTYPE != self.dtype {
            return Err(IrError::HostDType {
                expected: T::DTYPE,
                found: self.dtype,
            });
        }
        T::unpack(&self.data).ok_or(IrError::HostDataKind {
            dtype: self.dtype,
            data: self.data.kind(),
        })
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.shape.numel()
    }

    /// Every element as `f64` (booleans 0/1), for comparisons and checksums.
    pub fn to_f64(&self) -> Vec<f64> {
        match &self.data {
            HostData::F(v) => v.iter().map(|&x| x as f64).collect(),
            HostData::I(v) => v.iter().map(|&x| x as f64).collect(),
            HostData::U(v) if !self.dtype.is_quantized() => v.iter().map(|&x| x as f64).collect(),
            // Blocks that fail `validate` have no values to compare.
            HostData::U(_) => match self.dequantized() {
                Ok(v) => v.iter().map(|&x| x as f64).collect(),
                Err(_) => Vec::new(),
            },
            HostData::B(v) => v.iter().map(|&x| x as u8 as f64).collect(),
        }
    }

    /// The values of a quantized tensor, dequantized as llama.cpp does. Another dtype, or
    /// blocks that do not match the shape, is an error.
    pub fn dequantized(&self) -> Result<Vec<f32>> {
        let DType::Quant(f) = self.dtype else {
            return Err(IrError::HostDataKind {
                dtype: self.dtype,
                data: self.data.kind(),
            });
        };
        let mut y = vec![0.0; self.numel()];
        f.dequantize(&self.blocks()?, &mut y)?;
        Ok(y)
    }

    /// The 32-bit words of this tensor in GPU storage layout (floats as `f32`, bool as 0/1,
    /// quantized blocks as their words).
    pub fn to_storage_words(&self) -> Vec<u32> {
        match &self.data {
            HostData::F(v) => v.iter().map(|x| x.to_bits()).collect(),
            HostData::I(v) => v.iter().map(|&x| x as u32).collect(),
            HostData::U(v) => v.clone(),
            HostData::B(v) => v.iter().map(|&x| x as u32).collect(),
        }
    }

    /// A tensor from GPU storage words (for a quantized dtype, the words of its blocks).
    pub fn from_storage_words(dtype: DType, shape: Shape, words: &[u32]) -> Self {
        let data = match dtype {
            DType::Quant(f) => {
                let n = f.bytes_for(shape.numel()).unwrap_or(0).div_ceil(4);
                HostData::U(words.iter().take(n).copied().collect())
            }
            DType::F32 | DType::F16 | DType::BF16 => {
                HostData::F(words.iter().map(|&w| f32::from_bits(w)).collect())
            }
            DType::I32 => HostData::I(words.iter().map(|&w| w as i32).collect()),
            DType::U32 => HostData::U(words.to_vec()),
            DType::Bool => HostData::B(words.iter().map(|&w| w != 0).collect()),
        };
        HostTensor { dtype, shape, data }
    }
}

/// Bytes as little-endian 32-bit words, the last padded with zeros.
pub fn words_of(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks(4)
        .map(|c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(w)
        })
        .collect()
}

//! safetensors, Hugging Face's weight file: an 8-byte header length, a JSON header naming
//! each tensor's dtype, shape and byte range, then the bytes.
//!
//! The header is parsed and validated by the format's own crate (`safetensors`): the byte
//! ranges must tile the data section exactly, and shapes must match the dtypes' sizes. On
//! native targets [`Safetensors::open`] memory-maps the file, so a tensor's bytes are read
//! from the page cache when it is converted, never copied whole into host memory first; a
//! browser build hands the bytes it fetched to [`Safetensors::from_bytes`].

use kiln_ir::{DType, HostTensor, Shape};
use safetensors::tensor::{Dtype, Metadata};
use safetensors::SafeTensorError;
use std::path::PathBuf;

/// What went wrong reading a safetensors file.
#[derive(Debug, thiserror::Error)]
pub enum SafetensorsError {
    /// The file could not be opened or mapped.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
    /// The header is malformed, or its byte ranges do not match the file (truncated files
    /// land here).
    #[error("{origin}: not a valid safetensors file: {error}")]
    Format {
        /// The file, or "bytes".
        origin: String,
        /// What the format's crate found.
        error: SafeTensorError,
    },
    /// No tensor of that name.
    #[error("no tensor named {0:?} in the file")]
    NoSuchTensor(String),
    /// A dtype kiln does not store.
    #[error("tensor {name:?}: dtype {dtype} is not supported; kiln reads F32, F16, BF16, I32, U32 and BOOL")]
    UnsupportedDtype {
        /// The tensor.
        name: String,
        /// The file's dtype.
        dtype: String,
    },
}

/// Where the bytes live.
enum Bytes {
    #[cfg(not(target_arch = "wasm32"))]
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Bytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            #[cfg(not(target_arch = "wasm32"))]
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// An open safetensors file.
pub struct Safetensors {
    bytes: Bytes,
    /// Where the data section starts.
    data_start: usize,
    metadata: Metadata,
}

impl std::fmt::Debug for Safetensors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Safetensors")
            .field("bytes", &self.bytes.as_slice().len())
            .field("tensors", &self.metadata.tensors().len())
            .finish()
    }
}

impl Safetensors {
    /// Memory-maps `path` and validates its header.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Safetensors, SafetensorsError> {
        let path = path.as_ref().to_path_buf();
        let io = |error| SafetensorsError::Io {
            path: path.clone(),
            error,
        };
        let file = std::fs::File::open(&path).map_err(io)?;
        // SAFETY: the map is read-only and private to this value. Another process truncating
        // or rewriting the file while it is mapped is outside what kiln can guard against, as
        // for every reader of mapped weights (llama.cpp, candle, safetensors' own loaders).
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        Self::parse(Bytes::Mapped(map), path.display().to_string())
    }

    /// Validates the header of a file already in memory (a browser's fetch, say).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Safetensors, SafetensorsError> {
        Self::parse(Bytes::Owned(bytes), "bytes".into())
    }

    fn parse(bytes: Bytes, origin: String) -> Result<Safetensors, SafetensorsError> {
        let (n, metadata) = safetensors::SafeTensors::read_metadata(bytes.as_slice())
            .map_err(|error| SafetensorsError::Format { origin, error })?;
        Ok(Safetensors {
            bytes,
            data_start: 8 + n,
            metadata,
        })
    }

    /// The tensors' names, in the order of their bytes in the file.
    pub fn names(&self) -> Vec<String> {
        self.metadata.offset_keys()
    }

    /// The free-form string metadata of the header (`__metadata__`), if any.
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata
            .metadata()
            .as_ref()
            .and_then(|m| m.get(key))
            .map(String::as_str)
    }

    /// The header's entry for tensor `name`.
    fn entry(&self, name: &str) -> Result<&safetensors::tensor::TensorInfo, SafetensorsError> {
        self.metadata
            .info(name)
            .ok_or_else(|| SafetensorsError::NoSuchTensor(name.into()))
    }

    /// Tensor `name`'s kiln dtype and shape.
    pub fn info(&self, name: &str) -> Result<(DType, Shape), SafetensorsError> {
        let t = self.entry(name)?;
        Ok((dtype_of(name, t.dtype)?, Shape::new(&t.shape)))
    }

    /// Tensor `name` as a host tensor of its own dtype.
    pub fn host_tensor(&self, name: &str) -> crate::Result<HostTensor> {
        let t = self.entry(name)?;
        let dtype = dtype_of(name, t.dtype)?;
        let (start, end) = t.data_offsets;
        let b = &self.bytes.as_slice()[self.data_start + start..self.data_start + end];
        super::from_le_bytes(dtype, Shape::new(&t.shape), b)
    }
}

/// The kiln dtype of a safetensors dtype, or the error naming it.
fn dtype_of(name: &str, d: Dtype) -> Result<DType, SafetensorsError> {
    Ok(match d {
        Dtype::F32 => DType::F32,
        Dtype::F16 => DType::F16,
        Dtype::BF16 => DType::BF16,
        Dtype::I32 => DType::I32,
        Dtype::U32 => DType::U32,
        Dtype::BOOL => DType::Bool,
        other => {
            return Err(SafetensorsError::UnsupportedDtype {
                name: name.into(),
                dtype: format!("{other:?}"),
            })
        }
    })
}

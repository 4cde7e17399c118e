//! GGUF, llama.cpp's model file: a header, typed metadata, tensor descriptions, then the
//! tensors' bytes, each at an aligned offset in the data section.
//!
//! [`Gguf::open`] (a file) or [`Gguf::from_bytes`] (a file already in memory, as a browser
//! page gets one) reads the header, metadata and tensor descriptions and checks every
//! tensor against the file: a known type, a whole number of blocks per row, an aligned offset
//! and bytes inside the file. Tensor bytes are read only when asked for, one tensor at a time
//! ([`Gguf::read`]), so a model is never held twice in host memory. Versions 2 and 3
//! (little-endian) are read; they differ from each other only in the version number.
//!
//! Shapes: GGUF lists dimensions innermost first (`ne[0]` is the row length). [`TensorInfo`]
//! gives them in kiln's order, outermost first, as [`Shape`]s are everywhere else.

mod cursor;
mod error;
mod tensor_type;
mod value;
mod writer;

pub use error::GgufError;
pub use tensor_type::TensorType;
pub use value::Value;
pub use writer::GgufWriter;

use cursor::Cursor;
use hashbrown::HashSet;
use kiln_ir::{DType, HostTensor, Shape};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// `GGUF` read as a little-endian `u32`.
const MAGIC: [u8; 4] = *b"GGUF";
/// The data section's alignment when the file does not set `general.alignment`.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// The most dimensions a GGUF tensor has (GGML's limit).
const MAX_DIMS: u32 = 4;

/// One tensor's description.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorInfo {
    /// Its name.
    pub name: String,
    /// Its shape, outermost first (GGUF's dimensions reversed).
    pub shape: Shape,
    /// Its type.
    pub ty: TensorType,
    /// Its first byte, from the start of the file.
    pub start: u64,
    /// Its size in bytes.
    pub bytes: u64,
}

/// Where a GGUF file's bytes are.
#[derive(Clone, Debug)]
enum Origin {
    /// On disk, read one tensor at a time.
    File(PathBuf),
    /// In memory, whole (shared, never copied).
    Bytes(std::sync::Arc<[u8]>),
}

impl Origin {
    /// The path errors name (`<memory>` for bytes).
    fn path(&self) -> PathBuf {
        match self {
            Origin::File(p) => p.clone(),
            Origin::Bytes(_) => PathBuf::from("<memory>"),
        }
    }
}

/// An open GGUF file: its metadata and tensor descriptions, the tensors' bytes left where
/// they are (on disk or in the caller's memory).
#[derive(Debug)]
pub struct Gguf {
    origin: Origin,
    /// The format version (2 or 3).
    pub version: u32,
    /// The data section's alignment.
    pub alignment: u64,
    /// Where the data section starts.
    pub data_start: u64,
    metadata: Vec<(String, Value)>,
    tensors: Vec<TensorInfo>,
}

fn align_up(x: u64, a: u64) -> Option<u64> {
    x.checked_add(a - 1).map(|y| y / a * a)
}

impl Gguf {
    /// Opens `path` and reads everything but the tensors' bytes, checking each tensor's
    /// description against the file.
    pub fn open(path: impl AsRef<Path>) -> Result<Gguf, GgufError> {
        let path = path.as_ref().to_path_buf();
        let io = |error| GgufError::Io {
            path: path.clone(),
            error,
        };
        let file = File::open(&path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        Gguf::parse(BufReader::new(file), len, Origin::File(path))
    }

    /// Reads a GGUF file held in memory, as [`Gguf::open`] reads one on disk; tensors are
    /// then read from `bytes`, which the `Gguf` keeps.
    pub fn from_bytes(bytes: impl Into<std::sync::Arc<[u8]>>) -> Result<Gguf, GgufError> {
        let bytes: std::sync::Arc<[u8]> = bytes.into();
        let len = bytes.len() as u64;
        Gguf::parse(
            std::io::Cursor::new(bytes.clone()),
            len,
            Origin::Bytes(bytes),
        )
    }

    /// Reads everything but the tensors' bytes from `r`, a file of `len` bytes.
    fn parse(r: impl Read, len: u64, origin: Origin) -> Result<Gguf, GgufError> {
        let mut c = Cursor { r, at: 0, len };
        let magic = c.array::<4>(&|| "the magic".into())?;
        if magic != MAGIC {
            return Err(GgufError::BadMagic { found: magic });
        }
        let version = c.u32(&|| "the version".into())?;
        if !(2..=3).contains(&version) {
            return Err(GgufError::UnsupportedVersion(version));
        }
        let n_tensors = c.u64(&|| "the tensor count".into())?;
        let n_kv = c.u64(&|| "the metadata count".into())?;
        let mut metadata: Vec<(String, Value)> = Vec::new();
        // Sets, not scans: a corrupt count can declare millions of entries.
        let mut keys = HashSet::new();
        for i in 0..n_kv {
            let key = c.string(&|| format!("metadata key {i}"))?;
            let t = c.u32(&|| format!("the value type of {key:?}"))?;
            let v = c.value(t, &key)?;
            if !keys.insert(key.clone()) {
                return Err(GgufError::DuplicateKey(key));
            }
            metadata.push((key, v));
        }
        let alignment = match metadata.iter().find(|(k, _)| k == "general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some((k, Value::U32(a))) if a.is_power_of_two() => u64::from(*a),
            Some((k, v)) => {
                return Err(GgufError::BadMetadata {
                    key: k.clone(),
                    why: format!("the alignment must be a power of two as a u32, not {v:?}"),
                })
            }
        };
        let mut raw = Vec::new();
        for i in 0..n_tensors {
            let name = c.string(&|| format!("the name of tensor {i}"))?;
            let what = || format!("the description of tensor {name:?}");
            let n_dims = c.u32(&what)?;
            if n_dims > MAX_DIMS {
                return Err(GgufError::BadDims {
                    name,
                    dims: vec![],
                    why: format!("{n_dims} dimensions, at most {MAX_DIMS}"),
                });
            }
            let mut dims = Vec::with_capacity(n_dims as usize);
            for _ in 0..n_dims {
                dims.push(c.u64(&what)?);
            }
            let type_id = c.u32(&what)?;
            let offset = c.u64(&what)?;
            raw.push((name, dims, type_id, offset));
        }
        let data_start = align_up(c.at, alignment).unwrap_or(u64::MAX);
        let mut tensors: Vec<TensorInfo> = Vec::with_capacity(raw.len());
        let mut names = HashSet::new();
        for (name, dims, type_id, offset) in raw {
            if !names.insert(name.clone()) {
                return Err(GgufError::DuplicateTensor(name));
            }
            let ty = TensorType::of(type_id, &name)?;
            let t = describe(name, dims, ty, offset, alignment, data_start, len)?;
            tensors.push(t);
        }
        log::debug!(
            "kiln: {}: GGUF v{version}, {} metadata keys, {} tensors",
            origin.path().display(),
            metadata.len(),
            tensors.len()
        );
        Ok(Gguf {
            origin,
            version,
            alignment,
            data_start,
            metadata,
            tensors,
        })
    }

    /// The metadata, in file order.
    pub fn metadata(&self) -> &[(String, Value)] {
        &self.metadata
    }

    /// The metadata value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The tensors' descriptions, in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// The description of tensor `name`.
    pub fn tensor(&self, name: &str) -> Result<&TensorInfo, GgufError> {
        self.tensors
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| GgufError::NoSuchTensor(name.into()))
    }

    /// The bytes of tensor `name`, as stored (quantized blocks stay blocks).
    pub fn read(&self, name: &str) -> Result<Vec<u8>, GgufError> {
        let t = self.tensor(name)?;
        let mut v = vec![0u8; t.bytes as usize];
        self.read_into(name, &mut v)?;
        Ok(v)
    }

    /// Reads tensor `name`'s bytes into `out`, which must hold exactly them.
    fn read_into(&self, name: &str, out: &mut [u8]) -> Result<(), GgufError> {
        let t = self.tensor(name)?;
        let out_of_range = |file_len| GgufError::OutOfRange {
            name: name.into(),
            start: t.start,
            end: t.start + t.bytes,
            file_len,
        };
        match &self.origin {
            Origin::File(path) => {
                let io = |error| GgufError::Io {
                    path: path.clone(),
                    error,
                };
                let mut f = File::open(path).map_err(io)?;
                let len = f.metadata().map_err(io)?.len();
                if t.start + t.bytes > len {
                    return Err(out_of_range(len));
                }
                f.seek(SeekFrom::Start(t.start)).map_err(io)?;
                f.read_exact(out).map_err(io)
            }
            Origin::Bytes(b) => {
                let src = usize::try_from(t.start)
                    .ok()
                    .and_then(|s| b.get(s..s.checked_add(out.len())?))
                    .ok_or_else(|| out_of_range(b.len() as u64))?;
                out.copy_from_slice(src);
                Ok(())
            }
        }
    }

    /// Quantized tensor `name`'s blocks as little-endian 32-bit words, read straight into
    /// them (one copy of the tensor in memory, not two).
    fn read_words(&self, name: &str) -> Result<Vec<u32>, GgufError> {
        let bytes = self.tensor(name)?.bytes as usize;
        let mut words = vec![0u32; bytes.div_ceil(4)];
        self.read_into(
            name,
            &mut bytemuck::cast_slice_mut::<u32, u8>(&mut words)[..bytes],
        )?;
        for w in &mut words {
            *w = u32::from_le(*w);
        }
        Ok(words)
    }

    /// Tensor `name` as a host tensor: F32, F16 and BF16 as themselves, quantized types as
    /// their blocks ([`DType::Quant`]; [`HostTensor::dequantized`] gives the values as
    /// llama.cpp computes them).
    pub fn host_tensor(&self, name: &str) -> crate::Result<HostTensor> {
        let t = self.tensor(name)?;
        let shape = t.shape.clone();
        match t.ty {
            TensorType::F32 => super::from_le_bytes(DType::F32, shape, &self.read(name)?),
            TensorType::F16 => super::from_le_bytes(DType::F16, shape, &self.read(name)?),
            TensorType::BF16 => super::from_le_bytes(DType::BF16, shape, &self.read(name)?),
            TensorType::Quantized(f) => Ok(HostTensor::quantized_words(
                f,
                shape,
                self.read_words(name)?,
            )?),
        }
    }
}

/// Checks one tensor's description against its type, the alignment and the file, and turns
/// it into a [`TensorInfo`].
fn describe(
    name: String,
    dims: Vec<u64>,
    ty: TensorType,
    offset: u64,
    alignment: u64,
    data_start: u64,
    file_len: u64,
) -> Result<TensorInfo, GgufError> {
    let bad = |why: String| GgufError::BadDims {
        name: name.clone(),
        dims: dims.clone(),
        why,
    };
    let (per_unit, unit_bytes) = ty.unit();
    if let Some(&row) = dims.first() {
        if !row.is_multiple_of(per_unit) {
            return Err(bad(format!(
                "rows of {row} values are not whole {} blocks of {per_unit}",
                ty.name()
            )));
        }
    }
    let numel = dims
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d))
        .filter(|&n| usize::try_from(n).is_ok())
        .ok_or_else(|| bad("the element count overflows".into()))?;
    let bytes = (numel / per_unit)
        .checked_mul(unit_bytes)
        .ok_or_else(|| bad("the byte count overflows".into()))?;
    if !offset.is_multiple_of(alignment) {
        return Err(GgufError::Misaligned {
            name,
            offset,
            alignment,
        });
    }
    let start = data_start.checked_add(offset);
    let end = start.and_then(|s| s.checked_add(bytes));
    let (Some(start), Some(end)) = (start, end) else {
        return Err(GgufError::OutOfRange {
            name,
            start: u64::MAX,
            end: u64::MAX,
            file_len,
        });
    };
    if end > file_len {
        return Err(GgufError::OutOfRange {
            name,
            start,
            end,
            file_len,
        });
    }
    let shape: Vec<usize> = dims.iter().rev().map(|&d| d as usize).collect();
    if shape.len() > kiln_ir::MAX_RANK {
        return Err(bad(format!("rank over {}", kiln_ir::MAX_RANK)));
    }
    Ok(TensorInfo {
        name,
        shape: Shape::new(&shape),
        ty,
        start,
        bytes,
    })
}

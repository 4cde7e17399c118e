//! Writing GGUF v3 files: metadata and tensors (their bytes as GGUF stores them), each
//! tensor at an aligned offset. [`Gguf::open`](super::Gguf::open) reads them back; kiln
//! writes the built-in random model this way, so that it loads through the same code as a
//! downloaded one.

use super::{GgufError, TensorType, Value, DEFAULT_ALIGNMENT, MAGIC};
use kiln_ir::Shape;
use std::io::Write;
use std::path::Path;

/// A GGUF file being put together.
#[derive(Default)]
pub struct GgufWriter {
    metadata: Vec<(String, Value)>,
    tensors: Vec<(String, Shape, TensorType, Vec<u8>)>,
}

impl GgufWriter {
    /// An empty file.
    pub fn new() -> Self {
        GgufWriter::default()
    }

    /// Adds a metadata entry.
    pub fn meta(&mut self, key: &str, v: Value) -> &mut Self {
        self.metadata.push((key.into(), v));
        self
    }

    /// Adds a tensor of `shape` (kiln's order, outermost first) whose bytes are `bytes` as
    /// GGUF stores `ty` (little-endian elements, or whole blocks). A byte count that is not
    /// the shape's is an error.
    pub fn tensor(
        &mut self,
        name: &str,
        shape: Shape,
        ty: TensorType,
        bytes: Vec<u8>,
    ) -> Result<&mut Self, GgufError> {
        let (per, unit) = ty.unit();
        let n = shape.numel() as u64;
        if !n.is_multiple_of(per) || n / per * unit != bytes.len() as u64 {
            return Err(GgufError::BadDims {
                name: name.into(),
                dims: shape.dims().iter().rev().map(|&d| d as u64).collect(),
                why: format!("{} bytes are not {} of {}", bytes.len(), shape, ty.name()),
            });
        }
        self.tensors.push((name.into(), shape, ty, bytes));
        Ok(self)
    }

    /// Writes the file. Keys and tensor names must be unique, and an array's elements of one
    /// type (GGUF stores the type once per array).
    pub fn write(&self, path: &Path) -> Result<(), GgufError> {
        let io = |error| GgufError::Io {
            path: path.to_path_buf(),
            error,
        };
        let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
        self.write_to(&mut f, path)?;
        f.flush().map_err(io)
    }

    /// The file's bytes, in memory (as [`GgufWriter::write`] writes them).
    pub fn to_bytes(&self) -> Result<Vec<u8>, GgufError> {
        let mut v = Vec::new();
        self.write_to(&mut v, Path::new("<memory>"))?;
        Ok(v)
    }

    /// Writes the file to `f`; errors name `path`.
    fn write_to(&self, f: &mut impl Write, path: &Path) -> Result<(), GgufError> {
        let mut keys = hashbrown::HashSet::new();
        for (k, v) in &self.metadata {
            if !keys.insert(k) {
                return Err(GgufError::DuplicateKey(k.clone()));
            }
            if !uniform(v) {
                return Err(GgufError::BadMetadata {
                    key: k.clone(),
                    why: "an array's elements must share one type".into(),
                });
            }
        }
        let mut names = hashbrown::HashSet::new();
        for (name, ..) in &self.tensors {
            if !names.insert(name) {
                return Err(GgufError::DuplicateTensor(name.clone()));
            }
        }
        let a = DEFAULT_ALIGNMENT as usize;
        let mut head = Vec::new();
        head.extend(MAGIC);
        head.extend(3u32.to_le_bytes());
        head.extend((self.tensors.len() as u64).to_le_bytes());
        head.extend((self.metadata.len() as u64).to_le_bytes());
        for (k, v) in &self.metadata {
            Value::String(k.clone()).encode(&mut head);
            head.extend(v.type_number().to_le_bytes());
            v.encode(&mut head);
        }
        let mut offset = 0usize;
        for (name, shape, ty, bytes) in &self.tensors {
            Value::String(name.clone()).encode(&mut head);
            head.extend((shape.rank() as u32).to_le_bytes());
            for &d in shape.dims().iter().rev() {
                head.extend((d as u64).to_le_bytes());
            }
            head.extend(ty.id().to_le_bytes());
            head.extend((offset as u64).to_le_bytes());
            offset = (offset + bytes.len()).div_ceil(a) * a;
        }
        head.resize(head.len().div_ceil(a) * a, 0);
        let io = |error| GgufError::Io {
            path: path.to_path_buf(),
            error,
        };
        f.write_all(&head).map_err(io)?;
        for (_, _, _, bytes) in &self.tensors {
            f.write_all(bytes).map_err(io)?;
            let pad = bytes.len().div_ceil(a) * a - bytes.len();
            f.write_all(&vec![0u8; pad]).map_err(io)?;
        }
        Ok(())
    }
}

/// True when every array in `v` holds elements of one type (arrays of arrays included).
fn uniform(v: &Value) -> bool {
    match v {
        Value::Array(items) => {
            items.iter().all(uniform)
                && items
                    .iter()
                    .all(|i| Some(i.type_number()) == items.first().map(Value::type_number))
        }
        _ => true,
    }
}

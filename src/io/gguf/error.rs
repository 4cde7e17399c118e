//! What can go wrong reading a GGUF file.

use std::path::PathBuf;

/// What went wrong reading a GGUF file. Offsets are bytes from the file's start.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    /// The file could not be opened or read.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
    /// Not a GGUF file.
    #[error("not a GGUF file: the magic is {found:02x?}, not \"GGUF\"")]
    BadMagic {
        /// The first four bytes.
        found: [u8; 4],
    },
    /// A version this reader does not read (1, big-endian files, or a future one).
    #[error("GGUF version {0} is not supported (versions 2 and 3, little-endian, are)")]
    UnsupportedVersion(u32),
    /// The file ends before something it declares.
    #[error(
        "truncated GGUF file: {what} at offset {offset} needs {needed} bytes, {left} are left"
    )]
    Truncated {
        /// What was being read.
        what: String,
        /// Where.
        offset: u64,
        /// Bytes it needs.
        needed: u64,
        /// Bytes left in the file.
        left: u64,
    },
    /// A string that is not UTF-8.
    #[error("{what} at offset {offset} is not UTF-8")]
    BadString {
        /// What the string is.
        what: String,
        /// Where.
        offset: u64,
    },
    /// A metadata value of a type GGUF does not define.
    #[error("metadata {key:?}: unknown value type {type_id}")]
    UnknownValueType {
        /// The key.
        key: String,
        /// The type number found.
        type_id: u32,
    },
    /// A bool stored as a byte other than 0 or 1.
    #[error("metadata {key:?}: a bool stored as {byte}")]
    BadBool {
        /// The key.
        key: String,
        /// The byte found.
        byte: u8,
    },
    /// A key given twice.
    #[error("metadata key {0:?} appears twice")]
    DuplicateKey(String),
    /// A well-known key with a value of the wrong type or range.
    #[error("metadata {key:?}: {why}")]
    BadMetadata {
        /// The key.
        key: String,
        /// What is wrong.
        why: String,
    },
    /// A tensor type GGUF does not define, or one kiln does not read.
    #[error("tensor {name:?}: tensor type {type_id} ({type_name}) is not supported; kiln reads F32, F16, BF16, Q8_0, Q4_0, Q4_K and Q6_K")]
    UnsupportedTensorType {
        /// The tensor.
        name: String,
        /// The GGML type number.
        type_id: u32,
        /// Its GGML name, or "unknown".
        type_name: &'static str,
    },
    /// A tensor name given twice.
    #[error("tensor {0:?} appears twice")]
    DuplicateTensor(String),
    /// Dimensions that are not a valid tensor of its type.
    #[error("tensor {name:?}: bad dimensions {dims:?}: {why}")]
    BadDims {
        /// The tensor.
        name: String,
        /// Its dimensions as stored (innermost first).
        dims: Vec<u64>,
        /// What is wrong.
        why: String,
    },
    /// A tensor whose offset is not a multiple of the file's alignment.
    #[error("tensor {name:?}: offset {offset} is not a multiple of the alignment {alignment}")]
    Misaligned {
        /// The tensor.
        name: String,
        /// Its offset in the data section.
        offset: u64,
        /// The file's alignment.
        alignment: u64,
    },
    /// A tensor whose bytes lie (partly) outside the file.
    #[error("tensor {name:?}: bytes {start}..{end} are outside the file of {file_len} bytes")]
    OutOfRange {
        /// The tensor.
        name: String,
        /// Its first byte in the file.
        start: u64,
        /// One past its last byte.
        end: u64,
        /// The file's length.
        file_len: u64,
    },
    /// No tensor of that name.
    #[error("no tensor named {0:?} in the file")]
    NoSuchTensor(String),
}

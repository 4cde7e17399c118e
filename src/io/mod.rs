//! Model files: readers that turn weights on disk into host tensors.

pub mod gguf;
pub mod safetensors;

pub use gguf::{Gguf, GgufError, TensorInfo, TensorType, Value};
pub use safetensors::{Safetensors, SafetensorsError};

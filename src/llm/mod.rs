//! Llama-family decoders (llama, mistral, qwen2) from GGUF files, written with kiln's public
//! Tensor API: an example of its use, not a second framework. Quantized weights stay in
//! their blocks on the device and are decoded inside the matmuls that read them.

mod config;
mod error;
mod model;
mod random;
mod sampler;
mod tokenizer;
mod weights;

pub use config::{Arch, Config, RopeStyle, ARCHS, MAX_LAYERS};
pub use error::LlmError;
pub use model::{Model, Session, Timing, MAX_PROGRAMS};
pub use random::RandomSpec;
pub use sampler::{Sampler, Sampling};
pub use tokenizer::{pre_tokens, PreTokenizer, Tokenizer, PRE_TOKENIZERS};
pub use weights::{Layer, Qkv, Source, Stacked, Weights};

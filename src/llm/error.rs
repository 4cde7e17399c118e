//! What can be wrong with a model file or a generation request.

/// A model that cannot be built from its file, or a request it cannot serve.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LlmError {
    /// `general.architecture` names an architecture kiln does not run.
    #[error("architecture {0:?} is not supported (llama, mistral and qwen2 are)")]
    Architecture(String),
    /// A metadata key the architecture needs is missing or has the wrong type.
    #[error("metadata key {key:?}: {why}")]
    Metadata {
        /// The key.
        key: String,
        /// What is wrong.
        why: &'static str,
    },
    /// A tensor is missing or has the wrong shape.
    #[error("tensor {name:?}: {why}")]
    Tensor {
        /// The tensor.
        name: String,
        /// What is wrong.
        why: String,
    },
    /// The context would grow past the KV cache.
    #[error("{needed} positions do not fit the context of {context}")]
    ContextFull {
        /// Positions asked for.
        needed: usize,
        /// The cache's length.
        context: usize,
    },
    /// A step failed after the session gave its KV cache to the step's program (each step
    /// writes the cache where it lies); the session cannot go on.
    #[error("the session's KV cache was lost in a failed step; start a new session")]
    CacheLost,
    /// A token id outside the vocabulary.
    #[error("token {token} is outside the vocabulary of {vocab}")]
    Token {
        /// The token.
        token: u32,
        /// The vocabulary size.
        vocab: usize,
    },
    /// A tokenizer that cannot be built from the file's `tokenizer.ggml.*` metadata.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// Sampling settings out of range.
    #[error("sampling: {0}")]
    Sampling(String),
}

//! kiln's error type: every fallible call returns [`Result`].

use kiln_ir::{IrError, TensorType};

/// Everything that can go wrong in kiln, typed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// A shape, dtype or axis error in the graph being built (messages name the shapes).
    #[error(transparent)]
    Ir(Box<IrError>),
    /// A GGUF model file that cannot be read (shared, since I/O errors are not `Clone`).
    #[error(transparent)]
    Gguf(std::sync::Arc<crate::io::GgufError>),
    /// A safetensors file that cannot be read (shared, since I/O errors are not `Clone`).
    #[error(transparent)]
    Safetensors(std::sync::Arc<crate::io::SafetensorsError>),
    /// A model that cannot be built from its file, or a generation request it cannot serve.
    #[error(transparent)]
    Llm(#[from] crate::llm::LlmError),
    /// Code generation failed.
    #[error(transparent)]
    Codegen(#[from] kiln_codegen::CodegenError),
    /// `KILN_REQUIRE_ADAPTER=1` (or [`crate::DeviceOptions::require_adapter`]) is set and no
    /// GPU adapter could be opened.
    #[error("no GPU adapter is available ({0}); install a Vulkan driver (lavapipe: apt-get install mesa-vulkan-drivers) or unset KILN_REQUIRE_ADAPTER to run on the reference interpreter")]
    NoAdapter(String),
    /// The adapter asked for by name does not exist.
    #[error("no adapter matches {wanted:?}; available: {available:?}")]
    AdapterNotFound {
        /// The selector given.
        wanted: String,
        /// The adapters seen.
        available: Vec<String>,
    },
    /// A buffer larger than the device allows.
    #[error("{what} needs {bytes} bytes, over the device's limit of {limit} bytes")]
    TooLarge {
        /// What needed it.
        what: String,
        /// Bytes needed.
        bytes: u64,
        /// The device's limit.
        limit: u64,
    },
    /// A kernel would bind more storage buffers than the device allows (a kiln bug: fusion
    /// splits kernels to stay under the limit).
    #[error("kernel {kernel} binds {bindings} storage buffers, over the device's limit of {limit} per shader stage")]
    TooManyBindings {
        /// The kernel.
        kernel: String,
        /// Storage buffers it binds.
        bindings: usize,
        /// The device's limit.
        limit: usize,
    },
    /// The device ran out of memory.
    #[error("the device ran out of memory: {0}")]
    OutOfMemory(String),
    /// The device was lost (driver reset, removal, destroy).
    #[error("the GPU device was lost: {0}")]
    DeviceLost(String),
    /// wgpu reported a validation or internal error (a kiln bug if it ever happens).
    #[error("GPU error: {0}")]
    Gpu(String),
    /// A blocking call in the browser, where the page's thread may not wait.
    #[error("{0} blocks the thread, which the browser does not allow: use its async form")]
    Blocking(&'static str),
    /// Reading a buffer back failed.
    #[error("reading back from the GPU failed: {0}")]
    Readback(String),
    /// Tensors from different devices were combined.
    #[error("tensors live on different devices ({0} and {1})")]
    DeviceMismatch(String, String),
    /// A placeholder was realized without a value bound to it.
    #[error("placeholder {0} has no value; run it through a compiled Program")]
    UnboundPlaceholder(String),
    /// A program's outputs depend on a placeholder missing from its input list.
    #[error("the outputs read placeholder {0}, which is not in the program's input list")]
    PlaceholderNotInput(String),
    /// The same tensor was given twice as a program input.
    #[error(
        "program input {index} is the same tensor as input {first}; list each placeholder once"
    )]
    DuplicateInput {
        /// The first position of the tensor.
        first: usize,
        /// The repeated position.
        index: usize,
    },
    /// A program was run with the wrong inputs.
    #[error("program input {index}: expected {} {}, got {} {}", expected.dtype, expected.shape, got.dtype, got.shape)]
    InputMismatch {
        /// Input position.
        index: usize,
        /// Declared type.
        expected: Box<TensorType>,
        /// Given type.
        got: Box<TensorType>,
    },
    /// A program was compiled to donate an input it does not have.
    #[error("input {index} cannot be donated: the program has {inputs} inputs")]
    DonatedInput {
        /// The position given.
        index: usize,
        /// The program's inputs.
        inputs: usize,
    },
    /// A program was run with the wrong number of inputs.
    #[error("program expects {expected} inputs, got {got}")]
    InputCount {
        /// Declared inputs.
        expected: usize,
        /// Given inputs.
        got: usize,
    },
}

/// `Result` with kiln's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<IrError> for Error {
    fn from(e: IrError) -> Self {
        Error::Ir(Box::new(e))
    }
}

impl From<crate::io::GgufError> for Error {
    fn from(e: crate::io::GgufError) -> Self {
        Error::Gguf(std::sync::Arc::new(e))
    }
}

impl From<crate::io::SafetensorsError> for Error {
    fn from(e: crate::io::SafetensorsError) -> Self {
        Error::Safetensors(std::sync::Arc::new(e))
    }
}

impl Error {
    /// The graph-building error inside, if this is one.
    pub fn ir(&self) -> Option<&IrError> {
        match self {
            Error::Ir(e) => Some(e),
            _ => None,
        }
    }
}

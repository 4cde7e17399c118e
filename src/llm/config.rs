//! A decoder's hyperparameters, read from GGUF metadata (`{arch}.*` keys, as llama.cpp
//! names them), and the per-architecture facts, as a table.

use super::LlmError;
use crate::io::Gguf;

/// How RoPE pairs the dimensions of a head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RopeStyle {
    /// Dimensions `2i` and `2i + 1` (llama.cpp's `LLAMA_ROPE_TYPE_NORM`: llama, mistral,
    /// whose GGUF converter permutes the Q and K rows into this order).
    Adjacent,
    /// Dimensions `i` and `i + head_dim / 2` (`LLAMA_ROPE_TYPE_NEOX`: qwen2).
    Halves,
}

/// The architectures kiln runs, and what sets them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arch {
    /// `general.architecture`.
    pub name: &'static str,
    /// How RoPE pairs dimensions.
    pub rope: RopeStyle,
    /// Q, K and V projections carry biases (`blk.N.attn_{q,k,v}.bias`).
    pub qkv_bias: bool,
}

/// The architectures, as data.
pub const ARCHS: [Arch; 3] = [
    Arch {
        name: "llama",
        rope: RopeStyle::Adjacent,
        qkv_bias: false,
    },
    Arch {
        name: "mistral",
        rope: RopeStyle::Adjacent,
        qkv_bias: false,
    },
    Arch {
        name: "qwen2",
        rope: RopeStyle::Halves,
        qkv_bias: true,
    },
];

/// A llama-family decoder's shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The architecture.
    pub arch: Arch,
    /// Layers (`block_count`).
    pub layers: usize,
    /// Model width (`embedding_length`).
    pub dim: usize,
    /// Hidden width of the feed-forward block (`feed_forward_length`).
    pub ffn: usize,
    /// Query heads (`attention.head_count`).
    pub heads: usize,
    /// Key/value heads (`attention.head_count_kv`; grouped-query attention where fewer).
    pub kv_heads: usize,
    /// Head width (`dim / heads`, or `attention.key_length`).
    pub head_dim: usize,
    /// RMSNorm's epsilon (`attention.layer_norm_rms_epsilon`).
    pub eps: f64,
    /// RoPE's base (`rope.freq_base`, 10000 when absent).
    pub rope_base: f64,
    /// Linear RoPE scaling: positions are divided by this (`rope.scaling.factor` where
    /// `rope.scaling.type` is `linear`; 1 otherwise).
    pub rope_scale: f64,
    /// The trained context (`context_length`).
    pub context: usize,
}

impl Config {
    /// The configuration in `g`'s metadata.
    pub fn from_gguf(g: &Gguf) -> Result<Config, LlmError> {
        let arch_name = g
            .get("general.architecture")
            .and_then(|v| v.as_str())
            .ok_or(LlmError::Metadata {
                key: "general.architecture".into(),
                why: "missing, or not a string",
            })?;
        let arch = *ARCHS
            .iter()
            .find(|a| a.name == arch_name)
            .ok_or_else(|| LlmError::Architecture(arch_name.into()))?;
        let key = |k: &str| format!("{arch_name}.{k}");
        let int = |k: &str| -> Result<usize, LlmError> {
            g.get(&key(k))
                .and_then(|v| v.as_u64())
                .and_then(|v| usize::try_from(v).ok())
                .filter(|&v| v > 0)
                .ok_or(LlmError::Metadata {
                    key: key(k),
                    why: "missing, or not a positive integer",
                })
        };
        let float = |k: &str, default: Option<f64>| -> Result<f64, LlmError> {
            match (g.get(&key(k)).and_then(|v| v.as_f64()), default) {
                (Some(v), _) if v.is_finite() && v > 0.0 => Ok(v),
                (None, Some(d)) if g.get(&key(k)).is_none() => Ok(d),
                _ => Err(LlmError::Metadata {
                    key: key(k),
                    why: "missing, or not a positive float",
                }),
            }
        };
        let dim = int("embedding_length")?;
        let heads = int("attention.head_count")?;
        let kv_heads = match g.get(&key("attention.head_count_kv")) {
            None => heads,
            Some(_) => int("attention.head_count_kv")?,
        };
        let head_dim = match g.get(&key("attention.key_length")) {
            None => dim / heads,
            Some(_) => int("attention.key_length")?,
        };
        let rope_scale = match g.get(&key("rope.scaling.type")).map(|v| v.as_str()) {
            None | Some(Some("none")) => 1.0,
            Some(Some("linear")) => float("rope.scaling.factor", Some(1.0))?,
            Some(_) => {
                return Err(LlmError::Metadata {
                    key: key("rope.scaling.type"),
                    why: "only linear RoPE scaling (or none) is supported",
                })
            }
        };
        let c = Config {
            arch,
            layers: int("block_count")?,
            dim,
            ffn: int("feed_forward_length")?,
            heads,
            kv_heads,
            head_dim,
            eps: float("attention.layer_norm_rms_epsilon", None)?,
            rope_base: float("rope.freq_base", Some(10_000.0))?,
            rope_scale,
            context: int("context_length")?,
        };
        c.validate()?;
        Ok(c)
    }

    /// Checks what the shapes built from the configuration rely on: nonzero sizes, query
    /// heads a multiple of the KV heads, an even head width that times the heads is the model
    /// width, and a layer count a model could have.
    pub fn validate(&self) -> Result<(), LlmError> {
        let bad = |key: &str, why: &'static str| {
            Err(LlmError::Metadata {
                key: format!("{}.{key}", self.arch.name),
                why,
            })
        };
        let sizes = [
            self.layers,
            self.dim,
            self.ffn,
            self.heads,
            self.kv_heads,
            self.context,
        ];
        if sizes.contains(&0) || self.head_dim == 0 {
            return bad("embedding_length", "every size must be positive");
        }
        if self.layers > MAX_LAYERS {
            return bad(
                "block_count",
                "more layers than any model has (at most 1024)",
            );
        }
        let width = self.head_dim.checked_mul(self.heads);
        if !self.heads.is_multiple_of(self.kv_heads)
            || !self.head_dim.is_multiple_of(2)
            || width != Some(self.dim)
        {
            return bad(
                "attention.head_count_kv",
                "heads must be a multiple of the KV heads, with an even head width that times \
                 the heads is the model width",
            );
        }
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if ![self.eps, self.rope_base, self.rope_scale]
            .into_iter()
            .all(positive)
        {
            return bad(
                "rope.freq_base",
                "epsilon, RoPE base and scale must be positive",
            );
        }
        Ok(())
    }
}

/// The most layers a configuration may declare (a corrupt count is refused before anything is
/// allocated for it).
pub const MAX_LAYERS: usize = 1024;

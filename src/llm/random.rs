//! A seeded random llama-shaped model written as a GGUF file, so that it loads through the
//! same code as a downloaded one: the default of `examples/generate.rs` and a test subject
//! that needs no download. Weights are random blocks scaled so that activations keep a
//! sensible size, with a byte-level BPE tokenizer (the 256 bytes, a few English merges, and
//! begin/end tokens).

use super::{Config, Source, ARCHS};
use crate::io::{GgufWriter, TensorType, Value};
use crate::{HostTensor, Result, Shape};
use kiln_ir::quant::BlockFormat;
use std::path::Path;

/// What a random tensor is.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fill {
    /// An RMSNorm gain of ones (`f32`).
    Ones,
    /// Random blocks of a format, values about this size.
    Blocks(BlockFormat, f32),
}

/// The shape and formats of a random model.
#[derive(Clone, Debug, PartialEq)]
pub struct RandomSpec {
    /// Layers.
    pub layers: usize,
    /// Model width (a multiple of 256, for the K-quant rows).
    pub dim: usize,
    /// Feed-forward width (a multiple of 256).
    pub ffn: usize,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads.
    pub kv_heads: usize,
    /// Trained context written to the metadata.
    pub context: usize,
    /// Format of the embeddings and attention projections.
    pub attn_format: BlockFormat,
    /// Format of the feed-forward projections.
    pub ffn_format: BlockFormat,
    /// Format of the output head.
    pub head_format: BlockFormat,
    /// Vocabulary size (at least the tokenizer's 270 tokens; reserved ones past them).
    pub vocab: usize,
    /// The seed.
    pub seed: u64,
}

impl Default for RandomSpec {
    /// A small model: 4 layers of width 256, Q8_0 attention and embeddings, Q4_K feed-forward.
    fn default() -> Self {
        RandomSpec {
            layers: 4,
            dim: 256,
            ffn: 768,
            heads: 8,
            kv_heads: 4,
            context: 512,
            attn_format: BlockFormat::Q8_0,
            ffn_format: BlockFormat::Q4K,
            head_format: BlockFormat::Q8_0,
            vocab: 270,
            seed: 0,
        }
    }
}

/// Merges of the random model's tokenizer (byte-level BPE, `Ġ` is a space).
const MERGES: [&str; 12] = [
    "Ġ t", "h e", "i n", "Ġt he", "e r", "a n", "Ġ a", "o n", "r e", "Ġ s", "e n", "Ġ w",
];

/// The typical magnitude of a format's value per unit of its `f16` scale (random codes and
/// sub-block scales): what a block's scale is divided by to give values of a chosen size.
fn magnitude(f: BlockFormat) -> f32 {
    match f {
        BlockFormat::Q8_0 => 74.0,
        BlockFormat::Q4_0 => 4.6,
        BlockFormat::Q4K => 150.0,
        BlockFormat::Q6K => 1300.0,
    }
}

impl RandomSpec {
    /// The tokenizer's vocabulary: the 256 byte characters, the merges,
    /// `<|begin_of_text|>` and `<|end_of_text|>`, then `<|reserved_N|>` up to `vocab`.
    fn tokens(&self) -> Vec<String> {
        let table = super::tokenizer::byte_chars();
        let mut t: Vec<String> = table.iter().map(|c| c.to_string()).collect();
        t.extend(MERGES.iter().map(|m| m.replace(' ', "")));
        t.push("<|begin_of_text|>".into());
        t.push("<|end_of_text|>".into());
        let base = t.len();
        t.extend((base..self.vocab()).map(|i| format!("<|reserved_{i}|>")));
        t
    }

    /// The vocabulary size: `vocab`, or the tokenizer's tokens where that is more.
    pub fn vocab(&self) -> usize {
        self.vocab.max(258 + MERGES.len())
    }

    /// The configuration the model has.
    pub fn config(&self) -> Config {
        Config {
            arch: ARCHS[0],
            layers: self.layers,
            dim: self.dim,
            ffn: self.ffn,
            heads: self.heads,
            kv_heads: self.kv_heads,
            head_dim: self.dim.checked_div(self.heads).unwrap_or(0),
            eps: 1e-5,
            rope_base: 500_000.0,
            rope_scale: 1.0,
            context: self.context,
        }
    }

    /// Every tensor: name, shape, contents.
    fn tensors(&self) -> Vec<(String, Shape, Fill)> {
        let (d, kv) = (self.dim, self.kv_heads * self.config().head_dim);
        let s = 1.0 / (d as f32).sqrt();
        let sf = 1.0 / (self.ffn as f32).sqrt();
        let (a, f) = (self.attn_format, self.ffn_format);
        let mut t = vec![(
            "token_embd.weight".to_string(),
            Shape::new(&[self.vocab(), d]),
            Fill::Blocks(a, 1.0),
        )];
        for l in 0..self.layers {
            let n = |x: &str| format!("blk.{l}.{x}");
            t.extend([
                (n("attn_norm.weight"), Shape::new(&[d]), Fill::Ones),
                (n("attn_q.weight"), Shape::new(&[d, d]), Fill::Blocks(a, s)),
                (n("attn_k.weight"), Shape::new(&[kv, d]), Fill::Blocks(a, s)),
                (n("attn_v.weight"), Shape::new(&[kv, d]), Fill::Blocks(a, s)),
                (
                    n("attn_output.weight"),
                    Shape::new(&[d, d]),
                    Fill::Blocks(a, s),
                ),
                (n("ffn_norm.weight"), Shape::new(&[d]), Fill::Ones),
                (
                    n("ffn_gate.weight"),
                    Shape::new(&[self.ffn, d]),
                    Fill::Blocks(f, s),
                ),
                (
                    n("ffn_up.weight"),
                    Shape::new(&[self.ffn, d]),
                    Fill::Blocks(f, s),
                ),
                (
                    n("ffn_down.weight"),
                    Shape::new(&[d, self.ffn]),
                    Fill::Blocks(f, sf),
                ),
            ]);
        }
        t.push(("output_norm.weight".into(), Shape::new(&[d]), Fill::Ones));
        t.push((
            "output.weight".into(),
            Shape::new(&[self.vocab(), d]),
            Fill::Blocks(self.head_format, 4.0 * s),
        ));
        t
    }

    /// Random blocks of `format` for a `[rows, cols]` weight whose values are about
    /// `scale` in size.
    fn blocks(
        &self,
        format: BlockFormat,
        rows: usize,
        cols: usize,
        salt: u64,
        scale: f32,
    ) -> Vec<u8> {
        let mut b =
            format.random_blocks(rows * cols, self.seed.wrapping_mul(1000).wrapping_add(salt));
        // Rescale every f16 scale of every block.
        let k = scale / magnitude(format) / 0.055;
        for blk in b.chunks_exact_mut(format.block_bytes()) {
            for &at in format.scale_offsets() {
                let d = half::f16::from_le_bytes([blk[at], blk[at + 1]]).to_f32() * k;
                blk[at..at + 2].copy_from_slice(&half::f16::from_f32(d).to_le_bytes());
            }
        }
        b
    }

    /// Writes the model to `path` (GGUF v3, architecture `llama`).
    pub fn write(&self, path: &Path) -> Result<()> {
        Ok(self.writer()?.write(path)?)
    }

    /// The model's GGUF file in memory (what [`RandomSpec::write`] writes): how a browser page,
    /// with no file system, loads it through the same reader as a file.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        Ok(self.writer()?.to_bytes()?)
    }

    /// The model as a GGUF writer, ready to write.
    fn writer(&self) -> Result<GgufWriter> {
        self.config().validate()?;
        let tokens = self.tokens();
        let u = |v: usize| Value::U32(v as u32);
        let c = self.config();
        let mut w = GgufWriter::new();
        w.meta("general.architecture", Value::String("llama".into()))
            .meta("general.name", Value::String("kiln random".into()))
            .meta("llama.context_length", u(c.context))
            .meta("llama.embedding_length", u(c.dim))
            .meta("llama.block_count", u(c.layers))
            .meta("llama.feed_forward_length", u(c.ffn))
            .meta("llama.attention.head_count", u(c.heads))
            .meta("llama.attention.head_count_kv", u(c.kv_heads))
            .meta(
                "llama.attention.layer_norm_rms_epsilon",
                Value::F32(c.eps as f32),
            )
            .meta("llama.rope.freq_base", Value::F32(c.rope_base as f32))
            .meta("tokenizer.ggml.model", Value::String("gpt2".into()))
            .meta("tokenizer.ggml.pre", Value::String("llama-bpe".into()))
            .meta(
                "tokenizer.ggml.tokens",
                Value::Array(tokens.into_iter().map(Value::String).collect()),
            )
            .meta(
                "tokenizer.ggml.merges",
                Value::Array(
                    MERGES
                        .iter()
                        .map(|m| Value::String(m.to_string()))
                        .collect(),
                ),
            )
            .meta("tokenizer.ggml.bos_token_id", u(256 + MERGES.len()))
            .meta("tokenizer.ggml.eos_token_id", u(257 + MERGES.len()))
            .meta("tokenizer.ggml.add_bos_token", Value::Bool(true));
        for (name, shape, fill) in self.tensors() {
            let h = self.read(&name)?;
            let (ty, bytes) = match fill {
                Fill::Ones => (
                    TensorType::F32,
                    h.to_vec::<f32>()?
                        .iter()
                        .flat_map(|x| x.to_le_bytes())
                        .collect(),
                ),
                Fill::Blocks(f, _) => (TensorType::Quantized(f), h.blocks()?),
            };
            w.tensor(&name, shape, ty, bytes)?;
        }
        Ok(w)
    }
}

impl Source for RandomSpec {
    fn shape(&self, name: &str) -> Option<Shape> {
        self.tensors()
            .into_iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, s, _)| s)
    }

    fn read(&self, name: &str) -> Result<HostTensor> {
        let all = self.tensors();
        let (salt, (_, shape, fill)) = all
            .into_iter()
            .enumerate()
            .find(|(_, (n, _, _))| n == name)
            .ok_or_else(|| super::LlmError::Tensor {
                name: name.into(),
                why: "missing".into(),
            })?;
        Ok(match fill {
            Fill::Ones => HostTensor::from_slice(&vec![1f32; shape.numel()], shape)?,
            Fill::Blocks(f, scale) => {
                let (rows, cols) = (shape.dims()[0], shape.dims()[1]);
                let b = self.blocks(f, rows, cols, salt as u64, scale);
                HostTensor::quantized(f, shape, &b)?
            }
        })
    }
}

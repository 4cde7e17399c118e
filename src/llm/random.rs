//! A seeded random llama-shaped model written as a GGUF file, so that it loads through the
//! same code as a downloaded one: the default of `examples/generate.rs` and a test subject
//! that needs no download. Weights are random blocks scaled so that activations keep a
//! sensible size, with a byte-level BPE tokenizer (the 256 bytes, a few English merges, and
//! begin/end tokens).

use crate::io::{GgufError, GgufWriter, TensorType, Value};
use crate::Shape;
use kiln_ir::quant::BlockFormat;
use std::path::Path;

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
    /// The tokenizer's vocabulary: the 256 byte characters, the merges, then
    /// `<|begin_of_text|>` and `<|end_of_text|>`.
    fn tokens() -> Vec<String> {
        let table = super::tokenizer::byte_chars();
        let mut t: Vec<String> = table.iter().map(|c| c.to_string()).collect();
        t.extend(MERGES.iter().map(|m| m.replace(' ', "")));
        t.push("<|begin_of_text|>".into());
        t.push("<|end_of_text|>".into());
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
        // Rescale every f16 scale of every block (at the offsets `random_blocks` sets).
        let halves: &[usize] = match format {
            BlockFormat::Q8_0 | BlockFormat::Q4_0 => &[0],
            BlockFormat::Q4K => &[0, 2],
            BlockFormat::Q6K => &[208],
        };
        let k = scale / magnitude(format) / 0.055;
        for blk in b.chunks_exact_mut(format.block_bytes()) {
            for &at in halves {
                let d = half::f16::from_le_bytes([blk[at], blk[at + 1]]).to_f32() * k;
                blk[at..at + 2].copy_from_slice(&half::f16::from_f32(d).to_le_bytes());
            }
        }
        b
    }

    /// Writes the model to `path` (GGUF v3, architecture `llama`).
    pub fn write(&self, path: &Path) -> Result<(), GgufError> {
        let tokens = RandomSpec::tokens();
        let vocab = tokens.len();
        let (d, hd) = (self.dim, self.dim / self.heads);
        let kv = self.kv_heads * hd;
        let mut w = GgufWriter::new();
        let u = |v: usize| Value::U32(v as u32);
        w.meta("general.architecture", Value::String("llama".into()))
            .meta("general.name", Value::String("kiln random".into()))
            .meta("llama.context_length", u(self.context))
            .meta("llama.embedding_length", u(d))
            .meta("llama.block_count", u(self.layers))
            .meta("llama.feed_forward_length", u(self.ffn))
            .meta("llama.attention.head_count", u(self.heads))
            .meta("llama.attention.head_count_kv", u(self.kv_heads))
            .meta("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5))
            .meta("llama.rope.freq_base", Value::F32(500_000.0))
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
            .meta("tokenizer.ggml.bos_token_id", u(vocab - 2))
            .meta("tokenizer.ggml.eos_token_id", u(vocab - 1))
            .meta("tokenizer.ggml.add_bos_token", Value::Bool(true));
        let ones = |n: usize| -> Vec<u8> { (0..n).flat_map(|_| 1f32.to_le_bytes()).collect() };
        let mut salt = 0;
        let mut q = |w: &mut GgufWriter,
                     name: &str,
                     f: BlockFormat,
                     rows: usize,
                     cols: usize,
                     scale: f32| {
            salt += 1;
            let b = self.blocks(f, rows, cols, salt, scale);
            w.tensor(name, Shape::new(&[rows, cols]), TensorType::Quantized(f), b)
                .map(|_| ())
        };
        q(&mut w, "token_embd.weight", self.attn_format, vocab, d, 1.0)?;
        let s = 1.0 / (d as f32).sqrt();
        for l in 0..self.layers {
            let n = |x: &str| format!("blk.{l}.{x}");
            w.tensor(
                &n("attn_norm.weight"),
                Shape::new(&[d]),
                TensorType::F32,
                ones(d),
            )?;
            q(&mut w, &n("attn_q.weight"), self.attn_format, d, d, s)?;
            q(&mut w, &n("attn_k.weight"), self.attn_format, kv, d, s)?;
            q(&mut w, &n("attn_v.weight"), self.attn_format, kv, d, s)?;
            q(&mut w, &n("attn_output.weight"), self.attn_format, d, d, s)?;
            w.tensor(
                &n("ffn_norm.weight"),
                Shape::new(&[d]),
                TensorType::F32,
                ones(d),
            )?;
            q(
                &mut w,
                &n("ffn_gate.weight"),
                self.ffn_format,
                self.ffn,
                d,
                s,
            )?;
            q(&mut w, &n("ffn_up.weight"), self.ffn_format, self.ffn, d, s)?;
            let sf = 1.0 / (self.ffn as f32).sqrt();
            q(
                &mut w,
                &n("ffn_down.weight"),
                self.ffn_format,
                d,
                self.ffn,
                sf,
            )?;
        }
        w.tensor(
            "output_norm.weight",
            Shape::new(&[d]),
            TensorType::F32,
            ones(d),
        )?;
        q(&mut w, "output.weight", self.head_format, vocab, d, s * 4.0)?;
        w.write(path)
    }
}

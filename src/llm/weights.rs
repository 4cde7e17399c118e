//! A decoder's weights, read from a GGUF file one tensor at a time and moved to the device
//! as they are read (so the host holds at most one tensor). Quantized tensors stay in their
//! blocks; everything else is used as `f32`.

use super::{Config, LlmError};
use crate::io::Gguf;
use crate::{DType, Device, HostTensor, Result, Shape, Tensor};

/// Where weights come from: a GGUF file, or a generator ([`super::RandomSpec`]).
pub trait Source {
    /// The shape of tensor `name`, `None` where there is no such tensor.
    fn shape(&self, name: &str) -> Option<Shape>;
    /// Tensor `name` as a host tensor (quantized ones as their blocks).
    fn read(&self, name: &str) -> Result<HostTensor>;
}

impl Source for Gguf {
    fn shape(&self, name: &str) -> Option<Shape> {
        self.tensor(name).ok().map(|t| t.shape.clone())
    }
    fn read(&self, name: &str) -> Result<HostTensor> {
        self.host_tensor(name)
    }
}

/// One layer's weights. Projections are `[out, in]`, as GGUF stores them (`y = x W^T`).
pub struct Layer {
    /// RMSNorm gain before attention.
    pub attn_norm: Tensor,
    /// Query projection.
    pub wq: Tensor,
    /// Key projection.
    pub wk: Tensor,
    /// Value projection.
    pub wv: Tensor,
    /// Query, key and value biases (qwen2).
    pub bias: Option<[Tensor; 3]>,
    /// Attention output projection.
    pub wo: Tensor,
    /// RMSNorm gain before the feed-forward block.
    pub ffn_norm: Tensor,
    /// SwiGLU gate projection.
    pub gate: Tensor,
    /// SwiGLU up projection.
    pub up: Tensor,
    /// Down projection.
    pub down: Tensor,
}

/// Every weight of a decoder.
pub struct Weights {
    /// Token embeddings `[vocab, dim]`.
    pub embed: Tensor,
    /// The layers.
    pub layers: Vec<Layer>,
    /// The final RMSNorm gain.
    pub norm: Tensor,
    /// The output head `[vocab, dim]`: its own tensor, or the embeddings (tied).
    pub head: Tensor,
    /// RoPE frequency factors (`rope_freqs.weight`, llama 3), one per pair of dimensions.
    pub rope_freqs: Option<Vec<f32>>,
}

impl Weights {
    /// Reads every weight `cfg` needs from `g` onto `device`, checking each shape.
    /// `progress(done, total)` is called after each tensor.
    pub fn load(
        g: &dyn Source,
        cfg: &Config,
        device: &Device,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Weights> {
        let (d, kv) = (cfg.dim, cfg.kv_heads * cfg.head_dim);
        let per_layer = if cfg.arch.qkv_bias { 12 } else { 9 };
        let total = 3 + cfg.layers * per_layer;
        let mut done = 0;
        let mut load = |name: &str, shape: &[usize]| -> Result<Tensor> {
            let t = read(g, device, name, shape)?;
            done += 1;
            progress(done, total);
            Ok(t)
        };
        let embed = load("token_embd.weight", &[0, d])?;
        let vocab = embed.dims()[0];
        let mut layers = Vec::with_capacity(cfg.layers);
        for l in 0..cfg.layers {
            let n = |s: &str| format!("blk.{l}.{s}");
            let attn_norm = load(&n("attn_norm.weight"), &[d])?;
            let wq = load(&n("attn_q.weight"), &[d, d])?;
            let wk = load(&n("attn_k.weight"), &[kv, d])?;
            let wv = load(&n("attn_v.weight"), &[kv, d])?;
            let bias = if cfg.arch.qkv_bias {
                Some([
                    load(&n("attn_q.bias"), &[d])?,
                    load(&n("attn_k.bias"), &[kv])?,
                    load(&n("attn_v.bias"), &[kv])?,
                ])
            } else {
                None
            };
            layers.push(Layer {
                attn_norm,
                wq,
                wk,
                wv,
                bias,
                wo: load(&n("attn_output.weight"), &[d, d])?,
                ffn_norm: load(&n("ffn_norm.weight"), &[d])?,
                gate: load(&n("ffn_gate.weight"), &[cfg.ffn, d])?,
                up: load(&n("ffn_up.weight"), &[cfg.ffn, d])?,
                down: load(&n("ffn_down.weight"), &[d, cfg.ffn])?,
            });
        }
        let norm = load("output_norm.weight", &[d])?;
        let head = if g.shape("output.weight").is_some() {
            load("output.weight", &[vocab, d])?
        } else {
            done += 1;
            progress(done, total);
            embed.clone()
        };
        let rope_freqs = if g.shape("rope_freqs.weight").is_some() {
            let t = g.read("rope_freqs.weight")?;
            let v = t.to_f64();
            if v.len() != cfg.head_dim / 2 || v.iter().any(|f| !(f.is_finite() && *f > 0.0)) {
                return Err(LlmError::Tensor {
                    name: "rope_freqs.weight".into(),
                    why: format!("{} positive factors expected", cfg.head_dim / 2),
                }
                .into());
            }
            Some(v.iter().map(|&f| f as f32).collect())
        } else {
            None
        };
        Ok(Weights {
            embed,
            layers,
            norm,
            head,
            rope_freqs,
        })
    }

    /// The vocabulary size.
    pub fn vocab(&self) -> usize {
        self.embed.dims()[0]
    }
}

/// Tensor `name` of `shape` (a 0 matches any size) on `device`: quantized blocks as they
/// are, other types as `f32`.
fn read(g: &dyn Source, device: &Device, name: &str, shape: &[usize]) -> Result<Tensor> {
    let found = g.shape(name).ok_or_else(|| LlmError::Tensor {
        name: name.into(),
        why: "missing".into(),
    })?;
    let dims = found.dims();
    if dims.len() != shape.len() || dims.iter().zip(shape).any(|(&a, &b)| b != 0 && a != b) {
        return Err(LlmError::Tensor {
            name: name.into(),
            why: format!("shape {found} where {shape:?} is needed"),
        }
        .into());
    }
    let h = g.read(name)?;
    let t = Tensor::from_host_on(device, h)?;
    let t = match t.dtype() {
        DType::F32 | DType::Quant(_) => t,
        _ => t.cast(DType::F32)?,
    };
    t.upload()?;
    Ok(t)
}

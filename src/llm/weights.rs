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
    /// The query, key and value projections.
    pub qkv: Qkv,
    /// Query, key and value biases (qwen2).
    pub bias: Option<[Tensor; 3]>,
    /// Attention output projection.
    pub wo: Tensor,
    /// RMSNorm gain before the feed-forward block.
    pub ffn_norm: Tensor,
    /// SwiGLU's gate and up projections (`[gate, up]`).
    pub gate_up: Stacked<2>,
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
        let untied = g.shape("output.weight").is_some();
        let total = 2 + usize::from(untied) + cfg.layers * per_layer;
        let mut done = 0;
        let mut host = |name: &str, shape: &[usize]| -> Result<HostTensor> {
            let t = read(g, name, shape)?;
            done += 1;
            progress(done, total);
            Ok(t)
        };
        let embed = to_device(device, host("token_embd.weight", &[0, d])?)?;
        let vocab = embed.dims()[0];
        let mut layers = Vec::with_capacity(cfg.layers);
        for l in 0..cfg.layers {
            let n = |s: &str| format!("blk.{l}.{s}");
            let attn_norm = to_device(device, host(&n("attn_norm.weight"), &[d])?)?;
            let qkv = Qkv::new(
                device,
                [
                    host(&n("attn_q.weight"), &[d, d])?,
                    host(&n("attn_k.weight"), &[kv, d])?,
                    host(&n("attn_v.weight"), &[kv, d])?,
                ],
            )?;
            let bias = if cfg.arch.qkv_bias {
                Some([
                    to_device(device, host(&n("attn_q.bias"), &[d])?)?,
                    to_device(device, host(&n("attn_k.bias"), &[kv])?)?,
                    to_device(device, host(&n("attn_v.bias"), &[kv])?)?,
                ])
            } else {
                None
            };
            layers.push(Layer {
                attn_norm,
                qkv,
                bias,
                wo: to_device(device, host(&n("attn_output.weight"), &[d, d])?)?,
                ffn_norm: to_device(device, host(&n("ffn_norm.weight"), &[d])?)?,
                gate_up: Stacked::new(
                    device,
                    [
                        host(&n("ffn_gate.weight"), &[cfg.ffn, d])?,
                        host(&n("ffn_up.weight"), &[cfg.ffn, d])?,
                    ],
                )?,
                down: to_device(device, host(&n("ffn_down.weight"), &[d, cfg.ffn])?)?,
            });
        }
        let norm = to_device(device, host("output_norm.weight", &[d])?)?;
        let head = if untied {
            to_device(device, host("output.weight", &[vocab, d])?)?
        } else {
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

/// Tensor `name` of `shape` (a 0 matches any size) on the host: quantized blocks as they
/// are.
fn read(g: &dyn Source, name: &str, shape: &[usize]) -> Result<HostTensor> {
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
    g.read(name)
}

/// A host tensor on `device`: quantized blocks as they are, other types as `f32`.
fn to_device(device: &Device, h: HostTensor) -> Result<Tensor> {
    let t = Tensor::from_host_on(device, h)?;
    let t = match t.dtype() {
        DType::F32 | DType::Quant(_) => t,
        _ => t.cast(DType::F32)?,
    };
    t.upload()?;
    Ok(t)
}

/// Projections of one input: one weight of their rows stacked where they can be (one
/// product instead of several, and one kernel), else apart.
pub enum Stacked<const N: usize> {
    /// Stacked rows, and the rows of each projection.
    Fused(Tensor, [usize; N]),
    /// Separate weights (quantized in different formats).
    Separate([Tensor; N]),
}

/// The query, key and value projections.
pub type Qkv = Stacked<3>;

impl<const N: usize> Stacked<N> {
    /// Stacks `w` where they are blocks of one format (rows are whole blocks, so the blocks
    /// of the stacked rows are the tensors' blocks in turn) or all unquantized (stacked as
    /// `f32`, exactly).
    fn new(device: &Device, w: [HostTensor; N]) -> Result<Stacked<N>> {
        let rows = std::array::from_fn(|i| w[i].shape.0[0]);
        let cols = w[0].shape.0[1];
        let total = rows.iter().sum::<usize>();
        let first = w[0].dtype;
        let one_format = w.iter().all(|h| h.dtype == first);
        let fused = if let (DType::Quant(f), true) = (first, one_format) {
            let mut blocks = Vec::new();
            for h in &w {
                blocks.extend(h.blocks()?);
            }
            Some(HostTensor::quantized(
                f,
                Shape::new(&[total, cols]),
                &blocks,
            )?)
        } else if w.iter().all(|h| !h.dtype.is_quantized()) {
            let v: Vec<f32> = w
                .iter()
                .flat_map(|h| h.to_f64())
                .map(|x| x as f32)
                .collect();
            Some(HostTensor::from_slice(&v, Shape::new(&[total, cols]))?)
        } else {
            None
        };
        Ok(match fused {
            Some(h) => Stacked::Fused(to_device(device, h)?, rows),
            None => Stacked::Separate(
                w.into_iter()
                    .map(|h| to_device(device, h))
                    .collect::<Result<Vec<_>>>()?
                    .try_into()
                    .map_err(|_| LlmError::Tensor {
                        name: "stacked projections".into(),
                        why: format!("{N} weights expected"),
                    })?,
            ),
        })
    }
}

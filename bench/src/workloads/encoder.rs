//! The encoder layer of the `transformer_layer` workloads, written as users write one with
//! kiln's Tensor API (its attention is the unfused pattern that fusion recognizes).

use super::Builder;
use kiln::{DType, Result, Tensor};

/// The encoder layer of `transformer_layer`: multi-head attention, two layer norms and a GELU
/// MLP, post-norm.
pub struct EncoderLayer {
    wq: Tensor,
    wk: Tensor,
    wv: Tensor,
    wo: Tensor,
    bq: Tensor,
    bk: Tensor,
    bv: Tensor,
    bo: Tensor,
    w1: Tensor,
    b1: Tensor,
    w2: Tensor,
    b2: Tensor,
    g1: Tensor,
    be1: Tensor,
    g2: Tensor,
    be2: Tensor,
    heads: usize,
}

impl EncoderLayer {
    pub(super) fn new(
        b: &mut Builder,
        d: usize,
        ff: usize,
        heads: usize,
        dtype: DType,
    ) -> Result<Self> {
        let s = 1.0 / (d as f64).sqrt();
        let sf = 1.0 / (ff as f64).sqrt();
        let gain = |b: &mut Builder| -> Result<Tensor> {
            let g = b.weight(&[d], 1.0)?.abs()?.add_scalar(0.5)?.cast(dtype)?;
            g.realize()?;
            Ok(g)
        };
        let weight = |b: &mut Builder, shape: &[usize], scale: f64| -> Result<Tensor> {
            let w = b.weight(shape, scale)?.cast(dtype)?;
            w.realize()?;
            Ok(w)
        };
        Ok(EncoderLayer {
            wq: weight(b, &[d, d], s)?,
            wk: weight(b, &[d, d], s)?,
            wv: weight(b, &[d, d], s)?,
            wo: weight(b, &[d, d], s)?,
            bq: weight(b, &[d], 0.02)?,
            bk: weight(b, &[d], 0.02)?,
            bv: weight(b, &[d], 0.02)?,
            bo: weight(b, &[d], 0.02)?,
            w1: weight(b, &[d, ff], s)?,
            b1: weight(b, &[ff], 0.02)?,
            w2: weight(b, &[ff, d], sf)?,
            b2: weight(b, &[d], 0.02)?,
            g1: gain(b)?,
            be1: weight(b, &[d], 0.1)?,
            g2: gain(b)?,
            be2: weight(b, &[d], 0.1)?,
            heads,
        })
    }

    /// The layer applied to `x` of shape `[batch, seq, d_model]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (bsz, seq, d) = (x.dims()[0], x.dims()[1], x.dims()[2]);
        let hd = d / self.heads;
        let split = |t: Tensor| -> Result<Tensor> {
            t.reshape(&[bsz, seq, self.heads, hd])?
                .permute(&[0, 2, 1, 3])
        };
        let q = split(x.matmul(&self.wq)?.add(&self.bq)?)?;
        let k = split(x.matmul(&self.wk)?.add(&self.bk)?)?;
        let v = split(x.matmul(&self.wv)?.add(&self.bv)?)?;
        let scores = q
            .matmul(&k.transpose(-1, -2)?)?
            .mul_scalar(1.0 / (hd as f64).sqrt())?;
        let attn = scores.softmax(-1)?.matmul(&v)?;
        let attn = attn.permute(&[0, 2, 1, 3])?.reshape(&[bsz, seq, d])?;
        let attn = attn.matmul(&self.wo)?.add(&self.bo)?;
        let x1 = x
            .add(&attn)?
            .layer_norm(Some(&self.g1), Some(&self.be1), 1e-5)?;
        let h = x1.matmul(&self.w1)?.add(&self.b1)?.gelu()?;
        let mlp = h.matmul(&self.w2)?.add(&self.b2)?;
        x1.add(&mlp)?
            .layer_norm(Some(&self.g2), Some(&self.be2), 1e-5)
    }
}

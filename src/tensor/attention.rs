//! Scaled dot-product attention as one fused op (`kiln_ir::ops::attention`).

use super::Tensor;
use crate::Result;
use kiln_ir::ops::Attention;
use kiln_ir::{DType, IrError, Op, Shape};

impl Tensor {
    /// `softmax(self @ k^T * scale + mask) @ v` over the last two dims, as one kernel that
    /// never stores the `sq x sk` scores (a flash-style kernel; a split one for few query
    /// rows over many keys).
    ///
    /// - `self` (the queries) is `[.., sq, d]`, `k` is `[.., sk, d]`, `v` is `[.., sk, dv]`,
    ///   all of one float dtype; batch dims broadcast, so grouped-query attention expands
    ///   its key and value heads.
    /// - `mask` broadcasts to `[.., sq, sk]`: added to the scores where it has this dtype,
    ///   or, where it is `bool`, `true` keeps a key and `false` leaves it out.
    /// - `scale` defaults to `1 / sqrt(d)`.
    /// - `causal` leaves out the keys past each query's position, the diagonal aligned to the
    ///   last key (`j <= i + sk - sq`; PyTorch's `is_causal` where `sq = sk`), so that a query
    ///   at the end of a KV cache sees the whole cache.
    ///
    /// A row that sees no key is NaN, as the unfused softmax gives.
    pub fn scaled_dot_product_attention(
        &self,
        k: &Tensor,
        v: &Tensor,
        mask: Option<&Tensor>,
        scale: Option<f64>,
        causal: bool,
    ) -> Result<Tensor> {
        let bad = |why: &str| {
            crate::Error::from(IrError::AttentionShape {
                q: self.shape().clone(),
                k: k.shape().clone(),
                v: v.shape().clone(),
                why: why.into(),
            })
        };
        let r = self.rank();
        if r < 2 || k.rank() != r || v.rank() != r {
            return Err(bad("q, k and v must have one rank, at least 2"));
        }
        let (q, kk, vv) = (self.dims(), k.dims(), v.dims());
        let (sq, d, sk, dv) = (q[r - 2], q[r - 1], kk[r - 2], vv[r - 1]);
        let batch = Shape::new(&q[..r - 2]);
        let batch = Shape::broadcast("attention", &batch, &Shape::new(&kk[..r - 2]))?;
        let batch = Shape::broadcast("attention", &batch, &Shape::new(&vv[..r - 2]))?;
        let full = |rows: usize, cols: usize| {
            let mut s = batch.dims().to_vec();
            s.extend([rows, cols]);
            s
        };
        let qb = self.broadcast_to(&full(sq, d))?;
        let kb = k.broadcast_to(&full(sk, kk[r - 1]))?;
        let vb = v.broadcast_to(&full(vv[r - 2], dv))?;
        let scale = scale.unwrap_or(1.0 / (d.max(1) as f64).sqrt());
        let att = Op::Attention(Attention::new(scale, causal));
        let Some(mask) = mask else {
            return Tensor::op(att, &[&qb, &kb, &vb]);
        };
        let mask = if mask.dtype() == DType::Bool {
            let zero = self.scalar_like(0.0)?;
            let ninf = self.scalar_like(f64::NEG_INFINITY)?;
            Tensor::where_(mask, &zero, &ninf)?
        } else {
            mask.clone()
        };
        let mb = mask.broadcast_to(&full(sq, sk))?;
        Tensor::op(att, &[&qb, &kb, &vb, &mb])
    }
}

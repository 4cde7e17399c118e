//! Fused scaled dot-product attention: `softmax(q @ k^T * scale + mask [causal]) @ v` as one op,
//! so that the `sq x sk` matrix of scores is never stored. The API records it directly
//! (`Tensor::scaled_dot_product_attention`), and the pass `passes::FuseAttention` finds the
//! unfused pattern in any graph.
//!
//! Operands: `q [B.., sq, d]`, `k [B.., sk, d]`, `v [B.., sk, dv]` and, optionally, an additive
//! `mask [B.., sq, sk]`, all of one float dtype with equal batch dims `B..` (broadcasts are
//! views, as everywhere in the IR).
//!
//! Semantics, for each batch and query row `i`:
//! - the score of key `j` is `s_j = (q_i . k_j) * scale + mask_ij`; with `causal`, keys
//!   `j > i + sk - sq` are left out (`-inf`): the causal diagonal is aligned to the last key,
//!   so that a query at the end of a KV cache sees the whole cache (the same as PyTorch's
//!   `is_causal` when `sq = sk`);
//! - `m = max_j s_j`, `p_j = exp(s_j - m)`, `l = sum_j p_j`, `acc = sum_j p_j v_j`;
//! - the output is `acc / l`, rounded to the dtype. A row whose every key is left out (or
//!   masked with `-inf`) is NaN, as the unfused softmax gives.
//!
//! With `splits = S > 1` the op is one part of a split attention (the decode form, `passes::
//! SplitAttention`): keys are cut into `S` runs of `ceil(sk / S)`, and the output
//! `[B.., sq, dv, 3, S]` holds, for each output column and run, `acc` (over that run,
//! relative to that run's `m`), `m` and `l`, in f32, the runs innermost (so that the combine,
//! ordinary ops that rescale the runs by `exp(m_s - max m)`, is one row kernel). A run with no
//! visible key holds `0`, `-inf`, `0`.

use super::TensorType;
use crate::dtype::round_float;
use crate::host::{HostData, HostTensor};
use crate::{DType, IrError, Result, Scalar};

/// The parameters of an attention op.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Attention {
    /// The factor on `q . k` (a float scalar).
    pub scale: Scalar,
    /// Leave out keys past the query's position (the diagonal aligned to the last key).
    pub causal: bool,
    /// 1: the normalized output. `S > 1`: one part of a split attention (see the module).
    pub splits: u32,
    /// The unfused pattern `passes::FuseAttention` recognized in its place, if it did
    /// (shown by `explain()`); `None` where the API recorded the op.
    pub pattern: Option<&'static str>,
}

impl Attention {
    /// The full (unsplit) op.
    pub fn new(scale: f64, causal: bool) -> Self {
        Attention {
            scale: Scalar::F(scale),
            causal,
            splits: 1,
            pattern: None,
        }
    }

    /// A short name for plans and messages.
    pub fn name(&self) -> String {
        let mut s = String::from("attention");
        if self.causal {
            s.push_str("[causal]");
        }
        if self.splits > 1 {
            s.push_str(&format!("[split {}]", self.splits));
        }
        if let Some(p) = self.pattern {
            s.push_str(&format!(" (recognized: {p})"));
        }
        s
    }

    /// Keys per run of a split attention over `sk` keys (all of them when unsplit).
    pub fn run_len(&self, sk: usize) -> usize {
        sk.div_ceil(self.splits.max(1) as usize)
    }

    /// Whether query `i` of `sq` may see key `j` of `sk` under the causal rule.
    pub fn visible(&self, i: usize, j: usize, sq: usize, sk: usize) -> bool {
        !self.causal || (j as i64) <= i as i64 + sk as i64 - sq as i64
    }

    /// The result type of the op over `srcs` (q, k, v and an optional mask).
    pub fn infer(&self, srcs: &[&TensorType]) -> Result<TensorType> {
        if srcs.len() != 3 && srcs.len() != 4 {
            return Err(IrError::Arity {
                op: "attention",
                expected: 3,
                got: srcs.len(),
            });
        }
        let (q, k, v) = (srcs[0], srcs[1], srcs[2]);
        let bad = |why: String| IrError::AttentionShape {
            q: q.shape.clone(),
            k: k.shape.clone(),
            v: v.shape.clone(),
            why,
        };
        for t in srcs {
            if t.dtype != q.dtype {
                return Err(IrError::DTypeMismatch {
                    op: "attention",
                    lhs: q.dtype,
                    rhs: t.dtype,
                });
            }
        }
        if !q.dtype.is_float() {
            return Err(IrError::UnsupportedDType {
                op: "attention",
                dtype: q.dtype,
                why: "float dtypes only",
            });
        }
        if !matches!(self.scale, Scalar::F(_)) {
            return Err(bad("the scale must be a float".into()));
        }
        if self.splits == 0 {
            return Err(bad("a split attention has at least one run".into()));
        }
        let r = q.shape.rank();
        if r < 2 || k.shape.rank() != r || v.shape.rank() != r {
            return Err(bad("q, k and v must have one rank, at least 2".into()));
        }
        let d = q.shape.0[r - 1];
        let (sk, dk) = (k.shape.0[r - 2], k.shape.0[r - 1]);
        let (skv, dv) = (v.shape.0[r - 2], v.shape.0[r - 1]);
        let batch = &q.shape.0[..r - 2];
        if k.shape.0[..r - 2] != *batch || v.shape.0[..r - 2] != *batch {
            return Err(bad(
                "q, k and v must have equal batch dims (expand them)".into()
            ));
        }
        if dk != d {
            return Err(bad(format!("q's head size {d} is not k's {dk}")));
        }
        if skv != sk {
            return Err(bad(format!("k has {sk} keys and v {skv}")));
        }
        if let Some(m) = srcs.get(3) {
            let mut want = q.shape.clone();
            want.0[r - 1] = sk;
            if m.shape != want {
                return Err(bad(format!(
                    "the mask is {}, not {want} (expand it)",
                    m.shape
                )));
            }
        }
        let mut out = q.shape.clone();
        out.0[r - 1] = dv;
        if self.splits == 1 {
            Ok(TensorType::new(q.dtype, out))
        } else {
            out.0.push(3);
            out.0.push(self.splits as usize);
            Ok(TensorType::new(DType::F32, out))
        }
    }

    /// The reference result (the interpreter's), from contiguous operands; sums in f64.
    pub fn eval(&self, srcs: &[&HostTensor], ty: &TensorType) -> Result<HostTensor> {
        let f = |t: &HostTensor| -> Result<Vec<f64>> {
            match &t.data {
                HostData::F(v) => Ok(v.iter().map(|&x| x as f64).collect()),
                _ => Err(IrError::Verify("attention of a non-float tensor".into())),
            }
        };
        let (q, k, v) = (f(srcs[0])?, f(srcs[1])?, f(srcs[2])?);
        let mask = srcs.get(3).map(|m| f(m)).transpose()?;
        let r = srcs[0].shape.rank();
        let (sq, d) = (srcs[0].shape.0[r - 2], srcs[0].shape.0[r - 1]);
        let (sk, dv) = (srcs[1].shape.0[r - 2], srcs[2].shape.0[r - 1]);
        let batch: usize = srcs[0].shape.0[..r - 2].iter().product();
        let scale = self.scale.as_f64();
        let runs = self.splits.max(1) as usize;
        let run = self.run_len(sk);
        let mut out = vec![0f32; batch * sq * dv * if runs == 1 { 1 } else { 3 * runs }];
        let mut scores = vec![f64::NEG_INFINITY; sk];
        let mut acc = vec![0f64; dv];
        for b in 0..batch {
            for i in 0..sq {
                let qi = &q[(b * sq + i) * d..][..d];
                for (j, s) in scores.iter_mut().enumerate() {
                    *s = if self.visible(i, j, sq, sk) {
                        let kj = &k[(b * sk + j) * d..][..d];
                        let dot: f64 = qi.iter().zip(kj).map(|(a, c)| a * c).sum();
                        dot * scale + mask.as_ref().map_or(0.0, |m| m[(b * sq + i) * sk + j])
                    } else {
                        f64::NEG_INFINITY
                    };
                }
                for s in 0..runs {
                    let keys = (s * run).min(sk)..((s + 1) * run).min(sk);
                    let m = scores[keys.clone()]
                        .iter()
                        .fold(
                            f64::NEG_INFINITY,
                            |a, &x| if x > a || x.is_nan() { x } else { a },
                        );
                    let mut l = 0f64;
                    acc.iter_mut().for_each(|a| *a = 0.0);
                    for j in keys {
                        // A run with no visible key adds nothing (its `m` is -inf).
                        let p = if m == f64::NEG_INFINITY {
                            0.0
                        } else {
                            (scores[j] - m).exp()
                        };
                        l += p;
                        let vj = &v[(b * sk + j) * dv..][..dv];
                        acc.iter_mut().zip(vj).for_each(|(a, x)| *a += p * x);
                    }
                    let row = (b * sq + i) * dv;
                    for (c, a) in acc.iter().enumerate() {
                        if runs == 1 {
                            out[row + c] = round_float((a / l) as f32, ty.dtype);
                        } else {
                            let at = (row + c) * 3 * runs + s;
                            out[at] = *a as f32;
                            out[at + runs] = m as f32;
                            out[at + 2 * runs] = l as f32;
                        }
                    }
                }
            }
        }
        Ok(HostTensor {
            dtype: ty.dtype,
            shape: ty.shape.clone(),
            data: HostData::F(out),
        })
    }
}

//! Splitting a decode-shaped attention over its keys, and writing one the kernel cannot hold
//! as the unfused composition.

use super::super::{const_like, rewrite, Pass};
use crate::ops::{Attention, BinaryOp, ReduceOp, SliceDim, UnaryOp, ViewOp};
use crate::{DType, Graph, NodeId, Op, Result, Shape};
use smallvec::SmallVec;

/// Splits the keys of an attention with few query rows and many keys (decoding against a
/// KV cache) into runs, one workgroup each, and combines the runs with ordinary ops:
///
/// `attention(q, k, v)` → `parts = attention[split S](q, k, v)` (`[.., sq, dv, 3, S]`:
/// each run's `acc`, `m`, `l` per output column), then `w = exp(m - max_s m)` and
/// `sum_s(acc * w / sum_s(l * w))`, in f32, cast to the dtype: one row kernel.
///
/// `S` brings the workgroups (one per batch and block of up to 16 query rows, per run) to
/// about [`SPLIT_ATTENTION_TARGET`], with runs of at least [`SPLIT_ATTENTION_MIN_RUN`] keys
/// ([`SPLIT_DECODE_TARGET`] and [`SPLIT_DECODE_MIN_RUN`] for one query row a batch, a
/// decode step); an attention with
/// that many workgroups already, or with fewer than twice the shortest run's keys, is left
/// whole. So is one of a single query row whose keys a workgroup of the decode form
/// spreads over its segments ([`SplitAttention::whole_decode_keys`]). Runs are also cut
/// short enough that
/// one invocation's loops stay within `max_trips` ([`attention_trips`]; the adapter's loop
/// budget), whatever the workgroups. An attention whose head passes `max_head` (at most
/// [`ATTENTION_MAX_HEAD`]) becomes the unfused composition (matmul, scale, mask, softmax, matmul): the graph is
/// split, never rejected.
pub struct SplitAttention {
    /// Loop trips one attention invocation may run (`None`: no limit).
    pub max_trips: Option<usize>,
    /// The largest head the kernel holds ([`ATTENTION_MAX_HEAD`], or less where the
    /// adapter's workgroup memory is small).
    pub max_head: usize,
    /// The most keys of a one-row attention left whole (0: none): the decode form's
    /// workgroup splits them over its segments of up to [`DECODE_SEGMENT_KEYS`] keys and
    /// combines the segments in workgroup memory, which saves the combine kernel and its
    /// launch. Heads over [`DECODE_MAX_HEAD`] and keys past the loop budget still split.
    pub whole_decode_keys: usize,
}

/// Keys one segment of a whole one-row attention's workgroup takes at most (code
/// generation's `attention_decode`): as many as a run of a split one
/// ([`SPLIT_DECODE_MIN_RUN`]), so that the segments' chains of loads are as short as the
/// runs' were.
pub const DECODE_SEGMENT_KEYS: usize = SPLIT_DECODE_MIN_RUN;

/// The largest head (`d`, `dv`) of the decode form (code generation's
/// `attention_decode::DECODE_MAX_HEAD`); a larger one-row attention takes the block form,
/// which has no segments.
pub const DECODE_MAX_HEAD: usize = 256;

/// At most how many loop trips one invocation of an attention kernel runs over `keys` keys
/// of head sizes `d` and `dv`: the contract code generation's template keeps (64 invocations
/// a workgroup, at most 16 query rows, tiles of at least 4 keys, heads padded to
/// `h = max(d, dv)` rounded up to 16 and read as vectors of 4): the query block's staging
/// (`16 h / 4 / 64`), then per key its share of fetching and storing the K and V tiles
/// (`2 h / 4 / 64`, plus half a trip of rounding), of the scores (a trip of the dot
/// products' loop over `h / 4` per 4 keys, at most `h / 16` per key, plus one), and one trip
/// each in the row maximum, the exponentials and the accumulation; keys counted in whole
/// tiles of the largest size (64).
pub fn attention_trips(keys: usize, d: usize, dv: usize) -> usize {
    let h = d.max(dv).max(1).next_multiple_of(16);
    let per_key = h / 16 + h.div_ceil(128) + 6;
    h / 4 + keys.next_multiple_of(64) * per_key + 64
}

/// The largest head (`d`, `dv`) an attention kernel holds in workgroup memory (code
/// generation's `attention::MAX_HEAD`); [`SplitAttention`] writes an attention with a larger
/// one as the unfused composition.
pub const ATTENTION_MAX_HEAD: usize = 512;

/// Workgroups a split attention aims at (several per compute unit of a large GPU).
pub const SPLIT_ATTENTION_TARGET: usize = 1024;
/// Workgroups a split attention of one query row a batch (a decode step) aims at: its
/// workgroups are small (64 invocations, one row), so more of them fit a compute unit. Over
/// 4096 cached keys of 96 heads (attention_decode), 2048 (22 runs) took 0.095-0.096 to
/// 0.093 ms against 1024, and 4096 (43 runs) 0.096, its combine's longer rows eating the gain
/// (H100; journal 2026-12-06-decode-reads.md).
pub const SPLIT_DECODE_TARGET: usize = 2048;
/// The fewest keys of a run where a batch has several query rows (not measured against
/// others).
pub const SPLIT_ATTENTION_MIN_RUN: usize = 64;
/// The fewest keys of a run for one query row a batch (a decode step). Its attention is
/// short of workgroups, not of bandwidth: against 64, runs of 32 took 3% off a
/// Llama-1B-shaped decode step's GPU time and 1% off an 8B's (H100, 512 cached positions);
/// 16 gained less (journal 2026-12-06-bind-groups.md).
pub const SPLIT_DECODE_MIN_RUN: usize = 32;

impl SplitAttention {
    /// The runs for an attention over `batch` batches of `sq` rows, `sk` keys and heads of
    /// `d` and `dv` (1: whole).
    pub fn runs(&self, batch: usize, sq: usize, sk: usize, d: usize, dv: usize) -> usize {
        let by_loop = match self.max_trips {
            Some(max) => {
                let mut runs = 1;
                while runs < sk && attention_trips(sk.div_ceil(runs), d, dv) > max {
                    runs += 1;
                }
                runs
            }
            None => 1,
        };
        if sq == 1 && d.max(dv) <= DECODE_MAX_HEAD && sk <= self.whole_decode_keys && by_loop == 1 {
            return 1;
        }
        let groups = batch * sq.div_ceil(16);
        let (min_run, target) = if sq == 1 {
            (SPLIT_DECODE_MIN_RUN, SPLIT_DECODE_TARGET)
        } else {
            (SPLIT_ATTENTION_MIN_RUN, SPLIT_ATTENTION_TARGET)
        };
        let by_groups = if groups >= target {
            1
        } else {
            target.div_ceil(groups.max(1)).min(sk / min_run).max(1)
        };
        by_groups.max(by_loop)
    }
}

impl Pass for SplitAttention {
    fn name(&self) -> &'static str {
        "split-attention"
    }

    fn run(&self, g: &Graph) -> Result<Graph> {
        rewrite(g, |ng, node, srcs| {
            let Op::Attention(att) = node.op else {
                return Ok(None);
            };
            if att.splits != 1 {
                return Ok(None);
            }
            let qs = ng.node(srcs[0]).shape().clone();
            let r = qs.rank();
            let (sq, d) = (qs.0[r - 2], qs.0[r - 1]);
            let sk = ng.node(srcs[1]).shape().0[r - 2];
            let dv = ng.node(srcs[2]).shape().0[r - 1];
            if d.max(dv) > self.max_head {
                return unfused(ng, att, srcs).map(Some);
            }
            let batch: usize = qs.0[..r - 2].iter().product();
            let runs = self.runs(batch, sq, sk, d, dv);
            if runs < 2 {
                return Ok(None);
            }
            let split = Attention {
                splits: u32::try_from(runs).unwrap_or(u32::MAX),
                ..att
            };
            let parts = ng.add(Op::Attention(split), srcs)?;
            combine(ng, parts, node.dtype()).map(Some)
        })
    }
}

/// `att` over `srcs` as the composition it fuses: `softmax(q @ k^T * scale + mask
/// [causal]) @ v`, in the operands' dtype.
fn unfused(ng: &mut Graph, att: Attention, srcs: &[NodeId]) -> Result<NodeId> {
    let (q, k, v) = (srcs[0], srcs[1], srcs[2]);
    let qs = ng.node(q).shape().clone();
    let r = qs.rank();
    let (sq, sk) = (qs.0[r - 2], ng.node(k).shape().0[r - 2]);
    let mut scores_shape = qs.clone();
    scores_shape.0[r - 1] = sk;
    let mut perm: SmallVec<[usize; crate::MAX_RANK]> = (0..r).collect();
    perm.swap(r - 2, r - 1);
    let kt = ng.add(Op::View(ViewOp::Permute(perm)), &[k])?;
    let s = ng.add(Op::Matmul, &[q, kt])?;
    let ty = ng.node(s).ty.clone();
    let scale = const_like(ng, &ty, att.scale)?;
    let mut s = ng.add(Op::Binary(BinaryOp::Mul), &[s, scale])?;
    if let Some(&m) = srcs.get(3) {
        s = ng.add(Op::Binary(BinaryOp::Add), &[s, m])?;
    }
    if att.causal {
        // Key j is seen by row i where j <= i + sk - sq.
        let iota = |ng: &mut Graph, n: usize, dims: [usize; 2]| -> Result<NodeId> {
            let a = ng.add_leaf(
                Op::Arange {
                    start: crate::Scalar::I(0),
                    step: crate::Scalar::I(1),
                },
                crate::TensorType::new(DType::I32, Shape::new(&[n])),
            )?;
            let a = ng.add(Op::View(ViewOp::Reshape(Shape::new(&dims))), &[a])?;
            let mut lead = vec![1; r - 2];
            lead.extend(dims);
            let a = ng.add(Op::View(ViewOp::Reshape(Shape::new(&lead))), &[a])?;
            ng.add(Op::View(ViewOp::Expand(scores_shape.clone())), &[a])
        };
        let i = iota(ng, sq, [sq, 1])?;
        let j = iota(ng, sk, [1, sk])?;
        let i_ty = ng.node(i).ty.clone();
        let shift = const_like(ng, &i_ty, crate::Scalar::I(sk as i64 - sq as i64))?;
        let last = ng.add(Op::Binary(BinaryOp::Add), &[i, shift])?;
        let seen = ng.add(Op::Binary(BinaryOp::Le), &[j, last])?;
        let ninf = const_like(ng, &ty, crate::Scalar::F(f64::NEG_INFINITY))?;
        s = ng.add(Op::Where, &[seen, s, ninf])?;
    }
    let last: crate::Axes = [r - 1].into_iter().collect();
    let reduce = |ng: &mut Graph, op, x| -> Result<NodeId> {
        let t = ng.add(
            Op::Reduce {
                op,
                axes: last.clone(),
                keepdim: true,
            },
            &[x],
        )?;
        ng.add(Op::View(ViewOp::Expand(scores_shape.clone())), &[t])
    };
    let m = reduce(ng, ReduceOp::Max, s)?;
    let z = ng.add(Op::Binary(BinaryOp::Sub), &[s, m])?;
    let e = ng.add(Op::Unary(UnaryOp::Exp), &[z])?;
    let sum = reduce(ng, ReduceOp::Sum, e)?;
    let p = ng.add(Op::Binary(BinaryOp::Div), &[e, sum])?;
    ng.add(Op::Matmul, &[p, v])
}

/// The combine of a split attention's `parts` (`[.., sq, dv, 3, S]`, f32) into the output
/// of `dtype`: per output element, a row of `S` runs reduced with the maximum broadcast back,
/// which the lowering makes one row kernel.
fn combine(ng: &mut Graph, parts: NodeId, dtype: DType) -> Result<NodeId> {
    let ps = ng.node(parts).shape().clone();
    let r = ps.rank();
    let runs = ps.0[r - 1];
    let mut rows = ps.0[..r - 2].to_vec();
    rows.push(runs);
    let rows = Shape::new(&rows);
    // Field `f` (0: acc, 1: m, 2: l) of every run, as `[.., sq, dv, S]`.
    let field = |ng: &mut Graph, f: usize| {
        let mut dims: SmallVec<[SliceDim; crate::MAX_RANK]> =
            ps.0.iter()
                .map(|&d| SliceDim {
                    start: 0,
                    end: d,
                    step: 1,
                })
                .collect();
        dims[r - 2] = SliceDim {
            start: f,
            end: f + 1,
            step: 1,
        };
        let x = ng.add(Op::View(ViewOp::Slice(dims)), &[parts])?;
        ng.add(Op::View(ViewOp::Reshape(rows.clone())), &[x])
    };
    let acc = field(ng, 0)?;
    let m = field(ng, 1)?;
    let l = field(ng, 2)?;
    let over_runs = |op, keepdim| Op::Reduce {
        op,
        axes: [r - 2].into_iter().collect(),
        keepdim,
    };
    let top = ng.add(over_runs(ReduceOp::Max, true), &[m])?;
    let top = ng.add(Op::View(ViewOp::Expand(rows.clone())), &[top])?;
    let shift = ng.add(Op::Binary(BinaryOp::Sub), &[m, top])?;
    let weight = ng.add(Op::Unary(UnaryOp::Exp), &[shift])?;
    // The sum of weights broadcast back, then the weighted sum over it: every reduction is
    // over the innermost axis and read through a row broadcast, so all three are stages of
    // one row kernel.
    let den = ng.add(Op::Binary(BinaryOp::Mul), &[l, weight])?;
    let den = ng.add(over_runs(ReduceOp::Sum, true), &[den])?;
    let den = ng.add(Op::View(ViewOp::Expand(rows.clone())), &[den])?;
    let share = ng.add(Op::Binary(BinaryOp::Div), &[weight, den])?;
    let out = ng.add(Op::Binary(BinaryOp::Mul), &[acc, share])?;
    let out = ng.add(over_runs(ReduceOp::Sum, false), &[out])?;
    if dtype == DType::F32 {
        Ok(out)
    } else {
        ng.add(Op::Cast(dtype), &[out])
    }
}

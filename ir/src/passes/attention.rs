//! Attention passes: recognizing the unfused pattern ([`FuseAttention`]) and splitting the
//! keys of a decode-shaped attention over many workgroups ([`SplitAttention`]).

use super::{broadcast_const, rewrite, rewrite_ids, Pass};
use crate::ops::{Attention, BinaryOp, ReduceOp, SliceDim, UnaryOp, ViewOp};
use crate::{DType, Graph, NodeId, Op, Result, Shape};
use hashbrown::{HashMap, HashSet};
use smallvec::SmallVec;

/// The pattern [`FuseAttention`] recognizes, as `explain()` names it.
pub const PATTERN: &str = "matmul -> scale -> add mask -> softmax -> matmul";

/// Rewrites `softmax(q @ kt * c + mask, -1) @ v` into one [`Op::Attention`] over `q`,
/// `kt` transposed back (a view), `v` and the mask, wherever it appears:
///
/// - the scale is a constant multiplied on either side, a division by a constant, or absent;
/// - the mask, added on either side, is optional;
/// - the softmax is the one `Tensor::softmax` records: `e = exp(x - max(x))`,
///   `e / sum(e)`, over the last axis, the reductions kept as size 1 and broadcast back;
/// - every value inside the pattern is read only by the pattern and is no graph output (a
///   score matrix someone reads must still be computed), and all of it has one float dtype.
///
/// The fused op computes in f32 and rounds once, so a narrow float's result is at least as
/// accurate as the unfused graph's (within the attention tolerance of docs/OPS.md).
pub struct FuseAttention;

/// What was found under a final matmul: the operands of the fused op.
struct Found {
    q: NodeId,
    kt: NodeId,
    v: NodeId,
    mask: Option<NodeId>,
    scale: f64,
}

impl Pass for FuseAttention {
    fn name(&self) -> &'static str {
        "fuse-attention"
    }

    fn run(&self, g: &Graph) -> Result<Graph> {
        let found: HashMap<NodeId, Found> = g
            .topo()
            .into_iter()
            .filter_map(|n| recognize(g, n).map(|f| (n, f)))
            .collect();
        rewrite_ids(g, |ng, old, _, _, map| {
            let Some(f) = found.get(&old) else {
                return Ok(None);
            };
            let kt = map[&f.kt];
            let r = ng.node(kt).shape().rank();
            let mut perm: SmallVec<[usize; crate::MAX_RANK]> = (0..r).collect();
            perm.swap(r - 2, r - 1);
            let k = ng.add(Op::View(ViewOp::Permute(perm)), &[kt])?;
            let mut srcs = vec![map[&f.q], k, map[&f.v]];
            srcs.extend(f.mask.map(|m| map[&m]));
            let mut att = Attention::new(f.scale, false);
            att.pattern = Some(PATTERN);
            ng.add(Op::Attention(att), &srcs).map(Some)
        })
    }
}

/// The node under a chain of `Expand` views and `Reshape`s that only add or drop leading
/// 1s (how a kept reduction is broadcast back over its row), or `None` where another view
/// is in the chain (a reshape that moves the kept axis would broadcast across rows).
fn under_broadcast(g: &Graph, mut n: NodeId) -> Option<NodeId> {
    let core = |s: &Shape| -> Vec<usize> {
        let first = s.0.iter().position(|&d| d != 1).unwrap_or(s.0.len());
        s.0[first..].to_vec()
    };
    loop {
        match &g.node(n).op {
            Op::View(ViewOp::Expand(_)) => n = g.srcs(n)[0],
            Op::View(ViewOp::Reshape(to)) => {
                let src = g.srcs(n)[0];
                if core(to) != core(g.node(src).shape()) {
                    return None;
                }
                n = src;
            }
            Op::View(_) => return None,
            _ => return Some(n),
        }
    }
}

/// Whether every reader of `n` (seen through views) is in `allowed`, and `n` is no output.
fn read_only_by(g: &Graph, n: NodeId, allowed: &[NodeId]) -> bool {
    let mut stack = vec![n];
    let mut seen = HashSet::new();
    while let Some(x) = stack.pop() {
        if g.outputs().contains(&x) {
            return false;
        }
        if !seen.insert(x) {
            continue;
        }
        for u in g.users(x) {
            if matches!(g.node(u).op, Op::View(_)) {
                stack.push(u);
            } else if !allowed.contains(&u) {
                return false;
            }
        }
    }
    true
}

/// A reduction `op` of `x` over its last axis, kept as size 1, under broadcast views.
fn last_axis_reduce(g: &Graph, n: NodeId, op: ReduceOp, x: NodeId) -> Option<NodeId> {
    if g.node(n).shape() != g.node(x).shape() {
        return None;
    }
    let base = under_broadcast(g, n)?;
    let r = g.node(x).shape().rank();
    match &g.node(base).op {
        Op::Reduce {
            op: o,
            axes,
            keepdim: true,
        } if *o == op && axes.as_slice() == [r - 1] && g.srcs(base)[0] == x => Some(base),
        _ => None,
    }
}

/// The binary op `op` at `n`, with its operands.
fn binary(g: &Graph, n: NodeId, op: BinaryOp) -> Option<(NodeId, NodeId)> {
    match g.node(n).op {
        Op::Binary(o) if o == op => {
            let s = g.srcs(n);
            Some((s[0], s[1]))
        }
        _ => None,
    }
}

/// The pattern under final matmul `n`, if it is one.
fn recognize(g: &Graph, n: NodeId) -> Option<Found> {
    if g.node(n).op != Op::Matmul {
        return None;
    }
    let (p, v) = (g.srcs(n)[0], g.srcs(n)[1]);
    // p = e / sum(e), e = exp(z), z = x - max(x)
    let (e, sb) = binary(g, p, BinaryOp::Div)?;
    let sum = last_axis_reduce(g, sb, ReduceOp::Sum, e)?;
    let z = match g.node(e).op {
        Op::Unary(UnaryOp::Exp) => g.srcs(e)[0],
        _ => return None,
    };
    let (x, mb) = binary(g, z, BinaryOp::Sub)?;
    let max = last_axis_reduce(g, mb, ReduceOp::Max, x)?;
    // x = scaled (+ mask)
    let scaled_of = |s: NodeId| -> Option<(NodeId, f64)> {
        if g.node(s).op == Op::Matmul {
            return Some((s, 1.0));
        }
        if let Some((a, b)) = binary(g, s, BinaryOp::Mul) {
            for (m, c) in [(a, b), (b, a)] {
                if let (Op::Matmul, Some(c)) = (&g.node(m).op, broadcast_const(g, c)) {
                    return Some((m, c.as_f64()));
                }
            }
        }
        let (m, c) = binary(g, s, BinaryOp::Div)?;
        match (&g.node(m).op, broadcast_const(g, c)) {
            (Op::Matmul, Some(c)) => Some((m, 1.0 / c.as_f64())),
            _ => None,
        }
    };
    let (scaled, mask, scores, scale) = match scaled_of(x) {
        Some((m, c)) => (x, None, m, c),
        None => {
            let (a, b) = binary(g, x, BinaryOp::Add)?;
            [(a, b), (b, a)]
                .into_iter()
                .find_map(|(s, mask)| scaled_of(s).map(|(m, c)| (s, Some(mask), m, c)))?
        }
    };
    let (q, kt) = (g.srcs(scores)[0], g.srcs(scores)[1]);
    let dtype = g.node(n).dtype();
    let ok = dtype.is_float()
        && [q, kt, v, x, p].iter().all(|&t| g.node(t).dtype() == dtype)
        && mask.is_none_or(|m| g.node(m).dtype() == dtype)
        && g.node(q).shape().rank() >= 2
        && scale.is_finite()
        && read_only_by(g, scores, &[scaled, x, z, max])
        && (scaled == scores || read_only_by(g, scaled, &[x, z, max]))
        && (x == scaled || read_only_by(g, x, &[z, max]))
        && read_only_by(g, max, &[z])
        && read_only_by(g, z, &[e])
        && read_only_by(g, e, &[p, sum])
        && read_only_by(g, sum, &[p])
        && read_only_by(g, p, &[n]);
    ok.then_some(Found {
        q,
        kt,
        v,
        mask,
        scale,
    })
}

/// Splits the keys of an attention with few query rows and many keys (decoding against a
/// KV cache) into runs, one workgroup each, and combines the runs with ordinary ops:
///
/// `attention(q, k, v)` → `parts = attention[split S](q, k, v)` (`[.., sq, dv, 3, S]`:
/// each run's `acc`, `m`, `l` per output column), then `w = exp(m - max_s m)` and
/// `sum_s(acc * w / sum_s(l * w))`, in f32, cast to the dtype: one row kernel.
///
/// `S` brings the workgroups (one per batch and block of up to 16 query rows, per run) to
/// about [`SPLIT_ATTENTION_TARGET`], with runs of at least [`SPLIT_ATTENTION_MIN_RUN`] keys;
/// an attention with that many workgroups already, or with fewer than
/// `2 * SPLIT_ATTENTION_MIN_RUN` keys, is left whole. Runs are also cut short enough that
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
}

/// At most how many loop trips one invocation of an attention kernel runs over `keys` keys
/// of head sizes `d` and `dv`: the contract code generation's template keeps (64 invocations
/// a workgroup, at most 16 query rows, tiles of at least 4 keys): the query block's staging
/// (`16 d / 64`), then per key its share of the K and V staging (`(d + dv) / 64`, plus half a
/// trip of rounding), of the scores (`16 d / 64`, plus a trip of the loop over them), and one
/// trip each in the row maximum, the exponentials and the accumulation; keys counted in
/// whole tiles of the largest size (64).
pub fn attention_trips(keys: usize, d: usize, dv: usize) -> usize {
    let per_key = d.div_ceil(4) + (d + dv).div_ceil(64) + 5;
    d.div_ceil(4) + keys.next_multiple_of(64) * per_key + 64
}

/// The largest head (`d`, `dv`) an attention kernel holds in workgroup memory (code
/// generation's `attention::MAX_HEAD`); [`SplitAttention`] writes an attention with a larger
/// one as the unfused composition.
pub const ATTENTION_MAX_HEAD: usize = 512;

/// Workgroups a split attention aims at (several per compute unit of a large GPU).
pub const SPLIT_ATTENTION_TARGET: usize = 1024;
/// The fewest keys of a run.
pub const SPLIT_ATTENTION_MIN_RUN: usize = 64;

impl SplitAttention {
    /// The runs for an attention over `batch` batches of `sq` rows, `sk` keys and heads of
    /// `d` and `dv` (1: whole).
    pub fn runs(&self, batch: usize, sq: usize, sk: usize, d: usize, dv: usize) -> usize {
        let groups = batch * sq.div_ceil(16);
        let by_groups = if groups >= SPLIT_ATTENTION_TARGET {
            1
        } else {
            SPLIT_ATTENTION_TARGET
                .div_ceil(groups.max(1))
                .min(sk / SPLIT_ATTENTION_MIN_RUN)
                .max(1)
        };
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
    let scale = super::const_like(ng, &ty, att.scale)?;
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
        let shift = super::const_like(ng, &i_ty, crate::Scalar::I(sk as i64 - sq as i64))?;
        let last = ng.add(Op::Binary(BinaryOp::Add), &[i, shift])?;
        let seen = ng.add(Op::Binary(BinaryOp::Le), &[j, last])?;
        let ninf = super::const_like(ng, &ty, crate::Scalar::F(f64::NEG_INFINITY))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::HostTensor;
    use crate::interp::evaluate;

    /// `softmax(q @ kt * c + mask) @ v` over inputs `[2, sq, d]`, `[2, d, sk]`, `[2, sk, dv]`
    /// and `[2, sq, sk]`.
    fn pattern(sq: usize, sk: usize, d: usize, masked: bool) -> (Graph, NodeId) {
        let mut g = Graph::new();
        let f = DType::F32;
        let q = g.input(f, Shape::new(&[2, sq, d])).unwrap();
        let kt = g.input(f, Shape::new(&[2, d, sk])).unwrap();
        let v = g.input(f, Shape::new(&[2, sk, 5])).unwrap();
        let s = g.add(Op::Matmul, &[q, kt]).unwrap();
        let ty = g.node(s).ty.clone();
        let c = super::super::const_like(&mut g, &ty, crate::Scalar::F(0.5)).unwrap();
        let mut x = g.add(Op::Binary(BinaryOp::Mul), &[c, s]).unwrap();
        if masked {
            let m = g.input(f, Shape::new(&[2, sq, sk])).unwrap();
            x = g.add(Op::Binary(BinaryOp::Add), &[m, x]).unwrap();
        }
        let red = |g: &mut Graph, op, x| {
            let r = g
                .add(
                    Op::Reduce {
                        op,
                        axes: [2].into_iter().collect(),
                        keepdim: true,
                    },
                    &[x],
                )
                .unwrap();
            g.add(Op::View(ViewOp::Expand(Shape::new(&[2, sq, sk]))), &[r])
                .unwrap()
        };
        let mx = red(&mut g, ReduceOp::Max, x);
        let z = g.add(Op::Binary(BinaryOp::Sub), &[x, mx]).unwrap();
        let e = g.add(Op::Unary(UnaryOp::Exp), &[z]).unwrap();
        let sm = red(&mut g, ReduceOp::Sum, e);
        let p = g.add(Op::Binary(BinaryOp::Div), &[e, sm]).unwrap();
        let y = g.add(Op::Matmul, &[p, v]).unwrap();
        (g, y)
    }

    fn inputs(g: &Graph) -> Vec<HostTensor> {
        g.inputs()
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let shape = g.node(n).shape().clone();
                let v: Vec<f32> = (0..shape.numel())
                    .map(|j| ((j * 7 + i * 13) % 17) as f32 / 8.0 - 1.0)
                    .collect();
                HostTensor::from_slice(&v, shape).unwrap()
            })
            .collect()
    }

    fn close(a: &HostTensor, b: &HostTensor) {
        for (x, y) in a.to_f64().iter().zip(b.to_f64()) {
            assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    #[test]
    fn pattern_becomes_one_op_with_the_same_values() {
        for masked in [false, true] {
            let (mut g, y) = pattern(3, 7, 4, masked);
            g.mark_output(y);
            let fused = FuseAttention.run(&g).unwrap();
            let att = fused
                .topo()
                .into_iter()
                .filter(|&n| matches!(fused.node(n).op, Op::Attention(_)))
                .count();
            assert_eq!(att, 1, "masked {masked}");
            assert!(fused.topo().iter().all(|&n| fused.node(n).op != Op::Matmul));
            let x = inputs(&g);
            close(
                &evaluate(&fused, &x).unwrap()[0],
                &evaluate(&g, &x).unwrap()[0],
            );
            // Split into three runs: the same values again.
            let split = SplitAttention {
                max_trips: None,
                max_head: ATTENTION_MAX_HEAD,
            };
            assert!(split.runs(1, 1, 4096, 64, 64) > 1);
            assert_eq!(split.runs(4096, 16, 4096, 64, 64), 1);
            let limited = SplitAttention {
                max_trips: Some(attention_trips(7, 4, 5) - 1),
                max_head: ATTENTION_MAX_HEAD,
            };
            let parts = limited.run(&fused).unwrap();
            assert!(parts
                .topo()
                .iter()
                .any(|&n| matches!(parts.node(n).op, Op::Attention(a) if a.splits > 1)));
            close(
                &evaluate(&parts, &x).unwrap()[0],
                &evaluate(&g, &x).unwrap()[0],
            );
        }
    }

    /// A maximum whose kept axis a reshape moves is broadcast across rows, not back over its
    /// own: no softmax, no attention.
    #[test]
    fn a_transposed_maximum_is_no_softmax() {
        let mut g = Graph::new();
        let f = DType::F32;
        let q = g.input(f, Shape::new(&[2, 5, 4])).unwrap();
        let kt = g.input(f, Shape::new(&[2, 4, 5])).unwrap();
        let v = g.input(f, Shape::new(&[2, 5, 3])).unwrap();
        let x = g.add(Op::Matmul, &[q, kt]).unwrap();
        let m = g
            .add(
                Op::Reduce {
                    op: ReduceOp::Max,
                    axes: [2].into_iter().collect(),
                    keepdim: true,
                },
                &[x],
            )
            .unwrap();
        let m = g
            .add(Op::View(ViewOp::Reshape(Shape::new(&[2, 1, 5]))), &[m])
            .unwrap();
        let m = g
            .add(Op::View(ViewOp::Expand(Shape::new(&[2, 5, 5]))), &[m])
            .unwrap();
        let z = g.add(Op::Binary(BinaryOp::Sub), &[x, m]).unwrap();
        let e = g.add(Op::Unary(UnaryOp::Exp), &[z]).unwrap();
        let sm = g
            .add(
                Op::Reduce {
                    op: ReduceOp::Sum,
                    axes: [2].into_iter().collect(),
                    keepdim: true,
                },
                &[e],
            )
            .unwrap();
        let sm = g
            .add(Op::View(ViewOp::Expand(Shape::new(&[2, 5, 5]))), &[sm])
            .unwrap();
        let p = g.add(Op::Binary(BinaryOp::Div), &[e, sm]).unwrap();
        let y = g.add(Op::Matmul, &[p, v]).unwrap();
        g.mark_output(y);
        let out = FuseAttention.run(&g).unwrap();
        assert!(out
            .topo()
            .iter()
            .all(|&n| !matches!(out.node(n).op, Op::Attention(_))));
    }

    #[test]
    fn shared_or_output_intermediates_are_left_alone() {
        let (mut g, y) = pattern(3, 7, 4, true);
        g.mark_output(y);
        // The probabilities are an output too.
        let p = g.srcs(y)[0];
        g.mark_output(p);
        let out = FuseAttention.run(&g).unwrap();
        assert!(out
            .topo()
            .iter()
            .all(|&n| !matches!(out.node(n).op, Op::Attention(_))));
    }
}

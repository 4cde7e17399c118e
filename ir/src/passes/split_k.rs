//! Split-K matmuls.

use super::{rewrite, Pass};
use crate::ops::{BinaryOp, SliceDim, ViewOp};
use crate::{DType, Graph, NodeId, Op, Result, Shape, View, MAX_RANK};
use smallvec::SmallVec;

/// Matmuls with an inner size at least this are considered.
pub const SPLIT_K_MIN_K: usize = 2048;
/// ... when they have at most this many outputs (fewer than about 256 tiles of 128 x 128: not
/// enough to fill a large GPU twice).
pub const SPLIT_K_MAX_OUTPUTS: usize = 1 << 22;
/// Parts are added until the partial products have about this many outputs.
pub const SPLIT_K_TARGET: usize = 1 << 23;
/// Most parts.
pub const SPLIT_K_MAX_PARTS: usize = 8;
/// Least inner size of a part.
pub const SPLIT_K_MIN_PART: usize = 256;
/// Matrix-vector products contiguous along `k` with at least this many outputs are left
/// whole (codegen's gemv path puts 8 outputs in a workgroup: 128 workgroups and more).
pub const SPLIT_K_GEMV_WHOLE: usize = 1024;

/// Two rules. First, it rewrites an `f32` matmul with few outputs and a long inner dimension,
/// whose grid would leave much of the GPU idle, into `S` matmuls over `K / S` each, batched in one launch
/// (`A[.., m, s*K/S + k]` and `B[.., s*K/S + k, n]` are views), and the sum of the `S`
/// partial products (an elementwise kernel, into which the matmul's epilogue then fuses):
///
/// `a @ b` → `p[0] + p[1] + ... + p[S-1]` where `p = a' @ b'`, `a' = permute(reshape(a))`
/// and `b' = permute(reshape(b))` put the parts in a new leading batch dimension.
///
/// `S` is the least power of two that brings the partial products to about
/// `SPLIT_K_TARGET` outputs, at most `SPLIT_K_MAX_PARTS`, dividing `K` into parts of at
/// least `SPLIT_K_MIN_PART` (of whole blocks where a vector meets a quantized matrix, read
/// through views and casts, so that the quantized gemv path takes each part). Sums are
/// reassociated (float rounding changes within the matmul tolerance); narrow floats are left
/// alone, so that partials are not rounded.
///
/// Matrix-vector products (`m = 1` or `n = 1`) whose matrix is read with unit stride along
/// `k` (`x @ W^T` with `W` row-major) and that have at least `SPLIT_K_GEMV_WHOLE` outputs
/// are left whole too: codegen's gemv path spreads each inner sum over 32 lanes of a
/// workgroup there, which is faster than split partials plus the kernel that sums them
/// (the measurement is in docs/journal/). Where the
/// matrix is strided along `k` the gemv path has 8 lanes per output, and splitting still
/// pays; with fewer outputs, whole products would leave most of the GPU idle.
///
/// Second, a matmul of any dtype whose inner size passes `max_k` (the adapter's loop limit, from
/// [`super::LoopLimits`]) is always split, into `S = K / max_k` parts of `Q = max_k` (the
/// tail `A[.., S * Q..] @ B[.., S * Q.., ..]`, shorter than a part, is a matmul of its own;
/// at rank 6 the two outer batch dims are merged first, to make room for the part axis):
/// one invocation of the kernel must not loop past what the adapter allows. The partials
/// are added by a sum over the part axis (a reduction, which `SplitReductions` may split in
/// turn). Narrow floats are computed in `f32` there and rounded once.
#[derive(Clone, Copy, Debug, Default)]
pub struct SplitK {
    /// The longest inner dimension one matmul kernel may loop over (`None`:
    /// [`super::MAX_LOOP`]).
    pub max_k: Option<usize>,
}

impl Pass for SplitK {
    fn name(&self) -> &'static str {
        "split-k"
    }
    fn run(&self, g: &Graph) -> Result<Graph> {
        rewrite(g, |ng, node, srcs| {
            if node.op != Op::Matmul {
                return Ok(None);
            }
            let (a, b) = (srcs[0], srcs[1]);
            let sa = ng.node(a).shape().clone();
            let r = sa.rank();
            let k = sa.0[r - 1];
            let max_k = super::LoopLimits {
                max_k: self.max_k,
                ..super::LoopLimits::default()
            }
            .k();
            if k > max_k {
                return split_long(ng, a, b, max_k.max(1), node.dtype()).map(Some);
            }
            if node.dtype() != DType::F32 {
                return Ok(None);
            }
            let outputs = node.shape().numel();
            if r + 1 > MAX_RANK || k < SPLIT_K_MIN_K || outputs > SPLIT_K_MAX_OUTPUTS {
                return Ok(None);
            }
            if outputs >= SPLIT_K_GEMV_WHOLE && gemv_along_k(ng, a, b) {
                return Ok(None);
            }
            let mut s = 2;
            while s < SPLIT_K_MAX_PARTS && outputs * s < SPLIT_K_TARGET {
                s *= 2;
            }
            // A vector times a quantized matrix: parts of whole blocks, which the quantized
            // gemv path reads (other products decode element by element at any offset).
            let block = if sa.0[r - 2] == 1 {
                quant_block(ng, b)
            } else {
                1
            };
            while s > 1
                && (!k.is_multiple_of(s)
                    || k / s < SPLIT_K_MIN_PART
                    || !(k / s).is_multiple_of(block))
            {
                s /= 2;
            }
            if s < 2 {
                return Ok(None);
            }
            split(ng, a, b, s).map(Some)
        })
    }
}

/// Whether `a @ b` is a matrix-vector product whose matrix (`b` where `m = 1`, else `a`
/// where `n = 1`) has unit stride along `k`, as read through its views.
fn gemv_along_k(g: &Graph, a: NodeId, b: NodeId) -> bool {
    let (sa, sb) = (g.node(a).shape(), g.node(b).shape());
    let (ra, rb) = (sa.rank(), sb.rank());
    if ra < 2 || rb < 2 {
        return false;
    }
    if sa.0[ra - 2] == 1 {
        unit_stride(g, b, rb - 2)
    } else if sb.0[rb - 1] == 1 {
        unit_stride(g, a, ra - 1)
    } else {
        false
    }
}

/// Values a block of the quantized input that `n` reads through views and casts (1 where
/// it reads no quantized input).
fn quant_block(g: &Graph, n: NodeId) -> usize {
    let mut cur = n;
    while matches!(g.node(cur).op, Op::View(_) | Op::Cast(_)) {
        cur = g.srcs(cur)[0];
    }
    if let DType::Quant(f) = g.node(cur).dtype() {
        f.block_values()
    } else {
        1
    }
}

/// Whether `n` has unit stride along `axis`, as its chain of views reads the first
/// non-view node under it (stored row-major).
fn unit_stride(g: &Graph, n: NodeId, axis: usize) -> bool {
    let mut chain = vec![];
    let mut cur = n;
    while let Op::View(v) = &g.node(cur).op {
        chain.push(v);
        cur = g.srcs(cur)[0];
    }
    let mut view = View::contiguous(g.node(cur).shape());
    for v in chain.iter().rev() {
        match view.apply(v) {
            Some(next) => view = next,
            None => return false,
        }
    }
    view.strides.get(axis) == Some(&1)
}

/// Moves axis `from` of an `r`-dim tensor to the front.
fn to_front(g: &mut Graph, x: NodeId, from: usize, r: usize) -> Result<NodeId> {
    let perm: SmallVec<[usize; MAX_RANK]> = std::iter::once(from)
        .chain((0..r).filter(|&d| d != from))
        .collect();
    g.add(Op::View(ViewOp::Permute(perm)), &[x])
}

/// `a @ b` over an inner size `K` too long for one kernel: `S` parts of `Q = K / S` summed
/// over the part axis, plus the tail matmul of the last `K - S * Q` where that is not 0;
/// narrow floats in `f32`, rounded once at the end.
fn split_long(g: &mut Graph, a: NodeId, b: NodeId, q: usize, dtype: DType) -> Result<NodeId> {
    let sa = g.node(a).shape().clone();
    if sa.rank() >= MAX_RANK {
        // No room for the part axis: the two outer batch dims merged into one, and back.
        let sb = g.node(b).shape().clone();
        let merged = |s: &Shape| -> Vec<usize> {
            std::iter::once(s.0[0] * s.0[1])
                .chain(s.0[2..].iter().copied())
                .collect()
        };
        let a2 = g.add(Op::View(ViewOp::Reshape(Shape::new(&merged(&sa)))), &[a])?;
        let b2 = g.add(Op::View(ViewOp::Reshape(Shape::new(&merged(&sb)))), &[b])?;
        let y = split_long(g, a2, b2, q, dtype)?;
        let mut out: Vec<usize> = sa.0[..sa.rank() - 1].to_vec();
        out.push(sb.0[sb.rank() - 1]);
        return g.add(Op::View(ViewOp::Reshape(Shape::new(&out))), &[y]);
    }
    let narrow = matches!(dtype, DType::F16 | DType::BF16);
    let (a, b) = if narrow {
        (
            g.add(Op::Cast(DType::F32), &[a])?,
            g.add(Op::Cast(DType::F32), &[b])?,
        )
    } else {
        (a, b)
    };
    let sa = g.node(a).shape().clone();
    let sb = g.node(b).shape().clone();
    let r = sa.rank();
    let k = sa.0[r - 1];
    // Parts of `q`, the tail (shorter than a part) on its own.
    let s = k / q;
    let slice = |g: &mut Graph, x: NodeId, axis: usize, lo: usize, hi: usize| {
        let dims: SmallVec<[SliceDim; MAX_RANK]> = g
            .node(x)
            .shape()
            .0
            .iter()
            .enumerate()
            .map(|(d, &n)| {
                let (start, end) = if d == axis { (lo, hi) } else { (0, n) };
                SliceDim {
                    start,
                    end,
                    step: 1,
                }
            })
            .collect();
        g.add(Op::View(ViewOp::Slice(dims)), &[x])
    };
    let (main_a, main_b) = if s * q == k {
        (a, b)
    } else {
        (
            slice(g, a, r - 1, 0, s * q)?,
            slice(g, b, sb.rank() - 2, 0, s * q)?,
        )
    };
    let (a3, b3) = parts(g, main_a, main_b, s)?;
    let p = g.add(Op::Matmul, &[a3, b3])?;
    let mut y = g.add(
        Op::Reduce {
            op: crate::ops::ReduceOp::Sum,
            axes: [0].into_iter().collect(),
            keepdim: false,
        },
        &[p],
    )?;
    if s * q < k {
        let ta = slice(g, a, r - 1, s * q, k)?;
        let tb = slice(g, b, sb.rank() - 2, s * q, k)?;
        let t = g.add(Op::Matmul, &[ta, tb])?;
        y = g.add(Op::Binary(BinaryOp::Add), &[y, t])?;
    }
    if narrow {
        y = g.add(Op::Cast(dtype), &[y])?;
    }
    Ok(y)
}

/// `a` and `b` with their inner dimension cut into `s` equal parts, the parts a new leading
/// batch dimension (views).
fn parts(g: &mut Graph, a: NodeId, b: NodeId, s: usize) -> Result<(NodeId, NodeId)> {
    let sa = g.node(a).shape().clone();
    let sb = g.node(b).shape().clone();
    let r = sa.rank();
    let k = sa.0[r - 1];
    // a: [.., m, k] -> [.., m, s, k/s] -> [s, .., m, k/s]
    let mut da = sa.0.to_vec();
    da.splice(r - 1.., [s, k / s]);
    let a2 = g.add(Op::View(ViewOp::Reshape(Shape::new(&da))), &[a])?;
    let a3 = to_front(g, a2, r - 1, r + 1)?;
    // b: [.., k, n] -> [.., s, k/s, n] -> [s, .., k/s, n]
    let mut db = sb.0.to_vec();
    db.splice(r - 2..r - 1, [s, k / s]);
    let b2 = g.add(Op::View(ViewOp::Reshape(Shape::new(&db))), &[b])?;
    let b3 = to_front(g, b2, r - 2, r + 1)?;
    Ok((a3, b3))
}

fn split(g: &mut Graph, a: NodeId, b: NodeId, s: usize) -> Result<NodeId> {
    let (a3, b3) = parts(g, a, b, s)?;
    let p = g.add(Op::Matmul, &[a3, b3])?;
    let ps = g.node(p).shape().clone();
    let out = Shape::new(&ps.0[1..]);
    let mut sum: Option<NodeId> = None;
    for i in 0..s {
        let dims: SmallVec<[SliceDim; MAX_RANK]> =
            ps.0.iter()
                .enumerate()
                .map(|(d, &n)| {
                    let (start, end) = if d == 0 { (i, i + 1) } else { (0, n) };
                    SliceDim {
                        start,
                        end,
                        step: 1,
                    }
                })
                .collect();
        let part = g.add(Op::View(ViewOp::Slice(dims)), &[p])?;
        let part = g.add(Op::View(ViewOp::Reshape(out.clone())), &[part])?;
        sum = Some(match sum {
            None => part,
            Some(acc) => g.add(Op::Binary(BinaryOp::Add), &[acc, part])?,
        });
    }
    Ok(sum.expect("at least two parts"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{interp, HostTensor};

    fn graph(sa: &[usize], sb: &[usize]) -> Graph {
        graph_t((sa, false), (sb, false))
    }

    /// `A @ B` of inputs stored with shapes `sa` and `sb`, each read through a transpose of
    /// its two dims where its flag says so.
    fn graph_t((sa, ta): (&[usize], bool), (sb, tb): (&[usize], bool)) -> Graph {
        let mut g = Graph::new();
        let mut operand = |shape: &[usize], t: bool| {
            let x = g.input(DType::F32, Shape::new(shape)).unwrap();
            if t {
                let perm = Op::View(ViewOp::Permute([1, 0].into_iter().collect()));
                g.add(perm, &[x]).unwrap()
            } else {
                x
            }
        };
        let a = operand(sa, ta);
        let b = operand(sb, tb);
        let y = g.add(Op::Matmul, &[a, b]).unwrap();
        g.mark_output(y);
        g
    }

    fn matmuls(g: &Graph) -> usize {
        g.topo()
            .iter()
            .filter(|&&n| g.node(n).op == Op::Matmul)
            .count()
    }

    #[test]
    fn long_thin_products_split_and_agree() {
        for (sa, sb, splits) in [
            (vec![16, 4096], vec![4096, 8], true),
            (vec![2, 8, 2048], vec![2, 2048, 24], true),
            // 2050 = 2 x 1025: two parts.
            (vec![4, 2050], vec![2050, 4], true),
            (vec![64, 1024], vec![1024, 64], false),
            (vec![4096, 4096], vec![4096, 4096], false),
        ] {
            let g = graph(&sa, &sb);
            let s = SplitK::default().run(&g).unwrap();
            s.verify().unwrap();
            assert_eq!(
                s.node(s.outputs()[0]).shape(),
                g.node(g.outputs()[0]).shape()
            );
            assert_eq!(
                s.len() > g.len(),
                splits,
                "{sa:?} @ {sb:?}: {} nodes",
                s.len()
            );
            if !splits {
                continue;
            }
            assert_eq!(matmuls(&s), 1);
            let fill = |shape: &[usize], seed: usize| {
                let n: usize = shape.iter().product();
                let v: Vec<f32> = (0..n)
                    .map(|i| ((i * 7919 + seed * 104729) % 1009) as f32 / 1009.0 - 0.5)
                    .collect();
                HostTensor::from_slice(&v, Shape::new(shape)).unwrap()
            };
            let inputs = [fill(&sa, 1), fill(&sb, 2)];
            let want = interp::evaluate(&g, &inputs).unwrap()[0].to_f64();
            let got = interp::evaluate(&s, &inputs).unwrap()[0].to_f64();
            for (w, x) in want.iter().zip(&got) {
                assert!(
                    (w - x).abs() <= 1e-5 * (1.0 + w.abs()),
                    "{sa:?} @ {sb:?}: {w} vs {x}"
                );
            }
        }
    }

    /// Under a loop limit every matmul with a longer inner size splits, whatever its dtype,
    /// with a tail where the parts do not divide it, and no matmul left loops past the limit.
    #[test]
    fn long_inner_sizes_split_under_a_loop_limit() {
        for (sa, sb) in [
            (vec![3, 1031], vec![1031, 5]),
            (vec![1, 1000], vec![1000, 7]),
            (vec![2, 4, 777], vec![2, 777, 3]),
            (vec![9, 100], vec![100, 9]),
            // Many parts: the tail (10000 - 156 x 64 = 16) stays under the limit.
            (vec![3, 10000], vec![10000, 2]),
            // Rank 6: no room for a part axis until two batch dims merge.
            (vec![1, 2, 1, 2, 3, 1031], vec![1, 2, 1, 2, 1031, 2]),
        ] {
            for dtype in [DType::F32, DType::F16, DType::BF16] {
                let mut g = Graph::new();
                let a = g.input(DType::F32, Shape::new(&sa)).unwrap();
                let b = g.input(DType::F32, Shape::new(&sb)).unwrap();
                let (a, b) = if dtype == DType::F32 {
                    (a, b)
                } else {
                    (
                        g.add(Op::Cast(dtype), &[a]).unwrap(),
                        g.add(Op::Cast(dtype), &[b]).unwrap(),
                    )
                };
                let y = g.add(Op::Matmul, &[a, b]).unwrap();
                g.mark_output(y);
                let max_k = 64;
                let s = SplitK { max_k: Some(max_k) }.run(&g).unwrap();
                s.verify().unwrap();
                assert_eq!(s.node(s.outputs()[0]).ty, g.node(y).ty);
                for n in s.topo() {
                    if s.node(n).op == Op::Matmul {
                        let k = *s.node(s.srcs(n)[0]).shape().0.last().unwrap();
                        assert!(k <= max_k, "{sa:?} @ {sb:?} {dtype}: k {k} left");
                    }
                }
                let fill = |shape: &[usize], seed: usize| {
                    let n: usize = shape.iter().product();
                    let v: Vec<f32> = (0..n)
                        .map(|i| ((i * 7919 + seed * 104729) % 1009) as f32 / 101.0 - 4.9)
                        .collect();
                    HostTensor::from_slice(&v, Shape::new(shape)).unwrap()
                };
                let inputs = [fill(&sa, 1), fill(&sb, 2)];
                let want = interp::evaluate(&g, &inputs).unwrap()[0].to_f64();
                let got = interp::evaluate(&s, &inputs).unwrap()[0].to_f64();
                // Narrow floats: both round the f32 sum once; reassociation may move it by
                // one unit of the narrow type.
                let tol = match dtype {
                    DType::F16 => 1e-3,
                    DType::BF16 => 8e-3,
                    _ => 1e-5,
                };
                for (w, x) in want.iter().zip(&got) {
                    assert!(
                        (w - x).abs() <= tol * (1.0 + w.abs()),
                        "{sa:?} @ {sb:?} {dtype}: {w} vs {x}"
                    );
                }
            }
        }
    }

    /// Matrix-vector products with many outputs split only where the matrix is strided
    /// along `k`; with few outputs they split either way.
    #[test]
    fn gemv_splits_only_where_the_matrix_is_strided_along_k() {
        // x @ W with W [k, n]: strided along k; split.
        let g = graph(&[1, 4096], &[4096, 1100]);
        assert!(SplitK::default().run(&g).unwrap().len() > g.len());
        // A @ v with A [m, k]: contiguous along k; whole.
        let g = graph(&[1100, 4096], &[4096, 1]);
        assert_eq!(SplitK::default().run(&g).unwrap().len(), g.len());
        // ... but split with fewer outputs than SPLIT_K_GEMV_WHOLE.
        let g = graph(&[300, 4096], &[4096, 1]);
        assert!(SplitK::default().run(&g).unwrap().len() > g.len());
        // x @ W^T with W [n, k] read through a transpose: contiguous along k; whole.
        let g = graph_t((&[1, 4096], false), (&[1100, 4096], true));
        assert_eq!(SplitK::default().run(&g).unwrap().len(), g.len());
        // A^T @ v: A read through a transpose, strided along k; split.
        let g = graph_t((&[4096, 1100], true), (&[4096, 1], false));
        assert!(SplitK::default().run(&g).unwrap().len() > g.len());
    }

    /// A quantized operand (read through a cast and a transpose) splits into parts of whole
    /// blocks only: 4096 into 8 parts of 512 for Q4_K, 2304 (9 blocks) not at all; 2304
    /// into 8 parts of 288 (9 Q8_0 blocks).
    #[test]
    fn quantized_operands_split_into_whole_blocks() {
        use crate::quant::BlockFormat;
        for (f, k, parts) in [
            (BlockFormat::Q4K, 4096, 8),
            (BlockFormat::Q4K, 2304, 1),
            (BlockFormat::Q8_0, 2304, 8),
        ] {
            let mut g = Graph::new();
            let x = g.input(DType::F32, Shape::new(&[1, k])).unwrap();
            let w = g.input(DType::Quant(f), Shape::new(&[33, k])).unwrap();
            let wf = g.add(Op::Cast(DType::F32), &[w]).unwrap();
            let perm = Op::View(ViewOp::Permute([1, 0].into_iter().collect()));
            let wt = g.add(perm, &[wf]).unwrap();
            let y = g.add(Op::Matmul, &[x, wt]).unwrap();
            g.mark_output(y);
            let s = SplitK::default().run(&g).unwrap();
            s.verify().unwrap();
            let got = s
                .topo()
                .iter()
                .find(|&&n| s.node(n).op == Op::Matmul)
                .map(|&n| s.node(n).shape().0[0])
                .unwrap();
            let got = if parts == 1 {
                s.len() - g.len() + 1
            } else {
                got
            };
            assert_eq!(got, parts, "{f:?} k {k}");
        }
    }
}

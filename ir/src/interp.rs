//! The reference interpreter: a plain CPU evaluator of any graph, written for obviousness rather
//! than speed. It is the oracle that every GPU result is tested against.

use crate::dtype::round_float;
use crate::host::{HostData, HostTensor};
use crate::ops::binary::BinaryRule;
use crate::ops::reduce::{Better, Finish, FoldImpl};
use crate::ops::unary::UnaryRule;
use crate::ops::{rand_value, BinaryOp, Op, ReduceOp, ReduceRule, TensorType, UnaryOp};
use crate::view::View;
use crate::{DType, Graph, IrError, NodeId, Result, Scalar, Shape};
use hashbrown::HashMap;

/// Evaluates the graph's outputs with `inputs` bound to its input slots, in slot order.
pub fn evaluate(graph: &Graph, inputs: &[HostTensor]) -> Result<Vec<HostTensor>> {
    let mut vals: HashMap<NodeId, HostTensor> = HashMap::new();
    for n in graph.topo() {
        let node = graph.node(n);
        let srcs: Vec<&HostTensor> = graph.srcs(n).iter().map(|s| &vals[s]).collect();
        let v = eval_node(&node.op, &node.ty, &srcs, inputs)?;
        vals.insert(n, v);
    }
    Ok(graph.outputs().iter().map(|o| vals[o].clone()).collect())
}

/// Evaluates one op on host operands; `ty` is the node's result type.
pub fn eval_node(
    op: &Op,
    ty: &TensorType,
    srcs: &[&HostTensor],
    inputs: &[HostTensor],
) -> Result<HostTensor> {
    let n = ty.shape.numel();
    let out = |data: HostData| HostTensor {
        dtype: ty.dtype,
        shape: ty.shape.clone(),
        data,
    };
    Ok(match op {
        Op::Input { slot } => {
            let v = inputs
                .get(*slot as usize)
                .ok_or(IrError::UnboundInput(*slot))?;
            v.validate()?;
            if v.dtype != ty.dtype || v.shape != ty.shape {
                return Err(IrError::BadShape {
                    op: "input",
                    from: v.shape.clone(),
                    to: ty.shape.clone(),
                    why: format!("bound {} value where {} was declared", v.dtype, ty.dtype),
                });
            }
            match v.dtype {
                // Quantized blocks enter as their values, dequantized as llama.cpp does; every
                // op after reads them as f32.
                DType::Quant(_) => HostTensor {
                    dtype: v.dtype,
                    shape: v.shape.clone(),
                    data: HostData::F(v.dequantized()?),
                },
                _ => v.clone(),
            }
        }
        Op::Const(s) => out(fill(ty.dtype, *s, n)),
        Op::Arange { start, step } => out(match ty.dtype {
            DType::I32 => HostData::I(
                (0..n)
                    .map(|i| {
                        (start.as_i64() as i32)
                            .wrapping_add((i as i32).wrapping_mul(step.as_i64() as i32))
                    })
                    .collect(),
            ),
            DType::U32 => HostData::U(
                (0..n)
                    .map(|i| {
                        (start.as_i64() as u32)
                            .wrapping_add((i as u32).wrapping_mul(step.as_i64() as u32))
                    })
                    .collect(),
            ),
            d => HostData::F(
                (0..n)
                    .map(|i| {
                        round_float(start.as_f64() as f32 + i as f32 * step.as_f64() as f32, d)
                    })
                    .collect(),
            ),
        }),
        Op::Rand { seed, dist } => out(HostData::F(
            (0..n)
                .map(|i| round_float(rand_value(*seed, *dist, i as u32), ty.dtype))
                .collect(),
        )),
        Op::Unary(u) => out(unary(*u, srcs[0], ty.dtype)?),
        Op::Binary(b) => out(binary(*b, srcs[0], srcs[1], ty.dtype)?),
        Op::Where => {
            let HostData::B(c) = &srcs[0].data else {
                return Err(IrError::Verify("where condition is not bool".into()));
            };
            out(select_data(c, srcs[1], srcs[2])?)
        }
        Op::Cast(d) => out(cast(srcs[0], *d)),
        Op::Reduce { op, axes, .. } => out(reduce(*op, srcs[0], axes, ty.dtype)?),
        Op::Scan(op) => out(op.eval(srcs[0], ty.dtype)?),
        Op::View(v) => {
            let view = View::contiguous(&srcs[0].shape)
                .apply(v)
                .ok_or_else(|| IrError::Verify("a view of a contiguous tensor failed".into()))?;
            read_view(srcs[0], &view)
        }
        Op::Concat { axis } => concat(srcs, *axis, ty)?,
        Op::Gather { axis } => gather(srcs[0], srcs[1], *axis, ty),
        Op::Matmul => matmul(srcs[0], srcs[1], ty),
        Op::Attention(a) => a.eval(srcs, ty)?,
    })
}

fn fill(dtype: DType, s: Scalar, n: usize) -> HostData {
    match s.to_dtype(dtype) {
        Scalar::F(v) => HostData::F(vec![v as f32; n]),
        Scalar::I(v) if dtype == DType::U32 => HostData::U(vec![v as u32; n]),
        Scalar::I(v) => HostData::I(vec![v as i32; n]),
        Scalar::B(v) => HostData::B(vec![v; n]),
    }
}

/// The error for an op applied to a dtype its table entry does not implement (type inference
/// refuses such graphs first).
fn refused(op: &'static str, dtype: DType) -> IrError {
    IrError::UnsupportedDType {
        op,
        dtype,
        why: "no reference semantics for this dtype",
    }
}

fn unary(op: UnaryOp, x: &HostTensor, out: DType) -> Result<HostData> {
    let no = || refused(op.name(), x.dtype);
    fn map<T: Copy, R>(v: &[T], f: impl Fn(T) -> R) -> Vec<R> {
        v.iter().map(|&a| f(a)).collect()
    }
    Ok(match (op.spec().rule, &x.data) {
        (UnaryRule::Map(m), HostData::F(v)) => {
            let f = m.float.ok_or_else(no)?.eval;
            HostData::F(map(v, |a| round_float(f(a), out)))
        }
        (UnaryRule::Map(m), HostData::I(v)) => HostData::I(map(v, m.i32.ok_or_else(no)?.eval)),
        (UnaryRule::Map(m), HostData::U(v)) => HostData::U(map(v, m.u32.ok_or_else(no)?.eval)),
        (UnaryRule::Map(m), HostData::B(v)) => HostData::B(map(v, m.bool.ok_or_else(no)?.eval)),
        (UnaryRule::Test(t), HostData::F(v)) => HostData::B(map(v, t.float.ok_or_else(no)?.eval)),
        (UnaryRule::Test(t), HostData::I(v)) => HostData::B(map(v, t.i32.ok_or_else(no)?.eval)),
        (UnaryRule::Test(t), HostData::U(v)) => HostData::B(map(v, t.u32.ok_or_else(no)?.eval)),
        (UnaryRule::Test(t), HostData::B(v)) => HostData::B(map(v, t.bool.ok_or_else(no)?.eval)),
    })
}

fn binary(op: BinaryOp, a: &HostTensor, b: &HostTensor, out: DType) -> Result<HostData> {
    let no = || refused(op.name(), a.dtype);
    fn zip<T: Copy, R>(x: &[T], y: &[T], f: impl Fn(T, T) -> R) -> Vec<R> {
        x.iter().zip(y).map(|(&p, &q)| f(p, q)).collect()
    }
    use HostData as H;
    Ok(match (op.spec().rule, &a.data, &b.data) {
        (BinaryRule::Map(m), H::F(x), H::F(y)) => {
            let f = m.float.ok_or_else(no)?.eval;
            H::F(zip(x, y, |p, q| round_float(f(p, q), out)))
        }
        (BinaryRule::Map(m), H::I(x), H::I(y)) => H::I(zip(x, y, m.i32.ok_or_else(no)?.eval)),
        (BinaryRule::Map(m), H::U(x), H::U(y)) => H::U(zip(x, y, m.u32.ok_or_else(no)?.eval)),
        (BinaryRule::Map(m), H::B(x), H::B(y)) => H::B(zip(x, y, m.bool.ok_or_else(no)?.eval)),
        (BinaryRule::Test(t), H::F(x), H::F(y)) => H::B(zip(x, y, t.float.ok_or_else(no)?.eval)),
        (BinaryRule::Test(t), H::I(x), H::I(y)) => H::B(zip(x, y, t.i32.ok_or_else(no)?.eval)),
        (BinaryRule::Test(t), H::U(x), H::U(y)) => H::B(zip(x, y, t.u32.ok_or_else(no)?.eval)),
        (BinaryRule::Test(t), H::B(x), H::B(y)) => H::B(zip(x, y, t.bool.ok_or_else(no)?.eval)),
        (_, H::F(_) | H::I(_) | H::U(_) | H::B(_), _) => {
            return Err(IrError::DTypeMismatch {
                op: op.name(),
                lhs: a.dtype,
                rhs: b.dtype,
            })
        }
    })
}

fn select_data(c: &[bool], a: &HostTensor, b: &HostTensor) -> Result<HostData> {
    fn pick<T: Copy>(c: &[bool], a: &[T], b: &[T]) -> Vec<T> {
        c.iter()
            .zip(a.iter().zip(b))
            .map(|(&k, (&x, &y))| if k { x } else { y })
            .collect()
    }
    Ok(match (&a.data, &b.data) {
        (HostData::F(x), HostData::F(y)) => HostData::F(pick(c, x, y)),
        (HostData::I(x), HostData::I(y)) => HostData::I(pick(c, x, y)),
        (HostData::U(x), HostData::U(y)) => HostData::U(pick(c, x, y)),
        (HostData::B(x), HostData::B(y)) => HostData::B(pick(c, x, y)),
        (HostData::F(_) | HostData::I(_) | HostData::U(_) | HostData::B(_), _) => {
            return Err(IrError::DTypeMismatch {
                op: "where",
                lhs: a.dtype,
                rhs: b.dtype,
            })
        }
    })
}

/// Converts a tensor to another dtype by the rules in `docs/OPS.md`.
pub fn cast(x: &HostTensor, to: DType) -> HostData {
    match (&x.data, to) {
        // A quantized value is held dequantized (see `Op::Input`); no op casts to one.
        (HostData::F(v), DType::F32 | DType::F16 | DType::BF16 | DType::Quant(_)) => {
            HostData::F(v.iter().map(|&a| round_float(a, to)).collect())
        }
        (HostData::F(v), DType::I32) => HostData::I(v.iter().map(|&a| a as i32).collect()),
        (HostData::F(v), DType::U32) => HostData::U(v.iter().map(|&a| a as u32).collect()),
        (HostData::F(v), DType::Bool) => HostData::B(v.iter().map(|&a| a != 0.0).collect()),
        (HostData::I(v), DType::I32) => HostData::I(v.clone()),
        (HostData::I(v), DType::U32) => HostData::U(v.iter().map(|&a| a as u32).collect()),
        (HostData::I(v), DType::Bool) => HostData::B(v.iter().map(|&a| a != 0).collect()),
        (HostData::I(v), f) => HostData::F(v.iter().map(|&a| round_float(a as f32, f)).collect()),
        (HostData::U(v), DType::I32) => HostData::I(v.iter().map(|&a| a as i32).collect()),
        (HostData::U(v), DType::U32) => HostData::U(v.clone()),
        (HostData::U(v), DType::Bool) => HostData::B(v.iter().map(|&a| a != 0).collect()),
        (HostData::U(v), f) => HostData::F(v.iter().map(|&a| round_float(a as f32, f)).collect()),
        (HostData::B(v), DType::I32) => HostData::I(v.iter().map(|&a| a as i32).collect()),
        (HostData::B(v), DType::U32) => HostData::U(v.iter().map(|&a| a as u32).collect()),
        (HostData::B(v), DType::Bool) => HostData::B(v.clone()),
        (HostData::B(v), _) => HostData::F(v.iter().map(|&a| a as u8 as f32).collect()),
    }
}

/// Reads a tensor through a view (masked positions give the pad value).
pub fn read_view(src: &HostTensor, view: &View) -> HostTensor {
    let n = view.shape.numel();
    let mut coords = vec![0usize; view.shape.rank()];
    let idx: Vec<Option<usize>> = (0..n)
        .map(|i| {
            view.shape.unravel(i, &mut coords);
            view.address(&coords).map(|a| a as usize)
        })
        .collect();
    let pad = view.pad_value().unwrap_or(Scalar::I(0)).to_dtype(src.dtype);
    fn take<T: Copy>(v: &[T], idx: &[Option<usize>], pad: T) -> Vec<T> {
        idx.iter().map(|i| i.map(|i| v[i]).unwrap_or(pad)).collect()
    }
    let data = match (&src.data, pad) {
        (HostData::F(v), p) => HostData::F(take(v, &idx, p.as_f64() as f32)),
        (HostData::I(v), p) => HostData::I(take(v, &idx, p.as_i64() as i32)),
        (HostData::U(v), p) => HostData::U(take(v, &idx, p.as_i64() as u32)),
        (HostData::B(v), p) => HostData::B(take(v, &idx, p.as_i64() != 0)),
    };
    HostTensor {
        dtype: src.dtype,
        shape: view.shape.clone(),
        data,
    }
}

/// For each input element in row-major order: (output index, ordinal within its group).
fn reduce_groups(shape: &Shape, axes: &[usize]) -> (usize, Vec<usize>, usize) {
    let kept: Vec<usize> = (0..shape.rank()).filter(|d| !axes.contains(d)).collect();
    let n_out: usize = kept.iter().map(|&d| shape.0[d]).product();
    let count: usize = axes.iter().map(|&d| shape.0[d]).product();
    let mut coords = vec![0usize; shape.rank()];
    let out_idx = (0..shape.numel())
        .map(|i| {
            shape.unravel(i, &mut coords);
            kept.iter()
                .fold(0usize, |acc, &d| acc * shape.0[d] + coords[d])
        })
        .collect();
    (n_out, out_idx, count)
}

fn reduce(op: ReduceOp, x: &HostTensor, axes: &[usize], out: DType) -> Result<HostData> {
    let (n_out, oi, count) = reduce_groups(&x.shape, axes);
    let no = || refused(op.name(), x.dtype);
    /// Folds each group from the identity, in input order.
    fn fold<T: Copy>(f: FoldImpl<T>, v: &[T], oi: &[usize], n_out: usize) -> Vec<T> {
        let mut acc = vec![f.identity; n_out];
        for (i, &a) in v.iter().enumerate() {
            acc[oi[i]] = (f.combine)(acc[oi[i]], a);
        }
        acc
    }
    let (impls, finish) = match op.spec().rule {
        ReduceRule::Arg { better, .. } => {
            return Ok(HostData::I(match &x.data {
                HostData::F(v) => arg_reduce(better, v, &oi, n_out),
                HostData::I(v) => arg_reduce(better, v, &oi, n_out),
                HostData::U(v) => arg_reduce(better, v, &oi, n_out),
                HostData::B(v) => arg_reduce(better, v, &oi, n_out),
            }))
        }
        ReduceRule::Fold { impls, finish, .. } => (impls, finish),
    };
    Ok(match &x.data {
        HostData::F(v) => {
            let wide: Vec<f64> = v.iter().map(|&a| a as f64).collect();
            let acc = fold(impls.float.ok_or_else(no)?, &wide, &oi, n_out);
            HostData::F(
                acc.into_iter()
                    .map(|r| {
                        let r = match finish {
                            Finish::Total => r,
                            Finish::DivideByCount => r / count as f64,
                        };
                        round_float(r as f32, out)
                    })
                    .collect(),
            )
        }
        HostData::I(v) => HostData::I(fold(impls.i32.ok_or_else(no)?, v, &oi, n_out)),
        HostData::U(v) => HostData::U(fold(impls.u32.ok_or_else(no)?, v, &oi, n_out)),
        HostData::B(v) => HostData::B(fold(impls.bool.ok_or_else(no)?, v, &oi, n_out)),
    })
}

/// Index (row-major over the reduced axes) of the first best element of each group: the first
/// NaN if any (`x != x` holds only for NaN), else the first maximum (minimum).
fn arg_reduce<T: Copy + PartialOrd>(
    better: Better,
    v: &[T],
    oi: &[usize],
    n_out: usize,
) -> Vec<i32> {
    #[allow(clippy::eq_op)]
    let is_nan = |x: T| x != x;
    let mut best: Vec<Option<(T, i32)>> = vec![None; n_out];
    let mut ord = vec![0i32; n_out];
    for (i, &a) in v.iter().enumerate() {
        let o = oi[i];
        let k = ord[o];
        ord[o] += 1;
        best[o] = Some(match best[o] {
            None => (a, k),
            Some((b, j)) if is_nan(b) => (b, j),
            Some(_) if is_nan(a) => (a, k),
            Some((b, j)) => {
                let wins = match better {
                    Better::Greater => a > b,
                    Better::Less => a < b,
                };
                if wins {
                    (a, k)
                } else {
                    (b, j)
                }
            }
        });
    }
    best.into_iter()
        .map(|b| b.map(|x| x.1).unwrap_or(0))
        .collect()
}

fn concat(srcs: &[&HostTensor], axis: usize, ty: &TensorType) -> Result<HostTensor> {
    let shape = &ty.shape;
    let mut coords = vec![0usize; shape.rank()];
    let bounds: Vec<usize> = srcs
        .iter()
        .scan(0, |acc, s| {
            *acc += s.shape.0[axis];
            Some(*acc)
        })
        .collect();
    let mut picks: Vec<(usize, usize)> = Vec::with_capacity(shape.numel());
    for i in 0..shape.numel() {
        shape.unravel(i, &mut coords);
        let k = bounds.iter().position(|&b| coords[axis] < b).unwrap_or(0);
        let start = if k == 0 { 0 } else { bounds[k - 1] };
        coords[axis] -= start;
        let addr = View::contiguous(&srcs[k].shape)
            .address(&coords)
            .unwrap_or(0);
        picks.push((k, addr as usize));
    }
    // Every part has the output's dtype (the graph verifier checks it); a part that does
    // not is refused rather than read as zeros.
    fn gather_parts<T: Copy>(
        picks: &[(usize, usize)],
        srcs: &[&HostTensor],
        dtype: DType,
        part: impl Fn(&HostData) -> Option<&[T]>,
    ) -> Result<Vec<T>> {
        picks
            .iter()
            .map(|&(k, a)| {
                part(&srcs[k].data)
                    .map(|v| v[a])
                    .ok_or(IrError::DTypeMismatch {
                        op: "concat",
                        lhs: dtype,
                        rhs: srcs[k].dtype,
                    })
            })
            .collect()
    }
    let d = srcs[0].dtype;
    let data = match &srcs[0].data {
        HostData::F(_) => HostData::F(gather_parts(&picks, srcs, d, |h| match h {
            HostData::F(v) => Some(v),
            HostData::I(_) | HostData::U(_) | HostData::B(_) => None,
        })?),
        HostData::I(_) => HostData::I(gather_parts(&picks, srcs, d, |h| match h {
            HostData::I(v) => Some(v),
            HostData::F(_) | HostData::U(_) | HostData::B(_) => None,
        })?),
        HostData::U(_) => HostData::U(gather_parts(&picks, srcs, d, |h| match h {
            HostData::U(v) => Some(v),
            HostData::F(_) | HostData::I(_) | HostData::B(_) => None,
        })?),
        HostData::B(_) => HostData::B(gather_parts(&picks, srcs, d, |h| match h {
            HostData::B(v) => Some(v),
            HostData::F(_) | HostData::I(_) | HostData::U(_) => None,
        })?),
    };
    Ok(HostTensor {
        dtype: ty.dtype,
        shape: shape.clone(),
        data,
    })
}

fn gather(x: &HostTensor, idx: &HostTensor, axis: usize, ty: &TensorType) -> HostTensor {
    let HostData::I(iv) = &idx.data else {
        return HostTensor {
            dtype: ty.dtype,
            shape: ty.shape.clone(),
            data: fill(ty.dtype, Scalar::I(0), ty.shape.numel()),
        };
    };
    let n = x.shape.0[axis] as i64;
    let xv = View::contiguous(&x.shape);
    let mut coords = vec![0usize; ty.shape.rank()];
    let addrs: Vec<Option<usize>> = (0..ty.shape.numel())
        .map(|i| {
            ty.shape.unravel(i, &mut coords);
            let mut j = iv[i] as i64;
            if j < 0 {
                j += n;
            }
            if j < 0 || j >= n {
                return None;
            }
            coords[axis] = j as usize;
            xv.address(&coords).map(|a| a as usize)
        })
        .collect();
    fn take<T: Copy>(v: &[T], idx: &[Option<usize>], zero: T) -> Vec<T> {
        idx.iter()
            .map(|i| i.map(|i| v[i]).unwrap_or(zero))
            .collect()
    }
    let data = match &x.data {
        HostData::F(v) => HostData::F(take(v, &addrs, 0.0)),
        HostData::I(v) => HostData::I(take(v, &addrs, 0)),
        HostData::U(v) => HostData::U(take(v, &addrs, 0)),
        HostData::B(v) => HostData::B(take(v, &addrs, false)),
    };
    HostTensor {
        dtype: ty.dtype,
        shape: ty.shape.clone(),
        data,
    }
}

fn matmul(a: &HostTensor, b: &HostTensor, ty: &TensorType) -> HostTensor {
    let (HostData::F(av), HostData::F(bv)) = (&a.data, &b.data) else {
        return HostTensor {
            dtype: ty.dtype,
            shape: ty.shape.clone(),
            data: HostData::F(vec![]),
        };
    };
    let r = a.shape.rank();
    let (m, k, n) = (a.shape.0[r - 2], a.shape.0[r - 1], b.shape.0[r - 1]);
    let batch: usize = a.shape.0[..r - 2].iter().product();
    let mut out = vec![0f32; batch * m * n];
    for bi in 0..batch {
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0f64;
                for p in 0..k {
                    acc += av[bi * m * k + i * k + p] as f64 * bv[bi * k * n + p * n + j] as f64;
                }
                out[bi * m * n + i * n + j] = round_float(acc as f32, ty.dtype);
            }
        }
    }
    HostTensor {
        dtype: ty.dtype,
        shape: ty.shape.clone(),
        data: HostData::F(out),
    }
}

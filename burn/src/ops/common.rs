//! The lowerings Burn's float, int and bool ops share: each takes and returns
//! [`KilnTensor`]s and builds kiln ops (lazy, fused like any kiln graph). The trait methods in
//! the sibling files are one call into these.

use crate::dtype::{to_burn, to_kiln};
use crate::tensor::Check;
use crate::{BurnError, KilnDevice, KilnTensor};
use burn_backend::TensorMetadata;
use burn_std::{BoolStore, DType, IndexingUpdateOp, Scalar, Shape, Slice};
use kiln::ir::ops::{BinaryOp, ReduceOp, ScanOp, UnaryOp};
use kiln::{IndexUpdate, Tensor};
use std::sync::Arc;

/// Burn's dtype of kiln's bools.
pub const BOOL: DType = DType::Bool(BoolStore::Native);

/// A Burn scalar as the `f64` kiln's constants take (integers of up to 2^53 exactly).
pub fn scalar(s: Scalar) -> f64 {
    match s {
        Scalar::Float(v) => v,
        Scalar::Int(v) => v as f64,
        Scalar::UInt(v) => v as f64,
        Scalar::Bool(b) => f64::from(u8::from(b)),
    }
}

/// The kiln dtype a Burn dtype is stored as, for the ops that take one.
pub fn storage(d: DType) -> Result<kiln::DType, BurnError> {
    to_kiln(d)
}

/// The Burn dtype `d` is stored as (what a tensor of it reports).
pub fn stored(d: DType) -> DType {
    match to_kiln(d).and_then(to_burn) {
        Ok(s) => s,
        Err(_) => d,
    }
}

fn axes(dims: &[usize]) -> Vec<isize> {
    dims.iter().map(|&d| d as isize).collect()
}

/// The shape numpy broadcasting gives (the left one where they do not broadcast: the error
/// itself comes from kiln).
fn broadcast(a: &Shape, b: &Shape) -> Shape {
    match a.broadcast(b) {
        Ok(s) => s,
        Err(_) => a.clone(),
    }
}

/// A tensor of `shape` filled with `value`, stored as `dtype` is.
pub fn full(shape: Shape, device: &KilnDevice, dtype: DType, value: f64) -> KilnTensor {
    KilnTensor::build(device, shape.clone(), stored(dtype), |d| {
        Ok::<_, BurnError>(Tensor::full_on(d, &shape, value, storage(dtype)?)?)
    })
}

pub fn unary(t: &KilnTensor, op: UnaryOp) -> KilnTensor {
    t.map(|x| x.unary(op))
}

pub fn binary(a: &KilnTensor, b: &KilnTensor, op: BinaryOp) -> KilnTensor {
    KilnTensor::lift(&[a, b], broadcast(&a.shape(), &b.shape()), a.dtype(), |v| {
        v[0].binary(op, v[1])
    })
}

pub fn binary_scalar(a: &KilnTensor, s: Scalar, op: BinaryOp) -> KilnTensor {
    a.map(|x| x.binary(op, &x.scalar_like(scalar(s))?))
}

pub fn compare(a: &KilnTensor, b: &KilnTensor, op: BinaryOp) -> KilnTensor {
    KilnTensor::lift(&[a, b], broadcast(&a.shape(), &b.shape()), BOOL, |v| {
        v[0].binary(op, v[1])
    })
}

pub fn compare_scalar(a: &KilnTensor, s: Scalar, op: BinaryOp) -> KilnTensor {
    a.map_to(a.shape(), BOOL, |x| {
        x.binary(op, &x.scalar_like(scalar(s))?)
    })
}

pub fn cast(t: &KilnTensor, dtype: DType) -> KilnTensor {
    t.map_to(t.shape(), stored(dtype), |x| {
        Ok::<_, BurnError>(x.cast(storage(dtype)?)?)
    })
}

pub fn reshape(t: &KilnTensor, shape: Shape) -> KilnTensor {
    t.map_to(shape.clone(), t.dtype(), |x| x.reshape(&shape))
}

pub fn expand(t: &KilnTensor, shape: Shape) -> KilnTensor {
    t.map_to(shape.clone(), t.dtype(), |x| x.expand(&shape))
}

pub fn swap_dims(t: &KilnTensor, a: usize, b: usize) -> KilnTensor {
    let shape = t.shape().swapped(a, b).unwrap_or_else(|_| t.shape());
    t.map_to(shape, t.dtype(), |x| x.transpose(a as isize, b as isize))
}

pub fn permute(t: &KilnTensor, perm: &[usize]) -> KilnTensor {
    let shape = t.shape().permuted(perm).unwrap_or_else(|_| t.shape());
    t.map_to(shape, t.dtype(), |x| x.permute(&axes(perm)))
}

pub fn flip(t: &KilnTensor, dims: &[usize]) -> KilnTensor {
    t.map(|x| x.flip(&axes(dims)))
}

pub fn unfold(t: &KilnTensor, dim: usize, size: usize, step: usize) -> KilnTensor {
    let mut shape = t.shape();
    if let Some(n) = shape.get_mut(dim) {
        *n = n
            .saturating_sub(size)
            .checked_div(step)
            .map_or(0, |w| w + 1);
    }
    shape.push(size);
    t.map_to(shape, t.dtype(), |x| x.unfold(dim as isize, size, step))
}

/// Burn's slices of the leading dims as kiln ranges: `(start, end, step)` per dim, forward,
/// and the dims a negative step reverses (the selected elements, last first).
fn ranges(dims: &[usize], slices: &[Slice]) -> (Vec<(isize, isize, usize)>, Vec<isize>, Shape) {
    let mut out = Vec::new();
    let mut reversed = Vec::new();
    let mut shape = Shape::from(dims.to_vec());
    for (d, (s, &n)) in slices.iter().zip(dims).enumerate() {
        let r = s.to_range(n);
        let len = s.output_size(n);
        let step = s.step.unsigned_abs().max(1);
        shape[d] = len;
        if s.step < 0 {
            reversed.push(d as isize);
            // The same elements, from the first one a backward walk reaches.
            let first = r.end.saturating_sub(1 + (len.max(1) - 1) * step);
            out.push((first as isize, r.end as isize, step));
        } else {
            out.push((r.start as isize, r.end as isize, step));
        }
    }
    (out, reversed, shape)
}

pub fn slice(t: &KilnTensor, slices: &[Slice]) -> KilnTensor {
    let (r, rev, shape) = ranges(&t.shape(), slices);
    t.map_to(shape, t.dtype(), |x| {
        let mut y = x.clone();
        for (d, &(s, e, step)) in r.iter().enumerate() {
            y = y.slice(d as isize, s, e.max(s), step)?;
        }
        if rev.is_empty() {
            Ok(y)
        } else {
            y.flip(&rev)
        }
    })
}

pub fn slice_assign(t: &KilnTensor, slices: &[Slice], value: &KilnTensor) -> KilnTensor {
    let (r, rev, _) = ranges(&t.shape(), slices);
    KilnTensor::lift(&[t, value], t.shape(), t.dtype(), |v| {
        let value = if rev.is_empty() {
            v[1].clone()
        } else {
            v[1].flip(&rev)?
        };
        v[0].slice_assign(&r, &value)
    })
}

/// An index tensor as kiln's `I32`.
fn index(t: &Tensor) -> kiln::Result<Tensor> {
    if t.dtype() == kiln::DType::I32 {
        Ok(t.clone())
    } else {
        t.cast(kiln::DType::I32)
    }
}

/// The check that every index lies in `0..n` (Burn's indices do not count from the end).
/// A scalar, nonzero where an index of `i` is below 0 or at least its bound `hi` (which
/// broadcasts against `i`).
fn outside(i: &Tensor, hi: &Tensor) -> kiln::Result<Tensor> {
    let bad = i.lt(&i.scalar_like(0.0)?)?.logical_or(&i.ge(hi)?)?;
    bad.cast(kiln::DType::I32)?.max(&[], false)
}

fn in_range(op: &str, idx: &KilnTensor, n: usize) -> Result<Check, Arc<BurnError>> {
    let flag = |i: &Tensor| -> kiln::Result<Tensor> {
        let i = index(i)?;
        outside(&i, &i.scalar_like(n as f64)?)
    };
    let f = flag(idx.tensor()?).map_err(|e| Arc::new(BurnError::Kiln(e)))?;
    Ok(Check::new(f, format!("{op}: an index is outside 0..{n}")))
}

fn axis_len(t: &KilnTensor, dim: usize) -> usize {
    t.shape().get(dim).copied().unwrap_or(0)
}

pub fn gather(dim: usize, t: &KilnTensor, idx: &KilnTensor) -> KilnTensor {
    let n = axis_len(t, dim);
    KilnTensor::lift(&[t, idx], idx.shape(), t.dtype(), |v| {
        v[0].gather(dim as isize, &index(v[1])?)
    })
    .checked(in_range("gather", idx, n))
}

pub fn select(t: &KilnTensor, dim: usize, idx: &KilnTensor) -> KilnTensor {
    let n = axis_len(t, dim);
    let mut shape = t.shape();
    if let Some(d) = shape.get_mut(dim) {
        *d = idx.shape().num_elements();
    }
    KilnTensor::lift(&[t, idx], shape, t.dtype(), |v| {
        v[0].index_select(dim as isize, &index(v[1])?)
    })
    .checked(in_range("select", idx, n))
}

fn update(op: IndexingUpdateOp) -> IndexUpdate {
    match op {
        IndexingUpdateOp::Assign => IndexUpdate::Assign,
        IndexingUpdateOp::Add => IndexUpdate::Add,
        IndexingUpdateOp::Mul => IndexUpdate::Mul,
        IndexingUpdateOp::Min => IndexUpdate::Min,
        IndexingUpdateOp::Max => IndexUpdate::Max,
    }
}

pub fn scatter(
    dim: usize,
    t: &KilnTensor,
    idx: &KilnTensor,
    value: &KilnTensor,
    op: IndexingUpdateOp,
) -> KilnTensor {
    write_at("scatter", dim, t, idx, value, |x, a, i, v| {
        x.scatter_reduce(a, i, v, update(op))
    })
}

pub fn select_assign(
    t: &KilnTensor,
    dim: usize,
    idx: &KilnTensor,
    value: &KilnTensor,
    op: IndexingUpdateOp,
) -> KilnTensor {
    write_at("select_assign", dim, t, idx, value, |x, a, i, v| {
        x.index_reduce(a, i, v, update(op))
    })
}

/// `t` with `value` written at `idx` along `dim` by `write` (the index as kiln's `I32`),
/// checked to lie in the axis.
fn write_at(
    op: &str,
    dim: usize,
    t: &KilnTensor,
    idx: &KilnTensor,
    value: &KilnTensor,
    write: impl FnOnce(&Tensor, isize, &Tensor, &Tensor) -> kiln::Result<Tensor>,
) -> KilnTensor {
    let n = axis_len(t, dim);
    KilnTensor::lift(&[t, idx, value], t.shape(), t.dtype(), |v| {
        write(v[0], dim as isize, &index(v[1])?, v[2])
    })
    .checked(in_range(op, idx, n))
}

/// `value` where `mask`, else `t`.
pub fn mask_where(t: &KilnTensor, mask: &KilnTensor, value: &KilnTensor) -> KilnTensor {
    let shape = broadcast(&t.shape(), &mask.shape());
    KilnTensor::lift(&[t, mask, value], shape, t.dtype(), |v| {
        Tensor::where_(v[1], v[2], v[0])
    })
}

pub fn mask_fill(t: &KilnTensor, mask: &KilnTensor, value: Scalar) -> KilnTensor {
    let shape = broadcast(&t.shape(), &mask.shape());
    KilnTensor::lift(&[t, mask], shape, t.dtype(), |v| {
        Tensor::where_(v[1], &v[0].scalar_like(scalar(value))?, v[0])
    })
}

/// A reduction of every element, as Burn's one-element tensor.
pub fn reduce_all(t: &KilnTensor, op: ReduceOp) -> KilnTensor {
    t.map_to(Shape::new([1]), t.dtype(), |x| {
        let all: Vec<isize> = (0..x.rank() as isize).collect();
        x.reduce(op, &all, false)?.reshape(&[1])
    })
}

/// A reduction along `dim`, kept as a dim of 1.
pub fn reduce_dim(t: &KilnTensor, op: ReduceOp, dim: usize) -> KilnTensor {
    let shape = t.shape().reduce(dim).unwrap_or_else(|_| t.shape());
    t.map_to(shape, t.dtype(), |x| x.reduce(op, &[dim as isize], true))
}

/// The position of the largest (or smallest) element along `dim`, kept as a dim of 1.
pub fn arg(t: &KilnTensor, op: ReduceOp, dim: usize) -> KilnTensor {
    let shape = t.shape().reduce(dim).unwrap_or_else(|_| t.shape());
    t.map_to(shape, DType::I32, |x| x.reduce(op, &[dim as isize], true))
}

pub fn scan(t: &KilnTensor, op: ScanOp, dim: usize) -> KilnTensor {
    t.map(|x| x.scan(op, dim as isize))
}

pub fn concat(tensors: &[KilnTensor], dim: usize) -> KilnTensor {
    let shapes: Vec<Shape> = tensors.iter().map(|t| t.shape()).collect();
    let shape = Shape::cat(shapes.iter(), dim).unwrap_or_else(|_| Shape::new([0]));
    let dtype = tensors.first().map_or(DType::F32, |t| t.dtype());
    let refs: Vec<&KilnTensor> = tensors.iter().collect();
    KilnTensor::lift(&refs, shape, dtype, |v| Tensor::concat(v, dim as isize))
}

/// The same tensor on `device` (kiln serves one device: another one is an error).
pub fn to_device(t: &KilnTensor, device: &KilnDevice) -> KilnTensor {
    if t.device() == *device {
        return t.clone();
    }
    let err = device.open().err().unwrap_or_else(|| {
        Arc::new(BurnError::Device {
            index: device.index,
            why: "tensors do not move between kiln devices".into(),
        })
    });
    KilnTensor::failed(err, t.shape(), t.dtype(), *device)
}

pub fn sort(t: &KilnTensor, dim: usize, descending: bool) -> KilnTensor {
    t.map(|x| Ok::<_, kiln::Error>(x.sort(dim as isize, descending)?.0))
}

pub fn argsort(t: &KilnTensor, dim: usize, descending: bool) -> KilnTensor {
    t.map_to(t.shape(), DType::I32, |x| {
        x.argsort(dim as isize, descending)
    })
}

/// The sorted values and where they came from (the values gathered by the indices, which
/// are in range by construction: no check).
pub fn sort_with_indices(t: &KilnTensor, dim: usize, descending: bool) -> (KilnTensor, KilnTensor) {
    let idx = argsort(t, dim, descending);
    let values = KilnTensor::lift(&[t, &idx], t.shape(), t.dtype(), |v| {
        v[0].gather(dim as isize, v[1])
    });
    (values, idx)
}

/// `start, start + step, ...` below `end`, stored as `dtype` is.
pub fn arange(
    range: std::ops::Range<i64>,
    step: usize,
    device: &KilnDevice,
    dtype: DType,
) -> KilnTensor {
    let step = step.max(1);
    let n =
        usize::try_from(range.end.saturating_sub(range.start)).map_or(0, |len| len.div_ceil(step));
    KilnTensor::build(device, Shape::new([n]), stored(dtype), |d| {
        Ok::<_, BurnError>(Tensor::arange_on(
            d,
            range.start as f64,
            step as f64,
            n,
            storage(dtype)?,
        )?)
    })
}

/// `data` with its first `k` dims flattened into one, `indices` (`[.., k]`) as positions in it,
/// and the check that each index lies within its dim (ONNX's GatherND and ScatterND, Burn's
/// `gather_nd` and `scatter_nd`).
fn nd_positions(
    op: &str,
    data: &KilnTensor,
    idx: &KilnTensor,
) -> (KilnTensor, Result<Check, Arc<BurnError>>, usize) {
    let dims = data.shape();
    let k = idx.shape().last().copied().unwrap_or(0);
    let lead: Vec<usize> = dims.iter().take(k).copied().collect();
    let m = idx.shape().num_elements() / k.max(1);
    let pos = idx.map_to(Shape::new([m]), DType::I32, |i| {
        let i = index(i)?.reshape(&[m, k])?;
        let mut strides = vec![1i32; k];
        for j in (0..k.saturating_sub(1)).rev() {
            strides[j] = strides[j + 1] * lead[j + 1] as i32;
        }
        let s = Tensor::from_slice_on(i.device(), &strides, &[1, k])?;
        i.mul(&s)?.sum(&[1], false)
    });
    let check = idx.tensor().and_then(|i| {
        let flag = || -> kiln::Result<Tensor> {
            let i = index(i)?.reshape(&[m, k])?;
            let limits: Vec<i32> = lead.iter().map(|&n| n as i32).collect();
            let hi = Tensor::from_slice_on(i.device(), &limits, &[1, k])?;
            outside(&i, &hi)
        };
        let f = flag().map_err(|e| Arc::new(BurnError::Kiln(e)))?;
        Ok(Check::new(f, format!("{op}: an index is outside {lead:?}")))
    });
    (pos, check, k)
}

/// `dims` with its first `k` dims as one, and the dims after them.
fn flattened(dims: &[usize], k: usize) -> (Vec<usize>, Vec<usize>) {
    let rest: Vec<usize> = dims.iter().skip(k).copied().collect();
    let mut flat = vec![dims.iter().take(k).product::<usize>()];
    flat.extend(&rest);
    (flat, rest)
}

pub fn gather_nd(data: &KilnTensor, idx: &KilnTensor) -> KilnTensor {
    let (pos, check, k) = nd_positions("gather_nd", data, idx);
    let dims = data.shape();
    let mut shape: Vec<usize> = idx
        .shape()
        .iter()
        .take(idx.shape().len().saturating_sub(1))
        .copied()
        .collect();
    shape.extend(dims.iter().skip(k));
    let out = Shape::from(shape.clone());
    KilnTensor::lift(&[data, &pos], out, data.dtype(), |v| {
        let (flat, _) = flattened(&dims, k);
        v[0].reshape(&flat)?.index_select(0, v[1])?.reshape(&shape)
    })
    .checked(check)
}

pub fn scatter_nd(
    data: &KilnTensor,
    idx: &KilnTensor,
    values: &KilnTensor,
    op: IndexingUpdateOp,
) -> KilnTensor {
    let (pos, check, k) = nd_positions("scatter_nd", data, idx);
    let dims = data.shape();
    KilnTensor::lift(&[data, &pos, values], dims.clone(), data.dtype(), |v| {
        let (flat, rest) = flattened(&dims, k);
        let mut vals = vec![v[1].numel()];
        vals.extend(&rest);
        v[0].reshape(&flat)?
            .index_reduce(0, v[1], &v[2].reshape(&vals)?, update(op))?
            .reshape(&dims)
    })
    .checked(check)
}

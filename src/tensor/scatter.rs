//! Writes at indices and ranges: `scatter_reduce` (`torch.scatter_reduce`, Burn's
//! `scatter`), `index_reduce` (`index_add` and its kin, Burn's `select_assign`) and
//! `slice_assign`. Each is a composition of views, comparisons and a row reduction over the
//! index axis: every output element folds the values whose index names it, and the
//! `output x index length` comparisons run inside one reduce kernel, never stored (three
//! kernels in all: the positions along the axis, the reduction, and its meeting with the old
//! values). The work is `output elements x index length`: cheap where the index axis is short
//! (the backward of a gather or of a cross-entropy), costly for long ones (an embedding's
//! backward over many tokens).

use super::movement::resolve_range;
use super::Tensor;
use crate::{Error, Result};
use kiln_ir::ops::{BinaryOp, ReduceOp};
use kiln_ir::{DType, IrError, Scalar, Shape};

/// How a written value meets the value already there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IndexUpdate {
    /// Replaced; where several values name one element, the last along the index axis wins.
    Assign,
    /// Added (for bool: or).
    Add,
    /// Multiplied (for bool: and).
    Mul,
    /// The maximum (NaN propagates; for bool: or).
    Max,
    /// The minimum (NaN propagates; for bool: and).
    Min,
}

impl IndexUpdate {
    /// The fold of the written values and the op that meets the old value; `None` for
    /// `Assign`.
    fn fold(self) -> Option<(ReduceOp, BinaryOp)> {
        match self {
            IndexUpdate::Assign => None,
            IndexUpdate::Add => Some((ReduceOp::Sum, BinaryOp::Add)),
            IndexUpdate::Mul => Some((ReduceOp::Prod, BinaryOp::Mul)),
            IndexUpdate::Max => Some((ReduceOp::Max, BinaryOp::Max)),
            IndexUpdate::Min => Some((ReduceOp::Min, BinaryOp::Min)),
        }
    }
}

fn bad_shape(op: &'static str, from: &Shape, to: &Shape, why: String) -> Error {
    Error::from(IrError::BadShape {
        op,
        from: from.clone(),
        to: to.clone(),
        why,
    })
}

/// A constant's value as an `f64` that `Tensor::full` converts back exactly (integer
/// identities are below 2^53).
fn scalar_f64(s: Scalar) -> f64 {
    match s {
        Scalar::F(v) => v,
        Scalar::I(v) => v as f64,
        Scalar::B(b) => b as u8 as f64,
    }
}

/// Index axes at most this long are folded by an elementwise chain of their slices (one
/// kernel, every output's hits in registers) instead of a row reduction, whose one workgroup
/// per output costs more than the work of a few hits (a cross-entropy's backward has one).
const UNROLL: usize = 8;

/// How the folded values meet the old ones: the fold's working dtype, identity and binary
/// op, and the meeting op. An empty fold never changes the old value: max with -inf, min
/// with +inf, a product with 1; a float sum meets by subtraction, `x - sum(-v)`, since `x +
/// 0` would turn -0 into +0 and `x - 0` never changes `x`. Bool folds as u32 0/1: sum and max
/// are or, product and min are and.
struct Meeting {
    work: DType,
    fold: ReduceOp,
    step: BinaryOp,
    meet: BinaryOp,
    negate: bool,
    identity: Scalar,
}

impl Meeting {
    fn of(x: &Tensor, fold: ReduceOp, meet: BinaryOp) -> Result<Meeting> {
        let (work, fold, meet, negate) = match (x.dtype(), fold) {
            (DType::Bool, ReduceOp::Sum | ReduceOp::Max) => {
                (DType::U32, ReduceOp::Max, BinaryOp::Max, false)
            }
            (DType::Bool, _) => (DType::U32, ReduceOp::Min, BinaryOp::Min, false),
            (d, ReduceOp::Sum) if d.is_float() => (d, fold, BinaryOp::Sub, true),
            (d, _) => (d, fold, meet, false),
        };
        let step = fold.tail().ok_or(IrError::UnsupportedDType {
            op: "scatter",
            dtype: x.dtype(),
            why: "a fold without a binary op",
        })?;
        let identity = fold.identity(work).ok_or(IrError::UnsupportedDType {
            op: "scatter",
            dtype: x.dtype(),
            why: "numeric or bool dtypes only",
        })?;
        Ok(Meeting {
            work,
            fold,
            step,
            meet,
            negate,
            identity,
        })
    }
}

impl Tensor {
    /// `self` with `values` written at `index` along `axis` (`torch.scatter_reduce`): for each
    /// position `c` of `index` (an `I32` tensor of `self`'s rank whose dims off `axis` are at
    /// most `self`'s; `values` has its shape and `self`'s dtype), element `c` with
    /// `c[axis] = index[c]` meets `values[c]` by `update`. An index below 0 counts from the
    /// end once; one still outside the axis writes nothing. The values naming one element are
    /// folded first (a row reduction, so a float sum is reassociated), then met with the old
    /// value once; an element no index names keeps its value, bit for bit. A float `Add` is
    /// computed as `x - sum(-v)`, so hits that cancel exactly give a zero of either sign.
    pub fn scatter_reduce(
        &self,
        axis: isize,
        index: &Tensor,
        values: &Tensor,
        update: IndexUpdate,
    ) -> Result<Tensor> {
        const OP: &str = "scatter";
        let a = self.shape().axis(OP, axis)?;
        let r = self.rank();
        if index.dtype() != DType::I32 {
            return Err(Error::from(IrError::UnsupportedDType {
                op: OP,
                dtype: index.dtype(),
                why: "the index must be i32",
            }));
        }
        if values.dtype() != self.dtype() {
            return Err(Error::from(IrError::DTypeMismatch {
                op: OP,
                lhs: self.dtype(),
                rhs: values.dtype(),
            }));
        }
        if values.shape() != index.shape() {
            return Err(bad_shape(
                OP,
                values.shape(),
                index.shape(),
                "the values must have the index's shape".into(),
            ));
        }
        let fits = index.rank() == r && (0..r).all(|d| d == a || index.dims()[d] <= self.dims()[d]);
        if !fits {
            return Err(bad_shape(
                OP,
                index.shape(),
                self.shape(),
                format!("the index needs rank {r} and dims off axis {a} at most the tensor's"),
            ));
        }
        let (n, k) = (self.dims()[a], index.dims()[a]);
        if k == 0 || index.numel() == 0 {
            // Nothing is written.
            return Ok(self.clone());
        }
        let dev = self.device();
        // Index and values with the index axis last, padded off it to `self`'s dims (with an
        // index that names nothing), then spread over the positions of `axis`.
        let mut perm: Vec<isize> = (0..r).filter(|&d| d != a).map(|d| d as isize).collect();
        perm.push(a as isize);
        let mut widths: Vec<(usize, usize)> = (0..r)
            .filter(|&d| d != a)
            .map(|d| (0, self.dims()[d] - index.dims()[d]))
            .collect();
        widths.push((0, 0));
        let mut full = self.dims().to_vec();
        full.push(k);
        let spread = |t: &Tensor, pad: f64| -> Result<Tensor> {
            t.permute(&perm)?
                .pad(&widths, pad)?
                .unsqueeze(a as isize)?
                .broadcast_to(&full)
        };
        let idx = spread(index, n as f64)?;
        let negative = idx.lt(&idx.scalar_like(0.0)?)?;
        let idx = Tensor::where_(&negative, &idx.add_scalar(n as f64)?, &idx)?;
        let mut pshape = vec![1usize; r + 1];
        pshape[a] = n;
        let pos = Tensor::arange_on(dev, 0.0, 1.0, n, DType::I32)?.reshape(&pshape)?;
        let hit = idx.eq(&pos)?;
        if k <= UNROLL {
            return self.scatter_unrolled(&hit, &spread(values, 0.0)?, update);
        }
        let Some((fold, meet)) = update.fold() else {
            // The last hit along the index axis, read from the values (padded off the axis
            // to `self`'s dims) by a gather.
            let mut kshape = vec![1usize; r + 1];
            kshape[r] = k;
            let ks = Tensor::arange_on(dev, 0.0, 1.0, k, DType::I32)?.reshape(&kshape)?;
            let last = Tensor::where_(&hit, &ks, &ks.scalar_like(-1.0)?)?.max(&[-1], false)?;
            let written = last.ge(&last.scalar_like(0.0)?)?;
            let vwidths: Vec<(usize, usize)> = (0..r)
                .map(|d| match d == a {
                    true => (0, 0),
                    false => (0, self.dims()[d] - index.dims()[d]),
                })
                .collect();
            let at = last.maximum(&last.scalar_like(0.0)?)?;
            let picked = values.pad(&vwidths, 0.0)?.gather(a as isize, &at)?;
            return Tensor::where_(&written, &picked, self);
        };
        // One reduction over the index axis (see `Meeting`).
        let m = Meeting::of(self, fold, meet)?;
        let mut vals = spread(values, 0.0)?.cast(m.work)?;
        if m.negate {
            vals = vals.neg()?;
        }
        let none = Tensor::full_on(dev, &[], scalar_f64(m.identity), m.work)?;
        let folded = Tensor::where_(&hit, &vals, &none)?.reduce(m.fold, &[-1], false)?;
        self.cast(m.work)?
            .binary(m.meet, &folded)?
            .cast(self.dtype())
    }

    /// The scatter of a short index axis: its `k` slices folded in order by an elementwise
    /// chain (`hit` and `vals` are `[x.., k]`).
    fn scatter_unrolled(&self, hit: &Tensor, vals: &Tensor, update: IndexUpdate) -> Result<Tensor> {
        let k = hit.dims()[hit.rank() - 1];
        let slice = |t: &Tensor, i: usize| t.narrow(-1, i, 1)?.squeeze(-1);
        let Some((fold, meet)) = update.fold() else {
            // Assign: the last hit wins.
            let mut acc = self.clone();
            for i in 0..k {
                acc = Tensor::where_(&slice(hit, i)?, &slice(vals, i)?, &acc)?;
            }
            return Ok(acc);
        };
        let m = Meeting::of(self, fold, meet)?;
        let none = Tensor::full_on(self.device(), &[], scalar_f64(m.identity), m.work)?;
        let mut folded = none.clone();
        for i in 0..k {
            let mut v = slice(vals, i)?.cast(m.work)?;
            if m.negate {
                v = v.neg()?;
            }
            folded = folded.binary(m.step, &Tensor::where_(&slice(hit, i)?, &v, &none)?)?;
        }
        self.cast(m.work)?
            .binary(m.meet, &folded)?
            .cast(self.dtype())
    }

    /// `self` with the slices of `values` along `axis` written at `index` (a 1-D `I32`
    /// tensor of `k` entries; `values` is `self`'s shape with `axis` of size `k`): Burn's
    /// `select_assign`, `torch.index_add` for `Add`. The index rules are `scatter_reduce`'s.
    pub fn index_reduce(
        &self,
        axis: isize,
        index: &Tensor,
        values: &Tensor,
        update: IndexUpdate,
    ) -> Result<Tensor> {
        let a = self.shape().axis("index_reduce", axis)?;
        if index.rank() != 1 {
            return Err(bad_shape(
                "index_reduce",
                index.shape(),
                &Shape::new(&[index.numel()]),
                "the index must be 1-D".into(),
            ));
        }
        let mut want = self.dims().to_vec();
        want[a] = index.numel();
        if values.dims() != want.as_slice() {
            return Err(bad_shape(
                "index_reduce",
                values.shape(),
                &Shape::new(&want),
                format!(
                    "the values must be the tensor's shape with axis {a} of the index's length"
                ),
            ));
        }
        let mut ishape = vec![1usize; self.rank()];
        ishape[a] = index.numel();
        let idx = index.reshape(&ishape)?.broadcast_to(&want)?;
        self.scatter_reduce(axis, &idx, values, update)
    }

    /// `self` with `values` written over a strided box: `ranges[d] = (start, end, step)` selects
    /// along dim `d` as [`Tensor::slice`] does (negatives count from the end, clamped; `step
    /// >= 1`); dims past `ranges` are whole. `values` broadcasts to the box's shape.
    pub fn slice_assign(
        &self,
        ranges: &[(isize, isize, usize)],
        values: &Tensor,
    ) -> Result<Tensor> {
        if ranges.len() > self.rank() {
            return Err(bad_shape(
                "slice_assign",
                self.shape(),
                self.shape(),
                format!("{} ranges for rank {}", ranges.len(), self.rank()),
            ));
        }
        let mut boxed = self.clone();
        let mut spans = Vec::with_capacity(self.rank());
        for (d, &n) in self.dims().iter().enumerate() {
            let (start, end, step) = ranges.get(d).copied().unwrap_or((0, n as isize, 1));
            boxed = boxed.slice(d as isize, start, end, step)?;
            let (s, _) = resolve_range(n, start, end);
            spans.push((s, boxed.dims()[d], step));
        }
        if values.dtype() != self.dtype() {
            return Err(Error::from(IrError::DTypeMismatch {
                op: "slice_assign",
                lhs: self.dtype(),
                rhs: values.dtype(),
            }));
        }
        let values = values.broadcast_to(boxed.dims())?;
        if boxed.numel() == 0 {
            return Ok(self.clone());
        }
        // Each dim: the written positions (a mask), and the value each reads (a pad, or an
        // index_select where the step leaves gaps).
        let dev = self.device();
        let mut placed = values;
        let mut mask: Option<Tensor> = None;
        for (d, (&n, &(s, len, step))) in self.dims().iter().zip(&spans).enumerate() {
            let mut shape = vec![1usize; self.rank()];
            shape[d] = n;
            let p = Tensor::arange_on(dev, -(s as f64), 1.0, n, DType::I32)?;
            let last = ((len - 1) * step) as f64;
            let mut m = p
                .ge(&p.scalar_like(0.0)?)?
                .logical_and(&p.le(&p.scalar_like(last)?)?)?;
            if step == 1 {
                let mut widths = vec![(0usize, 0usize); self.rank()];
                widths[d] = (s, n - s - len);
                placed = placed.pad(&widths, 0.0)?;
            } else {
                let st = p.scalar_like(step as f64)?;
                m = m.logical_and(&p.rem(&st)?.eq(&p.scalar_like(0.0)?)?)?;
                let at = p
                    .div(&st)?
                    .maximum(&p.scalar_like(0.0)?)?
                    .minimum(&p.scalar_like((len - 1) as f64)?)?;
                placed = placed.index_select(d as isize, &at)?;
            }
            let m = m.reshape(&shape)?;
            mask = Some(match mask {
                None => m,
                Some(prev) => prev.logical_and(&m)?,
            });
        }
        match mask {
            Some(m) => Tensor::where_(&m, &placed, self),
            // Rank 0: the box is the whole tensor.
            None => Ok(placed),
        }
    }
}

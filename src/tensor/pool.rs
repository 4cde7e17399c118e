//! Pooling over 1 to 4 spatial dims: max (with the index of each maximum), average and
//! adaptive average, and their gradients. The windows are a gather through a window table
//! (`window.rs`) and a reduction over the taps; a gradient scatters back through the same
//! table (`scatter_reduce`), so overlapping windows add up.

use super::window::{float_only, shape_error, Table, UNROLL_TAPS};
use super::{IndexUpdate, Tensor};
use crate::{Error, Result};
use kiln_ir::ops::ReduceOp;
use kiln_ir::{IrError, Shape};

/// Options of max and average pooling, one entry per spatial dim (PyTorch's and Burn's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolOptions {
    /// The window.
    pub kernel: Vec<usize>,
    /// Distance between window starts.
    pub stride: Vec<usize>,
    /// Padding on both sides (at most half the window).
    pub padding: Vec<usize>,
    /// Distance between a window's taps (max pooling; average pooling needs 1).
    pub dilation: Vec<usize>,
    /// Count a last window that starts inside the input or its left padding even where it
    /// runs past the end.
    pub ceil_mode: bool,
}

impl PoolOptions {
    /// Windows of `kernel`, as many apart (stride = kernel), no padding, no dilation.
    pub fn new(kernel: &[usize]) -> Self {
        PoolOptions {
            kernel: kernel.to_vec(),
            stride: kernel.to_vec(),
            padding: vec![0; kernel.len()],
            dilation: vec![1; kernel.len()],
            ceil_mode: false,
        }
    }
}

/// The spatial dims of a pooled `[n, c, spatial..]` tensor, checked.
fn spatial(op: &'static str, x: &Tensor, dims: usize) -> Result<Vec<usize>> {
    float_only(op, x)?;
    if !(3..=6).contains(&x.rank()) || x.rank() - 2 != dims {
        return Err(shape_error(
            op,
            x.shape(),
            "input [n, c, spatial..] with 1 to 4 spatial dims, one option entry each".into(),
        ));
    }
    Ok(x.dims()[2..].to_vec())
}

/// The output size of a pooled dim (PyTorch's rule, `ceil_mode` included).
fn pooled(op: &'static str, x: &Tensor, d: usize, n: usize, o: &PoolOptions) -> Result<usize> {
    let (k, s, p, dil) = (o.kernel[d], o.stride[d], o.padding[d], o.dilation[d]);
    let span = super::window::span(op, k, dil)?;
    let padded = super::window::size(op, p, 2, n)?;
    if k == 0 || s == 0 || dil == 0 || p > k / 2 || padded < span {
        return Err(shape_error(
            op,
            x.shape(),
            format!(
                "spatial dim {d} of {n}: window {k} (dilation {dil}, stride {s}) and padding \
                 {p} need padding at most half the window and the window inside the padded input"
            ),
        ));
    }
    let room = padded - span;
    let mut out = if o.ceil_mode {
        room.div_ceil(s)
    } else {
        room / s
    } + 1;
    if o.ceil_mode && (out - 1) * s >= n + p {
        out -= 1;
    }
    Ok(out)
}

impl PoolOptions {
    fn table(&self, op: &'static str, x: &Tensor) -> Result<Table> {
        let n = self.kernel.len();
        let lens = [self.stride.len(), self.padding.len(), self.dilation.len()];
        if lens.iter().any(|&l| l != n) {
            return Err(shape_error(
                op,
                x.shape(),
                format!("options need {n} entries each"),
            ));
        }
        let input = spatial(op, x, n)?;
        let out = (0..n)
            .map(|d| pooled(op, x, d, input[d], self))
            .collect::<Result<Vec<_>>>()?;
        Table::build(op, &input, &out, &self.kernel, |p, t| {
            (0..n)
                .map(|d| {
                    let i = (p[d] * self.stride[d] + t[d] * self.dilation[d]) as isize
                        - self.padding[d] as isize;
                    (0..input[d] as isize).contains(&i).then_some(i as usize)
                })
                .collect()
        })
    }
}

impl Tensor {
    /// Each window's sum, `[n, c, P]` (padding adds 0).
    fn window_sums(&self, table: &Table) -> Result<Tensor> {
        if table.width() > UNROLL_TAPS {
            return self.windows(table)?.sum(&[-1], false);
        }
        let taps = table.upload(self)?;
        let mut acc = self.tap(&taps, 0)?;
        for k in 1..table.width() {
            acc = acc.add(&self.tap(&taps, k)?)?;
        }
        Ok(acc)
    }

    /// `[n, c, P]` laid out as `[n, c, out..]`.
    fn unflatten_positions(&self, table: &Table) -> Result<Tensor> {
        let mut dims = self.dims()[..2].to_vec();
        dims.extend(&table.out);
        self.reshape(&dims)
    }

    /// Max pooling: the largest tap of each window (NaN if any is NaN); padding never wins.
    pub fn max_pool(&self, opts: &PoolOptions) -> Result<Tensor> {
        let table = opts.table("max_pool", self)?;
        if table.width() > UNROLL_TAPS {
            return Ok(self.max_pool_with_indices(opts)?.0);
        }
        let taps = table.upload(self)?;
        let len: usize = self.dims()[2..].iter().product();
        // Which taps read the input (made on the host: a computed mask read through a view
        // would be a kernel of its own per tap).
        let inside: Vec<bool> = table.index.iter().map(|&i| (i as usize) < len).collect();
        let (p, kk) = (table.positions(), table.width());
        let inside = Tensor::from_slice_on(self.device(), &inside, &[p, kk])?;
        let none = Tensor::full_on(self.device(), &[], f64::NEG_INFINITY, self.dtype())?;
        let mut acc: Option<Tensor> = None;
        for k in 0..kk {
            let valid = inside.narrow(1, k, 1)?.squeeze(1)?;
            let v = Tensor::where_(&valid, &self.tap(&taps, k)?, &none)?;
            acc = Some(match acc {
                None => v,
                Some(a) => a.maximum(&v)?,
            });
        }
        acc.unwrap_or(none).unflatten_positions(&table)
    }

    /// Max pooling and, for each output, the flat index (`I32`) within its `[spatial..]`
    /// plane of the input element that won: the first maximum of the window in tap order, or
    /// its first NaN.
    pub fn max_pool_with_indices(&self, opts: &PoolOptions) -> Result<(Tensor, Tensor)> {
        let table = opts.table("max_pool", self)?;
        let taps = table.upload(self)?;
        let len: usize = self.dims()[2..].iter().product();
        let valid = taps.lt(&taps.scalar_like(len as f64)?)?;
        let w = self.windows(&table)?;
        let w = Tensor::where_(&valid, &w, &w.scalar_like(f64::NEG_INFINITY)?)?;
        let values = w.max(&[-1], false)?.unflatten_positions(&table)?;
        let best = w.reduce(ReduceOp::ArgMax, &[-1], true)?;
        let (n, c, p, k) = (w.dims()[0], w.dims()[1], w.dims()[2], w.dims()[3]);
        let from = taps.reshape(&[1, 1, p, k])?.broadcast_to(&[n, c, p, k])?;
        let index = from.gather(3, &best)?.squeeze(3)?;
        // A window whose input taps are all -inf ties with its padding: the first input tap
        // wins then (every window has one: padding is at most half the window).
        let first: Vec<i32> = table
            .index
            .chunks(k.max(1))
            .map(|taps| {
                taps.iter()
                    .copied()
                    .find(|&i| (i as usize) < len)
                    .unwrap_or(0)
            })
            .collect();
        let first = Tensor::from_slice_on(self.device(), &first, &[p])?;
        let padded = index.ge(&index.scalar_like(len as f64)?)?;
        let index = Tensor::where_(&padded, &first, &index)?.unflatten_positions(&table)?;
        Ok((values, index))
    }

    /// The gradient of max pooling with respect to its input `self`: each output's gradient
    /// added at the element that won (`indices` from [`Tensor::max_pool_with_indices`]).
    pub fn max_pool_backward(&self, grad: &Tensor, indices: &Tensor) -> Result<Tensor> {
        spatial("max_pool_backward", self, self.rank().saturating_sub(2))?;
        if indices.dtype() != kiln_ir::DType::I32 || grad.dtype() != self.dtype() {
            return Err(Error::from(IrError::DTypeMismatch {
                op: "max_pool_backward",
                lhs: self.dtype(),
                rhs: grad.dtype(),
            }));
        }
        let (n, c) = (self.dims()[0], self.dims()[1]);
        let len: usize = self.dims()[2..].iter().product();
        if grad.shape() != indices.shape()
            || grad.rank() != self.rank()
            || grad.dims()[..2] != [n, c]
        {
            return Err(shape_error(
                "max_pool_backward",
                grad.shape(),
                format!("a gradient and indices of one shape [{n}, {c}, ..]"),
            ));
        }
        let p = grad.numel() / (n * c).max(1);
        let zeros = Tensor::full_on(self.device(), &[n, c, len], 0.0, self.dtype())?;
        zeros
            .scatter_reduce(
                2,
                &indices.reshape(&[n, c, p])?,
                &grad.reshape(&[n, c, p])?,
                IndexUpdate::Add,
            )?
            .reshape(self.dims())
    }

    /// Average pooling (no dilation): the sum of each window over its count, which with
    /// `count_include_pad` counts padding (not what `ceil_mode` adds past it), else only the
    /// input's elements (PyTorch's rule).
    pub fn avg_pool(&self, opts: &PoolOptions, count_include_pad: bool) -> Result<Tensor> {
        let (table, div) = avg_table(self, opts, count_include_pad)?;
        let sum = self.window_sums(&table)?;
        sum.div(&div)?.unflatten_positions(&table)
    }

    /// The gradient of [`Tensor::avg_pool`] with respect to its input `self`.
    pub fn avg_pool_backward(
        &self,
        grad: &Tensor,
        opts: &PoolOptions,
        count_include_pad: bool,
    ) -> Result<Tensor> {
        let (table, div) = avg_table(self, opts, count_include_pad)?;
        self.spread_back("avg_pool_backward", grad, &table, &div)
    }

    /// Adaptive average pooling to `out` (one size per spatial dim): output `i` of a dim of
    /// `n` averages the input's `floor(i·n/out)..ceil((i+1)·n/out)`.
    pub fn adaptive_avg_pool(&self, out: &[usize]) -> Result<Tensor> {
        let (table, div) = adaptive_table(self, out)?;
        let sum = self.window_sums(&table)?;
        sum.div(&div)?.unflatten_positions(&table)
    }

    /// The gradient of [`Tensor::adaptive_avg_pool`] with respect to its input `self`.
    pub fn adaptive_avg_pool_backward(&self, grad: &Tensor) -> Result<Tensor> {
        if grad.rank() != self.rank() {
            return Err(shape_error(
                "adaptive_avg_pool_backward",
                grad.shape(),
                format!("the gradient must have rank {}", self.rank()),
            ));
        }
        let (table, div) = adaptive_table(self, &grad.dims()[2..])?;
        self.spread_back("adaptive_avg_pool_backward", grad, &table, &div)
    }

    /// Each output's gradient over its divisor, added at every input element its window
    /// reads.
    fn spread_back(
        &self,
        op: &'static str,
        grad: &Tensor,
        table: &Table,
        div: &Tensor,
    ) -> Result<Tensor> {
        let (n, c) = (self.dims()[0], self.dims()[1]);
        let (p, k) = (table.positions(), table.width());
        let mut want = vec![n, c];
        want.extend(&table.out);
        if grad.dims() != want.as_slice() || grad.dtype() != self.dtype() {
            return Err(shape_error(
                op,
                grad.shape(),
                format!("the gradient must be {}", Shape::new(&want)),
            ));
        }
        let len: usize = self.dims()[2..].iter().product();
        let share = grad
            .reshape(&[n, c, p])?
            .div(div)?
            .unsqueeze(-1)?
            .broadcast_to(&[n, c, p, k])?
            .reshape(&[n, c, p * k])?;
        let index = table
            .upload(self)?
            .reshape(&[1, 1, p * k])?
            .broadcast_to(&[n, c, p * k])?;
        Tensor::full_on(self.device(), &[n, c, len], 0.0, self.dtype())?
            .scatter_reduce(2, &index, &share, IndexUpdate::Add)?
            .reshape(self.dims())
    }
}

/// Average pooling's table and its divisor per position (`[P]`, made on the host).
fn avg_table(x: &Tensor, o: &PoolOptions, include_pad: bool) -> Result<(Table, Tensor)> {
    if o.dilation.iter().any(|&d| d != 1) {
        return Err(shape_error(
            "avg_pool",
            x.shape(),
            "average pooling takes no dilation".into(),
        ));
    }
    let table = o.table("avg_pool", x)?;
    let input = &x.dims()[2..];
    let div: Vec<f32> = (0..table.positions())
        .map(|pi| {
            let p = super::window::unflatten(pi, &table.out);
            (0..input.len())
                .map(|d| {
                    let start = (p[d] * o.stride[d]) as isize - o.padding[d] as isize;
                    let end =
                        (start + o.kernel[d] as isize).min((input[d] + o.padding[d]) as isize);
                    if include_pad {
                        (end - start) as f32
                    } else {
                        (end.min(input[d] as isize) - start.max(0)) as f32
                    }
                })
                .product()
        })
        .collect();
    let div = Tensor::from_slice_on(x.device(), &div, &[table.positions()])?.cast(x.dtype())?;
    Ok((table, div))
}

/// Adaptive average pooling's table (taps up to the widest window) and divisors.
fn adaptive_table(x: &Tensor, out: &[usize]) -> Result<(Table, Tensor)> {
    const OP: &str = "adaptive_avg_pool";
    let input = spatial(OP, x, out.len())?;
    if out.contains(&0) || input.contains(&0) {
        return Err(shape_error(
            OP,
            x.shape(),
            format!("output {out:?} and input need sizes of at least 1"),
        ));
    }
    let start = |d: usize, i: usize| i * input[d] / out[d];
    let end = |d: usize, i: usize| ((i + 1) * input[d]).div_ceil(out[d]);
    let taps: Vec<usize> = (0..out.len())
        .map(|d| {
            (0..out[d])
                .map(|i| end(d, i) - start(d, i))
                .max()
                .unwrap_or(1)
        })
        .collect();
    let table = Table::build(OP, &input, out, &taps, |p, t| {
        (0..out.len())
            .map(|d| {
                let i = start(d, p[d]) + t[d];
                (i < end(d, p[d])).then_some(i)
            })
            .collect()
    })?;
    let div: Vec<f32> = (0..table.positions())
        .map(|pi| {
            let p = super::window::unflatten(pi, out);
            (0..out.len())
                .map(|d| (end(d, p[d]) - start(d, p[d])) as f32)
                .product()
        })
        .collect();
    let div = Tensor::from_slice_on(x.device(), &div, &[table.positions()])?.cast(x.dtype())?;
    Ok((table, div))
}

//! Convolutions and transposed convolutions over 1 to 4 spatial dims, strided, padded,
//! dilated and grouped: the columns of the input through a window table (one gather, the
//! `im2col` matrix) and one matmul batched over the groups, with the bias added after.

use super::window::{float_only, shape_error, size, span, Table};
use super::Tensor;
use crate::{Error, Result};
use kiln_ir::IrError;

/// Options of [`Tensor::conv`], one entry per spatial dim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvOptions {
    /// Distance between window starts.
    pub stride: Vec<usize>,
    /// Zeros added before and after each spatial dim.
    pub padding: Vec<(usize, usize)>,
    /// Distance between a window's taps.
    pub dilation: Vec<usize>,
    /// Channel groups: input and output channels split into `groups` independent parts.
    pub groups: usize,
}

impl ConvOptions {
    /// Stride 1, no padding, no dilation, one group, for `spatial` dims.
    pub fn new(spatial: usize) -> Self {
        ConvOptions {
            stride: vec![1; spatial],
            padding: vec![(0, 0); spatial],
            dilation: vec![1; spatial],
            groups: 1,
        }
    }
}

/// Options of [`Tensor::conv_transpose`], one entry per spatial dim (PyTorch's and Burn's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvTransposeOptions {
    /// The forward convolution's stride.
    pub stride: Vec<usize>,
    /// The forward convolution's padding (on both sides).
    pub padding: Vec<usize>,
    /// Extra elements after the end of each output dim (less than the stride or dilation).
    pub output_padding: Vec<usize>,
    /// Distance between a window's taps.
    pub dilation: Vec<usize>,
    /// Channel groups.
    pub groups: usize,
}

impl ConvTransposeOptions {
    /// Stride 1, no padding, no dilation, one group, for `spatial` dims.
    pub fn new(spatial: usize) -> Self {
        ConvTransposeOptions {
            stride: vec![1; spatial],
            padding: vec![0; spatial],
            output_padding: vec![0; spatial],
            dilation: vec![1; spatial],
            groups: 1,
        }
    }
}

/// Checks what a convolution of `x` by `w` shares with its transpose: float and one dtype,
/// `[n, c, spatial..]` with 1 to 4 spatial dims, a weight of the same rank, every option one
/// entry per spatial dim and at least 1 where it is a step, channels dividing by the groups.
fn check(
    op: &'static str,
    x: &Tensor,
    w: &Tensor,
    lens: &[usize],
    steps: &[&[usize]],
    groups: usize,
) -> Result<usize> {
    float_only(op, x)?;
    if w.dtype() != x.dtype() {
        return Err(Error::from(IrError::DTypeMismatch {
            op,
            lhs: x.dtype(),
            rhs: w.dtype(),
        }));
    }
    let r = x.rank();
    if !(3..=6).contains(&r) || w.rank() != r {
        return Err(shape_error(
            op,
            x.shape(),
            format!(
                "input [n, c, 1 to 4 spatial dims] and a weight of its rank ({})",
                w.shape()
            ),
        ));
    }
    let s = r - 2;
    if lens.iter().any(|&l| l != s) || steps.iter().any(|v| v.contains(&0)) || groups == 0 {
        return Err(shape_error(
            op,
            x.shape(),
            format!("options need {s} entries each, strides and dilations and groups at least 1"),
        ));
    }
    Ok(s)
}

impl Tensor {
    /// The convolution of `self` (`[n, c, spatial..]`, 1 to 4 spatial dims) by `weight`
    /// (`[o, c / groups, kernel..]`), plus `bias` (`[o]`) if given: `[n, o, out..]` with
    /// `out = (in + pad_before + pad_after - dilation·(kernel - 1) - 1) / stride + 1` (a
    /// cross-correlation, as PyTorch's and Burn's). Accumulated like a matmul over
    /// `c / groups · kernel` terms.
    pub fn conv(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        opts: &ConvOptions,
    ) -> Result<Tensor> {
        const OP: &str = "conv";
        let lens = [opts.stride.len(), opts.padding.len(), opts.dilation.len()];
        let s = check(
            OP,
            self,
            weight,
            &lens,
            &[&opts.stride, &opts.dilation],
            opts.groups,
        )?;
        let g = opts.groups;
        let (c, o, cg) = (self.dims()[1], weight.dims()[0], weight.dims()[1]);
        if c % g != 0 || o % g != 0 || cg != c / g {
            return Err(shape_error(
                OP,
                weight.shape(),
                format!("{c} input and {o} output channels in {g} groups need a weight of [{o}, {}, ..]", c / g),
            ));
        }
        let input = &self.dims()[2..];
        let kernel = &weight.dims()[2..];
        let mut out = Vec::with_capacity(s);
        for d in 0..s {
            let (pb, pa) = opts.padding[d];
            let span = span(OP, kernel[d], opts.dilation[d])?;
            let padded = size(OP, 1, input[d], pb).and_then(|n| size(OP, 1, n, pa))?;
            if kernel[d] == 0 || padded < span {
                return Err(shape_error(
                    OP,
                    self.shape(),
                    format!("a window of {span} does not fit spatial dim {d} of {padded} (padded)"),
                ));
            }
            out.push((padded - span) / opts.stride[d] + 1);
        }
        let table = Table::build(OP, input, &out, kernel, |p, t| {
            (0..s)
                .map(|d| {
                    let i = (p[d] * opts.stride[d] + t[d] * opts.dilation[d]) as isize
                        - opts.padding[d].0 as isize;
                    (0..input[d] as isize).contains(&i).then_some(i as usize)
                })
                .collect()
        })?;
        let w = weight.reshape(&[g, o / g, cg * table.width()])?;
        self.grouped_product(OP, &table, &w, o, bias)
    }

    /// The transposed convolution (the gradient of [`Tensor::conv`] with respect to its
    /// input) of `self` (`[n, c, spatial..]`) by `weight` (`[c, o / groups, kernel..]`), plus
    /// `bias` (`[o]`): `[n, o, out..]` with `out = (in - 1)·stride - 2·padding +
    /// dilation·(kernel - 1) + output_padding + 1`.
    pub fn conv_transpose(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        opts: &ConvTransposeOptions,
    ) -> Result<Tensor> {
        const OP: &str = "conv_transpose";
        let lens = [
            opts.stride.len(),
            opts.padding.len(),
            opts.output_padding.len(),
            opts.dilation.len(),
        ];
        let s = check(
            OP,
            self,
            weight,
            &lens,
            &[&opts.stride, &opts.dilation],
            opts.groups,
        )?;
        let g = opts.groups;
        let (c, og) = (self.dims()[1], weight.dims()[1]);
        if c % g != 0 || weight.dims()[0] != c {
            return Err(shape_error(
                OP,
                weight.shape(),
                format!("{c} input channels in {g} groups need a weight of [{c}, o / {g}, ..]"),
            ));
        }
        let input = &self.dims()[2..];
        let kernel = &weight.dims()[2..];
        let mut out = Vec::with_capacity(s);
        for d in 0..s {
            let (st, dil, pad, op) = (
                opts.stride[d],
                opts.dilation[d],
                opts.padding[d],
                opts.output_padding[d],
            );
            let full = size(OP, input[d].max(1) - 1, st, op)?;
            let full = size(OP, 1, full, span(OP, kernel[d], dil)?)?;
            if kernel[d] == 0
                || input[d] == 0
                || op >= st.max(dil)
                || pad.checked_mul(2).is_none_or(|p2| full <= p2)
            {
                return Err(shape_error(
                    OP,
                    self.shape(),
                    format!(
                        "spatial dim {d}: output padding {op} must be below the stride or \
                         dilation, and padding {pad} must leave an output"
                    ),
                ));
            }
            out.push(full - 2 * pad);
        }
        let table = Table::build(OP, input, &out, kernel, |p, t| {
            (0..s)
                .map(|d| {
                    let num =
                        (p[d] + opts.padding[d]) as isize - (t[d] * opts.dilation[d]) as isize;
                    let st = opts.stride[d] as isize;
                    let i = num / st;
                    (num >= 0 && num % st == 0 && i < input[d] as isize).then_some(i as usize)
                })
                .collect()
        })?;
        let k = table.width();
        let w = weight
            .reshape(&[g, c / g, og, k])?
            .permute(&[0, 2, 1, 3])?
            .reshape(&[g, og, c / g * k])?;
        self.grouped_product(OP, &table, &w, og * g, bias)
    }

    /// `w @ columns(table)` per group (`w`: `[groups, o / groups, cg·K]`), laid out as
    /// `[n, o, out..]`, plus the bias.
    fn grouped_product(
        &self,
        op: &'static str,
        table: &Table,
        w: &Tensor,
        o: usize,
        bias: Option<&Tensor>,
    ) -> Result<Tensor> {
        let g = w.dims()[0];
        let n = self.dims()[0];
        let p = table.positions();
        let y = w
            .matmul(&self.columns_t(g, table)?)?
            .reshape(&[g, o / g, n, p])?
            .permute(&[2, 0, 1, 3])?;
        let mut dims = vec![n, o];
        dims.extend(&table.out);
        let y = y.reshape(&[n, o, p])?.reshape(&dims)?;
        match bias {
            None => Ok(y),
            Some(b) if b.dims() == [o] => {
                let mut bshape = vec![1usize; dims.len()];
                bshape[1] = o;
                y.add(&b.reshape(&bshape)?)
            }
            Some(b) => Err(shape_error(
                op,
                b.shape(),
                format!("the bias must be [{o}]"),
            )),
        }
    }
}

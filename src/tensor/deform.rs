//! Deformable 2-D convolution (torchvision's `deform_conv2d`, Burn's `deform_conv2d`) and its
//! gradients. Each tap of each window is moved by a learned offset and read by bilinear
//! interpolation (four gathers with weights computed on the device), optionally scaled by a
//! learned mask; the columns then meet the weight in one grouped matmul, as in `conv`.

use super::window::shape_error;
use super::{IndexUpdate, Tensor};
use crate::{Error, Result};
use kiln_ir::{DType, IrError};

/// Options of [`Tensor::deform_conv2d`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeformConvOptions {
    /// Distance between window starts `[h, w]`.
    pub stride: [usize; 2],
    /// Padding on both sides `[h, w]`.
    pub padding: [usize; 2],
    /// Distance between a window's taps `[h, w]`.
    pub dilation: [usize; 2],
    /// Channel groups of the weight.
    pub weight_groups: usize,
    /// Channel groups sharing one set of offsets (and mask).
    pub offset_groups: usize,
}

/// The gradients of [`Tensor::deform_conv2d`].
#[derive(Clone, Debug)]
pub struct DeformConvGrads {
    /// With respect to the input.
    pub x: Tensor,
    /// With respect to the offsets.
    pub offset: Tensor,
    /// With respect to the weight.
    pub weight: Tensor,
    /// With respect to the mask, where one was given.
    pub mask: Option<Tensor>,
    /// With respect to the bias: the output gradient summed over all but the channels.
    pub bias: Tensor,
}

/// The bilinear samples of one deformable convolution and what its gradients reuse.
struct Samples {
    /// `[n, og, cog, k, p]`: each channel's value at each moved tap, before the mask.
    value: Tensor,
    /// `[n, og, 1, k, p]`: the mask (ones without one).
    mask: Tensor,
    /// Per corner: the flat input index (`h·w` where the corner is outside), `[n, og, k, p]`.
    index: Vec<Tensor>,
    /// Per corner: its bilinear weight and the weight's derivatives along h and w, `[n, og,
    /// 1, k, p]` (zero where the moved tap is outside the input).
    weight: Vec<[Tensor; 3]>,
    /// Per corner: the gathered input `[n, og, cog, k, p]` (0 outside).
    corner: Vec<Tensor>,
}

/// The sizes of one call: `(n, c, h, w, o, kh, kw, ho, wo)`.
type Sizes = (
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
);

impl DeformConvOptions {
    /// Checks the operands and gives the sizes.
    fn sizes(
        &self,
        x: &Tensor,
        offset: &Tensor,
        weight: &Tensor,
        mask: Option<&Tensor>,
    ) -> Result<Sizes> {
        const OP: &str = "deform_conv2d";
        super::window::float_only(OP, x)?;
        let odd = [offset, weight]
            .into_iter()
            .chain(mask)
            .find(|t| t.dtype() != x.dtype());
        if let Some(t) = odd {
            return Err(Error::from(IrError::DTypeMismatch {
                op: OP,
                lhs: x.dtype(),
                rhs: t.dtype(),
            }));
        }
        if x.rank() != 4 || weight.rank() != 4 || offset.rank() != 4 {
            return Err(shape_error(
                OP,
                x.shape(),
                "input, offset and weight of rank 4".into(),
            ));
        }
        let [n, c, h, w] = [x.dims()[0], x.dims()[1], x.dims()[2], x.dims()[3]];
        let [o, cg, kh, kw] = [
            weight.dims()[0],
            weight.dims()[1],
            weight.dims()[2],
            weight.dims()[3],
        ];
        let (wg, og) = (self.weight_groups, self.offset_groups);
        let steps = self.stride.iter().chain(&self.dilation).all(|&s| s > 0);
        if wg == 0 || og == 0 || !steps || c % wg != 0 || o % wg != 0 || cg != c / wg || c % og != 0
        {
            return Err(shape_error(
                OP,
                weight.shape(),
                format!("{c} channels in {wg} weight groups and {og} offset groups, strides and dilations at least 1"),
            ));
        }
        let out = |d: usize, n: usize, k: usize| -> Result<usize> {
            let span = super::window::span(OP, k, self.dilation[d])?;
            let padded = super::window::size(OP, self.padding[d], 2, n)?;
            if k == 0 || padded < span {
                return Err(shape_error(
                    OP,
                    x.shape(),
                    format!("the window does not fit dim {d}"),
                ));
            }
            Ok((padded - span) / self.stride[d] + 1)
        };
        let (ho, wo) = (out(0, h, kh)?, out(1, w, kw)?);
        let k = kh * kw;
        if offset.dims() != [n, 2 * og * k, ho, wo] {
            return Err(shape_error(
                OP,
                offset.shape(),
                format!("the offset must be [{n}, {}, {ho}, {wo}]", 2 * og * k),
            ));
        }
        if let Some(m) = mask {
            if m.dims() != [n, og * k, ho, wo] {
                return Err(shape_error(
                    OP,
                    m.shape(),
                    format!("the mask must be [{n}, {}, {ho}, {wo}]", og * k),
                ));
            }
        }
        if h * w >= 1 << 24 {
            return Err(Error::from(IrError::SizeOverflow {
                op: OP,
                why: format!("{h} x {w} positions are past f32's exact integers"),
            }));
        }
        Ok((n, c, h, w, o, kh, kw, ho, wo))
    }
}

impl Tensor {
    /// The deformable convolution of `self` (`[n, c, h, w]`) by `weight` (`[o, c /
    /// weight_groups, kh, kw]`): tap `(i, j)` of the window at `(y, x)` reads the input at
    /// `(y·stride - pad + i·dilation + dy, x·stride - pad + j·dilation + dx)` by bilinear
    /// interpolation (corners outside the input read 0; a point at or past a border's outer
    /// neighbour reads 0), scaled by `mask`. `offset` is `[n, 2·offset_groups·kh·kw, ho, wo]`
    /// (`dy` then `dx` per group and tap), `mask` `[n, offset_groups·kh·kw, ho, wo]`, `bias`
    /// `[o]`.
    pub fn deform_conv2d(
        &self,
        offset: &Tensor,
        weight: &Tensor,
        mask: Option<&Tensor>,
        bias: Option<&Tensor>,
        opts: &DeformConvOptions,
    ) -> Result<Tensor> {
        let sz = opts.sizes(self, offset, weight, mask)?;
        let (n, c, _, _, o, kh, kw, ho, wo) = sz;
        let s = self.deform_samples(offset, mask, opts, sz)?;
        let (wg, k, p) = (opts.weight_groups, kh * kw, ho * wo);
        let cols = s
            .value
            .mul(&s.mask)?
            .reshape(&[n, wg, c / wg, k, p])?
            .permute(&[1, 0, 4, 2, 3])?
            .reshape(&[wg, n * p, c / wg * k])?;
        let wt = weight.reshape(&[wg, o / wg, c / wg * k])?.transpose(1, 2)?;
        let y = cols
            .matmul(&wt)?
            .reshape(&[wg, n, p, o / wg])?
            .permute(&[1, 0, 3, 2])?
            .reshape(&[n, o, ho, wo])?;
        match bias {
            None => Ok(y),
            Some(b) if b.dims() == [o] => y.add(&b.reshape(&[1, o, 1, 1])?),
            Some(b) => Err(shape_error(
                "deform_conv2d",
                b.shape(),
                format!("the bias must be [{o}]"),
            )),
        }
    }

    /// The gradients of [`Tensor::deform_conv2d`] given the output's gradient `grad`
    /// (torchvision's: the offsets' through the bilinear weights' derivatives, zero where the
    /// moved tap is outside the input).
    pub fn deform_conv2d_backward(
        &self,
        offset: &Tensor,
        weight: &Tensor,
        mask: Option<&Tensor>,
        grad: &Tensor,
        opts: &DeformConvOptions,
    ) -> Result<DeformConvGrads> {
        let sz = opts.sizes(self, offset, weight, mask)?;
        let (n, c, h, w, o, kh, kw, ho, wo) = sz;
        if grad.dims() != [n, o, ho, wo] || grad.dtype() != self.dtype() {
            return Err(shape_error(
                "deform_conv2d_backward",
                grad.shape(),
                format!("the gradient must be [{n}, {o}, {ho}, {wo}]"),
            ));
        }
        let s = self.deform_samples(offset, mask, opts, sz)?;
        let (wg, og, k, p) = (opts.weight_groups, opts.offset_groups, kh * kw, ho * wo);
        let cg = c / wg;
        let g = grad
            .reshape(&[n, wg, o / wg, p])?
            .permute(&[1, 0, 3, 2])?
            .reshape(&[wg, n * p, o / wg])?;
        let cols = s
            .value
            .mul(&s.mask)?
            .reshape(&[n, wg, cg, k, p])?
            .permute(&[1, 0, 4, 2, 3])?
            .reshape(&[wg, n * p, cg * k])?;
        let weight_grad = g.transpose(1, 2)?.matmul(&cols)?.reshape(weight.dims())?;
        let wmat = weight.reshape(&[wg, o / wg, cg * k])?;
        // The columns' gradient, `[n, og, cog, k, p]`.
        let gc = g
            .matmul(&wmat)?
            .reshape(&[wg, n, p, cg, k])?
            .permute(&[1, 0, 3, 4, 2])?
            .reshape(&[n, og, c / og, k, p])?;
        let mask_grad = match mask {
            None => None,
            Some(_) => Some(
                gc.mul(&s.value)?
                    .sum(&[2], false)?
                    .reshape(&[n, og * k, ho, wo])?,
            ),
        };
        let gm = gc.mul(&s.mask)?;
        let mut dy: Option<Tensor> = None;
        let mut dx: Option<Tensor> = None;
        let mut vals = Vec::with_capacity(4);
        let mut idxs = Vec::with_capacity(4);
        for (corner, [wt, wy, wx]) in s.corner.iter().zip(&s.weight) {
            let ty = corner.mul(wy)?;
            let tx = corner.mul(wx)?;
            dy = Some(match dy {
                None => ty,
                Some(a) => a.add(&ty)?,
            });
            dx = Some(match dx {
                None => tx,
                Some(a) => a.add(&tx)?,
            });
            vals.push(gm.mul(wt)?.reshape(&[n, og, c / og, k * p])?);
        }
        for ix in &s.index {
            idxs.push(
                ix.reshape(&[n, og, 1, k * p])?
                    .broadcast_to(&[n, og, c / og, k * p])?,
            );
        }
        let (dy, dx) = (dy.ok_or_else(no_corner)?, dx.ok_or_else(no_corner)?);
        let oy = gm.mul(&dy)?.sum(&[2], false)?.unsqueeze(3)?;
        let ox = gm.mul(&dx)?.sum(&[2], false)?.unsqueeze(3)?;
        let offset_grad = Tensor::concat(&[&oy, &ox], 3)?.reshape(offset.dims())?;
        let vals: Vec<&Tensor> = vals.iter().collect();
        let idxs: Vec<&Tensor> = idxs.iter().collect();
        let x_grad = Tensor::full_on(self.device(), &[n, og, c / og, h * w], 0.0, self.dtype())?
            .scatter_reduce(
                3,
                &Tensor::concat(&idxs, 3)?,
                &Tensor::concat(&vals, 3)?,
                IndexUpdate::Add,
            )?
            .reshape(self.dims())?;
        Ok(DeformConvGrads {
            x: x_grad,
            offset: offset_grad,
            weight: weight_grad,
            mask: mask_grad,
            bias: grad.sum(&[0, 2, 3], false)?,
        })
    }

    /// Bilinear samples of `self` at every moved tap.
    fn deform_samples(
        &self,
        offset: &Tensor,
        mask: Option<&Tensor>,
        o: &DeformConvOptions,
        sz: Sizes,
    ) -> Result<Samples> {
        let (n, c, h, w, _, kh, kw, ho, wo) = sz;
        let (og, k, p) = (o.offset_groups, kh * kw, ho * wo);
        let dev = self.device();
        // Where each tap would read without offsets, `[k, p]`.
        let mut by = Vec::with_capacity(k * p);
        let mut bx = Vec::with_capacity(k * p);
        for t in 0..k {
            for q in 0..p {
                let (i, j, y, x) = (t / kw, t % kw, q / wo, q % wo);
                by.push((y * o.stride[0] + i * o.dilation[0]) as f32 - o.padding[0] as f32);
                bx.push((x * o.stride[1] + j * o.dilation[1]) as f32 - o.padding[1] as f32);
            }
        }
        let by = Tensor::from_slice_on(dev, &by, &[k, p])?;
        let bx = Tensor::from_slice_on(dev, &bx, &[k, p])?;
        let off = offset.cast(DType::F32)?.reshape(&[n, og, k, 2, p])?;
        let y = off.narrow(3, 0, 1)?.squeeze(3)?.add(&by)?;
        let x = off.narrow(3, 1, 1)?.squeeze(3)?.add(&bx)?;
        let (y0, x0) = (y.floor()?, x.floor()?);
        let (ly, lx) = (y.sub(&y0)?, x.sub(&x0)?);
        let (hy, hx) = (ly.neg()?.add_scalar(1.0)?, lx.neg()?.add_scalar(1.0)?);
        let gt = |t: &Tensor, v: f64| t.gt(&t.scalar_like(v)?);
        let lt = |t: &Tensor, v: f64| t.lt(&t.scalar_like(v)?);
        let inside = gt(&y, -1.0)?
            .logical_and(&lt(&y, h as f64)?)?
            .logical_and(&gt(&x, -1.0)?)?
            .logical_and(&lt(&x, w as f64)?)?;
        let xs = self.reshape(&[n, og, c / og, h * w])?;
        let zero = y.scalar_like(0.0)?;
        let (mut index, mut weight, mut corner) = (vec![], vec![], vec![]);
        let mut value: Option<Tensor> = None;
        for (cy, cx) in [(false, false), (false, true), (true, false), (true, true)] {
            let (yc, xc) = (
                y0.add_scalar(cy as u8 as f64)?,
                x0.add_scalar(cx as u8 as f64)?,
            );
            let valid = inside
                .logical_and(&gt(&yc, -0.5)?)?
                .logical_and(&lt(&yc, h as f64 - 0.5)?)?
                .logical_and(&gt(&xc, -0.5)?)?
                .logical_and(&lt(&xc, w as f64 - 0.5)?)?;
            let flat = yc.mul_scalar(w as f64)?.add(&xc)?;
            let idx = Tensor::where_(&valid, &flat, &flat.scalar_like((h * w) as f64)?)?
                .cast(DType::I32)?;
            let (fy, fx) = (if cy { &ly } else { &hy }, if cx { &lx } else { &hx });
            let sign = |far: bool| if far { 1.0 } else { -1.0 };
            // The weight, and its derivatives along y (±fx) and x (±fy); all zero where the
            // moved tap is outside.
            let keep = |t: Tensor| -> Result<Tensor> {
                Tensor::where_(&inside, &t, &zero)?
                    .cast(self.dtype())?
                    .unsqueeze(2)
            };
            let wt = keep(fy.mul(fx)?)?;
            let wy = keep(fx.mul_scalar(sign(cy))?)?;
            let wx = keep(fy.mul_scalar(sign(cx))?)?;
            let gi = idx
                .reshape(&[n, og, 1, k * p])?
                .broadcast_to(&[n, og, c / og, k * p])?;
            let v = xs.gather(3, &gi)?.reshape(&[n, og, c / og, k, p])?;
            let term = v.mul(&wt)?;
            value = Some(match value {
                None => term,
                Some(a) => a.add(&term)?,
            });
            index.push(idx);
            weight.push([wt, wy, wx]);
            corner.push(v);
        }
        Ok(Samples {
            value: value.ok_or_else(no_corner)?,
            mask: match mask {
                Some(m) => m.reshape(&[n, og, 1, k, p])?,
                None => Tensor::full_on(dev, &[1, 1, 1, 1, 1], 1.0, self.dtype())?,
            },
            index,
            weight,
            corner,
        })
    }
}

fn no_corner() -> Error {
    Error::from(IrError::Verify("bilinear sampling without corners".into()))
}

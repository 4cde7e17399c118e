//! Burn's `ModuleOps` on kiln: convolutions, pooling, interpolation and attention, each kiln's
//! own op (docs/OPS.md), with their backward ops; the rest of Burn's module ops (linear,
//! embedding, 1-D forms, ...) are Burn's defaults over the tensor ops, which lower to kiln.

use super::Kiln;
use crate::KilnTensor;
use burn_backend::ops::{
    AttentionModuleOptions, ConvOptions, ConvTransposeOptions, DeformConv2dBackward,
    DeformConvOptions, InterpolateMode, InterpolateOptions, MaxPool2dBackward,
    MaxPool2dWithIndices, ModuleOps,
};
use burn_backend::tensor::{BoolTensor, FloatTensor, IntTensor};
use burn_backend::TensorMetadata;
use burn_std::{DType, IntDType, Shape};
use kiln::{PoolOptions, Tensor};

fn conv_options<const N: usize>(o: &ConvOptions<N>) -> kiln::ConvOptions {
    kiln::ConvOptions {
        stride: o.stride.to_vec(),
        padding: o.padding.to_vec(),
        dilation: o.dilation.to_vec(),
        groups: o.groups,
    }
}

fn conv_transpose_options<const N: usize>(
    o: &ConvTransposeOptions<N>,
) -> kiln::ConvTransposeOptions {
    kiln::ConvTransposeOptions {
        stride: o.stride.to_vec(),
        padding: o.padding.to_vec(),
        output_padding: o.padding_out.to_vec(),
        dilation: o.dilation.to_vec(),
        groups: o.groups,
    }
}

fn deform_options(o: &DeformConvOptions<2>) -> kiln::DeformConvOptions {
    kiln::DeformConvOptions {
        stride: o.stride,
        padding: o.padding,
        dilation: o.dilation,
        weight_groups: o.weight_groups,
        offset_groups: o.offset_groups,
    }
}

fn pool_options(
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    ceil_mode: bool,
) -> PoolOptions {
    PoolOptions {
        kernel: kernel.to_vec(),
        stride: stride.to_vec(),
        padding: padding.to_vec(),
        dilation: dilation.to_vec(),
        ceil_mode,
    }
}

/// The inputs of an op with optional operands: the present ones, in order.
fn present<'a>(
    first: &[&'a KilnTensor],
    optional: &[Option<&'a KilnTensor>],
) -> Vec<&'a KilnTensor> {
    first
        .iter()
        .copied()
        .chain(optional.iter().flatten().copied())
        .collect()
}

/// The shape a failed op reports where its result shape is not worked out here: the first
/// operand's (the error itself says what went wrong).
fn same(t: &KilnTensor) -> Shape {
    t.shape()
}

fn conv(
    x: &KilnTensor,
    w: &KilnTensor,
    b: Option<&KilnTensor>,
    opts: kiln::ConvOptions,
) -> KilnTensor {
    KilnTensor::lift(&present(&[x, w], &[b]), same(x), x.dtype(), |v| {
        v[0].conv(v[1], v.get(2).copied(), &opts)
    })
}

fn conv_transpose(
    x: &KilnTensor,
    w: &KilnTensor,
    b: Option<&KilnTensor>,
    opts: kiln::ConvTransposeOptions,
) -> KilnTensor {
    KilnTensor::lift(&present(&[x, w], &[b]), same(x), x.dtype(), |v| {
        v[0].conv_transpose(v[1], v.get(2).copied(), &opts)
    })
}

fn interpolate_mode(m: InterpolateMode) -> kiln::InterpolateMode {
    match m {
        InterpolateMode::Nearest => kiln::InterpolateMode::Nearest,
        InterpolateMode::NearestExact => kiln::InterpolateMode::NearestExact,
        InterpolateMode::Bilinear => kiln::InterpolateMode::Linear,
        InterpolateMode::Bicubic => kiln::InterpolateMode::Cubic,
        InterpolateMode::Lanczos3 => kiln::InterpolateMode::Lanczos3,
    }
}

/// Burn's attention where kiln's fused kernel does not apply (a softcap or an additive bias):
/// the scores, softcap, masks and bias, then the NaN-safe softmax (a row with every key
/// masked gives zeros) and the product with the values.
fn attention_unfused(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
    bias: Option<&Tensor>,
    o: &AttentionModuleOptions,
) -> kiln::Result<Tensor> {
    let d = q.dims().last().copied().unwrap_or(1);
    let scale = o.scale.unwrap_or(1.0 / (d as f64).sqrt());
    let mut s = q.matmul(&k.transpose(-2, -1)?)?.mul_scalar(scale)?;
    if let Some(cap) = o.softcap {
        s = s.div_scalar(cap)?.tanh()?.mul_scalar(cap)?;
    }
    let ninf = s.scalar_like(f64::NEG_INFINITY)?;
    if let Some(m) = mask {
        s = Tensor::where_(m, &ninf, &s)?;
    }
    if o.is_causal {
        let (sq, sk) = (s.dims()[s.rank() - 2], s.dims()[s.rank() - 1]);
        let rows = Tensor::arange_on(
            s.device(),
            (sk as f64) - (sq as f64),
            1.0,
            sq,
            kiln::DType::I32,
        )?
        .reshape(&[sq, 1])?;
        let cols =
            Tensor::arange_on(s.device(), 0.0, 1.0, sk, kiln::DType::I32)?.reshape(&[1, sk])?;
        s = Tensor::where_(&cols.gt(&rows)?, &ninf, &s)?;
    }
    if let Some(b) = bias {
        s = s.add(b)?;
    }
    let m = s
        .max(&[-1], true)?
        .maximum(&s.scalar_like(f32::MIN as f64)?)?;
    let e = s.sub(&m)?.exp()?;
    let sum = e
        .sum(&[-1], true)?
        .maximum(&s.scalar_like(f32::MIN_POSITIVE as f64)?)?;
    e.div(&sum)?.matmul(v)
}

impl ModuleOps<Self> for Kiln {
    fn conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: Option<FloatTensor<Self>>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        conv(&x, &weight, bias.as_ref(), conv_options(&options))
    }

    fn conv3d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: Option<FloatTensor<Self>>,
        options: ConvOptions<3>,
    ) -> FloatTensor<Self> {
        conv(&x, &weight, bias.as_ref(), conv_options(&options))
    }

    fn conv1d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: Option<FloatTensor<Self>>,
        options: ConvOptions<1>,
    ) -> FloatTensor<Self> {
        conv(&x, &weight, bias.as_ref(), conv_options(&options))
    }

    fn conv_transpose1d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: Option<FloatTensor<Self>>,
        options: ConvTransposeOptions<1>,
    ) -> FloatTensor<Self> {
        conv_transpose(&x, &weight, bias.as_ref(), conv_transpose_options(&options))
    }

    fn conv_transpose2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: Option<FloatTensor<Self>>,
        options: ConvTransposeOptions<2>,
    ) -> FloatTensor<Self> {
        conv_transpose(&x, &weight, bias.as_ref(), conv_transpose_options(&options))
    }

    fn conv_transpose3d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: Option<FloatTensor<Self>>,
        options: ConvTransposeOptions<3>,
    ) -> FloatTensor<Self> {
        conv_transpose(&x, &weight, bias.as_ref(), conv_transpose_options(&options))
    }

    fn deform_conv2d(
        x: FloatTensor<Self>,
        offset: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        mask: Option<FloatTensor<Self>>,
        bias: Option<FloatTensor<Self>>,
        options: DeformConvOptions<2>,
    ) -> FloatTensor<Self> {
        let opts = deform_options(&options);
        let has_mask = mask.is_some();
        KilnTensor::lift(
            &present(&[&x, &offset, &weight], &[mask.as_ref(), bias.as_ref()]),
            same(&x),
            x.dtype(),
            |v| {
                let m = if has_mask { Some(v[3]) } else { None };
                let b = v.get(if has_mask { 4 } else { 3 }).copied();
                v[0].deform_conv2d(v[1], v[2], m, b, &opts)
            },
        )
    }

    fn deform_conv2d_backward(
        x: FloatTensor<Self>,
        offset: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        mask: Option<FloatTensor<Self>>,
        bias: Option<FloatTensor<Self>>,
        output_grad: FloatTensor<Self>,
        options: DeformConvOptions<2>,
    ) -> DeformConv2dBackward<Self> {
        let opts = deform_options(&options);
        // One backward graph, built once; each gradient is one of its outputs (kiln computes
        // the shared samples once when the gradients are read together).
        let inputs = present(&[&x, &offset, &weight, &output_grad], &[mask.as_ref()]);
        let grads: Result<kiln::DeformConvGrads, std::sync::Arc<crate::BurnError>> = inputs
            .iter()
            .map(|t| t.tensor())
            .collect::<Result<Vec<_>, _>>()
            .and_then(|v| {
                v[0].deform_conv2d_backward(v[1], v[2], v.get(4).copied(), v[3], &opts)
                    .map_err(|e| std::sync::Arc::new(crate::BurnError::Kiln(e)))
            });
        let out = |pick: &dyn Fn(&kiln::DeformConvGrads) -> Option<Tensor>, like: &KilnTensor| {
            match &grads {
                Ok(g) => match pick(g) {
                    Some(t) => KilnTensor::lift(&inputs, like.shape(), like.dtype(), |_| {
                        Ok::<_, kiln::Error>(t)
                    }),
                    None => KilnTensor::failed(
                        std::sync::Arc::new(crate::BurnError::Check(
                            "deform_conv2d_backward: no mask gradient without a mask".into(),
                        )),
                        like.shape(),
                        like.dtype(),
                        like.device(),
                    ),
                },
                Err(e) => KilnTensor::failed(e.clone(), like.shape(), like.dtype(), like.device()),
            }
        };
        DeformConv2dBackward {
            x_grad: out(&|g| Some(g.x.clone()), &x),
            offset_grad: out(&|g| Some(g.offset.clone()), &offset),
            weight_grad: out(&|g| Some(g.weight.clone()), &weight),
            mask_grad: mask.as_ref().map(|m| out(&|g| g.mask.clone(), m)),
            bias_grad: bias.as_ref().map(|b| out(&|g| Some(g.bias.clone()), b)),
        }
    }

    fn avg_pool2d(
        x: FloatTensor<Self>,
        kernel_size: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        count_include_pad: bool,
        ceil_mode: bool,
    ) -> FloatTensor<Self> {
        let opts = pool_options(kernel_size, stride, padding, [1, 1], ceil_mode);
        x.map(|t| t.avg_pool(&opts, count_include_pad))
    }

    fn avg_pool2d_backward(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        kernel_size: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        count_include_pad: bool,
        ceil_mode: bool,
    ) -> FloatTensor<Self> {
        let opts = pool_options(kernel_size, stride, padding, [1, 1], ceil_mode);
        KilnTensor::lift(&[&x, &grad], x.shape(), x.dtype(), |v| {
            v[0].avg_pool_backward(v[1], &opts, count_include_pad)
        })
    }

    fn adaptive_avg_pool2d(x: FloatTensor<Self>, output_size: [usize; 2]) -> FloatTensor<Self> {
        x.map(|t| t.adaptive_avg_pool(&output_size))
    }

    fn adaptive_avg_pool2d_backward(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        KilnTensor::lift(&[&x, &grad], x.shape(), x.dtype(), |v| {
            v[0].adaptive_avg_pool_backward(v[1])
        })
    }

    fn adaptive_avg_pool3d(x: FloatTensor<Self>, output_size: [usize; 3]) -> FloatTensor<Self> {
        x.map(|t| t.adaptive_avg_pool(&output_size))
    }

    fn adaptive_avg_pool3d_backward(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        KilnTensor::lift(&[&x, &grad], x.shape(), x.dtype(), |v| {
            v[0].adaptive_avg_pool_backward(v[1])
        })
    }

    fn max_pool2d(
        x: FloatTensor<Self>,
        kernel_size: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        ceil_mode: bool,
    ) -> FloatTensor<Self> {
        let opts = pool_options(kernel_size, stride, padding, dilation, ceil_mode);
        x.map(|t| t.max_pool(&opts))
    }

    fn max_pool2d_with_indices(
        x: FloatTensor<Self>,
        kernel_size: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        ceil_mode: bool,
        _: IntDType,
    ) -> MaxPool2dWithIndices<Self> {
        let opts = pool_options(kernel_size, stride, padding, dilation, ceil_mode);
        let indices = x.map_to(x.shape(), DType::I32, |t| {
            Ok::<_, kiln::Error>(t.max_pool_with_indices(&opts)?.1)
        });
        // The values gathered by the winners' indices (in range by construction).
        let output = KilnTensor::lift(&[&x, &indices], x.shape(), x.dtype(), |v| {
            let d = v[1].dims().to_vec();
            let plane = v[0].dims()[2..].iter().product::<usize>();
            let flat = v[0].reshape(&[d[0], d[1], plane])?;
            let idx = v[1].reshape(&[d[0], d[1], d[2] * d[3]])?;
            flat.gather(2, &idx)?.reshape(&d)
        });
        MaxPool2dWithIndices { output, indices }
    }

    fn max_pool2d_with_indices_backward(
        x: FloatTensor<Self>,
        _kernel_size: [usize; 2],
        _stride: [usize; 2],
        _padding: [usize; 2],
        _dilation: [usize; 2],
        _ceil_mode: bool,
        output_grad: FloatTensor<Self>,
        indices: IntTensor<Self>,
    ) -> MaxPool2dBackward<Self> {
        let x_grad = KilnTensor::lift(&[&x, &output_grad, &indices], x.shape(), x.dtype(), |v| {
            v[0].max_pool_backward(v[1], v[2])
        });
        MaxPool2dBackward { x_grad }
    }

    fn interpolate(
        x: FloatTensor<Self>,
        output_size: [usize; 2],
        options: InterpolateOptions,
    ) -> FloatTensor<Self> {
        let mode = interpolate_mode(options.mode);
        let mut shape = x.shape();
        if shape.len() == 4 {
            shape[2] = output_size[0];
            shape[3] = output_size[1];
        }
        x.map_to(shape, x.dtype(), |t| {
            t.interpolate(&output_size, mode, options.align_corners)
        })
    }

    fn interpolate_backward(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        _output_size: [usize; 2],
        options: InterpolateOptions,
    ) -> FloatTensor<Self> {
        let mode = interpolate_mode(options.mode);
        KilnTensor::lift(&[&x, &grad], x.shape(), x.dtype(), |v| {
            v[0].interpolate_backward(v[1], mode, options.align_corners)
        })
    }

    fn layer_norm(
        tensor: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: Option<FloatTensor<Self>>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        KilnTensor::lift(
            &present(&[&tensor, &gamma], &[beta.as_ref()]),
            tensor.shape(),
            tensor.dtype(),
            |v| v[0].layer_norm(Some(v[1]), v.get(2).copied(), epsilon),
        )
    }

    /// kiln's fused attention where it applies (no softcap, no additive bias: Burn's mask,
    /// `true` to leave a key out, is kiln's inverted); a row with every key left out gives
    /// zeros, as Burn's reference does. Otherwise the unfused composite.
    fn attention(
        query: FloatTensor<Self>,
        key: FloatTensor<Self>,
        value: FloatTensor<Self>,
        mask: Option<BoolTensor<Self>>,
        attn_bias: Option<FloatTensor<Self>>,
        options: AttentionModuleOptions,
    ) -> FloatTensor<Self> {
        let mut shape = query.shape();
        if let (Some(last), Some(&dv)) = (shape.last_mut(), value.shape().last()) {
            *last = dv;
        }
        let has_mask = mask.is_some();
        let inputs = present(
            &[&query, &key, &value],
            &[mask.as_ref(), attn_bias.as_ref()],
        );
        KilnTensor::lift(&inputs, shape, query.dtype(), |v| {
            let m = if has_mask { Some(v[3]) } else { None };
            let bias = v.get(if has_mask { 4 } else { 3 }).copied();
            if options.softcap.is_some() || bias.is_some() {
                return attention_unfused(v[0], v[1], v[2], m, bias, &options);
            }
            let keep = m.map(|m| m.logical_not()).transpose()?;
            let out = v[0].scaled_dot_product_attention(
                v[1],
                v[2],
                keep.as_ref(),
                options.scale,
                options.is_causal,
            )?;
            if keep.is_none() && !options.is_causal {
                return Ok(out);
            }
            Tensor::where_(&out.ne(&out)?, &out.scalar_like(0.0)?, &out)
        })
    }
}

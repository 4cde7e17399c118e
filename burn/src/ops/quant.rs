//! Burn's quantized tensors on kiln: the integer values (kiln `i32`) and their scales (one per
//! block, or one for the tensor, times a per-tensor scale in two-level schemes), dequantized
//! and quantized by kiln kernels. Burn's other quantized ops are its defaults: dequantize, the
//! float op, quantize.

use super::common as c;
use super::Kiln;
use crate::{BurnError, KilnDevice, KilnTensor};
use burn_backend::ops::QTensorOps;
use burn_backend::quantization::QuantizationParametersPrimitive;
use burn_backend::tensor::{FloatTensor, IntTensor, QuantizedTensor};
use burn_backend::{ExecutionError, TensorData, TensorMetadata};
use burn_std::quantization::{
    params_shape, quantized_data_len, QuantScheme, QuantStore, QuantizedBytes,
};
use burn_std::{DType, FloatDType, Shape, Slice};
use kiln::ir::ops::ReduceOp;
use kiln::Tensor;
use std::sync::Arc;

/// A quantized tensor on kiln.
#[derive(Clone, Debug)]
pub struct KilnQTensor {
    /// The quantized values, `i32`, of the tensor's shape.
    pub values: KilnTensor,
    /// The scales, `f32`, one per block (the block grid's shape) or `[1]`.
    pub scales: KilnTensor,
    /// The per-tensor scale of a two-level scheme, `[1]`.
    pub global: Option<KilnTensor>,
    /// Burn's scheme.
    pub scheme: QuantScheme,
}

impl TensorMetadata for KilnQTensor {
    type Device = KilnDevice;

    fn dtype(&self) -> DType {
        DType::QFloat(self.scheme)
    }

    fn shape(&self) -> Shape {
        self.values.shape()
    }

    fn device(&self) -> KilnDevice {
        self.values.device()
    }

    fn can_mut(&self) -> bool {
        false
    }
}

fn quant_error(why: String) -> Arc<BurnError> {
    Arc::new(BurnError::Quantized(why))
}

/// `x` (of `dims`) met with `scales` (the block grid of `scheme`) by `op`, block by block:
/// `x` is padded to whole blocks and viewed as `[grid0, block0, grid1, block1, ...]`, the
/// scales as `[grid0, 1, grid1, 1, ...]`, and the result cut back to `dims`.
fn per_block(
    x: &Tensor,
    scales: &Tensor,
    scheme: &QuantScheme,
    op: impl FnOnce(&Tensor, &Tensor) -> kiln::Result<Tensor>,
) -> kiln::Result<Tensor> {
    let dims = x.dims().to_vec();
    let Some(block) = scheme.block_size() else {
        return op(x, &scales.reshape(&[])?);
    };
    let b: Vec<usize> = block
        .to_dim_vec(dims.len())
        .into_iter()
        .map(usize::from)
        .collect();
    let grid = block.num_blocks(&dims);
    let pads: Vec<(usize, usize)> = dims
        .iter()
        .zip(&grid)
        .zip(&b)
        .map(|((&d, &g), &b)| (0, g * b - d))
        .collect();
    let padded = if pads.iter().any(|p| p.1 > 0) {
        x.pad(&pads, 0.0)?
    } else {
        x.clone()
    };
    let inter: Vec<usize> = grid.iter().zip(&b).flat_map(|(&g, &b)| [g, b]).collect();
    let sinter: Vec<usize> = grid.iter().flat_map(|&g| [g, 1]).collect();
    let full: Vec<usize> = grid.iter().zip(&b).map(|(&g, &b)| g * b).collect();
    let mut y = op(&padded.reshape(&inter)?, &scales.reshape(&sinter)?)?.reshape(&full)?;
    for (d, &n) in dims.iter().enumerate() {
        if full[d] != n {
            y = y.slice(d as isize, 0, n as isize, 1)?;
        }
    }
    Ok(y)
}

/// The scales of `q` with the per-tensor scale folded in.
fn effective_scales(scales: &Tensor, global: Option<&Tensor>) -> kiln::Result<Tensor> {
    match global {
        Some(g) => scales.mul(&g.reshape(&[])?),
        None => Ok(scales.clone()),
    }
}

fn parts(q: &KilnQTensor) -> Vec<&KilnTensor> {
    let mut v = vec![&q.values, &q.scales];
    v.extend(q.global.as_ref());
    v
}

/// `q` with `op` applied to its values and (for block schemes) `scale_op` to its scales.
fn relayout(
    q: KilnQTensor,
    scheme: QuantScheme,
    op: impl Fn(&KilnTensor) -> KilnTensor,
) -> KilnQTensor {
    let scales = if q.scheme.block_size().is_some() {
        op(&q.scales)
    } else {
        q.scales
    };
    KilnQTensor {
        values: op(&q.values),
        scales,
        global: q.global,
        scheme,
    }
}

/// An op that picks values without changing them (a slice, a selection, a maximum): on a
/// per-tensor scheme it picks the quantized values under the same scale, exactly; a block
/// scheme's blocks do not follow, so its tensor is dequantized, picked from and quantized
/// again (Burn's `quantize_dynamic`).
fn moved(q: KilnQTensor, pick: impl Fn(&KilnTensor) -> KilnTensor) -> KilnQTensor {
    let scheme = q.scheme;
    if scheme.block_size().is_none() {
        return KilnQTensor {
            values: pick(&q.values),
            ..q
        };
    }
    let f = Kiln::dequantize(q, FloatDType::F32);
    Kiln::quantize_dynamic(pick(&f), &scheme)
}

impl QTensorOps<Self> for Kiln {
    fn q_from_data(data: TensorData, device: &KilnDevice) -> QuantizedTensor<Self> {
        let shape = data.shape().clone();
        let failed = |e: Arc<BurnError>, scheme: QuantScheme| {
            let values = KilnTensor::failed(e.clone(), shape.clone(), DType::I32, *device);
            let scales = KilnTensor::failed(e, Shape::new([1]), DType::F32, *device);
            KilnQTensor {
                values,
                scales,
                global: None,
                scheme,
            }
        };
        let DType::QFloat(scheme) = data.dtype() else {
            return failed(
                quant_error(format!(
                    "q_from_data: {:?} is not a quantized dtype",
                    data.dtype()
                )),
                QuantScheme::default(),
            );
        };
        let want = quantized_data_len(&scheme, &shape);
        if data.bytes().len() != want {
            return failed(
                quant_error(format!(
                    "q_from_data: {} bytes, the scheme and shape need {want}",
                    data.bytes().len()
                )),
                scheme,
            );
        }
        let bytes = QuantizedBytes {
            shape: shape.clone(),
            bytes: data.into_bytes(),
            scheme,
        };
        let (values, decoded) = bytes.into_vec_i8();
        let values: Vec<i32> = values.into_iter().map(i32::from).collect();
        let values = KilnTensor::from_data(&TensorData::new(values, shape.clone()), device);
        let scales = KilnTensor::from_data(
            &TensorData::new(decoded.block, params_shape(&shape, &scheme)),
            device,
        );
        let global = decoded
            .global
            .map(|g| KilnTensor::from_data(&TensorData::new(vec![g], [1]), device));
        KilnQTensor {
            values,
            scales,
            global,
            scheme: scheme.with_store(QuantStore::Native),
        }
    }

    fn quantize(
        tensor: FloatTensor<Self>,
        scheme: &QuantScheme,
        qparams: QuantizationParametersPrimitive<Self>,
    ) -> QuantizedTensor<Self> {
        let (lo, hi) = scheme.value.range();
        let mut inputs = vec![&tensor, &qparams.scales];
        inputs.extend(qparams.global.as_ref());
        let values = KilnTensor::lift(&inputs, tensor.shape(), DType::I32, |v| {
            let s = effective_scales(&v[1].cast(kiln::DType::F32)?, v.get(2).copied())?;
            let x = v[0].cast(kiln::DType::F32)?;
            per_block(&x, &s, scheme, |x, s| x.div(s))?
                .round()?
                .clamp(f64::from(lo), f64::from(hi))?
                .cast(kiln::DType::I32)
        });
        let scales = c::cast(&qparams.scales, DType::F32);
        KilnQTensor {
            values,
            scales,
            global: qparams.global,
            scheme: scheme.with_store(QuantStore::Native),
        }
    }

    fn dequantize(tensor: QuantizedTensor<Self>, dtype: FloatDType) -> FloatTensor<Self> {
        let scheme = tensor.scheme;
        let out = DType::from(dtype);
        KilnTensor::lift(&parts(&tensor), tensor.shape(), c::stored(out), |v| {
            let s = effective_scales(v[1], v.get(2).copied())?;
            let x = v[0].cast(kiln::DType::F32)?;
            let y = per_block(&x, &s, &scheme, |x, s| x.mul(s))?;
            Ok::<_, BurnError>(y.cast(c::storage(out)?)?)
        })
    }

    fn q_to_device(tensor: QuantizedTensor<Self>, device: &KilnDevice) -> QuantizedTensor<Self> {
        let scheme = tensor.scheme;
        relayout(tensor, scheme, |t| c::to_device(t, device))
    }

    /// A per-tensor scheme reshapes its values. Blocks along the last dim only (runs of `b`
    /// in row-major order) survive a reshape whose old and new last dims are multiples of
    /// `b`: the values and the scale grid reshape exactly. Other block schemes are
    /// dequantized, reshaped and quantized again with their scales recomputed (Burn's
    /// `quantize_dynamic`, as its reference backend does).
    fn q_reshape(tensor: QuantizedTensor<Self>, shape: Shape) -> QuantizedTensor<Self> {
        let scheme = tensor.scheme;
        let Some(block) = scheme.block_size() else {
            return relayout(tensor, scheme, |t| c::reshape(t, shape.clone()));
        };
        let old = tensor.shape();
        let b = block.to_dim_vec(old.len());
        let run = usize::from(b.last().copied().unwrap_or(1));
        let runs_only = b.iter().rev().skip(1).all(|&k| k == 1);
        let fits = |s: &Shape| s.last().is_some_and(|&n| n % run == 0);
        if runs_only && fits(&old) && fits(&shape) && !shape.is_empty() {
            let mut grid = shape.clone();
            if let Some(last) = grid.last_mut() {
                *last /= run;
            }
            return KilnQTensor {
                values: c::reshape(&tensor.values, shape),
                scales: c::reshape(&tensor.scales, grid),
                global: tensor.global,
                scheme,
            };
        }
        let f = Self::dequantize(tensor, FloatDType::F32);
        Self::quantize_dynamic(c::reshape(&f, shape), &scheme)
    }

    async fn q_into_data(tensor: QuantizedTensor<Self>) -> Result<TensorData, ExecutionError> {
        let values: Vec<i8> = tensor
            .values
            .read()?
            .convert::<i8>()
            .try_to_vec::<i8>()
            .map_err(|e| BurnError::Quantized(format!("{e:?}")).execution())?;
        let scales = tensor
            .scales
            .read()?
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map_err(|e| BurnError::Quantized(format!("{e:?}")).execution())?;
        let global = match &tensor.global {
            Some(g) => g
                .read()?
                .convert::<f32>()
                .try_to_vec::<f32>()
                .map_err(|e| BurnError::Quantized(format!("{e:?}")).execution())?
                .first()
                .copied(),
            None => None,
        };
        Ok(TensorData::quantized(
            values,
            tensor.values.shape(),
            tensor.scheme,
            &scales,
            global,
        ))
    }

    fn q_swap_dims(
        tensor: QuantizedTensor<Self>,
        dim1: usize,
        dim2: usize,
    ) -> QuantizedTensor<Self> {
        let mut scheme = tensor.scheme;
        scheme.swap_block_dims(tensor.shape().len(), dim1, dim2);
        relayout(tensor, scheme, |t| c::swap_dims(t, dim1, dim2))
    }

    fn q_permute(tensor: QuantizedTensor<Self>, axes: &[usize]) -> QuantizedTensor<Self> {
        let mut scheme = tensor.scheme;
        scheme.permute_block_dims(tensor.shape().len(), axes);
        relayout(tensor, scheme, |t| c::permute(t, axes))
    }

    /// Flips the values; a block scheme's scale grid flips with them where the blocks tile the
    /// flipped dims exactly (otherwise the tensor is requantized).
    fn q_flip(tensor: QuantizedTensor<Self>, axes: &[usize]) -> QuantizedTensor<Self> {
        let scheme = tensor.scheme;
        let whole = match scheme.block_size() {
            None => true,
            Some(b) => {
                let shape = tensor.shape();
                let bd = b.to_dim_vec(shape.len());
                axes.iter().all(|&a| {
                    shape
                        .get(a)
                        .zip(bd.get(a))
                        .is_some_and(|(&n, &k)| n % usize::from(k) == 0)
                })
            }
        };
        if whole {
            return relayout(tensor, scheme, |t| c::flip(t, axes));
        }
        let f = Self::dequantize(tensor, FloatDType::F32);
        Self::quantize_dynamic(c::flip(&f, axes), &scheme)
    }

    fn q_slice(tensor: QuantizedTensor<Self>, slices: &[Slice]) -> QuantizedTensor<Self> {
        moved(tensor, |t| c::slice(t, slices))
    }

    fn q_select(
        tensor: QuantizedTensor<Self>,
        dim: usize,
        indices: IntTensor<Self>,
    ) -> QuantizedTensor<Self> {
        moved(tensor, |t| c::select(t, dim, &indices))
    }

    fn q_gather(
        dim: usize,
        tensor: QuantizedTensor<Self>,
        indices: IntTensor<Self>,
    ) -> QuantizedTensor<Self> {
        moved(tensor, |t| c::gather(dim, t, &indices))
    }

    fn q_max_dim(tensor: QuantizedTensor<Self>, dim: usize) -> QuantizedTensor<Self> {
        moved(tensor, |t| c::reduce_dim(t, ReduceOp::Max, dim))
    }

    fn q_min_dim(tensor: QuantizedTensor<Self>, dim: usize) -> QuantizedTensor<Self> {
        moved(tensor, |t| c::reduce_dim(t, ReduceOp::Min, dim))
    }
}

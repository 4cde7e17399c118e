//! Creating tensors: from host data, constants, ranges and seeded random numbers.

use super::{Tensor, Value};
use crate::device::Device;
use crate::Result;
use kiln_ir::ops::RandDist;
use kiln_ir::{DType, Element, HostTensor, Op, Scalar, Shape, TensorType};
use std::sync::Arc;

/// A constant of a dtype from an `f64` (integers truncate, bool is `v != 0`).
pub(crate) fn scalar_for(dtype: DType, v: f64) -> Scalar {
    match dtype {
        DType::F32 | DType::F16 | DType::BF16 | DType::Quant(_) => Scalar::F(v),
        DType::I32 | DType::U32 => Scalar::I(v as i64),
        DType::Bool => Scalar::B(v != 0.0),
    }
}

impl Tensor {
    /// A tensor holding `data` with `shape` on the default device.
    pub fn from_slice<T: Element>(data: &[T], shape: &[usize]) -> Result<Tensor> {
        Self::from_slice_on(&Device::default_device()?, data, shape)
    }

    /// A tensor holding `data` with `shape` on `device`.
    pub fn from_slice_on<T: Element>(
        device: &Device,
        data: &[T],
        shape: &[usize],
    ) -> Result<Tensor> {
        Self::from_host_on(device, HostTensor::from_slice(data, Shape::new(shape))?)
    }

    /// A tensor holding a host tensor's values on `device`. The host tensor's fields are
    /// public, so they are checked here: the shape's size, the data's length against it, and
    /// the data's kind against the dtype ([`HostTensor::validate`]).
    pub fn from_host_on(device: &Device, h: HostTensor) -> Result<Tensor> {
        h.validate()?;
        let ty = TensorType::new(h.dtype, h.shape.clone());
        Ok(Tensor::make(
            device.clone(),
            Op::Input { slot: 0 },
            vec![],
            ty,
            false,
            Some(Value::Host(Arc::new(h))),
        ))
    }

    /// A placeholder: an input of a [`crate::Program`], bound to a value at each run.
    pub fn placeholder(dtype: DType, shape: &[usize]) -> Result<Tensor> {
        Self::placeholder_on(&Device::default_device()?, dtype, shape)
    }

    /// A placeholder on `device`.
    pub fn placeholder_on(device: &Device, dtype: DType, shape: &[usize]) -> Result<Tensor> {
        let shape = Shape::new(shape);
        shape.check_size("placeholder")?;
        Ok(Tensor::make(
            device.clone(),
            Op::Input { slot: 0 },
            vec![],
            TensorType::new(dtype, shape),
            true,
            None,
        ))
    }

    /// A tensor of `shape` filled with `value` (converted to `dtype`).
    pub fn full(shape: &[usize], value: f64, dtype: DType) -> Result<Tensor> {
        Self::full_on(&Device::default_device()?, shape, value, dtype)
    }

    /// [`Tensor::full`] on `device`.
    pub fn full_on(device: &Device, shape: &[usize], value: f64, dtype: DType) -> Result<Tensor> {
        let c = Tensor::leaf(
            device,
            Op::Const(scalar_for(dtype, value).to_dtype(dtype)),
            TensorType::new(dtype, Shape::scalar()),
        )?;
        c.broadcast_to(shape)
    }

    /// Zeros.
    pub fn zeros(shape: &[usize], dtype: DType) -> Result<Tensor> {
        Self::full(shape, 0.0, dtype)
    }

    /// Ones.
    pub fn ones(shape: &[usize], dtype: DType) -> Result<Tensor> {
        Self::full(shape, 1.0, dtype)
    }

    /// A constant shaped and typed like `self`.
    pub fn full_like(&self, value: f64) -> Result<Tensor> {
        Self::full_on(self.device(), self.dims(), value, self.dtype())
    }

    /// `start, start + step, ...`, `n` values of `dtype`.
    pub fn arange(start: f64, step: f64, n: usize, dtype: DType) -> Result<Tensor> {
        Self::arange_on(&Device::default_device()?, start, step, n, dtype)
    }

    /// [`Tensor::arange`] on `device`.
    pub fn arange_on(
        device: &Device,
        start: f64,
        step: f64,
        n: usize,
        dtype: DType,
    ) -> Result<Tensor> {
        Tensor::leaf(
            device,
            Op::Arange {
                start: scalar_for(dtype, start),
                step: scalar_for(dtype, step),
            },
            TensorType::new(dtype, Shape::new(&[n])),
        )
    }

    /// Uniform random numbers on `[low, high)` from a seed (same seed, same numbers, on every
    /// device).
    pub fn rand(shape: &[usize], low: f64, high: f64, seed: u64, dtype: DType) -> Result<Tensor> {
        Self::rand_on(&Device::default_device()?, shape, low, high, seed, dtype)
    }

    /// [`Tensor::rand`] on `device`.
    pub fn rand_on(
        device: &Device,
        shape: &[usize],
        low: f64,
        high: f64,
        seed: u64,
        dtype: DType,
    ) -> Result<Tensor> {
        let u = Tensor::leaf(
            device,
            Op::Rand {
                seed,
                dist: RandDist::Uniform,
            },
            TensorType::new(dtype, Shape::new(shape)),
        )?;
        if low == 0.0 && high == 1.0 {
            return Ok(u);
        }
        u.mul_scalar(high - low)?.add_scalar(low)
    }

    /// Normal random numbers with mean and standard deviation, from a seed.
    pub fn randn(shape: &[usize], mean: f64, std: f64, seed: u64, dtype: DType) -> Result<Tensor> {
        Self::randn_on(&Device::default_device()?, shape, mean, std, seed, dtype)
    }

    /// [`Tensor::randn`] on `device`.
    pub fn randn_on(
        device: &Device,
        shape: &[usize],
        mean: f64,
        std: f64,
        seed: u64,
        dtype: DType,
    ) -> Result<Tensor> {
        let z = Tensor::leaf(
            device,
            Op::Rand {
                seed,
                dist: RandDist::Normal,
            },
            TensorType::new(dtype, Shape::new(shape)),
        )?;
        if mean == 0.0 && std == 1.0 {
            return Ok(z);
        }
        z.mul_scalar(std)?.add_scalar(mean)
    }
}

//! The lazy [`Tensor`]: ops record nodes; nothing runs until a value is asked for
//! ([`Tensor::to_vec`], [`Tensor::realize`]).

mod attention;
mod conv;
mod creation;
mod deform;
mod elementwise;
mod interpolate;
mod movement;
mod nn;
mod pool;
mod reduce;
mod scan;
mod scatter;
mod sort;
mod weak;
mod window;

pub use conv::{ConvOptions, ConvTransposeOptions};
pub use deform::{DeformConvGrads, DeformConvOptions};
pub use interpolate::InterpolateMode;
pub use pool::PoolOptions;
pub use scatter::IndexUpdate;
pub use weak::WeakTensor;

use crate::device::Device;
use crate::realize;
use crate::runtime::GpuBuffer;
use crate::{Error, Result};
use kiln_ir::{DType, Element, HostTensor, Op, Shape, TensorType};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A realized value.
#[derive(Clone)]
pub(crate) enum Value {
    /// On the host (data given by the user, or interpreter results).
    Host(Arc<HostTensor>),
    /// In a device buffer.
    Gpu(Arc<GpuBuffer>),
}

pub(crate) struct TensorNode {
    pub(crate) id: u64,
    pub(crate) op: Op,
    pub(crate) srcs: Vec<Tensor>,
    pub(crate) ty: TensorType,
    pub(crate) device: Device,
    pub(crate) placeholder: bool,
    pub(crate) value: Mutex<Option<Value>>,
}

/// A lazily evaluated tensor. Cloning is cheap (shared node).
#[derive(Clone)]
pub struct Tensor {
    pub(crate) node: Arc<TensorNode>,
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Tensor({} {}{}, {})",
            self.node.op.name(),
            self.dtype(),
            self.shape(),
            if self.is_realized() {
                "realized"
            } else {
                "lazy"
            }
        )
    }
}

static NEXT: AtomicU64 = AtomicU64::new(1);

impl Tensor {
    pub(crate) fn make(
        device: Device,
        op: Op,
        srcs: Vec<Tensor>,
        ty: TensorType,
        placeholder: bool,
        value: Option<Value>,
    ) -> Tensor {
        Tensor {
            node: Arc::new(TensorNode {
                id: NEXT.fetch_add(1, Ordering::Relaxed),
                op,
                srcs,
                ty,
                device,
                placeholder,
                value: Mutex::new(value),
            }),
        }
    }

    /// Records an op over `srcs` (same device), checking types now so that errors point at the
    /// call that caused them.
    pub(crate) fn op(op: Op, srcs: &[&Tensor]) -> Result<Tensor> {
        let device = srcs.first().map(|t| t.device().clone()).ok_or(Error::from(
            kiln_ir::IrError::Arity {
                op: "op",
                expected: 1,
                got: 0,
            },
        ))?;
        for s in srcs {
            if *s.device() != device {
                return Err(Error::DeviceMismatch(
                    device.describe(),
                    s.device().describe(),
                ));
            }
        }
        let tys: Vec<&TensorType> = srcs.iter().map(|t| &t.node.ty).collect();
        let ty = op.infer(&tys, None)?;
        Ok(Tensor::make(
            device,
            op,
            srcs.iter().map(|t| (*t).clone()).collect(),
            ty,
            false,
            None,
        ))
    }

    /// A leaf without operands (`Const`, `Arange`, `Rand`).
    pub(crate) fn leaf(device: &Device, op: Op, ty: TensorType) -> Result<Tensor> {
        let ty = op.infer(&[], Some(&ty))?;
        Ok(Tensor::make(device.clone(), op, vec![], ty, false, None))
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.node.ty.dtype
    }

    /// The shape.
    pub fn shape(&self) -> &Shape {
        &self.node.ty.shape
    }

    /// The dimensions.
    pub fn dims(&self) -> &[usize] {
        self.node.ty.shape.dims()
    }

    /// The rank.
    pub fn rank(&self) -> usize {
        self.shape().rank()
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.shape().numel()
    }

    /// The device the tensor lives on.
    pub fn device(&self) -> &Device {
        &self.node.device
    }

    /// True once the value has been computed (or was given).
    pub fn is_realized(&self) -> bool {
        self.node.value.lock().map(|v| v.is_some()).unwrap_or(false)
    }

    /// A process-unique id of this tensor's node.
    pub fn id(&self) -> u64 {
        self.node.id
    }

    pub(crate) fn value(&self) -> Option<Value> {
        self.node.value.lock().ok().and_then(|v| v.clone())
    }

    pub(crate) fn set_value(&self, v: Value) {
        if let Ok(mut slot) = self.node.value.lock() {
            *slot = Some(v);
        }
    }

    /// Computes this tensor (and what it needs) now; the value stays on the device.
    pub fn realize(&self) -> Result<&Self> {
        realize::realize(&[self])?;
        Ok(self)
    }

    /// Moves a tensor given as host data to its device now (instead of at its first use),
    /// dropping the host copy: how a model's weights are loaded one at a time. A computed
    /// tensor is realized; on the reference interpreter this does nothing more.
    pub fn upload(&self) -> Result<&Self> {
        self.realize()?;
        if let (Some(ctx), Some(Value::Host(_))) = (self.device().gpu(), self.value()) {
            realize::gpu_value(ctx, self)?;
        }
        Ok(self)
    }

    /// Computes several tensors in one plan (shared work is done once).
    pub fn realize_all(tensors: &[&Tensor]) -> Result<()> {
        realize::realize(tensors)
    }

    /// The value as a host tensor (blocking).
    pub fn to_host(&self) -> Result<HostTensor> {
        self.realize()?;
        match self.value() {
            Some(Value::Host(h)) => Ok((*h).clone()),
            Some(Value::Gpu(b)) => realize::gpu_of(self)?.read(&b, self.shape()),
            None => Err(Error::Readback("realize produced no value".into())),
        }
    }

    /// The value as a host tensor, without blocking the thread (for wasm and async callers).
    pub async fn to_host_async(&self) -> Result<HostTensor> {
        self.realize()?;
        match self.value() {
            Some(Value::Host(h)) => Ok((*h).clone()),
            Some(Value::Gpu(b)) => realize::gpu_of(self)?.read_async(&b, self.shape()).await,
            None => Err(Error::Readback("realize produced no value".into())),
        }
    }

    /// The elements in row-major order; `T` must match the dtype.
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        check_elem::<T>(self.dtype())?;
        Ok(self.to_host()?.to_vec::<T>()?)
    }

    /// [`Tensor::to_vec`] without blocking the thread.
    pub async fn to_vec_async<T: Element>(&self) -> Result<Vec<T>> {
        check_elem::<T>(self.dtype())?;
        Ok(self.to_host_async().await?.to_vec::<T>()?)
    }

    /// The single element of a one-element tensor.
    pub fn item<T: Element>(&self) -> Result<T> {
        let v = self.to_vec::<T>()?;
        if v.len() != 1 {
            return Err(Error::from(kiln_ir::IrError::BadShape {
                op: "item",
                from: self.shape().clone(),
                to: Shape::scalar(),
                why: "item needs exactly one element".into(),
            }));
        }
        Ok(v[0])
    }

    /// The same computation evaluated by the reference interpreter (for checking results).
    pub fn reference(&self) -> Result<HostTensor> {
        realize::reference(self)
    }
}

fn check_elem<T: Element>(d: DType) -> Result<()> {
    if T::DTYPE != d {
        return Err(Error::from(kiln_ir::IrError::HostDType {
            expected: T::DTYPE,
            found: d,
        }));
    }
    Ok(())
}

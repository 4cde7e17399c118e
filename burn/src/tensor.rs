//! The tensor primitive: a kiln tensor, or the error that kept it from being built, with the
//! shape and dtype Burn sees either way. Burn's ops return tensors, not results, so an error
//! travels with the tensor (and with every tensor computed from it) until its data is read,
//! where it becomes Burn's `ExecutionError`: bad input never panics.

use crate::data::{from_host, to_host};
use crate::dtype::{to_burn, to_kiln};
use crate::{BurnError, KilnDevice};
use burn_backend::TensorMetadata;
use burn_std::{DType, ExecutionError, Shape, TensorData};
use std::sync::Arc;

/// A Burn tensor on kiln.
#[derive(Clone, Debug)]
pub struct KilnTensor {
    value: Result<kiln::Tensor, Arc<BurnError>>,
    shape: Shape,
    dtype: DType,
    device: KilnDevice,
}

impl KilnTensor {
    /// Wraps a kiln tensor (its Burn dtype from its storage).
    pub fn new(t: kiln::Tensor, device: KilnDevice) -> Self {
        let shape = Shape::from(t.dims().to_vec());
        match to_burn(t.dtype()) {
            Ok(dtype) => KilnTensor {
                value: Ok(t),
                shape,
                dtype,
                device,
            },
            Err(e) => Self::failed(Arc::new(e), shape, DType::F32, device),
        }
    }

    /// A tensor that could not be built, with the shape and dtype it should have had.
    pub fn failed(err: Arc<BurnError>, shape: Shape, dtype: DType, device: KilnDevice) -> Self {
        KilnTensor {
            value: Err(err),
            shape,
            dtype,
            device,
        }
    }

    /// Burn's data on `device`, uploaded when a kernel first needs it.
    pub fn from_data(data: &TensorData, device: &KilnDevice) -> Self {
        let built = device.open().and_then(|dev| {
            let h = to_host(data).map_err(Arc::new)?;
            kiln::Tensor::from_host_on(&dev, h).map_err(|e| Arc::new(BurnError::Kiln(e)))
        });
        match built {
            Ok(t) => Self::new(t, *device),
            Err(e) => {
                // The dtype it would have been stored as, where there is one.
                let dtype = match to_kiln(data.dtype()).and_then(to_burn) {
                    Ok(d) => d,
                    Err(_) => data.dtype(),
                };
                Self::failed(e, data.shape().clone(), dtype, *device)
            }
        }
    }

    /// The kiln tensor, or the error it carries.
    pub fn tensor(&self) -> Result<&kiln::Tensor, Arc<BurnError>> {
        self.value.as_ref().map_err(Arc::clone)
    }

    /// `op` applied to this tensor, for an op that keeps its shape and dtype; an error
    /// (carried in, or raised by `op`) is carried out with them.
    pub fn map(&self, op: impl FnOnce(&kiln::Tensor) -> kiln::Result<kiln::Tensor>) -> Self {
        self.map_to(self.shape.clone(), self.dtype, op)
    }

    /// `op` applied to this tensor, whose result Burn expects of `shape` and `dtype` (what a
    /// failure reports, so that Burn's own shape checks see the shape they expect).
    pub fn map_to(
        &self,
        shape: Shape,
        dtype: DType,
        op: impl FnOnce(&kiln::Tensor) -> kiln::Result<kiln::Tensor>,
    ) -> Self {
        match self
            .tensor()
            .and_then(|t| op(t).map_err(|e| Arc::new(BurnError::Kiln(e))))
        {
            Ok(t) => Self::new(t, self.device),
            Err(e) => Self::failed(e, shape, dtype, self.device),
        }
    }

    /// The values, computed and read back: Burn's data, or the carried error as Burn's
    /// `ExecutionError`.
    pub fn read(&self) -> Result<TensorData, ExecutionError> {
        let t = self.tensor().map_err(|e| e.execution())?;
        let h = t.to_host().map_err(|e| BurnError::Kiln(e).execution())?;
        from_host(&h).map_err(|e| e.execution())
    }
}

impl TensorMetadata for KilnTensor {
    type Device = KilnDevice;

    fn dtype(&self) -> DType {
        self.dtype
    }

    fn shape(&self) -> Shape {
        self.shape.clone()
    }

    fn device(&self) -> KilnDevice {
        self.device
    }

    /// kiln tensors are values: an op never writes into its operand's buffer in place.
    fn can_mut(&self) -> bool {
        false
    }
}

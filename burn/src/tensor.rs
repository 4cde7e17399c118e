//! The tensor primitive: a kiln tensor, or the error that kept it from being built, with the
//! shape and dtype Burn sees either way. Burn's ops return tensors, not results, so an error
//! travels with the tensor (and with every tensor computed from it) until its data is read,
//! where it becomes Burn's `ExecutionError`: bad input never panics.
//!
//! What only the data can tell (an index out of range) travels as a [`Check`]: a kiln scalar
//! computed beside the value and read with it, so that a bad index is an error at the read,
//! not a silent zero.

use crate::data::{from_host, to_host};
use crate::dtype::{to_burn, to_kiln};
use crate::{BurnError, KilnDevice};
use burn_backend::TensorMetadata;
use burn_std::{DType, ExecutionError, Shape, TensorData};
use kiln::ir::HostData;
use std::sync::{Arc, OnceLock};

/// A condition on data: `flag` (a kiln scalar) is nonzero where `what` failed.
#[derive(Clone, Debug)]
pub struct Check {
    flag: kiln::Tensor,
    what: Arc<str>,
    /// Set once the flag has been read as zero: a passed check is dropped from results.
    passed: Arc<OnceLock<()>>,
}

impl Check {
    /// A check that fails where `flag` is nonzero.
    pub fn new(flag: kiln::Tensor, what: String) -> Self {
        Check {
            flag,
            what: what.into(),
            passed: Arc::new(OnceLock::new()),
        }
    }
}

/// A Burn tensor on kiln.
#[derive(Clone, Debug)]
pub struct KilnTensor {
    value: Result<kiln::Tensor, Arc<BurnError>>,
    shape: Shape,
    dtype: DType,
    device: KilnDevice,
    checks: Vec<Check>,
    /// While any clone keeps this, the value counts as held by Burn (`crate::live`).
    _held: Option<Arc<crate::live::Held>>,
}

impl KilnTensor {
    /// Wraps a kiln tensor (its Burn dtype from its storage).
    pub fn new(t: kiln::Tensor, device: KilnDevice) -> Self {
        let shape = Shape::from(t.dims().to_vec());
        let held = crate::live::track(&t);
        match to_burn(t.dtype()) {
            Ok(dtype) => KilnTensor {
                value: Ok(t),
                shape,
                dtype,
                device,
                checks: Vec::new(),
                _held: held,
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
            checks: Vec::new(),
            _held: None,
        }
    }

    /// A tensor built on `device` by `make`; on failure, one of `shape` and `dtype` carrying
    /// the error.
    pub fn build<E: Into<BurnError>>(
        device: &KilnDevice,
        shape: Shape,
        dtype: DType,
        make: impl FnOnce(&kiln::Device) -> Result<kiln::Tensor, E>,
    ) -> Self {
        match device
            .open()
            .and_then(|d| make(&d).map_err(|e| Arc::new(e.into())))
        {
            Ok(t) => Self::new(t, *device),
            Err(e) => Self::failed(e, shape, dtype, *device),
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
    pub fn map<E: Into<BurnError>>(
        &self,
        op: impl FnOnce(&kiln::Tensor) -> Result<kiln::Tensor, E>,
    ) -> Self {
        self.map_to(self.shape.clone(), self.dtype, op)
    }

    /// `op` applied to this tensor, whose result Burn expects of `shape` and `dtype` (what a
    /// failure reports, so that Burn's own shape checks see the shape they expect).
    pub fn map_to<E: Into<BurnError>>(
        &self,
        shape: Shape,
        dtype: DType,
        op: impl FnOnce(&kiln::Tensor) -> Result<kiln::Tensor, E>,
    ) -> Self {
        Self::lift(&[self], shape, dtype, |t| op(t[0]))
    }

    /// `op` applied to several tensors (on the first one's device); the result carries the
    /// first error among them and the checks of all.
    pub fn lift<E: Into<BurnError>>(
        inputs: &[&KilnTensor],
        shape: Shape,
        dtype: DType,
        op: impl FnOnce(&[&kiln::Tensor]) -> Result<kiln::Tensor, E>,
    ) -> Self {
        let device = inputs.first().map(|t| t.device).unwrap_or_default();
        let values: Result<Vec<&kiln::Tensor>, _> = inputs.iter().map(|t| t.tensor()).collect();
        let mut out = match values.and_then(|v| op(&v).map_err(|e| Arc::new(e.into()))) {
            Ok(t) => Self::new(t, device),
            Err(e) => Self::failed(e, shape, dtype, device),
        };
        for t in inputs {
            for c in &t.checks {
                out.add_check(c.clone());
            }
        }
        out
    }

    /// This tensor, valid only where `check` passes when its data is read.
    pub fn checked(mut self, check: Result<Check, Arc<BurnError>>) -> Self {
        match check {
            Ok(c) => self.add_check(c),
            Err(e) => self.value = Err(e),
        }
        self
    }

    fn add_check(&mut self, c: Check) {
        let known = self.checks.iter().any(|k| k.flag.id() == c.flag.id());
        if c.passed.get().is_none() && !known {
            self.checks.push(c);
        }
    }

    /// The values, computed and read back: Burn's data, or the carried error (or a failed
    /// check) as Burn's `ExecutionError`. Every lazy tensor Burn still holds is computed in
    /// the same plan (`crate::live`).
    pub fn read(&self) -> Result<TensorData, ExecutionError> {
        let kiln_err = |e: kiln::Error| BurnError::Kiln(e).execution();
        let t = self.tensor().map_err(|e| e.execution())?;
        let mut all = vec![t];
        all.extend(self.checks.iter().map(|c| &c.flag));
        realize_with_held(&all).map_err(kiln_err)?;
        for c in &self.checks {
            let h = c.flag.to_host().map_err(kiln_err)?;
            let failed = match &h.data {
                HostData::F(v) => v.iter().any(|x| *x != 0.0),
                HostData::I(v) => v.iter().any(|x| *x != 0),
                HostData::U(v) => v.iter().any(|x| *x != 0),
                HostData::B(v) => v.iter().any(|x| *x),
            };
            if failed {
                return Err(BurnError::Check(c.what.to_string()).execution());
            }
            c.passed.get_or_init(|| ());
        }
        let h = t.to_host().map_err(kiln_err)?;
        from_host(&h).map_err(|e| e.execution())
    }
}

/// Realizes `tensors` with every lazy tensor Burn holds. Should the larger plan fail (a held
/// tensor that cannot be computed: it reports its own error when read), `tensors` are realized
/// alone, so a read fails only for its own reasons.
pub(crate) fn realize_with_held(tensors: &[&kiln::Tensor]) -> kiln::Result<()> {
    let held = crate::live::take();
    if held.is_empty() {
        return kiln::Tensor::realize_all(tensors);
    }
    let mut all = tensors.to_vec();
    all.extend(held.iter());
    match kiln::Tensor::realize_all(&all) {
        Ok(()) => Ok(()),
        Err(e) => {
            log::warn!(
                "kiln-burn: computing the {} lazy tensors Burn holds with a read failed ({e}); \
                 reading alone",
                held.len()
            );
            kiln::Tensor::realize_all(tensors)
        }
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

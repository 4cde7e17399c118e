//! Burn's `Backend` for kiln ([`Kiln`]): every op of Burn's op traits, one file per trait, each
//! a kiln lowering (lazy, fused with its neighbours like any kiln graph). The lowerings the
//! float, int and bool ops share are in `common`.

mod activation;
mod bool;
pub(crate) mod common;
mod float;
mod grid_sample;
mod int;
mod ir;
mod module;
mod quant;

use crate::KilnDevice;
use burn_backend::{Backend, BackendTypes, DTypeUsage, DTypeUsageSet, ExecutionError};
use burn_std::{BoolStore, DType};
use std::sync::atomic::{AtomicU64, Ordering};

pub use quant::KilnQTensor;

/// kiln as a Burn backend. Burn's float, int and bool tensors are all [`crate::KilnTensor`]s;
/// quantized ones are [`KilnQTensor`]s.
#[derive(Clone, Copy, Debug, Default)]
pub struct Kiln;

impl BackendTypes for Kiln {
    type Device = KilnDevice;
    type FloatTensorPrimitive = crate::KilnTensor;
    type IntTensorPrimitive = crate::KilnTensor;
    type BoolTensorPrimitive = crate::KilnTensor;
    type QuantizedTensorPrimitive = KilnQTensor;
    type GraphPrimitive = burn_backend::GraphUnsupported;
}

/// The state of Burn's random ops: `seed` sets it, and each random tensor takes the next
/// value of a SplitMix64 sequence as its kiln seed (kiln's random numbers are a pure
/// function of the seed).
static SEED: AtomicU64 = AtomicU64::new(0x6b69_6c6e);

/// The seed of the next random tensor.
pub(crate) fn next_seed() -> u64 {
    let s = SEED.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    let mut z = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Backend for Kiln {
    fn name(device: &KilnDevice) -> String {
        match device.open() {
            Ok(d) => format!("kiln<{}>", d.describe()),
            Err(e) => format!("kiln<{e}>"),
        }
    }

    fn seed(_device: &KilnDevice, seed: u64) {
        SEED.store(seed, Ordering::Relaxed);
    }

    /// Hands the kernel runs gathered so far to the GPU (a graph not yet read has not been
    /// compiled: it runs when its data is read).
    fn flush(device: &KilnDevice) -> Result<(), ExecutionError> {
        device.open().map_err(|e| e.execution())?.flush();
        Ok(())
    }

    /// Computes every lazy tensor Burn holds and waits for the device.
    fn sync(device: &KilnDevice) -> Result<(), ExecutionError> {
        let d = device.open().map_err(|e| e.execution())?;
        crate::tensor::realize_with_held(&[]).map_err(|e| crate::BurnError::Kiln(e).execution())?;
        d.synchronize()
            .map_err(|e| crate::BurnError::Kiln(e).execution())
    }

    /// The dtypes kiln stores as themselves compute natively; the others (f64, i64, ...) are
    /// stored in a narrower kiln dtype (`crate::dtype`), so Burn is told they are not native.
    fn dtype_usage(_device: &KilnDevice, dtype: DType) -> DTypeUsageSet {
        match dtype {
            DType::F32 | DType::F16 | DType::BF16 | DType::I32 | DType::U32 => {
                DTypeUsage::general()
            }
            DType::Bool(BoolStore::Native) => DTypeUsageSet::from(DTypeUsage::Storage),
            DType::F64
            | DType::Flex32
            | DType::I64
            | DType::I16
            | DType::I8
            | DType::U64
            | DType::U16
            | DType::U8
            | DType::Bool(BoolStore::U8 | BoolStore::U32)
            | DType::QFloat(_) => DTypeUsageSet::empty(),
        }
    }

    fn device_count(type_id: u16) -> usize {
        usize::from(type_id == crate::KILN_DEVICE_TYPE)
    }
}

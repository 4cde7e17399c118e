//! Burn's device handle for kiln: an index (kiln serves index 0, the adapter that
//! `DeviceOptions::from_env()` picks, opened once on first use and shared by every tensor on
//! it). A device that fails to open is an error carried by the tensors made on it, never a
//! panic.

use crate::BurnError;
use burn_backend::DeviceOps;
use burn_std::device::{Device, DeviceId};
use burn_std::{BoolDType, DeviceSettings, FloatDType, IntDType, QuantConfig};
use std::sync::{Arc, OnceLock};

/// The `type_id` of kiln devices in Burn's device ids.
pub const KILN_DEVICE_TYPE: u16 = 0x6b6e;

/// A kiln device as Burn names it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KilnDevice {
    /// Which device (only 0 is served).
    pub index: u16,
}

impl Device for KilnDevice {
    fn from_id(id: DeviceId) -> Self {
        KilnDevice { index: id.index_id }
    }

    fn to_id(&self) -> DeviceId {
        DeviceId {
            type_id: KILN_DEVICE_TYPE,
            index_id: self.index,
        }
    }
}

impl DeviceOps for KilnDevice {
    /// kiln computes in f32 by default, indexes with i32 and stores bools as bools.
    fn defaults(&self) -> DeviceSettings {
        DeviceSettings::new(
            FloatDType::F32,
            IntDType::I32,
            BoolDType::Native,
            QuantConfig::default(),
        )
    }
}

static DEVICE: OnceLock<Result<kiln::Device, Arc<BurnError>>> = OnceLock::new();

impl KilnDevice {
    /// The kiln device, opened on first use.
    pub fn open(&self) -> Result<kiln::Device, Arc<BurnError>> {
        if self.index != 0 {
            return Err(Arc::new(BurnError::Device {
                index: self.index,
                why: "kiln serves one device, index 0".into(),
            }));
        }
        DEVICE
            .get_or_init(|| {
                let opts = kiln::DeviceOptions::from_env();
                kiln::Device::new(&opts).map_err(|e| {
                    log::error!("kiln-burn: opening the device failed: {e}");
                    Arc::new(BurnError::Kiln(e))
                })
            })
            .clone()
    }
}

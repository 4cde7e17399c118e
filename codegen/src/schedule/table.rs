//! The schedule each kind of device starts from, as data (measured in docs/PERFORMANCE.md).

use super::{AttentionSchedule, ElementwiseSchedule, MatmulSchedule, ReduceSchedule, Schedule};

/// The kinds of device whose schedules differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceClass {
    /// A GPU (discrete, integrated, virtual, or of unknown type).
    Gpu,
    /// A CPU adapter (lavapipe, llvmpipe, WARP).
    Cpu,
}

/// CPU adapters (lavapipe) vectorize across invocations, want one element each, small
/// workgroups for reductions (each barrier switches every invocation) and rows of up to 1024
/// held in registers (a softmax row is then read from memory once), gemvs summed through
/// workgroup memory (llvmpipe's subgroups of 8 leave three quarters of the invocations
/// idle), quantized gemvs decoded element by element (the quantized gemv path's
/// 256-invocation workgroups took lavapipe twice as long a decode step), and one-row
/// attentions of up to 128 keys whole over 4 segments (one kernel instead of two; on
/// lavapipe no slower). The measurements are in docs/journal/.
pub const CPU: Schedule = Schedule {
    elementwise: ElementwiseSchedule {
        workgroup: 256,
        unroll: 1,
    },
    reduce: ReduceSchedule {
        workgroup: 16,
        unroll: 2,
        cache: 64,
        subgroups: false,
        serial: 64,
    },
    matmul: MatmulSchedule {
        block: None,
        block_n: None,
        unroll: 4,
        depth: None,
        gemv_subgroups: false,
        quantized_gemv: false,
        qgemv_rows: None,
        qgemv_int8: false,
        qgemv_items: 1,
        qgemv_workgroups: 0,
        qgemv_warps: 0,
        qgemv_warps_wide: 0,
        tensor_cores: false,
        coop_tile: None,
        tensor_core_f32: false,
    },
    attention: AttentionSchedule {
        rows: None,
        keys: None,
        head: None,
        tensor_cores: false,
        segments: 4,
    },
};

/// The starting schedule of each device class. It still has to be brought within what the
/// adapter accepts ([`super::limits::sanitize`]).
pub const DEVICE_SCHEDULES: [(DeviceClass, Schedule); 2] =
    [(DeviceClass::Gpu, Schedule::GPU), (DeviceClass::Cpu, CPU)];

/// The starting schedule of a device of class `class`.
pub fn for_device(class: DeviceClass) -> Schedule {
    DEVICE_SCHEDULES
        .iter()
        .find(|(c, _)| *c == class)
        .map_or(Schedule::GPU, |(_, s)| *s)
}

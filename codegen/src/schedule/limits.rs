//! Bringing a schedule within what code generation and an adapter accept, and checking one.

use super::{
    AttentionSchedule, ElementwiseSchedule, MatmulSchedule, ReduceSchedule, Schedule,
    MIN_REDUCE_WORKGROUP,
};
use crate::{attention, matmul, qgemv};
use kiln_ir::{Kernel, KernelKind};

/// What an adapter allows a schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdapterLimits {
    /// Invocations per workgroup at most (`max_compute_invocations_per_workgroup`).
    pub max_workgroup: u32,
    /// Whether kernels may use subgroup operations.
    pub subgroups: bool,
    /// Whether matmuls may use the tensor-core template: the adapter lists 16 x 16 x 16
    /// f16 x f16 -> f32 cooperative matrices, its subgroups are exactly 32 invocations, and
    /// the device was opened with the features they need.
    pub tensor_cores: bool,
}

/// `s` with every field brought into the range code generation accepts on an adapter with
/// `limits`: power-of-two workgroups within the limit (a reduction's at least
/// [`MIN_REDUCE_WORKGROUP`]), unrolls of 1 to 16, a register cache of at most 64, subgroups
/// only where the adapter has them, matmul blocks of [`matmul::BLOCKS`] (else `None`, by
/// size), columns of 4 or 8 (else `None`, square), attention rows, keys and heads that
/// [`attention`] accepts (else `None`), depths of [`matmul::DEPTHS`] (else
/// `None`, by `k`), quantized gemv rows a group of [`qgemv::QGEMV_ROWS`] (else `None`, by
/// the product), the 8-bit gemv kernel's warps of [`crate::qgemv_warp::QGEMV_WARPS`] whose
/// invocations fit the limit (else 0, the template's path; for the wide formats' warps, 0
/// means those formats take `qgemv_warps`). The runtime applies it to every device schedule;
/// [`valid`] checks with it.
pub fn sanitize(s: Schedule, limits: AdapterLimits) -> Schedule {
    let max_wg = limits.max_workgroup.max(1);
    let pow2 = |w: u32| 1u32 << (31 - w.clamp(1, max_wg).leading_zeros());
    let one_of = |v: Option<u32>, set: &[u32]| v.filter(|v| set.contains(v));
    // The 8-bit gemv kernel's warps: one of its set, within the adapter's invocations.
    let warps = |w: u32| {
        one_of(Some(w), &crate::qgemv_warp::QGEMV_WARPS)
            .filter(|w| w * crate::qgemv_warp::LANES <= max_wg)
            .unwrap_or(0)
    };
    Schedule {
        elementwise: ElementwiseSchedule {
            workgroup: pow2(s.elementwise.workgroup),
            unroll: s.elementwise.unroll.clamp(1, 16),
        },
        reduce: ReduceSchedule {
            workgroup: pow2(s.reduce.workgroup.max(MIN_REDUCE_WORKGROUP)),
            unroll: s.reduce.unroll.clamp(1, 16),
            cache: s.reduce.cache.min(64),
            subgroups: s.reduce.subgroups && limits.subgroups,
            serial: match s.reduce.serial.min(super::SERIAL_MAX) {
                0 => 0,
                v => pow2(v),
            },
        },
        matmul: MatmulSchedule {
            block: one_of(s.matmul.block, &matmul::BLOCKS),
            block_n: one_of(s.matmul.block_n, &[4, 8]),
            unroll: s.matmul.unroll.clamp(1, 16),
            depth: one_of(s.matmul.depth, &matmul::DEPTHS),
            gemv_subgroups: s.matmul.gemv_subgroups && limits.subgroups,
            quantized_gemv: s.matmul.quantized_gemv,
            qgemv_rows: one_of(s.matmul.qgemv_rows, &qgemv::QGEMV_ROWS),
            qgemv_int8: s.matmul.qgemv_int8,
            qgemv_items: one_of(Some(s.matmul.qgemv_items), &crate::qgemv_dot::QGEMV_ITEMS)
                .unwrap_or(1),
            qgemv_workgroups: s.matmul.qgemv_workgroups,
            qgemv_warps: warps(s.matmul.qgemv_warps),
            qgemv_warps_wide: warps(s.matmul.qgemv_warps_wide),
            tensor_cores: s.matmul.tensor_cores && limits.tensor_cores,
            coop_tile: s
                .matmul
                .coop_tile
                .filter(|&t| (t as usize) < crate::coop::COOP_TILES.len())
                .filter(|_| s.matmul.tensor_cores && limits.tensor_cores),
            tensor_core_f32: s.matmul.tensor_core_f32,
        },
        attention: AttentionSchedule {
            rows: one_of(s.attention.rows, &attention::ROWS),
            keys: one_of(s.attention.keys, &attention::KEYS),
            head: s
                .attention
                .head
                .filter(|h| h.is_multiple_of(16) && (16..=attention::MAX_HEAD).contains(h)),
            tensor_cores: s.attention.tensor_cores && limits.tensor_cores,
            segments: pow2(
                s.attention
                    .segments
                    .clamp(1, crate::attention_decode::MAX_SEGMENTS)
                    .min(max_wg / attention::THREADS),
            ),
        },
    }
}

/// Whether `s` is a schedule code generation accepts for `k` on an adapter with `max_wg`
/// invocations per workgroup: [`sanitize`] leaves it as it is, and a matmul's block and depth
/// are concrete, with columns only beside a register-tiled block. Stored tuning results are
/// checked with it, so that a damaged or foreign file cannot make a kernel fail to compile.
pub fn valid(k: &Kernel, s: &Schedule, max_wg: u32) -> bool {
    let concrete = match &k.kind {
        KernelKind::Matmul { .. } => match (s.matmul.block, s.matmul.depth) {
            (Some(block), Some(_)) => {
                (block > 1 || s.matmul.block_n.is_none())
                    && (!s.matmul.tensor_cores
                        || (s.matmul.coop_tile.is_some()
                            && crate::coop::eligible(k, s.matmul.tensor_core_f32)))
            }
            _ => false,
        },
        KernelKind::Attention { .. } => s.attention.concrete().is_some_and(|(rows, keys, head)| {
            (!s.attention.tensor_cores
                || crate::attention_coop::eligible(k, rows, keys, s.matmul.tensor_core_f32))
                && (rows != crate::attention_rows::ROW_FORM
                    || head <= crate::attention_rows::ROW_FORM_MAX_HEAD)
        }),
        // A serial reduction only as resolve makes it (rows of its size class at most, held
        // whole in registers, no subgroups, no unroll).
        KernelKind::Reduce { .. } => s.reduce.serial == 0 || s.reduce == s.resolve(k).reduce,
        KernelKind::Scan { .. } => s.reduce.serial == 0,
        KernelKind::Elementwise => true,
    };
    let limits = AdapterLimits {
        max_workgroup: max_wg,
        subgroups: s.reduce.subgroups || s.matmul.gemv_subgroups,
        tensor_cores: s.matmul.tensor_cores || s.attention.tensor_cores,
    };
    concrete && sanitize(*s, limits) == *s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The decode form's segments: a power of two, at most 16, within the adapter's
    /// invocations a workgroup (64 a segment), at least 1.
    #[test]
    fn segments_fit_the_adapter() {
        let at = |segments: u32, max_workgroup: u32| {
            let mut s = Schedule::default();
            s.attention.segments = segments;
            let limits = AdapterLimits {
                max_workgroup,
                subgroups: false,
                tensor_cores: false,
            };
            sanitize(s, limits).attention.segments
        };
        assert_eq!(at(16, 1024), 16);
        assert_eq!(at(64, 1024), 16);
        assert_eq!(at(16, 512), 8);
        assert_eq!(at(16, 256), 4);
        assert_eq!(at(3, 1024), 2);
        assert_eq!(at(0, 1024), 1);
        assert_eq!(at(4, 32), 1);
    }

    /// Without subgroups (an adapter lacking `SUBGROUP`, or a browser) no schedule keeps a
    /// subgroup flag, the GPU default (gemv subgroups on) included; with them the flags stay.
    #[test]
    fn subgroup_flags_need_subgroups() {
        let mut on = Schedule::default();
        on.reduce.subgroups = true;
        let limits = |subgroups| AdapterLimits {
            max_workgroup: 1024,
            subgroups,
            tensor_cores: false,
        };
        let off = sanitize(on, limits(false));
        assert_eq!(
            (off.reduce.subgroups, off.matmul.gemv_subgroups),
            (false, false)
        );
        let kept = sanitize(on, limits(true));
        assert_eq!(
            (kept.reduce.subgroups, kept.matmul.gemv_subgroups),
            (true, true)
        );
    }

    /// Out-of-range values come back within range; unknown blocks and depths become `None`.
    #[test]
    fn sanitize_brings_fields_into_range() {
        let mut s = Schedule::default();
        s.elementwise.workgroup = 300;
        s.reduce.workgroup = 3;
        s.reduce.cache = 100;
        s.matmul.block = Some(7);
        s.matmul.block_n = Some(5);
        s.matmul.depth = Some(24);
        s.matmul.unroll = 0;
        // 300 is within the adapter's 1024: only the rounding to a power of two brings it down.
        let t = sanitize(
            s,
            AdapterLimits {
                max_workgroup: 1024,
                subgroups: true,
                tensor_cores: true,
            },
        );
        assert_eq!(t.elementwise.workgroup, 256);
        assert_eq!(t.reduce.workgroup, MIN_REDUCE_WORKGROUP);
        assert_eq!(t.reduce.cache, 64);
        assert_eq!(
            (t.matmul.block, t.matmul.block_n, t.matmul.depth),
            (None, None, None)
        );
        assert_eq!(t.matmul.unroll, 1);
    }

    /// Tensor cores only where the adapter has them; a tile outside the table is dropped.
    #[test]
    fn tensor_cores_need_the_adapter() {
        let mut s = Schedule::default();
        s.matmul.coop_tile = Some(99);
        let limits = |tensor_cores| AdapterLimits {
            max_workgroup: 1024,
            subgroups: true,
            tensor_cores,
        };
        let off = sanitize(s, limits(false));
        assert_eq!(
            (off.matmul.tensor_cores, off.matmul.coop_tile),
            (false, None)
        );
        let on = sanitize(s, limits(true));
        assert_eq!((on.matmul.tensor_cores, on.matmul.coop_tile), (true, None));
        s.matmul.coop_tile = Some(1);
        assert_eq!(sanitize(s, limits(true)).matmul.coop_tile, Some(1));
    }
}

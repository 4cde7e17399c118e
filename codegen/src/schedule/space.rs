//! The candidate schedules the autotuner searches, one space per kernel class, as data.

use super::Schedule;
use crate::{gemv, matmul};
use kiln_ir::{Kernel, KernelKind};

/// How much the autotuner searches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Autotune {
    /// Never: every kernel runs with the device schedule.
    Off,
    /// A few candidates, for kernels big enough to matter ([`FAST_MIN_WORK`]); not for vec4
    /// elementwise kernels, whose space is only the workgroup size (the default already runs
    /// them at copy speed on a large GPU, and they are the costliest to tune: their outputs
    /// are the largest to read back and compare).
    #[default]
    Fast,
    /// Every candidate of the space, for every kernel with more than one.
    Full,
}

impl std::str::FromStr for Autotune {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" | "0" | "false" => Ok(Autotune::Off),
            "fast" | "1" | "on" | "true" => Ok(Autotune::Fast),
            "full" => Ok(Autotune::Full),
            other => Err(format!("autotune mode {other:?} is not off, fast or full")),
        }
    }
}

/// Elements a kernel must touch (or, for a matmul, multiply-adds it must do, over 64) before
/// the fast mode tunes it: smaller kernels cost less than tuning them.
pub const FAST_MIN_WORK: usize = 1 << 20;

/// Elementwise kernels: (workgroup size, elements per invocation).
const ELEMENTWISE_FAST: &[(u32, u32)] = &[(256, 4), (256, 1), (128, 2), (64, 4)];
const ELEMENTWISE_FULL: &[(u32, u32)] = &[
    (64, 1),
    (64, 2),
    (64, 4),
    (64, 8),
    (128, 1),
    (128, 2),
    (128, 4),
    (128, 8),
    (256, 1),
    (256, 2),
    (256, 4),
    (256, 8),
];
/// Reductions: (workgroup size, loads per step), each with every register cache size.
const REDUCE_FAST: &[(u32, u32)] = &[(256, 8), (256, 4), (128, 4), (64, 4), (32, 2)];
const REDUCE_FULL: &[(u32, u32)] = &[
    (16, 2),
    (32, 1),
    (32, 2),
    (32, 4),
    (64, 2),
    (64, 4),
    (64, 8),
    (128, 2),
    (128, 4),
    (128, 8),
    (256, 2),
    (256, 4),
    (256, 8),
    (512, 4),
    (512, 8),
];
/// Reductions: elements per invocation kept in registers (0: none).
const REDUCE_CACHE_FAST: &[u32] = &[0, 16];
const REDUCE_CACHE_FULL: &[u32] = &[0, 8, 16, 32];

/// Matrix-vector products: steps per iteration of the gemv path.
const GEMV_UNROLLS: &[u32] = &[4, 8, 16];
/// Matmuls: (rows, columns) per invocation; `None` columns: square.
const MATMUL_BLOCKS: [(u32, Option<u32>); 5] =
    [(1, None), (4, None), (8, None), (8, Some(4)), (4, Some(8))];
/// Matmuls in the full space: inner steps per iteration (the fast space keeps the base's).
const MATMUL_UNROLLS_FULL: &[u32] = &[2, 4, 8, 16];

/// The schedules to try for `k`, the resolved base first (the reference every other candidate
/// is checked against; for a tensor-core matmul, the base without tensor cores, so that every
/// tile is checked against the scalar template), without repeats; none where the mode or the
/// kernel's size says no.
/// Workgroups wider than `max_wg` are left out.
pub fn candidates(k: &Kernel, device: &Schedule, mode: Autotune, max_wg: u32) -> Vec<Schedule> {
    let base = device.resolve(k);
    let vec4_elementwise = matches!(k.kind, KernelKind::Elementwise) && k.vector == 4;
    if mode == Autotune::Off
        || (mode == Autotune::Fast && (work(k) < FAST_MIN_WORK || vec4_elementwise))
    {
        return vec![];
    }
    let full = mode == Autotune::Full;
    // A tensor-core matmul is checked against the scalar template: the reference is the
    // base without tensor cores, and the base's tile is a candidate like the others.
    let reference = if base.matmul.tensor_cores || base.attention.tensor_cores {
        let mut s = base;
        s.matmul.tensor_cores = false;
        s.matmul.coop_tile = None;
        s.attention.tensor_cores = false;
        s.resolve(k)
    } else {
        base
    };
    let mut out = vec![reference];
    // Candidates fitted to the kernel's sizes (as the base is): a reduction's workgroup no
    // wider than its rows need, so that differently written equal schedules collapse.
    let mut push = |s: Schedule| {
        let s = s.resolve(k);
        if fits_sizes(k, &s) && !out.contains(&s) {
            out.push(s);
        }
    };
    match &k.kind {
        KernelKind::Elementwise => {
            let table = if full {
                ELEMENTWISE_FULL
            } else {
                ELEMENTWISE_FAST
            };
            for &(wg, unroll) in table {
                if wg <= max_wg {
                    let mut s = base;
                    s.elementwise.workgroup = wg;
                    // A vec4 kernel handles four elements per invocation whatever the unroll.
                    if k.vector != 4 {
                        s.elementwise.unroll = unroll;
                    }
                    push(s);
                }
            }
        }
        KernelKind::Reduce { .. } => {
            let caches = if full {
                REDUCE_CACHE_FULL
            } else {
                REDUCE_CACHE_FAST
            };
            // A serial kernel's candidates are its rows a workgroup, serial, and the tree
            // form's workgroups, unrolls and caches (resolve gives a serial row its whole
            // size class in registers, and reads no unroll there).
            for &(wg, u) in if full { REDUCE_FULL } else { REDUCE_FAST } {
                for &c in caches {
                    if wg <= max_wg {
                        let mut s = base;
                        s.reduce.workgroup = wg;
                        s.reduce.unroll = u;
                        s.reduce.cache = c;
                        s.reduce.serial = 0;
                        push(s);
                        if base.reduce.serial > 0 {
                            s.reduce.serial = base.reduce.serial;
                            push(s);
                        }
                    }
                }
            }
        }
        KernelKind::Matmul { .. } if base.matmul.block == Some(1) && gemv(k) => {
            let m = base.matmul;
            if m.quantized_gemv && crate::qgemv::outputs(k, &m).is_some() {
                // The quantized gemv path, which reads no unroll: its rows a group (where
                // they change its layout) and, with the 8-bit vector, its items a trip and
                // its workgroups; the fast space varies one at a time from the base.
                let with_rows = |r: u32| {
                    let mut m = m;
                    m.qgemv_rows = Some(r);
                    crate::qgemv::outputs(k, &m)
                };
                let rows: &[u32] = if with_rows(1) != with_rows(4) {
                    &crate::qgemv::QGEMV_ROWS
                } else {
                    &[]
                };
                let items: &[u32] = if m.qgemv_int8 {
                    &crate::qgemv_dot::QGEMV_ITEMS
                } else {
                    &[]
                };
                let base_rows = m.qgemv_rows.unwrap_or(m.most_qgemv_rows());
                for &r in rows.iter().chain(&[base_rows]) {
                    for &i in items.iter().chain(&[m.qgemv_items]) {
                        if full || r == base_rows || i == m.qgemv_items {
                            let mut s = base;
                            s.matmul.qgemv_rows = Some(r);
                            s.matmul.qgemv_items = i;
                            push(s);
                        }
                    }
                }
                // Where workgroups take blocks in turn (the vector staged once a workgroup, or
                // the warp kernel): no cap, half and twice the base's (half and a quarter of
                // the blocks where the base has none), from the base's rows and items, each
                // where it gives another grid.
                if let (Some(grid), Some(blocks)) = (
                    crate::qgemv_dot::workgroups(k, &m),
                    crate::qgemv_dot::persistent_blocks(k, &m),
                ) {
                    let mut grids = vec![grid];
                    let w = m.qgemv_workgroups;
                    let b = u32::try_from(blocks).unwrap_or(u32::MAX);
                    let caps = match w {
                        0 => [0, b / 2, b / 4],
                        w => [0, w / 2, w.saturating_mul(2)],
                    };
                    for v in caps {
                        let mut s = base;
                        s.matmul.qgemv_workgroups = v;
                        if let Some(g) = crate::qgemv_dot::workgroups(k, &s.matmul)
                            .filter(|g| *g > 0 && !grids.contains(g))
                        {
                            grids.push(g);
                            push(s);
                        }
                    }
                }
            } else {
                // The gemv path: only its loads in flight vary (tiles would compute padding).
                for &u in GEMV_UNROLLS {
                    let mut s = base;
                    s.matmul.unroll = u;
                    push(s);
                }
            }
        }
        // Scans run at the base's workgroup: no candidates, no tuning.
        KernelKind::Scan { .. } => {}
        KernelKind::Attention { .. } => {
            // The base itself (on tensor cores where it is); the tensor-core block form where
            // the device has tensor cores and the base took the row form instead; then every
            // scalar tile.
            push(base);
            if device.attention.tensor_cores {
                let mut s = *device;
                s.attention.rows = Some(16);
                s.attention.keys = None;
                push(s);
            }
            for rows in crate::attention::ROWS {
                for keys in crate::attention::KEYS {
                    let mut s = base;
                    s.attention.rows = Some(rows);
                    s.attention.keys = Some(keys);
                    s.attention.tensor_cores = false;
                    push(s);
                }
            }
        }
        KernelKind::Matmul { .. } => {
            // Every tensor-core tile where the base may use them; then the scalar blocks, so
            // that the tuner is free to prefer the scalar template (some drivers' cooperative
            // matrices are slow).
            if base.matmul.tensor_cores {
                for t in 0..crate::coop::COOP_TILES.len() as u32 {
                    let mut s = base;
                    s.matmul.coop_tile = Some(t);
                    push(s);
                }
            }
            let fast = [base.matmul.unroll];
            let unrolls: &[u32] = if full { MATMUL_UNROLLS_FULL } else { &fast };
            for (bm, bn) in MATMUL_BLOCKS {
                for &u in unrolls {
                    let mut s = base;
                    s.matmul.tensor_cores = false;
                    s.matmul.coop_tile = None;
                    s.matmul.block = Some(bm);
                    s.matmul.block_n = bn;
                    s.matmul.unroll = u;
                    push(s);
                }
            }
        }
    }
    if out.len() < 2 {
        out.clear();
    }
    out
}

/// Whether schedule `s` suits `k`'s sizes: an elementwise workgroup no larger than the
/// elements (rounded up to a power of two), a matmul tile no larger than twice the output's
/// rows and columns (a larger one computes mostly padding).
fn fits_sizes(k: &Kernel, s: &Schedule) -> bool {
    let p2 = |n: usize| n.max(1).next_power_of_two();
    match &k.kind {
        KernelKind::Elementwise => s.elementwise.workgroup as usize <= p2(k.shape.numel()).max(64),
        KernelKind::Reduce { .. } | KernelKind::Scan { .. } => true,
        // No more rows per workgroup than the queries need.
        KernelKind::Attention { q, .. } => {
            let r = k.load_rank();
            let sq = k.load(*q).view.shape.0[r - 2];
            let a = &s.attention;
            let row_form = a.rows == Some(crate::attention_rows::ROW_FORM);
            a.rows
                .is_none_or(|rows| rows == 1 || rows as usize <= p2(sq))
                && (!row_form
                    || a.head
                        .is_some_and(|h| h <= crate::attention_rows::ROW_FORM_MAX_HEAD))
        }
        KernelKind::Matmul { .. } => {
            let r = k.shape.rank();
            let (m, n) = (p2(k.shape.0[r - 2]), p2(k.shape.0[r - 1]));
            if s.matmul.tensor_cores {
                return crate::coop::tile(s.matmul.coop_tile)
                    .is_ok_and(|t| t.bm as usize <= 2 * m && t.bn as usize <= 2 * n);
            }
            match s.matmul.blocks() {
                Some((bm, bn)) if bm > 1 => {
                    matmul::tile(bm) as usize <= 2 * m && matmul::tile(bn) as usize <= 2 * n
                }
                Some(_) | None => true,
            }
        }
    }
}

/// Whether a matmul kernel is a matrix-vector product (an output edge of 1), which block 1
/// runs on its gemv path.
fn gemv(k: &Kernel) -> bool {
    let r = k.shape.rank();
    gemv::is_gemv(k.shape.0[r - 2], k.shape.0[r - 1])
}

/// Elements touched (multiply-adds over 64 for a matmul).
fn work(k: &Kernel) -> usize {
    if let KernelKind::Attention { k: keys, .. } = &k.kind {
        let r = k.load_rank();
        let v = &k.load(*keys).view.shape.0;
        return k.shape.numel() * v[r - 2] * v[r - 1] / 64;
    }
    match k.matmul_k() {
        Some(kk) => k.shape.numel() * kk / 64,
        None => k.shape.numel(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse() {
        assert_eq!("OFF".parse::<Autotune>(), Ok(Autotune::Off));
        assert_eq!("fast".parse::<Autotune>(), Ok(Autotune::Fast));
        assert_eq!(" full".parse::<Autotune>(), Ok(Autotune::Full));
        assert!("fastest".parse::<Autotune>().is_err());
    }
}

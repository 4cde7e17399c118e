//! The quantized gemv path's schedule: rows a group by the product's rows, its workgroup
//! memory fitted to the adapter's limit, rows a group outside the accepted set refused, the
//! tuner's candidates, and the 8-bit vector's workgroups taking blocks in turn.

use kiln_codegen::qgemv::{self, QGEMV_ROWS};
use kiln_codegen::{generate, CodegenError, Schedule, Target};
use kiln_ir::lower::{lower, FusionOptions};
use kiln_ir::quant::BlockFormat;
use kiln_ir::{Kernel, ALL_BLOCK_FORMATS};

mod common;

/// `s` with the 8-bit vector's path in the block-1 template, not its own kernel
/// (`codegen/tests/qgemv_warp.rs` tests that one).
fn template(mut s: Schedule) -> Schedule {
    s.matmul.qgemv_warps = 0;
    s
}

/// The fused kernel of `x[1, k] @ W^T`, `W` `[1031, k]` in `f`'s blocks.
fn gemv_kernel(f: BlockFormat) -> Kernel {
    gemv_of(f, 1031)
}

/// The fused kernel of `x[1, k] @ W^T`, `W` `[n, k]` in `f`'s blocks, `k` 9 blocks.
fn gemv_of(f: BlockFormat, n: usize) -> Kernel {
    product(f, 9 * f.block_values(), n)
}

/// The fused kernel of `x[1, k] @ W^T`, `W` `[n, k]` in `f`'s blocks.
fn product(f: BlockFormat, k: usize, n: usize) -> Kernel {
    let kernel = common::x_wt_kernel(f, 1, k, n);
    assert!(qgemv::applies(&kernel), "{f:?}: the path applies");
    kernel
}

/// The path gives up rows a group, then itself, to fit the limit; what it declares is what
/// `workgroup_bytes` counts.
#[test]
fn quantized_gemv_fits_the_workgroup_memory_limit() {
    for (f, int8) in ALL_BLOCK_FORMATS
        .into_iter()
        .flat_map(|f| [(f, false), (f, true)])
    {
        let k = &gemv_kernel(f);
        let mut s = template(Schedule::default()).resolve(k);
        s.matmul.tensor_cores = false;
        s.matmul.qgemv_rows = Some(4);
        s.matmul.qgemv_int8 = int8;
        assert_eq!(s.matmul.blocks(), Some((1, 1)), "{f:?}");
        let path = |rows: u32| {
            let mut m = s.matmul;
            m.qgemv_rows = Some(rows);
            2048 + qgemv::workgroup_bytes(k, &m).unwrap()
        };
        for limit in [49152, path(4), path(4) - 1, path(2) - 1, path(1) - 1, 2048] {
            let fit = s.fit_workgroup_memory(k, limit);
            let m = fit.matmul;
            let src = generate(k, &fit, &Target::default()).unwrap();
            let bytes = common::declared(&src.wgsl);
            assert!(bytes <= limit, "{f:?} limit {limit}: {bytes} bytes");
            if m.quantized_gemv {
                assert_eq!(bytes, path(m.most_qgemv_rows()), "{f:?} limit {limit}");
                // The widest rows that fit.
                let wider = QGEMV_ROWS.iter().filter(|&&r| r > m.most_qgemv_rows());
                assert!(
                    wider.clone().all(|&r| path(r) > limit) || path(4) == path(m.most_qgemv_rows()),
                    "{f:?} limit {limit}: {} rows a group",
                    m.most_qgemv_rows()
                );
            } else {
                assert!(QGEMV_ROWS.iter().all(|&r| path(r) > limit), "{f:?} {limit}");
                assert_eq!(bytes, 2048, "{f:?} limit {limit}");
            }
        }
    }
}

/// Rows a group outside [`QGEMV_ROWS`] are a schedule error, not a shader.
#[test]
fn other_rows_a_group_are_refused() {
    let k = &gemv_kernel(BlockFormat::Q4K);
    for rows in [0, 3, 8] {
        let mut s = Schedule::default().resolve(k);
        s.matmul.qgemv_rows = Some(rows);
        assert!(
            matches!(
                generate(k, &s, &Target::default()),
                Err(CodegenError::Schedule(_))
            ),
            "{rows} rows a group"
        );
    }
}

/// A device's schedule gives each product the most rows a group that still leave it
/// `QGEMV_MIN_WORKGROUPS` workgroups (1 where none does); rows a group asked for are kept.
#[test]
fn rows_a_group_follow_the_product() {
    for (f, int8) in ALL_BLOCK_FORMATS
        .into_iter()
        .flat_map(|f| [(f, false), (f, true)])
    {
        for n in [7, 1031, 2048, 3000, 4096, 8192, 16384] {
            let k = &gemv_of(f, n);
            let mut s = template(Schedule::default());
            s.matmul.qgemv_int8 = int8;
            let top = s.matmul.most_qgemv_rows();
            let m = s.resolve(k).matmul;
            let rows = m.qgemv_rows.expect("resolved");
            let groups = |r: u32| {
                let mut m = m;
                m.qgemv_rows = Some(r);
                n.next_power_of_two()
                    .div_ceil(qgemv::outputs(k, &m).unwrap() as usize)
            };
            let words = groups(1) == groups(top);
            let want = if words {
                top
            } else {
                QGEMV_ROWS
                    .iter()
                    .copied()
                    .filter(|&r| r <= top && groups(r) >= qgemv::QGEMV_MIN_WORKGROUPS)
                    .max()
                    .unwrap_or(1)
            };
            assert_eq!(rows, want, "{f:?} int8 {int8} n {n}");
            s.matmul.qgemv_rows = Some(top);
            assert_eq!(s.resolve(k).matmul.qgemv_rows, Some(top), "{f:?} {n}: kept");
        }
    }
    // The decoders' products, worked by hand: Q4_K rows of 2048, 4096 and 8192.
    for (int8, n, want) in [
        (false, 2048, 1),
        (false, 4096, 2),
        (false, 8192, 2),
        (true, 2048, 1),
        (true, 4096, 2),
        (true, 8192, 4),
    ] {
        let mut s = template(Schedule::default());
        s.matmul.qgemv_int8 = int8;
        let rows = s.resolve(&gemv_of(BlockFormat::Q4K, n)).matmul.qgemv_rows;
        assert_eq!(rows, Some(want), "Q4_K int8 {int8} n {n}");
    }
}

/// Kernels of other kinds, of any rank, resolve with no rows a group (a rank-1 elementwise
/// kernel once panicked where the rule read a matmul's batch dims).
#[test]
fn other_kernels_get_no_rows_a_group() {
    use kiln_ir::ops::{ReduceOp, UnaryOp};
    use kiln_ir::{DType, Graph, Op, Shape};
    let mut g = Graph::new();
    let x = g.input(DType::F32, Shape::new(&[1031])).unwrap();
    let e = g.add(Op::Unary(UnaryOp::Exp), &[x]).unwrap();
    let r = g
        .add(
            Op::Reduce {
                op: ReduceOp::Sum,
                axes: smallvec::smallvec![0],
                keepdim: false,
            },
            &[e],
        )
        .unwrap();
    g.mark_output(e);
    g.mark_output(r);
    let prog = kiln_ir::lower::lower_unfused(&g).unwrap();
    assert!(prog.calls.len() >= 2);
    for int8 in [false, true] {
        let mut s = Schedule::GPU;
        s.matmul.qgemv_int8 = int8;
        for c in &prog.calls {
            let m = s.resolve(&c.kernel).matmul;
            assert_eq!(m.qgemv_rows, None, "{}", c.kernel.name);
        }
    }
}

/// The tuner's candidates for a product on the quantized gemv path vary what the path reads:
/// rows a group where they change its layout and, with the 8-bit vector, items a trip; never
/// the unroll, which only the element-wise gemv path reads. The fast space varies one from
/// the base at a time, the full one both; each candidate is a distinct schedule that
/// generates.
#[test]
fn tuning_a_quantized_gemv_varies_rows_and_items() {
    use kiln_codegen::qgemv_dot::QGEMV_ITEMS;
    use kiln_codegen::schedule::space::{candidates, Autotune};
    for f in ALL_BLOCK_FORMATS {
        // Past the fast space's size floor (2^20 multiply-adds over 64): 8192 x 8192.
        let g = common::x_wt(f, 1, 8192, 8192);
        let prog = lower(&g, &FusionOptions::default()).unwrap();
        let k = &prog
            .calls
            .iter()
            .find(|c| c.kernel.matmul_k().is_some())
            .expect("a matmul kernel")
            .kernel;
        assert!(qgemv::applies(k), "{f:?}: the path applies");
        for int8 in [false, true] {
            let mut s = template(Schedule::GPU);
            s.matmul.qgemv_int8 = int8;
            s.matmul.tensor_cores = false;
            let base = s.resolve(k);
            let words = matches!(f, BlockFormat::Q8_0 | BlockFormat::Q4_0) && !int8;
            for mode in [Autotune::Fast, Autotune::Full] {
                let c = candidates(k, &s, mode, 256);
                let what = format!("{f:?} int8 {int8} {mode:?}");
                if words {
                    // One layout whatever the rows, no items: nothing to tune.
                    assert!(c.is_empty(), "{what}: {} candidates", c.len());
                    continue;
                }
                assert!(
                    c.iter().all(|x| x.matmul.unroll == base.matmul.unroll),
                    "{what}"
                );
                let rows: Vec<u32> = c.iter().filter_map(|x| x.matmul.qgemv_rows).collect();
                assert!(
                    QGEMV_ROWS.iter().all(|r| rows.contains(r)),
                    "{what}: {rows:?}"
                );
                let items: Vec<u32> = c.iter().map(|x| x.matmul.qgemv_items).collect();
                let want: &[u32] = if int8 {
                    &QGEMV_ITEMS
                } else {
                    &[base.matmul.qgemv_items]
                };
                assert!(want.iter().all(|i| items.contains(i)), "{what}: {items:?}");
                assert!(items.iter().all(|i| want.contains(i)), "{what}: {items:?}");
                let n = |r: usize, i: usize| r + i - 1;
                let expect = match (mode, int8) {
                    (Autotune::Full, true) => QGEMV_ROWS.len() * QGEMV_ITEMS.len(),
                    (Autotune::Fast, true) => n(QGEMV_ROWS.len(), QGEMV_ITEMS.len()),
                    (Autotune::Full | Autotune::Fast | Autotune::Off, false) => QGEMV_ROWS.len(),
                    (Autotune::Off, true) => unreachable!("not a mode tried here"),
                };
                assert_eq!(c.len(), expect, "{what}");
                for (i, x) in c.iter().enumerate() {
                    assert!(!c[..i].contains(x), "{what}: a repeat");
                    let src = generate(k, x, &Target::default())
                        .unwrap_or_else(|e| panic!("{what}: {e}"));
                    common::validated(&src.wgsl, &format!("{what} {:?}", x.matmul));
                }
            }
        }
    }
}

/// A product on the quantized gemv path keys its tuning result by the path it takes under the
/// device schedule (`|qgemv` with the `f32` vector, `|qgemv8` with the 8-bit one, nothing with
/// the path off), so that rows and items tuned for one are never applied to another.
#[test]
fn tuning_keys_name_the_quantized_path() {
    use kiln_codegen::schedule::tuned::tune_key;
    let k = &gemv_kernel(BlockFormat::Q4K);
    let key = |on: bool, int8: bool| {
        let mut s = template(Schedule::GPU);
        s.matmul.quantized_gemv = on;
        s.matmul.qgemv_int8 = int8;
        tune_key(k, &s)
    };
    assert!(key(true, true).ends_with("|qgemv8"), "{}", key(true, true));
    assert!(key(true, false).ends_with("|qgemv"), "{}", key(true, false));
    assert!(
        !key(false, false).contains("|qgemv"),
        "{}",
        key(false, false)
    );
    assert_eq!(key(false, false), key(false, true));
    // The 8-bit vector's own kernel names its warps a workgroup.
    let mut w = Schedule::GPU;
    w.matmul.qgemv_int8 = true;
    assert!(
        tune_key(k, &w).ends_with("|qgemv8w16"),
        "{}",
        tune_key(k, &w)
    );
}

/// Where the 8-bit vector is staged whole at once (`k` at most `DOT_CHUNK`), the grid is the
/// product's blocks of rows capped at `qgemv_workgroups` (0: none), and the tuner tries no cap,
/// half and twice the base's (half and a quarter of the blocks where the base has no cap),
/// where each gives another grid; a longer vector, or the `f32` one, gets a workgroup a block
/// and no such candidates.
#[test]
fn workgroups_take_blocks_in_turn_where_the_vector_is_staged_once() {
    use kiln_codegen::qgemv_dot::{persistent_blocks, workgroups, DOT_CHUNK};
    use kiln_codegen::schedule::space::{candidates, Autotune};
    // Past the fast space's size floor.
    let once = &product(BlockFormat::Q4K, DOT_CHUNK as usize, 32768);
    let chunked = &product(BlockFormat::Q4K, 2 * DOT_CHUNK as usize, 32768);
    let mut s = template(Schedule::GPU);
    s.matmul.qgemv_int8 = true;
    s.matmul.tensor_cores = false;
    s.matmul.qgemv_workgroups = 264;
    let base = s.resolve(once);
    // 4 rows a group, 32 a workgroup.
    assert_eq!(persistent_blocks(once, &base.matmul), Some(1024));
    assert_eq!(common::grid(once, &base), (264, 1));
    let mut open = base;
    open.matmul.qgemv_workgroups = 0;
    assert_eq!(common::grid(once, &open), (1024, 1));
    assert_eq!(persistent_blocks(chunked, &s.resolve(chunked).matmul), None);
    assert_eq!(common::grid(chunked, &s.resolve(chunked)), (1024, 1));
    let mut f32_vector = s;
    f32_vector.matmul.qgemv_int8 = false;
    assert_eq!(workgroups(once, &f32_vector.resolve(once).matmul), None);
    for mode in [Autotune::Fast, Autotune::Full] {
        let caps = |k: &Kernel, s: &Schedule| -> Vec<u32> {
            let mut v: Vec<u32> = candidates(k, s, mode, 256)
                .iter()
                .map(|c| c.matmul.qgemv_workgroups)
                .filter(|&w| w != s.matmul.qgemv_workgroups)
                .collect();
            v.sort_unstable();
            v
        };
        assert_eq!(caps(once, &s), vec![0, 132, 528], "{mode:?}");
        // With no cap in the base: half and a quarter of the 1024 blocks.
        assert_eq!(caps(once, &open), vec![256, 512], "{mode:?}");
        assert!(caps(chunked, &s).is_empty(), "{mode:?}");
        assert!(caps(once, &f32_vector).is_empty(), "{mode:?}");
    }
}

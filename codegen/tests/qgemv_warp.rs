//! The 8-bit vector's quantized gemv as a kernel of its own (`qgemv_warp`): chosen only
//! where the schedule has subgroups and warps, valid WGSL for every format, rows a subgroup,
//! items a trip and warps a workgroup, its grid capped at the schedule's workgroups, its
//! staged vector fitted to the adapter's workgroup memory, and its tuning candidates.

use kiln_codegen::qgemv::{self, QGEMV_ROWS};
use kiln_codegen::qgemv_dot::{workgroups, QGEMV_ITEMS};
use kiln_codegen::qgemv_warp::{self, QGEMV_WARPS, WARP_CHUNK};
use kiln_codegen::schedule::limits::{self, AdapterLimits};
use kiln_codegen::{generate, Schedule, Target};
use kiln_ir::quant::BlockFormat;
use kiln_ir::{Kernel, ALL_BLOCK_FORMATS};

mod common;

use common::{grid, x_wt_kernel as product};

/// The GPU schedule with the 8-bit vector, resolved for `k`, with `warps` for every format,
/// and rows and items where given.
fn schedule(k: &Kernel, warps: u32, rows: Option<u32>, items: Option<u32>) -> Schedule {
    let mut s = Schedule::GPU;
    s.matmul.qgemv_int8 = true;
    s.matmul.tensor_cores = false;
    s.matmul.qgemv_warps = warps;
    s.matmul.qgemv_warps_wide = 0;
    s.matmul.qgemv_rows = rows;
    let mut s = s.resolve(k);
    s.matmul.qgemv_items = items.unwrap_or(s.matmul.qgemv_items);
    s
}

/// Whether `wgsl` is the warp kernel of `warps` warps (the template's 8-bit path declares
/// its 16 x 16 tiles `ta` and `tb` besides).
fn is_warp_kernel(wgsl: &str, warps: u32) -> bool {
    wgsl.contains(&format!("@workgroup_size({})", warps * 32))
        && wgsl.contains("subgroupAdd")
        && wgsl.contains("kiln_qdot_")
        && !wgsl.contains("var<workgroup> ta:")
}

/// Every format, at a vector staged once (9 blocks) and one staged a chunk at a time (past
/// `WARP_CHUNK`), at every warps, rows and items: the kernel is chosen, naga accepts it, and
/// it declares the staged vector alone.
#[test]
fn every_form_is_valid_wgsl() {
    for f in ALL_BLOCK_FORMATS {
        let bv = f.block_values();
        for k in [9 * bv, (WARP_CHUNK as usize + 1).div_ceil(bv) * bv] {
            let kernel = &product(f, 1, k, 1031);
            for warps in QGEMV_WARPS {
                for rows in QGEMV_ROWS {
                    for items in QGEMV_ITEMS {
                        let s = schedule(kernel, warps, Some(rows), Some(items));
                        let what =
                            format!("{f:?} k {k}: {warps} warps, {rows} rows, {items} items");
                        assert!(qgemv_warp::chosen(kernel, &s.matmul), "{what}");
                        let src = generate(kernel, &s, &Target::default()).unwrap();
                        common::validated(&src.wgsl, &what);
                        assert!(is_warp_kernel(&src.wgsl, warps), "{what}\n{}", src.wgsl);
                        assert_eq!(
                            common::declared(&src.wgsl),
                            qgemv_warp::workgroup_bytes(),
                            "{what}"
                        );
                    }
                }
            }
        }
    }
}

/// The kernel needs the 8-bit vector, subgroups, nonzero warps and a product the quantized
/// path applies to (one row); otherwise the block-1 template runs.
#[test]
fn chosen_only_where_everything_allows_it() {
    let k = &product(BlockFormat::Q4K, 1, 2048, 1031);
    let warp = |s: &Schedule| {
        let wgsl = generate(k, s, &Target::default()).unwrap().wgsl;
        is_warp_kernel(&wgsl, 16)
    };
    let base = schedule(k, 16, None, None);
    assert!(warp(&base));
    for off in 0..3 {
        let mut s = base;
        match off {
            0 => s.matmul.gemv_subgroups = false,
            1 => s.matmul.qgemv_int8 = false,
            _ => s.matmul.qgemv_warps = 0,
        }
        assert!(!qgemv_warp::chosen(k, &s.matmul), "{off}");
        assert!(!warp(&s), "{off}");
    }
    // Several rows: the same kernel key (sizes are not in it), so the schedule must differ,
    // or the two would share a pipeline.
    let rows = &product(BlockFormat::Q4K, 3, 2048, 1031);
    assert_eq!(rows.key(), k.key());
    let theirs = schedule(rows, 16, None, None);
    assert!(!qgemv_warp::chosen(rows, &theirs.matmul));
    assert_eq!(theirs.matmul.qgemv_warps, 0);
    assert_ne!(theirs, base);
    assert!(!warp(&theirs));
}

/// A warp a row by default; the grid is the product's blocks of `warps * rows` rows, capped at
/// `qgemv_workgroups` (0: none), whether the vector is staged once or a chunk at a time.
#[test]
fn the_grid_takes_blocks_in_turn() {
    for kk in [4096, 16384] {
        let k = &product(BlockFormat::Q4K, 1, kk, 28672);
        let s = schedule(k, 16, None, None);
        assert_eq!(s.matmul.qgemv_rows, Some(1), "k {kk}");
        assert_eq!(qgemv::outputs(k, &s.matmul), Some(16));
        assert_eq!(s.matmul.qgemv_workgroups, 264);
        assert_eq!(grid(k, &s), (264, 1), "k {kk}");
        let mut open = s;
        open.matmul.qgemv_workgroups = 0;
        assert_eq!(workgroups(k, &open.matmul), Some(28672 / 16));
        assert_eq!(grid(k, &open), (28672 / 16, 1), "k {kk}");
        let two = schedule(k, 32, Some(2), None);
        assert_eq!(qgemv::outputs(k, &two.matmul), Some(64));
        let mut two_open = two;
        two_open.matmul.qgemv_workgroups = 0;
        assert_eq!(grid(k, &two_open), (28672 / 64, 1), "k {kk}");
    }
}

/// Where the staged vector (with a prologue's fold, over the kernel's invocations) passes the
/// adapter's limit, the block-1 template's path runs instead, within the limit.
#[test]
fn the_template_runs_where_the_staged_vector_does_not_fit() {
    let k = &product(BlockFormat::Q4K, 1, 4096, 8192);
    let s = schedule(k, 16, None, None);
    let need = qgemv_warp::workgroup_bytes();
    let kept = s.fit_workgroup_memory(k, need);
    assert_eq!(kept.matmul.qgemv_warps, 16);
    let fell = s.fit_workgroup_memory(k, need - 1);
    assert_eq!(fell.matmul.qgemv_warps, 0);
    // The template's rows a group for this product (4 for 8192 rows), not the warp kernel's.
    assert_eq!(fell.matmul.qgemv_rows, Some(4));
    let wgsl = generate(k, &fell, &Target::default()).unwrap().wgsl;
    assert!(!is_warp_kernel(&wgsl, 16), "{wgsl}");
    assert!(common::declared(&wgsl) < need);
}

/// The tuner varies rows a subgroup, items a trip and the workgroups on this kernel, and every
/// candidate is the warp kernel and valid WGSL.
#[test]
fn tuning_candidates_are_warp_kernels() {
    use kiln_codegen::schedule::space::{candidates, Autotune};
    let k = &product(BlockFormat::Q4K, 1, 8192, 8192);
    let mut device = Schedule::GPU;
    device.matmul.qgemv_int8 = true;
    device.matmul.tensor_cores = false;
    let c = candidates(k, &device, Autotune::Full, 1024);
    let field = |f: fn(&Schedule) -> u32| {
        let mut v: Vec<u32> = c.iter().map(f).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    assert_eq!(field(|s| s.matmul.qgemv_rows.unwrap_or(0)), QGEMV_ROWS);
    assert_eq!(field(|s| s.matmul.qgemv_items), QGEMV_ITEMS);
    assert!(field(|s| s.matmul.qgemv_workgroups).len() > 1);
    for s in &c {
        let what = format!("{:?}", s.matmul);
        let wgsl = generate(k, s, &Target::default()).unwrap().wgsl;
        assert!(is_warp_kernel(&wgsl, 16), "{what}");
        common::validated(&wgsl, &what);
    }
}

/// The GPU schedule gives the formats of more bits a weight (Q6_K, Q8_0) their own warps a
/// workgroup and the 4-bit ones `qgemv_warps`; resolving folds the choice into `qgemv_warps`
/// (so that equal code has one key), the tuning key names the warps the kernel runs, and no
/// warps (the template's path) stays none for every format.
#[test]
fn wide_formats_take_their_own_warps() {
    let mut gpu = Schedule::GPU;
    gpu.matmul.qgemv_int8 = true;
    gpu.matmul.tensor_cores = false;
    assert_eq!(
        (gpu.matmul.qgemv_warps, gpu.matmul.qgemv_warps_wide),
        (16, 32)
    );
    for f in ALL_BLOCK_FORMATS {
        let k = &product(f, 1, 16 * f.block_values(), 1031);
        let wide = qgemv_warp::WIDE_FORMATS.contains(&f);
        let want = if wide { 32 } else { 16 };
        assert_eq!(qgemv_warp::warps_for(k, &gpu.matmul), want, "{f:?}");
        let s = gpu.resolve(k);
        assert_eq!(s.matmul.qgemv_warps, want, "{f:?}");
        assert_eq!(s.matmul.qgemv_warps_wide, 0, "{f:?}");
        assert_eq!(s.resolve(k), s, "{f:?}: resolving again changes nothing");
        let src = generate(k, &s, &Target::default()).unwrap();
        assert!(is_warp_kernel(&src.wgsl, want), "{f:?}\n{}", src.wgsl);
        let key = kiln_codegen::schedule::tuned::tune_key(k, &gpu);
        assert!(key.ends_with(&format!("|qgemv8w{want}")), "{f:?}: {key}");
        // Without the warp kernel, no format takes it.
        let mut off = gpu;
        off.matmul.qgemv_warps = 0;
        assert_eq!(off.resolve(k).matmul.qgemv_warps, 0, "{f:?}");
        // 0 wide warps: every format at `qgemv_warps`.
        let mut same = gpu;
        same.matmul.qgemv_warps_wide = 0;
        assert_eq!(same.resolve(k).matmul.qgemv_warps, 16, "{f:?}");
        // An adapter of 512 invocations a workgroup has no room for 32 warps: sanitizing
        // drops the wide warps, and every format runs (and is keyed) at 16.
        let small = limits::sanitize(
            gpu,
            AdapterLimits {
                max_workgroup: 512,
                subgroups: true,
                tensor_cores: false,
            },
        );
        assert_eq!(
            (small.matmul.qgemv_warps, small.matmul.qgemv_warps_wide),
            (16, 0)
        );
        assert_eq!(small.resolve(k).matmul.qgemv_warps, 16, "{f:?}");
        let key = kiln_codegen::schedule::tuned::tune_key(k, &small);
        assert!(key.ends_with("|qgemv8w16"), "{f:?}: {key}");
    }
}

//! Quantized weights on the device: every block format read by elementwise, gemv, matmul and
//! gather kernels against the reference interpreter (which dequantizes as llama.cpp does), at
//! odd sizes, with blocks that straddle the lanes and steps of a workgroup; the dequantization
//! fused into its consumer; and the typed errors.

mod common;
use common::*;
use kiln::ir::IrError;
use kiln::{BlockFormat, DType, HostTensor, Plan, Shape, Tensor};

/// A device of its own whose schedule runs quantized gemvs on the quantized gemv path or not
/// (the path is off by default on CPU adapters, on by default on GPUs; both are tested here),
/// its groups owning `rows` rows each.
fn device_with_qgemv(on: bool, rows: u32) -> kiln::Device {
    let dev = private_device();
    if let Some(g) = dev.gpu() {
        let mut s = g.schedule();
        s.matmul.quantized_gemv = on;
        s.matmul.qgemv_rows = Some(rows);
        g.set_schedule(s);
    }
    dev
}

/// Whether `t`'s plan runs the quantized gemv path (its item function: words, or the K-quants'
/// wide items).
fn takes_qgemv_path(t: &Tensor) -> bool {
    Plan::of(&[t])
        .unwrap()
        .kernels
        .iter()
        .any(|k| k.wgsl.contains("kiln_qitem_") || k.wgsl.contains("kiln_qwide_"))
}

const FORMATS: [BlockFormat; 4] = [
    BlockFormat::Q8_0,
    BlockFormat::Q4_0,
    BlockFormat::Q4K,
    BlockFormat::Q6K,
];

fn kernels(t: &Tensor) -> usize {
    Plan::of(&[t]).unwrap().kernels.len()
}

/// True when the kernels that read the blocks (a quantized input in `explain()`'s plan) are
/// kernels of `consumer` (`matmul`, `gather[0]`; a split matmul has two, its parts and its
/// tail) and decode them in their WGSL (a `kiln_dq_` reader): no kernel stores a dequantized
/// copy for another to read.
fn decoded_in(t: &Tensor, consumer: &str) -> bool {
    let plan = Plan::of(&[t]).unwrap();
    assert!(plan.to_string().contains("blocks (decoded where loaded)"));
    let readers: Vec<_> = plan
        .kernels
        .iter()
        .filter(|k| k.inputs.iter().any(|d| d.is_quantized()))
        .collect();
    !readers.is_empty()
        && readers
            .iter()
            .all(|r| r.wgsl.contains("kiln_dq_") && r.ops.iter().any(|o| o.starts_with(consumer)))
}

/// How far a decoded value may be from llama.cpp's, absolutely, for values up to `size`: Q4_K
/// computes `d * scale * q - dmin * min`, whose multiply-add a device may contract into one
/// fused operation (a few ulps of the larger term, 1e-5 per unit of size); the other formats
/// only multiply, so they are exact.
fn dequant_atol(f: BlockFormat, size: f32) -> f32 {
    match f {
        BlockFormat::Q4K => 1e-5 * size,
        BlockFormat::Q8_0 | BlockFormat::Q4_0 | BlockFormat::Q6K => 0.0,
    }
}

/// The largest random-block values: about 12 for Q8_0 (0.1 x 127), 400 for the K-quants
/// (0.1 x 63 x 63).
const SIZE: f32 = 400.0;

/// A matmul's tolerance over an inner size `k` (as in `tests/ops_matmul.rs`), for values up to
/// about `scale`.
fn mm_tol(k: usize, scale: f32) -> (f32, f32) {
    (2e-6 * k as f32 * scale, 1e-5)
}

#[test]
fn every_format_dequantizes_like_the_reference() {
    let dev = device();
    for (i, f) in FORMATS.into_iter().enumerate() {
        let bv = f.block_values();
        for (j, shape) in [[1, bv], [3, 3 * bv], [7, 5 * bv]].iter().enumerate() {
            let w = random(&dev, DType::Quant(f), shape, 0.0, 0.0, (10 * i + j) as u64);
            let y = w.cast(DType::F32).unwrap();
            check(&y, dequant_atol(f, SIZE), 0.0, &format!("{f:?} {shape:?}"));
            // Not all zeros: the blocks carry information.
            let v = y.to_host().unwrap().to_f64();
            assert!(v.iter().filter(|x| **x != 0.0).count() > v.len() / 2);
            // A cast to f16 rounds the decoded value.
            check(
                &w.cast(DType::F16).unwrap(),
                dequant_atol(f, SIZE),
                0.0,
                &format!("{f:?} {shape:?} to f16"),
            );
        }
    }
}

/// `x @ W^T` with `W` `[n, k]` as a GGUF file stores it: the gemv of a decode step (m = 1), and
/// a matmul of a prefill (m > 1), at odd n (1031 rows: a last workgroup part empty, whatever
/// the rows a group owns) and at k of 1 block, an odd number of blocks, and more items of
/// codes than a group's lanes take in one step (80 blocks).
#[test]
fn gemv_and_matmul_read_blocks_in_registers() {
    for (qgemv, rows) in [(true, 1), (true, 2), (true, 4), (false, 1)] {
        gemv_and_matmul_with(&device_with_qgemv(qgemv, rows), qgemv);
    }
}

fn gemv_and_matmul_with(dev: &kiln::Device, qgemv: bool) {
    for (i, f) in FORMATS.into_iter().enumerate() {
        let bv = f.block_values();
        for (j, &(m, n, blocks)) in [
            (1, 1, 1),
            (1, 7, 3),
            (1, 33, 9),
            (1, 1031, 2),
            (1, 9, 80),
            (3, 5, 3),
            (17, 31, 2),
        ]
        .iter()
        .enumerate()
        {
            let k = blocks * bv;
            let seed = (100 * i + 10 * j) as u64;
            let w = random(dev, DType::Quant(f), &[n, k], 0.0, 0.0, seed);
            let x = random(dev, DType::F32, &[m, k], -1.0, 1.0, seed + 1);
            let y = x
                .matmul(&w.cast(DType::F32).unwrap().transpose(0, 1).unwrap())
                .unwrap();
            let what = format!("{f:?}: [{m}, {k}] @ [{n}, {k}]^T (quantized gemv path: {qgemv})");
            assert!(
                decoded_in(&y, "matmul"),
                "{what}: the dequantization is not fused"
            );
            // The schedule decides: a gemv takes the quantized gemv path where it is on, and
            // no kernel has it where it is off (a block-1 kernel carries it for m = 1 only
            // at run time, so other shapes may hold it too where it is on).
            let path = takes_qgemv_path(&y);
            assert!(qgemv || !path, "{what}: the path where the schedule is off");
            if m == 1 {
                assert_eq!(path, qgemv, "{what}");
            }
            let scale = if bv == 256 { 40.0 } else { 1.0 };
            let (at, rt) = mm_tol(k, scale);
            check(&y, at, rt, &what);
            // The transposed layout (W stored [k, n]) and an epilogue read it the same way.
            let wt = random(dev, DType::Quant(f), &[k / bv * bv, bv], 0.0, 0.0, seed + 2);
            let z = x
                .matmul(&wt.cast(DType::F32).unwrap())
                .unwrap()
                .relu()
                .unwrap();
            assert!(decoded_in(&z, "matmul"), "{what}: W as [k, n]");
            check(&z, at, rt, &format!("{what}, W as [k, n], relu"));
        }
    }
}

/// The quantized gemv path's run-time guard takes it (the WGSL holding its code is not
/// enough: a failed guard falls back to the element-wise path, with the same values up to
/// rounding): its sums, added in another order, differ in their last bits from the
/// element-wise path's somewhere, for a gemv, a weight a batch and a strided vector.
#[test]
fn the_quantized_gemv_path_is_taken_at_run_time() {
    let (on, off) = (device_with_qgemv(true, 2), device_with_qgemv(false, 2));
    for (i, f) in FORMATS.into_iter().enumerate() {
        let k = 9 * f.block_values();
        let seed = 700 + 10 * i as u64;
        let run = |dev: &kiln::Device, batch: usize, strided: bool| {
            let w = random(dev, DType::Quant(f), &[batch, 37, k], 0.0, 0.0, seed);
            let wt = w.cast(DType::F32).unwrap().transpose(1, 2).unwrap();
            let x = if strided {
                let wide = random(dev, DType::F32, &[k, 2], -1.0, 1.0, seed + 1);
                wide.narrow(1, 1, 1).unwrap().transpose(0, 1).unwrap()
            } else {
                random(dev, DType::F32, &[batch, 1, k], -1.0, 1.0, seed + 1)
            };
            x.matmul(&wt).unwrap().to_host().unwrap().to_f64()
        };
        for (batch, strided) in [(1, false), (3, false), (1, true)] {
            let (a, b) = (run(&on, batch, strided), run(&off, batch, strided));
            assert_eq!(a.len(), b.len());
            assert!(
                a.iter().zip(&b).any(|(x, y)| x != y),
                "{f:?}, {batch} batches, strided {strided}: the path's sums equal the element-wise path's bit for bit"
            );
        }
    }
}

/// The gemv path over batches (a weight shared by every batch, and one a batch) and with the
/// vector a strided view (every second element of a wider row), at each row count a group.
#[test]
fn gemv_over_batches_and_strided_vectors() {
    for rows in [1, 2, 4] {
        let dev = device_with_qgemv(true, rows);
        for (i, f) in FORMATS.into_iter().enumerate() {
            let bv = f.block_values();
            let (n, k) = (37, 9 * bv);
            let seed = 500 + 10 * i as u64;
            let what = format!("{f:?}, {rows} rows a group");
            let (at, rt) = mm_tol(k, if bv == 256 { 40.0 } else { 1.0 });
            let w = random(&dev, DType::Quant(f), &[n, k], 0.0, 0.0, seed);
            let wt = w.cast(DType::F32).unwrap().transpose(0, 1).unwrap();
            let x = random(&dev, DType::F32, &[3, 1, k], -1.0, 1.0, seed + 1);
            let y = x.matmul(&wt).unwrap();
            assert!(takes_qgemv_path(&y), "{what}: shared weight");
            check(&y, at, rt, &format!("{what}: 3 batches, one weight"));
            let wb = random(&dev, DType::Quant(f), &[3, n, k], 0.0, 0.0, seed + 2);
            let y = x
                .matmul(&wb.cast(DType::F32).unwrap().transpose(1, 2).unwrap())
                .unwrap();
            assert!(takes_qgemv_path(&y), "{what}: a weight a batch");
            check(&y, at, rt, &format!("{what}: 3 batches, a weight each"));
            let wide = random(&dev, DType::F32, &[k, 2], -1.0, 1.0, seed + 3);
            let xs = wide.narrow(1, 1, 1).unwrap().transpose(0, 1).unwrap();
            let y = xs.matmul(&wt).unwrap().relu().unwrap();
            check(&y, at, rt, &format!("{what}: a strided vector"));
        }
    }
}

/// An embedding lookup gathers rows of a quantized table and decodes only those.
#[test]
fn embedding_rows_are_gathered_from_blocks() {
    let dev = device();
    for (i, f) in FORMATS.into_iter().enumerate() {
        let d = 2 * f.block_values();
        let vocab = 11;
        let table = random(&dev, DType::Quant(f), &[vocab, d], 0.0, 0.0, 7 + i as u64);
        let ids: Vec<i32> = vec![3, 0, 10, 3, 7];
        let idx = Tensor::from_slice_on(&dev, &ids, &[ids.len(), 1])
            .unwrap()
            .expand(&[ids.len(), d])
            .unwrap();
        let e = table
            .gather(0, &idx)
            .unwrap()
            .cast(DType::F32)
            .unwrap()
            .mul_scalar(2.0)
            .unwrap();
        assert_eq!(kernels(&e), 1, "{f:?}");
        assert!(decoded_in(&e, "gather[0]"), "{f:?}");
        check(
            &e,
            dequant_atol(f, 2.0 * SIZE),
            0.0,
            &format!("{f:?} embedding"),
        );
        // A tied output head reads the same table as a matmul operand.
        let h = random(&dev, DType::F32, &[1, d], -1.0, 1.0, 9);
        let logits = h
            .matmul(&table.cast(DType::F32).unwrap().transpose(0, 1).unwrap())
            .unwrap();
        let (at, rt) = mm_tol(d, 40.0);
        assert!(decoded_in(&logits, "matmul"), "{f:?} tied head");
        check(&logits, at, rt, &format!("{f:?} tied head"));
    }
}

#[test]
fn quantized_misuse_is_a_typed_error() {
    let dev = device();
    let w = random(&dev, DType::Quant(BlockFormat::Q4_0), &[3, 64], 0.0, 0.0, 1);
    // Arithmetic on blocks, a matmul of blocks, a cast to blocks: cast to a float first.
    for r in [
        w.relu(),
        w.add(&w),
        w.sum(&[-1], false),
        w.matmul(&w.transpose(0, 1).unwrap()),
        w.cast(DType::F32)
            .unwrap()
            .cast(DType::Quant(BlockFormat::Q8_0)),
    ] {
        let e = r.expect_err("refused");
        assert!(
            matches!(e.ir(), Some(IrError::UnsupportedDType { .. })),
            "{e}"
        );
    }
    // A view of blocks is read, never stored.
    let e = w.transpose(0, 1).unwrap().to_host().unwrap_err();
    assert!(
        matches!(e.ir(), Some(IrError::UnsupportedDType { op: "store", .. })),
        "{e}"
    );
    // Rows of partial blocks, and bytes that are not the shape's blocks.
    let e = HostTensor::quantized(BlockFormat::Q4_0, Shape::new(&[2, 31]), &[0; 36]).unwrap_err();
    assert!(matches!(e, IrError::QuantizedShape { .. }), "{e}");
    let e = HostTensor::quantized(BlockFormat::Q4K, Shape::new(&[1, 256]), &[0; 143]).unwrap_err();
    assert!(matches!(e, IrError::QuantizedShape { .. }), "{e}");
    // The blocks themselves read back unchanged.
    let blocks = BlockFormat::Q6K.random_blocks(512, 3);
    let t = Tensor::from_host_on(
        &dev,
        HostTensor::quantized(BlockFormat::Q6K, Shape::new(&[2, 256]), &blocks).unwrap(),
    )
    .unwrap();
    assert_eq!(t.to_host().unwrap().blocks().unwrap(), blocks);
}

/// With fusion off every op is a kernel of its own, but blocks are still decoded where read:
/// a gather of them runs inside its consumer.
#[test]
fn fusion_off_still_reads_blocks() {
    let mut o = kiln::DeviceOptions::from_env();
    o.fusion = false;
    let dev = kiln::Device::new(&o).unwrap();
    for (i, f) in FORMATS.into_iter().enumerate() {
        let d = f.block_values();
        let table = random(&dev, DType::Quant(f), &[5, d], 0.0, 0.0, 40 + i as u64);
        let idx = Tensor::from_slice_on(&dev, &[4i32, 1], &[2, 1])
            .unwrap()
            .expand(&[2, d])
            .unwrap();
        let e = table.gather(0, &idx).unwrap().cast(DType::F32).unwrap();
        check(
            &e,
            dequant_atol(f, SIZE),
            0.0,
            &format!("{f:?} unfused gather"),
        );
        let x = random(&dev, DType::F32, &[1, d], -1.0, 1.0, 50 + i as u64);
        let y = x
            .matmul(&table.cast(DType::F32).unwrap().transpose(0, 1).unwrap())
            .unwrap();
        let (at, rt) = mm_tol(d, 40.0);
        check(&y, at, rt, &format!("{f:?} unfused matmul"));
    }
}

/// Blocks cast to f16 are rounded to f16 as the product loads them, in the gemv too: the
/// quantized gemv path (which would skip the rounding) is left out of that kernel, while the
/// f32 product keeps it. Whether each value was rounded is below what the f16 result can
/// show, so the path is checked in the kernel's code; the rounding of a decoded value is
/// checked exactly by `every_format_dequantizes_like_the_reference`.
#[test]
fn blocks_cast_to_f16_round_on_load() {
    let dev = device_with_qgemv(true, 2);
    for (i, f) in FORMATS.into_iter().enumerate() {
        let k = 2 * f.block_values();
        let w = random(&dev, DType::Quant(f), &[7, k], 0.0, 0.0, 60 + i as u64);
        let x = random(&dev, DType::F16, &[1, k], -1.0, 1.0, 70 + i as u64);
        let y = x
            .matmul(&w.cast(DType::F16).unwrap().transpose(0, 1).unwrap())
            .unwrap();
        assert!(decoded_in(&y, "matmul"), "{f:?}");
        assert!(
            !takes_qgemv_path(&y),
            "{f:?}: the f16 product took the quantized gemv path"
        );
        let y32 = x
            .cast(DType::F32)
            .unwrap()
            .matmul(&w.cast(DType::F32).unwrap().transpose(0, 1).unwrap())
            .unwrap();
        assert!(
            takes_qgemv_path(&y32),
            "{f:?}: the f32 product left the quantized gemv path"
        );
        let (at, rt) = mm_tol(k, 40.0);
        check(&y, at, rt, &format!("{f:?} as f16"));
    }
}

/// With the vector rounded to 8-bit integers (`GemvActivations::Int8`), each output is within
/// the rounding's bound of the `f32` reference: `sum_k |w_k| dx_k / 2` (`dx = max|x| / 127`
/// over the block of 32 holding `k`), plus the `f32` matmul tolerance; at each row count a
/// group, odd n, one block to two chunks of the staged vector (4096 values a chunk in the
/// block-1 template, 8192 in the kernel of its own), over batches and with a strided vector,
/// with a workgroup a block of rows and with workgroups taking blocks in turn.
#[test]
fn int8_vectors_stay_within_their_rounding_bound() {
    // Rows a group and items a lane's trip: every value of each, items past a chunk's end on
    // each; the most workgroups (0: a workgroup a block), 1 and 3 taking up to every block of
    // a product, each after staging the vector once. Then the kernel of its own (warps a
    // workgroup, where the adapter has subgroups): every warps, rows and items, capped or not.
    for (rows, items, workgroups, warps) in [
        (1, 4, 0, 0),
        (2, 1, 3, 0),
        (4, 2, 1, 0),
        (2, 4, 0, 0),
        (1, 2, 264, 16),
        (2, 1, 3, 8),
        (4, 4, 0, 32),
    ] {
        let dev = device_with_qgemv_path(&kiln::DeviceOptions {
            autotune: kiln::Autotune::Off,
            cache_dir: None,
            gemv_activations: kiln::GemvActivations::Int8,
            ..kiln::DeviceOptions::from_env()
        });
        // Whether the kernel of its own runs (else the block-1 template's path).
        let mut own = false;
        if let Some(g) = dev.gpu() {
            let mut s = g.schedule();
            assert!(s.matmul.qgemv_int8, "the option sets the schedule");
            s.matmul.qgemv_rows = Some(rows);
            s.matmul.qgemv_items = items;
            s.matmul.qgemv_workgroups = workgroups;
            s.matmul.qgemv_warps = warps;
            // Every format at `warps`, but for the device's own warps (16), where Q6_K and
            // Q8_0 keep theirs (`qgemv_warps_wide`).
            if warps != 16 {
                s.matmul.qgemv_warps_wide = warps;
            }
            s.matmul.gemv_subgroups |= warps > 0;
            g.set_schedule(s);
            own = warps > 0 && g.schedule().matmul.gemv_subgroups;
            if own || warps == 0 {
                assert_eq!(g.schedule(), s, "the device keeps the schedule");
            }
        }
        for (i, f) in FORMATS.into_iter().enumerate() {
            let bv = f.block_values();
            let cases: &[(usize, usize, usize, bool)] = &[
                (1, 1, 1, false),
                (1, 7, 3, false),
                (1, 1031, 2, false),
                (1, 9, 80, true),
                (3, 33, 9, false),
                // Whole (1024 rows and more: no split-K), two chunks of the template's staged
                // vector, the second partial: 4352 or 4224 values.
                (1, 1031, 4200usize.div_ceil(bv), false),
                // Past the kernel of its own's chunk (8448 or 8224 values), its workgroups
                // taking several blocks, each staging the vector a chunk at a time.
                (1, 1031, 8200usize.div_ceil(bv), false),
            ];
            for &(batch, n, blocks, strided) in &cases[..cases.len() - usize::from(warps == 0)] {
                let k = blocks * bv;
                let seed = 900 + (100 * i + blocks) as u64;
                let what = format!("{f:?} int8, {rows} rows a group, {items} items a trip, at most {workgroups} workgroups, {warps} warps{}: {batch} x [1, {k}] @ [{n}, {k}]^T, strided {strided}", if warps == 16 { " (Q6_K and Q8_0 the device's own)" } else { "" });
                // Batches of vectors, a weight each (a shared weight folds the batches into
                // the rows of one matmul, off the gemv path).
                let w = random(&dev, DType::Quant(f), &[batch, n, k], 0.0, 0.0, seed);
                let wf = w.cast(DType::F32).unwrap();
                let x = if strided {
                    let wide = random(&dev, DType::F32, &[k, 2], -1.0, 1.0, seed + 1);
                    wide.narrow(1, 1, 1).unwrap().transpose(0, 1).unwrap()
                } else {
                    random(&dev, DType::F32, &[batch, 1, k], -1.0, 1.0, seed + 1)
                };
                let y = x.matmul(&wf.transpose(1, 2).unwrap()).unwrap();
                assert!(takes_int8_path(&y), "{what}: not on the 8-bit path");
                assert_eq!(takes_warp_kernel(&y), own, "{what}: the kernel of its own");
                let got = y.to_host().unwrap().to_f64();
                let want = y.reference().unwrap().to_f64();
                let wv = wf.reference().unwrap().to_f64();
                let xv = x.reference().unwrap().to_f64();
                let (at, _) = mm_tol(k, if bv == 256 { 40.0 } else { 1.0 });
                for (o, (g, e)) in got.iter().zip(&want).enumerate() {
                    let bt = o / n;
                    let (xq, dx) = int8_blocks(&xv[bt * k..(bt + 1) * k]);
                    let wr = &wv[o * k..(o + 1) * k];
                    let (mut bound, mut exact, mut wmax) = (0.0, 0.0, 0.0f64);
                    for c in 0..k {
                        bound += wr[c].abs() * dx[c / 32] / 2.0;
                        exact += wr[c] * xq[c] * dx[c / 32];
                        wmax = wmax.max(wr[c].abs());
                    }
                    assert!(
                        (g - e).abs() <= bound * (1.0 + 1e-3) + at as f64,
                        "{what}: output {o}: {g} against {e}, bound {bound}"
                    );
                    // The rounded vector's own product, up to f32 rounding and a code or two
                    // rounded the other way at a tie (WGSL's 127 / max may differ from the
                    // host's by 2.5 ulps).
                    let dxm = dx.iter().fold(0.0f64, |m, v| m.max(*v));
                    assert!(
                        (g - exact).abs() <= at as f64 + 2.0 * wmax * dxm,
                        "{what}: output {o}: {g} against the rounded vector's {exact} (f32: {e})"
                    );
                }
            }
            // An infinity in the vector is not rounded away: every output is NaN, whichever
            // of its block's four runs of eight holds it.
            let k = 2 * bv;
            let w = random(&dev, DType::Quant(f), &[5, k], 0.0, 0.0, 77);
            let wt = w.cast(DType::F32).unwrap().transpose(0, 1).unwrap();
            for at in [3, 13, 22, 31] {
                let mut xs: Vec<f32> = (0..k).map(|i| (i as f32 * 0.37).sin()).collect();
                xs[k / 2 + at] = f32::INFINITY;
                let x = Tensor::from_slice_on(&dev, &xs, &[1, k]).unwrap();
                let y = x.matmul(&wt).unwrap().to_host().unwrap().to_f64();
                assert!(y.iter().all(|v| v.is_nan()), "{f:?} at {at}: {y:?}");
            }
        }
    }
}

/// A vector rounded as the 8-bit gemv path rounds it: its integers (as `f64`) and the scale
/// `max|x| / 127` of each block of 32, computed in `f32` as the shader does.
fn int8_blocks(x: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let (mut q, mut dx) = (Vec::with_capacity(x.len()), Vec::new());
    for blk in x.chunks(32) {
        let m = blk.iter().fold(0.0f32, |m, v| m.max((*v as f32).abs()));
        let inv = if m > 0.0 { 127.0 / m } else { 0.0 };
        q.extend(
            blk.iter()
                .map(|v| ((*v as f32) * inv).round_ties_even() as f64),
        );
        dx.push((m / 127.0) as f64);
    }
    (q, dx)
}

/// A product on the quantized gemv path tuned in full (rows a group, and items a trip with the
/// 8-bit vector): the tuned result is the untuned one's up to `f32` summation order (which
/// the bound test above checks against the interpreter; a candidate off by more than the
/// tuner's own check would not be chosen), and the results are stored under the 8-bit path's
/// key with the fields that path reads. Word items (`Q8_0`) and wide ones (`Q4_K`), a partial
/// trip and chunk; and a vector staged once, whose workgroups the tuner also varies.
#[test]
fn tuned_quantized_gemvs_keep_the_untuned_results() {
    let dir = std::env::temp_dir().join(format!("kiln-qtune-{}", std::process::id()));
    let device = |autotune, cache_dir| {
        device_with_qgemv_path(&kiln::DeviceOptions {
            autotune,
            cache_dir,
            gemv_activations: kiln::GemvActivations::Int8,
            ..kiln::DeviceOptions::from_env()
        })
    };
    let plain = device(kiln::Autotune::Off, None);
    let tuned = device(kiln::Autotune::Full, Some(dir.clone()));
    let Some(g) = tuned.gpu() else { return };
    let shapes = [
        (BlockFormat::Q8_0, 4200usize, 67usize),
        (BlockFormat::Q4K, 4200, 67),
        (BlockFormat::Q4K, 2048, 1031),
    ];
    for (i, (f, k, n)) in shapes.into_iter().enumerate() {
        let k = k.div_ceil(f.block_values()) * f.block_values();
        let product = |dev: &kiln::Device| {
            let w = random(dev, DType::Quant(f), &[n, k], 0.0, 0.0, 40 + i as u64);
            let x = random(dev, DType::F32, &[1, k], -1.0, 1.0, 50 + i as u64);
            let wt = w.cast(DType::F32).unwrap().transpose(0, 1).unwrap();
            let y = x.matmul(&wt).unwrap();
            assert!(takes_int8_path(&y), "{f:?}: not on the 8-bit path");
            y.to_host().unwrap().to_f64()
        };
        let (want, got) = (product(&plain), product(&tuned));
        let top = want.iter().fold(1e-6f64, |m, v| m.max(v.abs()));
        for (o, (g, e)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - e).abs() <= 1e-5 * top,
                "{f:?} [{n}, {k}] output {o}: {g} against {e}"
            );
        }
    }
    assert!(g.counters().kernels_tuned >= 3, "not every product tuned");
    let file = g
        .cache_dir()
        .expect("a cache dir")
        .join(kiln::runtime::schedules::AUTOTUNE_FILE);
    let text =
        String::from_utf8_lossy(&std::fs::read(&file).expect("the tuning results")).into_owned();
    // Every product's result, keyed by the 8-bit path, with the fields that path reads.
    let ours: Vec<&str> = text.lines().filter(|l| l.contains("|qgemv8\t")).collect();
    assert_eq!(ours.len(), shapes.len(), "{text}");
    assert!(
        ours.iter().all(|l| ["rows", "items", "workgroups"]
            .iter()
            .all(|f| l.contains(&format!("matmul.qgemv_{f}=")))),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).expect("removing the test's cache");
}

/// Whether `t`'s plan runs the 8-bit vector's path as a kernel of its own (its products'
/// sums added by subgroups, no template's tiles).
fn takes_warp_kernel(t: &Tensor) -> bool {
    Plan::of(&[t]).unwrap().kernels.iter().any(|k| {
        k.wgsl.contains("kiln_qdot_")
            && k.wgsl.contains("subgroupAdd")
            && !k.wgsl.contains("var<workgroup> ta:")
    })
}

/// Whether `t`'s plan runs the 8-bit vector's path.
fn takes_int8_path(t: &Tensor) -> bool {
    Plan::of(&[t])
        .unwrap()
        .kernels
        .iter()
        .any(|k| k.wgsl.contains("kiln_qdot_"))
}

//! Fused attention against the reference interpreter: the API's op, the unfused pattern the
//! pass recognizes, the split (decode) form, at odd sizes, every head size of the issue,
//! causal and masked, f32 and f16.

mod common;
use common::*;
use kiln::{DType, Tensor};

use common::attention_tol as tol;

/// Random q, k, v of `[b, h, s, d]` (k and v with `sk` rows) and an additive mask `[sq, sk]`
/// with some keys left out (`-inf`), never a whole row.
fn operands(
    dev: &kiln::Device,
    dt: DType,
    (b, h, sq, sk, d, dv): (usize, usize, usize, usize, usize, usize),
    seed: u64,
) -> (Tensor, Tensor, Tensor, Tensor) {
    let q = random(dev, dt, &[b, h, sq, d], -1.0, 1.0, seed);
    let k = random(dev, dt, &[b, h, sk, d], -1.0, 1.0, seed + 1);
    let v = random(dev, dt, &[b, h, sk, dv], -1.0, 1.0, seed + 2);
    let mask = additive_mask(dev, dt, sq, sk, seed + 3);
    (q, k, v, mask)
}

/// The unfused composition, as a user would write it.
fn unfused(q: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>, scale: f64) -> Tensor {
    let s = q
        .matmul(&k.transpose(-1, -2).unwrap())
        .unwrap()
        .mul_scalar(scale)
        .unwrap();
    let s = match mask {
        Some(m) => s.add(m).unwrap(),
        None => s,
    };
    s.softmax(-1).unwrap().matmul(v).unwrap()
}

#[test]
fn api_matches_interpreter_and_composition() {
    let dev = device();
    for (i, &(sq, sk, d)) in [(1, 1, 32), (7, 7, 64), (3, 129, 80), (33, 20, 128)]
        .iter()
        .enumerate()
    {
        for dt in [DType::F32, DType::F16] {
            let (q, k, v, mask) = operands(&dev, dt, (2, 3, sq, sk, d, d), 10 * i as u64);
            let scale = 1.0 / (d as f64).sqrt();
            for masked in [false, true] {
                let m = masked.then_some(&mask);
                let y = q
                    .scaled_dot_product_attention(&k, &v, m, None, false)
                    .unwrap();
                let what = format!("sq {sq} sk {sk} d {d} {dt} masked {masked}");
                assert!(
                    kernel_kinds(&y)
                        .iter()
                        .any(|k| k.starts_with("fused attention")),
                    "{what}: {:?}",
                    kernel_kinds(&y)
                );
                let (at, rt) = tol(dt);
                check(&y, at, rt, &what);
                // The op's reference semantics against the composition's.
                let want = unfused(&q, &k, &v, m, scale).reference().unwrap();
                assert_close(&y.reference().unwrap(), &want, at, rt, &what);
            }
        }
    }
}

/// Every sequence length and head size of the issue, causal and masked, f32 and f16; the
/// long sequences have few query rows, so they run split (decode form) too.
#[test]
fn odd_lengths_heads_causal_masked() {
    let dev = device();
    let mut seed = 1000;
    for &s in &[1usize, 7, 129, 1031] {
        for &d in &[32usize, 64, 80, 128] {
            // One head at 1031 keeps lavapipe's time down; q rows: all of them, or the last 3.
            let sq = if s == 1031 { 3 } else { s };
            for dt in [DType::F32, DType::F16] {
                for (causal, masked) in [(false, false), (true, false), (false, true), (true, true)]
                {
                    if s == 1031 && dt == DType::F16 && d != 80 {
                        continue;
                    }
                    seed += 10;
                    let (q, k, v, mask) = operands(&dev, dt, (1, 2, sq, s, d, d), seed);
                    let y = q
                        .scaled_dot_product_attention(&k, &v, masked.then_some(&mask), None, causal)
                        .unwrap();
                    let (at, rt) = tol(dt);
                    check(
                        &y,
                        at,
                        rt,
                        &format!("sq {sq} sk {s} d {d} {dt} causal {causal} masked {masked}"),
                    );
                }
            }
        }
    }
}

/// Each scalar form at sizes that give it partial blocks and tiles: the row form (a query
/// row per invocation) and blocks of 16 and 1 rows, tiles of 4 and 32 keys, causal and
/// masked, f32 and f16, heads of 32 and 64 (the row form's largest) and 80 (which the row
/// form leaves to blocks of 16).
#[test]
fn every_scalar_form() {
    let dev = private_device();
    let Some(ctx) = dev.gpu() else { return };
    let base = ctx.schedule();
    let mut seed = 7000;
    for rows in [64u32, 16, 1] {
        for keys in [4u32, 32] {
            let mut s = base;
            s.attention.rows = Some(rows);
            s.attention.keys = Some(keys);
            s.attention.tensor_cores = false;
            ctx.set_schedule(s);
            for (sq, sk, d) in [(129, 131, 64), (65, 7, 32), (3, 70, 80)] {
                for dt in [DType::F32, DType::F16] {
                    for (causal, masked) in [(false, true), (true, false)] {
                        seed += 10;
                        let (q, k, v, mask) = operands(&dev, dt, (1, 2, sq, sk, d, d), seed);
                        let y = q
                            .scaled_dot_product_attention(
                                &k,
                                &v,
                                masked.then_some(&mask),
                                None,
                                causal,
                            )
                            .unwrap();
                        let (at, rt) = tol(dt);
                        let what = format!(
                            "rows {rows} keys {keys}: sq {sq} sk {sk} d {d} {dt} causal {causal}"
                        );
                        check(&y, at, rt, &what);
                    }
                }
            }
        }
    }
    ctx.set_schedule(base);
}

/// A long causal prefill with a mask: lavapipe's loop budget splits its keys into runs
/// (`SplitAttention`'s loop rule), so no invocation's loops are cut short.
#[test]
fn long_prefill_within_the_loop_budget() {
    let dev = device();
    let (q, k, v, mask) = operands(&dev, DType::F32, (1, 1, 1031, 1031, 64, 64), 2024);
    let y = q
        .scaled_dot_product_attention(&k, &v, Some(&mask), None, true)
        .unwrap();
    check(&y, 2e-5, 1e-4, "1031 x 1031 causal, masked");
}

/// A head past what the kernel holds in workgroup memory runs as the unfused composition,
/// causal and masked alike: split, never rejected.
#[test]
fn heads_past_the_kernel_run_unfused() {
    let dev = device();
    for (causal, masked) in [(true, true), (false, false)] {
        let (q, k, v, mask) = operands(&dev, DType::F32, (1, 1, 5, 9, 600, 520), 31);
        let y = q
            .scaled_dot_product_attention(&k, &v, masked.then_some(&mask), None, causal)
            .unwrap();
        assert!(kernel_kinds(&y)
            .iter()
            .all(|k| !k.starts_with("fused attention")));
        check(&y, 1e-4, 1e-4, &format!("head 600, causal {causal}"));
    }
}

/// The causal rule's alignment: with as many queries as keys it is PyTorch's `is_causal`
/// (the composition with a lower-triangular mask), and a single query sees every key.
#[test]
fn causal_alignment() {
    let dev = device();
    let (q, k, v, _) = operands(&dev, DType::F32, (1, 2, 9, 9, 16, 16), 7);
    let tri: Vec<f32> = (0..81)
        .map(|x| {
            if x % 9 <= x / 9 {
                0.0
            } else {
                f32::NEG_INFINITY
            }
        })
        .collect();
    let tri = Tensor::from_slice_on(&dev, &tri, &[9, 9]).unwrap();
    let y = q
        .scaled_dot_product_attention(&k, &v, None, None, true)
        .unwrap();
    let want = unfused(&q, &k, &v, Some(&tri), 0.25).reference().unwrap();
    assert_close(&y.to_host().unwrap(), &want, 2e-5, 1e-4, "causal square");
    let last = q.narrow(2, 8, 1).unwrap();
    let y = last
        .scaled_dot_product_attention(&k, &v, None, None, true)
        .unwrap();
    let want = unfused(&last, &k, &v, None, 0.25).reference().unwrap();
    assert_close(
        &y.to_host().unwrap(),
        &want,
        2e-5,
        1e-4,
        "one query sees all keys",
    );
}

/// A device that fuses the attention pattern at any length (the default stops at
/// `kiln::FUSE_ATTENTION_ROWS` query rows).
fn fusing_every_pattern() -> kiln::Device {
    kiln::Device::new(&kiln::DeviceOptions {
        fuse_attention_rows: None,
        ..kiln::DeviceOptions::from_env()
    })
    .expect("opening a device")
}

/// By default the pattern is fused up to `FUSE_ATTENTION_ROWS` query rows (decode steps,
/// short prompts) and left as written past it; the API's op is one kernel at any length.
#[test]
fn pattern_fused_up_to_the_default_rows() {
    let dev = device();
    let rows = kiln::FUSE_ATTENTION_ROWS;
    for (sq, fused) in [(1, true), (rows, true), (rows + 1, false)] {
        let (q, k, v, mask) = operands(&dev, DType::F32, (1, 2, sq, 40, 32, 32), 5);
        let y = unfused(&q, &k, &v, Some(&mask), 0.25);
        assert_eq!(
            kernel_kinds(&y)
                .iter()
                .any(|k| k.starts_with("fused attention")),
            fused,
            "sq {sq}: {:?}",
            kernel_kinds(&y)
        );
        check(&y, 2e-5, 1e-4, &format!("pattern sq {sq}"));
        let api = q
            .scaled_dot_product_attention(&k, &v, Some(&mask), Some(0.25), false)
            .unwrap();
        assert!(kernel_kinds(&api)
            .iter()
            .any(|k| k.starts_with("fused attention")));
    }
}

/// The unfused pattern, written as users write it, becomes one attention kernel that
/// `explain()` names, with no kernel left for the scores; in f16 too, with the scale as a
/// division, the mask added on the left, transposed operands and broadcast (grouped-query)
/// keys and values. (33 query rows: fused on a device that fuses every pattern.)
#[test]
fn pattern_is_recognized() {
    let dev = fusing_every_pattern();
    for dt in [DType::F32, DType::F16] {
        let (q, k, v, mask) = operands(&dev, dt, (2, 3, 33, 47, 64, 64), 77);
        let y = unfused(&q, &k, &v, Some(&mask), 0.125);
        let plan = y.explain().unwrap();
        let att: Vec<_> = plan
            .kernels
            .iter()
            .filter(|k| k.kind.starts_with("fused attention"))
            .collect();
        assert_eq!(att.len(), 1, "{dt}: {:?}", plan.kernels);
        assert!(
            att[0].name.contains(kiln::ir::passes::ATTENTION_PATTERN),
            "{}",
            att[0].name
        );
        assert!(
            plan.kernels.iter().all(|k| !k.kind.contains("matmul")),
            "{dt}: no matmul left: {:?}",
            plan.kernels.iter().map(|k| &k.kind).collect::<Vec<_>>()
        );
        let (at, rt) = tol(dt);
        check(&y, at, rt, &format!("pattern {dt}"));

        // [b, s, h, d] permuted to [b, h, s, d]; k, v with one head, broadcast over three;
        // scale as a division; the mask on the left.
        let qs = random(&dev, dt, &[2, 33, 3, 64], -1.0, 1.0, 90)
            .permute(&[0, 2, 1, 3])
            .unwrap();
        let k1 = random(&dev, dt, &[2, 1, 47, 64], -1.0, 1.0, 91)
            .expand(&[2, 3, 47, 64])
            .unwrap();
        let v1 = random(&dev, dt, &[2, 1, 47, 64], -1.0, 1.0, 92)
            .expand(&[2, 3, 47, 64])
            .unwrap();
        let s = mask
            .add(
                &qs.matmul(&k1.transpose(-1, -2).unwrap())
                    .unwrap()
                    .div_scalar(8.0)
                    .unwrap(),
            )
            .unwrap();
        let y = s.softmax(-1).unwrap().matmul(&v1).unwrap();
        assert!(
            y.explain()
                .unwrap()
                .kernels
                .iter()
                .any(|k| k.kind.starts_with("fused attention")),
            "{dt}: variant"
        );
        check(&y, at, rt, &format!("pattern variant {dt}"));
    }
}

/// A score matrix someone reads is no pattern: it stays unfused and correct.
#[test]
fn shared_scores_stay_unfused() {
    let dev = device();
    let (q, k, v, _) = operands(&dev, DType::F32, (1, 2, 5, 6, 8, 8), 5);
    let s = q
        .matmul(&k.transpose(-1, -2).unwrap())
        .unwrap()
        .mul_scalar(0.3)
        .unwrap();
    let p = s.softmax(-1).unwrap();
    let y = p.matmul(&v).unwrap();
    let both = y
        .add(&p.sum(&[-1], true).unwrap().expand(&[1, 2, 5, 8]).unwrap())
        .unwrap();
    assert!(both
        .explain()
        .unwrap()
        .kernels
        .iter()
        .all(|k| !k.kind.starts_with("fused attention")));
    check(&both, 2e-5, 1e-4, "shared scores");
}

/// With fusion off the pattern stays as written; the API's op is still one kernel.
#[test]
fn fusion_off() {
    let mut o = kiln::DeviceOptions::from_env();
    o.autotune = kiln::Autotune::Off;
    o.fusion = false;
    let dev = kiln::Device::new(&o).unwrap();
    let (q, k, v, mask) = operands(&dev, DType::F32, (1, 2, 5, 6, 8, 8), 15);
    let y = unfused(&q, &k, &v, Some(&mask), 0.5);
    assert!(y
        .explain()
        .unwrap()
        .kernels
        .iter()
        .all(|k| !k.kind.starts_with("fused")));
    check(&y, 2e-5, 1e-4, "unfused, fusion off");
    let y = q
        .scaled_dot_product_attention(&k, &v, Some(&mask), Some(0.5), false)
        .unwrap();
    check(&y, 2e-5, 1e-4, "api, fusion off");
}

/// A decode step: one query row per head against a long cache runs split over the keys,
/// the runs combined; rows that see no key are NaN like the composition's.
#[test]
fn split_decode() {
    let dev = device();
    for dt in [DType::F32, DType::F16] {
        let (q, k, v, _) = operands(&dev, dt, (1, 4, 1, 1031, 64, 48), 300);
        let y = q
            .scaled_dot_product_attention(&k, &v, None, None, false)
            .unwrap();
        let plan = y.explain().unwrap();
        assert!(
            plan.kernels.iter().any(|k| k.kind.contains("split")),
            "{:?}",
            plan.kernels.iter().map(|k| &k.kind).collect::<Vec<_>>()
        );
        let (at, rt) = tol(dt);
        check(&y, at, rt, &format!("split {dt}"));
    }
    // A mask hiding every key of one head's row: NaN there, values elsewhere.
    let (q, k, v, _) = operands(&dev, DType::F32, (1, 2, 1, 700, 32, 32), 400);
    let m: Vec<f32> = (0..1400)
        .map(|i| if i < 700 { f32::NEG_INFINITY } else { 0.0 })
        .collect();
    let mask = Tensor::from_slice_on(&dev, &m, &[1, 2, 1, 700]).unwrap();
    let y = q
        .scaled_dot_product_attention(&k, &v, Some(&mask), None, false)
        .unwrap();
    let got = y.to_vec::<f32>().unwrap();
    assert!(got[..32].iter().all(|x| x.is_nan()), "{:?}", &got[..4]);
    assert!(got[32..].iter().all(|x| x.is_finite()));
    check(&y, 2e-5, 1e-4, "split, a fully masked row");
}

/// One query row a head over f32 operands whose rows are aligned vectors (read a `vec4` a
/// load) and over the same values one element on (read element by element), in the decode
/// form (chunks of 16, 32 and 64 keys) and the block form (tiles of 8); heads of 128 and 80,
/// masked, split and not.
#[test]
fn one_row_readers_and_forms() {
    let dev = private_device();
    let Some(ctx) = dev.gpu() else { return };
    let base = ctx.schedule();
    for keys in [8u32, 16, 32, 64] {
        let mut s = base;
        s.attention.keys = Some(keys);
        ctx.set_schedule(s);
        for (sk, d, seed) in [(300usize, 128usize, 900u64), (97, 80, 950)] {
            let (q, k, v, mask) = operands(&dev, DType::F32, (2, 3, 1, sk + 1, d, d), seed);
            // `k` and `v` one key on: their rows start one element past a multiple of 4 where
            // the head is a multiple of 4 (no vectors), at key 0 where it is not.
            for shift in [0usize, 1] {
                let at = |t: &Tensor| {
                    let flat = t.reshape(&[2 * 3 * (sk + 1) * d]).unwrap();
                    flat.narrow(0, shift, 2 * 3 * sk * d)
                        .unwrap()
                        .reshape(&[2, 3, sk, d])
                        .unwrap()
                };
                let (kk, vv) = (at(&k), at(&v));
                let m = mask.narrow(1, 0, sk).unwrap();
                let y = q
                    .scaled_dot_product_attention(&kk, &vv, Some(&m), None, false)
                    .unwrap();
                let plan = y.explain().unwrap();
                // The attention kernel's (a split's combine is a kernel of its own).
                let wgsl: String = plan
                    .kernels
                    .iter()
                    .filter(|k| k.kind.contains("attention"))
                    .map(|k| k.wgsl.as_str())
                    .collect();
                assert!(!wgsl.is_empty(), "an attention kernel");
                assert_eq!(
                    wgsl.contains("array<vec4<f32>>"),
                    shift == 0,
                    "keys {keys} sk {sk} d {d} shift {shift}: vector reads"
                );
                assert_eq!(
                    wgsl.contains("const KP"),
                    keys >= 16,
                    "keys {keys}: the decode form"
                );
                let what = format!("keys {keys} sk {sk} d {d} shift {shift}");
                check(&y, 2e-5, 1e-4, &what);
            }
        }
    }
    ctx.set_schedule(base);
}

/// A NaN score makes its row NaN, as in the reference, even where the rest of its tile or run
/// is masked out (a NaN key at a masked slot: NaN plus -inf is NaN).
#[test]
fn a_nan_score_makes_its_row_nan() {
    let dev = device();
    for sk in [200, 700] {
        let (q, k, v, _) = operands(&dev, DType::F32, (1, 2, 1, sk, 32, 32), 600);
        let m: Vec<f32> = (0..sk)
            .map(|j| match j {
                0 => f32::NAN,
                1..64 => f32::NEG_INFINITY,
                _ => 0.0,
            })
            .collect();
        let mask = Tensor::from_slice_on(&dev, &m, &[1, sk]).unwrap();
        let y = q
            .scaled_dot_product_attention(&k, &v, Some(&mask), None, false)
            .unwrap();
        let got = y.to_vec::<f32>().unwrap();
        assert!(got.iter().all(|x| x.is_nan()), "sk {sk}: {:?}", &got[..4]);
        check(&y, 2e-5, 1e-4, &format!("NaN score, sk {sk}"));
    }
}

/// Bad operands are typed errors at the call.
#[test]
fn bad_operands_are_typed_errors() {
    let dev = device();
    let q = random(&dev, DType::F32, &[2, 4, 8], -1.0, 1.0, 1);
    let k = random(&dev, DType::F32, &[2, 5, 8], -1.0, 1.0, 2);
    let v = random(&dev, DType::F32, &[2, 6, 8], -1.0, 1.0, 3);
    let k7 = random(&dev, DType::F32, &[2, 5, 7], -1.0, 1.0, 4);
    let kh = random(&dev, DType::F16, &[2, 5, 8], -1.0, 1.0, 5);
    let v5 = random(&dev, DType::F32, &[2, 5, 8], -1.0, 1.0, 6);
    let attention_shape =
        |e: kiln::Error| matches!(e.ir(), Some(kiln::ir::IrError::AttentionShape { .. }));
    let e = q
        .scaled_dot_product_attention(&k, &v, None, None, false)
        .unwrap_err();
    assert!(attention_shape(e));
    let e = q
        .scaled_dot_product_attention(&k7, &v5, None, None, false)
        .unwrap_err();
    assert!(attention_shape(e));
    let e = q
        .scaled_dot_product_attention(&kh, &v5, None, None, false)
        .unwrap_err();
    assert!(
        matches!(e.ir(), Some(kiln::ir::IrError::DTypeMismatch { .. })),
        "{e}"
    );
    let bad_mask = random(&dev, DType::F32, &[3, 5], -1.0, 1.0, 7);
    assert!(q
        .scaled_dot_product_attention(&k, &v5, Some(&bad_mask), None, false)
        .is_err());
    let ints = random(&dev, DType::I32, &[2, 4, 8], -1.0, 1.0, 8);
    let e = ints
        .scaled_dot_product_attention(&ints, &ints, None, None, false)
        .unwrap_err();
    assert!(
        matches!(e.ir(), Some(kiln::ir::IrError::UnsupportedDType { .. })),
        "{e}"
    );
}

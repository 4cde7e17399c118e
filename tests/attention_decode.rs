//! The decode form's segments: a one-row attention left whole, its keys spread over
//! segments of one workgroup and combined there, against the reference interpreter at odd
//! key counts, heads of 32 to 128, causal and masked, f32 and f16, with keys and values
//! broadcast over a group of query heads (a strided view), and rows that are NaN.

mod common;
use common::*;
use kiln::{DType, Tensor};

/// The attention kernels of `y`'s plan: how many, and the WGSL of the first.
fn attention_kernels(y: &Tensor) -> (usize, usize, String) {
    let plan = y.explain().unwrap();
    let att: Vec<_> = plan
        .kernels
        .iter()
        .filter(|k| k.kind.contains("attention"))
        .collect();
    let splits = plan
        .kernels
        .iter()
        .filter(|k| k.kind.contains("split"))
        .count();
    (
        att.len(),
        splits,
        att.first().map(|k| k.wgsl.clone()).unwrap_or_default(),
    )
}

/// Under schedules of 1, 4 and 16 segments, one query row a head over 1 to 513 keys: up to
/// 32 keys a segment the attention is one kernel with no combine, its workgroup that many
/// segments (as many as its keys need, a power of two); past the schedule's keys it splits.
/// The values match the interpreter's in every case: the segments' runs are combined as a
/// split attention's runs are.
#[test]
fn whole_decode_attention_over_segments() {
    let dev = private_device();
    let Some(ctx) = dev.gpu() else { return };
    let base = ctx.schedule();
    let mut seed = 11_000;
    for most in [1u32, 4, 16] {
        let mut s = base;
        s.attention.segments = most;
        ctx.set_schedule(s);
        // What the adapter allows (lavapipe's and a browser's 256 invocations: 4).
        let most = ctx.schedule().attention.segments;
        for (sk, d, dt) in [
            (1usize, 64usize, DType::F32),
            (3, 32, DType::F16),
            (33, 80, DType::F32),
            (100, 128, DType::F32),
            (129, 64, DType::F16),
            (511, 64, DType::F32),
            (513, 32, DType::F32),
        ] {
            for (causal, masked) in [(false, false), (true, true)] {
                seed += 10;
                let q = random(&dev, dt, &[2, 3, 1, d], -1.0, 1.0, seed);
                let k = random(&dev, dt, &[2, 3, sk, d], -1.0, 1.0, seed + 1);
                let v = random(&dev, dt, &[2, 3, sk, d], -1.0, 1.0, seed + 2);
                let mask = additive_mask(&dev, dt, 1, sk, seed + 3);
                let y = q
                    .scaled_dot_product_attention(&k, &v, masked.then_some(&mask), None, causal)
                    .unwrap();
                let what = format!("segments {most}: sk {sk} d {d} {dt} causal {causal}");
                let (at, rt) = attention_tol(dt);
                let (n, splits, wgsl) = attention_kernels(&y);
                check(&y, at, rt, &what);
                // One key: the value row itself, whatever the kernels.
                if sk == 1 {
                    continue;
                }
                assert_eq!(n, 1, "{what}");
                let whole = most > 1 && sk <= most as usize * 32;
                if whole {
                    let segs = sk.div_ceil(32).next_power_of_two().min(most as usize);
                    assert_eq!(splits, 0, "{what}: no combine");
                    assert!(
                        wgsl.contains(&format!("@workgroup_size({})", 64 * segs)),
                        "{what}: {segs} segments"
                    );
                } else if sk > 64 {
                    assert_eq!(splits, 1, "{what}: split and combined");
                }
            }
        }
    }
    ctx.set_schedule(base);
}

/// Grouped query heads (keys and values broadcast over the group by a stride of 0), a row
/// whose keys are all masked (NaN, as the composition gives), and a NaN score (its row NaN)
/// in a whole attention of 16 segments.
#[test]
fn segments_with_broadcast_keys_and_nan_rows() {
    let dev = private_device();
    let Some(ctx) = dev.gpu() else { return };
    let base = ctx.schedule();
    let mut s = base;
    s.attention.segments = 16;
    ctx.set_schedule(s);
    let (kvh, g, sk, d) = (2, 4, 200, 64);
    let q = random(&dev, DType::F32, &[kvh, g, 1, d], -1.0, 1.0, 12_000);
    let k = random(&dev, DType::F32, &[kvh, 1, sk, d], -1.0, 1.0, 12_001)
        .expand(&[kvh, g, sk, d])
        .unwrap();
    let v = random(&dev, DType::F32, &[kvh, 1, sk, d], -1.0, 1.0, 12_002)
        .expand(&[kvh, g, sk, d])
        .unwrap();
    let y = q
        .scaled_dot_product_attention(&k, &v, None, None, false)
        .unwrap();
    check(&y, 2e-5, 1e-4, "grouped heads, broadcast K and V");
    // Head 0's row sees no key; head 1's first key scores NaN, the rest of its first
    // segment is masked.
    let m: Vec<f32> = (0..kvh * g * sk)
        .map(|i| match (i / sk, i % sk) {
            (0, _) => f32::NEG_INFINITY,
            (1, 0) => f32::NAN,
            (1, 1..32) => f32::NEG_INFINITY,
            _ => 0.0,
        })
        .collect();
    let mask = Tensor::from_slice_on(&dev, &m, &[kvh, g, 1, sk]).unwrap();
    let y = q
        .scaled_dot_product_attention(&k, &v, Some(&mask), None, false)
        .unwrap();
    assert_eq!(attention_kernels(&y).1, 0, "whole");
    let got = y.to_vec::<f32>().unwrap();
    assert!(got[..2 * d].iter().all(|x| x.is_nan()), "{:?}", &got[..4]);
    assert!(got[2 * d..].iter().all(|x| x.is_finite()));
    check(&y, 2e-5, 1e-4, "masked and NaN rows");
    ctx.set_schedule(base);
}

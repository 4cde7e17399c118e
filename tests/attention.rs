//! Fused attention against the reference interpreter: the API's op, the unfused pattern the
//! pass recognizes, the split (decode) form, at odd sizes, every head size of the issue,
//! causal and masked, f32 and f16.

mod common;
use common::*;
use kiln::{DType, Tensor};

/// Documented in docs/OPS.md (attention): f32 `2e-5 + 1e-4 |x|`; f16 and bf16 add their
/// rounding of the output (`dtype_ulp`) and of the operands' products, `2e-3 + 2e-3 |x|`.
fn tol(dt: DType) -> (f32, f32) {
    match dt {
        DType::F32 => (2e-5, 1e-4),
        _ => (2e-3, 2e-3),
    }
}

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
    let mut rng = Rng::new(seed + 3);
    let m: Vec<f32> = (0..sq * sk)
        .map(|i| {
            if i % sk != 0 && rng.f32(0.0, 1.0) < 0.2 {
                f32::NEG_INFINITY
            } else {
                rng.f32(-0.5, 0.5)
            }
        })
        .collect();
    let mask = Tensor::from_slice_on(dev, &m, &[sq, sk])
        .unwrap()
        .cast(dt)
        .unwrap();
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

fn kinds(t: &Tensor) -> Vec<String> {
    t.explain()
        .unwrap()
        .kernels
        .iter()
        .map(|k| k.kind.clone())
        .collect()
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
                    kinds(&y).iter().any(|k| k.starts_with("fused attention")),
                    "{what}: {:?}",
                    kinds(&y)
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

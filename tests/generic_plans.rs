//! Plans that serve any float constants (`kiln_ir::generic`): a graph realized again with
//! other float constants reuses its plan, with the new values, and matches the interpreter;
//! graphs whose passes read the values (a folded product, an identity at 1) keep a plan per
//! set of values and stay right; the caches stay bounded over many values.

mod common;
use common::*;
use kiln::{Counters, DType, Device, Tensor};

fn counters(dev: &Device) -> Counters {
    dev.counters().unwrap_or_default()
}

/// An optimizer-like step: `w - lr * (m / (sqrt(v) + eps))` with `m`, `v` updated by their
/// own scalars, three outputs, realized together.
fn step(w: &Tensor, g: &Tensor, m: &Tensor, v: &Tensor, lr: f64) -> Vec<Tensor> {
    let m2 = m
        .mul_scalar(0.9)
        .unwrap()
        .add(&g.mul_scalar(0.1).unwrap())
        .unwrap();
    let v2 = v
        .mul_scalar(0.999)
        .unwrap()
        .add(&g.mul(g).unwrap().mul_scalar(0.001).unwrap())
        .unwrap();
    let d = m2
        .div(&v2.sqrt().unwrap().add_scalar(1e-8).unwrap())
        .unwrap();
    let w2 = w.sub(&d.mul_scalar(lr).unwrap()).unwrap();
    vec![w2, m2, v2]
}

#[test]
fn a_step_with_a_new_learning_rate_reuses_its_plan() {
    let dev = private_device();
    let w = random(&dev, DType::F32, &[7, 1031], -1.0, 1.0, 1);
    let g = random(&dev, DType::F32, &[7, 1031], -1.0, 1.0, 2);
    let m = random(&dev, DType::F32, &[7, 1031], -0.1, 0.1, 3);
    let v = random(&dev, DType::F32, &[7, 1031], 0.01, 0.1, 4);
    for t in [&w, &g, &m, &v] {
        t.to_host().unwrap();
    }
    let before = counters(&dev);
    // (A learning rate equal to another of the step's constants, 1e-3, would merge with it:
    // another structure.)
    let lrs = [1.5e-3, 2e-3, 0.5, 1.0, -0.0, 3.7e-4, 7.0, 1.5e-3];
    for (i, &lr) in lrs.iter().enumerate() {
        let outs = step(&w, &g, &m, &v, lr);
        let refs: Vec<&Tensor> = outs.iter().collect();
        Tensor::realize_all(&refs).unwrap();
        for (o, name) in outs.iter().zip(["w", "m", "v"]) {
            check(o, 1e-6, 1e-5, &format!("step {i} (lr {lr}): {name}"));
        }
    }
    if dev.is_gpu() {
        let c = counters(&dev);
        // The first set of values lowers; the second lowers and probes; 1 and -0, values the
        // passes test for, stay in the key and get plans of their own; the rest reuse the
        // plan made generic (the last, a value seen before, by its exact structure).
        assert_eq!(c.plan_misses - before.plan_misses, 4, "{c:?}");
        assert_eq!(c.plans_made_generic - before.plans_made_generic, 1, "{c:?}");
        assert_eq!(c.plan_generic_hits - before.plan_generic_hits, 3, "{c:?}");
    }
}

#[test]
fn values_the_passes_read_keep_a_plan_each_and_stay_right() {
    let dev = private_device();
    let x = random(&dev, DType::F32, &[3, 1031], -2.0, 2.0, 5);
    x.to_host().unwrap();
    let before = counters(&dev);
    // `x * (a * b)`: the constant product folds, so no plan serves other values.
    let folded = |a: f64, b: f64| {
        let c = Tensor::full_on(&dev, &[], a, DType::F32)
            .unwrap()
            .mul(&Tensor::full_on(&dev, &[], b, DType::F32).unwrap())
            .unwrap();
        x.mul(&c).unwrap().exp().unwrap()
    };
    for (i, (a, b)) in [(0.5, 2.0), (0.25, 3.0), (-1.5, 0.125), (2.0, 0.5)]
        .into_iter()
        .enumerate()
    {
        check(&folded(a, b), 1e-6, 1e-5, &format!("folded {i}: {a} * {b}"));
    }
    if dev.is_gpu() {
        let c = counters(&dev);
        assert_eq!(c.plan_generic_hits, before.plan_generic_hits, "{c:?}");
        assert_eq!(c.plans_probed - before.plans_probed, 1, "{c:?}");
        assert_eq!(c.plans_made_generic, before.plans_made_generic, "{c:?}");
    }
    // `x * s + x`, made generic at 0.5 and 0.25, then run at 1 (where the identity would have
    // removed the product) and -0.0 (where `x * -0` is not `-0` for negative `x`).
    for (i, s) in [0.5, 0.25, 1.0, -0.0, f64::INFINITY]
        .into_iter()
        .enumerate()
    {
        let y = x.mul_scalar(s).unwrap().add(&x).unwrap();
        check(&y, 1e-6, 1e-6, &format!("identity {i}: x * {s} + x"));
    }
}

#[test]
fn many_values_keep_the_caches_bounded() {
    let dev = private_device();
    let x = random(&dev, DType::F32, &[1031], -1.0, 1.0, 6);
    x.to_host().unwrap();
    let before = counters(&dev);
    for i in 0..300 {
        let s = 1.0 + (i + 1) as f64 / 64.0;
        let y = x.mul_scalar(s).unwrap().tanh().unwrap();
        if i % 97 == 0 {
            check(&y, 1e-6, 1e-5, &format!("scale {s}"));
        } else {
            y.to_host().unwrap();
        }
    }
    if dev.is_gpu() {
        let c = counters(&dev);
        assert!(c.plans_cached - before.plans_cached <= 2, "{c:?}");
        assert_eq!(c.plan_misses - before.plan_misses, 2, "{c:?}");
        assert_eq!(c.plan_generic_hits - before.plan_generic_hits, 298, "{c:?}");
    }
}

/// The unfused attention pattern `softmax(q @ kᵀ · scale) @ v`.
fn pattern(q: &Tensor, k: &Tensor, v: &Tensor, scale: f64) -> Tensor {
    let scores = q.matmul(&k.transpose(2, 3).unwrap()).unwrap();
    let scaled = scores.mul_scalar(scale).unwrap();
    scaled.softmax(-1).unwrap().matmul(v).unwrap()
}

/// The attention's scale, a float constant the fusion pass reads: each scale's result
/// matches the interpreter, whether or not its plan is shared.
#[test]
fn attention_scales_stay_right() {
    let dev = private_device();
    let q = random(&dev, DType::F32, &[1, 2, 9, 32], -1.0, 1.0, 7);
    let k = random(&dev, DType::F32, &[1, 2, 13, 32], -1.0, 1.0, 8);
    let v = random(&dev, DType::F32, &[1, 2, 13, 32], -1.0, 1.0, 9);
    for t in [&q, &k, &v] {
        t.to_host().unwrap();
    }
    for (i, scale) in [0.3, 0.2, 0.7, 1.0, 0.05].into_iter().enumerate() {
        let fused = q
            .scaled_dot_product_attention(&k, &v, None, Some(scale), i % 2 == 1)
            .unwrap();
        check(&fused, 2e-5, 1e-4, &format!("sdpa, scale {scale}"));
        // The unfused pattern, which the pass recognizes by its constant scale.
        let p = pattern(&q, &k, &v, scale);
        check(&p, 2e-5, 1e-4, &format!("pattern, scale {scale}"));
    }
}

/// Graphs that could fool a shared plan (found in review): a slot where another graph holds
/// a kept 0, constants compared or folded with each other or with a kept value, a constant
/// rounded through f16, an infinite attention scale. Each realize matches the interpreter.
#[test]
fn shared_plans_are_not_fooled() {
    let dev = private_device();
    let x = random(&dev, DType::F32, &[5, 33], -2.0, 2.0, 10);
    let z = random(&dev, DType::F32, &[5, 33], -2.0, 2.0, 11);
    for t in [&x, &z] {
        t.to_host().unwrap();
    }
    let c = |v: f64| Tensor::full_on(&dev, &[], v, DType::F32).unwrap();
    // `x * a + z * b`, with b = 0 (kept in the key) twice, then a = 0 and b a slot.
    for (i, (a, b)) in [
        (0.5, 0.0),
        (0.25, 0.0),
        (0.0, 0.7),
        (0.125, 0.0),
        (0.0, 0.3),
    ]
    .into_iter()
    .enumerate()
    {
        let y = x.mul(&c(a)).unwrap().add(&z.mul(&c(b)).unwrap()).unwrap();
        check(&y, 1e-6, 1e-6, &format!("x * {a} + z * {b} ({i})"));
    }
    // `x * max(a, b)`: the order of two constants.
    for (a, b) in [(0.5, 0.75), (0.25, 0.375), (2.0, 0.75), (3.0, 0.5)] {
        let y = x.mul(&c(a).maximum(&c(b)).unwrap()).unwrap();
        check(&y, 1e-6, 1e-6, &format!("x * max({a}, {b})"));
    }
    // `x * min(c, -1)`: a constant against a kept one.
    for v in [0.5, 0.25, -3.0, 0.75] {
        let y = x.mul(&c(v).minimum(&c(-1.0)).unwrap()).unwrap();
        check(&y, 1e-6, 1e-6, &format!("x * min({v}, -1)"));
    }
    // `x * f32(f16(c))`: a constant rounded through f16 (70000 overflows it).
    for v in [0.5, 0.25, 70000.0, 0.1] {
        let r = c(v).cast(DType::F16).unwrap().cast(DType::F32).unwrap();
        check(
            &x.mul(&r).unwrap(),
            1e-6,
            1e-6,
            &format!("x * f32(f16({v}))"),
        );
    }
    // The attention pattern's scale, finite then infinite.
    let q = random(&dev, DType::F32, &[1, 1, 4, 16], -1.0, 1.0, 12);
    let k = random(&dev, DType::F32, &[1, 1, 6, 16], -1.0, 1.0, 13);
    let v = random(&dev, DType::F32, &[1, 1, 6, 16], -1.0, 1.0, 14);
    for s in [0.3, 0.2, f64::INFINITY, 0.4] {
        let p = pattern(&q, &k, &v, s);
        check(&p, 2e-5, 1e-4, &format!("attention pattern, scale {s}"));
    }
}

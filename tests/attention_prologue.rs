//! Attention computing its queries where it reads them (a q prologue) against the reference
//! interpreter: RoPE's form over strided, broadcast and gathered reads, in every scalar form
//! of the template, split (decode) and not, f32 and f16; and the queries it leaves to a
//! kernel of their own.

mod common;
use common::*;
use kiln::{DType, Device, DeviceOptions, Tensor};

/// tests/attention.rs's tolerances (docs/OPS.md, attention).
fn tol(dt: DType) -> (f32, f32) {
    match dt {
        DType::F32 => (2e-5, 1e-4),
        _ => (2e-3, 2e-3),
    }
}

const COMPUTED: &str = "queries computed where they are read";

/// q `[b, h, sq, d]` in RoPE's form, `x * cos(a) + rot(x) * sin(a)`: `x` the middle heads of
/// a wider tensor, permuted (a strided view); the angles broadcast over batches and heads;
/// `rot` each pair's elements swapped, a gather along the head.
fn rotated(
    dev: &Device,
    dt: DType,
    (b, h, sq, d): (usize, usize, usize, usize),
    seed: u64,
) -> Tensor {
    let wide = random(dev, dt, &[b, sq, h + 2, d], -1.0, 1.0, seed);
    let x = wide
        .narrow(2, 1, h)
        .unwrap()
        .permute(&[0, 2, 1, 3])
        .unwrap();
    let full = [b, h, sq, d];
    let ang = random(dev, DType::F32, &[1, 1, sq, d], -3.0, 3.0, seed + 1)
        .cast(dt)
        .unwrap();
    let c = ang.cos().unwrap().expand(&full).unwrap();
    let s = ang.sin().unwrap().expand(&full).unwrap();
    let partner: Vec<i32> = (0..d as i32).map(|i| i ^ 1).collect();
    let idx = Tensor::from_slice_on(dev, &partner, &[1, 1, 1, d])
        .unwrap()
        .expand(&full)
        .unwrap();
    x.mul(&c)
        .unwrap()
        .add(&x.gather(-1, &idx).unwrap().mul(&s).unwrap())
        .unwrap()
}

/// k, v `[b, h, sk, d]` and an additive mask `[sq, sk]` ([`additive_mask`]).
fn keys(
    dev: &Device,
    dt: DType,
    (b, h, sq, sk, d): (usize, usize, usize, usize, usize),
    seed: u64,
) -> (Tensor, Tensor, Tensor) {
    let k = random(dev, dt, &[b, h, sk, d], -1.0, 1.0, seed);
    let v = random(dev, dt, &[b, h, sk, d], -1.0, 1.0, seed + 1);
    let mask = additive_mask(dev, dt, sq, sk, seed + 2);
    (k, v, mask)
}

/// Each scalar form reads computed queries: the row form, blocks of 16 and 1 rows, tiles of
/// 4, 16 and 32 keys (16 is the one-row decode form), at odd lengths, one and two batches,
/// heads of 32, 64, 80 and 128, causal and masked, f32 and f16, a long cache split over its
/// keys; no kernel stores q.
#[test]
fn computed_queries_match_the_interpreter() {
    let dev = private_device();
    let Some(ctx) = dev.gpu() else { return };
    let base = ctx.schedule();
    let mut seed = 100;
    for (rows, keys_per_tile) in [(64u32, 4u32), (16, 32), (1, 4), (1, 16)] {
        let mut s = base;
        s.attention.rows = Some(rows);
        s.attention.keys = Some(keys_per_tile);
        s.attention.tensor_cores = false;
        ctx.set_schedule(s);
        for (i, (sq, sk, d)) in [(129, 131, 64), (7, 7, 32), (3, 70, 80), (1, 1031, 128)]
            .into_iter()
            .enumerate()
        {
            let dt = [DType::F32, DType::F16][(i + rows as usize) % 2];
            for (causal, masked) in [(false, true), (true, false)] {
                seed += 10;
                let b = 1 + i % 2;
                let q = rotated(&dev, dt, (b, 3, sq, d), seed);
                let (k, v, mask) = keys(&dev, dt, (b, 3, sq, sk, d), seed + 5);
                let y = q
                    .scaled_dot_product_attention(&k, &v, masked.then_some(&mask), None, causal)
                    .unwrap();
                let what = format!(
                    "rows {rows} keys {keys_per_tile}: b {b} sq {sq} sk {sk} d {d} {dt} causal {causal}"
                );
                let ks = kernel_kinds(&y);
                let att: Vec<&String> = ks.iter().filter(|k| k.contains("attention")).collect();
                assert!(!att.is_empty(), "{what}: {ks:?}");
                assert!(att.iter().all(|k| k.contains(COMPUTED)), "{what}: {ks:?}");
                // No kernel stores q: as many kernels as over q given in memory.
                let given = Tensor::from_host_on(&dev, q.to_host().unwrap()).unwrap();
                let y_given = given
                    .scaled_dot_product_attention(&k, &v, masked.then_some(&mask), None, causal)
                    .unwrap();
                assert_eq!(ks.len(), kernel_kinds(&y_given).len(), "{what}: {ks:?}");
                let (at, rt) = tol(dt);
                check(&y, at, rt, &what);
            }
        }
    }
    ctx.set_schedule(base);
}

/// One query row a head over aligned f32 keys and values, read a `vec4` a load, while the
/// computed queries are read an element at a time from the same vector bindings.
#[test]
fn computed_queries_beside_vector_reads() {
    let dev = device();
    for (b, h, sk, d) in [(2, 4, 300, 128), (1, 8, 97, 64)] {
        let q = rotated(&dev, DType::F32, (b, h, 1, d), 500 + d as u64);
        let (k, v, mask) = keys(&dev, DType::F32, (b, h, 1, sk, d), 600 + d as u64);
        let y = q
            .scaled_dot_product_attention(&k, &v, Some(&mask), None, false)
            .unwrap();
        let plan = y.explain().unwrap();
        let att = plan
            .kernels
            .iter()
            .find(|k| k.kind.contains("attention"))
            .expect("an attention kernel");
        assert!(att.kind.contains(COMPUTED), "{}", att.kind);
        assert!(
            att.wgsl.contains("array<vec4<f32>>"),
            "vector reads of k and v"
        );
        check(&y, 2e-5, 1e-4, &format!("b {b} h {h} sk {sk} d {d}"));
    }
}

/// Queries attention cannot compute are stored by a kernel of their own, as before, and
/// the results are the same: a reduction under them (a softmax over the head), a value
/// another output reads (more buffers than a kernel may bind: the binding-limit test below).
#[test]
fn queries_read_from_memory_where_not_computed() {
    let dev = device();
    let (b, h, sq, sk, d) = (1, 2, 5, 33, 32);
    let (k, v, mask) = keys(&dev, DType::F32, (b, h, sq, sk, d), 700);
    let x = random(&dev, DType::F32, &[b, h, sq, d], -1.0, 1.0, 710);
    let stored = |y: &Tensor, what: &str| {
        let ks = kernel_kinds(y);
        assert!(ks.iter().all(|k| !k.contains(COMPUTED)), "{what}: {ks:?}");
        check(y, 2e-5, 1e-4, what);
    };

    let q = x.softmax(-1).unwrap();
    let y = q
        .scaled_dot_product_attention(&k, &v, Some(&mask), None, false)
        .unwrap();
    stored(&y, "softmax(x) as q");

    let q = x.sin().unwrap();
    let y = q
        .scaled_dot_product_attention(&k, &v, Some(&mask), None, false)
        .unwrap();
    let both = y.add(&q.narrow(3, 0, d).unwrap()).unwrap();
    stored(&both, "sin(x) as q and read again");
}

/// An f16 attention whose computed q reads an f32 table (cast) before its f16 input: the
/// kernel takes its dtype from the f16 load. A q computed from f32 loads alone is stored.
#[test]
fn computed_queries_of_mixed_dtypes() {
    let dev = device();
    let (b, h, sq, sk, d) = (2, 2, 3, 40, 32);
    let (k, v, mask) = keys(&dev, DType::F16, (b, h, sq, sk, d), 800);
    let t = random(&dev, DType::F32, &[1, 1, sq, d], -1.0, 1.0, 810)
        .expand(&[b, h, sq, d])
        .unwrap();
    let x = random(&dev, DType::F16, &[b, h, sq, d], -1.0, 1.0, 811);
    let q = t.cos().unwrap().cast(DType::F16).unwrap().mul(&x).unwrap();
    let y = q
        .scaled_dot_product_attention(&k, &v, Some(&mask), None, false)
        .unwrap();
    assert!(
        kernel_kinds(&y).iter().any(|k| k.contains(COMPUTED)),
        "{:?}",
        kernel_kinds(&y)
    );
    let (at, rt) = tol(DType::F16);
    check(&y, at, rt, "cos(t f32) as f16 * x f16");
    let q = t.sin().unwrap().cast(DType::F16).unwrap();
    let y = q
        .scaled_dot_product_attention(&k, &v, Some(&mask), None, false)
        .unwrap();
    assert!(
        kernel_kinds(&y).iter().all(|k| !k.contains(COMPUTED)),
        "{:?}",
        kernel_kinds(&y)
    );
    check(&y, at, rt, "sin(t f32) as f16");
}

/// At WebGPU's 8 bindings, q reading four buffers beside k, v and the mask (and the result)
/// fits and is computed; reading five, it is stored.
#[test]
fn computed_queries_at_the_binding_limit() {
    let dev = Device::new(&DeviceOptions {
        autotune: kiln::Autotune::Off,
        cache_dir: None,
        max_storage_buffers: Some(8),
        ..DeviceOptions::from_env()
    })
    .expect("opening a device");
    let (b, h, sq, sk, d) = (1, 2, 5, 33, 32);
    let (k, v, mask) = keys(&dev, DType::F32, (b, h, sq, sk, d), 900);
    for (inputs, computed) in [(4u64, true), (5, false)] {
        let mut q = random(&dev, DType::F32, &[b, h, sq, d], -1.0, 1.0, 910);
        for i in 1..inputs {
            q = q
                .mul(&random(
                    &dev,
                    DType::F32,
                    &[b, h, sq, d],
                    -1.0,
                    1.0,
                    910 + i,
                ))
                .unwrap();
        }
        let y = q
            .scaled_dot_product_attention(&k, &v, Some(&mask), None, false)
            .unwrap();
        let plan = y.explain().unwrap();
        for kern in &plan.kernels {
            let binds = kern.wgsl.matches("var<storage").count();
            assert!(binds <= 8, "{}: {binds} bindings", kern.name);
        }
        assert_eq!(
            plan.kernels.iter().any(|k| k.kind.contains(COMPUTED)),
            computed,
            "{inputs} inputs"
        );
        check(&y, 2e-5, 1e-4, &format!("q of {inputs} inputs, 8 bindings"));
    }
}

//! Donated inputs (`Program::compile_donating`): an output written over an input's buffer,
//! as a KV cache takes its new rows where it lies, checked against the interpreter; and
//! that no tensor the caller still holds ever changes.

mod common;
use common::*;
use kiln::{DType, Error, Program, Tensor};

/// A cache update as the decoder's step builds it: placeholders `[pos0 [1] i32, rows [2, h,
/// t, d], cache [2, h, ctx, d]]`; outputs `[cache', a reader of cache']`, where `cache'`
/// holds `rows` at slots `pos0..pos0 + t` (broadcast where `t` is 1, gathered where more).
fn update(
    dev: &kiln::Device,
    dt: DType,
    shape: [usize; 4],
    t: usize,
) -> (Vec<Tensor>, Vec<Tensor>) {
    let [two, h, ctx, d] = shape;
    let pos0 = Tensor::placeholder_on(dev, DType::I32, &[1]).unwrap();
    let rows = Tensor::placeholder_on(dev, dt, &[two, h, t, d]).unwrap();
    let cache = Tensor::placeholder_on(dev, dt, &shape).unwrap();
    let slots: Vec<i32> = (0..ctx as i32).collect();
    let slot = Tensor::from_slice_on(dev, &slots, &[1, 1, ctx, 1])
        .unwrap()
        .expand(&shape)
        .unwrap();
    let p0 = pos0.reshape(&[1, 1, 1, 1]).unwrap().expand(&shape).unwrap();
    let end = p0.add(&p0.scalar_like(t as f64).unwrap()).unwrap();
    let fresh = slot
        .ge(&p0)
        .unwrap()
        .logical_and(&slot.lt(&end).unwrap())
        .unwrap();
    // The new rows, computed (doubled) where they are placed.
    let rows2 = rows.mul_scalar(2.0).unwrap();
    let placed = if t == 1 {
        rows2.expand(&shape).unwrap()
    } else {
        let at = slot.sub(&p0).unwrap().clamp(0.0, (t - 1) as f64).unwrap();
        rows2.gather(2, &at).unwrap()
    };
    let next = Tensor::where_(&fresh, &placed, &cache).unwrap();
    let read = next.mul_scalar(0.5).unwrap().sum(&[-1], false).unwrap();
    (vec![pos0, rows, cache], vec![next, read])
}

/// Donated inputs the device has copied (0 on the interpreter).
fn copies(dev: &kiln::Device) -> u64 {
    dev.counters().map_or(0, |c| c.donations_copied)
}

/// Steps the update from a random cache, donating it, and checks every step's outputs
/// against the interpreter on the same inputs.
fn step_donated(dt: DType, shape: [usize; 4], t: usize, steps: usize) {
    let dev = private_device();
    let (ph, out) = update(&dev, dt, shape, t);
    let prog = Program::compile_donating(
        &ph.iter().collect::<Vec<_>>(),
        &out.iter().collect::<Vec<_>>(),
        &[2],
    )
    .unwrap();
    let what = format!("{dt} {shape:?} t {t}");
    if dev.is_gpu() {
        assert_eq!(
            prog.donations(),
            [(2, 0)],
            "{what}: the cache is written in place"
        );
    }
    let [two, h, ctx, d] = shape;
    let mut cache = random(&dev, dt, &shape, -1.0, 1.0, 7);
    // The reader sums a head's `d` values (f32: 1e-5; f16: a few units in the last place).
    let tol = 1e-5 + 4.0 * dtype_ulp(dt);
    for s in 0..steps {
        let pos = (s * t) % (ctx - t + 1);
        let pos0 = Tensor::from_slice_on(&dev, &[pos as i32], &[1]).unwrap();
        let rows = random(&dev, dt, &[two, h, t, d], -1.0, 1.0, 100 + s as u64);
        let want = prog.reference(&[&pos0, &rows, &cache]).unwrap();
        let copied = copies(&dev);
        let got = prog.run_donating(vec![pos0, rows, cache]).unwrap();
        let what = format!("{what}, step {s} at {pos}");
        // Held by nothing else, the cache is written where it lies, never copied.
        assert_eq!(copies(&dev), copied, "{what}: copied");
        assert_close(&got[0].to_host().unwrap(), &want[0], 0.0, 0.0, &what);
        assert_close(&got[1].to_host().unwrap(), &want[1], tol, tol, &what);
        cache = got[0].clone();
    }
}

#[test]
fn a_donated_cache_takes_its_rows_where_it_lies() {
    // One row (broadcast) and several (gathered); vector kernels (a head of 8) and scalar ones
    // (7); a cache past the 65,535-invocation row of a workgroup grid; f16 as stored.
    step_donated(DType::F32, [2, 3, 37, 8], 1, 4);
    step_donated(DType::F32, [2, 3, 37, 7], 3, 4);
    step_donated(DType::F32, [2, 2, 1031, 4], 5, 3);
    step_donated(DType::F32, [2, 8, 4100, 64], 1, 2);
    step_donated(DType::F16, [2, 3, 37, 8], 2, 3);
}

#[test]
fn a_held_input_is_copied_not_changed() {
    let dev = private_device();
    let shape = [2, 3, 37, 8];
    let (ph, out) = update(&dev, DType::F32, shape, 1);
    let prog = Program::compile_donating(
        &ph.iter().collect::<Vec<_>>(),
        &out.iter().collect::<Vec<_>>(),
        &[2],
    )
    .unwrap();
    let fresh = || random(&dev, DType::F32, &shape, -1.0, 1.0, 3);
    let before = fresh().to_host().unwrap();
    let pos0 = Tensor::from_slice_on(&dev, &[5i32], &[1]).unwrap();
    let rows = random(&dev, DType::F32, &[2, 3, 1, 8], -1.0, 1.0, 4);
    let want = prog.reference(&[&pos0, &rows, &fresh()]).unwrap();
    // Each run here copies the cache first (one copy on a GPU).
    let gpu = u64::from(dev.is_gpu());
    let donate = |cache: Tensor, what: &str| {
        let copied = copies(&dev);
        let got = prog
            .run_donating(vec![pos0.clone(), rows.clone(), cache])
            .unwrap();
        assert_close(&got[0].to_host().unwrap(), &want[0], 0.0, 0.0, what);
        assert_eq!(copies(&dev), copied + gpu, "{what}: copied");
    };
    // Another handle to the cache, a tensor viewing it, a weak reference, and a borrowed run:
    // each run leaves what the caller holds as it was.
    let cache = fresh();
    let kept = cache.clone();
    donate(cache, "held: result");
    assert_close(&kept.to_host().unwrap(), &before, 0.0, 0.0, "held: kept");
    let view = kept.reshape(&[2 * 3 * 37 * 8]).unwrap();
    view.realize().unwrap();
    donate(kept, "viewed: result");
    assert_near(
        &host_f64(&view),
        &before.to_f64(),
        0.0,
        "viewed: the view kept",
    );
    let cache = fresh();
    let weak = cache.downgrade();
    donate(cache, "weak: result");
    assert!(weak.upgrade().is_none());
    let mine = fresh();
    let copied = copies(&dev);
    let got = prog.run(&[&pos0, &rows, &mine]).unwrap();
    assert_eq!(copies(&dev), copied + gpu, "borrowed: copied");
    assert_close(
        &got[0].to_host().unwrap(),
        &want[0],
        0.0,
        0.0,
        "borrowed: result",
    );
    assert_close(
        &mine.to_host().unwrap(),
        &before,
        0.0,
        0.0,
        "borrowed: input kept",
    );
}

#[test]
fn only_what_can_be_written_over_is() {
    // Fusion off: a kernel an op, so that which kernel reads an input last is plain.
    let mut o = kiln::DeviceOptions::from_env();
    o.autotune = kiln::Autotune::Off;
    o.fusion = false;
    let dev = kiln::Device::new(&o).unwrap();
    if !dev.is_gpu() {
        return;
    }
    let x = Tensor::placeholder_on(&dev, DType::F32, &[33]).unwrap();
    let y = Tensor::placeholder_on(&dev, DType::F32, &[33]).unwrap();
    let compile = |ins: &[&Tensor], outs: &[&Tensor], donated: &[usize]| {
        Program::compile_donating(ins, outs, donated).unwrap()
    };
    // Another size: nothing written over.
    let part = x.narrow(0, 0, 32).unwrap().exp().unwrap();
    assert_eq!(compile(&[&x], &[&part], &[0]).donations(), []);
    // An input read again by a later kernel is written over by that one, not the first.
    let a = x.exp().unwrap();
    let b = a.mul(&x).unwrap();
    assert_eq!(compile(&[&x], &[&a, &b], &[0]).donations(), [(0, 1)]);
    // Not donated: not written over.
    let z = x.add(&y).unwrap();
    assert_eq!(compile(&[&x, &y], &[&z], &[]).donations(), []);
    // Of another dtype: not written over; of the same: written over, once (over either of
    // the two inputs its kernel reads last).
    let c = x.cast(DType::I32).unwrap();
    let p = compile(&[&x, &y], &[&c, &z], &[0, 1]);
    let d = p.donations();
    assert!(d.len() == 1 && d[0].1 == 1, "{d:?}");
    let xi = random(&dev, DType::F32, &[33], -1.0, 1.0, 1);
    let yi = random(&dev, DType::F32, &[33], -1.0, 1.0, 2);
    let want = p.reference(&[&xi, &yi]).unwrap();
    let got = p.run_donating(vec![xi.clone(), yi]).unwrap();
    assert_close(&got[0].to_host().unwrap(), &want[0], 0.0, 0.0, "cast");
    assert_close(&got[1].to_host().unwrap(), &want[1], 1e-6, 1e-6, "sum");
    // One tensor at both positions: held twice, so copied, and left as it was.
    let before = xi.to_host().unwrap();
    let want = p.reference(&[&xi, &xi]).unwrap();
    let got = p.run_donating(vec![xi.clone(), xi.clone()]).unwrap();
    assert_close(&got[1].to_host().unwrap(), &want[1], 1e-6, 1e-6, "x + x");
    assert_close(&xi.to_host().unwrap(), &before, 0.0, 0.0, "x + x: kept");
    // An input read twice by the kernel that writes over it.
    let sq = x.mul(&x).unwrap().add(&y).unwrap();
    let p = compile(&[&x, &y], &[&sq], &[0]);
    let xi = random(&dev, DType::F32, &[33], -1.0, 1.0, 3);
    let yi = random(&dev, DType::F32, &[33], -1.0, 1.0, 4);
    let want = p.reference(&[&xi, &yi]).unwrap();
    let got = p.run_donating(vec![xi, yi]).unwrap();
    assert_close(
        &got[0].to_host().unwrap(),
        &want[0],
        1e-6,
        1e-6,
        "x * x + y",
    );
}

#[test]
fn a_donation_past_the_inputs_is_refused() {
    let dev = device();
    let x = Tensor::placeholder_on(&dev, DType::F32, &[3]).unwrap();
    let y = x.exp().unwrap();
    match Program::compile_donating(&[&x], &[&y], &[1]) {
        Err(Error::DonatedInput {
            index: 1,
            inputs: 1,
        }) => {}
        other => panic!("expected DonatedInput, got {:?}", other.map(|_| ())),
    }
}

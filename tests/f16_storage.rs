//! f16 tensors stored in 16 bits (`SHADER_F16`), and bf16 tensors packed two to a word,
//! against both widened to f32: the same values to the bit, both equal to the reference
//! interpreter, at odd sizes, vec4 sizes, with overflow to infinity and NaN, through
//! elementwise chains, reductions, normalizations, matmuls, attention, gathers, concats and
//! kernels that run in place.

mod common;

use common::{assert_close, random};
use kiln::{DType, Device, DeviceOptions, Tensor};

fn device_with(sixteen_bits: bool) -> Device {
    let d = Device::new(&DeviceOptions {
        f16_storage: sixteen_bits,
        bf16_storage: sixteen_bits,
        ..DeviceOptions::from_env()
    })
    .expect("opening the device");
    d.set_autotune(kiln::Autotune::Off);
    d
}

/// f16 results of one device: elementwise (scalar and vec4 sizes), a cast round trip, a
/// reduction over a non-innermost axis, softmax, layer norm, a matmul with a fused cast, and
/// values past the f16 range.
fn results(dev: &Device, dt: DType, n: usize) -> Vec<(String, Tensor)> {
    let x = random(dev, dt, &[n], -4.0, 4.0, 1);
    let y = random(dev, dt, &[n], 0.5, 2.0, 2);
    let m = random(dev, dt, &[7, n], -3.0, 3.0, 3);
    let a = random(dev, dt, &[5, 7], -1.0, 1.0, 4);
    let b32 = random(dev, DType::F32, &[3, 7], -1.0, 1.0, 5);
    let zeros = Tensor::full_on(dev, &[n], 0.0, dt).unwrap();
    zeros.realize().unwrap();
    // f16 overflows at 4 * 20000; bf16 needs more.
    let big = if dt == DType::F16 { 20000.0 } else { 1e38 };
    let mut out = vec![
        ("x*y+x".into(), x.mul(&y).unwrap().add(&x).unwrap()),
        ("exp(x)/y".into(), x.exp().unwrap().div(&y).unwrap()),
        (
            "cast round trip".into(),
            x.cast(DType::F32)
                .unwrap()
                .mul_scalar(1.0 / 3.0)
                .unwrap()
                .cast(dt)
                .unwrap(),
        ),
        // Overflow to infinity; inf * 0 is NaN, whether the zeros are a tensor or a scalar
        // (constants are read from the uniform, so no driver folds `x * 0` to 0).
        ("overflow".into(), x.mul_scalar(big).unwrap()),
        (
            "nan".into(),
            x.mul_scalar(big).unwrap().mul(&zeros).unwrap(),
        ),
        (
            "nan from a scalar zero".into(),
            x.mul_scalar(big).unwrap().mul_scalar(0.0).unwrap(),
        ),
        ("sum axis 0".into(), m.sum(&[0], false).unwrap()),
        ("softmax".into(), m.softmax(-1).unwrap()),
        (
            "matmul with a cast on load".into(),
            a.matmul(&b32.cast(dt).unwrap().transpose(0, 1).unwrap())
                .unwrap(),
        ),
        ("layer norm".into(), m.layer_norm(None, None, 1e-5).unwrap()),
        ("row max".into(), m.max(&[-1], false).unwrap()),
        (
            "attention".into(),
            m.reshape(&[1, 7, n])
                .unwrap()
                .scaled_dot_product_attention(
                    &m.reshape(&[1, 7, n]).unwrap(),
                    &m.reshape(&[1, 7, n]).unwrap().neg().unwrap(),
                    None,
                    Some(0.01),
                    true,
                )
                .unwrap(),
        ),
        (
            "gather".into(),
            m.gather(
                1,
                &Tensor::from_slice_on(dev, &[0i32, (n - 1) as i32, -1], &[1, 3])
                    .unwrap()
                    .expand(&[7, 3])
                    .unwrap(),
            )
            .unwrap(),
        ),
        (
            "concat".into(),
            Tensor::concat(&[&x, &y, &x.neg().unwrap()], 0).unwrap(),
        ),
        (
            "strided view".into(),
            m.transpose(0, 1).unwrap().exp().unwrap(),
        ),
    ];
    if n > 1 {
        out.push((
            "slice".into(),
            x.slice(0, 1, n as isize, 2).unwrap().neg().unwrap(),
        ));
    }
    out
}

#[test]
fn sixteen_bit_storage_gives_the_same_bits_as_widened_storage() {
    let narrow = device_with(true);
    let wide = device_with(false);
    if let Some(g) = wide.gpu() {
        assert!(
            !g.target.f16 && !g.target.bf16,
            "16-bit storage off must widen"
        );
    }
    if let Some(g) = narrow.gpu() {
        assert!(g.target.bf16, "bf16 is packed on every adapter");
    }
    for (dt, n) in [1, 3, 7, 1000, 1031, 1032]
        .into_iter()
        .flat_map(|n| [(DType::F16, n), (DType::BF16, n)])
    {
        let a = results(&narrow, dt, n);
        let b = results(&wide, dt, n);
        for ((what, t), (_, u)) in a.iter().zip(&b) {
            let what = format!("{what}, {dt} at {n}");
            let got = t.to_host().unwrap_or_else(|e| panic!("{what}: {e}"));
            let want = t.reference().unwrap();
            let tol = if dt == DType::F16 { 1e-3 } else { 8e-3 };
            assert_close(&got, &want, tol, tol, &what);
            let other = u.to_host().unwrap();
            let bits = |h: &kiln::HostTensor| -> Vec<u32> {
                h.to_f64().iter().map(|&v| (v as f32).to_bits()).collect()
            };
            assert_eq!(
                bits(&got),
                bits(&other),
                "{what}: 16-bit against widened storage"
            );
        }
    }
}

#[test]
fn f16_tensors_take_two_bytes_an_element_where_the_adapter_has_shader_f16() {
    let dev = device_with(true);
    let Some(g) = dev.gpu() else {
        return;
    };
    assert_eq!(
        g.target.f16,
        g.features.contains(wgpu::Features::SHADER_F16),
        "the storage target follows the adapter's SHADER_F16"
    );
    let before = dev.counters().unwrap().bytes_allocated;
    let t = random(&dev, DType::F16, &[1031], -1.0, 1.0, 9);
    t.exp().unwrap().to_host().unwrap();
    let bytes = dev.counters().unwrap().bytes_allocated - before;
    // The upload and the result: 1031 elements each, rounded up to whole 16-byte vectors.
    let per = if g.target.f16 { 2064 } else { 4128 };
    assert_eq!(
        bytes,
        2 * per,
        "bytes allocated for two f16 tensors of 1031 elements"
    );
}

#[test]
fn bf16_tensors_take_two_bytes_an_element() {
    let dev = device_with(true);
    if dev.gpu().is_none() {
        return;
    }
    let before = dev.counters().unwrap().bytes_allocated;
    let t = random(&dev, DType::BF16, &[1031], -1.0, 1.0, 9);
    let y = t.exp().unwrap();
    let got = y.to_host().unwrap();
    assert_close(&got, &y.reference().unwrap(), 0.0, 0.0, "exp of bf16");
    let bytes = dev.counters().unwrap().bytes_allocated - before;
    assert_eq!(bytes, 2 * 2064, "two bf16 tensors of 1031 elements");
}

//! f16 tensors stored in 16 bits (`SHADER_F16`) against f16 widened to f32: the same values to
//! the bit, both equal to the reference interpreter, at odd sizes, vec4 sizes, with overflow
//! to infinity and NaN, through elementwise chains, reductions, normalizations and matmuls.

mod common;

use common::{assert_close, random};
use kiln::{DType, Device, DeviceOptions, Tensor};

fn device_with(f16_storage: bool) -> Device {
    let d = Device::new(&DeviceOptions {
        f16_storage,
        ..DeviceOptions::from_env()
    })
    .expect("opening the device");
    d.set_autotune(kiln::Autotune::Off);
    d
}

/// f16 results of one device: elementwise (scalar and vec4 sizes), a cast round trip, a
/// reduction over a non-innermost axis, softmax, layer norm, a matmul with a fused cast, and
/// values past the f16 range.
fn results(dev: &Device, n: usize) -> Vec<(String, Tensor)> {
    let x = random(dev, DType::F16, &[n], -4.0, 4.0, 1);
    let y = random(dev, DType::F16, &[n], 0.5, 2.0, 2);
    let m = random(dev, DType::F16, &[7, n], -3.0, 3.0, 3);
    let a = random(dev, DType::F16, &[5, 7], -1.0, 1.0, 4);
    let b32 = random(dev, DType::F32, &[3, 7], -1.0, 1.0, 5);
    let zeros = Tensor::from_host_on(
        dev,
        kiln::HostTensor::from_slice(&vec![half::f16::ZERO; n], vec![n].into()).unwrap(),
    )
    .unwrap();
    let mut out = vec![
        ("x*y+x".into(), x.mul(&y).unwrap().add(&x).unwrap()),
        ("exp(x)/y".into(), x.exp().unwrap().div(&y).unwrap()),
        (
            "cast round trip".into(),
            x.cast(DType::F32)
                .unwrap()
                .mul_scalar(1.0 / 3.0)
                .unwrap()
                .cast(DType::F16)
                .unwrap(),
        ),
        // 4 * 20000 overflows f16 to infinity; inf * 0 is NaN, whether the zeros are a
        // tensor or a scalar (constants are read from the uniform, so no driver folds
        // `x * 0` to 0).
        ("overflow".into(), x.mul_scalar(20000.0).unwrap()),
        (
            "nan".into(),
            x.mul_scalar(20000.0).unwrap().mul(&zeros).unwrap(),
        ),
        (
            "nan from a scalar zero".into(),
            x.mul_scalar(20000.0).unwrap().mul_scalar(0.0).unwrap(),
        ),
        ("sum axis 0".into(), m.sum(&[0], false).unwrap()),
        ("softmax".into(), m.softmax(-1).unwrap()),
        (
            "matmul with a cast on load".into(),
            a.matmul(&b32.cast(DType::F16).unwrap().transpose(0, 1).unwrap())
                .unwrap(),
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
fn f16_storage_gives_the_same_bits_as_widened_storage() {
    let narrow = device_with(true);
    let wide = device_with(false);
    if let Some(g) = wide.gpu() {
        assert!(!g.target.f16, "f16_storage: false must widen f16");
    }
    for n in [1, 3, 7, 1000, 1031, 1032] {
        let a = results(&narrow, n);
        let b = results(&wide, n);
        for ((what, t), (_, u)) in a.iter().zip(&b) {
            let what = format!("{what} at {n}");
            let got = t.to_host().unwrap_or_else(|e| panic!("{what}: {e}"));
            let want = t.reference().unwrap();
            assert_close(&got, &want, 1e-3, 1e-3, &what);
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
    // The upload and the result: 1031 elements each, rounded up to whole words.
    let per = if g.target.f16 { 2064 } else { 4124 };
    assert_eq!(
        bytes,
        2 * per,
        "bytes allocated for two f16 tensors of 1031 elements"
    );
}

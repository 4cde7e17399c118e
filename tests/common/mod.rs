//! Shared helpers of the integration tests: the device, random inputs that are never all zeros,
//! and comparison against the reference interpreter with documented tolerances.
#![allow(dead_code)]

use kiln::{DType, Device, HostTensor, Tensor};
use kiln_ir::HostData;

/// The device under test: the default device. With `KILN_REQUIRE_ADAPTER=1` (as CI sets) a
/// missing adapter fails here instead of silently testing the interpreter against itself.
pub fn device() -> Device {
    let d = Device::default_device().expect("opening the default device");
    // Tests run untuned unless they test the tuner (tests/caches.rs).
    d.set_autotune(kiln::Autotune::Off);
    if std::env::var("KILN_REQUIRE_ADAPTER").as_deref() == Ok("1") {
        assert!(
            d.is_gpu(),
            "KILN_REQUIRE_ADAPTER=1 but the device is {}",
            d.describe()
        );
    }
    d
}

/// A device of its own, untuned and without a disk cache: for tests that change its schedule
/// or count its work, which tests running in parallel on the shared default device would
/// disturb.
pub fn private_device() -> Device {
    Device::new(&kiln::DeviceOptions {
        autotune: kiln::Autotune::Off,
        cache_dir: None,
        ..kiln::DeviceOptions::from_env()
    })
    .expect("opening a device")
}

/// A device of its own opened with `opts`, with the quantized gemv path on (off by default on
/// CPU adapters, on GPUs).
pub fn device_with_qgemv_path(opts: &kiln::DeviceOptions) -> Device {
    let dev = Device::new(opts).expect("opening a device");
    if let Some(g) = dev.gpu() {
        let mut s = g.schedule();
        s.matmul.quantized_gemv = true;
        g.set_schedule(s);
    }
    dev
}

/// Sizes every op is tested at.
pub const SIZES: [usize; 5] = [1, 3, 7, 1000, 1031];

/// A small deterministic generator (xorshift), independent of kiln's own.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// Uniform in [lo, hi), never exactly zero.
    pub fn f32(&mut self, lo: f32, hi: f32) -> f32 {
        loop {
            let u = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
            let v = lo + (hi - lo) * u;
            if v != 0.0 {
                return v;
            }
        }
    }
    pub fn i32(&mut self, lo: i32, hi: i32) -> i32 {
        lo + (self.next_u64() % (hi - lo) as u64) as i32
    }
}

/// A random tensor of `dtype` with values in `[lo, hi)` (ints: the integer range, bool: coin
/// flips), never all zeros.
pub fn random(dev: &Device, dtype: DType, shape: &[usize], lo: f32, hi: f32, seed: u64) -> Tensor {
    let n: usize = shape.iter().product();
    let mut r = Rng::new(seed);
    let h = match dtype {
        DType::F32 => HostTensor::from_slice(
            &(0..n).map(|_| r.f32(lo, hi)).collect::<Vec<_>>(),
            shape.into(),
        ),
        DType::F16 => HostTensor::from_slice(
            &(0..n)
                .map(|_| half::f16::from_f32(r.f32(lo, hi)))
                .collect::<Vec<_>>(),
            shape.into(),
        ),
        DType::BF16 => HostTensor::from_slice(
            &(0..n)
                .map(|_| half::bf16::from_f32(r.f32(lo, hi)))
                .collect::<Vec<_>>(),
            shape.into(),
        ),
        DType::I32 => HostTensor::from_slice(
            &(0..n)
                .map(|_| r.i32(lo as i32, hi as i32))
                .collect::<Vec<_>>(),
            shape.into(),
        ),
        DType::U32 => HostTensor::from_slice(
            &(0..n)
                .map(|_| r.i32(lo.max(0.0) as i32, hi as i32) as u32)
                .collect::<Vec<_>>(),
            shape.into(),
        ),
        DType::Bool => HostTensor::from_slice(
            &(0..n).map(|_| r.next_u64() & 1 == 1).collect::<Vec<_>>(),
            shape.into(),
        ),
        DType::Quant(f) => HostTensor::quantized(f, shape.into(), &f.random_blocks(n, seed)),
    }
    .expect("host tensor");
    Tensor::from_host_on(dev, h).expect("tensor")
}

/// Extra relative tolerance for rounding to a narrow float type (one unit in its last place).
pub fn dtype_ulp(d: DType) -> f32 {
    match d {
        DType::F16 => 1.0 / 1024.0,
        DType::BF16 => 1.0 / 128.0,
        _ => 0.0,
    }
}

/// Asserts two host tensors agree: same dtype and shape; floats within
/// `atol + rtol * |want|` (plus one ulp of f16/bf16), NaN where the reference has NaN, infinities
/// equal; integers and bools exactly.
pub fn assert_close(got: &HostTensor, want: &HostTensor, atol: f32, rtol: f32, what: &str) {
    assert_eq!(got.dtype, want.dtype, "{what}: dtype");
    assert_eq!(got.shape, want.shape, "{what}: shape");
    match (&got.data, &want.data) {
        (HostData::F(g), HostData::F(w)) => {
            let rtol = rtol + dtype_ulp(got.dtype);
            for (i, (&a, &b)) in g.iter().zip(w).enumerate() {
                let ok = if b.is_nan() {
                    a.is_nan()
                } else if b.is_infinite() {
                    a == b
                } else {
                    (a - b).abs() <= atol + rtol * b.abs()
                };
                assert!(
                    ok,
                    "{what}: element {i}: got {a}, reference {b} (atol {atol}, rtol {rtol})"
                );
            }
        }
        (g, w) => assert_eq!(g, w, "{what}"),
    }
}

/// Realizes `t` on the device and checks it against the reference interpreter.
pub fn check(t: &Tensor, atol: f32, rtol: f32, what: &str) {
    let got = t.to_host().unwrap_or_else(|e| panic!("{what}: {e}"));
    let want = t
        .reference()
        .unwrap_or_else(|e| panic!("{what}: reference: {e}"));
    assert_close(&got, &want, atol, rtol, what);
}

/// Checks an op's result against the reference, or, where the op refuses the dtype, that the
/// refusal is the typed `UnsupportedDType` error.
pub fn check_or_unsupported(r: kiln::Result<Tensor>, what: &str) {
    match r {
        Ok(y) => check(&y, 0.0, 0.0, what),
        Err(e) => assert!(
            matches!(e.ir(), Some(kiln::ir::IrError::UnsupportedDType { .. })),
            "{what}: {e}"
        ),
    }
}

/// `tests/fixtures/<dir>/<name>`.
pub fn fixture(dir: &str, name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir)
        .join(name)
}

/// A fresh, empty directory of this test process for files a test writes (`tag` tells tests
/// apart); the test removes it when done.
pub fn scratch_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("kiln-{tag}-{}", std::process::id()));
    if d.exists() {
        std::fs::remove_dir_all(&d).expect("clearing a scratch directory");
    }
    std::fs::create_dir_all(&d).expect("creating a scratch directory");
    d
}

/// A tensor's values as f64 (through f32), for loops written from an op's definition.
pub fn host_f64(t: &Tensor) -> Vec<f64> {
    t.cast(DType::F32)
        .unwrap()
        .to_vec::<f32>()
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect()
}

/// The coordinates of row-major index `i` in `dims`.
pub fn unflatten(mut i: usize, dims: &[usize]) -> Vec<usize> {
    let mut c = vec![0; dims.len()];
    for d in (0..dims.len()).rev() {
        c[d] = i % dims[d].max(1);
        i /= dims[d].max(1);
    }
    c
}

/// The row-major index of coordinates `c` in `dims`.
pub fn flat(c: &[usize], dims: &[usize]) -> usize {
    c.iter().zip(dims).fold(0, |a, (&x, &n)| a * n + x)
}

/// `got` against a loop's `want`: within `tol · (1 + |want|)`, NaN where NaN.
pub fn assert_near(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let same = (g.is_nan() && w.is_nan()) || (g - w).abs() <= tol * (1.0 + w.abs());
        assert!(same, "{what} [{i}]: got {g}, want {w}");
    }
}

/// An additive attention mask `[sq, sk]` of `dt`: random values in `[-0.5, 0.5)`, and about a
/// fifth of the keys left out (`-inf`), never a row's first (so no row sees no key).
pub fn additive_mask(dev: &Device, dt: DType, sq: usize, sk: usize, seed: u64) -> Tensor {
    let mut rng = Rng::new(seed);
    let m: Vec<f32> = (0..sq * sk)
        .map(|i| {
            if i % sk != 0 && rng.f32(0.0, 1.0) < 0.2 {
                f32::NEG_INFINITY
            } else {
                rng.f32(-0.5, 0.5)
            }
        })
        .collect();
    Tensor::from_slice_on(dev, &m, &[sq, sk])
        .expect("mask")
        .cast(dt)
        .expect("mask cast")
}

/// The kinds of the kernels `t`'s plan launches (`explain()`).
pub fn kernel_kinds(t: &Tensor) -> Vec<String> {
    t.explain()
        .unwrap()
        .kernels
        .iter()
        .map(|k| k.kind.clone())
        .collect()
}

/// The fused attention's tolerance, documented in docs/OPS.md (attention): f32
/// `2e-5 + 1e-4 |x|`; f16 and bf16 add their rounding of the output (`dtype_ulp`) and of the
/// operands' products, `2e-3 + 2e-3 |x|`.
pub fn attention_tol(dt: DType) -> (f32, f32) {
    match dt {
        DType::F32 => (2e-5, 1e-4),
        _ => (2e-3, 2e-3),
    }
}

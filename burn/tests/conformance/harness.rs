//! Running one body on both backends and comparing what it read.

use burn_backend::{ExecutionError, TensorData};
use burn_std::DType;
use std::future::Future;
use std::task::{Context, Poll, Waker};

pub use burn_backend::Backend;
pub type Kiln = kiln_burn::Kiln;
pub type Flex = burn_flex::Flex;

/// A tolerance: `|kiln - flex| <= abs + rel * |flex|`.
#[derive(Clone, Copy, Debug)]
pub struct Tol {
    pub abs: f64,
    pub rel: f64,
}

/// Exact (integers, bools, movement).
pub const EXACT: Tol = Tol { abs: 0.0, rel: 0.0 };
/// f32 elementwise math: a few ulps.
pub const F32: Tol = Tol {
    abs: 1e-6,
    rel: 1e-5,
};
/// Transcendentals on the GPU (WGSL's own accuracy).
pub const MATH: Tol = Tol {
    abs: 1e-5,
    rel: 1e-4,
};
/// Sums and products of many terms (another order of accumulation).
pub const SUM: Tol = Tol {
    abs: 1e-4,
    rel: 1e-4,
};

/// Runs a future that is ready (both backends' reads complete synchronously).
pub fn block_on<T>(f: impl Future<Output = T>) -> T {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

/// The data a read gave, or the test fails with the backend's error.
pub fn got(r: impl Future<Output = Result<TensorData, ExecutionError>>) -> TensorData {
    match block_on(r) {
        Ok(d) => d,
        Err(e) => panic!("read failed: {e:?}"),
    }
}

/// A small deterministic generator (SplitMix64).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x6b69_6c6e)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform on `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Random f32 data on `[lo, hi)`, never exactly zero.
pub fn floats(shape: &[usize], lo: f64, hi: f64, seed: u64) -> TensorData {
    let mut r = Rng::new(seed);
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|_| {
            let x = r.uniform(lo, hi) as f32;
            if x == 0.0 {
                f32::MIN_POSITIVE
            } else {
                x
            }
        })
        .collect();
    TensorData::new(v, shape.to_vec())
}

/// Random i32 data on `[lo, hi)`.
pub fn ints(shape: &[usize], lo: i32, hi: i32, seed: u64) -> TensorData {
    let mut r = Rng::new(seed);
    let n: usize = shape.iter().product();
    let span = (hi - lo) as u64;
    let v: Vec<i32> = (0..n).map(|_| lo + (r.next() % span) as i32).collect();
    TensorData::new(v, shape.to_vec())
}

/// Random bools.
pub fn bools(shape: &[usize], seed: u64) -> TensorData {
    let mut r = Rng::new(seed);
    let n: usize = shape.iter().product();
    let v: Vec<bool> = (0..n).map(|_| r.next() & 1 == 1).collect();
    TensorData::new(v, shape.to_vec())
}

fn values(d: &TensorData) -> Vec<f64> {
    match d.dtype() {
        DType::Bool(_) => d.iter::<bool>().map(|b| f64::from(u8::from(b))).collect(),
        _ => d.iter::<f64>().collect(),
    }
}

/// Compares what kiln and Flex read, output by output.
pub fn compare(name: &str, tol: Tol, kiln: &[TensorData], flex: &[TensorData]) {
    assert_eq!(kiln.len(), flex.len(), "{name}: number of outputs");
    for (i, (k, f)) in kiln.iter().zip(flex).enumerate() {
        assert_eq!(k.shape(), f.shape(), "{name}: output {i} shape");
        let (kv, fv) = (values(k), values(f));
        for (j, (a, b)) in kv.iter().zip(&fv).enumerate() {
            let same = (a.is_nan() && b.is_nan()) || a == b;
            let close = (a - b).abs() <= tol.abs + tol.rel * b.abs();
            assert!(
                same || close,
                "{name}: output {i} element {j}: kiln {a}, flex {b}"
            );
        }
    }
}

/// A test running `$body` (generic over `B: Backend`, with `$d` its device) on kiln and Flex.
#[macro_export]
macro_rules! conform {
    ($name:ident, $tol:expr, $d:ident => $body:block) => {
        #[test]
        fn $name() {
            #[allow(unused_variables)]
            fn body<B: $crate::harness::Backend>($d: &B::Device) -> Vec<burn_backend::TensorData> {
                $body
            }
            let k = body::<$crate::harness::Kiln>(&Default::default());
            let f = body::<$crate::harness::Flex>(&Default::default());
            $crate::harness::compare(stringify!($name), $tol, &k, &f);
        }
    };
}

use burn_backend::tensor::{BoolTensor, FloatTensor, IntTensor};

/// A random float tensor on `[lo, hi)`.
pub fn f<B: Backend>(
    d: &B::Device,
    shape: &[usize],
    lo: f64,
    hi: f64,
    seed: u64,
) -> FloatTensor<B> {
    B::float_from_data(floats(shape, lo, hi, seed), d)
}

/// A random int tensor on `[lo, hi)`.
pub fn i<B: Backend>(d: &B::Device, shape: &[usize], lo: i32, hi: i32, seed: u64) -> IntTensor<B> {
    B::int_from_data(ints(shape, lo, hi, seed), d)
}

/// A random bool tensor.
pub fn b<B: Backend>(d: &B::Device, shape: &[usize], seed: u64) -> BoolTensor<B> {
    B::bool_from_data(bools(shape, seed), d)
}

/// Small integers as floats (so that comparisons meet equal values).
pub fn fi<B: Backend>(d: &B::Device, shape: &[usize], seed: u64) -> FloatTensor<B> {
    B::int_into_float(i::<B>(d, shape, -3, 4, seed), burn_std::FloatDType::F32)
}

pub fn rf<B: Backend>(t: FloatTensor<B>) -> TensorData {
    got(B::float_into_data(t))
}

pub fn ri<B: Backend>(t: IntTensor<B>) -> TensorData {
    got(B::int_into_data(t))
}

pub fn rb<B: Backend>(t: BoolTensor<B>) -> TensorData {
    got(B::bool_into_data(t))
}

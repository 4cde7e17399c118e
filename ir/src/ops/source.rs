//! Source ops that compute from the element index: `arange` and seeded random numbers.
//! The generator is counter-based, so the GPU and the reference produce the same bits.

/// The distribution of [`crate::Op::Rand`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RandDist {
    /// Uniform on [0, 1), 24 random bits.
    Uniform,
    /// Standard normal by Box-Muller.
    Normal,
}

impl RandDist {
    /// The name used in plans.
    pub fn name(self) -> &'static str {
        match self {
            RandDist::Uniform => "uniform",
            RandDist::Normal => "normal",
        }
    }

    /// The random streams one value draws on: one for uniform, two for Box-Muller's pair.
    pub fn streams(self) -> u32 {
        match self {
            RandDist::Uniform => 1,
            RandDist::Normal => 2,
        }
    }
}

/// An integer mixer (the "lowbias32" finalizer). The WGSL code generator emits the same steps.
pub fn mix32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// The random 32 bits of element `index` in stream `stream` for `seed`.
pub fn rand_bits(seed: u64, index: u32, stream: u32) -> u32 {
    let key = rand_key(seed, stream);
    mix32(mix32(index ^ key).wrapping_add(key))
}

/// Uniform on [0, 1) from 32 random bits (exact in `f32`).
pub fn uniform_from_bits(h: u32) -> f32 {
    (h >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// Element `index` of the `dist` stream for `seed`, in `f32`.
pub fn rand_value(seed: u64, dist: RandDist, index: u32) -> f32 {
    match dist {
        RandDist::Uniform => uniform_from_bits(rand_bits(seed, index, 0)),
        RandDist::Normal => {
            let u1 = 1.0 - uniform_from_bits(rand_bits(seed, index, 0)); // (0, 1]
            let u2 = uniform_from_bits(rand_bits(seed, index, 1));
            (-2.0 * u1.ln()).sqrt() * -(std::f32::consts::TAU * u2 - std::f32::consts::PI).cos()
        }
    }
}

/// The per-stream key that [`rand_bits`] mixes into every index; kernels read it from their
/// uniform, so that a new seed reuses the pipeline.
pub fn rand_key(seed: u64, stream: u32) -> u32 {
    mix32((seed as u32) ^ mix32((seed >> 32) as u32 ^ stream.wrapping_mul(0x9e37_79b9)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_moments() {
        let n = 20000;
        let v: Vec<f32> = (0..n)
            .map(|i| rand_value(7, RandDist::Uniform, i))
            .collect();
        let mean = v.iter().sum::<f32>() / n as f32;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
        assert!(v.iter().all(|&x| (0.0..1.0).contains(&x)));
        let z: Vec<f32> = (0..n).map(|i| rand_value(7, RandDist::Normal, i)).collect();
        let m = z.iter().sum::<f32>() / n as f32;
        let var = z.iter().map(|x| (x - m) * (x - m)).sum::<f32>() / n as f32;
        assert!(m.abs() < 0.03 && (var - 1.0).abs() < 0.05, "{m} {var}");
        assert_ne!(
            rand_value(7, RandDist::Uniform, 0),
            rand_value(8, RandDist::Uniform, 0)
        );
    }
}

//! The probe's operands, from a seed: random `Q4_K` blocks (their `d` and `dmin` small
//! positive `f16`s), a vector of random 8-bit integers with a scale a 32-value block, and the
//! product computed on the host from `Q4_K`'s definition (GGUF's layout) in `f64`.

/// Bytes of a `Q4_K` block of 256 values.
pub const BLOCK_BYTES: usize = 144;

/// xorshift64.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A float in `[0, 1)`.
    pub fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// `n` rows of `k` values in `Q4_K` blocks.
pub fn weights(rng: &mut Rng, n: u32, k: u32) -> Vec<u8> {
    let blocks = n as usize * k as usize / 256;
    let mut b: Vec<u8> = (0..blocks * BLOCK_BYTES)
        .map(|_| rng.next() as u8)
        .collect();
    for blk in b.chunks_exact_mut(BLOCK_BYTES) {
        let d = half::f16::from_f32(0.001 + 0.01 * rng.unit());
        let m = half::f16::from_f32(0.001 + 0.01 * rng.unit());
        blk[0..2].copy_from_slice(&d.to_le_bytes());
        blk[2..4].copy_from_slice(&m.to_le_bytes());
    }
    b
}

/// A vector of `k` values rounded to 8 bits: its integers, and for each 32-value block its
/// scale `dx` and `dx` times the sum of each half's integers (padded to four floats).
pub struct Vector {
    pub ints: Vec<i8>,
    pub scales: Vec<f32>,
    pub blocks: Vec<[f32; 4]>,
}

pub fn vector(rng: &mut Rng, k: u32) -> Vector {
    let ints: Vec<i8> = (0..k).map(|_| (rng.next() % 255) as u8 as i8).collect();
    let scales: Vec<f32> = (0..k / 32).map(|_| 0.001 + 0.01 * rng.unit()).collect();
    let blocks = ints
        .chunks_exact(32)
        .zip(&scales)
        .map(|(q, &dx)| {
            let half = |h: &[i8]| dx * h.iter().map(|&v| v as i32).sum::<i32>() as f32;
            [dx, half(&q[..16]), half(&q[16..]), 0.0]
        })
        .collect();
    Vector {
        ints,
        scales,
        blocks,
    }
}

/// Sub-block `j`'s 6-bit scale and min from a block's 12 scale bytes (GGUF's packing).
fn scale_min(q: &[u8], j: usize) -> (f32, f32) {
    if j < 4 {
        ((q[j] & 63) as f32, (q[j + 4] & 63) as f32)
    } else {
        (
            ((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4)) as f32,
            ((q[j + 4] >> 4) | ((q[j] >> 6) << 4)) as f32,
        )
    }
}

/// The product of `n` rows of `k` values with the vector.
pub fn reference(w: &[u8], n: u32, k: u32, x: &Vector) -> Vec<f32> {
    let bpr = k as usize / 256;
    w.chunks_exact(bpr * BLOCK_BYTES)
        .take(n as usize)
        .map(|row| {
            let mut acc = 0f64;
            for (kb, b) in row.chunks_exact(BLOCK_BYTES).enumerate() {
                let d = half::f16::from_le_bytes([b[0], b[1]]).to_f32() as f64;
                let dmin = half::f16::from_le_bytes([b[2], b[3]]).to_f32() as f64;
                for s in 0..8 {
                    let (sc, m) = scale_min(&b[4..16], s);
                    for l in 0..32 {
                        let byte = b[16 + 32 * (s / 2) + l];
                        let q = if s % 2 == 0 { byte & 15 } else { byte >> 4 };
                        let e = kb * 256 + 32 * s + l;
                        let xv = x.ints[e] as f64 * x.scales[e / 32] as f64;
                        acc += (d * sc as f64 * q as f64 - dmin * m as f64) * xv;
                    }
                }
            }
            acc as f32
        })
        .collect()
}

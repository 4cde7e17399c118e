//! The probe's operands, from a seed: `Q4_K` blocks from kiln's own generator
//! (`BlockFormat::random_blocks`), a vector of random 8-bit integers with a scale a 32-value
//! block, and the product on the host: each row dequantized by `BlockFormat::dequantize`
//! (llama.cpp's arithmetic, checked against the `gguf` package's files in kiln's tests),
//! then summed in `f64`.

use kiln::BlockFormat;

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
pub fn weights(seed: u64, n: u32, k: u32) -> Vec<u8> {
    BlockFormat::Q4K.random_blocks(n as usize * k as usize, seed)
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

/// The product of `n` rows of `k` values with the vector.
pub fn reference(w: &[u8], n: u32, k: u32, x: &Vector) -> Result<Vec<f32>, String> {
    let bytes = BlockFormat::Q4K
        .bytes_for(k as usize)
        .ok_or_else(|| format!("k = {k} is not whole Q4_K blocks"))?;
    let mut row = vec![0f32; k as usize];
    w.chunks_exact(bytes)
        .take(n as usize)
        .map(|blocks| {
            BlockFormat::Q4K
                .dequantize(blocks, &mut row)
                .map_err(|e| e.to_string())?;
            let dot: f64 = row
                .iter()
                .zip(&x.ints)
                .enumerate()
                .map(|(e, (&w, &q))| w as f64 * q as f64 * x.scales[e / 32] as f64)
                .sum();
            Ok(dot as f32)
        })
        .collect()
}

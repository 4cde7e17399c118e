//! Block-quantized weight formats (GGML's): their block layouts and the reference
//! dequantization, written from llama.cpp's `dequantize_row_*` so that a value here is what
//! llama.cpp computes, operation for operation in `f32`.
//!
//! A block holds a fixed number of values: 32 for the legacy formats (`Q8_0`, `Q4_0`), 256 for
//! the K-quants (`Q4_K`, `Q6_K`), whose blocks are split into sub-blocks with their own
//! quantized scales. Rows of a quantized tensor are whole blocks: a tensor whose innermost
//! dimension is not a multiple of the block size cannot be stored.

use crate::{IrError, Result};
use half::f16;

/// A block-quantized format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BlockFormat {
    /// 32 values: an `f16` scale `d`, then 32 `i8`; `x = d * q`.
    Q8_0,
    /// 32 values: an `f16` scale `d`, then 16 bytes of 4-bit `q` (low nibbles are values 0-15,
    /// high nibbles 16-31); `x = d * (q - 8)`.
    Q4_0,
    /// 256 values in 8 sub-blocks of 32: `f16` `d` and `dmin`, 12 bytes packing a 6-bit scale
    /// and a 6-bit min per sub-block, then 128 bytes of 4-bit `q`;
    /// `x = d * scale * q - dmin * min`.
    Q4K,
    /// 256 values in 16 sub-blocks of 16: 128 bytes of low 4 bits, 64 bytes of high 2 bits,
    /// 16 `i8` sub-block scales, then an `f16` `d`; `x = d * scale * (q - 32)`.
    Q6K,
}

/// Every block format, for tests and tables.
pub const ALL_BLOCK_FORMATS: [BlockFormat; 4] = [
    BlockFormat::Q8_0,
    BlockFormat::Q4_0,
    BlockFormat::Q4K,
    BlockFormat::Q6K,
];

impl BlockFormat {
    /// The name llama.cpp and GGUF use.
    pub const fn name(self) -> &'static str {
        match self {
            BlockFormat::Q8_0 => "Q8_0",
            BlockFormat::Q4_0 => "Q4_0",
            BlockFormat::Q4K => "Q4_K",
            BlockFormat::Q6K => "Q6_K",
        }
    }

    /// The name of its [`crate::DType::Quant`] in keys, WGSL identifiers and messages.
    pub const fn dtype_name(self) -> &'static str {
        match self {
            BlockFormat::Q8_0 => "q8_0",
            BlockFormat::Q4_0 => "q4_0",
            BlockFormat::Q4K => "q4_k",
            BlockFormat::Q6K => "q6_k",
        }
    }

    /// Values per block.
    pub const fn block_values(self) -> usize {
        match self {
            BlockFormat::Q8_0 | BlockFormat::Q4_0 => 32,
            BlockFormat::Q4K | BlockFormat::Q6K => 256,
        }
    }

    /// Bytes per block.
    pub const fn block_bytes(self) -> usize {
        match self {
            BlockFormat::Q8_0 => 2 + 32,
            BlockFormat::Q4_0 => 2 + 16,
            BlockFormat::Q4K => 2 + 2 + 12 + 128,
            BlockFormat::Q6K => 128 + 64 + 16 + 2,
        }
    }

    /// Bytes of `values` quantized values, `None` where `values` is not a whole number of
    /// blocks or the size overflows.
    pub fn bytes_for(self, values: usize) -> Option<usize> {
        if !values.is_multiple_of(self.block_values()) {
            return None;
        }
        (values / self.block_values()).checked_mul(self.block_bytes())
    }

    /// Byte offsets in a block of its `f16` scales (`d`, and Q4_K's `dmin`).
    pub const fn scale_offsets(self) -> &'static [usize] {
        match self {
            BlockFormat::Q8_0 | BlockFormat::Q4_0 => &[0],
            BlockFormat::Q4K => &[0, 2],
            BlockFormat::Q6K => &[208],
        }
    }

    /// Seeded random blocks holding `values` values (whole blocks): random codes and
    /// sub-block scales, and `f16` scales in [0.01, 0.1), so that every value is finite and
    /// most are nonzero. For tests, benchmarks and random models.
    pub fn random_blocks(self, values: usize, seed: u64) -> Vec<u8> {
        let (bb, bv) = (self.block_bytes(), self.block_values());
        let key = crate::ops::rand_key(seed, 0x51);
        let byte = |i: usize| crate::ops::mix32(i as u32 ^ key) as u8;
        let mut b: Vec<u8> = (0..values / bv * bb).map(byte).collect();
        for (i, blk) in b.chunks_exact_mut(bb).enumerate() {
            for (j, &at) in self.scale_offsets().iter().enumerate() {
                let u = crate::ops::uniform_from_bits(crate::ops::rand_bits(
                    seed,
                    i as u32,
                    j as u32 + 1,
                ));
                blk[at..at + 2].copy_from_slice(&f16::from_f32(0.01 + 0.09 * u).to_le_bytes());
            }
        }
        b
    }

    /// Dequantizes whole blocks: `out` receives `block_values()` values per
    /// `block_bytes()` bytes of `blocks`. A length that is not whole blocks, or an `out` that
    /// is not exactly their values, is an error.
    pub fn dequantize(self, blocks: &[u8], out: &mut [f32]) -> Result<()> {
        let (bb, bv) = (self.block_bytes(), self.block_values());
        if !blocks.len().is_multiple_of(bb)
            || !out.len().is_multiple_of(bv)
            || out.len() / bv != blocks.len() / bb
        {
            return Err(IrError::QuantizedLength {
                format: self.name(),
                bytes: blocks.len(),
                values: out.len(),
            });
        }
        for (b, y) in blocks.chunks_exact(bb).zip(out.chunks_exact_mut(bv)) {
            match self {
                BlockFormat::Q8_0 => q8_0(b, y),
                BlockFormat::Q4_0 => q4_0(b, y),
                BlockFormat::Q4K => q4_k(b, y),
                BlockFormat::Q6K => q6_k(b, y),
            }
        }
        Ok(())
    }
}

fn half_at(b: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([b[at], b[at + 1]]).to_f32()
}

fn q8_0(b: &[u8], y: &mut [f32]) {
    let d = half_at(b, 0);
    for (y, &q) in y.iter_mut().zip(&b[2..34]) {
        *y = q as i8 as f32 * d;
    }
}

fn q4_0(b: &[u8], y: &mut [f32]) {
    let d = half_at(b, 0);
    for (j, &q) in b[2..18].iter().enumerate() {
        y[j] = ((q & 0x0f) as i32 - 8) as f32 * d;
        y[j + 16] = ((q >> 4) as i32 - 8) as f32 * d;
    }
}

/// The 6-bit scale and min of sub-block `j` of a `Q4_K` block, as llama.cpp packs them:
/// sub-blocks 0-3 in the low 6 bits of bytes 0-3 (scales) and 4-7 (mins); sub-blocks 4-7 in
/// the nibbles of bytes 8-11 with their top 2 bits in the top bits of bytes 0-7.
fn scale_min_k4(j: usize, s: &[u8]) -> (u8, u8) {
    if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        (
            (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4),
            (s[j + 4] >> 4) | ((s[j] >> 6) << 4),
        )
    }
}

fn q4_k(b: &[u8], y: &mut [f32]) {
    let d = half_at(b, 0);
    let dmin = half_at(b, 2);
    let scales = &b[4..16];
    let qs = &b[16..144];
    for (chunk, (q, y)) in qs.chunks_exact(32).zip(y.chunks_exact_mut(64)).enumerate() {
        let (sc, m) = scale_min_k4(2 * chunk, scales);
        let (d1, m1) = (d * sc as f32, dmin * m as f32);
        let (sc, m) = scale_min_k4(2 * chunk + 1, scales);
        let (d2, m2) = (d * sc as f32, dmin * m as f32);
        for l in 0..32 {
            y[l] = d1 * (q[l] & 0x0f) as f32 - m1;
            y[l + 32] = d2 * (q[l] >> 4) as f32 - m2;
        }
    }
}

fn q6_k(b: &[u8], y: &mut [f32]) {
    let d = half_at(b, 208);
    for half in 0..2 {
        let ql = &b[64 * half..64 * half + 64];
        let qh = &b[128 + 32 * half..128 + 32 * half + 32];
        let sc = &b[192 + 8 * half..192 + 8 * half + 8];
        let y = &mut y[128 * half..128 * half + 128];
        for l in 0..32 {
            let is = l / 16;
            let q1 = ((ql[l] & 0x0f) | ((qh[l] & 3) << 4)) as i32 - 32;
            let q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
            let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
            let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
            let s = |k: usize| d * sc[is + k] as i8 as f32;
            y[l] = s(0) * q1 as f32;
            y[l + 32] = s(2) * q2 as f32;
            y[l + 64] = s(4) * q3 as f32;
            y[l + 96] = s(6) * q4 as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: f32) -> [u8; 2] {
        f16::from_f32(v).to_le_bytes()
    }

    #[test]
    fn partial_blocks_are_errors() {
        let mut y = [0.0; 32];
        assert!(BlockFormat::Q8_0.dequantize(&[0; 33], &mut y).is_err());
        assert!(BlockFormat::Q8_0
            .dequantize(&[0; 34], &mut y[..31])
            .is_err());
        assert!(BlockFormat::Q8_0.dequantize(&[0; 34], &mut y).is_ok());
    }

    #[test]
    fn sizes_are_whole_blocks() {
        assert_eq!(BlockFormat::Q4K.bytes_for(512), Some(288));
        assert_eq!(BlockFormat::Q8_0.bytes_for(33), None);
        assert_eq!(BlockFormat::Q8_0.bytes_for(usize::MAX / 32 * 32), None);
    }

    #[test]
    fn q8_0_and_q4_0_by_hand() {
        let mut b = h(0.5).to_vec();
        b.extend((0..32).map(|i| (i as i8 - 16) as u8));
        let mut y = [0.0; 32];
        BlockFormat::Q8_0.dequantize(&b, &mut y).unwrap();
        assert_eq!(y[0], -8.0);
        assert_eq!(y[31], 7.5);

        let mut b = h(2.0).to_vec();
        b.extend((0..16).map(|j| (j as u8) | ((15 - j as u8) << 4)));
        let mut y = [0.0; 32];
        BlockFormat::Q4_0.dequantize(&b, &mut y).unwrap();
        assert_eq!(y[0], -16.0); // low nibble 0 of byte 0
        assert_eq!(y[16], 14.0); // high nibble 15 of byte 0
        assert_eq!(y[15], 14.0);
        assert_eq!(y[31], -16.0);
    }

    /// Sub-blocks 4-7 of a Q4_K block take their top two scale and min bits from bytes 0-7.
    #[test]
    fn q4_k_packed_scales() {
        let mut s = [0u8; 12];
        s[0] = 0b11_000001; // scale 0 = 1, top bits of scale 4 = 3
        s[4] = 0b10_000010; // min 0 = 2, top bits of min 4 = 2
        s[8] = 0x5a; // scale 4 low nibble 0xa, min 4 low nibble 0x5
        assert_eq!(scale_min_k4(0, &s), (1, 2));
        assert_eq!(scale_min_k4(4, &s), (0x3a, 0x25));
        let mut b = h(1.0).to_vec();
        b.extend(h(0.5));
        b.extend(s);
        b.extend([0x21u8; 128]); // low nibble 1, high nibble 2
        let mut y = [0.0; 256];
        BlockFormat::Q4K.dequantize(&b, &mut y).unwrap();
        assert_eq!(y[0], 1.0 - 1.0); // d*1*1 - dmin*2
        assert_eq!(y[128], 58.0 - 18.5); // sub-block 4: d*0x3a*1 - dmin*0x25
    }

    #[test]
    fn q6_k_signs_and_scales() {
        let mut b = vec![0u8; 210];
        b[0] = 0x0f; // ql[0] low nibble 15
        b[128] = 0b11; // qh[0] bits 0-1: q1 = 15 | 3 << 4 = 63 -> 31
        b[192] = (-2i8) as u8; // scale of sub-block 0
        b[208..210].copy_from_slice(&h(0.25));
        let mut y = [0.0; 256];
        BlockFormat::Q6K.dequantize(&b, &mut y).unwrap();
        assert_eq!(y[0], 0.25 * -2.0 * 31.0);
        assert_eq!(y[1], 0.25 * -2.0 * -32.0); // q = 0 -> -32
    }
}

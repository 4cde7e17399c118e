//! Reading a quantized input ([`DType::Quant`](kiln_ir::DType::Quant)): its binding holds the
//! blocks as `array<u32>`, in GGUF's layout, and element `i` of the logical tensor is decoded
//! where it is read by a function of that binding, `kiln_dq_in{n}(i)`. The arithmetic is
//! llama.cpp's `dequantize_row_*` (and `kiln_ir::quant`'s) step for step in `f32`; the one
//! difference a device may make is contracting `a * b - c` into a fused multiply-add (Q4_K),
//! which `docs/OPS.md` counts in the tolerance.
//!
//! Blocks are 2-byte aligned (18, 34, 144 and 210 bytes), so a byte is read from its word with
//! a shift and an `f16` from the word's low or high half.

use crate::code::Code;
use kiln_ir::quant::BlockFormat;

/// The function that decodes element `i` of binding `buf`.
pub fn reader(buf: &str) -> String {
    format!("kiln_dq_{buf}")
}

/// Writes the decoding functions of binding `buf` holding `format` blocks.
pub fn define(out: &mut Code, format: BlockFormat, buf: &str) {
    let dq = reader(buf);
    let (u8_, f16_) = (format!("kiln_u8_{buf}"), format!("kiln_f16_{buf}"));
    writeln!(
        out,
        "fn {u8_}(o: u32) -> u32 {{ return ({buf}[o >> 2u] >> ((o & 3u) << 3u)) & 0xffu; }}\n\
         fn {f16_}(o: u32) -> f32 {{ return unpack2x16float({buf}[o >> 2u] >> ((o & 2u) << 3u)).x; }}"
    );
    match format {
        BlockFormat::Q8_0 => writeln!(
            out,
            "fn {dq}(i: u32) -> f32 {{\n  let o = (i / 32u) * 34u;\n  \
             let q = bitcast<i32>({u8_}(o + 2u + i % 32u) << 24u) >> 24u;\n  \
             return f32(q) * {f16_}(o);\n}}"
        ),
        BlockFormat::Q4_0 => writeln!(
            out,
            "fn {dq}(i: u32) -> f32 {{\n  let o = (i / 32u) * 18u;\n  let j = i % 32u;\n  \
             let q = ({u8_}(o + 2u + j % 16u) >> ((j / 16u) * 4u)) & 15u;\n  \
             return f32(i32(q) - 8) * {f16_}(o);\n}}"
        ),
        // Sub-block s's 6-bit scale and min: for s < 4 the low 6 bits of scale bytes s and
        // s + 4; past that the nibbles of byte s + 4 with their top bits from the top bits
        // of bytes s - 4 (scale) and s (min).
        BlockFormat::Q4K => writeln!(
            out,
            "fn {dq}(i: u32) -> f32 {{\n  let o = (i / 256u) * 144u;\n  let j = i % 256u;\n  \
             let s = j / 32u;\n  let dm = unpack2x16float({buf}[o >> 2u]);\n  \
             let b0 = {u8_}(o + 4u + s);\n  let b4 = {u8_}(o + 8u + s);\n  \
             let bm = {u8_}(o + 4u + (s & 3u));\n  \
             let sc = select((b4 & 15u) | ((bm >> 6u) << 4u), b0 & 63u, s < 4u);\n  \
             let mn = select((b4 >> 4u) | ((b0 >> 6u) << 4u), b4 & 63u, s < 4u);\n  \
             let q = ({u8_}(o + 16u + (j / 64u) * 32u + j % 32u) >> ((s & 1u) * 4u)) & 15u;\n  \
             return (dm.x * f32(sc)) * f32(q) - dm.y * f32(mn);\n}}"
        ),
        // Two halves of 128 values; value r of a half is quarter r / 32 (low or high nibble
        // of the first or second 32 `ql` bytes, and a 2-bit field of `qh`) at lane r % 32.
        BlockFormat::Q6K => writeln!(
            out,
            "fn {dq}(i: u32) -> f32 {{\n  let o = (i / 256u) * 210u;\n  let j = i % 256u;\n  \
             let h = j / 128u;\n  let qd = (j % 128u) / 32u;\n  let l = j % 32u;\n  \
             let ql = ({u8_}(o + 64u * h + l + (qd & 1u) * 32u) >> ((qd >> 1u) * 4u)) & 15u;\n  \
             let qh = ({u8_}(o + 128u + 32u * h + l) >> (qd * 2u)) & 3u;\n  \
             let sc = bitcast<i32>({u8_}(o + 192u + 8u * h + l / 16u + 2u * qd) << 24u) >> 24u;\n  \
             return ({f16_}(o + 208u) * f32(sc)) * f32(i32(ql | (qh << 4u)) - 32);\n}}"
        ),
    }
}

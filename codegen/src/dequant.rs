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

/// Writes the decoding functions of binding `buf` holding `format` blocks: its byte, signed
/// byte and `f16` readers (and Q4_K's sub-block scale and min), which [`define_word`]'s
/// functions call too, and the element reader.
pub fn define(out: &mut Code, format: BlockFormat, buf: &str) {
    let dq = reader(buf);
    let (u8_, i8_, f16_) = (
        format!("kiln_u8_{buf}"),
        format!("kiln_i8_{buf}"),
        format!("kiln_f16_{buf}"),
    );
    writeln!(
        out,
        "fn {u8_}(o: u32) -> u32 {{ return ({buf}[o >> 2u] >> ((o & 3u) << 3u)) & 0xffu; }}\n\
         fn {i8_}(o: u32) -> i32 {{ return bitcast<i32>({u8_}(o) << 24u) >> 24u; }}\n\
         fn {f16_}(o: u32) -> f32 {{ return unpack2x16float({buf}[o >> 2u] >> ((o & 2u) << 3u)).x; }}"
    );
    // Sub-block s's 6-bit scale and min of the Q4_K block at byte o: for s < 4 the low 6 bits
    // of scale bytes s and s + 4; past that the nibbles of byte s + 4 with their top bits from
    // the top bits of bytes s - 4 (scale) and s (min). [`define_word`] reads them too.
    if format == BlockFormat::Q4K {
        writeln!(
            out,
            "fn kiln_sm_{buf}(o: u32, s: u32) -> vec2<f32> {{\n  \
             let b0 = {u8_}(o + 4u + s);\n  let b4 = {u8_}(o + 8u + s);\n  \
             let bm = {u8_}(o + 4u + (s & 3u));\n  \
             let sc = select((b4 & 15u) | ((bm >> 6u) << 4u), b0 & 63u, s < 4u);\n  \
             let mn = select((b4 >> 4u) | ((b0 >> 6u) << 4u), b4 & 63u, s < 4u);\n  \
             return bitcast<vec2<f32>>(vec2<u32>(sc, mn) | vec2<u32>(0x4b000000u)) - vec2<f32>(8388608.0);\n}}"
        );
    }
    match format {
        BlockFormat::Q8_0 => writeln!(
            out,
            "fn {dq}(i: u32) -> f32 {{\n  let o = (i / 32u) * 34u;\n  \
             return f32({i8_}(o + 2u + i % 32u)) * {f16_}(o);\n}}"
        ),
        BlockFormat::Q4_0 => writeln!(
            out,
            "fn {dq}(i: u32) -> f32 {{\n  let o = (i / 32u) * 18u;\n  let j = i % 32u;\n  \
             let q = ({u8_}(o + 2u + j % 16u) >> ((j / 16u) * 4u)) & 15u;\n  \
             return f32(i32(q) - 8) * {f16_}(o);\n}}"
        ),
        BlockFormat::Q4K => writeln!(
            out,
            "fn {dq}(i: u32) -> f32 {{\n  let o = (i / 256u) * 144u;\n  let j = i % 256u;\n  \
             let s = j / 32u;\n  let dm = unpack2x16float({buf}[o >> 2u]);\n  \
             let sm = kiln_sm_{buf}(o, s);\n  \
             let q = ({u8_}(o + 16u + (j / 64u) * 32u + j % 32u) >> ((s & 1u) * 4u)) & 15u;\n  \
             return (dm.x * sm.x) * f32(q) - dm.y * sm.y;\n}}"
        ),
        // Two halves of 128 values; value r of a half is quarter r / 32 (low or high nibble
        // of the first or second 32 `ql` bytes, and a 2-bit field of `qh`) at lane r % 32.
        BlockFormat::Q6K => writeln!(
            out,
            "fn {dq}(i: u32) -> f32 {{\n  let o = (i / 256u) * 210u;\n  let j = i % 256u;\n  \
             let h = j / 128u;\n  let qd = (j % 128u) / 32u;\n  let l = j % 32u;\n  \
             let ql = ({u8_}(o + 64u * h + l + (qd & 1u) * 32u) >> ((qd >> 1u) * 4u)) & 15u;\n  \
             let qh = ({u8_}(o + 128u + 32u * h + l) >> (qd * 2u)) & 3u;\n  \
             let sc = {i8_}(o + 192u + 8u * h + l / 16u + 2u * qd);\n  \
             return ({f16_}(o + 208u) * f32(sc)) * f32(i32(ql | (qh << 4u)) - 32);\n}}"
        ),
    }
}

/// Values per unit of [`define_word`]: a `Q8_0`/`Q4_0` block, a `Q4_K` sub-block, a quarter
/// of a `Q6_K` half-block.
pub const DOT_UNIT: u32 = 32;

/// Words of codes per unit: 8 (four values each), or 4 for `Q4_0`, whose word holds eight
/// (four in its low nibbles, four 16 values on).
pub fn unit_words(format: BlockFormat) -> u32 {
    match format {
        BlockFormat::Q4_0 => 4,
        BlockFormat::Q8_0 | BlockFormat::Q4K | BlockFormat::Q6K => 8,
    }
}

/// Words of one item of [`define_word`]: two (eight values, one scale decoded for both), or
/// one for `Q4_0` (already eight values; two ran 30% slower on an H200, its rows too short
/// for the lanes: see docs/journal/).
pub fn item_words(format: BlockFormat) -> u32 {
    match format {
        BlockFormat::Q4_0 => 1,
        BlockFormat::Q8_0 | BlockFormat::Q4K | BlockFormat::Q6K => 2,
    }
}

/// Writes `kiln_qitem_{buf}(u, t, x, xb, y, yb) -> f32`: the dot product of an item (the
/// [`item_words`] words from word `t` of unit `u`, 32 consecutive values, [`DOT_UNIT`]) of
/// binding `buf` with the elements of A's row that meet its values: `x` and `xb`, four each
/// (`Q4_0`: `x` for its word's low nibbles and `y`, 16 values on, for its high ones), for the
/// quantized gemv ([`crate::qgemv`]); and `kiln_x4_{buf}(abase, k)`, which reads four
/// elements of A's row from `k` on. It converts four codes at once and applies the item's
/// scale once: the same values as [`define`]'s reader, summed in another order.
pub fn define_word(out: &mut Code, format: BlockFormat, buf: &str) {
    let (i8_, f16_, w_) = (
        format!("kiln_i8_{buf}"),
        format!("kiln_f16_{buf}"),
        format!("kiln_w_{buf}"),
    );
    // A word at a 2-byte aligned offset; `kiln_u2f(v, c)` gives `v - c` for small integers
    // `v` and `c`, exactly, through the mantissa of 2^23 (a full-rate OR and subtract instead
    // of a conversion; Q8_0's signed codes are offset by 128 first).
    writeln!(
        out,
        "fn {w_}(o: u32) -> u32 {{\n  let i = o >> 2u;\n  let w0 = {buf}[i];\n  \
         if ((o & 2u) == 0u) {{ return w0; }}\n  \
         return (w0 >> 16u) | ({buf}[i + 1u] << 16u);\n}}\n\
         fn kiln_u2f_{buf}(v: vec4<u32>, c: f32) -> vec4<f32> {{ return bitcast<vec4<f32>>(v | vec4<u32>(0x4b000000u)) - vec4<f32>(8388608.0 + c); }}\n\
         fn kiln_x4_{buf}(abase: i32, k: u32) -> vec4<f32> {{ return vec4<f32>(a_in(abase, 0u, k), a_in(abase, 0u, k + 1u), a_in(abase, 0u, k + 2u), a_in(abase, 0u, k + 3u)); }}"
    );
    let u2f = format!("kiln_u2f_{buf}");
    let bytes = "vec4<u32>(0u, 8u, 16u, 24u)";
    let head = format!(
        "fn kiln_qitem_{buf}(u: u32, t: u32, x: vec4<f32>, xb: vec4<f32>, y: vec4<f32>, yb: vec4<f32>) -> f32 {{"
    );
    match format {
        BlockFormat::Q8_0 => writeln!(
            out,
            "{head}\n  let o = u * 34u;\n  \
             let m = vec4<u32>(255u);\n  \
             let q0 = {u2f}((vec4<u32>({w_}(o + 2u + 4u * t) ^ 0x80808080u) >> {bytes}) & m, 128.0);\n  \
             let q1 = {u2f}((vec4<u32>({w_}(o + 6u + 4u * t) ^ 0x80808080u) >> {bytes}) & m, 128.0);\n  \
             return (dot(q0, x) + dot(q1, xb)) * {f16_}(o);\n}}"
        ),
        BlockFormat::Q4_0 => writeln!(
            out,
            "{head}\n  let o = u * 18u;\n  \
             let w = vec4<u32>({w_}(o + 2u + 4u * t)) >> {bytes};\n  \
             let m = vec4<u32>(15u);\n  \
             return (dot({u2f}(w & m, 8.0), x) + dot({u2f}((w >> vec4<u32>(4u)) & m, 8.0), y)) * {f16_}(o);\n}}"
        ),
        BlockFormat::Q4K => writeln!(
            out,
            "{head}\n  let o = (u / 8u) * 144u;\n  \
             let s = u % 8u;\n  let dm = unpack2x16float({buf}[o >> 2u]);\n  \
             let sm = kiln_sm_{buf}(o, s);\n  \
             let at = ((o + 16u + (s / 2u) * 32u) >> 2u) + t;\n  \
             let sh = {bytes} + vec4<u32>((s & 1u) * 4u);\n  \
             let q0 = {u2f}((vec4<u32>({buf}[at]) >> sh) & vec4<u32>(15u), 0.0);\n  \
             let q1 = {u2f}((vec4<u32>({buf}[at + 1u]) >> sh) & vec4<u32>(15u), 0.0);\n  \
             return (dm.x * sm.x) * (dot(q0, x) + dot(q1, xb)) - (dm.y * sm.y) * dot(x + xb, vec4<f32>(1.0));\n}}"
        ),
        BlockFormat::Q6K => writeln!(
            out,
            "{head}\n  let o = (u / 8u) * 210u;\n  \
             let r = u % 8u;\n  let h = r / 4u;\n  let qd = r % 4u;\n  \
             let ql = o + 64u * h + (qd & 1u) * 32u + 4u * t;\n  let qh = o + 128u + 32u * h + 4u * t;\n  \
             let sl = vec4<u32>((qd >> 1u) * 4u) + {bytes};\n  let sh = vec4<u32>(qd * 2u) + {bytes};\n  \
             let q0 = {u2f}(((vec4<u32>({w_}(ql)) >> sl) & vec4<u32>(15u)) | (((vec4<u32>({w_}(qh)) >> sh) & vec4<u32>(3u)) << vec4<u32>(4u)), 32.0);\n  \
             let q1 = {u2f}(((vec4<u32>({w_}(ql + 4u)) >> sl) & vec4<u32>(15u)) | (((vec4<u32>({w_}(qh + 4u)) >> sh) & vec4<u32>(3u)) << vec4<u32>(4u)), 32.0);\n  \
             let sc = f32({i8_}(o + 192u + 8u * h + 2u * qd + t / 4u));\n  \
             return ({f16_}(o + 208u) * sc) * (dot(q0, x) + dot(q1, xb));\n}}"
        ),
    }
}

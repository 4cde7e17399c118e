//! How kiln dtypes live in WGSL: as values in expressions and as elements of storage buffers.
//! Every float computes in `f32`; `f16` and `bf16` results are rounded after every op. `f16`
//! is stored as 16-bit WGSL `f16` on a [`Target`] that has it (the adapter's `SHADER_F16`),
//! else widened to `f32`; `bf16` is stored packed, two to a `u32` word (the low half first),
//! where the target says so (WGSL has no 16-bit integers: kernels read a word and take its
//! half, and write a half with two atomic operations, or whole words), else widened; `bool`
//! is stored as `u32`. These are data, kept in one table, and the host side of the same
//! layout ([`Target::encode`], [`Target::decode`]).

use kiln_ir::{DType, HostTensor, Scalar, Shape};

/// What the device offers that changes how tensors are stored (one per device, never tuned).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Target {
    /// `f16` tensors are stored as 16-bit `f16` (WGSL `enable f16;`, the adapter's
    /// `SHADER_F16`): half the bytes to move. Without it they are stored widened to `f32`.
    pub f16: bool,
    /// `bf16` tensors are stored packed, two to a `u32` word: half the bytes to move, on any
    /// adapter. Without it they are stored widened to `f32`.
    pub bf16: bool,
}

impl Target {
    /// The WGSL element type of a storage buffer of `d` (a word of two elements where
    /// [`Target::packed`]).
    pub fn storage(&self, d: DType) -> &'static str {
        if d == DType::F16 && self.f16 {
            "f16"
        } else if self.packed(d) {
            "u32"
        } else {
            info(d).storage
        }
    }

    /// Whether `d` is stored two to a `u32` word (bf16 on a target that packs it).
    pub fn packed(&self, d: DType) -> bool {
        d == DType::BF16 && self.bf16
    }

    /// Bytes per element of `d` in a storage buffer.
    pub fn storage_bytes(&self, d: DType) -> u64 {
        if (d == DType::F16 && self.f16) || self.packed(d) {
            2
        } else {
            4
        }
    }

    /// Bytes of a buffer of `numel` elements of `d` (a quantized dtype: of their blocks): a
    /// whole number of 16-byte vectors, at least one. A kernel may bind any buffer as an array
    /// of `vec4`s (an attention kernel over aligned rows binds its mask so, whatever its
    /// length; the tensor-core template binds f16 operands as `vec4<u32>`, `Emitter::wide`),
    /// and such an array's last vector must hold the last element.
    pub fn buffer_bytes(&self, d: DType, numel: usize) -> u64 {
        let bytes = match d.quant() {
            // A quantized shape is whole blocks (`HostTensor::validate`, `Graph::input`).
            Some(f) => f.bytes_for(numel).unwrap_or(0) as u64,
            None => numel as u64 * self.storage_bytes(d),
        };
        bytes.div_ceil(16).max(1) * 16
    }

    /// Whether a kernel over these dtypes needs `enable f16;`.
    pub fn needs_f16(&self, dtypes: impl IntoIterator<Item = DType>) -> bool {
        self.f16 && dtypes.into_iter().any(|d| d == DType::F16)
    }

    /// Converts a loaded storage element to a value.
    pub fn from_storage(&self, expr: &str, d: DType) -> String {
        match d {
            DType::Bool => format!("({expr} != 0u)"),
            DType::F16 if self.f16 => format!("f32({expr})"),
            _ => expr.to_string(),
        }
    }

    /// Converts a value to its storage element. An `f16` value is already rounded to `f16`
    /// precision, so the conversion is exact (infinities and NaN included).
    pub fn to_storage(&self, expr: &str, d: DType) -> String {
        match d {
            DType::Bool => format!("select(0u, 1u, {expr})"),
            DType::F16 if self.f16 => format!("f16({expr})"),
            _ => expr.to_string(),
        }
    }

    /// A host tensor's bytes in this target's storage layout, padded to whole words.
    pub fn encode(&self, t: &HostTensor) -> Vec<u8> {
        let words = t.to_storage_words();
        let mut bytes: Vec<u8> = if t.dtype == DType::F16 && self.f16 {
            words
                .iter()
                .flat_map(|&w| half::f16::from_f32(f32::from_bits(w)).to_le_bytes())
                .collect()
        } else if self.packed(t.dtype) {
            // The values are bf16 already: their upper halves (a NaN made quiet, keeping its
            // sign), as kernels store them (`kiln_bf16_bits`).
            words
                .iter()
                .flat_map(|&w| {
                    let h = (w >> 16) as u16;
                    let h = if f32::from_bits(w).is_nan() {
                        h | 0x40
                    } else {
                        h
                    };
                    h.to_le_bytes()
                })
                .collect()
        } else {
            words.iter().flat_map(|w| w.to_le_bytes()).collect()
        };
        bytes.resize(self.buffer_bytes(t.dtype, t.numel()) as usize, 0);
        bytes
    }

    /// A host tensor of `dtype` and `shape` from bytes in this target's storage layout (at
    /// least [`Target::buffer_bytes`] of them; more are ignored).
    pub fn decode(&self, dtype: DType, shape: Shape, bytes: &[u8]) -> HostTensor {
        let n = shape.numel();
        let words: Vec<u32> = if dtype == DType::F16 && self.f16 {
            bytes
                .chunks_exact(2)
                .take(n)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32().to_bits())
                .collect()
        } else if self.packed(dtype) {
            bytes
                .chunks_exact(2)
                .take(n)
                .map(|b| (u16::from_le_bytes([b[0], b[1]]) as u32) << 16)
                .collect()
        } else {
            bytes
                .chunks_exact(4)
                .take(n)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        };
        HostTensor::from_storage_words(dtype, shape, &words)
    }
}

/// Per-dtype WGSL facts.
pub struct TypeInfo {
    /// The type of a value in expressions.
    pub value: &'static str,
    /// The element type of a storage buffer on a target without 16-bit storage
    /// ([`Target::storage`] gives it for any target).
    pub storage: &'static str,
    /// The helper that rounds an `f32` to this precision, if any.
    pub round: Option<&'static str>,
}

/// The table row of a dtype.
pub fn info(d: DType) -> TypeInfo {
    match d {
        DType::F32 => TypeInfo {
            value: "f32",
            storage: "f32",
            round: None,
        },
        DType::F16 => TypeInfo {
            value: "f32",
            storage: "f32",
            round: Some("kiln_round_f16"),
        },
        DType::BF16 => TypeInfo {
            value: "f32",
            storage: "f32",
            round: Some("kiln_round_bf16"),
        },
        DType::I32 => TypeInfo {
            value: "i32",
            storage: "i32",
            round: None,
        },
        DType::U32 => TypeInfo {
            value: "u32",
            storage: "u32",
            round: None,
        },
        DType::Bool => TypeInfo {
            value: "bool",
            storage: "u32",
            round: None,
        },
        // Words of blocks, decoded where read (`crate::dequant`).
        DType::Quant(_) => TypeInfo {
            value: "f32",
            storage: "u32",
            round: None,
        },
    }
}

/// The value of dtype `d` whose storage bits are the `u32` expression `bits` (a uniform slot).
pub fn from_bits(d: DType, bits: &str) -> String {
    match d {
        DType::F32 | DType::F16 | DType::BF16 | DType::Quant(_) => {
            format!("bitcast<f32>({bits})")
        }
        DType::I32 => format!("bitcast<i32>({bits})"),
        DType::U32 => bits.to_string(),
        DType::Bool => format!("({bits} != 0u)"),
    }
}

/// A WGSL literal of `v` as a value of dtype `d`, exact to the bit. A non-finite float calls
/// the helper [`literal_helpers`] names.
pub fn literal(v: Scalar, d: DType) -> String {
    let bits = v.storage_bits(d);
    match d {
        DType::F32 | DType::F16 | DType::BF16 | DType::Quant(_) => f32_bits(bits),
        DType::I32 => format!("bitcast<i32>({bits:#010x}u)"),
        DType::U32 => format!("{bits:#x}u"),
        DType::Bool => (bits != 0).to_string(),
    }
}

/// The f32 of `bits` as WGSL: a constant where it is finite, the run-time helper
/// [`ops::NONFINITE`](crate::ops::NONFINITE) where it is an infinity or NaN.
pub fn f32_bits(bits: u32) -> String {
    if f32::from_bits(bits).is_finite() {
        format!("bitcast<f32>({bits:#010x}u)")
    } else {
        format!("{}({bits:#010x}u)", crate::ops::NONFINITE)
    }
}

/// The helpers [`literal`] calls for `v` as dtype `d`.
pub fn literal_helpers(v: Scalar, d: DType) -> &'static [&'static str] {
    match d {
        DType::F32 | DType::F16 | DType::BF16 | DType::Quant(_)
            if !f32::from_bits(v.storage_bits(d)).is_finite() =>
        {
            &[crate::ops::NONFINITE]
        }
        _ => &[],
    }
}

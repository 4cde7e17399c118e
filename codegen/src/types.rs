//! How kiln dtypes live in WGSL: as values in expressions and as elements of storage buffers.
//! `f16` and `bf16` are stored widened to `f32` and rounded after every op; `bool` is stored as
//! `u32`. These are data, kept in one table.

use kiln_ir::{DType, Scalar};

/// Per-dtype WGSL facts.
pub struct TypeInfo {
    /// The type of a value in expressions.
    pub value: &'static str,
    /// The element type of a storage buffer.
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
    }
}

/// A WGSL literal of `v` as a value of dtype `d`, exact to the bit.
pub fn literal(v: Scalar, d: DType) -> String {
    let bits = v.storage_bits(d);
    match d {
        DType::F32 | DType::F16 | DType::BF16 => format!("bitcast<f32>({bits:#010x}u)"),
        DType::I32 => format!("bitcast<i32>({bits:#010x}u)"),
        DType::U32 => format!("{bits:#x}u"),
        DType::Bool => (bits != 0).to_string(),
    }
}

/// Converts a loaded storage element to a value.
pub fn from_storage(expr: &str, d: DType) -> String {
    if d == DType::Bool {
        format!("({expr} != 0u)")
    } else {
        expr.to_string()
    }
}

/// Converts a value to its storage element.
pub fn to_storage(expr: &str, d: DType) -> String {
    if d == DType::Bool {
        format!("select(0u, 1u, {expr})")
    } else {
        expr.to_string()
    }
}

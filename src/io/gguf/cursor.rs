//! Reading GGUF's little-endian fields without trusting a length read from the file.

use super::value::{Value, ValueType};
use super::GgufError;
use std::io::Read;

/// The deepest nesting of arrays in a metadata value (GGUF files in use nest at most 2).
pub(super) const MAX_NESTING: usize = 32;

/// A reader that knows how many bytes are left, so that no length read from the file makes
/// it allocate or seek past the end.
pub(super) struct Cursor<R> {
    pub(super) r: R,
    pub(super) at: u64,
    pub(super) len: u64,
}

impl<R: Read> Cursor<R> {
    pub(super) fn bytes(
        &mut self,
        n: u64,
        what: &dyn Fn() -> String,
    ) -> Result<Vec<u8>, GgufError> {
        let left = self.len - self.at;
        if n > left {
            return Err(GgufError::Truncated {
                what: what(),
                offset: self.at,
                needed: n,
                left,
            });
        }
        let mut v = vec![0u8; n as usize];
        self.r
            .read_exact(&mut v)
            .map_err(|e| GgufError::Truncated {
                what: format!("{} ({e})", what()),
                offset: self.at,
                needed: n,
                left,
            })?;
        self.at += n;
        Ok(v)
    }

    pub(super) fn array<const N: usize>(
        &mut self,
        what: &dyn Fn() -> String,
    ) -> Result<[u8; N], GgufError> {
        let v = self.bytes(N as u64, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(&v);
        Ok(a)
    }

    pub(super) fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub(super) fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    pub(super) fn string(&mut self, what: &dyn Fn() -> String) -> Result<String, GgufError> {
        let len = self.u64(&|| format!("the length of {}", what()))?;
        let at = self.at;
        let b = self.bytes(len, what)?;
        String::from_utf8(b).map_err(|_| GgufError::BadString {
            what: what(),
            offset: at,
        })
    }

    /// A metadata value of type `t` (arrays recursively, nested at most [`MAX_NESTING`] deep,
    /// so that a crafted file cannot exhaust the stack).
    pub(super) fn value(&mut self, t: u32, key: &str) -> Result<Value, GgufError> {
        self.value_at(t, key, 0)
    }

    fn value_at(&mut self, t: u32, key: &str, depth: usize) -> Result<Value, GgufError> {
        let what = || format!("the value of {key:?}");
        let ty = ValueType::of(t).ok_or_else(|| GgufError::UnknownValueType {
            key: key.into(),
            type_id: t,
        })?;
        Ok(match ty {
            ValueType::U8 => Value::U8(self.array::<1>(&what)?[0]),
            ValueType::I8 => Value::I8(self.array::<1>(&what)?[0] as i8),
            ValueType::U16 => Value::U16(u16::from_le_bytes(self.array(&what)?)),
            ValueType::I16 => Value::I16(i16::from_le_bytes(self.array(&what)?)),
            ValueType::U32 => Value::U32(self.u32(&what)?),
            ValueType::I32 => Value::I32(i32::from_le_bytes(self.array(&what)?)),
            ValueType::U64 => Value::U64(self.u64(&what)?),
            ValueType::I64 => Value::I64(i64::from_le_bytes(self.array(&what)?)),
            ValueType::F32 => Value::F32(f32::from_le_bytes(self.array(&what)?)),
            ValueType::F64 => Value::F64(f64::from_le_bytes(self.array(&what)?)),
            ValueType::Bool => match self.array::<1>(&what)?[0] {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                byte => {
                    return Err(GgufError::BadBool {
                        key: key.into(),
                        byte,
                    })
                }
            },
            ValueType::String => Value::String(self.string(&what)?),
            ValueType::Array => {
                if depth == MAX_NESTING {
                    return Err(GgufError::BadMetadata {
                        key: key.into(),
                        why: format!("arrays nested more than {MAX_NESTING} deep"),
                    });
                }
                let et = self.u32(&what)?;
                let n = self.u64(&what)?;
                // Every element takes at least one byte: a count past the bytes left is a
                // truncated (or corrupt) file, caught before anything is allocated for it.
                let left = self.len - self.at;
                if n > left {
                    return Err(GgufError::Truncated {
                        what: format!("{n} array elements of {key:?}"),
                        offset: self.at,
                        needed: n,
                        left,
                    });
                }
                let mut items = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    items.push(self.value_at(et, key, depth + 1)?);
                }
                Value::Array(items)
            }
        })
    }
}

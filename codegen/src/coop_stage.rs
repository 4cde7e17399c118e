//! Staging for the tensor-core matmul template ([`crate::coop`]): how the invocations read an
//! operand's `bk`-deep slice into registers, and write it to the workgroup tile as f16.
//!
//! On an aligned tile ([`CoopTile::aligned`](crate::coop::CoopTile)) every slice lies inside
//! its operand, so the loads have no test around them, and an f16 operand bound wide
//! ([`Emitter::wide`](crate::emit::Emitter)) is read 8 elements (16 bytes) a load. Elsewhere
//! each slice is read an element at a time through the matmul template's accessors
//! (`a_in`/`b_in` where the whole slice is inside, `a_at`/`b_at` otherwise). On an H100
//! (journal 2026-12-06-tensor-core-staging.md) tests around the loads cost the 4096^3 f16
//! product a fifth of its speed, and 16-byte loads beat 8-byte ones (`vec4<f16>`).

use crate::code::Code;
use crate::matmul::Dims;

/// Elements of one wide load.
pub(crate) const VEC: u32 = 8;

/// One operand's slice as staged: A's is `bm x bk` (rows of A, columns along `k`), B's
/// `bk x bn` (rows along `k`).
pub(crate) struct Slice {
    /// `a` or `b`: names its registers (`ra0`..), tile (`ta`) and accessors.
    pub name: &'static str,
    /// Rows of the slice.
    pub rows: u32,
    /// Columns of the slice.
    pub cols: u32,
    /// Row stride of the workgroup tile, in elements.
    pub ld: u32,
    /// The wide binding read 8 elements a load (only on aligned tiles); `None`: an element
    /// at a time.
    pub wide: Option<String>,
}

impl Slice {
    /// Whether the slice is staged in vectors of 8 (a wide binding, and a slice the
    /// workgroup's invocations share evenly in vectors).
    fn vectors(&self, nt: u32) -> bool {
        self.wide.is_some()
            && self.cols.is_multiple_of(VEC)
            && (self.rows * self.cols).is_multiple_of(VEC * nt)
    }

    /// Registers per invocation, and elements per register.
    fn regs(&self, nt: u32) -> (u32, u32) {
        let per = if self.vectors(nt) { VEC } else { 1 };
        (self.rows * self.cols / per / nt, per)
    }

    /// Declares the invocation's registers.
    pub fn declare(&self, c: &mut Code, ind: &str, nt: u32) {
        let (regs, per) = self.regs(nt);
        let ty = if per == 1 { "f16" } else { "vec4<u32>" };
        for p in 0..regs {
            writeln!(c, "{ind}var r{}{p}: {ty};", self.name);
        }
    }

    /// Reads the invocation's share of the slice at depth `t` into its registers, with no test
    /// of its own: a wide operand 8 elements a load (only on an aligned tile, where the slice
    /// lies inside its operand and its rows are whole aligned vectors:
    /// `coop::rows_of_vectors`), any other an element at a time through accessor
    /// `sfx` (`in`: unchecked, `at`: checked), as the caller's test of the slice chose.
    pub fn fetch(&self, c: &mut Code, ind: &str, t: &str, d: &Dims, nt: u32, sfx: &str) {
        let (regs, per) = self.regs(nt);
        let n = self.name;
        let per_row = self.cols / per;
        for p in 0..regs {
            let x = format!("let x = lid + {}u;", p * nt);
            let (r, q) = (format!("x / {per_row}u"), format!("x % {per_row}u"));
            let value = match (&self.wide, per) {
                (Some(buf), VEC) => {
                    let addr = match n {
                        "a" => format!(
                            "abase + i32(row0 + {r}) * {} + i32({t} + ({q}) * {VEC}u)",
                            d.sam
                        ),
                        _ => format!(
                            "bbase + i32({t} + {r}) * {} + i32(col0 + ({q}) * {VEC}u)",
                            d.sbk
                        ),
                    };
                    format!("{buf}[u32({addr}) >> 3u]")
                }
                _ => match n {
                    "a" => format!("f16(a_{sfx}(abase, row0 + {r}, {t} + {q}))"),
                    _ => format!("f16(b_{sfx}(bbase, {t} + {r}, col0 + {q}))"),
                },
            };
            writeln!(c, "{ind}{{ {x} r{n}{p} = {value}; }}");
        }
    }

    /// Writes the invocation's registers to the workgroup tile `t{name}`.
    pub fn store(&self, c: &mut Code, ind: &str, nt: u32) {
        let (regs, per) = self.regs(nt);
        let n = self.name;
        let per_row = self.cols / per;
        for p in 0..regs {
            let x = format!("let x = lid + {}u;", p * nt);
            if per == 1 {
                writeln!(
                    c,
                    "{ind}{{ {x} t{n}[(x / {per_row}u) * {}u + x % {per_row}u] = r{n}{p}; }}",
                    self.ld
                );
                continue;
            }
            writeln!(
                c,
                "{ind}{{ {x} let at = (x / {per_row}u) * {}u + (x % {per_row}u) * {VEC}u; let w = r{n}{p};",
                self.ld
            );
            for (j, comp) in ["x", "y", "z", "w"].iter().enumerate() {
                writeln!(
                    c,
                    "{ind}  let h{j} = unpack2x16float(w.{comp}); t{n}[at + {}u] = f16(h{j}.x); t{n}[at + {}u] = f16(h{j}.y);",
                    2 * j,
                    2 * j + 1
                );
            }
            writeln!(c, "{ind}}}");
        }
    }
}

//! The uniform that carries sizes, strides and offsets. Code generation records which
//! [`Param`] sits in which slot; the runtime fills the slots from the concrete kernel, so the
//! generated text never contains a size.

use crate::CodegenError;
use kiln_ir::{Expr, ExprId, Kernel, LoadId};

/// One 32-bit slot of a kernel's uniform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Param {
    /// Elements of the iteration space (outputs, for reductions).
    Numel,
    /// Size of iteration dim `d`.
    Dim(usize),
    /// Reduced elements per output.
    Count,
    /// Batch count of a matmul.
    Batch,
    /// Offset of load `l` (as `i32` bits).
    Offset(LoadId),
    /// Stride of load `l` in dim `d` (as `i32` bits).
    Stride(LoadId, usize),
    /// Mask start of load `l` in dim `d`.
    MaskLo(LoadId, usize),
    /// Mask end of load `l` in dim `d`.
    MaskHi(LoadId, usize),
    /// Size of dim `d` of load `l`'s own view (gather bounds, matmul `k`).
    LoadDim(LoadId, usize),
    /// The value of constant expression `e` (`Expr::Const`), as its storage bits. Constants
    /// live in the uniform, not in the text: a shader compiler may fold `x * 0.0` to `0.0`
    /// when the zero is a literal (lavapipe does), which loses `inf * 0 = NaN`; and kernels
    /// that differ only in their constants share one pipeline.
    Const(ExprId),
    /// The start of arange expression `e` (`Expr::Arange`), as 32-bit storage bits of its
    /// computing type (`f32` for floats).
    ArangeStart(ExprId),
    /// The step of arange expression `e`, likewise.
    ArangeStep(ExprId),
    /// The key of random stream `s` of random expression `e` (`Expr::Rand`), from its seed:
    /// a new seed is the same kernel.
    RandKey(ExprId, u32),
}

/// The slots of a kernel's uniform, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParamLayout {
    slots: Vec<Param>,
}

impl ParamLayout {
    /// The slot of `p`, adding it if new.
    pub fn slot(&mut self, p: Param) -> usize {
        if let Some(i) = self.slots.iter().position(|&q| q == p) {
            return i;
        }
        self.slots.push(p);
        self.slots.len() - 1
    }

    /// A WGSL expression reading `p` as `u32`.
    pub fn u32(&mut self, p: Param) -> String {
        let i = self.slot(p);
        format!("P.p[{}].{}", i / 4, ["x", "y", "z", "w"][i % 4])
    }

    /// A WGSL expression reading `p` as `i32`.
    pub fn i32(&mut self, p: Param) -> String {
        format!("bitcast<i32>({})", self.u32(p))
    }

    /// The number of `vec4<u32>` the uniform holds (at least one).
    pub fn vec4s(&self) -> usize {
        self.slots.len().div_ceil(4).max(1)
    }

    /// The slots.
    pub fn slots(&self) -> &[Param] {
        &self.slots
    }

    /// The uniform's contents for a concrete kernel (padded to whole `vec4`s); a size, stride
    /// or offset that does not fit its 32-bit slot is an error, never truncated.
    pub fn values(&self, k: &Kernel) -> Result<Vec<u32>, CodegenError> {
        let mut out = vec![0u32; self.vec4s() * 4];
        let unsigned = |v: usize, p: Param| {
            u32::try_from(v).map_err(|_| CodegenError::Overflow {
                kernel: k.name.clone(),
                what: format!("{p:?} = {v}"),
            })
        };
        let signed = |v: i64, p: Param| {
            i32::try_from(v)
                .map(|v| v as u32)
                .map_err(|_| CodegenError::Overflow {
                    kernel: k.name.clone(),
                    what: format!("{p:?} = {v}"),
                })
        };
        for (i, p) in self.slots.iter().enumerate() {
            out[i] = match *p {
                Param::Numel => unsigned(k.out_numel(), *p)?,
                Param::Dim(d) => unsigned(k.shape.0[d], *p)?,
                Param::Count => unsigned(k.red_count(), *p)?,
                Param::Batch => {
                    let r = k.shape.rank();
                    unsigned(k.shape.0[..r.saturating_sub(2)].iter().product(), *p)?
                }
                Param::Offset(l) => signed(k.load(l).view.offset, *p)?,
                Param::Stride(l, d) => signed(k.load(l).view.strides[d], *p)?,
                Param::MaskLo(l, d) => unsigned(
                    k.load(l).view.mask.as_ref().map_or(0, |m| m.ranges[d].0),
                    *p,
                )?,
                // An open end is "no bound".
                Param::MaskHi(l, d) => match k.load(l).view.mask.as_ref() {
                    Some(m) => unsigned(m.ranges[d].1, *p)?,
                    None => u32::MAX,
                },
                Param::LoadDim(l, d) => unsigned(k.load(l).view.shape.0[d], *p)?,
                Param::Const(e) => match &k.expr(e).expr {
                    Expr::Const(v) => v.storage_bits(k.expr(e).dtype),
                    // Codegen makes this slot only for constant expressions.
                    _ => 0,
                },
                Param::ArangeStart(e) | Param::ArangeStep(e) => match &k.expr(e).expr {
                    Expr::Arange { start, step } => {
                        let d = k.expr(e).dtype;
                        let ld = if d.is_float() { kiln_ir::DType::F32 } else { d };
                        let v = if matches!(*p, Param::ArangeStart(_)) {
                            start
                        } else {
                            step
                        };
                        v.storage_bits(ld)
                    }
                    // Codegen makes these slots only for arange expressions.
                    _ => 0,
                },
                Param::RandKey(e, stream) => match &k.expr(e).expr {
                    Expr::Rand { seed, .. } => kiln_ir::ops::rand_key(*seed, stream),
                    // Codegen makes this slot only for random expressions.
                    _ => 0,
                },
            };
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use kiln_ir::lower::{lower, FusionOptions};
    use kiln_ir::ops::UnaryOp;
    use kiln_ir::{DType, Graph, Op, Shape};

    /// A kernel over more elements than 32 bits count is refused with a typed error, where
    /// the slot would have been truncated.
    #[test]
    fn sizes_past_32_bits_are_errors() {
        for (shape, ok) in [(vec![3, 1031], true), (vec![1 << 33], false)] {
            let mut g = Graph::new();
            let x = g.input(DType::F32, Shape::new(&shape)).unwrap();
            let y = g.add(Op::Unary(UnaryOp::Exp), &[x]).unwrap();
            g.mark_output(y);
            let prog = lower(&g, &FusionOptions::default()).unwrap();
            let k = &prog.calls[0].kernel;
            let src =
                crate::generate(k, &crate::Schedule::default(), &crate::Target::default()).unwrap();
            match src.params.values(k) {
                Ok(v) => assert!(ok, "{shape:?}: {v:?}"),
                Err(e) => {
                    assert!(!ok, "{shape:?}: {e}");
                    assert!(matches!(e, crate::CodegenError::Overflow { .. }), "{e}");
                }
            }
        }
    }
}

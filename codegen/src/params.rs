//! The uniform that carries sizes, strides and offsets. Code generation records which
//! [`Param`] sits in which slot; the runtime fills the slots from the concrete kernel, so the
//! generated text never contains a size.

use kiln_ir::{Expr, Kernel};

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
    Offset(usize),
    /// Stride of load `l` in dim `d` (as `i32` bits).
    Stride(usize, usize),
    /// Mask start of load `l` in dim `d`.
    MaskLo(usize, usize),
    /// Mask end of load `l` in dim `d`.
    MaskHi(usize, usize),
    /// Size of dim `d` of load `l`'s own view (gather bounds, matmul `k`).
    LoadDim(usize, usize),
    /// The value of constant expression `e` (`Expr::Const`), as its storage bits. Constants
    /// live in the uniform, not in the text: a shader compiler may fold `x * 0.0` to `0.0`
    /// when the zero is a literal (lavapipe does), which loses `inf * 0 = NaN`; and kernels
    /// that differ only in their constants share one pipeline.
    Const(usize),
    /// The start of arange expression `e` (`Expr::Arange`), as 32-bit storage bits of its
    /// computing type (`f32` for floats).
    ArangeStart(usize),
    /// The step of arange expression `e`, likewise.
    ArangeStep(usize),
    /// The key of random stream `s` of random expression `e` (`Expr::Rand`), from its seed:
    /// a new seed is the same kernel.
    RandKey(usize, u32),
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

    /// The uniform's contents for a concrete kernel (padded to whole `vec4`s).
    pub fn values(&self, k: &Kernel) -> Vec<u32> {
        let mut out = vec![0u32; self.vec4s() * 4];
        for (i, p) in self.slots.iter().enumerate() {
            out[i] = match *p {
                Param::Numel => k.out_numel() as u32,
                Param::Dim(d) => k.shape.0[d] as u32,
                Param::Count => k.red_count() as u32,
                Param::Batch => {
                    let r = k.shape.rank();
                    k.shape.0[..r.saturating_sub(2)].iter().product::<usize>() as u32
                }
                Param::Offset(l) => k.loads[l].view.offset as i32 as u32,
                Param::Stride(l, d) => k.loads[l].view.strides[d] as i32 as u32,
                Param::MaskLo(l, d) => {
                    k.loads[l].view.mask.as_ref().map_or(0, |m| m.ranges[d].0) as u32
                }
                Param::MaskHi(l, d) => k.loads[l]
                    .view
                    .mask
                    .as_ref()
                    .map_or(u32::MAX as usize, |m| m.ranges[d].1)
                    as u32,
                Param::LoadDim(l, d) => k.loads[l].view.shape.0[d] as u32,
                Param::Const(e) => match &k.exprs[e].expr {
                    Expr::Const(v) => v.storage_bits(k.exprs[e].dtype),
                    // Codegen makes this slot only for constant expressions.
                    _ => 0,
                },
                Param::ArangeStart(e) | Param::ArangeStep(e) => match &k.exprs[e].expr {
                    Expr::Arange { start, step } => {
                        let d = k.exprs[e].dtype;
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
                Param::RandKey(e, stream) => match &k.exprs[e].expr {
                    Expr::Rand { seed, .. } => kiln_ir::ops::rand_key(*seed, stream),
                    // Codegen makes this slot only for random expressions.
                    _ => 0,
                },
            };
        }
        out
    }
}

//! The op set. Each family lives in its own file with its dtype rules and reference semantics;
//! [`Op`] ties them together and infers every node's dtype and shape.

pub mod attention;
pub mod binary;
pub mod docs;
pub mod movement;
pub mod reduce;
pub mod scan;
pub mod source;
pub mod spec;
pub mod special;
pub mod unary;

pub use attention::Attention;
pub use binary::{BinaryOp, ALL_BINARY};
pub use movement::{SliceDim, ViewOp};
pub use reduce::{ReduceOp, ReduceRule, ALL_REDUCE};
pub use scan::{ScanOp, ALL_SCAN};
pub use source::{mix32, rand_bits, rand_key, rand_value, uniform_from_bits, RandDist};
pub use spec::{Class, Tol, Wgsl};
pub use unary::{UnaryOp, ALL_UNARY};

use crate::{Axes, DType, IrError, Result, Scalar, Shape};

/// One node's operation. Operands are the node's ordered inputs in the graph.
///
/// Elementwise ops (`Unary`, `Binary`, `Where`, `Cast`) take operands of exactly the output's
/// shape: broadcasting is made explicit with `View(Expand)` by the front end, so the IR has one
/// way to say it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// A value supplied at run time (an input placeholder or a realized tensor).
    Input {
        /// The input's position in the graph's input list.
        slot: u32,
    },
    /// A constant of the node's dtype and shape (usually rank 0 then expanded).
    Const(Scalar),
    /// `start + i * step` for `i` in `0..n`, shape `[n]`.
    Arange {
        /// First value.
        start: Scalar,
        /// Increment.
        step: Scalar,
    },
    /// Seeded counter-based random numbers of the node's float dtype and shape.
    Rand {
        /// The seed.
        seed: u64,
        /// Uniform on [0, 1) or standard normal.
        dist: RandDist,
    },
    /// A unary elementwise op.
    Unary(UnaryOp),
    /// A binary elementwise op on same-shape operands.
    Binary(BinaryOp),
    /// `where(cond, a, b)`: `cond` is `Bool`, `a` and `b` share a dtype.
    Where,
    /// Conversion to the node's dtype.
    Cast(DType),
    /// A reduction over `axes` (sorted, unique).
    Reduce {
        /// Which reduction.
        op: ReduceOp,
        /// The reduced axes of the input.
        axes: Axes,
        /// Keep reduced axes as size 1.
        keepdim: bool,
    },
    /// An inclusive scan along the last axis (`cumsum`, ...; see [`scan`]).
    Scan(ScanOp),
    /// A movement op (folded into indexing by the compiler).
    View(ViewOp),
    /// Concatenation along `axis` of operands equal in every other dimension.
    Concat {
        /// The axis.
        axis: usize,
    },
    /// `torch.gather`: `out[c] = x[c with c[axis] = idx[c]]`; `idx` is `I32` of `x`'s rank, its
    /// other dims at most `x`'s; an index below 0 counts from the end, one out of range gives 0.
    Gather {
        /// The axis indexed.
        axis: usize,
    },
    /// Matrix product of `[..., m, k]` and `[..., k, n]` with equal batch dims.
    Matmul,
    /// Fused scaled dot-product attention over `q`, `k`, `v` and an optional additive mask
    /// (see [`attention`]).
    Attention(Attention),
}

/// The type of a node: its dtype and shape.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TensorType {
    /// Element type.
    pub dtype: DType,
    /// Shape.
    pub shape: Shape,
}

impl TensorType {
    /// A type from its parts.
    pub fn new(dtype: DType, shape: Shape) -> Self {
        TensorType { dtype, shape }
    }
}

impl Op {
    /// A short name for plans, DOT output and messages.
    pub fn name(&self) -> String {
        match self {
            Op::Input { slot } => format!("input{slot}"),
            Op::Const(v) => format!("const({v})"),
            Op::Arange { .. } => "arange".into(),
            Op::Rand { dist, .. } => format!("rand_{}", dist.name()),
            Op::Unary(u) => u.name().into(),
            Op::Binary(b) => b.name().into(),
            Op::Where => "where".into(),
            Op::Cast(d) => format!("cast_{d}"),
            Op::Reduce { op, axes, .. } => format!("{}{:?}", op.name(), axes.as_slice()),
            Op::Scan(op) => op.name().into(),
            Op::View(v) => v.name().into(),
            Op::Concat { axis } => format!("concat[{axis}]"),
            Op::Gather { axis } => format!("gather[{axis}]"),
            Op::Matmul => "matmul".into(),
            Op::Attention(a) => a.name(),
        }
    }

    /// A static name of the op's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Input { .. } => "input",
            Op::Const(_) => "const",
            Op::Arange { .. } => "arange",
            Op::Rand { .. } => "rand",
            Op::Unary(u) => u.name(),
            Op::Binary(b) => b.name(),
            Op::Where => "where",
            Op::Cast(_) => "cast",
            Op::Reduce { op, .. } => op.name(),
            Op::Scan(op) => op.name(),
            Op::View(v) => v.name(),
            Op::Concat { .. } => "concat",
            Op::Gather { .. } => "gather",
            Op::Matmul => "matmul",
            Op::Attention(_) => "attention",
        }
    }

    /// True for ops computed per element with no reduction or data-dependent indexing.
    pub fn is_elementwise(&self) -> bool {
        matches!(
            self,
            Op::Unary(_) | Op::Binary(_) | Op::Where | Op::Cast(_) | Op::Const(_)
        )
    }

    /// Refuses a quantized dtype ([`DType::Quant`]) anywhere but an input, a view's or a
    /// gather's source, or the source of a cast to a float dtype: quantized values are read,
    /// never computed or stored.
    fn check_quantized(&self, srcs: &[&TensorType], declared: Option<&TensorType>) -> Result<()> {
        let reads_quantized = match self {
            Op::Input { .. } | Op::View(_) => true,
            Op::Gather { .. } => srcs.get(1).is_none_or(|i| !i.dtype.is_quantized()),
            Op::Cast(to) => to.is_float(),
            Op::Const(_)
            | Op::Arange { .. }
            | Op::Rand { .. }
            | Op::Unary(_)
            | Op::Binary(_)
            | Op::Where
            | Op::Reduce { .. }
            | Op::Scan(_)
            | Op::Concat { .. }
            | Op::Matmul
            | Op::Attention(_) => false,
        };
        let quantized = srcs
            .iter()
            .copied()
            .chain(declared)
            .map(|t| t.dtype)
            .chain(match self {
                Op::Cast(to) => Some(*to),
                _ => None,
            })
            .find(|d| d.is_quantized());
        match (quantized, declared) {
            (Some(dtype), _) if !reads_quantized => Err(IrError::UnsupportedDType {
                op: self.kind(),
                dtype,
                why: "a quantized tensor is only viewed, gathered, or cast to a float dtype \
                      (cast it first)",
            }),
            // An input's rows are whole blocks.
            (
                _,
                Some(TensorType {
                    dtype: DType::Quant(f),
                    shape,
                }),
            ) if !shape
                .0
                .last()
                .is_some_and(|r| r.is_multiple_of(f.block_values())) =>
            {
                Err(IrError::QuantizedShape {
                    format: f.name(),
                    shape: shape.clone(),
                    why: format!("rows must be whole blocks of {}", f.block_values()),
                })
            }
            _ => Ok(()),
        }
    }

    /// Infers the result type from the operand types; `declared` is the node's own type for
    /// leaves (`Input`, `Const`, `Arange`, `Rand`, whose type is not implied by operands).
    pub fn infer(&self, srcs: &[&TensorType], declared: Option<&TensorType>) -> Result<TensorType> {
        let arity = |n: usize| -> Result<()> {
            if srcs.len() != n {
                return Err(IrError::Arity {
                    op: "op",
                    expected: n,
                    got: srcs.len(),
                });
            }
            Ok(())
        };
        let same_shape = |name: &'static str, a: &TensorType, b: &TensorType| -> Result<()> {
            if a.shape != b.shape {
                return Err(IrError::Broadcast {
                    op: name,
                    lhs: a.shape.clone(),
                    rhs: b.shape.clone(),
                });
            }
            Ok(())
        };
        let leaf = || -> Result<TensorType> {
            declared
                .cloned()
                .ok_or(IrError::Verify("leaf without a declared type".into()))
        };
        self.check_quantized(srcs, declared)?;
        let t = match self {
            Op::Input { .. } | Op::Const(_) => {
                arity(0)?;
                leaf()?
            }
            Op::Arange { .. } => {
                arity(0)?;
                let t = leaf()?;
                if t.shape.rank() != 1 || !t.dtype.is_numeric() {
                    return Err(IrError::UnsupportedDType {
                        op: "arange",
                        dtype: t.dtype,
                        why: "a numeric 1-D tensor",
                    });
                }
                t
            }
            Op::Rand { .. } => {
                arity(0)?;
                let t = leaf()?;
                if !t.dtype.is_float() {
                    return Err(IrError::UnsupportedDType {
                        op: "rand",
                        dtype: t.dtype,
                        why: "float dtypes only",
                    });
                }
                t
            }
            Op::Unary(u) => {
                arity(1)?;
                TensorType::new(u.result_dtype(srcs[0].dtype)?, srcs[0].shape.clone())
            }
            Op::Binary(b) => {
                arity(2)?;
                same_shape(b.name(), srcs[0], srcs[1])?;
                TensorType::new(
                    b.result_dtype(srcs[0].dtype, srcs[1].dtype)?,
                    srcs[0].shape.clone(),
                )
            }
            Op::Where => {
                arity(3)?;
                if srcs[0].dtype != DType::Bool {
                    return Err(IrError::UnsupportedDType {
                        op: "where",
                        dtype: srcs[0].dtype,
                        why: "the condition must be bool",
                    });
                }
                same_shape("where", srcs[0], srcs[1])?;
                same_shape("where", srcs[1], srcs[2])?;
                if srcs[1].dtype != srcs[2].dtype {
                    return Err(IrError::DTypeMismatch {
                        op: "where",
                        lhs: srcs[1].dtype,
                        rhs: srcs[2].dtype,
                    });
                }
                srcs[1].clone()
            }
            Op::Cast(d) => {
                arity(1)?;
                TensorType::new(*d, srcs[0].shape.clone())
            }
            Op::Scan(op) => {
                arity(1)?;
                if srcs[0].shape.rank() == 0 {
                    return Err(IrError::BadAxis {
                        op: op.name(),
                        axis: -1,
                        shape: srcs[0].shape.clone(),
                    });
                }
                TensorType::new(op.result_dtype(srcs[0].dtype)?, srcs[0].shape.clone())
            }
            Op::Reduce { op, axes, keepdim } => {
                arity(1)?;
                let s = &srcs[0].shape;
                let mut count = 1usize;
                for (i, &a) in axes.iter().enumerate() {
                    if a >= s.rank() || (i > 0 && axes[i - 1] >= a) {
                        return Err(IrError::BadAxis {
                            op: op.name(),
                            axis: a as isize,
                            shape: s.clone(),
                        });
                    }
                    count = count
                        .checked_mul(s.0[a])
                        .ok_or_else(|| IrError::SizeOverflow {
                            op: op.name(),
                            why: format!("the count of reduced elements of {s} overflows"),
                        })?;
                }
                let dtype = op.result_dtype(srcs[0].dtype, count).map_err(|e| match e {
                    IrError::BadShape { op, why, .. } => IrError::BadShape {
                        op,
                        from: s.clone(),
                        to: Shape::scalar(),
                        why,
                    },
                    e => e,
                })?;
                let mut out = Shape::scalar();
                for d in 0..s.rank() {
                    if !axes.contains(&d) {
                        out.0.push(s.0[d]);
                    } else if *keepdim {
                        out.0.push(1);
                    }
                }
                TensorType::new(dtype, out)
            }
            Op::View(v) => {
                arity(1)?;
                if let ViewOp::Pad { .. } = v {
                    // the pad value is converted to the tensor's dtype where used
                }
                TensorType::new(srcs[0].dtype, v.infer(&srcs[0].shape)?)
            }
            Op::Concat { axis } => {
                if srcs.is_empty() {
                    return Err(IrError::Arity {
                        op: "concat",
                        expected: 1,
                        got: 0,
                    });
                }
                let first = srcs[0];
                if *axis >= first.shape.rank() {
                    return Err(IrError::BadAxis {
                        op: "concat",
                        axis: *axis as isize,
                        shape: first.shape.clone(),
                    });
                }
                let mut out = first.shape.clone();
                out.0[*axis] = 0;
                for s in srcs {
                    if s.dtype != first.dtype {
                        return Err(IrError::DTypeMismatch {
                            op: "concat",
                            lhs: first.dtype,
                            rhs: s.dtype,
                        });
                    }
                    let ok = s.shape.rank() == first.shape.rank()
                        && (0..first.shape.rank())
                            .all(|d| d == *axis || s.shape.0[d] == first.shape.0[d]);
                    if !ok {
                        return Err(IrError::BadShape {
                            op: "concat",
                            from: s.shape.clone(),
                            to: first.shape.clone(),
                            why: format!("shapes must agree except on axis {axis}"),
                        });
                    }
                    out.0[*axis] = out.0[*axis].checked_add(s.shape.0[*axis]).ok_or_else(|| {
                        IrError::SizeOverflow {
                            op: "concat",
                            why: format!("the sizes along axis {axis} overflow"),
                        }
                    })?;
                }
                TensorType::new(first.dtype, out)
            }
            Op::Gather { axis } => {
                arity(2)?;
                let (x, idx) = (srcs[0], srcs[1]);
                if idx.dtype != DType::I32 {
                    return Err(IrError::UnsupportedDType {
                        op: "gather",
                        dtype: idx.dtype,
                        why: "indices must be i32",
                    });
                }
                if *axis >= x.shape.rank() {
                    return Err(IrError::BadAxis {
                        op: "gather",
                        axis: *axis as isize,
                        shape: x.shape.clone(),
                    });
                }
                let ok = idx.shape.rank() == x.shape.rank()
                    && (0..x.shape.rank()).all(|d| d == *axis || idx.shape.0[d] <= x.shape.0[d]);
                if !ok {
                    return Err(IrError::BadShape {
                        op: "gather",
                        from: x.shape.clone(),
                        to: idx.shape.clone(),
                        why: "index must have the input's rank and no larger dims off the axis"
                            .into(),
                    });
                }
                TensorType::new(x.dtype, idx.shape.clone())
            }
            Op::Matmul => {
                arity(2)?;
                let (a, b) = (srcs[0], srcs[1]);
                if a.dtype != b.dtype {
                    return Err(IrError::DTypeMismatch {
                        op: "matmul",
                        lhs: a.dtype,
                        rhs: b.dtype,
                    });
                }
                if !a.dtype.is_float() {
                    return Err(IrError::UnsupportedDType {
                        op: "matmul",
                        dtype: a.dtype,
                        why: "float dtypes only",
                    });
                }
                let (ra, rb) = (a.shape.rank(), b.shape.rank());
                if ra < 2 || rb < 2 || a.shape.0[ra - 1] != b.shape.0[rb - 2] {
                    return Err(IrError::MatmulShape {
                        lhs: a.shape.clone(),
                        rhs: b.shape.clone(),
                    });
                }
                if a.shape.0[..ra - 2] != b.shape.0[..rb - 2] {
                    return Err(IrError::MatmulBatch {
                        lhs: a.shape.clone(),
                        rhs: b.shape.clone(),
                        lhs_batch: Shape::new(&a.shape.0[..ra - 2]),
                        rhs_batch: Shape::new(&b.shape.0[..rb - 2]),
                    });
                }
                let mut out = a.shape.clone();
                out.0[ra - 1] = b.shape.0[rb - 1];
                TensorType::new(a.dtype, out)
            }
            Op::Attention(a) => a.infer(srcs)?,
        };
        t.shape.check_size(self.kind())?;
        Ok(t)
    }
}

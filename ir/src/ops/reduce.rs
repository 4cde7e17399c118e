//! Reductions over a set of axes: the table of every reduction's name, accepted dtypes,
//! identity and combining function (reference and WGSL), how it splits, and its tolerance,
//! one entry per op in [`ReduceOp::spec`].

use super::spec::{op_enum, wgsl, wgsl_with, Accepts, Class, PerClass, Wgsl};
use super::BinaryOp;
use crate::{DType, IrError, Result, Scalar};

op_enum! {
    /// A reduction. Float folds accumulate in `f32` on the GPU (the reference uses `f64`), and
    /// `f16`/`bf16` round once at the end.
    pub enum ReduceOp;
    /// Every reduction, in table order.
    pub const ALL_REDUCE;
    {
        /// Sum; empty gives 0.
        Sum,
        /// Arithmetic mean (floats only); empty gives NaN.
        Mean,
        /// Maximum; NaN if any element is NaN; empty is an error.
        Max,
        /// Minimum; NaN if any element is NaN; empty is an error.
        Min,
        /// Product; empty gives 1.
        Prod,
        /// Index of the first maximum (the first NaN if any), as `I32`, row-major over the
        /// reduced axes.
        ArgMax,
        /// Index of the first minimum (the first NaN if any), as `I32`.
        ArgMin,
        /// `log(sum(e^x))`, folded pairwise as `max(a, b) + log(1 + e^-|a - b|)` (floats only);
        /// NaN if any element is NaN; empty is an error.
        LogSumExp,
    }
}

/// One class's fold: the identity, the reference combining function (floats in `f64`) and
/// its WGSL (`{0}` the accumulator, `{1}` the value; written without outer parentheses, as
/// the right-hand side of an assignment).
#[derive(Clone, Copy, Debug)]
pub struct FoldImpl<T> {
    /// The value of an empty fold, and the start of every accumulator.
    pub identity: T,
    /// The reference combining function.
    pub combine: fn(T, T) -> T,
    /// The GPU combining expression.
    pub wgsl: Wgsl,
}

const fn fold_impl<T>(identity: T, combine: fn(T, T) -> T, wgsl: Wgsl) -> FoldImpl<T> {
    FoldImpl {
        identity,
        combine,
        wgsl,
    }
}

/// Per-class folds (floats accumulate in `f64` in the reference, `f32` on the GPU).
pub type FoldImpls = PerClass<FoldImpl<f64>, FoldImpl<i32>, FoldImpl<u32>, FoldImpl<bool>>;

/// What the total of a fold becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish {
    /// The total itself.
    Total,
    /// The total divided by the count of reduced elements.
    DivideByCount,
}

/// What a reduction of no elements gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Empty {
    /// The identity, finished (`sum`: 0, `mean`: 0 / 0).
    Identity,
    /// A `BadShape` error when the op is built (the identity is not a value of the op).
    Error,
}

/// How a long reduction splits in two levels (`passes::split`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split {
    /// The reduction each level runs (the fold without its [`Finish`]).
    pub levels: ReduceOp,
    /// The binary op that combines the total of the split part with that of a leftover tail;
    /// `None`: the reduced axes are flattened and padded with the identity instead.
    pub tail: Option<BinaryOp>,
}

/// Which value wins in an index reduction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    /// The greater value (argmax).
    Greater,
    /// The smaller value (argmin).
    Less,
}

/// What a reduction computes.
#[derive(Clone, Copy, Debug)]
pub enum ReduceRule {
    /// A fold of the values from the identity, then its finish.
    Fold {
        /// Identity and combining function per accepted class.
        impls: FoldImpls,
        /// What the total becomes.
        finish: Finish,
        /// What an empty reduction gives.
        empty: Empty,
        /// How it splits.
        split: Split,
    },
    /// The index (`I32`, row-major over the reduced axes) of the first best value: the first
    /// NaN if any, else the first `better` value. Accumulators start from the identity of
    /// `value`, the fold of the same order, which the split also uses for the parts' values.
    Arg {
        /// The fold of the values.
        value: ReduceOp,
        /// Which value wins.
        better: Better,
    },
}

/// The documented tolerance of an `f32` result against the reference, for `n` reduced
/// elements: `|gpu - ref| <= atol + atol_per_element * n + rtol * |ref|`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReduceTol {
    /// Absolute part.
    pub atol: f32,
    /// Absolute part per reduced element (f32 summation error grows with `n`).
    pub atol_per_element: f32,
    /// Relative part.
    pub rtol: f32,
}

impl ReduceTol {
    /// Bit-exact.
    pub const EXACT: ReduceTol = ReduceTol {
        atol: 0.0,
        atol_per_element: 0.0,
        rtol: 0.0,
    };

    /// `(atol, rtol)` for `n` reduced elements.
    pub fn at(self, n: usize) -> (f32, f32) {
        (self.atol + self.atol_per_element * n as f32, self.rtol)
    }

    /// The tolerance as written in `docs/OPS.md`.
    pub fn describe(self) -> String {
        if self == ReduceTol::EXACT {
            return "exact".into();
        }
        let atol = match (self.atol, self.atol_per_element) {
            (a, 0.0) => format!("{a:e}"),
            (0.0, p) => format!("{p:e}·n"),
            (a, p) => format!("{a:e} + {p:e}·n"),
        };
        format!("({atol}, {:e})", self.rtol)
    }
}

/// Everything about one reduction.
#[derive(Clone, Copy, Debug)]
pub struct ReduceSpec {
    /// The op's name, as in the API and in `docs/OPS.md`.
    pub name: &'static str,
    /// What it computes.
    pub rule: ReduceRule,
    /// Tolerance of `f32` results.
    pub tol: ReduceTol,
}

const fn fold(
    name: &'static str,
    impls: FoldImpls,
    (finish, empty): (Finish, Empty),
    split: Split,
    tol: ReduceTol,
) -> ReduceSpec {
    ReduceSpec {
        name,
        rule: ReduceRule::Fold {
            impls,
            finish,
            empty,
            split,
        },
        tol,
    }
}

/// Folds of every numeric class with one WGSL expression.
const fn numeric(
    f: FoldImpl<f64>,
    i: (i32, fn(i32, i32) -> i32),
    u: (u32, fn(u32, u32) -> u32),
    w: Wgsl,
) -> FoldImpls {
    PerClass {
        float: Some(f),
        i32: Some(fold_impl(i.0, i.1, w)),
        u32: Some(fold_impl(u.0, u.1, w)),
        bool: None,
    }
}

const fn sum_impls() -> FoldImpls {
    numeric(
        fold_impl(0.0, |a, b| a + b, wgsl("{0} + {1}")),
        (0, i32::wrapping_add),
        (0, u32::wrapping_add),
        wgsl("{0} + {1}"),
    )
}

const fn split(levels: ReduceOp, tail: BinaryOp) -> Split {
    Split {
        levels,
        tail: Some(tail),
    }
}

fn max_f64(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn min_f64(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// Sums: relative to the terms' magnitude, which the per-element part covers for terms of
/// magnitude at most 1 (the tests' inputs).
const SUM_TOL: ReduceTol = ReduceTol {
    atol: 0.0,
    atol_per_element: 1e-6,
    rtol: 1e-5,
};

impl ReduceOp {
    /// The op's table entry.
    pub const fn spec(self) -> ReduceSpec {
        use ReduceOp::*;
        match self {
            Sum => fold(
                "sum",
                sum_impls(),
                (Finish::Total, Empty::Identity),
                split(Sum, BinaryOp::Add),
                SUM_TOL,
            ),
            Mean => fold(
                "mean",
                PerClass {
                    float: sum_impls().float,
                    i32: None,
                    u32: None,
                    bool: None,
                },
                (Finish::DivideByCount, Empty::Identity),
                split(Sum, BinaryOp::Add),
                ReduceTol {
                    atol: 1e-6,
                    atol_per_element: 0.0,
                    rtol: 1e-5,
                },
            ),
            Max => fold(
                "max",
                PerClass {
                    float: Some(fold_impl(
                        f64::NEG_INFINITY,
                        max_f64,
                        wgsl_with("kiln_fmax({0}, {1})", &["kiln_fmax"]),
                    )),
                    i32: Some(fold_impl(i32::MIN, i32::max, wgsl("max({0}, {1})"))),
                    u32: Some(fold_impl(0, u32::max, wgsl("max({0}, {1})"))),
                    bool: None,
                },
                (Finish::Total, Empty::Error),
                split(Max, BinaryOp::Max),
                ReduceTol::EXACT,
            ),
            Min => fold(
                "min",
                PerClass {
                    float: Some(fold_impl(
                        f64::INFINITY,
                        min_f64,
                        wgsl_with("kiln_fmin({0}, {1})", &["kiln_fmin"]),
                    )),
                    i32: Some(fold_impl(i32::MAX, i32::min, wgsl("min({0}, {1})"))),
                    u32: Some(fold_impl(u32::MAX, u32::min, wgsl("min({0}, {1})"))),
                    bool: None,
                },
                (Finish::Total, Empty::Error),
                split(Min, BinaryOp::Min),
                ReduceTol::EXACT,
            ),
            Prod => fold(
                "prod",
                numeric(
                    fold_impl(1.0, |a, b| a * b, wgsl("{0} * {1}")),
                    (1, i32::wrapping_mul),
                    (1, u32::wrapping_mul),
                    wgsl("{0} * {1}"),
                ),
                (Finish::Total, Empty::Identity),
                split(Prod, BinaryOp::Mul),
                ReduceTol {
                    atol: 1e-30,
                    atol_per_element: 0.0,
                    rtol: 1e-5,
                },
            ),
            // `a - b` is NaN for a NaN operand and for equal infinities, where `a + b` is the
            // result; the fold of -inf (the identity, and padding) with `a` is `a` exactly.
            LogSumExp => fold(
                "logsumexp",
                PerClass {
                    float: Some(fold_impl(
                        f64::NEG_INFINITY,
                        super::spec::log_add_exp,
                        wgsl_with(
                            "select(max({0}, {1}) + log(1.0 + exp(-abs({0} - {1}))), {0} + {1}, kiln_isnan({0} - {1}))",
                            &["kiln_isnan"],
                        ),
                    )),
                    i32: None,
                    u32: None,
                    bool: None,
                },
                (Finish::Total, Empty::Error),
                Split {
                    levels: LogSumExp,
                    tail: None,
                },
                ReduceTol {
                    atol: 1e-6,
                    atol_per_element: 1e-7,
                    rtol: 1e-5,
                },
            ),
            ArgMax => ReduceSpec {
                name: "argmax",
                rule: ReduceRule::Arg {
                    value: Max,
                    better: Better::Greater,
                },
                tol: ReduceTol::EXACT,
            },
            ArgMin => ReduceSpec {
                name: "argmin",
                rule: ReduceRule::Arg {
                    value: Min,
                    better: Better::Less,
                },
                tol: ReduceTol::EXACT,
            },
        }
    }

    /// The op's name, as in the API and in `docs/OPS.md`.
    pub const fn name(self) -> &'static str {
        self.spec().name
    }

    /// The binary op that combines two partial results of the fold (`add` for `sum`,
    /// `maximum` for `max`, ...; the table's split tail), where it has one.
    pub const fn tail(self) -> Option<BinaryOp> {
        match self.spec().rule {
            ReduceRule::Fold { split, .. } => split.tail,
            ReduceRule::Arg { .. } => None,
        }
    }

    /// The folds of the values: its own, or for an index reduction that of its value order.
    pub const fn folds(self) -> FoldImpls {
        match self.spec().rule {
            ReduceRule::Fold { impls, .. } => impls,
            ReduceRule::Arg { value, .. } => value.folds(),
        }
    }

    /// The dtypes the op accepts.
    pub const fn accepts(self) -> Accepts {
        self.folds().accepted()
    }

    /// True for index reductions (argmax and argmin).
    pub const fn is_arg(self) -> bool {
        match self.spec().rule {
            ReduceRule::Fold { .. } => false,
            ReduceRule::Arg { .. } => true,
        }
    }

    /// True where an empty reduction has a value (the identity, finished).
    pub const fn has_empty_value(self) -> bool {
        match self.spec().rule {
            ReduceRule::Fold { empty, .. } => match empty {
                Empty::Identity => true,
                Empty::Error => false,
            },
            ReduceRule::Arg { .. } => false,
        }
    }

    /// The identity of the op's fold for `dtype` (of its value order for argmax/argmin), as
    /// a constant; `None` where the op refuses `dtype`.
    pub fn identity(self, dtype: DType) -> Option<Scalar> {
        let f = self.folds();
        match Class::of(dtype) {
            Class::Float => f.float.map(|i| Scalar::F(i.identity)),
            Class::I32 => f.i32.map(|i| Scalar::I(i.identity as i64)),
            Class::U32 => f.u32.map(|i| Scalar::I(i.identity as i64)),
            Class::Bool => f.bool.map(|i| Scalar::B(i.identity)),
        }
    }

    /// The result dtype for an input of `dtype` reducing `count` elements per output.
    pub fn result_dtype(self, dtype: DType, count: usize) -> Result<DType> {
        if !self.folds().accepts(dtype) {
            return Err(IrError::UnsupportedDType {
                op: self.name(),
                dtype,
                why: match self.accepts() {
                    Accepts::Numeric => "numeric dtypes only (cast bool first)",
                    a @ (Accepts::Float
                    | Accepts::Signed
                    | Accepts::Int
                    | Accepts::Any
                    | Accepts::Bool
                    | Accepts::Other) => a.why(),
                },
            });
        }
        if count == 0 && !self.has_empty_value() {
            return Err(IrError::BadShape {
                op: self.name(),
                from: Default::default(),
                to: Default::default(),
                why: "reduction over an empty set of elements has no identity".into(),
            });
        }
        Ok(if self.is_arg() { DType::I32 } else { dtype })
    }

    /// `(atol, rtol)` of an `f32` result of `n` reduced elements (see `docs/OPS.md`).
    pub fn tolerance_f32(self, n: usize) -> (f32, f32) {
        self.spec().tol.at(n)
    }
}

impl ReduceSpec {
    /// The finish of a fold (`None` for index reductions).
    pub const fn rule_finish(&self) -> Option<Finish> {
        match self.rule {
            ReduceRule::Fold { finish, .. } => Some(finish),
            ReduceRule::Arg { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_names_a_known_dtype_set() {
        for op in ALL_REDUCE {
            assert_ne!(op.accepts(), Accepts::Other, "{}", op.name());
            if let ReduceRule::Fold { split, .. } = op.spec().rule {
                // The levels of a split are a plain fold of the same values.
                assert!(!split.levels.is_arg(), "{}", op.name());
                assert_eq!(
                    split.levels.spec().rule_finish(),
                    Some(Finish::Total),
                    "{}",
                    op.name()
                );
            }
        }
    }

    #[test]
    fn empty_and_dtype_rules() {
        assert!(ReduceOp::Mean.result_dtype(DType::I32, 3).is_err());
        assert!(ReduceOp::Sum.result_dtype(DType::Bool, 3).is_err());
        assert!(ReduceOp::Max.result_dtype(DType::F32, 0).is_err());
        assert!(ReduceOp::ArgMin.result_dtype(DType::I32, 0).is_err());
        assert_eq!(
            ReduceOp::Prod.result_dtype(DType::U32, 0).unwrap(),
            DType::U32
        );
        assert_eq!(
            ReduceOp::ArgMax.result_dtype(DType::F16, 2).unwrap(),
            DType::I32
        );
        assert_eq!(
            ReduceOp::ArgMax.identity(DType::I32),
            Some(Scalar::I(i32::MIN as i64))
        );
    }
}

//! The vocabulary of the op tables (`unary.rs`, `binary.rs`, `reduce.rs`): dtype classes,
//! per-class implementations (reference semantics and WGSL template side by side), and
//! tolerances. An op accepts exactly the classes its table entry implements, so the dtype
//! rule, the interpreter and codegen cannot disagree about what an op does on ints.

use crate::DType;

/// Declares an op family's enum and the list of all its ops (in declaration order) from one
/// list of variants, so that an op cannot be missing from the list the tests, docs and tables
/// iterate.
macro_rules! op_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident;
        $(#[$all_meta:meta])*
        pub const $all:ident;
        { $($(#[$vmeta:meta])* $variant:ident,)* }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        $(#[$all_meta])*
        pub const $all: [$name; [$(stringify!($variant)),*].len()] = [$($name::$variant),*];
    };
}
pub(crate) use op_enum;

/// The classes of dtypes an op is defined on. `F32`, `F16` and `BF16` share one class: they
/// compute in `f32` and round to their own precision afterwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// `F32`, `F16`, `BF16`.
    Float,
    /// `I32`.
    I32,
    /// `U32`.
    U32,
    /// `Bool`.
    Bool,
}

impl Class {
    /// The class of `d`.
    pub const fn of(d: DType) -> Class {
        match d {
            DType::F32 | DType::F16 | DType::BF16 => Class::Float,
            DType::I32 => Class::I32,
            DType::U32 => Class::U32,
            DType::Bool => Class::Bool,
            // Read as f32; `Op::infer` lets no computing op take one.
            DType::Quant(_) => Class::Float,
        }
    }

    /// The WGSL type values of this class compute in.
    pub const fn wgsl_type(self) -> &'static str {
        match self {
            Class::Float => "f32",
            Class::I32 => "i32",
            Class::U32 => "u32",
            Class::Bool => "bool",
        }
    }
}

/// A WGSL expression template. Placeholders: `{0}`, `{1}` the operands, `{T}` the operands'
/// WGSL value type, `{Z}` zero of that type. `helpers` are the helper functions it calls
/// (defined in codegen).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wgsl {
    /// The expression.
    pub template: &'static str,
    /// Helper functions the expression calls.
    pub helpers: &'static [&'static str],
}

/// A template that calls no helper.
pub const fn wgsl(template: &'static str) -> Wgsl {
    Wgsl {
        template,
        helpers: &[],
    }
}

/// A template that calls helpers.
pub const fn wgsl_with(template: &'static str, helpers: &'static [&'static str]) -> Wgsl {
    Wgsl { template, helpers }
}

/// One class's implementation of an op: the reference function and its WGSL.
#[derive(Clone, Copy, Debug)]
pub struct Impl<F> {
    /// Reference semantics (computed on `f32` for floats, then rounded to the dtype).
    pub eval: F,
    /// The GPU template.
    pub wgsl: Wgsl,
}

/// An implementation from its parts.
pub const fn imp<F>(eval: F, wgsl: Wgsl) -> Impl<F> {
    Impl { eval, wgsl }
}

/// Per-class entries of an op; `None` where the op does not accept the class.
#[derive(Clone, Copy, Debug)]
pub struct PerClass<F, I, U, B> {
    /// Float dtypes.
    pub float: Option<F>,
    /// `I32`.
    pub i32: Option<I>,
    /// `U32`.
    pub u32: Option<U>,
    /// `Bool`.
    pub bool: Option<B>,
}

impl<F, I, U, B> PerClass<Impl<F>, Impl<I>, Impl<U>, Impl<B>> {
    /// The WGSL template for operands of class `c` (`None` where the op refuses `c`).
    pub const fn wgsl(&self, c: Class) -> Option<Wgsl> {
        match c {
            Class::Float => match &self.float {
                Some(i) => Some(i.wgsl),
                None => None,
            },
            Class::I32 => match &self.i32 {
                Some(i) => Some(i.wgsl),
                None => None,
            },
            Class::U32 => match &self.u32 {
                Some(i) => Some(i.wgsl),
                None => None,
            },
            Class::Bool => match &self.bool {
                Some(i) => Some(i.wgsl),
                None => None,
            },
        }
    }
}

impl<F, I, U, B> PerClass<F, I, U, B> {
    /// True if the op accepts class `c`.
    pub const fn accepts_class(&self, c: Class) -> bool {
        match c {
            Class::Float => self.float.is_some(),
            Class::I32 => self.i32.is_some(),
            Class::U32 => self.u32.is_some(),
            Class::Bool => self.bool.is_some(),
        }
    }

    /// True if the op accepts dtype `d`.
    pub const fn accepts(&self, d: DType) -> bool {
        self.accepts_class(Class::of(d))
    }

    /// The set of accepted dtypes.
    pub const fn accepted(&self) -> Accepts {
        let f = self.float.is_some();
        let i = self.i32.is_some();
        let u = self.u32.is_some();
        let b = self.bool.is_some();
        match (f, i, u, b) {
            (true, false, false, false) => Accepts::Float,
            (true, true, false, false) => Accepts::Signed,
            (true, true, true, false) => Accepts::Numeric,
            (true, true, true, true) => Accepts::Any,
            (false, false, false, true) => Accepts::Bool,
            (false, true, true, false) => Accepts::Int,
            (false, false, false, false)
            | (false, false, true, false)
            | (false, true, false, false)
            | (false, true, true, true)
            | (false, true, false, true)
            | (false, false, true, true)
            | (true, false, true, false)
            | (true, false, false, true)
            | (true, true, false, true)
            | (true, false, true, true) => Accepts::Other,
        }
    }
}

/// The dtype sets ops accept, named as in `docs/OPS.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accepts {
    /// Float dtypes.
    Float,
    /// Float and `I32`.
    Signed,
    /// Everything but `Bool`.
    Numeric,
    /// `I32` and `U32`.
    Int,
    /// Every dtype.
    Any,
    /// `Bool` only.
    Bool,
    /// A set without a name (a table test refuses it).
    Other,
}

impl Accepts {
    /// The set's name in `docs/OPS.md`.
    pub const fn name(self) -> &'static str {
        match self {
            Accepts::Float => "float",
            Accepts::Signed => "signed",
            Accepts::Numeric => "numeric",
            Accepts::Int => "int",
            Accepts::Any => "any",
            Accepts::Bool => "bool",
            Accepts::Other => "irregular",
        }
    }

    /// Why a dtype outside the set is refused (`IrError::UnsupportedDType`).
    pub const fn why(self) -> &'static str {
        match self {
            Accepts::Float => "float dtypes only",
            Accepts::Signed => "float and i32 only",
            Accepts::Numeric => "numeric dtypes only",
            Accepts::Int => "integer dtypes (i32, u32) only",
            Accepts::Any => "",
            Accepts::Bool => "bool only",
            Accepts::Other => "not defined for this dtype",
        }
    }
}

/// The documented tolerance of an `f32` GPU result against the reference:
/// `|gpu - ref| <= atol + rtol * |ref|`. `F16`/`BF16` results add one unit in the last place of
/// their type to `rtol` (`tests/common`), integers and bools are exact.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tol {
    /// Absolute part.
    pub atol: f32,
    /// Relative part.
    pub rtol: f32,
}

impl Tol {
    /// Bit-exact.
    pub const EXACT: Tol = Tol {
        atol: 0.0,
        rtol: 0.0,
    };

    /// A tolerance from its parts.
    pub const fn new(atol: f32, rtol: f32) -> Tol {
        Tol { atol, rtol }
    }

    /// As `(atol, rtol)`.
    pub const fn pair(self) -> (f32, f32) {
        (self.atol, self.rtol)
    }

    /// The tolerance as written in `docs/OPS.md`.
    pub fn describe(self) -> String {
        if self == Tol::EXACT {
            "exact".into()
        } else {
            format!("({:e}, {:e})", self.atol, self.rtol)
        }
    }
}

/// `log(e^a + e^b)` without overflow: `max(a, b) + log(1 + e^-|a - b|)`. Where `a - b` is NaN
/// (a NaN operand, or equal infinities) the result is `a + b`. Softplus is `log_add_exp(x, 0)`;
/// `logsumexp` folds it.
pub(crate) fn log_add_exp(a: f64, b: f64) -> f64 {
    let d = a - b;
    if d.is_nan() {
        a + b
    } else {
        a.max(b) + (-d.abs()).exp().ln_1p()
    }
}

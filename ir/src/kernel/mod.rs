//! Kernels: what the compiler hands to code generation. A kernel is an iteration space, the
//! buffers it binds, the loads it makes through views, a small SSA expression DAG evaluated per
//! point, and what it stores. Sizes live only in the views and the shape, which travel to the GPU
//! in a uniform; everything else is structure, and [`Kernel::key`] names that structure.

use crate::ops::{BinaryOp, RandDist, ReduceOp, ScanOp, UnaryOp};
use crate::view::{View, ViewKind};
use crate::{DType, Scalar, Shape};
use smallvec::{smallvec, SmallVec};

mod ids;
mod verify;

pub use ids::{ExprId, InputId, LoadId, OutputId, StageId};
pub use verify::KernelError;

/// A read of one input buffer through a view over the kernel's iteration coordinates.
#[derive(Clone, Debug, PartialEq)]
pub struct Load {
    /// Which input binding.
    pub input: InputId,
    /// Coordinates to address (and mask). For a gather, the view's shape is the gathered
    /// tensor's and the indexed axis is substituted at run time.
    pub view: View,
}

/// One expression of a kernel body.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// The value of load `l` at the current coordinates (the pad value where masked).
    Load(LoadId),
    /// Whether load `l`'s mask covers the current coordinates.
    LoadValid(LoadId),
    /// Load `l` at the current coordinates with coordinate `axis` replaced by the `I32` value
    /// of `index` (negative counts from the end; out of range reads 0).
    Gather {
        /// The load.
        load: LoadId,
        /// The substituted axis.
        axis: usize,
        /// The expression giving the index.
        index: ExprId,
    },
    /// A constant.
    Const(Scalar),
    /// `start + linear_index * step`.
    Arange {
        /// First value.
        start: Scalar,
        /// Increment.
        step: Scalar,
    },
    /// The counter-based random value of the linear index.
    Rand {
        /// Seed.
        seed: u64,
        /// Distribution.
        dist: RandDist,
    },
    /// A unary op.
    Unary(UnaryOp, ExprId),
    /// A binary op.
    Binary(BinaryOp, ExprId, ExprId),
    /// `where(c, a, b)`.
    Where(ExprId, ExprId, ExprId),
    /// A conversion of the operand to this expression's dtype.
    Cast(ExprId),
    /// The result of reduction stage `s` of this row (reduce kernels), or the accumulated
    /// product (matmul kernels, `s = 0`), already finalized and rounded to this dtype.
    Acc(StageId),
}

impl Expr {
    /// The expressions this one reads, in operand order.
    pub fn operands(&self) -> SmallVec<[ExprId; 3]> {
        match self {
            Expr::Load(_)
            | Expr::LoadValid(_)
            | Expr::Const(_)
            | Expr::Arange { .. }
            | Expr::Rand { .. }
            | Expr::Acc(_) => SmallVec::new(),
            Expr::Gather { index, .. } => smallvec![*index],
            Expr::Unary(_, a) | Expr::Cast(a) => smallvec![*a],
            Expr::Binary(_, a, b) => smallvec![*a, *b],
            Expr::Where(c, a, b) => smallvec![*c, *a, *b],
        }
    }

    /// True when the value depends on its element's own index or coordinates (a gather, a
    /// mask's validity, arange, rand), so it cannot be computed for four elements from one
    /// aligned vector ([`Kernel::choose_vector`]).
    pub fn depends_on_index(&self) -> bool {
        matches!(
            self,
            Expr::Gather { .. } | Expr::LoadValid(_) | Expr::Arange { .. } | Expr::Rand { .. }
        )
    }
}

/// The expressions of `exprs` that `roots` depend on (themselves included), as a mask.
pub fn needed(exprs: &[ExprNode], roots: &[ExprId]) -> Vec<bool> {
    let mut need = vec![false; exprs.len()];
    let mut stack: Vec<ExprId> = roots.to_vec();
    while let Some(e) = stack.pop() {
        if !std::mem::replace(&mut need[e.index()], true) {
            stack.extend(exprs[e.index()].expr.operands());
        }
    }
    need
}

/// One reduction of a reduce kernel: `op` over the reduced dims of expression `expr`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Stage {
    /// The reduction.
    pub op: ReduceOp,
    /// The reduced expression (evaluated at every point of the iteration space).
    pub expr: ExprId,
}

/// A matmul's operand A computed where the product reads it (an operand prologue: the
/// activation, product of vectors or norm that would otherwise be stored by a kernel of its
/// own). A's element at `[batch..., row, k]` is expression `a` evaluated at those coordinates,
/// whose loads view A's space. `stages` reduce expressions over A's row (over `k`), in order;
/// prologue expressions read stage `i` as [`Expr::Acc`]`(i + 1)` (the product is `Acc(0)`),
/// and a stage reads only the stages before it. The lowering fuses a prologue only into
/// matrix-vector products (`m` is 1), where each workgroup reads the whole vector anyway and
/// computes the stages once before the product; a prologue with stages is valid only there.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Prologue {
    /// A's element.
    pub a: ExprId,
    /// Reductions over A's row.
    pub stages: Vec<Stage>,
}

/// Where an output is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Store {
    /// One element per point of the iteration space, at its row-major linear index.
    Full,
    /// One element per row (per point of the kept dims) of a reduce kernel.
    Row,
}

/// One output of a kernel.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    /// The stored dtype.
    pub dtype: DType,
    /// The expression stored.
    pub expr: ExprId,
    /// Per element or per row.
    pub store: Store,
}

/// An expression with its result dtype.
#[derive(Clone, Debug, PartialEq)]
pub struct ExprNode {
    /// The expression.
    pub expr: Expr,
    /// Its dtype.
    pub dtype: DType,
}

/// The kernel's computation pattern.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KernelKind {
    /// One invocation per element of `shape`; each output stores one expression at the linear
    /// index.
    Elementwise,
    /// `shape` is `[kept..., reduced...]`; one workgroup per row (point of the kept dims; one
    /// invocation per short row, as code generation's schedule chooses) runs the stages in
    /// order, each reducing its expression over the last `red_rank` dims (later
    /// stages may read earlier results through [`Expr::Acc`]); then `Row` outputs are stored
    /// once per row and `Full` outputs at every point.
    Reduce {
        /// How many trailing dims of `shape` are reduced.
        red_rank: usize,
        /// The reductions, in order.
        stages: Vec<Stage>,
    },
    /// `shape` is the output `[batch..., m, n]`; load `a` views A as `[batch..., m, k]` and load
    /// `b` views B as `[batch..., k, n]`; outputs are epilogue expressions over
    /// [`Expr::Acc`]`(0)` and loads at the output coordinates.
    Matmul {
        /// The load of A.
        a: LoadId,
        /// The load of B.
        b: LoadId,
        /// The dtype of the product before the epilogue.
        dtype: DType,
        /// A cast fused into A's loads: round each element to this dtype.
        a_round: Option<DType>,
        /// A cast fused into B's loads.
        b_round: Option<DType>,
        /// A computed where the product reads it ([`Prologue`]): `a` is then one of the
        /// loads it reads, which gives A's shape, and `a_round` is `None`.
        prologue: Option<Prologue>,
    },
    /// Fused attention (`kiln_ir::ops::attention`). `shape` is the output, `[batch..., sq,
    /// dv]`, or `[batch..., sq, dv, 3, S]` for a part of a split attention (`partial`);
    /// loads view q as `[batch..., sq, d]`, k as `[batch..., sk, d]`, v as `[batch..., sk,
    /// dv]` and the mask as `[batch..., sq, sk]`. The one output stores [`Expr::Acc`]`(0)`.
    Attention {
        /// The load of q.
        q: LoadId,
        /// The load of k.
        k: LoadId,
        /// The load of v.
        v: LoadId,
        /// The load of the additive mask.
        mask: Option<LoadId>,
        /// The `Expr::Const` holding the scale (its value travels in the uniform).
        scale: ExprId,
        /// Leave out keys past each query's position.
        causal: bool,
        /// A part of a split attention: store each run's `acc`, `m` and `l`.
        partial: bool,
        /// q computed where the kernel reads it (an operand prologue without stages): the
        /// expression of q's element at `[batch..., row, col]`, over loads of q's shape
        /// (a gather's of q's rank); `q` is then one of those loads, which gives q's shape.
        q_prologue: Option<ExprId>,
    },
    /// An inclusive scan along the last dim of `shape`: one workgroup per row (point of the
    /// other dims) folds `expr` (a load or a constant) in order; outputs are stored at every
    /// point and read the running value through [`Expr::Acc`]`(0)`, rounded to its dtype.
    Scan {
        /// The scan.
        op: ScanOp,
        /// The scanned value at each point.
        expr: ExprId,
    },
}

/// One generated kernel.
#[derive(Clone, Debug, PartialEq)]
pub struct Kernel {
    /// A readable name (the ops it covers).
    pub name: String,
    /// Computation pattern.
    pub kind: KernelKind,
    /// Iteration shape (see [`KernelKind`]).
    pub shape: Shape,
    /// Dtypes of the input bindings.
    pub inputs: Vec<DType>,
    /// Loads through views.
    pub loads: Vec<Load>,
    /// The expression DAG, operands before users.
    pub exprs: Vec<ExprNode>,
    /// Outputs, in binding order.
    pub outputs: Vec<Output>,
    /// Elements per vector access: 4 where 4 consecutive elements (of the iteration space, or
    /// of a reduce kernel's row) are one aligned `vec4` of every input and per-element output,
    /// or, in an attention kernel, where every row of its f32 Q, K and V is whole aligned
    /// `vec4`s ([`Kernel::choose_vector`]), else 1. Part of the structure (and the key).
    pub vector: u32,
    /// `(input, output)`: the input is read from the output's buffer, which the runtime gives
    /// the input's data (in-place execution; see [`Kernel::can_run_in_place`]). The input then
    /// has no binding of its own. Part of the key.
    pub inplace: Option<(InputId, OutputId)>,
}

impl Kernel {
    /// Expression `e`.
    ///
    /// # Panics
    /// If `e` is not an expression of this kernel ([`Kernel::verify`] checks every id).
    pub fn expr(&self, e: ExprId) -> &ExprNode {
        &self.exprs[e.index()]
    }

    /// Load `l` (panics like [`Kernel::expr`]).
    pub fn load(&self, l: LoadId) -> &Load {
        &self.loads[l.index()]
    }

    /// The dtype of input binding `i` (panics like [`Kernel::expr`]).
    pub fn input(&self, i: InputId) -> DType {
        self.inputs[i.index()]
    }

    /// Output `o` (panics like [`Kernel::expr`]).
    pub fn output(&self, o: OutputId) -> &Output {
        &self.outputs[o.index()]
    }

    /// The ids of the outputs, in binding order.
    pub fn output_ids(&self) -> impl Iterator<Item = OutputId> {
        (0..self.outputs.len()).map(OutputId::new)
    }

    /// Rows of a reduce kernel, elements of the iteration space otherwise: what the grid
    /// covers.
    pub fn out_numel(&self) -> usize {
        match &self.kind {
            KernelKind::Reduce { red_rank, .. } => self.shape.0[..self.shape.rank() - red_rank]
                .iter()
                .product(),
            KernelKind::Scan { .. } => self.shape.0[..self.shape.rank().saturating_sub(1)]
                .iter()
                .product(),
            _ => self.shape.numel(),
        }
    }

    /// Chooses the vector width from the concrete sizes, 4 or 1. Elementwise kernels: 4 when
    /// every load is contiguous with an offset divisible by 4 and the element count is a
    /// nonzero multiple of 4. Reduce kernels: 4 when the innermost reduced dim is a nonzero
    /// multiple of 4 and every load steps 1 along it, with its offset and every other stride
    /// divisible by 4, unmasked (so that 4 consecutive elements of a row are one aligned
    /// `vec4` of each input, and of each per-element output); in neither where an expression
    /// depends on coordinates element by element (gather, masks, arange, rand). Attention
    /// kernels: 4 when K and V (and Q, unless computed where it is read) are f32 read along
    /// their head with step 1, their heads a nonzero multiple of 4 and their offsets and every
    /// other stride divisible by 4, unmasked, and every input a 32-bit dtype (so that each
    /// binding is a `vec4` array whose elements are still addressed one by one, and a row's 4
    /// columns from a multiple of 4 are one aligned `vec4`). A computed Q is evaluated an
    /// element at a time at its own coordinates, whatever its expression reads.
    pub fn choose_vector(&mut self) {
        let n = self.shape.numel();
        // A quantized element is decoded from its block one at a time.
        let unquantized = self.inputs.iter().all(|d| !d.is_quantized());
        // Four adjacent elements computed as one vector share no per-element index.
        let simple = self.exprs.iter().all(|e| !e.expr.depends_on_index());
        let ok = unquantized
            && n > 0
            && match self.kind {
                KernelKind::Elementwise => {
                    simple
                        && n.is_multiple_of(4)
                        && self.loads.iter().all(|l| {
                            l.view.kind() == ViewKind::Contiguous && l.view.offset % 4 == 0
                        })
                }
                KernelKind::Reduce { red_rank, .. } => {
                    let r = self.shape.rank();
                    simple
                        && red_rank > 0
                        && self.shape.0[r - 1].is_multiple_of(4)
                        && self.loads.iter().all(|l| l.view.rows_of(4))
                }
                // Computed queries are evaluated an element at a time, at their coordinates.
                KernelKind::Attention { .. } => self.attention_rows_aligned(),
                KernelKind::Matmul { .. } | KernelKind::Scan { .. } => false,
            };
        self.vector = if ok { 4 } else { 1 };
    }

    /// Whether an attention kernel may take vector width 4 ([`Kernel::choose_vector`]): every
    /// input a 32-bit dtype, and K and V (and Q, unless computed where it is read) f32,
    /// unmasked, step 1 along a head that is a nonzero multiple of 4, their offsets and other
    /// strides multiples of 4. False for other kernels.
    pub fn attention_rows_aligned(&self) -> bool {
        let KernelKind::Attention {
            q,
            k,
            v,
            q_prologue,
            ..
        } = self.kind
        else {
            return false;
        };
        let r = self.load_rank();
        let aligned = |l: LoadId| {
            let load = self.load(l);
            let head = load.view.shape.0[r - 1];
            self.input(load.input) == DType::F32
                && head > 0
                && head.is_multiple_of(4)
                && load.view.rows_of(4)
        };
        self.inputs
            .iter()
            .all(|d| matches!(d, DType::F32 | DType::I32 | DType::U32 | DType::Bool))
            && [k, v].into_iter().all(aligned)
            // Computed queries are read element by element.
            && (q_prologue.is_some() || aligned(q))
    }

    /// A matmul's inner size `k` (the last dim of A's view); `None` for other kernels.
    pub fn matmul_k(&self) -> Option<usize> {
        match &self.kind {
            KernelKind::Matmul { a, .. } => {
                let r = self.shape.rank();
                Some(self.load(*a).view.shape.0[r - 1])
            }
            _ => None,
        }
    }

    /// The rank of the loads' views: the iteration space's, but two less for a part of a
    /// split attention (whose output adds the values' and the runs' dims).
    pub fn load_rank(&self) -> usize {
        match &self.kind {
            KernelKind::Attention { partial: true, .. } => self.shape.rank().saturating_sub(2),
            _ => self.shape.rank(),
        }
    }

    /// Elements reduced (or scanned) per row (1 for other kernels).
    pub fn red_count(&self) -> usize {
        match &self.kind {
            KernelKind::Reduce { red_rank, .. } => self.shape.0[self.shape.rank() - red_rank..]
                .iter()
                .product(),
            KernelKind::Scan { .. } => self.shape.0.last().copied().unwrap_or(1),
            _ => 1,
        }
    }

    /// The size class of a row: [`Kernel::red_count`] rounded up to a power of two (at least
    /// 1), what schedules are chosen by, so that one class gets one schedule.
    pub fn red_class(&self) -> usize {
        self.red_count().max(1).next_power_of_two()
    }

    /// Elements of output `o`'s buffer.
    pub fn output_numel(&self, o: OutputId) -> usize {
        match self.output(o).store {
            Store::Full => self.shape.numel(),
            Store::Row => self.out_numel(),
        }
    }

    /// The dtype the kernel reads accumulator `s` as (its `Acc(s)` expression), if it reads it.
    pub fn acc_dtype(&self, s: StageId) -> Option<DType> {
        self.exprs
            .iter()
            .find(|x| x.expr == Expr::Acc(s))
            .map(|x| x.dtype)
    }

    /// The expressions that `roots` depend on (themselves included), as a mask over
    /// [`Kernel::exprs`].
    pub fn needed(&self, roots: &[ExprId]) -> Vec<bool> {
        needed(&self.exprs, roots)
    }

    /// The structural cache key: everything the generated code depends on, nothing it reads
    /// from the uniform. Grammar (see `docs/CACHE_KEYS.md`):
    /// `kind ';v' vector ';r' rank ';in' dtypes ';ld' loads ';ex' exprs ';out' outputs
    /// [';ip' input '>' output]`.
    pub fn key(&self) -> String {
        let mut k = String::new();
        match &self.kind {
            KernelKind::Elementwise => k.push_str("ew"),
            KernelKind::Reduce { red_rank, stages } => {
                k.push_str(&format!("red.{red_rank}"));
                for st in stages {
                    k.push_str(&format!(".{}:{}", st.op.name(), st.expr));
                }
            }
            KernelKind::Matmul {
                a,
                b,
                dtype,
                a_round,
                b_round,
                prologue,
            } => {
                k.push_str(&format!("mm.{a}.{b}.{dtype}"));
                for r in [a_round, b_round] {
                    match r {
                        Some(d) => {
                            k.push_str(&format!(".{d}"));
                        }
                        None => k.push_str(".-"),
                    }
                }
                match prologue {
                    Some(p) => {
                        k.push_str(&format!(".p{}", p.a));
                        for st in &p.stages {
                            k.push_str(&format!(":{}:{}", st.op.name(), st.expr));
                        }
                    }
                    None => k.push_str(".-"),
                }
            }
            KernelKind::Attention {
                q,
                k: kl,
                v,
                mask,
                scale,
                causal,
                partial,
                q_prologue,
            } => {
                k.push_str(&format!("att.{q}.{kl}.{v}.{scale}"));
                match mask {
                    Some(m) => k.push_str(&format!(".m{m}")),
                    None => k.push_str(".-"),
                }
                k.push_str(if *causal { ".c" } else { ".-" });
                k.push_str(if *partial { ".p" } else { ".-" });
                match q_prologue {
                    Some(e) => k.push_str(&format!(".q{e}")),
                    None => k.push_str(".-"),
                }
            }
            KernelKind::Scan { op, expr } => k.push_str(&format!("scan.{}:{expr}", op.name())),
        }
        k.push_str(&format!(";v{};r{};in", self.vector, self.shape.rank()));
        for d in &self.inputs {
            k.push_str(&format!(".{d}"));
        }
        k.push_str(";ld");
        for l in &self.loads {
            let kind = match l.view.kind() {
                ViewKind::Contiguous => "c".to_string(),
                ViewKind::Strided => "s".to_string(),
                ViewKind::Masked => {
                    let dt = self.input(l.input);
                    format!(
                        "m{:x}",
                        l.view.pad_value().unwrap_or(Scalar::I(0)).storage_bits(dt)
                    )
                }
            };
            k.push_str(&format!(".{}{}r{}", l.input, kind, l.view.shape.rank()));
        }
        k.push_str(";ex");
        for e in &self.exprs {
            k.push_str(&format!(".{}:", e.dtype));
            match &e.expr {
                Expr::Load(l) => {
                    k.push_str(&format!("ld{l}"));
                }
                Expr::LoadValid(l) => {
                    k.push_str(&format!("ok{l}"));
                }
                Expr::Gather { load, axis, index } => {
                    k.push_str(&format!("ga{load},{axis},{index}"));
                }
                // Constant values live in the uniform (`Param::Const`); booleans stay in the
                // text, so their value is part of the key.
                Expr::Const(s) if e.dtype == DType::Bool => {
                    k.push_str(&format!("k{:x}", s.storage_bits(e.dtype)));
                }
                Expr::Const(_) => k.push('k'),
                // Start, step and the random keys are in the uniform.
                Expr::Arange { .. } => k.push_str("ar"),
                Expr::Rand { dist, .. } => {
                    k.push_str(&format!("rn{}", dist.name()));
                }
                Expr::Unary(u, a) => {
                    k.push_str(&format!("{}({a})", u.name()));
                }
                Expr::Binary(b, x, y) => {
                    k.push_str(&format!("{}({x},{y})", b.name()));
                }
                Expr::Where(c, x, y) => {
                    k.push_str(&format!("where({c},{x},{y})"));
                }
                Expr::Cast(a) => {
                    k.push_str(&format!("cast({a})"));
                }
                Expr::Acc(s) => {
                    k.push_str(&format!("acc{s}"));
                }
            }
        }
        k.push_str(";out");
        for o in &self.outputs {
            let st = if o.store == Store::Row { "r" } else { "f" };
            k.push_str(&format!(".{}:{}{}", o.dtype, st, o.expr));
        }
        if let Some((i, o)) = self.inplace {
            k.push_str(&format!(";ip{i}>{o}"));
        }
        k
    }

    /// True when output `o` may be written over input `i`'s buffer: an elementwise kernel
    /// (each invocation loads all of its elements before it stores any) whose every load of
    /// `i` is contiguous from offset 0 over the whole iteration space, so that element `j` of
    /// the output depends on element `j` of the input and on no other, and whose output has
    /// the input's dtype. That the two buffers are as large is the memory plan's check.
    pub fn can_run_in_place(&self, i: InputId, o: OutputId) -> bool {
        let n = self.shape.numel();
        matches!(self.kind, KernelKind::Elementwise)
            && self.input(i) == self.output(o).dtype
            && self.output(o).store == Store::Full
            && self.loads.iter().any(|l| l.input == i)
            && self.loads.iter().filter(|l| l.input == i).all(|l| {
                l.view.kind() == ViewKind::Contiguous
                    && l.view.offset == 0
                    && l.view.shape.numel() == n
            })
            && !self
                .exprs
                .iter()
                .any(|e| matches!(e.expr, Expr::Gather { load, .. } if self.load(load).input == i))
    }
}

//! The verifier of lowered kernels: what code generation relies on, checked before it runs.
//! Lowering runs it on every kernel in debug builds (and so in tests); a failure is a compiler
//! bug, reported as a typed error rather than as wrong code or a panic in codegen.

use super::{Expr, ExprId, InputId, Kernel, KernelKind, LoadId, OutputId, StageId, Store};
use crate::DType;

/// Why a lowered kernel is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    /// An expression reads one that is not before it (the list is in dependency order).
    #[error("expression {expr} reads expression {operand}, which is not before it")]
    ExprOrder {
        /// The reader.
        expr: ExprId,
        /// The operand.
        operand: ExprId,
    },
    /// A stage or an output names an expression past the end of the list.
    #[error("{what} names expression {expr}, but the kernel has {count}")]
    ExprOutOfRange {
        /// Who names it.
        what: String,
        /// The expression.
        expr: ExprId,
        /// Expressions in the kernel.
        count: usize,
    },
    /// A load named past the end of the loads.
    #[error("{what} names load {load}, but the kernel has {count}")]
    LoadOutOfRange {
        /// Who names it.
        what: String,
        /// The load.
        load: LoadId,
        /// Loads in the kernel.
        count: usize,
    },
    /// A load reads an input binding past the end of the inputs.
    #[error("load {load} reads input {input}, but the kernel has {count}")]
    InputOutOfRange {
        /// The load.
        load: LoadId,
        /// The input.
        input: InputId,
        /// Inputs in the kernel.
        count: usize,
    },
    /// A load's view does not have the rank its kernel addresses it with.
    #[error("load {load} has a view of rank {rank}, the kernel addresses rank {expected}")]
    LoadRank {
        /// The load.
        load: LoadId,
        /// Its view's rank.
        rank: usize,
        /// The kernel's rank.
        expected: usize,
    },
    /// An accumulator that does not exist in this kind of kernel, or not yet.
    #[error("expression {expr} reads accumulator {stage}: {why}")]
    BadAcc {
        /// The expression.
        expr: ExprId,
        /// The stage it reads.
        stage: StageId,
        /// What is wrong.
        why: &'static str,
    },
    /// An expression's dtype is not the one its op gives for its operands.
    #[error("expression {expr} has dtype {found}: {why}")]
    ExprDType {
        /// The expression.
        expr: ExprId,
        /// Its dtype.
        found: DType,
        /// What its op requires or gives.
        why: String,
    },
    /// An output whose dtype is not its expression's.
    #[error("output {output} stores dtype {found} from an expression of dtype {expected}")]
    OutputDType {
        /// The output.
        output: OutputId,
        /// The stored dtype.
        found: DType,
        /// The expression's dtype.
        expected: DType,
    },
    /// The outputs do not fit the kernel kind.
    #[error("outputs: {0}")]
    Outputs(String),
    /// The iteration shape, the reduced rank or the stages do not fit the kernel kind.
    #[error("shape: {0}")]
    Shape(String),
    /// A matmul whose operands are not two distinct, unmasked loads of matching shapes.
    #[error("matmul: {0}")]
    Matmul(String),
    /// An attention kernel whose operands, scale or output do not fit together.
    #[error("attention: {0}")]
    Attention(String),
    /// An in-place pair that is out of range or not allowed.
    #[error("in place: input {input} over output {output} is not allowed ({why})")]
    InPlace {
        /// The input.
        input: InputId,
        /// The output.
        output: OutputId,
        /// What is wrong.
        why: &'static str,
    },
    /// A vector width other than 1 or 4, or 4 where the kernel kind has no vector form (an
    /// attention kernel: where its rows are not aligned f32 vectors).
    #[error("vector width {0} is not valid for this kernel")]
    Vector(u32),
}

type Check = Result<(), KernelError>;

impl Kernel {
    /// Checks the kernel's structure: ids in range and in order, dtypes as the ops give them,
    /// outputs, shapes, stages and matmul operands as the kernel kind needs, and the in-place
    /// pair allowed.
    pub fn verify(&self) -> Check {
        // In this order: each check relies on the ids and shapes the earlier ones checked.
        self.verify_loads()?;
        self.verify_kind()?;
        self.verify_exprs()?;
        self.verify_stage_order()?;
        self.verify_outputs()?;
        self.verify_inplace()?;
        match (self.vector, &self.kind) {
            (1, _) | (4, KernelKind::Elementwise | KernelKind::Reduce { .. }) => Ok(()),
            (4, KernelKind::Attention { .. }) if self.attention_rows_aligned() => Ok(()),
            (v, _) => Err(KernelError::Vector(v)),
        }
    }

    pub(super) fn check_expr(&self, what: impl FnOnce() -> String, e: ExprId) -> Check {
        if e.index() < self.exprs.len() {
            return Ok(());
        }
        Err(KernelError::ExprOutOfRange {
            what: what(),
            expr: e,
            count: self.exprs.len(),
        })
    }

    fn check_load(&self, what: impl FnOnce() -> String, l: LoadId) -> Check {
        if l.index() < self.loads.len() {
            return Ok(());
        }
        Err(KernelError::LoadOutOfRange {
            what: what(),
            load: l,
            count: self.loads.len(),
        })
    }

    fn verify_loads(&self) -> Check {
        let rank = self.load_rank();
        for (i, l) in self.loads.iter().enumerate() {
            let load = LoadId::new(i);
            if l.input.index() >= self.inputs.len() {
                return Err(KernelError::InputOutOfRange {
                    load,
                    input: l.input,
                    count: self.inputs.len(),
                });
            }
            if l.view.shape.rank() != rank {
                return Err(KernelError::LoadRank {
                    load,
                    rank: l.view.shape.rank(),
                    expected: rank,
                });
            }
        }
        Ok(())
    }

    /// The stages an `Acc` may name: a reduce kernel's, or a matmul's product (stage 0) and
    /// its prologue's stages (1 on).
    fn acc_count(&self) -> usize {
        match &self.kind {
            KernelKind::Elementwise => 0,
            KernelKind::Reduce { stages, .. } => stages.len(),
            KernelKind::Matmul { prologue, .. } => {
                1 + prologue.as_ref().map_or(0, |p| p.stages.len())
            }
            KernelKind::Attention { .. } | KernelKind::Scan { .. } => 1,
        }
    }

    fn verify_exprs(&self) -> Check {
        for (i, node) in self.exprs.iter().enumerate() {
            let expr = ExprId::new(i);
            let earlier = |operand: ExprId| {
                if operand.index() < i {
                    Ok(self.expr(operand).dtype)
                } else {
                    Err(KernelError::ExprOrder { expr, operand })
                }
            };
            let dtype_err = |why: String| KernelError::ExprDType {
                expr,
                found: node.dtype,
                why,
            };
            let expect = |d: DType| {
                if node.dtype == d {
                    Ok(())
                } else {
                    Err(dtype_err(format!("its op gives {d}")))
                }
            };
            let what = || format!("expression {expr}");
            match &node.expr {
                Expr::Load(l) => {
                    self.check_load(what, *l)?;
                    expect(self.input(self.load(*l).input))?;
                }
                Expr::LoadValid(l) => {
                    self.check_load(what, *l)?;
                    expect(DType::Bool)?;
                }
                Expr::Gather { load, axis, index } => {
                    self.check_load(what, *load)?;
                    if earlier(*index)? != DType::I32 {
                        return Err(dtype_err("its index is not i32".into()));
                    }
                    if *axis >= self.shape.rank() {
                        return Err(dtype_err(format!("gather axis {axis} is past the rank")));
                    }
                    expect(self.input(self.load(*load).input))?;
                }
                Expr::Const(_) => {}
                Expr::Arange { .. } if node.dtype.is_numeric() => {}
                Expr::Rand { .. } if node.dtype.is_float() => {}
                Expr::Arange { .. } | Expr::Rand { .. } => {
                    return Err(dtype_err("not a dtype this source produces".into()));
                }
                Expr::Unary(op, a) => {
                    let d = op
                        .result_dtype(earlier(*a)?)
                        .map_err(|e| dtype_err(e.to_string()))?;
                    expect(d)?;
                }
                Expr::Binary(op, a, b) => {
                    let (da, db) = (earlier(*a)?, earlier(*b)?);
                    let d = op
                        .result_dtype(da, db)
                        .map_err(|e| dtype_err(e.to_string()))?;
                    expect(d)?;
                }
                Expr::Where(c, a, b) => {
                    let (dc, da, db) = (earlier(*c)?, earlier(*a)?, earlier(*b)?);
                    if dc != DType::Bool || da != db {
                        return Err(dtype_err(format!(
                            "where needs a bool condition and equal branches, got {dc}, {da}, {db}"
                        )));
                    }
                    expect(da)?;
                }
                Expr::Cast(a) => {
                    earlier(*a)?;
                }
                Expr::Acc(s) => {
                    if s.index() >= self.acc_count() {
                        return Err(KernelError::BadAcc {
                            expr,
                            stage: *s,
                            why: "no such stage in this kernel",
                        });
                    }
                    self.verify_acc_dtype(expr, *s)?;
                }
            }
        }
        Ok(())
    }

    /// The dtype of `Acc(s)` at `expr`: the reduction's result dtype for its operand, or the
    /// matmul's product dtype.
    fn verify_acc_dtype(&self, expr: ExprId, s: StageId) -> Check {
        let found = self.expr(expr).dtype;
        let expected = match &self.kind {
            KernelKind::Elementwise => return Ok(()),
            KernelKind::Reduce { stages, .. } => {
                let st = &stages[s.index()];
                let operand = self.expr(st.expr).dtype;
                st.op.result_dtype(operand, self.red_count()).map_err(|e| {
                    KernelError::ExprDType {
                        expr,
                        found,
                        why: e.to_string(),
                    }
                })?
            }
            KernelKind::Matmul {
                dtype, prologue, a, ..
            } => match (s.index(), prologue) {
                (0, _) | (_, None) => *dtype,
                (i, Some(p)) => {
                    let st = &p.stages[i - 1];
                    let operand = self.expr(st.expr).dtype;
                    // Over A's row: `k` values (the load is checked in `verify_kind`).
                    let count = self
                        .loads
                        .get(a.index())
                        .and_then(|l| l.view.shape.0.last().copied())
                        .unwrap_or(1);
                    st.op
                        .result_dtype(operand, count)
                        .map_err(|e| KernelError::ExprDType {
                            expr,
                            found,
                            why: e.to_string(),
                        })?
                }
            },
            // The output's dtype: q's, or f32 for the parts of a split attention.
            KernelKind::Attention { partial, q, .. } => {
                if *partial {
                    DType::F32
                } else {
                    self.input(self.load(*q).input)
                }
            }
            KernelKind::Scan { op, expr: value } => op
                .result_dtype(self.expr(*value).dtype)
                .map_err(|e| KernelError::ExprDType {
                    expr,
                    found,
                    why: e.to_string(),
                })?,
        };
        if found == expected {
            return Ok(());
        }
        Err(KernelError::ExprDType {
            expr,
            found,
            why: format!("accumulator {s} gives {expected}"),
        })
    }

    fn verify_kind(&self) -> Check {
        let rank = self.shape.rank();
        match &self.kind {
            KernelKind::Elementwise => Ok(()),
            KernelKind::Reduce { red_rank, stages } => {
                if *red_rank == 0 || *red_rank > rank {
                    return Err(KernelError::Shape(format!(
                        "{red_rank} reduced dims in an iteration space of rank {rank}"
                    )));
                }
                if stages.is_empty() {
                    return Err(KernelError::Shape("a reduce kernel without stages".into()));
                }
                for (i, st) in stages.iter().enumerate() {
                    self.check_expr(|| format!("stage {i}"), st.expr)?;
                }
                Ok(())
            }
            KernelKind::Matmul {
                a,
                b,
                dtype,
                a_round,
                b_round,
                prologue,
            } => {
                self.check_load(|| "matmul operand a".into(), *a)?;
                self.check_load(|| "matmul operand b".into(), *b)?;
                if a == b {
                    return Err(KernelError::Matmul(format!("a and b are both load {a}")));
                }
                if rank < 2 {
                    return Err(KernelError::Matmul(format!("output rank {rank}")));
                }
                let (va, vb) = (&self.load(*a).view, &self.load(*b).view);
                // A prologue's loads are read through its expression, masks included.
                if (va.mask.is_some() && prologue.is_none()) || vb.mask.is_some() {
                    return Err(KernelError::Matmul("a masked operand".into()));
                }
                let (sa, sb, so) = (&va.shape.0, &vb.shape.0, &self.shape.0);
                let batch = ..rank - 2;
                if sa[batch] != so[batch]
                    || sb[batch] != so[batch]
                    || sa[rank - 2] != so[rank - 2]
                    || sb[rank - 1] != so[rank - 1]
                    || sa[rank - 1] != sb[rank - 2]
                {
                    return Err(KernelError::Matmul(format!(
                        "operands {} @ {} do not give {}",
                        va.shape, vb.shape, self.shape
                    )));
                }
                let float = |d: &Option<DType>| d.is_none_or(|d| d.is_float());
                if !dtype.is_numeric() || !float(a_round) || !float(b_round) {
                    return Err(KernelError::Matmul(format!(
                        "product dtype {dtype}, operand roundings {a_round:?}, {b_round:?}"
                    )));
                }
                match prologue {
                    Some(p) => self.verify_prologue(p, (*a, *b), *dtype, a_round.is_some()),
                    None => self.epilogue_reads_no_stage(0),
                }
            }
            KernelKind::Attention {
                q,
                k,
                v,
                mask,
                scale,
                partial,
                q_prologue,
                ..
            } => {
                self.verify_attention([*q, *k, *v], *mask, *scale, *partial, q_prologue.is_some())?;
                match q_prologue {
                    Some(e) => self.verify_q_prologue(*e, *q, [*k, *v].into_iter().chain(*mask)),
                    None => Ok(()),
                }
            }
            KernelKind::Scan { expr, .. } => {
                if rank == 0 {
                    return Err(KernelError::Shape("a scan of rank 0".into()));
                }
                self.check_expr(|| "scanned value".into(), *expr)?;
                if !matches!(self.expr(*expr).expr, Expr::Load(_) | Expr::Const(_)) {
                    return Err(KernelError::Shape(format!(
                        "the scanned value {expr} is not a load or a constant"
                    )));
                }
                Ok(())
            }
        }
    }

    /// An attention kernel: distinct unmasked float loads of matching shapes (see
    /// [`KernelKind::Attention`]), a constant scale, and one output of its `Acc(0)`.
    fn verify_attention(
        &self,
        qkv: [LoadId; 3],
        mask: Option<LoadId>,
        scale: ExprId,
        partial: bool,
        computed_q: bool,
    ) -> Check {
        let bad = |why: String| Err(KernelError::Attention(why));
        let loads: Vec<LoadId> = qkv.iter().copied().chain(mask).collect();
        for (i, &l) in loads.iter().enumerate() {
            self.check_load(|| format!("attention operand {i}"), l)?;
            if loads[..i].contains(&l) {
                return bad(format!("load {l} is two operands"));
            }
            if i == 0 && computed_q {
                // Its expression's load of q's shape, checked with the expression.
                continue;
            }
            if self.load(l).view.mask.is_some() {
                return bad(format!("operand {i} is masked"));
            }
            if !self.input(self.load(l).input).is_float() {
                return bad(format!("operand {i} is not float"));
            }
        }
        self.check_expr(|| "attention scale".into(), scale)?;
        if !matches!(self.expr(scale).expr, Expr::Const(_)) {
            return bad(format!("the scale {scale} is not a constant"));
        }
        let r = self.load_rank();
        if r < 2 {
            return bad(format!("operands of rank {r}"));
        }
        let [q, k, v] = qkv.map(|l| &self.load(l).view.shape.0);
        let (sq, d, sk, dv) = (q[r - 2], q[r - 1], k[r - 2], v[r - 1]);
        let mut out = q[..r - 1].to_vec();
        out.push(dv);
        if partial {
            out.push(3);
            out.push(self.shape.0.get(r + 1).copied().unwrap_or(0));
        }
        let batch = ..r - 2;
        if k[batch] != q[batch] || v[batch] != q[batch] || k[r - 1] != d || v[r - 2] != sk {
            return bad(format!("q {q:?}, k {k:?}, v {v:?} do not fit"));
        }
        if self.shape.0.as_slice() != out.as_slice() {
            return bad(format!("output {} where {out:?} is due", self.shape));
        }
        if let Some(m) = mask {
            let ms = &self.load(m).view.shape.0;
            if ms[batch] != q[batch] || ms[r - 2] != sq || ms[r - 1] != sk {
                return bad(format!("mask {ms:?} for q {q:?}, k {k:?}"));
            }
        }
        let acc = self
            .exprs
            .iter()
            .position(|e| e.expr == Expr::Acc(StageId::new(0)));
        match self.outputs.as_slice() {
            [o] if Some(o.expr.index()) == acc && o.store == Store::Full => Ok(()),
            _ => bad("one output, of the attention's value".into()),
        }
    }

    /// Each stage of a reduce kernel reads only the results of stages before it.
    fn verify_stage_order(&self) -> Check {
        if let KernelKind::Reduce { stages, .. } = &self.kind {
            for (i, st) in stages.iter().enumerate() {
                self.stage_reads_earlier(StageId::new(i), st.expr)?;
            }
        }
        Ok(())
    }

    /// Stage `stage` may read only the results of stages before it.
    pub(super) fn stage_reads_earlier(&self, stage: StageId, root: ExprId) -> Check {
        let need = self.needed(&[root]);
        for (i, node) in self.exprs.iter().enumerate() {
            if let (true, Expr::Acc(s)) = (need[i], &node.expr) {
                if *s >= stage {
                    return Err(KernelError::BadAcc {
                        expr: ExprId::new(i),
                        stage: *s,
                        why: "read by a stage that is not after it",
                    });
                }
            }
        }
        Ok(())
    }

    fn verify_outputs(&self) -> Check {
        if self.outputs.is_empty() {
            return Err(KernelError::Outputs("a kernel that stores nothing".into()));
        }
        for o in self.output_ids() {
            let out = self.output(o);
            self.check_expr(|| format!("output {o}"), out.expr)?;
            let expected = self.expr(out.expr).dtype;
            if out.dtype != expected {
                return Err(KernelError::OutputDType {
                    output: o,
                    found: out.dtype,
                    expected,
                });
            }
            let row_ok = matches!(self.kind, KernelKind::Reduce { .. });
            if out.store == Store::Row && !row_ok {
                return Err(KernelError::Outputs(format!(
                    "output {o} is stored per row outside a reduce kernel"
                )));
            }
        }
        Ok(())
    }

    fn verify_inplace(&self) -> Check {
        let Some((input, output)) = self.inplace else {
            return Ok(());
        };
        let err = |why| KernelError::InPlace { input, output, why };
        if input.index() >= self.inputs.len() || output.index() >= self.outputs.len() {
            return Err(err("out of range"));
        }
        if !self.can_run_in_place(input, output) {
            return Err(err("the output may not overwrite that input"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod computed_q_tests;
mod prologue;
#[cfg(test)]
mod tests;

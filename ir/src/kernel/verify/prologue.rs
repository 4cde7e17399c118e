//! The verifier's checks of operand prologues: a matmul's A ([`crate::kernel::Prologue`]) and
//! attention's q (`q_prologue` of [`crate::kernel::KernelKind::Attention`]).

use super::{Check, KernelError};
use crate::kernel::{Expr, ExprId, Kernel, LoadId, Prologue, StageId};
use crate::DType;

impl Kernel {
    /// A matmul's operand prologue `p` ([`crate::kernel::Prologue`]) in a product of
    /// `dtype` whose loads are `a` and `b`: only where A has one row a batch; A's expression
    /// of the product's dtype, reading no accumulator but its stages'; stages in order (float
    /// folds, not argmax or argmin), each reading only earlier stages; all of them reading
    /// `a` or loads over A's shape only (not B's load), with no rounding on A's load (a cast
    /// is part of the expression); the outputs reading the product, not the stages.
    pub(super) fn verify_prologue(
        &self,
        p: &Prologue,
        (a, b): (LoadId, LoadId),
        dtype: DType,
        a_round: bool,
    ) -> Check {
        let err = |why: String| KernelError::Matmul(format!("prologue {}: {why}", p.a));
        let bad = |why: String| Err(err(why));
        self.check_expr(|| "matmul prologue".into(), p.a)?;
        let found = self.expr(p.a).dtype;
        if found != dtype || !found.is_float() || a_round {
            return bad(format!(
                "A of {found} in a product of {dtype}, or A rounded on load"
            ));
        }
        // A vector a batch: its stages are folded once a batch, over its one row.
        let rows = self.shape.0[self.shape.rank() - 2];
        if rows != 1 {
            return bad(format!("{rows} rows of A (one row a batch only)"));
        }
        for (i, st) in p.stages.iter().enumerate() {
            self.check_expr(|| format!("prologue stage {i}"), st.expr)?;
            if st.op.is_arg() || !self.expr(st.expr).dtype.is_float() {
                return bad(format!(
                    "stage {i}: {} of {}",
                    st.op.name(),
                    self.expr(st.expr).dtype
                ));
            }
            // Stage `i` is `Acc(i + 1)`: it reads only `Acc(1..=i)`.
            self.stage_reads_earlier(StageId::new(i + 1), st.expr)?;
            self.reads_space(st.expr, a, &[b])
                .map_err(|why| err(format!("stage {i}: {why}")))?;
        }
        self.stage_reads_earlier(StageId::new(p.stages.len() + 1), p.a)?;
        let reads_a = self.reads_space(p.a, a, &[b]).map_err(err)?;
        if !reads_a {
            return bad(format!("it does not read load {a}"));
        }
        self.epilogue_reads_no_stage(p.stages.len())
    }

    /// Attention's computed q `e` (see [`crate::kernel::KernelKind::Attention`]): an
    /// expression of the operands' dtype (k's, `k` the first of `others`), as is load `q`,
    /// reading no accumulator, load `q` (not through a gather), and only loads over q's shape,
    /// none of the other operands' loads `others`.
    pub(super) fn verify_q_prologue(
        &self,
        e: ExprId,
        q: LoadId,
        others: impl Iterator<Item = LoadId>,
    ) -> Check {
        let bad = |why: String| Err(KernelError::Attention(format!("computed q {e}: {why}")));
        self.check_expr(|| "attention's computed q".into(), e)?;
        let others: Vec<LoadId> = others.collect();
        let dtype = match others.first() {
            Some(&k) => self.input(self.load(k).input),
            None => return bad("no k".into()),
        };
        let (found, q_dtype) = (self.expr(e).dtype, self.input(self.load(q).input));
        if found != dtype || q_dtype != dtype || !dtype.is_float() {
            return bad(format!(
                "q of {found}, its load of {q_dtype}, in an attention over {dtype}"
            ));
        }
        // No stage: it reads no accumulator past the result's either.
        self.stage_reads_earlier(StageId::new(1), e)?;
        match self.reads_space(e, q, &others) {
            Ok(true) => Ok(()),
            Ok(false) => bad(format!("it does not read load {q}")),
            Err(why) => bad(why),
        }
    }

    /// Whether expression `root` reads load `a` (not through a gather), after checking that
    /// it reads no product (`Acc(0)`), none of the loads `others`, and only loads over `a`'s
    /// shape (a gather's of its rank).
    fn reads_space(&self, root: ExprId, a: LoadId, others: &[LoadId]) -> Result<bool, String> {
        let need = self.needed(&[root]);
        let mut reads_a = false;
        for (i, e) in self.exprs.iter().enumerate().filter(|(i, _)| need[*i]) {
            // A gather's view has the gathered tensor's shape: its rank is A's.
            let (l, gather) = match e.expr {
                Expr::Load(l) | Expr::LoadValid(l) => (l, false),
                Expr::Gather { load, .. } => (load, true),
                Expr::Acc(s) if s.index() == 0 => {
                    return Err(format!("expression e{i} reads the product"))
                }
                Expr::Acc(_)
                | Expr::Const(_)
                | Expr::Arange { .. }
                | Expr::Rand { .. }
                | Expr::Unary(..)
                | Expr::Binary(..)
                | Expr::Where(..)
                | Expr::Cast(_) => continue,
            };
            reads_a |= l == a && !gather;
            let (shape, a_shape) = (&self.load(l).view.shape, &self.load(a).view.shape);
            let fits = if gather {
                shape.rank() == a_shape.rank()
            } else {
                shape == a_shape
            };
            if others.contains(&l) || !fits {
                return Err(format!(
                    "load {l} is another operand's or does not view the operand's shape"
                ));
            }
        }
        Ok(reads_a)
    }

    /// A matmul's outputs read the product (`Acc(0)`), none of its `stages` prologue stages.
    pub(super) fn epilogue_reads_no_stage(&self, stages: usize) -> Check {
        let roots: Vec<ExprId> = self.outputs.iter().map(|o| o.expr).collect();
        let need = self.needed(&roots);
        for (i, node) in self.exprs.iter().enumerate() {
            if let (true, Expr::Acc(s)) = (need[i], &node.expr) {
                if s.index() > 0 {
                    return Err(KernelError::BadAcc {
                        expr: ExprId::new(i),
                        stage: *s,
                        why: if s.index() <= stages {
                            "a prologue stage read by an output"
                        } else {
                            "no such stage in this kernel"
                        },
                    });
                }
            }
        }
        Ok(())
    }
}

//! The shared part of every kernel body: coordinates from a linear index, loads through views,
//! and the expression DAG. Kernel templates (elementwise, reduce, matmul) call into this.

use crate::code::Code;
use crate::dequant;
use crate::ops;
use crate::params::{Param, ParamLayout};
use crate::types::{self, info};
use crate::CodegenError;
use kiln_ir::ops::{Class, RandDist};
use kiln_ir::quant::BlockFormat;
use kiln_ir::{DType, Expr, ExprId, InputId, Kernel, LoadId, Scalar, Store, ViewKind};
use std::collections::{BTreeMap, BTreeSet};

mod storage;

/// Body-building state for one kernel.
pub struct Emitter<'k> {
    /// The kernel.
    pub k: &'k Kernel,
    /// Uniform slots used so far.
    pub params: ParamLayout,
    /// Helper functions used so far.
    pub helpers: BTreeSet<&'static str>,
    /// Quantized bindings read so far, with their formats (each gets its decoding
    /// functions, [`crate::dequant`]).
    quantized: BTreeMap<String, BlockFormat>,
    /// Components of each value: 4 in a vectorized kernel, else 1. With 4, [`Emitter::exprs`]
    /// emits every load and expression once per component (named by [`value_name`]), one
    /// statement for all four components before the next; loads read component `c` of one
    /// aligned vector (`V{l}`, or the register slot `rc{l}_{j}` of a cached row). CPU adapters run each statement for a whole SIMD row of invocations, so
    /// interleaved components are four independent chains the core overlaps; one component's
    /// chain after another leaves a CPU adapter waiting on each op's latency (the measurement
    /// is in docs/journal/).
    pub lanes: usize,
    /// The component being emitted, while `lanes` > 1.
    lane: Option<usize>,
    /// In a row kernel that keeps its row in registers, the slot being emitted: the loads in
    /// `held` read `rc{l}_{slot}` and `rq{l}_{slot}` (value and validity) instead of memory.
    pub cached: Option<u32>,
    /// The loads a row kernel holds in registers (those its reduction stages read); the
    /// others are read from memory where used.
    pub held: Vec<LoadId>,
    /// How the device stores tensors.
    pub target: types::Target,
    /// WGSL extensions the kernel enables beyond `f16` for 16-bit bindings (`enable NAME;`),
    /// noted by the template.
    pub enables: BTreeSet<&'static str>,
    /// f16 inputs bound as `vec4<u32>` (8 elements a vector) so that the tensor-core
    /// template can stage 16 bytes a load; their single elements are read out of a vector
    /// ([`Emitter::read`]). Chosen by the template before any body is emitted.
    pub wide: BTreeSet<InputId>,
}

impl<'k> Emitter<'k> {
    /// A fresh emitter.
    pub fn new(k: &'k Kernel, target: types::Target) -> Self {
        Emitter {
            k,
            target,
            params: ParamLayout::default(),
            helpers: BTreeSet::new(),
            quantized: BTreeMap::new(),
            lanes: 1,
            lane: None,
            cached: None,
            held: Vec::new(),
            enables: BTreeSet::new(),
            wide: BTreeSet::new(),
        }
    }

    /// `expr` rounded to `d`'s precision where `d` is stored wider than it computes (f16, bf16),
    /// else `expr` unchanged.
    pub fn round(&mut self, d: DType, expr: String) -> String {
        match info(d).round {
            Some(r) => {
                self.use_helpers(&[r]);
                format!("{r}({expr})")
            }
            None => expr,
        }
    }

    /// Notes helpers (and their dependencies) as used.
    pub fn use_helpers(&mut self, names: &[&'static str]) {
        for &n in names {
            if self.helpers.insert(n) {
                if let Some(h) = ops::helper(n) {
                    self.use_helpers(h.deps);
                }
            }
        }
    }

    /// Writes the helper definitions used, in a stable order, then the decoding functions of
    /// the quantized bindings read.
    pub fn helper_text(&self, out: &mut Code) {
        for h in ops::HELPERS {
            if self.helpers.contains(h.name) {
                out.push_str(h.text);
                out.push_str("\n");
            }
        }
        for (buf, f) in &self.quantized {
            dequant::define(out, *f, buf);
        }
    }

    /// Writes the binding declarations: uniform at 0, inputs, then outputs (after
    /// `enable f16;` where a binding holds `f16`).
    pub fn bindings(&self, s: &mut Code) {
        let dtypes = self.k.inputs.iter().copied();
        let f16 = self
            .target
            .needs_f16(dtypes.chain(self.k.outputs.iter().map(|o| o.dtype)));
        let mut enables = self.enables.clone();
        if f16 {
            enables.insert("f16");
        }
        for name in enables {
            writeln!(s, "enable {name};");
        }
        write!(s,
            "struct Params {{ p: array<vec4<u32>, {}> }}\n@group(0) @binding(0) var<uniform> P: Params;\n",
            self.params.vec4s()
        );
        // Quantized inputs take their format's element (`dequant::binding_type`); packed
        // dtypes are words even in a vector kernel (a vector is two of them), atomic where
        // written.
        let elem = |d: DType, vector: bool, written: bool| {
            if let Some(f) = d.quant() {
                crate::dequant::binding_type(f).to_string()
            } else if self.target.packed(d) {
                if written { "atomic<u32>" } else { "u32" }.to_string()
            } else if vector {
                format!("vec4<{}>", self.target.storage(d))
            } else {
                self.target.storage(d).to_string()
            }
        };
        let vector = self.k.vector == 4;
        let mut binding = 1;
        for (i, d) in self.k.inputs.iter().enumerate() {
            if self.k.inplace.is_some_and(|(a, _)| a.index() == i) {
                continue;
            }
            let ty = if self.wide.contains(&InputId::new(i)) {
                "vec4<u32>".to_string()
            } else {
                elem(*d, vector, false)
            };
            writeln!(
                s,
                "@group(0) @binding({binding}) var<storage, read> in{i}: array<{ty}>;"
            );
            binding += 1;
        }
        for (o, out) in self.k.outputs.iter().enumerate() {
            writeln!(
                s,
                "@group(0) @binding({binding}) var<storage, read_write> out{o}: array<{}>;",
                // Per-row outputs of a reduce kernel, and an attention kernel's, stay scalar.
                elem(out.dtype, vector && self.vector_output(out), true)
            );
            binding += 1;
        }
    }

    /// Whether output `out` of a vector kernel is bound as `vec4`s: per-element outputs,
    /// except an attention kernel's, whose invocations (and a split attention's workgroups)
    /// write single elements side by side, each to its own scalar binding element.
    pub fn vector_output(&self, out: &kiln_ir::Output) -> bool {
        out.store == Store::Full && !matches!(self.k.kind, kiln_ir::KernelKind::Attention { .. })
    }

    /// The buffer input `input` is read from: `in{input}`, or the output it runs in place of.
    pub fn input_buf(&self, input: InputId) -> String {
        match self.k.inplace {
            Some((i, o)) if i == input => format!("out{o}"),
            _ => format!("in{input}"),
        }
    }

    /// Emits `let c{d} = ...` for dims `dims` of the iteration shape from the linear index `lin`.
    pub fn coords(&mut self, out: &mut Code, ind: &str, lin: &str, dims: std::ops::Range<usize>) {
        if dims.is_empty() {
            return;
        }
        writeln!(out, "{ind}var rem_{lin} = {lin};");
        let first = dims.start;
        for d in dims.rev() {
            if d == first {
                writeln!(out, "{ind}let c{d} = rem_{lin};");
            } else {
                let dim = self.params.u32(Param::Dim(d));
                writeln!(out, "{ind}let c{d} = rem_{lin} % {dim};");
                writeln!(out, "{ind}rem_{lin} = rem_{lin} / {dim};");
            }
        }
    }

    /// The signed address of load `l` at coordinates `c*`, skipping dim `skip`.
    fn address(&mut self, l: LoadId, skip: Option<usize>) -> String {
        let rank = self.k.load(l).view.shape.rank();
        let mut a = self.params.i32(Param::Offset(l));
        for d in 0..rank {
            if Some(d) == skip {
                continue;
            }
            let s = self.params.i32(Param::Stride(l, d));
            a.push_str(&format!(" + i32(c{d}) * {s}"));
        }
        a
    }

    /// The expressions that `roots` depend on (themselves included), as a mask.
    pub fn needed(&self, roots: &[ExprId]) -> Vec<bool> {
        self.k.needed(roots)
    }

    /// True if any of the expressions `roots` need per-dimension coordinates.
    pub fn roots_need_coords(&self, roots: &[ExprId]) -> bool {
        let need = self.needed(roots);
        self.k.exprs.iter().enumerate().any(|(i, e)| {
            need[i]
                && match e.expr {
                    Expr::Load(l) | Expr::LoadValid(l) => {
                        self.k.load(l).view.kind() != ViewKind::Contiguous
                    }
                    Expr::Gather { .. } => true,
                    _ => false,
                }
        })
    }

    /// The loads (plain, not gathers) that the expressions `roots` read.
    pub fn loads_of(&self, roots: &[ExprId]) -> Vec<LoadId> {
        let need = self.needed(roots);
        (0..self.k.loads.len())
            .map(LoadId::new)
            .filter(|&l| {
                self.k.exprs.iter().enumerate().any(|(i, e)| {
                    need[i] && matches!(e.expr, Expr::Load(x) | Expr::LoadValid(x) if x == l)
                })
            })
            .collect()
    }

    /// Runs `f` with `lanes` components per value (see [`Emitter::lanes`]), then back to one.
    pub fn with_lanes<R>(&mut self, lanes: usize, f: impl FnOnce(&mut Self) -> R) -> R {
        self.lanes = lanes;
        let r = f(self);
        self.lanes = 1;
        r
    }

    /// Emits `let ld{l}` (value) and `let ok{l}` (inside the view) for each load `l` of `loads`
    /// at linear index `lin` and coordinates `c*`.
    pub fn load_values(&mut self, out: &mut Code, ind: &str, lin: &str, loads: &[LoadId]) {
        let k = self.k;
        for &l in loads {
            let load = &k.load(l);
            let dt = k.input(load.input);
            if self.lanes > 1 {
                // The vector of the elements from `lin` on: a register slot of a row kernel,
                // else one aligned read.
                let v = match self.cached.filter(|_| self.held.contains(&l)) {
                    Some(j) => format!("rc{l}_{j}"),
                    None => {
                        let v = self.vector_at(out, ind, lin, l);
                        writeln!(out, "{ind}let V{l} = {v};");
                        format!("V{l}")
                    }
                };
                for c in 0..self.lanes {
                    let v = self.target.from_storage(&format!("{v}[{c}]"), dt);
                    writeln!(out, "{ind}let ld{l}_{c} = {v};");
                    writeln!(out, "{ind}let ok{l}_{c} = true;");
                }
                continue;
            }
            if let Some(j) = self.cached.filter(|_| self.held.contains(&l)) {
                writeln!(out, "{ind}let ld{l} = rc{l}_{j};");
                writeln!(out, "{ind}let ok{l} = rq{l}_{j};");
                continue;
            }
            match load.view.kind() {
                ViewKind::Contiguous => {
                    let off = self.params.u32(Param::Offset(l));
                    let buf = self.input_buf(load.input);
                    let v = self.read(load.input, &buf, &format!("{lin} + {off}"));
                    writeln!(out, "{ind}let ld{l} = {v};");
                    writeln!(out, "{ind}let ok{l} = true;");
                }
                ViewKind::Strided => {
                    let a = self.address(l, None);
                    writeln!(out, "{ind}let a{l} = {a};");
                    let buf = self.input_buf(load.input);
                    let v = self.read(load.input, &buf, &format!("u32(a{l})"));
                    writeln!(out, "{ind}let ld{l} = {v};");
                    writeln!(out, "{ind}let ok{l} = true;");
                }
                ViewKind::Masked => {
                    let rank = load.view.shape.rank();
                    let mut conds = Vec::new();
                    for d in 0..rank {
                        let lo = self.params.u32(Param::MaskLo(l, d));
                        let hi = self.params.u32(Param::MaskHi(l, d));
                        conds.push(format!("c{d} >= {lo} && c{d} < {hi}"));
                    }
                    let cond = if conds.is_empty() {
                        "true".to_string()
                    } else {
                        conds.join(" && ")
                    };
                    let a = self.address(l, None);
                    let pad = load.view.pad_value().unwrap_or(Scalar::I(0));
                    writeln!(out, "{ind}let ok{l} = {cond};");
                    writeln!(out, "{ind}let a{l} = select(0, {a}, ok{l});");
                    let buf = self.input_buf(load.input);
                    let v = self.read(load.input, &buf, &format!("u32(a{l})"));
                    self.use_helpers(types::literal_helpers(pad, dt));
                    writeln!(
                        out,
                        "{ind}let ld{l} = select({}, {v}, ok{l});",
                        types::literal(pad, dt)
                    );
                }
            }
        }
    }

    /// Emits the loads and expressions that `roots` need, one `let e{n}` each (per component
    /// where `lanes` > 1), into `out`. `Acc(s)` reads the variable `red{s}`, which the template
    /// defines.
    pub fn exprs(
        &mut self,
        out: &mut Code,
        ind: &str,
        lin: &str,
        roots: &[ExprId],
    ) -> Result<(), CodegenError> {
        self.exprs_beyond(out, ind, lin, roots, &[])
    }

    /// [`Emitter::exprs`] for `roots`, less what `emitted` (emitted before, in scope) needs.
    pub fn exprs_beyond(
        &mut self,
        out: &mut Code,
        ind: &str,
        lin: &str,
        roots: &[ExprId],
        emitted: &[ExprId],
    ) -> Result<(), CodegenError> {
        let done = self.needed(emitted);
        let mut need = self.needed(roots);
        for (n, d) in need.iter_mut().zip(&done) {
            *n &= !d;
        }
        let before = self.loads_of(emitted);
        let mut loads = self.loads_of(roots);
        loads.retain(|l| !before.contains(l));
        self.load_values(out, ind, lin, &loads);
        let lanes: Vec<Option<usize>> = if self.lanes > 1 {
            (0..self.lanes).map(Some).collect()
        } else {
            vec![None]
        };
        for n in (0..self.k.exprs.len())
            .filter(|&n| need[n])
            .map(ExprId::new)
        {
            for &c in &lanes {
                self.lane = c;
                let val = self.value(out, ind, lin, n);
                self.lane = None;
                let ty = info(self.k.expr(n).dtype).value;
                writeln!(out, "{ind}let {}: {ty} = {};", value_name(n, c), val?);
            }
        }
        Ok(())
    }

    /// The WGSL value of expression `n` in the component being emitted; statements it needs
    /// first (a gather's index arithmetic) go to `out`.
    fn value(
        &mut self,
        out: &mut Code,
        ind: &str,
        lin: &str,
        n: ExprId,
    ) -> Result<String, CodegenError> {
        let k = self.k;
        let node = &k.expr(n);
        let d = node.dtype;
        let operand_dtype = |i: ExprId| k.expr(i).dtype;
        let lane = self.lane;
        let e = |i: ExprId| value_name(i, lane);
        let refused = |why| CodegenError::Structure {
            kernel: k.name.clone(),
            why,
        };
        // Per-component values come from whole vectors; `choose_vector` keeps out whatever
        // depends on an element's own index or coordinates.
        if lane.is_some() && node.expr.depends_on_index() {
            return Err(CodegenError::Structure {
                kernel: k.name.clone(),
                why: "an index-dependent expression in a vectorized kernel".into(),
            });
        }
        let val = match &node.expr {
            Expr::Load(l) => lane_name("ld", *l, lane),
            Expr::LoadValid(l) => lane_name("ok", *l, lane),
            Expr::Const(s) => match d {
                // Booleans take no arithmetic to fold; the text keeps them.
                DType::Bool => types::literal(*s, d),
                _ => types::from_bits(d, &self.params.u32(Param::Const(n))),
            },
            Expr::Gather { load, axis, index } => {
                let l = *load;
                let input = k.load(l).input;
                let n_ax = self.params.i32(Param::LoadDim(l, *axis));
                let base = self.address(l, Some(*axis));
                let s = self.params.i32(Param::Stride(l, *axis));
                let zero = types::literal(Scalar::I(0), d);
                writeln!(out, "{ind}let gi{n} = {};", e(*index));
                writeln!(
                    out,
                    "{ind}let gj{n} = select(gi{n}, gi{n} + {n_ax}, gi{n} < 0);"
                );
                writeln!(out, "{ind}let gok{n} = gj{n} >= 0 && gj{n} < {n_ax};");
                writeln!(
                    out,
                    "{ind}let ga{n} = select(0, {base} + gj{n} * {s}, gok{n});"
                );
                let buf = self.input_buf(input);
                let v = self.read(input, &buf, &format!("u32(ga{n})"));
                format!("select({zero}, {v}, gok{n})")
            }
            Expr::Arange { .. } => {
                // Floats compute in f32 from f32 start and step, then round (as the reference).
                // Start and step are read from the uniform: another range is the same kernel.
                let a = types::from_bits(d, &self.params.u32(Param::ArangeStart(n)));
                let b = types::from_bits(d, &self.params.u32(Param::ArangeStep(n)));
                match d {
                    DType::I32 => format!("({a} + bitcast<i32>({lin}) * {b})"),
                    DType::U32 => format!("({a} + {lin} * {b})"),
                    _ => format!("({a} + f32({lin}) * {b})"),
                }
            }
            Expr::Rand { dist, .. } => {
                self.use_helpers(&["kiln_mix", "kiln_uniform"]);
                // The stream keys are read from the uniform: a new seed is the same kernel.
                let keys: Vec<String> = (0..dist.streams())
                    .map(|s| self.params.u32(Param::RandKey(n, s)))
                    .collect();
                let h = |stream: usize| {
                    let key = &keys[stream];
                    format!("kiln_mix(kiln_mix({lin} ^ {key}) + {key})")
                };
                match dist {
                        RandDist::Uniform => format!("kiln_uniform({})", h(0)),
                        RandDist::Normal => format!(
                            "(sqrt(-2.0 * log(1.0 - kiln_uniform({}))) * -cos(6.28318530717958648 * kiln_uniform({}) - 3.14159265358979324))",
                            h(0),
                            h(1)
                        ),
                    }
            }
            Expr::Unary(op, a) => {
                let t = ops::unary(*op, operand_dtype(*a)).map_err(refused)?;
                self.use_helpers(t.helpers);
                ops::render(&t, Class::of(operand_dtype(*a)), &[&e(*a)])
            }
            Expr::Binary(op, a, b) => {
                let t = ops::binary(*op, operand_dtype(*a)).map_err(refused)?;
                self.use_helpers(t.helpers);
                ops::render(&t, Class::of(operand_dtype(*a)), &[&e(*a), &e(*b)])
            }
            Expr::Where(c, a, b) => format!("select({}, {}, {})", e(*b), e(*a), e(*c)),
            Expr::Acc(s) => format!("red{s}"),
            Expr::Cast(a) => {
                let t = ops::cast(operand_dtype(*a), d);
                self.use_helpers(t.helpers);
                ops::render(&t, Class::of(operand_dtype(*a)), &[&e(*a)])
            }
        };
        // f16 and bf16 results are rounded after every computing op.
        let computes = !matches!(
            node.expr,
            Expr::Load(_)
                | Expr::LoadValid(_)
                | Expr::Gather { .. }
                | Expr::Const(_)
                | Expr::Where(..)
                | Expr::Acc(_)
        );
        Ok(if computes { self.round(d, val) } else { val })
    }
}

/// The WGSL name of expression `n`'s value: `e{n}`, or `e{n}_{c}` for component `c` of a
/// vectorized kernel.
pub fn value_name(n: ExprId, lane: Option<usize>) -> String {
    lane_name("e", n, lane)
}

/// `{prefix}{n}`, suffixed `_{c}` for component `c`.
fn lane_name(prefix: &str, n: impl std::fmt::Display, lane: Option<usize>) -> String {
    match lane {
        Some(c) => format!("{prefix}{n}_{c}"),
        None => format!("{prefix}{n}"),
    }
}

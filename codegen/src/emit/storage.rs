//! Reading and writing storage buffers from a kernel body: an element or an aligned vector of
//! an input in its storage form (16-bit f16, packed bf16, quantized blocks, `vec4` bindings),
//! and the statements that store an output's elements and vectors.

use super::{value_name, Emitter};
use crate::code::Code;
use crate::dequant;
use crate::params::Param;
use kiln_ir::{DType, ExprId, InputId, LoadId, ViewKind};

impl Emitter<'_> {
    /// Element `idx` (a `u32` expression) of input `input`'s buffer `buf` as a value: the
    /// stored element converted ([`Emitter::elem`]), its half of a word of a wide binding
    /// ([`Emitter::wide`]), or a quantized element decoded from its block.
    pub fn read(&mut self, input: InputId, buf: &str, idx: &str) -> String {
        let d = self.k.input(input);
        match d.quant() {
            Some(f) => {
                self.quantized.insert(buf.to_string(), f);
                format!("{}({idx})", dequant::reader(buf))
            }
            None if self.target.packed(d) => {
                self.use_helpers(&["kiln_bf16_get"]);
                format!(
                    "kiln_bf16_get({}, {idx})",
                    self.packed_word(input, buf, &format!("({idx}) >> 1u"))
                )
            }
            None if self.wide.contains(&input) => {
                self.use_helpers(&["kiln_f16_of_word"]);
                format!("kiln_f16_of_word({buf}[({idx}) >> 3u][(({idx}) >> 1u) & 3u], {idx})")
            }
            None => self.target.from_storage(&self.elem(buf, idx), d),
        }
    }
    /// Word `w` of input `input`'s packed buffer `buf`: an output's words are atomic (their
    /// halves are written by two invocations), so an input that runs in place of an output
    /// reads them with `atomicLoad`.
    fn packed_word(&self, input: InputId, buf: &str, w: &str) -> String {
        if matches!(self.k.inplace, Some((i, _)) if i == input) {
            format!("atomicLoad(&{buf}[{w}])")
        } else {
            format!("{buf}[{w}]")
        }
    }
    /// The statement storing value `v` (an expression of the output's dtype, already rounded
    /// to it) as element `idx` of output `o`: converted to storage, a component of a `vec4`
    /// in a vector kernel, or, where packed, the element's half of its word, written with two
    /// atomic operations that touch only that half (the other half belongs to another
    /// invocation; pooled buffers are not cleared, so the half is cleared first).
    pub fn store(&mut self, o: usize, idx: &str, v: &str) -> String {
        let d = self.k.outputs[o].dtype;
        if self.target.packed(d) {
            self.use_helpers(&["kiln_bf16_bits"]);
            return format!(
                "{{ let at = {idx}; let sh = (at & 1u) * 16u; atomicAnd(&out{o}[at >> 1u], ~(0xffffu << sh)); atomicOr(&out{o}[at >> 1u], kiln_bf16_bits({v}) << sh); }}"
            );
        }
        let v = self.target.to_storage(v, d);
        // Per-row outputs of a reduce kernel, and an attention kernel's outputs, are scalar
        // bindings in a vector kernel too.
        if !self.vector_output(&self.k.outputs[o]) {
            format!("out{o}[{idx}] = {v};")
        } else {
            format!("{} = {v};", self.elem(&format!("out{o}"), idx))
        }
    }
    /// The statement storing the four components of expression `n` (emitted with
    /// [`Emitter::lanes`] 4) as vector `j` of output `o`: one `vec4` in storage form, or,
    /// where packed, two whole words (no other invocation writes them).
    pub fn store_vector(&mut self, o: usize, j: &str, n: ExprId) -> String {
        let d = self.k.outputs[o].dtype;
        if self.target.packed(d) {
            self.use_helpers(&["kiln_bf16_pack2"]);
            let v = |c| value_name(n, Some(c));
            return format!(
                "atomicStore(&out{o}[2u * ({j})], kiln_bf16_pack2({}, {})); atomicStore(&out{o}[2u * ({j}) + 1u], kiln_bf16_pack2({}, {}));",
                v(0),
                v(1),
                v(2),
                v(3)
            );
        }
        let comps: Vec<String> = (0..4)
            .map(|c| self.target.to_storage(&value_name(n, Some(c)), d))
            .collect();
        format!(
            "out{o}[{j}] = vec4<{}>({});",
            self.target.storage(d),
            comps.join(", ")
        )
    }
    /// The type a vector read of input dtype `d` gives ([`Emitter::vector_at`]).
    pub fn vector_type(&self, d: DType) -> String {
        if self.target.packed(d) {
            "vec4<f32>".into()
        } else {
            format!("vec4<{}>", self.target.storage(d))
        }
    }
    /// Element `idx` of buffer `buf` as WGSL: `buf[idx]`, or the component of a `vec4` where
    /// the kernel's bindings are vectors ([`Kernel::vector`](kiln_ir::Kernel) 4), for the
    /// accesses that go element by element in a vector kernel (a reduce kernel's long rows,
    /// and the loads and per-element stores of its scalar paths).
    pub fn elem(&self, buf: &str, idx: &str) -> String {
        if self.k.vector == 4 {
            format!("{buf}[({idx}) / 4u][({idx}) % 4u]")
        } else {
            format!("{buf}[{idx}]")
        }
    }
    /// The aligned `vec4` of load `l` holding the 4 elements from linear index `lin` on (its
    /// first element's coordinates `c*` emitted already where the view needs them);
    /// [`Kernel::choose_vector`](kiln_ir::Kernel::choose_vector) makes it a whole vector.
    pub fn vector_at(&mut self, out: &mut Code, ind: &str, lin: &str, l: LoadId) -> String {
        let input = self.k.load(l).input;
        let buf = self.input_buf(input);
        let first = if self.k.load(l).view.kind() == ViewKind::Contiguous {
            let off = self.params.u32(Param::Offset(l));
            format!("({lin} + {off})")
        } else {
            let a = self.address(l, None);
            writeln!(out, "{ind}let a{l} = {a};");
            format!("u32(a{l})")
        };
        if self.target.packed(self.k.input(input)) {
            // Elements `first..first + 4`: two whole words.
            self.use_helpers(&["kiln_bf16_unpack4"]);
            let w0 = self.packed_word(input, &buf, &format!("{first} / 2u"));
            let w1 = self.packed_word(input, &buf, &format!("{first} / 2u + 1u"));
            return format!("kiln_bf16_unpack4({w0}, {w1})");
        }
        format!("{buf}[{first} / 4u]")
    }
}

//! The standard workloads of `kiln-bench` and the criterion benches (see `docs/PERFORMANCE.md`),
//! built with kiln's own Tensor API. Each builds a [`Workload`]: placeholders, inputs, the
//! compiled program and the numbers needed to turn a time into a metric.

use kiln::{BlockFormat, DType, Device, HostTensor, Program, Result, Shape, Tensor};

mod burn_ops;
mod encoder;
mod llm;
pub use encoder::EncoderLayer;

/// Problem sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// For lavapipe and CI-sized machines.
    Small,
    /// For a datacenter GPU.
    Large,
}

/// Names of the standard workloads, in run order.
pub const NAMES: [&str; 35] = [
    "copy",
    "copy_f16",
    "gelu_chain",
    "softmax",
    "softmax_f16",
    "layernorm",
    "row_sum",
    "full_sum",
    "matmul",
    "matmul_f16",
    "matmul_batched",
    "matmul_bias_gelu",
    "gemv",
    "gemv_t",
    "gemv_q8_0",
    "gemv_q4_0",
    "gemv_q4_k",
    "gemv_q6_k",
    "launch_overhead",
    "transformer_layer",
    "transformer_layer_f16",
    "attention",
    "attention_causal",
    "attention_f16",
    "attention_causal_f16",
    "attention_decode",
    "attention_decode_gqa",
    "llm_decode_1b",
    "llm_decode_8b",
    "llm_prefill_1b",
    "conv2d",
    "max_pool",
    "cumsum",
    "topk",
    "scatter_add",
];

/// How a workload's time becomes its metric.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Metric {
    /// Bytes moved per run: reported in GB/s.
    Bytes(f64),
    /// Floating-point operations per run: reported in TFLOP/s.
    Flops(f64),
    /// Ops per run: reported in microseconds per op.
    PerOp(f64),
    /// Tokens per run: reported in tokens per second.
    Tokens(f64),
    /// Reported as milliseconds.
    Millis,
}

impl Metric {
    /// The metric value for a run time in milliseconds, and its unit.
    pub fn value(self, ms: f64) -> (f64, &'static str) {
        match self {
            Metric::Bytes(b) => (b / (ms * 1e-3) / 1e9, "GB/s"),
            Metric::Flops(f) => (f / (ms * 1e-3) / 1e12, "TFLOP/s"),
            Metric::PerOp(n) => (ms * 1e3 / n, "us per op"),
            Metric::Tokens(n) => (n / (ms * 1e-3), "tokens/s"),
            Metric::Millis => (ms, "ms"),
        }
    }
}

/// A built workload.
pub struct Workload {
    /// Its name.
    pub name: &'static str,
    /// Its shape, as reported.
    pub shape: String,
    /// The inputs bound to the program's placeholders (realized, on the device).
    pub inputs: Vec<Tensor>,
    /// The output tensors, as built lazily from the placeholders (for reference checks).
    pub lazy_outputs: Vec<Tensor>,
    /// The placeholders.
    pub placeholders: Vec<Tensor>,
    /// How time becomes the metric.
    pub metric: Metric,
    /// `(output, input)`: outputs a run gives back as the next run's inputs, donated (a
    /// decode step's KV caches, written where they lie; see `runner.rs`).
    pub carry: Vec<(usize, usize)>,
    /// Whether it reads quantized weights, as inputs or captured (a model's).
    pub quantized: bool,
    /// The products of a chain of quantized products, in order ([`chain_link`]; `gemv_q*`
    /// with more than one), else none. Where the vector is rounded to 8 bits, the `tanh` of
    /// outputs near 0 turns the rounding's error into flipped signs, so the chain's result is
    /// no measure of a product's accuracy: `--check` takes the chain link by link
    /// ([`crate::check`]).
    pub links: Vec<Tensor>,
}

impl Workload {
    /// Compiles the workload into a program.
    pub fn compile(&self) -> Result<Program> {
        let ph: Vec<&Tensor> = self.placeholders.iter().collect();
        let out: Vec<&Tensor> = self.lazy_outputs.iter().collect();
        let donated: Vec<usize> = self.carry.iter().map(|&(_, i)| i).collect();
        Program::compile_donating(&ph, &out, &donated)
    }

    /// Input references in placeholder order.
    pub fn input_refs(&self) -> Vec<&Tensor> {
        self.inputs.iter().collect()
    }
}

struct Builder<'d> {
    dev: &'d Device,
    seed: u64,
    placeholders: Vec<Tensor>,
    inputs: Vec<Tensor>,
}

impl<'d> Builder<'d> {
    /// A placeholder with a random input in [-1, 1] bound to it.
    fn input(&mut self, shape: &[usize]) -> Result<Tensor> {
        self.input_of(shape, DType::F32)
    }

    /// [`Builder::input`] of another dtype.
    fn input_of(&mut self, shape: &[usize], dtype: DType) -> Result<Tensor> {
        self.seed += 1;
        let value = Tensor::rand_on(self.dev, shape, -1.0, 1.0, self.seed, dtype)?;
        value.realize()?;
        let p = Tensor::placeholder_on(self.dev, dtype, shape)?;
        self.placeholders.push(p.clone());
        self.inputs.push(value);
        Ok(p)
    }

    /// A placeholder bound to seeded random blocks of `format` (values up to about 0.1 times
    /// the format's largest code).
    fn quantized_input(&mut self, shape: &[usize], format: BlockFormat) -> Result<Tensor> {
        self.seed += 1;
        let n = shape.iter().product();
        let h = HostTensor::quantized(
            format,
            Shape::new(shape),
            &format.random_blocks(n, self.seed),
        )?;
        let value = Tensor::from_host_on(self.dev, h)?;
        let p = Tensor::placeholder_on(self.dev, DType::Quant(format), shape)?;
        self.placeholders.push(p.clone());
        self.inputs.push(value);
        Ok(p)
    }

    /// A weight captured into the program (scaled for a stable forward pass).
    fn weight(&mut self, shape: &[usize], scale: f64) -> Result<Tensor> {
        self.seed += 1;
        let w = Tensor::rand_on(self.dev, shape, -scale, scale, self.seed, DType::F32)?;
        w.realize()?;
        Ok(w)
    }

    fn finish(
        self,
        name: &'static str,
        shape: String,
        out: Vec<Tensor>,
        metric: Metric,
    ) -> Workload {
        Workload {
            name,
            shape,
            quantized: self.inputs.iter().any(|t| t.dtype().is_quantized()),
            inputs: self.inputs,
            lazy_outputs: out,
            placeholders: self.placeholders,
            metric,
            carry: Vec::new(),
            links: Vec::new(),
        }
    }
}

/// The `gelu_chain` expression: `tanh(exp(gelu(x * 1.5 + 0.5)))`.
pub fn gelu_chain(x: &Tensor) -> Result<Tensor> {
    x.mul_scalar(1.5)?.add_scalar(0.5)?.gelu()?.exp()?.tanh()
}

/// Bytes an f16 element takes on `dev`, as its storage target stores it.
fn f16_bytes(dev: &Device) -> f64 {
    dev.gpu().map_or(4, |g| g.target.storage_bytes(DType::F16)) as f64
}

/// Quantized gemvs a `gemv_q*` workload chains by default (see [`build`]): one weight run
/// again and again stays in a last-level cache as large as it (Q4_0's and Q4_K's 38 MB at
/// 8192² in an H100's 50 MB) and times what that cache gives, not memory.
pub const GEMV_CHAIN: usize = 4;

/// Link `i` of a chain of quantized products: `x @ w^T` for the chain's vector `x` (`i` 0),
/// else for the `tanh` of the previous product `x`, its first `k` values (`w` is `[rows,
/// k]`).
pub fn chain_link(x: &Tensor, w: &Tensor, i: usize) -> Result<Tensor> {
    let v = match i {
        0 => x.clone(),
        _ => x.tanh()?.narrow(1, 0, w.dims()[1])?,
    };
    v.matmul(&w.cast(DType::F32)?.transpose(0, 1)?)
}

/// Builds the named workload at a size, or `None` for an unknown name.
///
/// The quantized gemvs take another shape as `NAME@ROWSxK` (`gemv_q4_k@14336x4096`: a decode
/// step's product alone), `K` a multiple of the format's block, or `NAME@ROWSxKxN`: `N`
/// such products in a chain, each on a weight of its own, the first `K` of each output
/// (through `tanh`, fused into its product) the next one's vector (`ROWS >= K` where `N > 1`). One product
/// run again and again reads a weight that fits the last-level cache (an H100's 50 MB) from
/// there; a chain of distinct weights larger than it reads them from memory, one product
/// after another, as a decode step does.
pub fn build(dev: &Device, name: &str, size: Size) -> Result<Option<Workload>> {
    let large = size == Size::Large;
    let (name, dims) = match name.split_once('@') {
        Some((n, d)) if n.starts_with("gemv_q") => {
            // A shape that does not parse, or breaks these rules, names no workload.
            let v: std::result::Result<Vec<usize>, _> = d.split('x').map(str::parse).collect();
            match v.as_deref() {
                Ok(&[r, k]) => (n, Some((r, k, 1))),
                Ok(&[r, k, c]) if c >= 1 && (c == 1 || r >= k) => (n, Some((r, k, c))),
                Ok(_) | Err(_) => return Ok(None),
            }
        }
        Some(_) => return Ok(None),
        None => (name, None),
    };
    let mut b = Builder {
        dev,
        seed: 0x5eed,
        placeholders: vec![],
        inputs: vec![],
    };
    let f = 4.0f64;
    let (rows, cols) = if large { (8192, 4096) } else { (256, 1024) };
    let rc = format!("{rows}x{cols}");
    let w = match name {
        "copy" => {
            let n = if large { 1 << 28 } else { 1 << 20 };
            let x = b.input(&[n])?;
            b.finish(
                "copy",
                format!("{n}"),
                vec![x],
                Metric::Bytes(2.0 * n as f64 * f),
            )
        }
        "copy_f16" => {
            // The copy of an f16 tensor: the bytes 16-bit storage saves.
            let n = if large { 1 << 28 } else { 1 << 20 };
            let x = b.input_of(&[n], DType::F16)?;
            let f = f16_bytes(dev);
            b.finish(
                "copy_f16",
                format!("{n}"),
                vec![x],
                Metric::Bytes(2.0 * n as f64 * f),
            )
        }
        "gelu_chain" => {
            let n = if large { 1 << 28 } else { 1 << 20 };
            let x = b.input(&[n])?;
            let y = gelu_chain(&x)?;
            b.finish(
                "gelu_chain",
                format!("{n}"),
                vec![y],
                Metric::Bytes(2.0 * n as f64 * f),
            )
        }
        "softmax" => {
            let x = b.input(&[rows, cols])?;
            let y = x.softmax(-1)?;
            b.finish(
                "softmax",
                rc,
                vec![y],
                Metric::Bytes(2.0 * (rows * cols) as f64 * f),
            )
        }
        "softmax_f16" => {
            // f16 in and out, f32 inside: half softmax's bytes where f16 is stored in 16 bits.
            let x = b.input_of(&[rows, cols], DType::F16)?;
            let y = x.softmax(-1)?;
            let f = f16_bytes(dev);
            b.finish(
                "softmax_f16",
                rc,
                vec![y],
                Metric::Bytes(2.0 * (rows * cols) as f64 * f),
            )
        }
        "layernorm" => {
            let x = b.input(&[rows, cols])?;
            let g = b.weight(&[cols], 1.0)?;
            let be = b.weight(&[cols], 1.0)?;
            let y = x.layer_norm(Some(&g), Some(&be), 1e-5)?;
            b.finish(
                "layernorm",
                rc,
                vec![y],
                Metric::Bytes(2.0 * (rows * cols) as f64 * f),
            )
        }
        "row_sum" => {
            let x = b.input(&[rows, cols])?;
            let y = x.sum(&[-1], false)?;
            b.finish(
                "row_sum",
                rc,
                vec![y],
                Metric::Bytes((rows * cols) as f64 * f),
            )
        }
        "full_sum" => {
            let x = b.input(&[rows, cols])?;
            let y = x.sum(&[], false)?;
            b.finish(
                "full_sum",
                rc,
                vec![y],
                Metric::Bytes((rows * cols) as f64 * f),
            )
        }
        "matmul_batched" => {
            // matmul_bias_gelu without its epilogue: the pair measures the epilogue's cost.
            let (bt, n) = if large { (16, 2048) } else { (2, 256) };
            let x = b.input(&[bt, n, n])?;
            let y = b.input(&[bt, n, n])?;
            let z = x.matmul(&y)?;
            let flops = 2.0 * bt as f64 * (n as f64).powi(3);
            b.finish(
                "matmul_batched",
                format!("{bt}x{n}x{n}x{n}"),
                vec![z],
                Metric::Flops(flops),
            )
        }
        "matmul" | "matmul_f16" => {
            // matmul_f16: f16 operands and result, f32 accumulation.
            let (name, dtype) = if name == "matmul" {
                ("matmul", DType::F32)
            } else {
                ("matmul_f16", DType::F16)
            };
            let n = if large { 4096 } else { 512 };
            let x = b.input_of(&[n, n], dtype)?;
            let y = b.input_of(&[n, n], dtype)?;
            let z = x.matmul(&y)?;
            let flops = 2.0 * (n as f64).powi(3);
            b.finish(name, format!("{n}x{n}x{n}"), vec![z], Metric::Flops(flops))
        }
        "gemv" | "gemv_t" => {
            // A matrix-vector product (decode-time linear layer): every matrix element read
            // once. `gemv`: W stored [k, n] (x @ W); `gemv_t`: W stored [n, k] (x @ W^T, as
            // nn.Linear keeps it).
            let n = if large { 8192 } else { 1024 };
            let x = b.input(&[1, n])?;
            let z = if name == "gemv" {
                x.matmul(&b.input(&[n, n])?)?
            } else {
                x.matmul(&b.input(&[n, n])?.transpose(0, 1)?)?
            };
            let bytes = (n * n + 2 * n) as f64 * f;
            b.finish(
                if name == "gemv" { "gemv" } else { "gemv_t" },
                format!("1x{n}x{n}"),
                vec![z],
                Metric::Bytes(bytes),
            )
        }
        "gemv_q8_0" | "gemv_q4_0" | "gemv_q4_k" | "gemv_q6_k" => {
            // A decode step's linear layer on llama.cpp's weights: x @ W^T, W [n, k] in blocks,
            // by default 4 of them chained (each on its own weight: 151 MB of Q4_K at 8192², three
            // times an H100's last-level cache), so that each reads its weight from memory, as
            // in a decode step. The metric counts the blocks' bytes only (the vector and the
            // result add 0.05%).
            let (name, format) = match name {
                "gemv_q8_0" => ("gemv_q8_0", BlockFormat::Q8_0),
                "gemv_q4_0" => ("gemv_q4_0", BlockFormat::Q4_0),
                "gemv_q4_k" => ("gemv_q4_k", BlockFormat::Q4K),
                "gemv_q6_k" => ("gemv_q6_k", BlockFormat::Q6K),
                _ => return Ok(None),
            };
            let n = if large { 8192 } else { 1024 };
            let (rows, k, chain) = dims.unwrap_or((n, n, GEMV_CHAIN));
            let mut z = b.input(&[1, k])?;
            let mut links = Vec::with_capacity(chain);
            for i in 0..chain {
                z = chain_link(&z, &b.quantized_input(&[rows, k], format)?, i)?;
                links.push(z.clone());
            }
            let bytes = (chain * format.bytes_for(rows * k).unwrap_or(0)) as f64;
            let shape = match chain {
                1 => format!("1x{k}x{rows}"),
                c => format!("{c}x(1x{k}x{rows})"),
            };
            let mut w = b.finish(name, shape, vec![z], Metric::Bytes(bytes));
            if chain > 1 {
                w.links = links;
            }
            w
        }
        "llm_decode_1b" | "llm_decode_8b" | "llm_prefill_1b" => {
            return llm::build(b.dev, name, large);
        }
        "matmul_bias_gelu" => {
            let (bt, n) = if large { (16, 2048) } else { (2, 256) };
            let x = b.input(&[bt, n, n])?;
            let y = b.input(&[bt, n, n])?;
            let bias = b.weight(&[n], 0.1)?;
            let z = x.matmul(&y)?.add(&bias)?.gelu()?;
            let flops = 2.0 * bt as f64 * (n as f64).powi(3);
            b.finish(
                "matmul_bias_gelu",
                format!("{bt}x{n}x{n}x{n}"),
                vec![z],
                Metric::Flops(flops),
            )
        }
        "launch_overhead" => {
            let ops = 1000;
            let x = b.input(&[64])?;
            let mut y = x.clone();
            for i in 0..ops {
                y = if i % 2 == 0 {
                    y.mul_scalar(0.999)?
                } else {
                    y.add_scalar(0.001)?
                };
            }
            b.finish(
                "launch_overhead",
                format!("64 x {ops} ops"),
                vec![y],
                Metric::PerOp(ops as f64),
            )
        }
        "transformer_layer" | "transformer_layer_f16" => {
            let (name, dtype) = if name == "transformer_layer" {
                ("transformer_layer", DType::F32)
            } else {
                ("transformer_layer_f16", DType::F16)
            };
            let (bsz, seq) = if large { (8, 512) } else { (1, 64) };
            let layer = EncoderLayer::new(&mut b, 768, 3072, 12, dtype)?;
            let x = b.input_of(&[bsz, seq, 768], dtype)?;
            let y = layer.forward(&x)?;
            b.finish(
                name,
                format!("b{bsz} s{seq} d768 h12 ff3072"),
                vec![y],
                Metric::Millis,
            )
        }
        "attention" | "attention_causal" | "attention_f16" | "attention_causal_f16" => {
            // Prefill attention through the API's fused op. FLOPs: 4 b h s^2 d, half of it
            // where causal (the usual count).
            let (name, dtype, causal) = match name {
                "attention" => ("attention", DType::F32, false),
                "attention_causal" => ("attention_causal", DType::F32, true),
                "attention_f16" => ("attention_f16", DType::F16, false),
                _ => ("attention_causal_f16", DType::F16, true),
            };
            let (bsz, h, seq, d) = if large {
                (8, 12, 2048, 64)
            } else {
                (1, 2, 256, 64)
            };
            let q = b.input_of(&[bsz, h, seq, d], dtype)?;
            let k = b.input_of(&[bsz, h, seq, d], dtype)?;
            let v = b.input_of(&[bsz, h, seq, d], dtype)?;
            let y = q.scaled_dot_product_attention(&k, &v, None, None, causal)?;
            let flops = 4.0 * (bsz * h * seq * seq * d) as f64 / if causal { 2.0 } else { 1.0 };
            b.finish(
                name,
                format!("b{bsz} h{h} s{seq} d{d}"),
                vec![y],
                Metric::Flops(flops),
            )
        }
        "attention_decode" => {
            // One query row per head against a KV cache: bytes of K and V read.
            let (bsz, h, ctx, d) = if large {
                (8, 12, 4096, 64)
            } else {
                (1, 4, 1024, 64)
            };
            let q = b.input(&[bsz, h, 1, d])?;
            let k = b.input(&[bsz, h, ctx, d])?;
            let v = b.input(&[bsz, h, ctx, d])?;
            let y = q.scaled_dot_product_attention(&k, &v, None, None, false)?;
            b.finish(
                "attention_decode",
                format!("b{bsz} h{h} 1x{ctx} d{d}"),
                vec![y],
                Metric::Bytes(2.0 * (bsz * h * ctx * d) as f64 * f),
            )
        }
        "attention_decode_gqa" => {
            // A Llama-3.1-8B-shaped decode step's attention alone: one query row for each of
            // 32 heads, 4 sharing each of 8 key/value heads (broadcast, never copied), 512
            // cached positions, a head of 128, as llm_decode_8b runs it (that step's profile
            // puts it at about 22 µs on an H100 for 4 MB of keys and values). Bytes of K and V.
            let (kvh, g, ctx, d) = if large {
                (8, 4, 512, 128)
            } else {
                (2, 2, 64, 64)
            };
            let q = b.input(&[kvh, g, 1, d])?;
            let k = b.input(&[kvh, 1, ctx, d])?.expand(&[kvh, g, ctx, d])?;
            let v = b.input(&[kvh, 1, ctx, d])?.expand(&[kvh, g, ctx, d])?;
            let y = q.scaled_dot_product_attention(&k, &v, None, None, false)?;
            b.finish(
                "attention_decode_gqa",
                format!("kv{kvh} g{g} 1x{ctx} d{d}"),
                vec![y],
                Metric::Bytes(2.0 * (kvh * ctx * d) as f64 * f),
            )
        }
        other => return burn_ops::build(b, other, large),
    };
    Ok(Some(w))
}

//! kiln's browser demo: a llama-shaped model, built in or read from a GGUF file the user picks,
//! compiled by kiln and run on the page's GPU through WebGPU. The page (`index.html`,
//! `main.js`) shows the device, the fused plan of one decode step, the text as it comes, and
//! the timings.
//!
//! [`Demo`] is the same on both sides: the page drives it through the wasm bindings below, and
//! the native binary `kiln-web-native` runs it on a native adapter and prints the same
//! [`Outcome`], which the browser test (`e2e.py`) compares with the page's.

use kiln::io::Gguf;
use kiln::llm::{Model, RandomSpec, Sampler, Sampling, Session, Tokenizer};
use kiln::{DType, Device, Plan, Program, Result, Tensor};
use serde::Serialize;

/// The prompt the page starts with.
pub const DEFAULT_PROMPT: &str = "Once upon a time";

/// A loaded model and its tokenizer on a device.
pub struct Demo {
    model: Model,
    tokenizer: Tokenizer,
    /// Seconds spent reading and uploading the weights.
    pub load_s: f64,
}

/// What one run gave: what the page shows and the browser test compares.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct Outcome {
    /// The device, in words.
    pub device: String,
    /// The model, in words.
    pub model: String,
    /// The prompt's token ids.
    pub prompt_tokens: Vec<u32>,
    /// The last prompt position's logits.
    pub prompt_logits: Vec<f32>,
    /// The generated token ids.
    pub tokens: Vec<u32>,
    /// The generated text.
    pub text: String,
    /// Kernels of one decode step.
    pub decode_kernels: usize,
    /// Seconds loading the weights.
    pub load_s: f64,
    /// Seconds compiling the prefill and decode programs.
    pub compile_s: f64,
    /// Prompt tokens per second (up to its logits on the host).
    pub prefill_rate: f64,
    /// Decoded tokens per second (each step's logits read back).
    pub decode_rate: f64,
}

/// A run's settings.
#[derive(Clone, Debug)]
pub struct Request {
    /// The prompt.
    pub prompt: String,
    /// Tokens to generate at most (fewer where the model ends the text).
    pub max_tokens: usize,
    /// Sampling (greedy by default).
    pub sampling: Sampling,
}

impl Default for Request {
    fn default() -> Self {
        Request {
            prompt: DEFAULT_PROMPT.into(),
            max_tokens: 16,
            sampling: Sampling::default(),
        }
    }
}

impl Demo {
    /// Loads the model in a GGUF file's bytes onto `device` (`progress`: tensors loaded of
    /// all).
    pub fn from_gguf(
        device: &Device,
        bytes: Vec<u8>,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Demo> {
        let start = kiln::runtime::platform::Instant::now();
        let gguf = Gguf::from_bytes(bytes)?;
        let tokenizer = Tokenizer::from_gguf(&gguf)?;
        let model = Model::load(&gguf, device, progress)?;
        Ok(Demo {
            model,
            tokenizer,
            load_s: start.elapsed().as_secs_f64(),
        })
    }

    /// The built-in random model of seed `seed` (`RandomSpec`, as `examples/generate.rs`
    /// builds it), written as a GGUF file in memory and loaded through the same reader.
    pub fn builtin(
        device: &Device,
        seed: u64,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Demo> {
        let spec = RandomSpec {
            seed,
            ..RandomSpec::default()
        };
        Demo::from_gguf(device, spec.to_bytes()?, progress)
    }

    /// The model, in words.
    pub fn describe(&self) -> String {
        self.model.describe()
    }

    /// The device the model is on, in words.
    pub fn describe_device(&self) -> String {
        self.model.device().describe()
    }

    /// The cache length a request needs: its tokens, within the model's trained context.
    fn context(&self, prompt: &[u32], req: &Request) -> usize {
        (prompt.len() + req.max_tokens).min(self.model.config.context)
    }

    /// The fused plan of one decode step over a cache of `context` positions.
    pub fn decode_plan(&self, context: usize) -> Result<Plan> {
        let (_, outputs) = self.model.step_graph(1, context, false)?;
        let outputs: Vec<&kiln::Tensor> = outputs.iter().collect();
        Plan::of(&outputs)
    }

    /// The decode step's plan in a few lines a kernel: name, kind, what it reads, why it
    /// was cut there (`explain()`'s full text adds each kernel's ops and WGSL).
    pub fn plan_summary(&self, context: usize) -> Result<String> {
        let plan = self.decode_plan(context)?;
        let mut s = format!("{} kernels for one decode step\n", plan.kernels.len());
        for (i, k) in plan.kernels.iter().enumerate() {
            let reads: Vec<String> = k.inputs.iter().map(|d| d.to_string()).collect();
            s.push_str(&format!(
                "{i:3}: {} [{}]\n     reads {}; {}\n",
                k.name,
                k.kind,
                reads.join(", "),
                k.reason
            ));
        }
        Ok(s)
    }

    /// The GPU time of each kernel of one decode step over a cache of `context` positions
    /// (`(kernel, milliseconds)` in launch order, the step run twice and the second timed), or
    /// `None` where the adapter cannot write timestamps between dispatches.
    pub async fn profile_decode(&self, context: usize) -> Result<Option<Vec<(String, f64)>>> {
        let (inputs, outputs) = self.model.step_graph(1, context, false)?;
        let program = Program::compile(
            &inputs.iter().collect::<Vec<_>>(),
            &outputs.iter().collect::<Vec<_>>(),
        )?;
        let dev = self.model.device();
        let mut values = vec![
            Tensor::from_slice_on(dev, &[1i32], &[1, 1])?,
            Tensor::from_slice_on(dev, &[0i32], &[1])?,
        ];
        for cache in &inputs[2..] {
            values.push(Tensor::full_on(dev, cache.dims(), 0.0, DType::F32)?);
        }
        let values: Vec<&Tensor> = values.iter().collect();
        program.profile_async(&values).await?;
        program.profile_async(&values).await
    }

    /// Runs `req`: the prompt's logits, then the generated tokens, each passed to `on_token`
    /// with the text so far.
    pub async fn run(&self, req: &Request, on_token: &mut dyn FnMut(u32, &str)) -> Result<Outcome> {
        let prompt = self.tokenizer.encode(&req.prompt)?;
        let context = self.context(&prompt, req);
        let decode_kernels = self.decode_plan(context)?.kernels.len();
        let prompt_logits = Session::new(&self.model, context)?
            .forward(&prompt, false)?
            .to_vec_async::<f32>()
            .await?;
        let mut session = Session::new(&self.model, context)?;
        let mut sampler = Sampler::new(req.sampling)?;
        let mut shown = Vec::new();
        let (tokens, timing) = session
            .generate_async(
                &prompt,
                req.max_tokens,
                &mut sampler,
                self.tokenizer.eos,
                &mut |t| {
                    shown.push(t);
                    on_token(t, &self.tokenizer.decode(&shown));
                },
            )
            .await?;
        Ok(Outcome {
            device: self.describe_device(),
            model: self.describe(),
            text: self.tokenizer.decode(&tokens),
            prompt_tokens: prompt,
            prompt_logits,
            tokens,
            decode_kernels,
            load_s: self.load_s,
            compile_s: timing.compile_s,
            prefill_rate: timing.prefill_rate(),
            decode_rate: timing.decode_rate(),
        })
    }
}

#[cfg(target_arch = "wasm32")]
mod web;

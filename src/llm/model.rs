//! The decoder's forward pass, built from kiln's public Tensor API, and a session that holds
//! the KV cache on the device.
//!
//! One graph serves prefill and decode: `t` new tokens at positions `pos0..pos0 + t`, the
//! start position a run-time input, so the decode step is one [`Program`] compiled once and
//! run for every token. Each layer's cache is `[2, kv_heads, context, head_dim]`, its keys
//! then its values; a step writes its keys and values into their slots in one select (a
//! gather of the new rows where there are several, so the shapes never change) and attends
//! over the whole cache with a mask that admits the slots at or before each query's
//! position. Query heads share their group's key/value head through a broadcast batch
//! dimension, never a copy. Where Q, K and V are one product without biases, RoPE is one
//! kernel over its output (the value heads rotated by angle 0). In a decode step each
//! RMSNorm is computed where the product after it reads its vector, the gate and up
//! projections are one product, and the down projection combines its halves (`silu(gate) *
//! up`) where it reads its vector: a decode step's layer is seven kernels, eight where the
//! attention over a long cache is split (and then combined).

use super::{Config, LlmError, Qkv, RopeStyle, Source, Stacked, Weights};
use crate::io::Gguf;
use crate::{DType, Device, Program, Result, Tensor};

/// Programs a session keeps compiled (one per distinct step length and logits choice; the
/// oldest is dropped past this, so prompts of many lengths cannot grow memory).
pub const MAX_PROGRAMS: usize = 8;

/// A loaded decoder.
pub struct Model {
    /// Its configuration.
    pub config: Config,
    /// Its weights, on the device.
    pub weights: Weights,
    device: Device,
    /// RoPE's angle per position for each pair of dimensions: `base^(-2i/d) / freq[i] /
    /// scale`.
    theta: Vec<f32>,
}

impl Model {
    /// Loads the decoder in `g` onto `device` (see [`Weights::load`] for `progress`).
    pub fn load(
        g: &Gguf,
        device: &Device,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Model> {
        Model::from_source(Config::from_gguf(g)?, g, device, progress)
    }

    /// Loads a decoder of configuration `config` from `src` onto `device`.
    pub fn from_source(
        config: Config,
        src: &dyn Source,
        device: &Device,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Model> {
        config.validate()?;
        let weights = Weights::load(src, &config, device, progress)?;
        let half = config.head_dim / 2;
        let theta = (0..half)
            .map(|i| {
                let f = weights.rope_freqs.as_ref().map_or(1.0, |f| f[i] as f64);
                (config
                    .rope_base
                    .powf(-2.0 * i as f64 / config.head_dim as f64)
                    / f
                    / config.rope_scale) as f32
            })
            .collect();
        Ok(Model {
            config,
            weights,
            device: device.clone(),
            theta,
        })
    }

    /// The model in one line: architecture, layers, width, heads and vocabulary.
    pub fn describe(&self) -> String {
        let c = &self.config;
        format!(
            "{}: {} layers, width {}, {} heads ({} KV), vocab {}",
            c.arch.name,
            c.layers,
            c.dim,
            c.heads,
            c.kv_heads,
            self.vocab()
        )
    }

    /// The vocabulary size.
    pub fn vocab(&self) -> usize {
        self.weights.vocab()
    }

    /// The device the weights are on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// `x @ w^T` for a weight `[out, in]`, quantized blocks decoded where the product reads
    /// them.
    fn linear(x: &Tensor, w: &Tensor) -> Result<Tensor> {
        let w = if w.dtype().is_quantized() {
            w.cast(DType::F32)?
        } else {
            w.clone()
        };
        x.matmul(&w.transpose(0, 1)?)
    }

    /// RoPE's tables over `rotated.len()` heads for the step's positions `pos0 + 0..t`: `C`
    /// and `S`, `[t, heads, head_dim]`, with `rope(x) = x * C + rot(x) * S`
    /// ([`Model::rotate`]); heads not `rotated` get angle 0 (`C = cos 0`, `S = sin 0`: 1 and
    /// 0 on every adapter tested, within WGSL's bound on `cos` of 2^-11 anywhere). The angle is
    /// the position times a signed frequency (the pair's first element's negative: `cos`
    /// is even, so `S` takes the pair's signs). Built from the step's inputs and host
    /// constants only (three buffers), each table is computed by every kernel that applies
    /// RoPE instead of being stored by kernels of its own.
    fn rope_tables(&self, pos0: &Tensor, t: usize, rotated: &[bool]) -> Result<(Tensor, Tensor)> {
        let (hd, half) = (self.config.head_dim, self.config.head_dim / 2);
        let heads = rotated.len();
        let mut freq = vec![0.0f32; heads * hd];
        for (h, _) in rotated.iter().enumerate().filter(|(_, &r)| r) {
            for c in 0..hd {
                let (i, first) = match self.config.arch.rope {
                    RopeStyle::Adjacent => (c / 2, c % 2 == 0),
                    RopeStyle::Halves => (c % half, c < half),
                };
                freq[h * hd + c] = if first { -self.theta[i] } else { self.theta[i] };
            }
        }
        let shape = [t, heads, hd];
        let freq = Tensor::from_slice_on(&self.device, &freq, &[1, heads, hd])?.expand(&shape)?;
        let ang = Model::positions(pos0, t, &shape, &self.device)?
            .cast(DType::F32)?
            .mul(&freq)?;
        Ok((ang.cos()?, ang.sin()?))
    }

    /// The step's positions `pos0 + 0..t` (`I32`) along the first dim of `shape` (`t`),
    /// broadcast over the rest: views of the start position and of a host constant, added
    /// in `shape` (so that the sum is computed where it is read, not stored and viewed).
    fn positions(pos0: &Tensor, t: usize, shape: &[usize], dev: &Device) -> Result<Tensor> {
        let offs: Vec<i32> = (0..t as i32).collect();
        let mut col = vec![1; shape.len()];
        col[0] = t;
        pos0.reshape(&vec![1; shape.len()])?
            .expand(shape)?
            .add(&Tensor::from_slice_on(dev, &offs, &col)?.expand(shape)?)
    }

    /// `rot(x)` of RoPE for `x` `[t, heads, head_dim]`: each pair's elements swapped, read
    /// by a gather at the partner's index, which fuses into the kernel that applies RoPE (a
    /// flipped view reshaped back is no single view, and would be copied).
    fn rotate(&self, x: &Tensor) -> Result<Tensor> {
        let (t, h, hd) = (x.dims()[0], x.dims()[1], x.dims()[2]);
        let partner: Vec<i32> = (0..hd as i32)
            .map(|i| match self.config.arch.rope {
                RopeStyle::Adjacent => i ^ 1,
                RopeStyle::Halves => (i + hd as i32 / 2) % hd as i32,
            })
            .collect();
        let idx =
            Tensor::from_slice_on(&self.device, &partner, &[1, 1, hd])?.expand(&[t, h, hd])?;
        x.gather(-1, &idx)
    }

    /// The shape of a layer's cache of `context` positions: `[2, kv_heads, context,
    /// head_dim]`, keys then values.
    pub fn cache_shape(&self, context: usize) -> [usize; 4] {
        let c = &self.config;
        [2, c.kv_heads, context, c.head_dim]
    }

    /// The step graph for `t` tokens over a cache of `context` positions: placeholders
    /// `[tokens [t, 1] i32, pos0 [1] i32, KV0, KV1, ...]` (caches of
    /// [`Model::cache_shape`], f32) and outputs `[logits, KV0', KV1', ...]`; logits for every
    /// token where `all_logits`, else for the last. [`Session`] compiles it; benchmarks time
    /// it.
    pub fn step_graph(
        &self,
        t: usize,
        context: usize,
        all_logits: bool,
    ) -> Result<(Vec<Tensor>, Vec<Tensor>)> {
        if t == 0 || t > context {
            return Err(LlmError::ContextFull { needed: t, context }.into());
        }
        let cfg = &self.config;
        let w = &self.weights;
        let dev = &self.device;
        let (d, h, kvh, hd) = (cfg.dim, cfg.heads, cfg.kv_heads, cfg.head_dim);
        let g = h / kvh;
        let tokens = Tensor::placeholder_on(dev, DType::I32, &[t, 1])?;
        let pos0 = Tensor::placeholder_on(dev, DType::I32, &[1])?;
        let mut inputs = vec![tokens.clone(), pos0.clone()];
        let mut outputs = Vec::new();

        let mut x = w
            .embed
            .gather(0, &tokens.expand(&[t, w.embed.dims()[1]])?)?;
        if x.dtype() != DType::F32 {
            x = x.cast(DType::F32)?;
        }
        // Cache slot `j` takes new row `j - pos0` where that is in `0..t`. The step's tables
        // (RoPE's, the slots' and the mask) are expressions of the step's inputs and host
        // constants through views, so each kernel that reads one computes it (the mask,
        // which fused attention reads from memory, is the step's one kernel of them).
        let cache_shape = self.cache_shape(context);
        let slots: Vec<i32> = (0..context as i32).collect();
        let slots = Tensor::from_slice_on(dev, &slots, &[context])?;
        let slot = slots.reshape(&[1, 1, context, 1])?.expand(&cache_shape)?;
        let p0 = pos0.reshape(&[1, 1, 1, 1])?.expand(&cache_shape)?;
        // Three buffers (the slots, pos0, t): within the budget of a value recomputed by each
        // of its readers.
        let fresh = slot
            .ge(&p0)?
            .logical_and(&slot.lt(&p0.add(&p0.scalar_like(t as f64)?)?)?)?;
        // Query `i` (at pos0 + i) sees the slots at or before its position.
        let visible = slots
            .reshape(&[1, context])?
            .expand(&[t, context])?
            .le(&Model::positions(&pos0, t, &[t, context], dev)?)?;
        let zero = Tensor::full_on(dev, &[], 0.0, DType::F32)?;
        let neg = Tensor::full_on(dev, &[], f64::NEG_INFINITY, DType::F32)?;
        let mask = Tensor::where_(&visible, &zero, &neg)?;
        let scale = 1.0 / (hd as f64).sqrt();
        // `rope(x) = x * C + rot(x) * S`, with the tables of `x`'s heads (which are rotated),
        // built for the first layer that needs them: the stacked Q, K and V heads (the value
        // heads at angle 0), or Q's and K's heads apart where they are not one product.
        let mut tables: Vec<(Vec<bool>, (Tensor, Tensor))> = Vec::new();
        let mut rope = |x: &Tensor, rotated: Vec<bool>| -> Result<Tensor> {
            let at = match tables.iter().position(|(r, _)| *r == rotated) {
                Some(at) => at,
                None => {
                    let cs = self.rope_tables(&pos0, t, &rotated)?;
                    tables.push((rotated, cs));
                    tables.len() - 1
                }
            };
            let (c, s) = &tables[at].1;
            x.mul(c)?.add(&self.rotate(x)?.mul(s)?)
        };

        for l in &w.layers {
            let cache = Tensor::placeholder_on(dev, DType::F32, &cache_shape)?;
            inputs.push(cache.clone());

            let hn = x.rms_norm(Some(&l.attn_norm), cfg.eps)?;
            // Q `[t, h, hd]` after RoPE, and the new keys (after RoPE) and values `[t, 2, kvh,
            // hd]`.
            let (q, kv) = match (&l.qkv, &l.bias) {
                (Qkv::Fused(w, _), None) => {
                    let y = Model::linear(&hn, w)?.reshape(&[t, h + 2 * kvh, hd])?;
                    let r = rope(&y, (0..h + 2 * kvh).map(|i| i < h + kvh).collect())?;
                    (r.narrow(1, 0, h)?, r.narrow(1, h, 2 * kvh)?)
                }
                (qkv, bias) => {
                    let (mut q, mut k, mut v) = match qkv {
                        Qkv::Fused(w, [nq, nk, nv]) => {
                            let y = Model::linear(&hn, w)?;
                            (
                                y.narrow(1, 0, *nq)?,
                                y.narrow(1, *nq, *nk)?,
                                y.narrow(1, nq + nk, *nv)?,
                            )
                        }
                        Qkv::Separate([wq, wk, wv]) => (
                            Model::linear(&hn, wq)?,
                            Model::linear(&hn, wk)?,
                            Model::linear(&hn, wv)?,
                        ),
                    };
                    if let Some([bq, bk, bv]) = bias {
                        (q, k, v) = (q.add(bq)?, k.add(bk)?, v.add(bv)?);
                    }
                    let k = rope(&k.reshape(&[t, kvh, hd])?, vec![true; kvh])?;
                    let v = v.reshape(&[t, kvh, hd])?;
                    (
                        rope(&q.reshape(&[t, h, hd])?, vec![true; h])?,
                        Tensor::concat(&[&k, &v], 1)?,
                    )
                }
            };
            // One new row (a decode step) is broadcast over the slots (no index kernel, no
            // gather); several are gathered into theirs.
            let rows = kv.reshape(&[t, 2, kvh, hd])?.permute(&[1, 2, 0, 3])?;
            let placed = if t == 1 {
                rows.expand(&cache_shape)?
            } else {
                rows.gather(2, &slot.sub(&p0)?.clamp(0.0, (t - 1) as f64)?)?
            };
            let cache = Tensor::where_(&fresh, &placed, &cache)?;
            outputs.push(cache.clone());
            let k_cache = cache.narrow(0, 0, 1)?.reshape(&[kvh, context, hd])?;
            let v_cache = cache.narrow(0, 1, 1)?.reshape(&[kvh, context, hd])?;

            let qg = q.permute(&[1, 0, 2])?.reshape(&[kvh, g, t, hd])?;
            let kt = k_cache
                .unsqueeze(1)?
                .transpose(-1, -2)?
                .expand(&[kvh, g, hd, context])?;
            let scores = qg.matmul(&kt)?.mul_scalar(scale)?.add(&mask)?;
            let vv = v_cache.unsqueeze(1)?.expand(&[kvh, g, context, hd])?;
            let o = scores
                .softmax(-1)?
                .matmul(&vv)?
                .reshape(&[h, t, hd])?
                .permute(&[1, 0, 2])?
                .reshape(&[t, d])?;
            x = x.add(&Model::linear(&o, &l.wo)?)?;
            let hn = x.rms_norm(Some(&l.ffn_norm), cfg.eps)?;
            // A decode step's gate and up are one product over the stacked weight, and
            // `silu(gate) * up` is computed where the down projection reads its vector (its
            // operand prologue). Several tokens take the two products apart (the stacked
            // weight's rows viewed), so that the gate's carries `silu(gate) * up` as its
            // epilogue and no kernel stores both halves only for another to combine them.
            let (gate, up) = match &l.gate_up {
                Stacked::Fused(w, [ng, nu]) if t == 1 => {
                    let y = Model::linear(&hn, w)?;
                    (y.narrow(1, 0, *ng)?, y.narrow(1, *ng, *nu)?)
                }
                Stacked::Fused(w, [ng, nu]) => (
                    Model::linear(&hn, &w.narrow(0, 0, *ng)?)?,
                    Model::linear(&hn, &w.narrow(0, *ng, *nu)?)?,
                ),
                Stacked::Separate([g, u]) => (Model::linear(&hn, g)?, Model::linear(&hn, u)?),
            };
            let ff = gate.silu()?.mul(&up)?;
            x = x.add(&Model::linear(&ff, &l.down)?)?;
        }
        let mut x = x.rms_norm(Some(&w.norm), cfg.eps)?;
        if !all_logits {
            x = x.narrow(0, t - 1, 1)?;
        }
        outputs.insert(0, Model::linear(&x, &w.head)?);
        Ok((inputs, outputs))
    }
}

/// A generation in progress: the KV cache on the device and the compiled step programs.
pub struct Session<'m> {
    model: &'m Model,
    context: usize,
    caches: Vec<Tensor>,
    pos: usize,
    programs: Vec<((usize, bool), Program)>,
}

impl<'m> Session<'m> {
    /// An empty session with room for `context` positions.
    pub fn new(model: &'m Model, context: usize) -> Result<Session<'m>> {
        let shape = model.cache_shape(context);
        // A cache of its own a layer: each step writes its new rows over it (donated).
        let caches = (0..model.config.layers)
            .map(|_| {
                let zero = Tensor::full_on(&model.device, &shape, 0.0, DType::F32)?;
                zero.realize()?;
                Ok(zero)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Session {
            model,
            context,
            caches,
            pos: 0,
            programs: Vec::new(),
        })
    }

    /// Compiles the step program for `t` tokens (see [`Session::forward`]) unless it is
    /// compiled already, and returns its index.
    pub fn prepare(&mut self, t: usize, all_logits: bool) -> Result<usize> {
        let key = (t, all_logits);
        if let Some(i) = self.programs.iter().position(|(k, _)| *k == key) {
            return Ok(i);
        }
        let (ph, out) = self.model.step_graph(t, self.context, all_logits)?;
        let ph: Vec<&Tensor> = ph.iter().collect();
        let out: Vec<&Tensor> = out.iter().collect();
        if self.programs.len() == MAX_PROGRAMS {
            self.programs.remove(0);
        }
        let caches: Vec<usize> = (2..ph.len()).collect();
        self.programs
            .push((key, Program::compile_donating(&ph, &out, &caches)?));
        Ok(self.programs.len() - 1)
    }

    /// Positions used so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Runs `tokens` at the next positions and returns the logits, `[tokens.len(), vocab]`
    /// where `all_logits`, else `[1, vocab]` for the last token (left on the device).
    pub fn forward(&mut self, tokens: &[u32], all_logits: bool) -> Result<Tensor> {
        self.check(tokens)?;
        let t = tokens.len();
        let at = self.prepare(t, all_logits)?;
        let (tok, pos0) = self.step_inputs(tokens)?;
        let mut inputs = vec![tok, pos0];
        // The caches are donated: each step writes its rows where they lie. A step that
        // fails leaves the session without them (`check` then refuses every step).
        inputs.append(&mut self.caches);
        let mut out = self.programs[at].1.run_donating(inputs)?;
        let logits = out.remove(0);
        self.caches = out;
        self.pos += t;
        Ok(logits)
    }

    /// Refuses a step of no tokens, one past the cache, or a token outside the vocabulary.
    fn check(&self, tokens: &[u32]) -> Result<()> {
        let t = tokens.len();
        let vocab = self.model.vocab();
        if self.caches.len() != self.model.config.layers {
            return Err(LlmError::CacheLost.into());
        }
        if t == 0 || self.pos + t > self.context {
            return Err(LlmError::ContextFull {
                needed: self.pos + t,
                context: self.context,
            }
            .into());
        }
        if let Some(&token) = tokens.iter().find(|&&x| x as usize >= vocab) {
            return Err(LlmError::Token { token, vocab }.into());
        }
        Ok(())
    }

    /// The logits [`Session::forward`] would give for `tokens`, computed by the reference
    /// interpreter from the same program and cache, leaving the session as it is (for
    /// checking results).
    pub fn reference(&mut self, tokens: &[u32], all_logits: bool) -> Result<kiln_ir::HostTensor> {
        self.check(tokens)?;
        let at = self.prepare(tokens.len(), all_logits)?;
        let (tok, pos0) = self.step_inputs(tokens)?;
        let mut inputs = vec![&tok, &pos0];
        inputs.extend(self.caches.iter());
        let mut out = self.programs[at].1.reference(&inputs)?;
        Ok(out.remove(0))
    }

    /// The token and start-position inputs of a step.
    fn step_inputs(&self, tokens: &[u32]) -> Result<(Tensor, Tensor)> {
        let dev = &self.model.device;
        let ids: Vec<i32> = tokens.iter().map(|&x| x as i32).collect();
        let tok = Tensor::from_slice_on(dev, &ids, &[tokens.len(), 1])?;
        let pos0 = Tensor::from_slice_on(dev, &[self.pos as i32], &[1])?;
        Ok((tok, pos0))
    }
}

impl Model {
    /// Opens and loads a GGUF model file (see [`Model::load`]).
    pub fn open(
        path: impl AsRef<std::path::Path>,
        device: &Device,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Model> {
        Model::load(&Gguf::open(path)?, device, progress)
    }
}

/// Where the time of a generation went (wall time, logits read back included).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Timing {
    /// Prompt tokens run as one batch.
    pub prefill_tokens: usize,
    /// Seconds for the prompt, up to its logits on the host.
    pub prefill_s: f64,
    /// Tokens decoded one at a time after the first.
    pub decode_tokens: usize,
    /// Seconds for those steps.
    pub decode_s: f64,
    /// Seconds compiling the prefill and decode programs, before either ran.
    pub compile_s: f64,
}

impl Timing {
    /// Prompt tokens per second.
    pub fn prefill_rate(&self) -> f64 {
        self.prefill_tokens as f64 / self.prefill_s.max(f64::MIN_POSITIVE)
    }

    /// Decoded tokens per second.
    pub fn decode_rate(&self) -> f64 {
        self.decode_tokens as f64 / self.decode_s.max(f64::MIN_POSITIVE)
    }
}

impl Session<'_> {
    /// Runs `prompt` as one batch, then samples up to `max_tokens` tokens one step at a time
    /// (stopping after `stop` where given), calling `on_token` with each as it comes.
    /// Blocking: in the browser, use [`Session::generate_async`].
    pub fn generate(
        &mut self,
        prompt: &[u32],
        max_tokens: usize,
        sampler: &mut super::Sampler,
        stop: Option<u32>,
        on_token: &mut dyn FnMut(u32),
    ) -> Result<(Vec<u32>, Timing)> {
        // Each read waits for the GPU in the driver rather than polling for it.
        let read = |t: Tensor| std::future::ready(t.to_vec::<f32>());
        let run = self.generate_with(prompt, max_tokens, sampler, stop, on_token, read);
        crate::runtime::platform::block_on("Session::generate", run)?
    }

    /// [`Session::generate`] without blocking the thread: each step's logits are read back
    /// asynchronously.
    pub async fn generate_async(
        &mut self,
        prompt: &[u32],
        max_tokens: usize,
        sampler: &mut super::Sampler,
        stop: Option<u32>,
        on_token: &mut dyn FnMut(u32),
    ) -> Result<(Vec<u32>, Timing)> {
        let read = |t: Tensor| async move { t.to_vec_async::<f32>().await };
        self.generate_with(prompt, max_tokens, sampler, stop, on_token, read)
            .await
    }

    /// The generation loop, with `read` bringing each step's logits to the host.
    async fn generate_with<F: std::future::Future<Output = Result<Vec<f32>>>>(
        &mut self,
        prompt: &[u32],
        max_tokens: usize,
        sampler: &mut super::Sampler,
        stop: Option<u32>,
        on_token: &mut dyn FnMut(u32),
        read: impl Fn(Tensor) -> F,
    ) -> Result<(Vec<u32>, Timing)> {
        let mut timing = Timing {
            prefill_tokens: prompt.len(),
            ..Timing::default()
        };
        let mut out = Vec::new();
        if max_tokens == 0 {
            return Ok((out, timing));
        }
        self.check(prompt)?;
        let start = crate::runtime::platform::Instant::now();
        self.prepare(prompt.len(), false)?;
        self.prepare(1, false)?;
        timing.compile_s = start.elapsed().as_secs_f64();
        let start = crate::runtime::platform::Instant::now();
        let mut logits = read(self.forward(prompt, false)?).await?;
        timing.prefill_s = start.elapsed().as_secs_f64();
        let start = crate::runtime::platform::Instant::now();
        loop {
            let t = sampler.sample(&logits)?;
            out.push(t);
            on_token(t);
            if out.len() == max_tokens || Some(t) == stop {
                break;
            }
            logits = read(self.forward(&[t], false)?).await?;
            timing.decode_tokens += 1;
        }
        timing.decode_s = start.elapsed().as_secs_f64();
        Ok((out, timing))
    }
}

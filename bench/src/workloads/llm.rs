//! The decoder workloads: a llama step on random quantized weights, built through the same
//! loading code as a model file (`kiln::llm`).

use super::{Metric, Workload};
use kiln::llm::{Model, RandomSpec};
use kiln::{BlockFormat, DType, Device, Result, Tensor};

/// `llm_decode_1b`, `llm_decode_8b` or `llm_prefill_1b` (`None` for another name).
pub(super) fn build(dev: &Device, name: &str, large: bool) -> Result<Option<Workload>> {
    // A llama decoder's step on random Q4_K weights with a Q6_K head (Llama 3.2 1B
    // and Llama 3.1 8B shapes), the KV cache 512 positions long: one token at the
    // cache's last position, or a 512-token prompt.
    let (name, eight, prefill) = match name {
        "llm_decode_1b" => ("llm_decode_1b", false, false),
        "llm_decode_8b" => ("llm_decode_8b", true, false),
        "llm_prefill_1b" => ("llm_prefill_1b", false, true),
        _ => return Ok(None),
    };
    let spec = match (large, eight) {
        (true, false) => RandomSpec {
            layers: 16,
            dim: 2048,
            ffn: 8192,
            heads: 32,
            kv_heads: 8,
            vocab: 128_256,
            ..RandomSpec::default()
        },
        (true, true) => RandomSpec {
            layers: 32,
            dim: 4096,
            ffn: 14_336,
            heads: 32,
            kv_heads: 8,
            vocab: 128_256,
            ..RandomSpec::default()
        },
        (false, _) => RandomSpec {
            layers: 2,
            dim: 256,
            ffn: 512,
            heads: 4,
            kv_heads: 2,
            vocab: 1024,
            ..RandomSpec::default()
        },
    };
    let spec = RandomSpec {
        attn_format: BlockFormat::Q4K,
        ffn_format: BlockFormat::Q4K,
        head_format: BlockFormat::Q6K,
        context: 512,
        ..spec
    };
    let context = if large { 512 } else { 32 };
    let model = Model::from_source(spec.config(), &spec, dev, &mut |done, total| {
        if done == total || done % 32 == 0 {
            eprintln!("{name}: {done}/{total} weights");
        }
    })?;
    let t = if prefill { context } else { 1 };
    let (ph, out) = model.step_graph(t, context, false)?;
    let c = &model.config;
    let tokens: Vec<i32> = (0..t as i32)
        .map(|i| (i * 7919) % spec.vocab() as i32)
        .collect();
    let mut inputs = vec![
        Tensor::from_slice_on(dev, &tokens, &[t, 1])?,
        Tensor::from_slice_on(dev, &[(context - t) as i32], &[1])?,
    ];
    // A cache a layer, each carried to the next step (output 1 + l) and written
    // where it lies.
    for _ in 0..c.layers {
        let cache = Tensor::full_on(dev, &model.cache_shape(context), 0.5, DType::F32)?;
        cache.realize()?;
        inputs.push(cache);
    }
    let carry = (0..c.layers).map(|l| (1 + l, 2 + l)).collect();
    let shape = format!(
        "{}L d{} ff{} ctx{context}{}",
        c.layers,
        c.dim,
        c.ffn,
        if prefill { " prompt" } else { "" }
    );
    Ok(Some(Workload {
        name,
        shape,
        inputs,
        lazy_outputs: out,
        placeholders: ph,
        metric: Metric::Tokens(t as f64),
        carry,
        quantized: true,
        links: Vec::new(),
    }))
}

//! The llama-family decoder against an independent reference: numpy, written from the
//! architectures' definitions (tests/fixtures/llm/make_fixtures.py), on tiny random models
//! in GGUF files written by the `gguf` package: llama at f32 (tied head), llama with Q8_0 and
//! Q4_0 weights (untied head, linear RoPE scaling, frequency factors), and qwen2 (biases,
//! RoPE on halves). Logits of a 5-token prompt, 16 greedy tokens, and the KV cache.

mod common;
use common::*;
use kiln::io::Gguf;
use kiln::llm::{LlmError, Model, Session};
use kiln::Error;

const MODELS: [&str; 3] = ["llama_f32", "llama_q", "qwen2_f32"];

fn fixture(name: &str) -> std::path::PathBuf {
    common::fixture("llm", name)
}

fn expect() -> Gguf {
    Gguf::open(fixture("expect.gguf")).unwrap()
}

fn tokens(g: &Gguf, key: &str) -> Vec<u32> {
    match g.get(key) {
        Some(kiln::io::Value::Array(v)) => v.iter().map(|x| x.as_u64().unwrap() as u32).collect(),
        v => panic!("{key}: {v:?}"),
    }
}

fn load(name: &str) -> Model {
    let dev = device();
    Model::open(fixture(&format!("{name}.gguf")), &dev, &mut |_, _| {}).unwrap()
}

fn argmax(v: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best as u32
}

/// Logits agree with the float64 reference within f32 rounding of a few hundred operations
/// per value: 1e-4 of the largest logit.
fn assert_logits(got: &[f32], want: &[f64], what: &str) {
    let scale = want.iter().fold(0f64, |m, v| m.max(v.abs()));
    assert!(scale > 0.5, "{what}: the reference logits are degenerate");
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g as f64 - w).abs() <= 1e-4 * scale,
            "{what}[{i}]: {g} against the reference's {w}"
        );
    }
}

#[test]
fn prompt_logits_match_the_reference() {
    let e = expect();
    let prompt = tokens(&e, "prompt");
    for name in MODELS {
        let m = load(name);
        let mut s = Session::new(&m, 32).unwrap();
        let got = s.forward(&prompt, true).unwrap().to_vec::<f32>().unwrap();
        let want = e.host_tensor(&format!("logits.{name}")).unwrap().to_f64();
        assert_logits(&got, &want, name);
        assert_eq!(s.position(), prompt.len());
    }
}

#[test]
fn greedy_decoding_matches_the_reference() {
    let e = expect();
    let prompt = tokens(&e, "prompt");
    for name in MODELS {
        let m = load(name);
        let mut s = Session::new(&m, 32).unwrap();
        let mut logits = s.forward(&prompt, false).unwrap();
        let mut out = Vec::new();
        for _ in 0..16 {
            let t = argmax(&logits.to_vec::<f32>().unwrap());
            out.push(t);
            logits = s.forward(&[t], false).unwrap();
        }
        assert_eq!(out, tokens(&e, &format!("greedy.{name}")), "{name}");
    }
}

/// Decoding token by token through the cache gives the logits of prefilling the whole
/// sequence, and prefill in two chunks does too.
#[test]
fn kv_cache_matches_prefill() {
    let e = expect();
    let prompt = tokens(&e, "prompt");
    for name in MODELS {
        let m = load(name);
        let mut whole = Session::new(&m, 16).unwrap();
        let all = whole
            .forward(&prompt, true)
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        let vocab = m.vocab();
        let mut step = Session::new(&m, 16).unwrap();
        for (i, &t) in prompt.iter().enumerate() {
            let got = step.forward(&[t], false).unwrap().to_vec::<f32>().unwrap();
            let want: Vec<f64> = all[i * vocab..(i + 1) * vocab]
                .iter()
                .map(|&x| x as f64)
                .collect();
            assert_logits(&got, &want, &format!("{name} token {i} by itself"));
        }
        let mut chunks = Session::new(&m, 16).unwrap();
        chunks.forward(&prompt[..2], false).unwrap();
        let got = chunks
            .forward(&prompt[2..], true)
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        let want: Vec<f64> = all[2 * vocab..].iter().map(|&x| x as f64).collect();
        assert_logits(&got, &want, &format!("{name} second chunk"));
    }
}

/// A decode step is six kernels a layer and two more (the attention mask, and the head):
/// RoPE's tables and the cache's fresh slots are computed by the kernels that read them, not
/// stored by kernels of their own; RoPE itself is computed by the cache write (the keys) and
/// by attention (the queries, an operand prologue); each norm is computed where the product
/// after it reads its vector; the gate and up projections are one product, and `silu(gate) *
/// up` is computed where the down projection reads it. Under Chromium's 10 storage bindings
/// too; under WebGPU's least, 8, attention's queries do not fit beside its k, v and mask and
/// are stored by a kernel of their own (seven).
#[test]
fn a_decode_step_is_six_kernels_a_layer() {
    for (limit, per_layer) in [(None, 6), (Some(10), 6), (Some(8), 7)] {
        let dev = kiln::Device::new(&kiln::DeviceOptions {
            autotune: kiln::Autotune::Off,
            cache_dir: None,
            max_storage_buffers: limit,
            ..kiln::DeviceOptions::from_env()
        })
        .expect("opening a device");
        for name in ["llama_q", "llama_f32"] {
            let m = Model::open(fixture(&format!("{name}.gguf")), &dev, &mut |_, _| {}).unwrap();
            let (_, outputs) = m.step_graph(1, 16, false).unwrap();
            let plan = kiln::Plan::of(&outputs.iter().collect::<Vec<_>>()).unwrap();
            let ops: Vec<String> = plan.kernels.iter().map(|k| k.ops.join("+")).collect();
            let what = format!("{name}, {limit:?} bindings");
            assert_eq!(
                plan.kernels.len(),
                per_layer * m.config.layers + 2,
                "{what}: {ops:#?}"
            );
            let computed_q = plan
                .kernels
                .iter()
                .filter(|k| k.kind.contains("queries computed where they are read"))
                .count();
            let want = if per_layer == 6 { m.config.layers } else { 0 };
            assert_eq!(computed_q, want, "{what}: {ops:#?}");
            // Each layer's cache takes its new row where it lies (the step's outputs after
            // the logits are the caches, its inputs after the token and position).
            if dev.is_gpu() && limit.is_none() {
                let (ph, out) = m.step_graph(1, 16, false).unwrap();
                let caches: Vec<usize> = (2..ph.len()).collect();
                let prog = kiln::Program::compile_donating(
                    &ph.iter().collect::<Vec<_>>(),
                    &out.iter().collect::<Vec<_>>(),
                    &caches,
                )
                .unwrap();
                let want: Vec<(usize, usize)> = caches.iter().map(|&i| (i, i - 1)).collect();
                assert_eq!(prog.donations(), want, "{what}");
            }
        }
    }
}

/// Every layer's attention is one fused kernel (the unfused pattern the decoder writes is
/// recognized); over a long cache a decode step's attention is split over the keys, and its
/// logits are the interpreter's, token by token past the first run of keys.
#[test]
fn decode_attention_is_fused_and_split() {
    let e = expect();
    let prompt = tokens(&e, "prompt");
    let m = load("llama_q");
    let (_, outputs) = m.step_graph(1, 700, false).unwrap();
    let plan = kiln::Plan::of(&outputs.iter().collect::<Vec<_>>()).unwrap();
    let att: Vec<&str> = plan
        .kernels
        .iter()
        .filter(|k| k.kind.starts_with("fused attention"))
        .map(|k| k.kind.as_str())
        .collect();
    assert!(
        !att.is_empty(),
        "{:?}",
        plan.kernels.iter().map(|k| &k.kind).collect::<Vec<_>>()
    );
    assert!(att.iter().all(|k| k.contains("split")), "{att:?}");
    let mut s = Session::new(&m, 700).unwrap();
    for (i, &t) in prompt.iter().enumerate() {
        let want = s.reference(&[t], false).unwrap();
        let got = s.forward(&[t], false).unwrap().to_vec::<f32>().unwrap();
        let want: Vec<f64> = want.to_f64();
        assert_logits(&got, &want, &format!("long cache, token {i}"));
    }
}

#[test]
fn bad_requests_are_typed_errors() {
    let m = load("llama_f32");
    let mut s = Session::new(&m, 4).unwrap();
    let e = s.forward(&[1, 2, 3, 4, 5], false).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Llm(LlmError::ContextFull {
                needed: 5,
                context: 4
            })
        ),
        "{e}"
    );
    let e = s.forward(&[64], false).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Llm(LlmError::Token {
                token: 64,
                vocab: 64
            })
        ),
        "{e}"
    );
    let e = s.forward(&[], false).unwrap_err();
    assert!(matches!(e, Error::Llm(LlmError::ContextFull { .. })), "{e}");
    // A file that is not a decoder.
    let e = Model::open(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gguf/types.gguf"),
        &device(),
        &mut |_, _| {},
    )
    .err()
    .expect("refused");
    assert!(matches!(e, Error::Llm(LlmError::Architecture(_))), "{e}");
}

/// The built-in random model (Q8_0 attention, Q4_K feed-forward, through the GGUF writer and
/// the same loader): its decode step against the reference interpreter, and seeded sampling
/// that repeats.
#[test]
fn random_model_runs_through_the_loader() {
    use kiln::llm::{RandomSpec, Sampler, Sampling, Tokenizer};
    let dir = scratch_dir("random-model");
    let path = dir.join("random.gguf");
    let spec = RandomSpec {
        layers: 1,
        ..RandomSpec::default()
    };
    spec.write(&path).unwrap();
    let g = Gguf::open(&path).unwrap();
    let tok = Tokenizer::from_gguf(&g).unwrap();
    let prompt = tok.encode("the theory").unwrap();
    assert_eq!(prompt[0], tok.bos.unwrap());
    assert_eq!(tok.decode(&prompt[1..]), "the theory");
    assert!(
        prompt.len() < 1 + "the theory".len(),
        "merges apply: {prompt:?}"
    );
    let mut steps = 0;
    let m = Model::load(&g, &device(), &mut |done, total| {
        steps += 1;
        assert!(done <= total);
    })
    .unwrap();
    assert!(steps > 5);
    let run = |seed| {
        let mut s = Session::new(&m, 32).unwrap();
        let mut sampler = Sampler::new(Sampling {
            temperature: 0.9,
            top_k: 40,
            top_p: 0.95,
            seed,
        })
        .unwrap();
        let (toks, timing) = s
            .generate(&prompt, 6, &mut sampler, None, &mut |_| {})
            .unwrap();
        assert_eq!(timing.decode_tokens, 5);
        toks
    };
    assert_eq!(run(3), run(3));
    // The step program's logits against the interpreter (the quantized gemv path at width
    // 256, the Q4_K rows of the feed-forward block).
    let mut s = Session::new(&m, 32).unwrap();
    s.forward(&prompt[..3], false).unwrap();
    let want = s.reference(&prompt[3..], true).unwrap();
    let got = s.forward(&prompt[3..], true).unwrap().to_host().unwrap();
    let scale = want.to_f64().iter().fold(0f64, |m, v| m.max(v.abs())) as f32;
    assert!(scale > 0.1, "degenerate logits");
    assert_close(&got, &want, 1e-4 * scale, 1e-4, "random model logits");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Metadata a decoder cannot be built from is a typed error before any tensor is read: zero
/// or inconsistent head counts, a corrupt layer count, an unsupported RoPE scaling; a random
/// model of inconsistent shape too.
#[test]
fn bad_metadata_is_a_typed_error() {
    use kiln::io::GgufWriter;
    use kiln::io::Value;
    use kiln::llm::{Config, RandomSpec};
    let dir = scratch_dir("bad-metadata");
    let path = dir.join("m.gguf");
    let base = [
        ("llama.context_length", Value::U32(32)),
        ("llama.embedding_length", Value::U32(32)),
        ("llama.block_count", Value::U32(2)),
        ("llama.feed_forward_length", Value::U32(64)),
        ("llama.attention.head_count", Value::U32(4)),
        ("llama.attention.head_count_kv", Value::U32(2)),
        ("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5)),
    ];
    let config = |over: &[(&str, Value)]| {
        let mut w = GgufWriter::new();
        w.meta("general.architecture", Value::String("llama".into()));
        for (k, v) in &base {
            let v = over.iter().find(|(o, _)| o == k).map_or(v, |(_, v)| v);
            w.meta(k, v.clone());
        }
        for (k, v) in over {
            if !base.iter().any(|(b, _)| b == k) {
                w.meta(k, v.clone());
            }
        }
        w.write(&path).unwrap();
        Config::from_gguf(&Gguf::open(&path).unwrap())
    };
    assert!(config(&[]).is_ok());
    for over in [
        ("llama.attention.head_count", Value::U32(0)),
        ("llama.attention.head_count_kv", Value::U32(3)),
        ("llama.attention.head_count", Value::U32(5)),
        ("llama.block_count", Value::U32(1 << 30)),
        ("llama.rope.scaling.type", Value::String("yarn".into())),
        ("llama.rope.freq_base", Value::F32(-1.0)),
    ] {
        let what = format!("{over:?}");
        let e = config(&[over]).expect_err(&what);
        assert!(matches!(e, LlmError::Metadata { .. }), "{what}: {e}");
    }
    let e = RandomSpec {
        heads: 0,
        ..RandomSpec::default()
    }
    .write(&path)
    .unwrap_err();
    assert!(matches!(e, Error::Llm(LlmError::Metadata { .. })), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

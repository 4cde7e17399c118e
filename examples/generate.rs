//! Text generation with a llama-family model from a GGUF file, on the GPU.
//!
//! ```text
//! cargo run --release --example generate -- [--model FILE.gguf] [--prompt TEXT]
//!     [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S] [--context N]
//! ```
//!
//! Without `--model` it writes a small random model (seeded, llama-shaped, Q8_0 and Q4_K
//! weights; see `kiln::llm::RandomSpec`) to the temporary directory and loads it through the
//! same code, so it runs on a fresh machine with no download (its text is random bytes).
//! Tokens print as they come; then the prefill and decode rates.

use kiln::llm::{Model, RandomSpec, Sampler, Sampling, Session, Tokenizer};
use kiln::Device;
use std::io::Write;

struct Args {
    model: Option<String>,
    prompt: String,
    max_tokens: usize,
    sampling: Sampling,
    context: usize,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        model: None,
        prompt: "Once upon a time".into(),
        max_tokens: 32,
        sampling: Sampling::default(),
        context: 512,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let v = argv
            .get(i + 1)
            .ok_or_else(|| format!("{} needs a value", argv[i]))?;
        let num = |what: &str| -> Result<f64, String> {
            v.parse::<f64>()
                .map_err(|_| format!("{what}: {v:?} is not a number"))
        };
        match argv[i].as_str() {
            "--model" => a.model = Some(v.clone()),
            "--prompt" => a.prompt = v.clone(),
            "--max-tokens" => a.max_tokens = num("--max-tokens")? as usize,
            "--temperature" => a.sampling.temperature = num("--temperature")? as f32,
            "--top-k" => a.sampling.top_k = num("--top-k")? as usize,
            "--top-p" => a.sampling.top_p = num("--top-p")? as f32,
            "--seed" => a.sampling.seed = num("--seed")? as u64,
            "--context" => a.context = num("--context")? as usize,
            other => return Err(format!("unknown argument {other}")),
        }
        i += 2;
    }
    Ok(a)
}

/// A progress bar on stderr.
fn bar(done: usize, total: usize) {
    let width = 30;
    let filled = width * done / total.max(1);
    eprint!(
        "\rloading [{}{}] {done}/{total} tensors",
        "#".repeat(filled),
        " ".repeat(width - filled)
    );
    if done == total {
        eprintln!();
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let args = parse().map_err(|e| {
        format!("{e}\nusage: generate [--model FILE.gguf] [--prompt TEXT] [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S] [--context N]")
    })?;
    let device = Device::default_device()?;
    eprintln!("device: {}", device.describe());
    let path = match &args.model {
        Some(p) => std::path::PathBuf::from(p),
        None => {
            let p = std::env::temp_dir().join("kiln-random-model.gguf");
            RandomSpec::default().write(&p)?;
            eprintln!(
                "no --model: a random model (Q8_0 and Q4_K) at {}",
                p.display()
            );
            p
        }
    };
    let gguf = kiln::io::Gguf::open(&path)?;
    let tokenizer = Tokenizer::from_gguf(&gguf)?;
    let model = Model::load(&gguf, &device, &mut bar)?;
    let c = &model.config;
    eprintln!("{}", model.describe());
    let prompt = tokenizer.encode(&args.prompt)?;
    let context = args
        .context
        .min(c.context)
        .max(prompt.len() + args.max_tokens);
    let mut session = Session::new(&model, context)?;
    let mut sampler = Sampler::new(args.sampling)?;
    print!("{}", args.prompt);
    let mut shown: Vec<u32> = Vec::new();
    let mut printed = 0;
    let (_, timing) = session.generate(
        &prompt,
        args.max_tokens,
        &mut sampler,
        tokenizer.eos,
        &mut |t| {
            // Print the text decoded so far past what is shown (a character may span tokens).
            shown.push(t);
            let text = tokenizer.decode(&shown);
            // A trailing replacement character may be half a character still coming.
            let cut = text.trim_end_matches('\u{fffd}');
            if cut.len() > printed {
                print!("{}", &cut[printed..]);
                printed = cut.len();
                let _flushed = std::io::stdout().flush();
            }
        },
    )?;
    println!();
    eprintln!(
        "compile: {:.2} s; prefill: {} tokens, {:.1} tokens/s; decode: {} tokens, {:.1} tokens/s",
        timing.compile_s,
        timing.prefill_tokens,
        timing.prefill_rate(),
        timing.decode_tokens,
        timing.decode_rate()
    );
    Ok(())
}

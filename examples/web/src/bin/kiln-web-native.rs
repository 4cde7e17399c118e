//! The demo's run on a native adapter, printed as the page's outcome JSON: what the browser
//! test (`examples/web/e2e.py`) compares the page with. `--profile 1` also prints, on stderr,
//! each kernel of one decode step by GPU time, as the page shows them.
//!
//! ```text
//! cargo run -p kiln-web --bin kiln-web-native -- [--model FILE.gguf | --seed S] [--prompt TEXT]
//!     [--max-tokens N] [--profile 1]
//! ```

#[cfg(not(target_arch = "wasm32"))]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use kiln_web::{Demo, Request};
    let mut req = Request::default();
    let mut seed = 0u64;
    let mut model = None;
    let mut profile = false;
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let [flag, v] = pair else {
            return Err(format!("{} needs a value", pair[0]).into());
        };
        match flag.as_str() {
            "--seed" => seed = v.parse()?,
            "--model" => model = Some(v.clone()),
            "--prompt" => req.prompt = v.clone(),
            "--max-tokens" => req.max_tokens = v.parse()?,
            "--profile" => profile = v == "1",
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let device = kiln::Device::default_device()?;
    let demo = match model {
        Some(path) => Demo::from_gguf(&device, std::fs::read(path)?, &mut |_, _| {})?,
        None => Demo::builtin(&device, seed, &mut |_, _| {})?,
    };
    // Twice, as the browser test runs the page: the second run is timed warm.
    pollster::block_on(demo.run(&req, &mut |_, _| {}))?;
    let out = pollster::block_on(demo.run(&req, &mut |_, _| {}))?;
    println!("{}", serde_json::to_string(&out)?);
    if profile {
        let context = out.prompt_tokens.len() + out.tokens.len();
        match pollster::block_on(demo.profile_decode(context))? {
            Some(mut times) => {
                let total: f64 = times.iter().map(|(_, ms)| ms).sum();
                eprintln!(
                    "{} kernels, {total:.3} ms in all; the slowest:",
                    times.len()
                );
                times.sort_by(|a, b| b.1.total_cmp(&a.1));
                for (name, ms) in times.iter().take(12) {
                    eprintln!("{ms:9.3} ms  {name}");
                }
            }
            None => eprintln!("this adapter has no timestamp queries"),
        }
    }
    Ok(())
}

#[cfg(target_arch = "wasm32")]
fn main() {}

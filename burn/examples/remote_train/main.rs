//! A Burn program on kiln through `kiln-burn-server`: trains a small MLP on a synthetic task,
//! then runs a small transformer encoder, each beside Burn's own CPU backend (Flex) in the same
//! run, and measures what one op costs through the server.
//!
//! ```text
//! cargo run --release -p kiln-burn --example remote_train
//! cargo run --release -p kiln-burn --example remote_train -- --server ws://127.0.0.1:3000
//! ```
//!
//! Without `--server` it serves kiln from this process on a free port of 127.0.0.1 (the same
//! server `kiln-burn-server` runs) and connects to it over the socket. `RUST_LOG=kiln=debug`
//! prints the kernels of each plan kiln compiles.

#[path = "mlp.rs"]
mod mlp;

use burn::module::Module;
use burn::nn::transformer::{TransformerEncoderConfig, TransformerEncoderInput};
use burn::remote::RemoteHost;
use burn::tensor::{Device, Tensor, TensorData};
use kiln_burn::server::KilnServer;
use mlp::{Mlp, Rng, Step, Task};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

struct Args {
    server: Option<String>,
    steps: usize,
}

fn args() -> Result<Args, String> {
    let mut out = Args {
        server: None,
        steps: 60,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--server" => out.server = Some(value),
            "--steps" => out.steps = value.parse().map_err(|e| format!("--steps: {e}"))?,
            other => {
                return Err(format!(
                    "unknown argument {other} (--server URL, --steps N)"
                ))
            }
        }
    }
    Ok(out)
}

/// The server's address: the one given, or one this process serves on a free port.
fn server(given: Option<String>) -> Result<String, String> {
    if let Some(url) = given {
        return Ok(url);
    }
    let server =
        KilnServer::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).map_err(|e| e.to_string())?;
    let url = server.url();
    println!(
        "serving kiln ({}) on {url} from this process",
        server.adapter()
    );
    std::thread::spawn(move || {
        if let Err(e) = server.serve() {
            eprintln!("kiln-burn-server: {e}");
        }
    });
    Ok(url)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The median time of `steps` after the first (which holds compilation and uploads).
fn median_ms(steps: &[Step]) -> f64 {
    let mut t: Vec<f64> = steps.iter().skip(1).map(|s| ms(s.time)).collect();
    t.sort_by(f64::total_cmp);
    t.get(t.len() / 2).copied().unwrap_or(f64::NAN)
}

fn train_both(kiln: &Device, flex: &Device, steps: usize) -> Result<(), String> {
    println!("\n== MLP (8 -> 64 -> 64 -> 4, ReLU), cross-entropy, Adam, 512 points, {steps} steps");
    let task = Task::new(512, 7);
    flex.seed(11);
    let model = Mlp::new(&flex.clone().autodiff());
    let on_kiln = model.clone().fork(&kiln.clone().autodiff());
    let progress = |name: &'static str| {
        move |i: usize, s: Step| {
            if i.is_multiple_of(10) {
                eprint!("\r{name}: step {i}/{steps}, loss {:.4}   ", s.loss);
            }
        }
    };
    let k = mlp::train(
        on_kiln,
        &task,
        &kiln.clone().autodiff(),
        steps,
        progress("kiln"),
    )?;
    let f = mlp::train(
        model,
        &task,
        &flex.clone().autodiff(),
        steps,
        progress("flex"),
    )?;
    eprintln!();
    println!(
        "{:>5} {:>12} {:>12} {:>10} {:>10}",
        "step", "kiln loss", "flex loss", "kiln ms", "flex ms"
    );
    for (i, (a, b)) in k.iter().zip(&f).enumerate() {
        if i.is_multiple_of(5) || i + 1 == steps {
            println!(
                "{i:>5} {:>12.6} {:>12.6} {:>10.2} {:>10.2}",
                a.loss,
                b.loss,
                ms(a.time),
                ms(b.time)
            );
        }
    }
    println!(
        "time per step (median after the first): kiln {:.2} ms, flex {:.2} ms",
        median_ms(&k),
        median_ms(&f)
    );
    Ok(())
}

fn encoder_both(kiln: &Device, flex: &Device) -> Result<(), String> {
    let (batch, seq, d_model) = (4, 64, 128);
    println!(
        "\n== transformer encoder (2 layers, d_model {d_model}, 4 heads, d_ff 512), input [{batch}, {seq}, {d_model}]"
    );
    let config = TransformerEncoderConfig::new(d_model, 512, 4, 2).with_dropout(0.0);
    flex.seed(13);
    let on_flex = config.init(flex);
    let on_kiln = on_flex.clone().to_device(kiln);
    let input = Rng::new(17).data(vec![batch, seq, d_model]);
    let run = |enc: &burn::nn::transformer::TransformerEncoder,
               device: &Device|
     -> Result<(TensorData, f64), String> {
        let mut out = None;
        let mut times = Vec::new();
        for _ in 0..6 {
            let start = Instant::now();
            let x = Tensor::<3>::from_data(input.clone(), device);
            let y = enc.forward(TransformerEncoderInput::new(x));
            let data = y.try_into_data().map_err(|e| format!("{e:?}"))?;
            times.push(ms(start.elapsed()));
            out = Some(data);
        }
        times.remove(0);
        times.sort_by(f64::total_cmp);
        let data = out.ok_or("no forward ran")?;
        Ok((data, times[times.len() / 2]))
    };
    let (k, k_ms) = run(&on_kiln, kiln)?;
    let (f, f_ms) = run(&on_flex, flex)?;
    let k: Vec<f32> = k.try_to_vec::<f32>().map_err(|e| format!("{e:?}"))?;
    let f: Vec<f32> = f.try_to_vec::<f32>().map_err(|e| format!("{e:?}"))?;
    let diff = k
        .iter()
        .zip(&f)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    println!("forward (median of 5 after a warm-up): kiln {k_ms:.2} ms, flex {f_ms:.2} ms");
    println!("largest difference from flex: {diff:.2e}");
    Ok(())
}

/// What one op costs through the server: `n` scalar adds recorded on a small tensor, then one
/// read (kiln fuses the chain into one kernel, so the time is the protocol's and the graph's).
fn per_op(kiln: &Device) -> Result<(), String> {
    let n = 500;
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let start = Instant::now();
        let mut x = Tensor::<1>::from_data(TensorData::new(vec![0.5f32; 64], [64]), kiln);
        for _ in 0..n {
            x = x.add_scalar(1.0);
        }
        let data = x.try_into_data().map_err(|e| format!("{e:?}"))?;
        best = best.min(ms(start.elapsed()));
        let v: Vec<f32> = data.try_to_vec::<f32>().map_err(|e| format!("{e:?}"))?;
        if v.first().copied() != Some(0.5 + n as f32) {
            return Err(format!("{n} adds gave {:?}", v.first()));
        }
    }
    println!(
        "\n== remote path: {n} ops then one read in {best:.2} ms, {:.1} us per op",
        best * 1e3 / n as f64
    );
    // One op and its read, over and over: the round trip a step pays per value it reads.
    let x = Tensor::<1>::from_data(TensorData::new(vec![0.5f32; 64], [64]), kiln);
    let mut times = Vec::new();
    for _ in 0..21 {
        let start = Instant::now();
        x.clone()
            .add_scalar(1.0)
            .try_into_data()
            .map_err(|e| format!("{e:?}"))?;
        times.push(ms(start.elapsed()));
    }
    times.remove(0);
    times.sort_by(f64::total_cmp);
    println!(
        "one op and its read: {:.2} ms (median of 20)",
        times[times.len() / 2]
    );
    Ok(())
}

fn run() -> Result<(), String> {
    env_logger::init();
    let args = args()?;
    let url = server(args.server)?;
    let kiln = Device::remote_options(&RemoteHost::websocket(&url))
        .init()
        .map_err(|e| format!("connecting to {url}: {e}"))?;
    let flex = Device::flex();
    train_both(&kiln, &flex, args.steps)?;
    encoder_both(&kiln, &flex)?;
    per_op(&kiln)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("remote_train: {e}");
        std::process::exit(1);
    }
}

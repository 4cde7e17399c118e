//! kiln's demo: build a small graph, show the plan, run it on the default adapter, check it
//! against the reference interpreter and print timings.
//!
//! `cargo run --release --example demo`

use kiln::{DType, Device, Tensor};
use std::time::Instant;

fn main() -> kiln::Result<()> {
    // `RUST_LOG=debug` shows the plan and each kernel's compile time.
    env_logger::init();
    let device = Device::default_device()?;
    println!("device: {}", device.describe());

    // A small MLP-ish graph: y = softmax(gelu(x @ w + b)) with a strided view and a reduction.
    let x = Tensor::rand_on(&device, &[64, 128], -1.0, 1.0, 1, DType::F32)?;
    let w = Tensor::rand_on(&device, &[128, 96], -0.1, 0.1, 2, DType::F32)?;
    let b = Tensor::rand_on(&device, &[96], -0.1, 0.1, 3, DType::F32)?;
    let h = x.matmul(&w)?.add(&b)?.gelu()?;
    let y = h.softmax(-1)?;
    let col_mean = y.transpose(0, 1)?.mean(&[-1], false)?;

    println!("\nplan:");
    for (i, (name, wgsl)) in kiln::generated_wgsl(&[&y, &col_mean])?.iter().enumerate() {
        println!(
            "  kernel {i}: {name} ({} lines of WGSL)",
            wgsl.lines().count()
        );
    }

    let t0 = Instant::now();
    Tensor::realize_all(&[&y, &col_mean])?;
    let got = col_mean.to_vec::<f32>()?;
    let first = t0.elapsed();

    // Warm runs: new input data, same structure, so the compiled plan is reused.
    let host_x = x.to_host()?;
    let t1 = Instant::now();
    let reps = 10;
    for _ in 0..reps {
        let xi = Tensor::from_host_on(&device, host_x.clone())?;
        let yi = xi.matmul(&w)?.add(&b)?.gelu()?.softmax(-1)?;
        yi.to_vec::<f32>()?;
    }
    let warm = t1.elapsed() / reps as u32;

    let want = col_mean.reference()?.to_vec::<f32>()?;
    let max_err = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    println!(
        "\nresult: column means of softmax rows, first 6 of {}:",
        got.len()
    );
    println!("  {:?}", &got[..6]);
    println!("reference interpreter: max |gpu - reference| = {max_err:.2e}");
    println!("timing: first run (compile included) {first:?}, warm run {warm:?}");
    if let Some(g) = device.gpu() {
        let c = g.counters();
        println!(
            "plans: {} compiled, {} reused; pipelines compiled: {}",
            c.plan_misses, c.plan_hits, c.pipelines_compiled
        );
    }
    if max_err > 1e-5 {
        eprintln!("MISMATCH against the reference interpreter");
        std::process::exit(1);
    }
    println!("ok: matches the reference interpreter");
    Ok(())
}

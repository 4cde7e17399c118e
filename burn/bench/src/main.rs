//! `kiln-burn-bench [--iters N] [--server URL] [--only NAME]`: Burn programs on kiln (through
//! `kiln-burn-server`, in this process unless `--server`) and on Burn's own wgpu backend
//! (Vulkan, fusion and autotune on), same card, same run: issue 17's target. Each workload is
//! timed as Burn users time it (the op, then `Device::sync`), median of `N` after two warm-ups,
//! and its outputs on both devices are compared. Last, what one op costs on each, and the
//! elementwise step and one op on kiln in this process through Burn's `Backend` trait, with
//! no server: the remote route's share.

use burn::module::Module;
use burn::nn::transformer::{TransformerEncoderConfig, TransformerEncoderInput};
use burn::nn::LayerNormConfig;
use burn::remote::RemoteHost;
use burn::tensor::{activation, Device, DeviceKind, Tensor, TensorData};
use kiln_burn::server::KilnServer;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Instant;

/// Values uniform in [-1, 1) from a seed (SplitMix64), the same on every device.
fn data(shape: &[usize], seed: u64) -> TensorData {
    let n: usize = shape.iter().product();
    let mut s = seed;
    let v: Vec<f32> = (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            ((z >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    TensorData::new(v, shape.to_vec())
}

/// A workload: builds its inputs on a device once, then runs one step whose output it returns.
struct Workload {
    name: &'static str,
    /// Bytes moved or floating-point operations of one step, for the rate column.
    work: (f64, &'static str),
    run: fn(&Device) -> Box<dyn FnMut() -> Tensor<3>>,
}

/// The elementwise workload's shape and name (its step is also timed in process).
const ELEMENTWISE: [usize; 3] = [1, 4096, 4096];
const ELEMENTWISE_NAME: &str = "elementwise gelu(x*y+z) 4096x4096";

fn elementwise(d: &Device) -> Box<dyn FnMut() -> Tensor<3>> {
    let (x, y, z) = (
        Tensor::<3>::from_data(data(&ELEMENTWISE, 1), d),
        Tensor::<3>::from_data(data(&ELEMENTWISE, 2), d),
        Tensor::<3>::from_data(data(&ELEMENTWISE, 3), d),
    );
    Box::new(move || activation::gelu(x.clone() * y.clone() + z.clone()))
}

fn softmax(d: &Device) -> Box<dyn FnMut() -> Tensor<3>> {
    let x = Tensor::<3>::from_data(data(&[1, 8192, 4096], 4), d);
    Box::new(move || activation::softmax(x.clone(), 2))
}

fn layer_norm(d: &Device) -> Box<dyn FnMut() -> Tensor<3>> {
    let x = Tensor::<3>::from_data(data(&[1, 8192, 4096], 5), d);
    let ln = LayerNormConfig::new(4096).init(d);
    Box::new(move || ln.forward(x.clone()))
}

fn matmul(d: &Device) -> Box<dyn FnMut() -> Tensor<3>> {
    let (a, b) = (
        Tensor::<3>::from_data(data(&[1, 4096, 4096], 6), d),
        Tensor::<3>::from_data(data(&[1, 4096, 4096], 7), d),
    );
    Box::new(move || a.clone().matmul(b.clone()))
}

fn encoder_layer(d: &Device) -> Box<dyn FnMut() -> Tensor<3>> {
    // One encoder layer as Burn defines it; weights drawn on Flex with one seed, then copied,
    // so both devices compute with the same ones.
    let flex = Device::flex();
    flex.seed(21);
    let config = TransformerEncoderConfig::new(768, 3072, 12, 1).with_dropout(0.0);
    let layer = config.init(&flex).to_device(d);
    let x = Tensor::<3>::from_data(data(&[8, 512, 768], 8), d);
    Box::new(move || layer.forward(TransformerEncoderInput::new(x.clone())))
}

const WORKLOADS: [Workload; 5] = [
    Workload {
        name: ELEMENTWISE_NAME,
        work: (4.0 * 4.0 * 4096.0 * 4096.0, "GB/s"),
        run: elementwise,
    },
    Workload {
        name: "softmax 8192x4096",
        work: (2.0 * 4.0 * 8192.0 * 4096.0, "GB/s"),
        run: softmax,
    },
    Workload {
        name: "layer_norm 8192x4096",
        work: (2.0 * 4.0 * 8192.0 * 4096.0, "GB/s"),
        run: layer_norm,
    },
    Workload {
        name: "matmul 4096x4096x4096",
        work: (2.0 * 4096.0 * 4096.0 * 4096.0, "TFLOP/s"),
        run: matmul,
    },
    Workload {
        name: "encoder layer b8 s512 d768",
        work: (
            // Projections (4 d^2), feed-forward (8 d^2) per token, and attention (4 s d).
            8.0 * 512.0 * (2.0 * 12.0 * 768.0 * 768.0 + 4.0 * 512.0 * 768.0),
            "TFLOP/s",
        ),
        run: encoder_layer,
    },
];

/// Median time (ms) of `iters` runs of `step` after two warm-ups.
fn median(iters: usize, mut step: impl FnMut() -> Result<(), String>) -> Result<f64, String> {
    for _ in 0..2 {
        step()?;
    }
    let mut times = Vec::with_capacity(iters);
    for _ in 0..iters {
        let start = Instant::now();
        step()?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// Median time of `iters` steps, each synced, after two warm-ups; and the last output.
fn time(
    device: &Device,
    step: &mut dyn FnMut() -> Tensor<3>,
    iters: usize,
) -> Result<(f64, Vec<f32>), String> {
    // The output is held across the sync: a lazy backend (kiln, Burn's fusion) computes only
    // what is still held.
    let ms = median(iters, || {
        let out = step();
        device.sync().map_err(|e| format!("sync: {e:?}"))?;
        drop(out);
        Ok(())
    })?;
    let out = step()
        .try_into_data()
        .map_err(|e| format!("read: {e:?}"))?
        .try_to_vec::<f32>()
        .map_err(|e| format!("read: {e:?}"))?;
    Ok((ms, out))
}

/// What one op costs, from a small tensor (`small`), an op on it (`op`) and its read
/// (`read`): 500 ops then one read (µs an op, best of 3), and one op with its read (ms, median
/// of 20).
fn op_costs<T: Clone>(
    small: impl Fn() -> T,
    op: impl Fn(T) -> T,
    read: impl Fn(T) -> Result<(), String>,
) -> Result<(f64, f64), String> {
    let n = 500;
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let start = Instant::now();
        let mut t = small();
        for _ in 0..n {
            t = op(t);
        }
        read(t)?;
        best = best.min(start.elapsed().as_secs_f64() * 1e6 / n as f64);
    }
    let t = small();
    let one = median(20, || read(op(t.clone())))?;
    Ok((best, one))
}

/// What one op costs on `device` ([`op_costs`]: scalar adds on 64 elements).
fn per_op(device: &Device) -> Result<(f64, f64), String> {
    op_costs(
        || Tensor::<1>::from_data(TensorData::new(vec![0.5f32; 64], [64]), device),
        |t| t.add_scalar(1.0),
        |t| t.try_into_data().map(drop).map_err(|e| format!("read: {e:?}")),
    )
}

/// kiln in this process through Burn's `Backend` trait, no server between: the elementwise
/// step (ms, as [`time`] times it) and [`op_costs`]. What the route adds is the difference.
fn in_process(iters: usize) -> Result<(f64, f64, f64), String> {
    use burn_backend::ops::{ActivationOps, FloatTensorOps};
    use burn_backend::{Backend, Scalar};
    type B = kiln_burn::Kiln;
    let d = kiln_burn::KilnDevice::default();
    let (x, y, z) = (
        B::float_from_data(data(&ELEMENTWISE, 1), &d),
        B::float_from_data(data(&ELEMENTWISE, 2), &d),
        B::float_from_data(data(&ELEMENTWISE, 3), &d),
    );
    let step = median(iters, || {
        let out = B::gelu(B::float_add(B::float_mul(x.clone(), y.clone()), z.clone()));
        B::sync(&d).map_err(|e| format!("sync: {e:?}"))?;
        drop(out);
        Ok(())
    })?;
    let (per_op, one) = op_costs(
        || B::float_from_data(TensorData::new(vec![0.5f32; 64], [64]), &d),
        |t| B::float_add_scalar(t, Scalar::Float(1.0)),
        |t| {
            pollster::block_on(B::float_into_data(t))
                .map(drop)
                .map_err(|e| format!("read: {e:?}"))
        },
    )?;
    Ok((step, per_op, one))
}

fn rate(work: (f64, &str), ms: f64) -> String {
    let scale = if work.1 == "GB/s" { 1e9 } else { 1e12 };
    format!("{:.1} {}", work.0 / (ms * 1e-3) / scale, work.1)
}

fn run() -> Result<(), String> {
    env_logger::init();
    let mut iters = 20;
    let mut server = None;
    let mut only = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let v = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--iters" => iters = v.parse().map_err(|e| format!("--iters: {e}"))?,
            "--server" => server = Some(v),
            "--only" => only = Some(v),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let url = match server {
        Some(url) => url,
        None => {
            let s = KilnServer::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
                .map_err(|e| e.to_string())?;
            let url = s.url();
            eprintln!("kiln ({}) served on {url}", s.adapter());
            std::thread::spawn(move || {
                if let Err(e) = s.serve() {
                    eprintln!("kiln-burn-server: {e}");
                }
            });
            url
        }
    };
    let kiln = Device::remote_options(&RemoteHost::websocket(&url))
        .init()
        .map_err(|e| format!("connecting to {url}: {e}"))?;
    let wgpu = Device::vulkan(DeviceKind::DefaultDevice);
    println!(
        "| workload | kiln (server) ms | rate | Burn wgpu ms | rate | kiln / wgpu | max diff |"
    );
    println!("|---|---|---|---|---|---|---|");
    for w in WORKLOADS
        .iter()
        .filter(|w| only.as_ref().is_none_or(|o| w.name.contains(o.as_str())))
    {
        let (k_ms, k_out) = time(&kiln, &mut (w.run)(&kiln), iters)?;
        let (g_ms, g_out) = time(&wgpu, &mut (w.run)(&wgpu), iters)?;
        let diff = k_out
            .iter()
            .zip(&g_out)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        println!(
            "| {} | {k_ms:.3} | {} | {g_ms:.3} | {} | {:.2} | {diff:.1e} |",
            w.name,
            rate(w.work, k_ms),
            rate(w.work, g_ms),
            k_ms / g_ms
        );
    }
    if only
        .as_ref()
        .is_none_or(|o| ELEMENTWISE_NAME.contains(o.as_str()))
    {
        let (step, us, read_ms) = in_process(iters)?;
        println!(
            "kiln in this process (Backend trait, no server): elementwise step {step:.3} ms; \
             {us:.1} us per op (500 ops, one read); one op and its read {read_ms:.3} ms"
        );
    }
    for (name, d) in [("kiln (server)", &kiln), ("Burn wgpu", &wgpu)] {
        let (us, read_ms) = per_op(d)?;
        println!(
            "{name}: {us:.1} us per op (500 ops, one read); one op and its read {read_ms:.3} ms"
        );
    }
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("kiln-burn-bench: {e}");
        std::process::exit(1);
    }
}

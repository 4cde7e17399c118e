//! The server end to end (issue 17): `kiln-burn-server` started as a user starts it, and a Burn
//! program (the `remote_train` example's MLP) trained through it beside Burn's own CPU backend;
//! bad input sent through it comes back as an error and the server keeps serving.

// The example's own file; its timing and data helpers serve the example only.
#[allow(dead_code)]
#[path = "../examples/remote_train/mlp.rs"]
mod mlp;

use burn::module::Module;
use burn::remote::RemoteHost;
use burn::tensor::{Device, Int, Tensor, TensorData};
use mlp::{Mlp, Task};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The server process, killed when dropped (on a failed assertion too: the test unwinds through
/// it, so no server outlives the test to hold cargo's output pipe open).
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Err(e) = self.child.kill() {
            eprintln!("stopping kiln-burn-server: {e}");
        }
        if let Err(e) = self.child.wait() {
            eprintln!("waiting for kiln-burn-server: {e}");
        }
    }
}

/// Starts `kiln-burn-server --port 0` and reads the address it serves on from its first line.
fn start() -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiln-burn-server"))
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("kiln-burn-server starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("kiln-burn-server prints its address");
    let url = line
        .split_whitespace()
        .last()
        .filter(|u| u.starts_with("ws://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    Server { child, url }
}

/// One server for both checks, in order: the second also shows that the server outlived the
/// first's traffic.
#[test]
fn kiln_burn_server_end_to_end() {
    let server = start();
    let kiln = Device::remote_options(&RemoteHost::websocket(&server.url))
        .init()
        .expect("connects to kiln-burn-server");
    mlp_loss_curve_matches_flex(&kiln);
    out_of_range_gather_is_an_error_and_the_server_keeps_serving(&kiln);
    drop(server);
}

fn mlp_loss_curve_matches_flex(kiln: &Device) {
    let flex = Device::flex();
    let task = Task::new(256, 3);
    flex.seed(5);
    let model = Mlp::new(&flex.clone().autodiff());
    let on_kiln = model.clone().fork(&kiln.clone().autodiff());
    let k = mlp::train(on_kiln, &task, &kiln.clone().autodiff(), 20, |_, _| {}).unwrap();
    let f = mlp::train(model, &task, &flex.clone().autodiff(), 20, |_, _| {}).unwrap();
    assert_eq!(k.len(), 20);
    // Both are f32 with another order of summation in the matmuls and the softmax; Adam
    // normalizes the gradients, so the differences stay at rounding level over 20 steps.
    for (i, (a, b)) in k.iter().zip(&f).enumerate() {
        let tol = 1e-5 + 1e-3 * b.loss.abs();
        assert!(
            (a.loss - b.loss).abs() <= tol,
            "step {i}: kiln loss {} vs flex {}",
            a.loss,
            b.loss
        );
    }
    // The curve is a training curve, not a constant: Adam at 1e-2 brings it well down.
    assert!(f[19].loss < 0.8 * f[0].loss, "flex did not learn: {f:?}");
}

fn out_of_range_gather_is_an_error_and_the_server_keeps_serving(kiln: &Device) {
    let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2]), kiln);
    let idx = Tensor::<2, Int>::from_data(TensorData::new(vec![0i64, 5, 1, 0], [2, 2]), kiln);
    let bad = x.clone().gather(1, idx).try_into_data();
    assert!(bad.is_err(), "an index of 5 into 2 columns read {bad:?}");

    let idx = Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, 0, 1, 1], [2, 2]), kiln);
    let good: Vec<f32> = x.gather(1, idx).into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(good, vec![2.0, 1.0, 4.0, 4.0]);
}

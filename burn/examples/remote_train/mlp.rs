//! The example's MLP and its synthetic task, shared with the end-to-end test
//! (`tests/remote.rs`): a Burn program as a Burn user writes it, on whichever device it is given.

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig, Relu};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use std::time::{Duration, Instant};

/// Input features of the task.
pub const FEATURES: usize = 8;
/// Classes of the task.
pub const CLASSES: usize = 4;
const HIDDEN: usize = 64;
const LEARNING_RATE: f64 = 1e-2;

/// Three linear layers with ReLU between them.
#[derive(Module, Debug)]
pub struct Mlp {
    input: Linear,
    hidden: Linear,
    output: Linear,
    activation: Relu,
}

impl Mlp {
    /// Burn's default initialization, drawn on `device`.
    pub fn new(device: &Device) -> Self {
        Self {
            input: LinearConfig::new(FEATURES, HIDDEN).init(device),
            hidden: LinearConfig::new(HIDDEN, HIDDEN).init(device),
            output: LinearConfig::new(HIDDEN, CLASSES).init(device),
            activation: Relu::new(),
        }
    }

    /// Class logits `[batch, CLASSES]` of `x: [batch, FEATURES]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let x = self.activation.forward(self.input.forward(x));
        let x = self.activation.forward(self.hidden.forward(x));
        self.output.forward(x)
    }
}

/// A deterministic generator (SplitMix64), so that every backend sees the same data.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// A value uniform in [-1, 1).
    pub fn uniform(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        ((z >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    /// `n` uniform values as a tensor's data of `shape`.
    pub fn data(&mut self, shape: Vec<usize>) -> TensorData {
        let n = shape.iter().product();
        let values: Vec<f32> = (0..n).map(|_| self.uniform()).collect();
        TensorData::new(values, shape)
    }
}

/// The task: points of [-1, 1)^FEATURES, each labelled by which of CLASSES fixed random
/// directions it lies furthest along, with the squares of its first features mixed in so that
/// the classes are not linearly separable.
pub struct Task {
    /// Inputs, `[n, FEATURES]` f32.
    pub x: TensorData,
    /// Labels, `[n]` i64.
    pub y: TensorData,
}

impl Task {
    /// `n` labelled points from `seed`.
    pub fn new(n: usize, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let teacher: Vec<f32> = (0..FEATURES * CLASSES).map(|_| rng.uniform()).collect();
        let mut x = Vec::with_capacity(n * FEATURES);
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            let point: Vec<f32> = (0..FEATURES).map(|_| rng.uniform()).collect();
            let score = |c: usize| -> f32 {
                let linear: f32 = (0..FEATURES)
                    .map(|f| point[f] * teacher[f * CLASSES + c])
                    .sum();
                linear + point[c] * point[c]
            };
            let label = (0..CLASSES)
                .max_by(|&a, &b| score(a).total_cmp(&score(b)))
                .unwrap_or(0);
            x.extend_from_slice(&point);
            y.push(label as i64);
        }
        Task {
            x: TensorData::new(x, [n, FEATURES]),
            y: TensorData::new(y, [n]),
        }
    }
}

/// One training step as the loop saw it.
#[derive(Clone, Copy, Debug)]
pub struct Step {
    /// The cross-entropy loss before the step's update.
    pub loss: f32,
    /// Wall time from the previous loss read to this one: the step's forward, backward and Adam
    /// update, with the device synchronized by the read.
    pub time: Duration,
}

/// Trains `model` on `task` with Adam for `steps` full-batch steps on `device` (an autodiff
/// device), calling `each` after every step. A failed read ends training with its error.
pub fn train(
    model: Mlp,
    task: &Task,
    device: &Device,
    steps: usize,
    mut each: impl FnMut(usize, Step),
) -> Result<Vec<Step>, String> {
    let x = Tensor::<2>::from_data(task.x.clone(), device);
    let y = Tensor::<1, Int>::from_data(task.y.clone(), device);
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let mut optim = AdamConfig::new().init();
    let mut model = model;
    let mut curve = Vec::with_capacity(steps);
    let mut last = Instant::now();
    for i in 0..steps {
        let loss = loss_fn.forward(model.forward(x.clone()), y.clone());
        let value = loss
            .clone()
            .try_into_scalar::<f32>()
            .map_err(|e| format!("step {i}: reading the loss: {e:?}"))?;
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(LEARNING_RATE, model, grads);
        let now = Instant::now();
        let step = Step {
            loss: value,
            time: now - last,
        };
        last = now;
        each(i, step);
        curve.push(step);
    }
    Ok(curve)
}

//! criterion benches of the standard workloads at small size (lavapipe-sized), on the default
//! device. `cargo bench --bench workloads [-- NAME]`. GPU-sized runs use `kiln-bench`. A few
//! short workloads are also timed as 20 runs inside one `Device::batch` (`NAME_batched_x20`).

use criterion::{criterion_group, criterion_main, Criterion};
use kiln::Device;
use kiln_bench::runner::Runner;
use kiln_bench::workloads::{self, Size};
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let dev = match Device::default_device() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("no device: {e}");
            return;
        }
    };
    let mut group = c.benchmark_group("small");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for name in workloads::NAMES {
        let Ok(Some(w)) = workloads::build(&dev, name, Size::Small) else {
            continue;
        };
        let Ok(prog) = w.compile() else { continue };
        // Carried outputs (a decode step's caches) come back as the next run's inputs.
        let mut runner = Runner::new(&w, &prog);
        group.bench_function(name, |b| {
            b.iter(|| {
                runner.run().expect("run");
                dev.synchronize().expect("sync");
            })
        });
        // Short kernels also as 20 runs in one `Device::batch` (one iteration = 20 runs).
        if BATCHED.contains(&name) {
            group.bench_function(format!("{name}_batched_x20"), |b| {
                b.iter(|| {
                    dev.batch(|| {
                        for _ in 0..20 {
                            runner.run()?;
                        }
                        Ok(())
                    })
                    .expect("batch");
                    dev.synchronize().expect("sync");
                })
            });
        }
    }
    group.finish();
}

/// Workloads whose runs are short enough for the per-submission cost to show.
const BATCHED: [&str; 5] = [
    "softmax",
    "layernorm",
    "row_sum",
    "gemv_t",
    "launch_overhead",
];

criterion_group!(benches, bench);
criterion_main!(benches);

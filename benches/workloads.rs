//! criterion benches of the standard workloads at small size (lavapipe-sized), on the default
//! device. `cargo bench --bench workloads [-- NAME]`. GPU-sized runs use `kiln-bench`.

use criterion::{criterion_group, criterion_main, Criterion};
use kiln::workloads::{self, Size};
use kiln::Device;
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
        let inputs = w.input_refs();
        group.bench_function(name, |b| {
            b.iter(|| {
                prog.run(&inputs).expect("run");
                dev.synchronize().expect("sync");
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

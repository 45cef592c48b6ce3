//! Criterion benches of the workloads' inner steps (smaller sizes than the JSON workloads).

use criterion::{Criterion, criterion_group, criterion_main};
use sgm_benches::{Scale, w1, w2, w3, w4, w5, w6};

fn workloads(c: &mut Criterion) {
    let device = burn::prelude::Device::flex();
    let mut group = c.benchmark_group("workloads");
    group.sample_size(10);
    group.bench_function("w1 (2% of the steps)", |b| {
        b.iter(|| w1(&device, Scale(0.02)))
    });
    group.bench_function("w2 (2% of the steps)", |b| {
        b.iter(|| w2(&device, Scale(0.02)))
    });
    group.bench_function("w3 (2% of the steps)", |b| {
        b.iter(|| w3(&device, Scale(0.02)))
    });
    group.bench_function("w4 (1,024 samples)", |b| b.iter(|| w4(&device, false)));
    group.bench_function("w4h (1,024 samples)", |b| b.iter(|| w4(&device, true)));
    group.bench_function("w5 (5% of the steps)", |b| {
        b.iter(|| w5(&device, Scale(0.05)))
    });
    group.bench_function("w6 (256 draws, every sampler and budget)", |b| {
        b.iter(|| w6(&device, Scale(1.0 / 64.0)))
    });
    group.finish();
}

criterion_group!(benches, workloads);
criterion_main!(benches);

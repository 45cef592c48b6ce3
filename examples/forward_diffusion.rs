//! Diffuses the ring8 mixture under the VE, VP and sub-VP SDEs with Euler-Maruyama and compares
//! the simulated marginal mean and std with the exact ones, then draws the particle clouds.
//!
//! ```text
//! cargo run --example forward_diffusion [-- --device flex --out out --particles 4096]
//! ```
//!
//! For ring8 (means on a circle of radius 4, std 0.5), E[x0] = 0 and Var(x0) = 0.25 + 16/2 =
//! 8.25 per coordinate, so under a linear SDE the marginal at t has mean 0 and std
//! sqrt(m(t)^2 8.25 + std(t)^2) per coordinate.

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use sgm::prelude::*;
use sgm_examples::CommonArgs;
use sgm_examples::plot::{Panel, scatter_grid};

#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Number of particles.
    #[arg(long, default_value_t = 4096)]
    particles: usize,
    /// Euler-Maruyama steps from t = 0 to t = 1.
    #[arg(long, default_value_t = 1000)]
    steps: usize,
}

/// Per-coordinate variance of ring8.
const RING8_VARIANCE: f64 = 0.25 + 8.0;

fn mean_std(flat: &[f64]) -> ([f64; 2], [f64; 2]) {
    let n = (flat.len() / 2) as f64;
    let mean = [0, 1].map(|k| flat.iter().skip(k).step_by(2).sum::<f64>() / n);
    let std = [0, 1].map(|k| {
        (flat
            .iter()
            .skip(k)
            .step_by(2)
            .map(|v| (v - mean[k]).powi(2))
            .sum::<f64>()
            / (n - 1.0))
            .sqrt()
    });
    (mean, std)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let device = args.common.setup()?;
    let ring = GaussianMixture::ring8();
    let sdes: [(&str, Box<dyn LinearSde>); 3] = [
        ("VE", Box::new(VeSde::default())),
        ("VP", Box::new(VpSde::default())),
        ("sub-VP", Box::new(SubVpSde::default())),
    ];
    let snapshots = [0.0, 0.1, 0.3, 0.6, 1.0];
    let dt = 1.0 / args.steps as f64;
    let mut noise = HostNoise::new(args.common.seed);
    let mut panels = Vec::new();
    println!("sde     t      mean (sim)          mean (exact)  std (sim)           std (exact)");
    for (name, sde) in &sdes {
        let bar = ProgressBar::new(args.steps as u64).with_style(ProgressStyle::with_template(
            "{prefix:>7} {bar:40} {pos}/{len} steps",
        )?);
        bar.set_prefix(name.to_string());
        let mut x = ring.sample(args.particles, &device, DType::F32, &mut noise);
        let mut next = 0;
        for step in 0..=args.steps {
            let t = step as f64 * dt;
            if next < snapshots.len() && (t - snapshots[next]).abs() < dt / 2.0 {
                let flat = sgm::core::tensor::to_f64(x.clone());
                let (mean, std) = mean_std(&flat);
                let exact_std =
                    (sde.mean_coeff_at(t).powi(2) * RING8_VARIANCE + sde.std_at(t).powi(2)).sqrt();
                bar.suspend(|| {
                    println!(
                        "{name:<7} {t:<6.2} ({:+.3}, {:+.3})  0             ({:.3}, {:.3})  {exact_std:.3}",
                        mean[0], mean[1], std[0], std[1]
                    )
                });
                let range = (4.0 * exact_std).max(7.0);
                panels.push(Panel::from_flat(
                    format!("{name}, t = {t:.1}"),
                    &flat,
                    range,
                ));
                next += 1;
            }
            if step == args.steps {
                break;
            }
            let z = noise.normal_like(&x);
            let drift = sde.drift(x.clone(), time_like(t, &x));
            x = x + drift * dt + z * (sde.diffusion_at(t) * dt.sqrt());
            bar.inc(1);
        }
        bar.finish_and_clear();
    }
    let path = args.common.out.join("forward_diffusion.png");
    scatter_grid(
        &path,
        "ring8 diffused by Euler-Maruyama (rows: VE, VP, sub-VP)",
        sdes.len(),
        snapshots.len(),
        &panels,
    )?;
    println!("wrote {}", path.display());
    Ok(())
}

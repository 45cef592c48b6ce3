//! The pipeline of the `forward_diffusion` example: diffuses the ring8 mixture under the VE, VP
//! and sub-VP SDEs with Euler-Maruyama and compares the simulated marginal mean and std with the
//! exact ones, then draws the particle clouds.
//!
//! For ring8 (means on a circle of radius 4, std 0.5), E(x0) = 0 and Var(x0) = 0.25 + 16/2 =
//! 8.25 per coordinate, so under a linear SDE the marginal at t has mean 0 and std
//! sqrt(m(t)^2 8.25 + std(t)^2) per coordinate.

use std::error::Error;
use std::path::PathBuf;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use sgm::prelude::*;

use crate::CommonArgs;
use crate::plot::{Panel, scatter_grid};

/// Diffuses ring8 under the VE, VP and sub-VP SDEs by Euler-Maruyama and compares the simulated
/// marginals with the exact ones (command line of the `forward_diffusion` example).
#[derive(Debug, Clone, Parser)]
pub struct Args {
    /// Device, output directory and seed.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Number of particles.
    #[arg(long, default_value_t = 4096)]
    pub particles: usize,
    /// Euler-Maruyama steps from t = 0 to t = 1.
    #[arg(long, default_value_t = 1000)]
    pub steps: usize,
}

/// Times at which the marginals are measured and drawn.
pub const SNAPSHOTS: [f64; 5] = [0.0, 0.1, 0.3, 0.6, 1.0];

/// Per-coordinate variance of ring8.
pub const RING8_VARIANCE: f64 = 0.25 + 8.0;

/// One printed row: the simulated marginal of one SDE at one snapshot time.
#[derive(Debug, Clone, PartialEq)]
pub struct Marginal {
    /// SDE name: "VE", "VP" or "sub-VP".
    pub sde: &'static str,
    /// Snapshot time.
    pub t: f64,
    /// Simulated mean per coordinate.
    pub mean: [f64; 2],
    /// Simulated std per coordinate (sample std, n - 1 in the denominator).
    pub std: [f64; 2],
    /// Exact marginal std per coordinate, sqrt(m(t)^2 8.25 + std(t)^2).
    pub exact_std: f64,
}

/// What a run prints and writes.
#[derive(Debug, Clone)]
pub struct Summary {
    /// One row per SDE and snapshot, in the printed order.
    pub marginals: Vec<Marginal>,
    /// Number of particles.
    pub particles: usize,
    /// The PNG written.
    pub plot: PathBuf,
}

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

/// Runs the example: prints the table, writes `forward_diffusion.png` into the output directory.
///
/// # Errors
/// An unknown device, an output directory or PNG that cannot be written.
pub fn run(args: &Args) -> Result<Summary, Box<dyn Error>> {
    let device = args.common.setup()?;
    let ring = GaussianMixture::ring8();
    let sdes: [(&'static str, Box<dyn LinearSde>); 3] = [
        ("VE", Box::new(VeSde::default())),
        ("VP", Box::new(VpSde::default())),
        ("sub-VP", Box::new(SubVpSde::default())),
    ];
    let snapshots = SNAPSHOTS;
    let dt = 1.0 / args.steps as f64;
    let mut noise = HostNoise::new(args.common.seed);
    let mut panels = Vec::new();
    let mut marginals = Vec::new();
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
                marginals.push(Marginal {
                    sde: name,
                    t,
                    mean,
                    std,
                    exact_std,
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
            let tt = time_like(t, &x);
            let g = sgm::core::tensor::column(sde.diffusion(tt.clone()));
            let drift = sde.drift(x.clone(), tt);
            x = x + drift * dt + z * g * dt.sqrt();
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
    Ok(Summary {
        marginals,
        particles: args.particles,
        plot: path,
    })
}

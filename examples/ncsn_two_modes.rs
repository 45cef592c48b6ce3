//! Song & Ermon's two-mode experiment (NeurIPS 2019, sec. 3.2, Fig. 3): Langevin dynamics with
//! the exact score of 0.2 N((-5, -5), I) + 0.8 N((5, 5), I) keeps the wrong mode weights,
//! annealed Langevin dynamics with the exact perturbed scores recovers them.
//!
//! ```text
//! cargo run --example ncsn_two_modes [-- --particles 1280 --out out]
//! ```
//!
//! Prints one JSON line {"langevin": [low, high], "annealed": [low, high]} (the share of
//! particles nearest each mode) and writes out/ncsn_two_modes.png.

use clap::Parser;
use sgm::prelude::*;
use sgm::samplers::{AnnealedLangevin, LangevinDynamics, Progress};
use sgm_examples::CommonArgs;
use sgm_examples::plot::{Panel, scatter_grid};

#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Number of particles (1,280 in the paper).
    #[arg(long, default_value_t = 1280)]
    particles: usize,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let device = args.common.setup()?;
    let two = GaussianMixture::two_modes();
    let mut noise = HostNoise::new(args.common.seed);
    let uniform = sgm::core::Noise::Uniform {
        low: -8.0,
        high: 8.0,
    };
    let x0 = noise.sample(uniform, [args.particles, 2], &device, DType::F32);

    let score = |x: Tensor<2>, _t: Tensor<1>| two.score(x);
    let langevin = LangevinDynamics::new(0.1, 1000)?.sample(
        &score,
        x0.clone(),
        0.0,
        &mut noise,
        &mut Progress::new("Langevin"),
    )?;

    let levels = GeometricSigmas::new(1.0, 20.0, 10)?;
    let smld = SmldMarginals::from_levels(&levels)?;
    let exact = two.perturbed(&smld);
    let annealed = AnnealedLangevin::new(levels, 100, 0.1)?.sample(
        &exact,
        x0.clone(),
        &mut noise,
        &mut Progress::new("annealed Langevin"),
    )?;

    let exact_samples = two.sample(args.particles, &device, DType::F32, &mut noise);
    let langevin_shares = two.component_shares(langevin.clone());
    let annealed_shares = two.component_shares(annealed.clone());
    #[derive(serde::Serialize)]
    struct Shares<'a> {
        langevin: &'a [f64],
        annealed: &'a [f64],
    }
    let shares = Shares {
        langevin: &langevin_shares,
        annealed: &annealed_shares,
    };
    println!("{}", serde_json::to_string(&shares)?);
    let to_flat = sgm::core::tensor::to_f64;
    let panels = [
        Panel::from_flat("initial: uniform on [-8, 8]^2", &to_flat(x0), 10.0),
        Panel::from_flat(
            "exact samples (weights 0.2 / 0.8)",
            &to_flat(exact_samples),
            10.0,
        ),
        Panel::from_flat(
            format!("Langevin: low mode {:.2}", langevin_shares[0]),
            &to_flat(langevin),
            10.0,
        ),
        Panel::from_flat(
            format!(
                "annealed (ends at sigma = 1): low {:.2}",
                annealed_shares[0]
            ),
            &to_flat(annealed),
            10.0,
        ),
    ];
    let path = args.common.out.join("ncsn_two_modes.png");
    scatter_grid(
        &path,
        "0.2 N((-5,-5), I) + 0.8 N((5,5), I), exact scores",
        1,
        4,
        &panels,
    )?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

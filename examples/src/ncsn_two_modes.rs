//! The pipeline of the `ncsn_two_modes` example, Song & Ermon's two-mode experiment (NeurIPS
//! 2019, sec. 3.2, Fig. 3): Langevin dynamics with the exact score of
//! 0.2 N((-5, -5), I) + 0.8 N((5, 5), I) keeps the wrong mode weights, annealed Langevin
//! dynamics with the exact perturbed scores recovers them.

use std::error::Error;
use std::path::PathBuf;

use clap::Parser;
use sgm::prelude::*;
use sgm::samplers::{AnnealedLangevin, LangevinDynamics, Progress};

use crate::CommonArgs;
use crate::plot::{Panel, scatter_grid};

/// Song & Ermon's two-mode experiment: Langevin vs annealed Langevin mode weights (command line
/// of the `ncsn_two_modes` example).
#[derive(Debug, Clone, Parser)]
pub struct Args {
    /// Device, output directory and seed.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Number of particles (1,280 in the paper).
    #[arg(long, default_value_t = 1280)]
    pub particles: usize,
    /// Steps per noise level of annealed Langevin dynamics (10 levels from 20 to 1, base step
    /// size 0.1).
    #[arg(long, default_value_t = 100)]
    pub steps_per_level: usize,
}

/// Step size of plain Langevin dynamics and base step size of the annealed one.
pub const STEP_SIZE: f64 = 0.1;

/// Steps of plain Langevin dynamics.
pub const LANGEVIN_STEPS: usize = 1000;

/// The noise levels of annealed Langevin dynamics: 10 geometric levels from 20 down to 1.
pub const LEVELS: (f64, f64, usize) = (1.0, 20.0, 10);

/// What a run prints and draws.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Share of the Langevin samples nearest each mode (low, high).
    pub langevin_shares: Vec<f64>,
    /// Share of the annealed Langevin samples nearest each mode (low, high).
    pub annealed_shares: Vec<f64>,
    /// The common starting points, uniform on [-8, 8]^2, interleaved `[x0, y0, x1, y1, ...]`.
    pub initial: Vec<f64>,
    /// The Langevin samples, interleaved.
    pub langevin: Vec<f64>,
    /// The annealed Langevin samples, interleaved.
    pub annealed: Vec<f64>,
    /// The PNG written.
    pub plot: PathBuf,
}

/// Runs the example: prints one JSON line {"langevin": [low, high], "annealed": [low, high]}
/// and writes `ncsn_two_modes.png` into the output directory.
///
/// # Errors
/// An unknown device, zero steps, a diverging sampler, or a PNG that cannot be written.
pub fn run(args: &Args) -> Result<Summary, Box<dyn Error>> {
    let device = args.common.setup()?;
    let two = GaussianMixture::two_modes();
    let mut noise = HostNoise::new(args.common.seed);
    let uniform = sgm::core::Noise::Uniform {
        low: -8.0,
        high: 8.0,
    };
    let x0 = noise.sample(uniform, [args.particles, 2], &device, DType::F32);

    let score = sgm::core::score_fn(|x: Tensor<2>, _t| two.score(x));
    let langevin = LangevinDynamics::new(STEP_SIZE, LANGEVIN_STEPS)?
        .sample(
            &score,
            x0.clone(),
            0.0,
            &mut noise,
            &mut Progress::new("Langevin"),
        )?
        .x;

    let levels = GeometricSigmas::new(LEVELS.0, LEVELS.1, LEVELS.2)?;
    let smld = SmldMarginals::from_levels(&levels)?;
    let exact = two.perturbed(&smld);
    let annealed = AnnealedLangevin::new(levels, args.steps_per_level, STEP_SIZE)?
        .sample(
            &exact,
            x0.clone(),
            &mut noise,
            &mut Progress::new("annealed Langevin"),
        )?
        .x;

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
    let (initial, langevin, annealed) = (to_flat(x0), to_flat(langevin), to_flat(annealed));
    let panels = [
        Panel::from_flat("initial: uniform on [-8, 8]^2", &initial, 10.0),
        Panel::from_flat(
            "exact samples (weights 0.2 / 0.8)",
            &to_flat(exact_samples),
            10.0,
        ),
        Panel::from_flat(
            format!("Langevin: low mode {:.2}", langevin_shares[0]),
            &langevin,
            10.0,
        ),
        Panel::from_flat(
            format!(
                "annealed (ends at sigma = 1): low {:.2}",
                annealed_shares[0]
            ),
            &annealed,
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
    Ok(Summary {
        langevin_shares,
        annealed_shares,
        initial,
        langevin,
        annealed,
        plot: path,
    })
}

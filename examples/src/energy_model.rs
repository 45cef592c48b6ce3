//! The pipeline of the `energy_model` example: an MLP energy E(x) trained on `ring8_weighted`
//! (8 modes N(mu_k, 0.25 I) on the circle of radius 4, weights (k + 1) / 36) three ways, by
//! sliced score matching, by denoising score matching and by persistent contrastive
//! divergence, then compared by held-out log-likelihood -E(x) - log Z with log Z from annealed
//! importance sampling. The score of an energy, -grad E, needs no Z, which is why score
//! matching trains energy models (Hyvarinen, JMLR 2005; Song et al., UAI 2019).

use std::error::Error;
use std::path::PathBuf;

use clap::Parser;
use sgm::prelude::*;
use sgm::samplers::Progress;

use crate::plot::{Heatmap, Panel, grid_points, heatmap_grid, scatter_grid};
use crate::{CommonArgs, mean_and_std_error};

/// Train an MLP energy on a weighted ring of 8 Gaussians by SSM, DSM and PCD, compare held-out
/// log-likelihoods (command line of the `energy_model` example).
#[derive(Debug, Clone, Parser)]
pub struct Args {
    /// Device, output directory and seed.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Adam steps per training method.
    #[arg(long, default_value_t = 8000)]
    pub steps: usize,
    /// Fresh training points per step (an unlimited stream from the data distribution).
    #[arg(long, default_value_t = 512)]
    pub batch: usize,
    /// Held-out points for the log-likelihood.
    #[arg(long, default_value_t = 4000)]
    pub held_out: usize,
    /// Langevin chains sampled from each trained energy.
    #[arg(long, default_value_t = 2048)]
    pub chains: usize,
    /// Langevin steps (step size [`LANGEVIN_STEP`]).
    #[arg(long, default_value_t = 5000)]
    pub langevin_steps: usize,
    /// Annealed importance sampling: chains.
    #[arg(long, default_value_t = 2000)]
    pub ais_chains: usize,
    /// Annealed importance sampling: temperatures.
    #[arg(long, default_value_t = 300)]
    pub ais_temperatures: usize,
    /// Training methods to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "ssm,dsm,pcd")]
    pub methods: Vec<Method>,
}

/// Width and depth of the MLP energy (softplus).
pub const MLP: (usize, usize) = (64, 3);
/// Adam learning rate of the first half of training (a fifth of it in the second).
pub const LEARNING_RATE: f64 = 1e-3;
/// Decay of the moving average of the weights in the second half of training.
pub const EMA_DECAY: f64 = 0.999;
/// Noise level of denoising score matching (a fifth of the modes' std).
pub const DSM_SIGMA: f64 = 0.1;
/// Langevin step size eps (NCSN spelling x' = x + eps/2 s + sqrt(eps) z) of the samples: large
/// enough for the chains to cross between modes (eps / std^2 = 0.4; the stationary variance is
/// inflated by 1 / (1 - eps / (4 std^2)) = 1.11 inside a mode).
pub const LANGEVIN_STEP: f64 = 0.1;
/// Langevin step size of PCD's negative chains.
pub const PCD_STEP: f64 = 0.05;
/// Langevin steps per PCD update.
pub const PCD_STEPS: usize = 10;
/// Base N(0, s^2 I) of annealed importance sampling.
pub const AIS_BASE_STD: f64 = 3.0;

/// How an energy was trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// Sliced score matching, variance reduced, one Gaussian projection.
    Ssm,
    /// Denoising score matching at [`DSM_SIGMA`].
    Dsm,
    /// Persistent contrastive divergence with [`PCD_STEPS`] Langevin steps per update.
    Pcd,
}

impl Method {
    /// All three, in the order they are run.
    pub const ALL: [Method; 3] = [Method::Ssm, Method::Dsm, Method::Pcd];

    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            Method::Ssm => "SSM",
            Method::Dsm => "DSM",
            Method::Pcd => "PCD",
        }
    }
}

/// What one trained energy gave.
#[derive(Debug, Clone)]
pub struct MethodReport {
    /// How it was trained.
    pub method: Method,
    /// log Z by annealed importance sampling.
    pub log_z: f64,
    /// Its standard error.
    pub log_z_std_error: f64,
    /// mean over the held-out points of -E(x) - log Z (nats).
    pub held_out_log_likelihood: f64,
    /// E(mu_k) at the 8 mode centres.
    pub mode_energies: Vec<f64>,
    /// Share of the Langevin samples nearest each mode.
    pub langevin_shares: Vec<f64>,
    /// The Langevin samples, interleaved `[x0, y0, ...]`.
    pub samples: Vec<f64>,
    /// Batched energy or gradient evaluations spent in training.
    pub training_evaluations: usize,
    /// E on the landscape grid (row-major, [`GRID`] per side).
    pub landscape: Vec<f64>,
}

/// What a run prints and draws.
#[derive(Debug, Clone)]
pub struct Summary {
    /// One report per method run, in [`Method::ALL`] order.
    pub methods: Vec<MethodReport>,
    /// The held-out log-likelihood under the true density.
    pub true_held_out_log_likelihood: f64,
    /// AIS on the true energy -log p (exact log Z = 0): the estimator's own check.
    pub true_log_z: f64,
    /// Its standard error.
    pub true_log_z_std_error: f64,
    /// Langevin mode shares under the true score (the sampler's own check).
    pub true_langevin_shares: Vec<f64>,
    /// The mixture weights.
    pub weights: Vec<f64>,
    /// The PNGs written.
    pub plots: [PathBuf; 2],
}

/// Cells per side of the landscape plot.
pub const GRID: usize = 100;
/// Half-width of the plotted window.
pub const RANGE: f64 = 6.0;

/// The true energy -log p of an exact density (log Z = 0), for AIS and Langevin references.
struct DensityEnergy<'a, D>(&'a D);

impl<D: ExactDensity> EnergyModel for DensityEnergy<'_, D> {
    fn energy(&self, x: Tensor<2>, _t: Tensor<1>) -> Tensor<1> {
        -self.0.log_prob(x)
    }
    fn energy_grad(&self, x: Tensor<2>, _t: Tensor<1>) -> Tensor<2> {
        -self.0.score(x)
    }
    fn energy_hvp(&self, x: Tensor<2>, _t: Tensor<1>, v: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let zeros = Tensor::<1>::zeros([x.dims()[0]], (&x.device(), x.dtype()));
        let (s, jv) = self.0.score_jvp_perturbed(x, zeros.clone(), zeros, v);
        (-s, -jv)
    }
}

/// Trains a fresh MLP energy on `train` (an autodiff device) by `loss_of`: Adam at
/// [`LEARNING_RATE`] for half the steps, then at a fifth of it with an exponential moving average
/// of the weights ([`EMA_DECAY`]) for the other half, returning the average on the inner device.
///
/// The second stage is what fixes the modes' relative energies: score matching is nearly blind
/// to the weights of separated modes (its objective is flat along them, since only the few
/// points in the low-density gaps see the score that connects two modes), so the iterates
/// random-walk there by +-1 nat, and averaging the late iterates pins them down (measured: mode
/// energy errors fall from ~1 nat for the raw iterates to ~0.2 for the average).
fn train<E, F>(args: &Args, train: &Device, mut loss_of: F) -> Result<EnergyMlp, Box<dyn Error>>
where
    E: Error + Send + Sync + 'static,
    F: FnMut(&EnergyMlp) -> Result<Tensor<1>, E>,
{
    sgm::core::validate::at_least("steps", args.steps, 2)?;
    train.seed(args.common.seed);
    let mut energy = EnergyMlpConfig::new(2)
        .with_hidden(MLP.0)
        .with_depth(MLP.1)
        .init(train)?;
    let stages = [
        (LEARNING_RATE, None),
        (LEARNING_RATE / 5.0, Some(EMA_DECAY)),
    ];
    for (lr, ema_decay) in stages {
        let mut trainer = Trainer::new(
            TrainerConfig::new(args.steps / 2)
                .with_learning_rate(lr)
                .with_ema_decay(ema_decay)
                .with_progress(true),
        )?;
        energy = trainer.fit(energy, |m: &EnergyMlp, _| loss_of(m))?.0;
    }
    Ok(energy.valid())
}

/// Langevin chains from the 8 mode centres in equal numbers (so any unequal share at the end
/// was moved there by the chain), run on `score`; returns the samples.
fn langevin_from_modes<M: ScoreModel>(
    args: &Args,
    score: &M,
    ring: &GaussianMixture,
    device: &Device,
    noise: &mut HostNoise,
    label: &str,
) -> Result<Tensor<2>, Box<dyn Error>> {
    let means = ring.means();
    let start: Vec<f64> = (0..args.chains)
        .flat_map(|i| means[i % means.len()].clone())
        .collect();
    let x0 = sgm::core::tensor::from_f64(&start, [args.chains, 2], device, DType::F32);
    let out = LangevinDynamics::new(LANGEVIN_STEP, args.langevin_steps)?.sample(
        score,
        x0,
        0.0,
        noise,
        &mut Progress::new(label),
    )?;
    Ok(out.x)
}

/// Runs the example: prints one JSON line per method and one for the truth, writes
/// `energy_model_landscape.png` and `energy_model_samples.png` into the output directory.
///
/// # Errors
/// An unknown device, a bad setting, a diverging trainer or sampler, or a PNG that cannot be
/// written.
pub fn run(args: &Args) -> Result<Summary, Box<dyn Error>> {
    let device = args.common.setup()?;
    let train_device = device.clone().autodiff();
    let ring = GaussianMixture::ring8_weighted();
    let mut noise = HostNoise::new(args.common.seed);
    let held_out = ring.sample(args.held_out, &device, DType::F32, &mut noise);
    let ais = AnnealedImportanceSampling::new(
        args.ais_temperatures,
        AIS_BASE_STD,
        MetropolisHastings::new(0.5, 2)?,
    )?;
    let grid = grid_points(GRID, RANGE);
    let grid = sgm::core::tensor::from_f64(&grid, [GRID * GRID, 2], &device, DType::F32);
    let modes: Vec<f64> = ring.means().concat();
    let modes =
        sgm::core::tensor::from_f64(&modes, [ring.num_components(), 2], &device, DType::F32);

    let mut methods = Vec::new();
    for method in Method::ALL {
        if !args.methods.contains(&method) {
            continue;
        }
        let mut evaluations = 0usize;
        let energy = match method {
            Method::Ssm => {
                let loss = SlicedScoreMatching::variance_reduced(
                    Projection::Gaussian,
                    1,
                    NoiseConditioning::fixed(0.0)?,
                )?;
                train(args, &train_device, |m| {
                    evaluations += 1;
                    let x = ring.sample(args.batch, &train_device, DType::F32, &mut noise);
                    loss.loss(&EnergyScore(m), x, &mut noise)
                })?
            }
            Method::Dsm => {
                let loss = DenoisingScoreMatching::new(DSM_SIGMA, 0.0)?;
                train(args, &train_device, |m| {
                    evaluations += 1;
                    let x = ring.sample(args.batch, &train_device, DType::F32, &mut noise);
                    loss.loss(&EnergyScore(m), x, &mut noise)
                })?
            }
            Method::Pcd => {
                let langevin = LangevinDynamics::new(PCD_STEP, PCD_STEPS)?;
                let mut cd = ContrastiveDivergence::persistent(NegativeSampler::Langevin(langevin));
                train(args, &train_device, |m| {
                    let x = ring.sample(args.batch, &train_device, DType::F32, &mut noise);
                    let out = cd.loss(m, x, &mut noise)?;
                    evaluations += out.nfe;
                    Ok::<_, EnergyError>(out.loss)
                })?
            }
        };
        let e = |x: &Tensor<2>| to_f64(energy.energy(x.clone(), time_like(0.0, x)));
        let log_z = ais.log_normalizer(
            &energy,
            (args.ais_chains, 2),
            0.0,
            &device,
            DType::F32,
            &mut noise,
        )?;
        let held = e(&held_out);
        let held_out_log_likelihood = -mean_and_std_error(&held).0 - log_z.log_z;
        let samples = langevin_from_modes(
            args,
            &EnergyScore(&energy),
            &ring,
            &device,
            &mut noise,
            method.name(),
        )?;
        let report = MethodReport {
            method,
            log_z: log_z.log_z,
            log_z_std_error: log_z.std_error,
            held_out_log_likelihood,
            mode_energies: e(&modes),
            langevin_shares: ring.component_shares(samples.clone()),
            samples: to_f64(samples),
            training_evaluations: evaluations,
            landscape: e(&grid),
        };
        println!(
            "{}",
            serde_json::json!({
                "method": method.name(),
                "held_out_log_likelihood": report.held_out_log_likelihood,
                "log_z": report.log_z,
                "log_z_std_error": report.log_z_std_error,
                "training_evaluations": report.training_evaluations,
                "langevin_shares": report.langevin_shares,
                "mode_energies": report.mode_energies,
            })
        );
        methods.push(report);
    }

    let truth = DensityEnergy(&ring);
    let true_z = ais.log_normalizer(
        &truth,
        (args.ais_chains, 2),
        0.0,
        &device,
        DType::F32,
        &mut noise,
    )?;
    let held = to_f64(ring.log_prob(held_out.clone()));
    let true_held_out_log_likelihood = mean_and_std_error(&held).0;
    let true_samples = langevin_from_modes(
        args,
        &EnergyScore(&truth),
        &ring,
        &device,
        &mut noise,
        "true score",
    )?;
    let true_langevin_shares = ring.component_shares(true_samples.clone());
    let true_landscape = to_f64(truth.energy(grid.clone(), time_like(0.0, &grid)));
    println!(
        "{}",
        serde_json::json!({
            "method": "true density",
            "held_out_log_likelihood": true_held_out_log_likelihood,
            "ais_log_z": true_z.log_z,
            "ais_log_z_std_error": true_z.std_error,
            "langevin_shares": true_langevin_shares,
            "weights": ring.weights(),
        })
    );

    let heat = |title: String, values: &[f64]| {
        let low = values.iter().copied().fold(f64::INFINITY, f64::min);
        Heatmap {
            title,
            values: values.to_vec(),
            side: GRID,
            range: RANGE,
            low,
            high: low + 12.0,
        }
    };
    let mut panels = vec![heat("true -log p".into(), &true_landscape)];
    panels.extend(methods.iter().map(|m| {
        heat(
            format!(
                "{}: held-out {:.3} nats",
                m.method.name(),
                m.held_out_log_likelihood
            ),
            &m.landscape,
        )
    }));
    let landscape = args.common.out.join("energy_model_landscape.png");
    heatmap_grid(
        &landscape,
        &format!(
            "Energy E(x) - min E, 0 (blue) to 12 nats (red); true held-out {true_held_out_log_likelihood:.3}"
        ),
        2,
        &panels,
    )?;
    let mut scatter = vec![Panel::from_flat("data", &to_f64(held_out.clone()), RANGE)];
    scatter.extend(methods.iter().map(|m| {
        Panel::from_flat(
            format!("Langevin on {} energy", m.method.name()),
            &m.samples,
            RANGE,
        )
    }));
    let samples_png = args.common.out.join("energy_model_samples.png");
    scatter_grid(
        &samples_png,
        "Data, and Langevin from equal starts at the modes",
        scatter.len().div_ceil(2),
        2,
        &scatter,
    )?;
    Ok(Summary {
        methods,
        true_held_out_log_likelihood,
        true_log_z: true_z.log_z,
        true_log_z_std_error: true_z.std_error,
        true_langevin_shares,
        weights: ring.weights().to_vec(),
        plots: [landscape, samples_png],
    })
}

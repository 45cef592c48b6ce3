//! The `learner` example: burn-train's `Learner` trains a score MLP by continuous-time DSM
//! under VP on a weighted ring of 8 Gaussians (its loss metric, checkpoints after each epoch),
//! and the library's predictor-corrector sampler draws from the result.

use std::error::Error;
use std::path::{Path, PathBuf};

use clap::Parser;
use sgm::burn::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use sgm::burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use sgm::burn::optim::AdamConfig;
use sgm::burn::train::metric::LossMetric;
use sgm::burn::train::{ExecutionStrategy, Learner, SupervisedTraining};
use sgm::nn::learner::{ProgressRenderer, ScoreMatching, score_dataloader};
use sgm::prelude::*;

use crate::CommonArgs;
use crate::plot::{Panel, scatter_grid};

/// Train through burn-train's `Learner`, then sample (command line of the `learner` example).
#[derive(Debug, Clone, Parser)]
pub struct Args {
    /// Device, output directory and seed.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Passes over the training set.
    #[arg(long, default_value_t = 150)]
    pub epochs: usize,
    /// Training points (drawn once from the mixture).
    #[arg(long, default_value_t = 16384)]
    pub rows: usize,
    /// Points per batch.
    #[arg(long, default_value_t = 512)]
    pub batch: usize,
    /// Samples drawn by the PC sampler.
    #[arg(long, default_value_t = 2000)]
    pub samples: usize,
    /// Steps of the PC sampler.
    #[arg(long, default_value_t = 500)]
    pub pc_steps: usize,
}

/// Adam's (initial) learning rate.
pub const LEARNING_RATE: f64 = 2e-3;
/// Width of the score MLP.
pub const HIDDEN: usize = 128;
/// Smallest time of training and sampling.
pub const EPS: f64 = 1e-3;

/// What a run prints and draws.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Mode shares of the PC samples.
    pub shares: Vec<f64>,
    /// The mixture weights.
    pub weights: Vec<f64>,
    /// Optimiser steps the Learner took.
    pub steps: usize,
    /// Seconds spent in the Learner.
    pub train_seconds: f64,
    /// burn-train's run directory (its checkpoints under `checkpoint/`).
    pub run_dir: PathBuf,
    /// The PNG written.
    pub plot: PathBuf,
}

/// The score model of this example: the network read through the std-normalised
/// parameterisation under `vp`.
pub fn score_model(net: &ScoreMlp, vp: VpSde) -> Parameterized<&ScoreMlp, VpSde> {
    Parameterized::with_sde(net, vp, Parameterization::StdNormalized)
}

/// Trains `net` by continuous DSM under `vp` through burn-train's `Learner` for `epochs` passes
/// over `train` in batches of `batch` (in order, the batches' noise seeds from `seed`) with
/// Adam at the learning rates of `lr`, validated on `valid`, on `device` (an autodiff device),
/// with burn-train's checkpoints in `dir/checkpoint` when `checkpoints` is set, its progress
/// as one bar when `progress` is set. Returns the trained network.
///
/// # Errors
/// Bad settings, or the Learner's own error.
#[allow(clippy::too_many_arguments)]
pub fn train_with_learner(
    net: ScoreMlp,
    vp: VpSde,
    train: Tensor<2>,
    valid: Tensor<2>,
    (epochs, batch, seed): (usize, usize, u64),
    lr: ModuleLrScheduler,
    device: &Device,
    dir: &Path,
    (checkpoints, progress): (bool, bool),
) -> Result<ScoreMlp, Box<dyn Error>> {
    let dsm = ContinuousDsm::new(vp, Weighting::StdSquared, EPS)?;
    let module = ScoreMatching::new(net, vp, Parameterization::StdNormalized, dsm);
    let train = score_dataloader(train, batch, seed)?;
    let valid = score_dataloader(valid, batch, seed.wrapping_add(1))?;
    let learner = Learner::new(module, AdamConfig::new().init(), lr);
    let mut training = SupervisedTraining::new(dir, train, valid)
        .with_training_strategy(ExecutionStrategy::SingleDevice(device.clone()).into())
        .with_application_logger(None)
        .num_epochs(epochs)
        .metric_train_numeric(LossMetric::new())
        .metric_valid_numeric(LossMetric::new());
    if checkpoints {
        training = training.with_default_checkpointers();
    }
    if progress {
        training = training.renderer(Box::new(ProgressRenderer::new()));
    }
    let result = training.launch(learner);
    if let Some(err) = result.error {
        return Err(format!("the Learner stopped: {err}").into());
    }
    Ok(result.model.into_net())
}

/// Runs the example: prints one JSON line (mode shares against the weights, steps, seconds)
/// and writes `learner_samples.png`.
///
/// # Errors
/// An unknown device, bad settings, the Learner's error, a diverging sampler, or a PNG that
/// cannot be written.
pub fn run(args: &Args) -> Result<Summary, Box<dyn Error>> {
    let device = args.common.setup()?;
    let train_device = device.clone().autodiff();
    train_device.seed(args.common.seed);
    let ring = GaussianMixture::ring8_weighted();
    let vp = VpSde::default();
    let mut noise = HostNoise::new(args.common.seed);
    let train = ring.sample(args.rows, &device, DType::F32, &mut noise);
    let valid = ring.sample(args.batch, &device, DType::F32, &mut noise);
    let net = ScoreMlpConfig::new(2)
        .with_hidden(HIDDEN)
        .init(&train_device)?;
    let run_dir = args.common.out.join("learner_run");
    let steps = args.epochs * args.rows.div_ceil(args.batch);
    // Cosine annealing to 0 over the run: the last steps average the noise out, as an EMA would.
    let lr = CosineAnnealingLrSchedulerConfig::new(LEARNING_RATE, steps).init()?;
    let clock = std::time::Instant::now();
    let net = train_with_learner(
        net,
        vp,
        train,
        valid,
        (args.epochs, args.batch, args.common.seed),
        lr,
        &train_device,
        &run_dir,
        (true, true),
    )?
    .valid()
    .to_device(&device);
    let train_seconds = clock.elapsed().as_secs_f64();

    let pc = PcSampler::new(
        EulerMaruyama::new(vp),
        LangevinCorrector::new(0.16, 1)?.with_alpha(vp),
        TimeGrid::uniform(vp.t_end(), EPS, args.pc_steps + 1)?,
        FinalStep::Mean,
    )?;
    let prior = vp.prior_sample([args.samples, 2], &device, DType::F32, &mut noise);
    let out = pc.sample(&score_model(&net, vp), prior, &mut noise, &mut NoObserver)?;
    let shares = ring.component_shares(out.x.clone());
    println!(
        "{}",
        serde_json::json!({"shares": shares, "weights": ring.weights(), "steps": steps, "train_seconds": train_seconds})
    );
    let plot = args.common.out.join("learner_samples.png");
    let data = ring.sample(args.samples, &device, DType::F32, &mut noise);
    scatter_grid(
        &plot,
        &format!("burn-train Learner, {steps} steps; sgm PC sampler"),
        1,
        2,
        &[
            Panel::from_flat("data", &to_f64(data), 6.0),
            Panel::from_flat(format!("PC sampler ({} NFE)", out.nfe), &to_f64(out.x), 6.0),
        ],
    )?;
    Ok(Summary {
        shares,
        weights: ring.weights().to_vec(),
        steps,
        train_seconds,
        run_dir,
        plot,
    })
}

//! The pipeline of the `quickstart` example, a whole job in a few minutes: train a score network
//! on `ring8_weighted` (8 Gaussians of weights (k + 1) / 36 on a circle) by continuous-time
//! denoising score matching under the VP SDE (Song et al., ICLR 2021), sample it with the
//! predictor-corrector sampler and the probability-flow ODE, and measure it:
//! KL(data || model) = E_data[log p_data - log p_model] on held-out points, with the model's
//! log-density from the probability-flow ODE (exact divergence, 2-D).

use std::error::Error;
use std::path::PathBuf;

use clap::Parser;
use sgm::prelude::*;
use sgm::samplers::Progress;

use crate::plot::{Panel, paths, scatter_grid, vector_field};
use crate::{CommonArgs, mean_and_std_error};

/// Train, sample and evaluate a score model on a weighted ring of 8 Gaussians (command line of
/// the `quickstart` example).
#[derive(Debug, Clone, Parser)]
pub struct Args {
    /// Device, output directory and seed.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Adam steps.
    #[arg(long, default_value_t = 6000)]
    pub steps: usize,
    /// Fresh training points per step.
    #[arg(long, default_value_t = 512)]
    pub batch: usize,
    /// Samples drawn by each sampler.
    #[arg(long, default_value_t = 2000)]
    pub samples: usize,
    /// Held-out points for the KL estimate.
    #[arg(long, default_value_t = 1000)]
    pub held_out: usize,
    /// Steps of the predictor-corrector sampler.
    #[arg(long, default_value_t = 500)]
    pub pc_steps: usize,
}

/// Width of the score MLP (3 hidden layers, SiLU, Fourier time features).
pub const HIDDEN: usize = 128;
/// Adam learning rate.
pub const LEARNING_RATE: f64 = 2e-3;
/// Decay of the moving average of the weights that is sampled and evaluated.
pub const EMA_DECAY: f64 = 0.999;
/// Smallest time of training, sampling and the likelihood (score_sde's eps).
pub const EPS: f64 = 1e-3;
/// Half-width of the plotted window.
pub const RANGE: f64 = 6.0;

/// What a run prints and draws.
#[derive(Debug, Clone)]
pub struct Summary {
    /// KL(data || model) in nats, the mean over held-out points of log p_data - log p_model.
    pub kl: f64,
    /// Its standard error.
    pub kl_std_error: f64,
    /// Mode shares of the predictor-corrector samples.
    pub pc_shares: Vec<f64>,
    /// Mode shares of the probability-flow ODE samples.
    pub ode_shares: Vec<f64>,
    /// The mixture weights.
    pub weights: Vec<f64>,
    /// Score evaluations of each sampler (PC, ODE) and of the likelihood.
    pub nfe: [usize; 3],
    /// Seconds spent training.
    pub train_seconds: f64,
    /// The PNGs written.
    pub plots: [PathBuf; 3],
}

/// Runs the example: prints one JSON line (KL with its standard error, mode shares, NFE) and
/// writes `quickstart_samples.png`, `quickstart_score.png` and `quickstart_trajectories.png`.
///
/// # Errors
/// An unknown device, bad settings, a diverging trainer, sampler or solver, or a PNG that cannot
/// be written.
pub fn run(args: &Args) -> Result<Summary, Box<dyn Error>> {
    let device = args.common.setup()?;
    let train_device = device.clone().autodiff();
    train_device.seed(args.common.seed);
    let ring = GaussianMixture::ring8_weighted();
    let vp = VpSde::default();
    let mut noise = HostNoise::new(args.common.seed);

    // 1. Train.
    let dsm = ContinuousDsm::new(vp, Weighting::StdSquared, EPS)?;
    let net = ScoreMlpConfig::new(2)
        .with_hidden(HIDDEN)
        .init(&train_device)?;
    let config = TrainerConfig::new(args.steps)
        .with_learning_rate(LEARNING_RATE)
        .with_ema_decay(Some(EMA_DECAY))
        .with_progress(true);
    let clock = std::time::Instant::now();
    let (net, _) = Trainer::new(config)?.fit(net, |net: &ScoreMlp, _| {
        let model = Parameterized::with_sde(net, vp, Parameterization::StdNormalized);
        let x0 = ring.sample(args.batch, &train_device, DType::F32, &mut noise);
        dsm.loss(&model, x0, &mut noise)
    })?;
    let train_seconds = clock.elapsed().as_secs_f64();
    let net = net.valid();
    let model = Parameterized::with_sde(&net, vp, Parameterization::StdNormalized);

    // 2. Sample: predictor-corrector, and the probability-flow ODE with its trajectories.
    let pc = PcSampler::new(
        EulerMaruyama::new(vp),
        LangevinCorrector::new(0.16, 1)?.with_alpha(vp),
        TimeGrid::uniform(vp.t_end(), EPS, args.pc_steps + 1)?,
        FinalStep::Mean,
    )?;
    let prior = vp.prior_sample([args.samples, 2], &device, DType::F32, &mut noise);
    let pc_out = pc.sample(
        &model,
        prior.clone(),
        &mut noise,
        &mut Progress::new("PC sampler"),
    )?;
    let flow = ProbabilityFlowOde::new(vp, &model);
    let mut trajectory = Trajectory::every(1)?;
    let ode_out = solve_ode(
        &flow,
        &Tableau::dormand_prince(),
        prior,
        vp.t_end(),
        EPS,
        PiController::new(1e-4, 1e-4)?,
        &mut trajectory,
    )?;

    // 3. Evaluate: KL(data || model) on held-out points.
    let held_out = ring.sample(args.held_out, &device, DType::F32, &mut noise);
    let likelihood = ProbabilityFlowLikelihood::new(vp, Divergence::Exact, EPS)?;
    let log_model = likelihood.log_prob_observed(
        &model,
        held_out.clone(),
        &mut noise,
        &mut Progress::new("log-likelihood"),
    )?;
    let gap: Vec<f64> = to_f64(ring.log_prob(held_out.clone()))
        .iter()
        .zip(to_f64(log_model.log_prob))
        .map(|(p, q)| p - q)
        .collect();
    let (kl, kl_std_error) = mean_and_std_error(&gap);
    let (pc_shares, ode_shares) = (
        ring.component_shares(pc_out.x.clone()),
        ring.component_shares(ode_out.x.clone()),
    );
    let summary_line = serde_json::json!({
        "kl_nats": kl,
        "kl_std_error": kl_std_error,
        "pc_shares": pc_shares,
        "ode_shares": ode_shares,
        "weights": ring.weights(),
        "nfe": {"pc": pc_out.nfe, "ode": ode_out.nfe, "likelihood": log_model.nfe},
        "train_seconds": train_seconds,
    });
    println!("{summary_line}");

    // 4. Draw.
    let out = &args.common.out;
    let samples_png = out.join("quickstart_samples.png");
    scatter_grid(
        &samples_png,
        &format!("ring8_weighted: KL(data || model) = {kl:.3} +- {kl_std_error:.3} nats"),
        1,
        3,
        &[
            Panel::from_flat("held-out data", &to_f64(held_out), RANGE),
            Panel::from_flat(
                format!("PC sampler ({} NFE)", pc_out.nfe),
                &to_f64(pc_out.x.clone()),
                RANGE,
            ),
            Panel::from_flat(
                format!("probability-flow ODE ({} NFE)", ode_out.nfe),
                &to_f64(ode_out.x.clone()),
                RANGE,
            ),
        ],
    )?;
    let score_png = out.join("quickstart_score.png");
    let side = 21;
    let grid = crate::plot::grid_points(side, RANGE);
    let grid_tensor = sgm::core::tensor::from_f64(&grid, [side * side, 2], &device, DType::F32);
    let times = [0.05, 0.3, 1.0];
    let fields: Vec<(String, Vec<f64>)> = times
        .iter()
        .map(|&t| {
            let s = model.score(grid_tensor.clone(), time_like(t, &grid_tensor));
            (format!("learned score at t = {t}"), to_f64(s))
        })
        .collect();
    vector_field(
        &score_png,
        "Learned score s(x, t): a segment from each dot along s, scaled per panel",
        &grid,
        &fields,
        RANGE,
    )?;
    let trajectories_png = out.join("quickstart_trajectories.png");
    let shown = 40.min(args.samples);
    let states: Vec<Vec<f64>> = trajectory
        .states
        .iter()
        .map(|x| to_f64(x.clone().narrow(0, 0, shown)))
        .collect();
    paths(
        &trajectories_png,
        "Probability-flow ODE paths from the prior (t = 1, grey) to the data (t = 0.001, red)",
        &states,
        RANGE,
    )?;

    Ok(Summary {
        kl,
        kl_std_error,
        pc_shares,
        ode_shares,
        weights: ring.weights().to_vec(),
        nfe: [pc_out.nfe, ode_out.nfe, log_model.nfe],
        train_seconds,
        plots: [samples_png, score_png, trajectories_png],
    })
}

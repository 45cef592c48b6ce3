//! The pipeline of the `score_matching_compare` example: implicit score matching (Hyvarinen,
//! JMLR 2005), sliced score matching and its variance-reduced form (Song et al., UAI 2019) and
//! denoising score matching (Vincent, Neural Computation 2011) train the same MLP on the same
//! data, a two-component Gaussian mixture in d = 2, 8, 32, 64 dimensions, and are compared by
//! time per step and by the Fisher divergence to the exact score; then the manifold experiment
//! of the classic material: SSM on data on a circle, clean against perturbed by N(0, 1e-4 I).

use std::error::Error;
use std::path::PathBuf;

use clap::Parser;
use sgm::prelude::*;

use crate::CommonArgs;
use crate::plot::{LinePanel, line_panels};

/// ISM, SSM, SSM-VR and DSM compared across dimensions, and SSM on a manifold (command line of
/// the `score_matching_compare` example).
#[derive(Debug, Clone, Parser)]
pub struct Args {
    /// Device, output directory and seed.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Dimensions, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "2,8,32,64")]
    pub dims: Vec<usize>,
    /// Adam steps per method and dimension.
    #[arg(long, default_value_t = 800)]
    pub steps: usize,
    /// Training points per step (fresh draws).
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Adam steps of the manifold experiment.
    #[arg(long, default_value_t = 2000)]
    pub manifold_steps: usize,
}

/// The four objectives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// Implicit score matching (exact trace, d JVPs per sample).
    Ism,
    /// Sliced score matching, one Gaussian projection.
    Ssm,
    /// SSM-VR, one Gaussian projection.
    SsmVr,
    /// Denoising score matching at [`DSM_SIGMA`].
    Dsm,
}

impl Objective {
    /// All four, in the order they are run.
    pub const ALL: [Objective; 4] = [Self::Ism, Self::Ssm, Self::SsmVr, Self::Dsm];

    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ism => "ISM",
            Self::Ssm => "SSM",
            Self::SsmVr => "SSM-VR",
            Self::Dsm => "DSM",
        }
    }
}

/// Noise level of DSM. DSM learns the score of the data perturbed by N(0, sigma^2 I): for a
/// component of std 0.5 that costs a Fisher divergence floor of 1/2 0.25 (1/0.25 - 1/0.29)^2 =
/// 0.038 per dimension at sigma = 0.2, while its target z / sigma makes the gradient noise grow
/// as 1 / sigma^2 (at 0.1 it left DSM the worst in 500 steps).
pub const DSM_SIGMA: f64 = 0.2;
/// Component std of the mixture.
pub const COMPONENT_STD: f64 = 0.5;
/// Noise std of the perturbed manifold data.
pub const MANIFOLD_NOISE: f64 = 0.01;

/// One (objective, dimension) run.
#[derive(Debug, Clone)]
pub struct Run {
    /// The objective.
    pub objective: Objective,
    /// The dimension d.
    pub dim: usize,
    /// Wall-clock milliseconds per training step.
    pub ms_per_step: f64,
    /// 1/2 E|s - grad log p|^2 / d on fresh data after training.
    pub fisher_per_dim: f64,
    /// Its standard error.
    pub fisher_std_error: f64,
    /// The same for the untrained network.
    pub untrained_fisher_per_dim: f64,
    /// Its standard error.
    pub untrained_fisher_std_error: f64,
}

/// What a run prints and draws.
#[derive(Debug, Clone)]
pub struct Summary {
    /// One entry per objective and dimension.
    pub runs: Vec<Run>,
    /// SSM losses per step on clean circle data.
    pub manifold_clean: Vec<f64>,
    /// SSM losses per step on circle data plus N(0, 1e-4 I).
    pub manifold_noisy: Vec<f64>,
    /// The PNGs written.
    pub plots: [PathBuf; 2],
}

/// The data in d dimensions: 1/2 N(-mu, 0.25 I) + 1/2 N(mu, 0.25 I), mu = 1.5 (1, ..., 1) /
/// sqrt(d) (the modes 3 apart in every dimension).
pub fn mixture(d: usize) -> Result<GaussianMixture, Box<dyn Error>> {
    let a = 1.5 / (d as f64).sqrt();
    Ok(GaussianMixture::new(
        vec![0.5, 0.5],
        vec![vec![-a; d], vec![a; d]],
        vec![COMPONENT_STD; 2],
    )?)
}

/// 1/2 E|s - grad log p|^2 per dimension of `net` on 2,000 fresh draws of `data`.
fn fisher_per_dim(
    net: &ScoreMlp,
    data: &GaussianMixture,
    device: &Device,
    noise: &mut HostNoise,
) -> Result<(f64, f64), Box<dyn Error>> {
    let vp = VpSde::default(); // at t = 0 its marginal is the data itself
    let x0 = data.sample(2000, device, DType::F32, noise);
    let d = x0.dims()[1] as f64;
    let f = fisher_divergence_at(&net.valid(), &data.perturbed(vp), &vp, x0, 0.0, noise)?;
    Ok((f.mean / d, f.std_error / d))
}

/// Trains a fresh MLP (input dimension `dim`, on `train_device`) for `steps` Adam steps on draws
/// of `sample` with `loss`: the network, the losses per step, milliseconds per step.
fn train<L: Loss>(
    (steps, dim, train_device): (usize, usize, &Device),
    loss: &L,
    mut sample: impl FnMut(&mut HostNoise) -> Tensor<2>,
    noise: &mut HostNoise,
) -> Result<(ScoreMlp, Vec<f64>, f64), Box<dyn Error>> {
    let net = ScoreMlpConfig::new(dim)
        .with_hidden(128)
        .init(train_device)?;
    let config = TrainerConfig::new(steps)
        .with_learning_rate(1e-3)
        .with_progress(true);
    let clock = std::time::Instant::now();
    let (net, report) = Trainer::new(config)?.fit(net, |net: &ScoreMlp, _| {
        let x = sample(&mut *noise);
        loss.loss(net, x, &mut *noise)
    })?;
    let ms = clock.elapsed().as_secs_f64() * 1e3 / steps as f64;
    Ok((net, report.losses, ms))
}

/// Runs the example: prints a markdown table (objective, d, ms per step, Fisher divergence per
/// dimension before and after) and the manifold losses, writes `score_matching_compare.png`
/// and `score_matching_manifold.png`.
///
/// # Errors
/// An unknown device, bad settings, a diverging trainer, or a PNG that cannot be written.
pub fn run(args: &Args) -> Result<Summary, Box<dyn Error>> {
    let device = args.common.setup()?;
    let train_device = device.clone().autodiff();
    train_device.seed(args.common.seed);
    let mut noise = HostNoise::new(args.common.seed);
    let fixed = NoiseConditioning::fixed(0.0)?;
    let steps = sgm::core::validate::nonzero("steps", args.steps)?;
    let mut runs = Vec::new();
    println!("| objective | d | ms / step | Fisher / d (untrained) | Fisher / d (trained) |");
    println!("|---|---|---|---|---|");
    for &dim in &args.dims {
        let data = mixture(dim)?;
        for objective in Objective::ALL {
            let sample =
                |noise: &mut HostNoise| data.sample(args.batch, &train_device, DType::F32, noise);
            let untrained = ScoreMlpConfig::new(dim)
                .with_hidden(128)
                .init(&train_device)?;
            let (untrained_fisher, untrained_se) =
                fisher_per_dim(&untrained, &data, &device, &mut noise)?;
            let shape = (steps, dim, &train_device);
            let (net, _, ms) = match objective {
                Objective::Ism => train(
                    shape,
                    &ImplicitScoreMatching::new(fixed.clone())?,
                    sample,
                    &mut noise,
                )?,
                Objective::Ssm => train(
                    shape,
                    &SlicedScoreMatching::new(Projection::Gaussian, 1, fixed.clone())?,
                    sample,
                    &mut noise,
                )?,
                Objective::SsmVr => train(
                    shape,
                    &SlicedScoreMatching::variance_reduced(Projection::Gaussian, 1, fixed.clone())?,
                    sample,
                    &mut noise,
                )?,
                Objective::Dsm => train(
                    shape,
                    &DenoisingScoreMatching::new(DSM_SIGMA, 0.0)?,
                    sample,
                    &mut noise,
                )?,
            };
            let (fisher, se) = fisher_per_dim(&net, &data, &device, &mut noise)?;
            println!(
                "| {} | {dim} | {ms:.2} | {untrained_fisher:.4} | {fisher:.4} +- {se:.4} |",
                objective.name()
            );
            runs.push(Run {
                objective,
                dim,
                ms_per_step: ms,
                fisher_per_dim: fisher,
                fisher_std_error: se,
                untrained_fisher_per_dim: untrained_fisher,
                untrained_fisher_std_error: untrained_se,
            });
        }
    }

    // The manifold experiment: points on the unit circle, SSM on clean and on noisy data.
    let circle = |noise: &mut HostNoise, sigma: f64| {
        let theta = noise.uniform_like(
            args.batch,
            0.0,
            std::f64::consts::TAU,
            &Tensor::<2>::zeros([1, 1], &train_device),
        );
        let x = Tensor::cat(
            vec![
                theta.clone().cos().unsqueeze_dim::<2>(1),
                theta.sin().unsqueeze_dim::<2>(1),
            ],
            1,
        );
        let z = noise.normal_like(&x);
        x + z * sigma
    };
    let ssm = SlicedScoreMatching::new(Projection::Gaussian, 1, fixed)?;
    let shape = (
        sgm::core::validate::nonzero("manifold steps", args.manifold_steps)?,
        2,
        &train_device,
    );
    let (_, manifold_clean, _) = train(shape, &ssm, |n| circle(n, 0.0), &mut noise)?;
    let (_, manifold_noisy, _) = train(shape, &ssm, |n| circle(n, MANIFOLD_NOISE), &mut noise)?;
    let tail = |l: &[f64]| {
        l[l.len().saturating_sub(100)..].iter().sum::<f64>() / l.len().clamp(1, 100) as f64
    };
    println!(
        "{}",
        serde_json::json!({
            "manifold_ssm_final_loss_clean": tail(&manifold_clean),
            "manifold_ssm_final_loss_noisy": tail(&manifold_noisy),
        })
    );

    // Plots.
    let by_objective = |value: &dyn Fn(&Run) -> f64| {
        Objective::ALL
            .iter()
            .map(|&o| {
                let points = runs
                    .iter()
                    .filter(|r| r.objective == o)
                    .map(|r| ((r.dim as f64).log2(), value(r)))
                    .collect();
                (o.name().to_string(), points)
            })
            .collect::<Vec<_>>()
    };
    let compare = args.common.out.join("score_matching_compare.png");
    line_panels(
        &compare,
        "Score matching objectives on a 2-component mixture in d dimensions",
        &[
            LinePanel {
                title: "time per training step".into(),
                x_label: "log2 d".into(),
                y_label: "log10 ms / step".into(),
                series: by_objective(&|r| r.ms_per_step.log10()),
            },
            LinePanel {
                title: "Fisher divergence per dimension after training".into(),
                x_label: "log2 d".into(),
                y_label: "log10 (1/2 E|s - grad log p|^2 / d)".into(),
                series: by_objective(&|r| r.fisher_per_dim.max(1e-12).log10()),
            },
        ],
    )?;
    let smooth = |l: &[f64]| -> Vec<(f64, f64)> {
        l.chunks(20)
            .enumerate()
            .map(|(k, c)| ((k * 20) as f64, c.iter().sum::<f64>() / c.len() as f64))
            .collect()
    };
    let manifold = args.common.out.join("score_matching_manifold.png");
    line_panels(
        &manifold,
        "SSM on data on a circle (means over 20 steps)",
        &[LinePanel {
            title: "training loss".into(),
            x_label: "step".into(),
            y_label: "SSM loss".into(),
            series: vec![
                ("clean data".into(), smooth(&manifold_clean)),
                ("data + N(0, 1e-4 I)".into(), smooth(&manifold_noisy)),
            ],
        }],
    )?;
    Ok(Summary {
        runs,
        manifold_clean,
        manifold_noisy,
        plots: [compare, manifold],
    })
}

//! The pipeline of the `digits_likelihood` example: trains an MLP score model on the 8x8 digits
//! and reports the bits/dim of the test split by the probability-flow ODE, beside two baselines
//! computed here: the uniform model (log2 17 = 4.09 bits/dim: the digits have K = 17 grey
//! levels) and an independent-pixel histogram model fitted on the train split.
//!
//! Data: grey levels k in 0..=16 dequantised to x = -1 + 2 (k + u) / 17, u ~ U[0, 1) (fresh u
//! at every training step). Model: VP SDE, MLP 64 -> 512 x 3 -> 64 x 17 level logits, read as
//! a score by [`BinnedDenoiser`] (the bins' likelihoods and means in closed form, so the sharp
//! bin edges are in the parameterisation, not in the network), trained by DSM with
//! lambda = std^2 and t ~ U(1e-5, 1), Adam, EMA of the weights (0.999).
//!
//! Bits/dim: the headline figure is the uniform-dequantisation bound ([`Dequantization`]),
//! averaged over 4 draws per image: the log-density of each dequantised test image comes from
//! the probability-flow ODE from t = 1e-5 (adaptive Dormand-Prince 5(4), rtol = atol = 1e-5,
//! two fixed Rademacher probes). Also printed: the same draws importance-weighted
//! ([`importance_weighted_bits_per_dim`], tighter, but the Hutchinson noise in log p biases it
//! down by up to the printed bound), the bound on as many train images (the gap is the
//! generalisation gap), and the noisy-dequantisation bound ([`NoisyDequantization`]: the data
//! carried to t = 3e-3 and decoded by the exact Bayes decoder). Prints one JSON line and writes
//! `digits_likelihood.png` (test images and PF-ODE samples).

use std::error::Error;

use clap::Parser;
use sgm::core::DeviceNoise;
use sgm::core::divergence::Projection;
use sgm::core::tensor::to_f64;
use sgm::prelude::*;
use sgm::samplers::{PiController, Tableau};

use crate::plot::{image_grid, unit_images};
use crate::{CommonArgs, levels_tensor, mean_and_std_error};

/// Trains a score model on the 8x8 digits and reports test bits/dim by the probability-flow ODE
/// (command line of the `digits_likelihood` example).
#[derive(Debug, Clone, Parser)]
pub struct Args {
    /// Device, output directory and seed.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Training steps.
    #[arg(long, default_value_t = 3000)]
    pub steps: usize,
    /// Hidden width of the MLP.
    #[arg(long, default_value_t = 512)]
    pub hidden: usize,
    /// Batch size.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Training weighting: "std2" (std^2, uniform t) or "likelihood" (g^2, importance-sampled t).
    #[arg(long, default_value = "std2")]
    pub weighting: String,
    /// Learning rate of Adam.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Decay of the moving average of the weights that is evaluated.
    #[arg(long, default_value_t = 0.999)]
    pub ema: f64,
    /// Dequantisation draws per test image.
    #[arg(long, default_value_t = 4)]
    pub draws: usize,
    /// Time the noisy dequantisation carries the data to.
    #[arg(long, default_value_t = 3e-3)]
    pub dequantization_time: f64,
    /// Evaluate only the first this many test images (default: all 360).
    #[arg(long)]
    pub test_images: Option<usize>,
}

/// Smallest training time, and the start of the uniform-dequantisation likelihood.
pub const EPS: f64 = 1e-5;

/// Bits/dim of the independent-pixel histogram model (add-one smoothing) fitted on `train`,
/// evaluated on `test` (grey levels, 64 per image).
pub fn histogram_bits_per_dim(train: &[u8], test: &[u8]) -> f64 {
    let (pixels, levels) = (Digits::PIXELS, Digits::LEVELS);
    let mut counts = vec![1.0f64; pixels * levels];
    for (i, &k) in train.iter().enumerate() {
        counts[(i % pixels) * levels + k as usize] += 1.0;
    }
    let images = (train.len() / pixels) as f64;
    let nll: f64 = test
        .iter()
        .enumerate()
        .map(|(i, &k)| {
            -(counts[(i % pixels) * levels + k as usize] / (images + levels as f64)).log2()
        })
        .sum();
    nll / test.len() as f64
}

/// Prints the mean, its standard error over images and quantiles of `bpd`; returns the first two.
fn summarize(label: &str, bpd: &[f64]) -> (f64, f64) {
    let mut sorted = bpd.to_vec();
    sorted.sort_by(f64::total_cmp);
    let quantile = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    let (mean, se) = mean_and_std_error(bpd);
    eprintln!(
        "{label}: {mean:.3} +- {se:.3} bits/dim; quantiles 10/50/90/max {:.2} {:.2} {:.2} {:.2}",
        quantile(0.1),
        quantile(0.5),
        quantile(0.9),
        quantile(1.0),
    );
    (mean, se)
}

/// The JSON line a run prints.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Summary {
    /// Test split: the uniform-dequantisation bound, each image's averaged over `draws`.
    pub bits_per_dim: f64,
    /// Over test images.
    pub std_error: f64,
    /// Dequantisation draws per test image.
    pub draws: usize,
    /// Test split: the bound importance-weighted over the draws (tighter, but see the bias).
    pub importance_weighted_bits_per_dim: f64,
    /// Largest downward bias of the importance-weighted figure from exponentiating Hutchinson
    /// estimates of log p.
    pub hutchinson_bias_bound: f64,
    /// The independent-pixel histogram model fitted on the train split, on the test images.
    pub histogram_bits_per_dim: f64,
    /// The uniform model, log2 17.
    pub uniform_bits_per_dim: f64,
    /// As many train images as test images, single draws.
    pub train_single_draw_bits_per_dim: f64,
    /// Test split, noisy dequantisation at `dequantization_time`, single draws.
    pub noisy_dequantization_bits_per_dim: f64,
    /// Largest number of score evaluations of one likelihood solve.
    pub nfe: usize,
    /// Test images evaluated.
    pub test_images: usize,
    /// Seconds of training.
    pub train_seconds: f64,
}

/// Runs the example: trains, prints one JSON line (the [`Summary`]) and writes
/// `digits_likelihood.png` into the output directory.
///
/// # Errors
/// An unknown device or weighting, invalid hyperparameters, a training or solver failure, or a
/// PNG that cannot be written.
pub fn run(args: &Args) -> Result<Summary, Box<dyn Error>> {
    let device = args.common.setup()?;
    let train_device = device.clone().autodiff();
    train_device.seed(args.common.seed);
    let digits = Digits::load()?;
    let dequantization = Dequantization::new(Digits::LEVELS, -1.0, 1.0)?;
    let vp = VpSde::default();
    let noisy = NoisyDequantization::at_time(dequantization, &vp, args.dequantization_time)?;
    let train_levels = digits.levels(Split::Train);
    let mut test_levels = digits.levels(Split::Test);
    if let Some(images) = args.test_images {
        if images == 0 {
            return Err("--test-images must be at least 1".into());
        }
        test_levels.truncate(images * Digits::PIXELS);
    }
    let train = levels_tensor(&train_levels, &train_device);
    let n_train = train.dims()[0];

    // Training on freshly dequantised batches.
    let weighting = match args.weighting.as_str() {
        "std2" => Weighting::StdSquared,
        "likelihood" => Weighting::Likelihood {
            importance_sampling: true,
        },
        other => return Err(format!("unknown weighting {other:?}: std2 or likelihood").into()),
    };
    let dsm = ContinuousDsm::new(&vp, weighting, EPS)?;
    let net = ScoreMlpConfig::new(Digits::PIXELS)
        .with_hidden(args.hidden)
        .with_depth(3)
        .with_outputs_per_dim(Digits::LEVELS)
        .init(&train_device)?;
    let mut noise = HostNoise::new(args.common.seed);
    let config = TrainerConfig::new(args.steps)
        .with_learning_rate(args.lr)
        .with_ema_decay(Some(args.ema))
        .with_progress(true);
    eprintln!("training on {n_train} images for {} steps", args.steps);
    let clock = std::time::Instant::now();
    let (net, report) = Trainer::new(config)?.fit(net, |net: &ScoreMlp, _| {
        let index = noise.uniform_indices(args.batch, n_train, &train);
        let x0 = dequantization.dequantize(train.clone().select(0, index), &mut noise);
        let model =
            BinnedDenoiser::new(net, &vp, Digits::LEVELS, -1.0, 1.0).map_err(sgm::Error::from)?;
        dsm.loss(&model, x0, &mut noise).map_err(sgm::Error::from)
    })?;
    let train_seconds = clock.elapsed().as_secs_f64();
    eprintln!(
        "final loss (mean of the last 100 steps): {:.3}, {train_seconds:.0} s",
        report.mean_last(100)
    );

    // Bits/dim: uniform dequantisation on test (4 draws) and train images, noisy on test.
    let model = BinnedDenoiser::new(&net, &vp, Digits::LEVELS, -1.0, 1.0)?;
    let mut nfe = 0;
    let hutchinson = Divergence::Hutchinson {
        projection: Projection::Rademacher,
        probes: 2,
    };
    // One dequantisation draw of `levels`: bits/dim per image, and the mean over images of the
    // Hutchinson variance of log p (it bounds the bias of the importance-weighted bound).
    let mut draw =
        |levels: &[u8], uniform: bool, label: &str| -> Result<(Tensor<1>, f64), Box<dyn Error>> {
            let k = levels_tensor(levels, &device);
            let mut progress = Progress::new(label);
            let (bpd, out) = if uniform {
                let likelihood = ProbabilityFlowLikelihood::new(vp, hutchinson, EPS)?;
                let x = dequantization.dequantize(k, &mut noise);
                let out = likelihood.log_prob_observed(&model, x, &mut noise, &mut progress)?;
                (
                    dequantization.bits_per_dim(out.log_prob.clone(), Digits::PIXELS),
                    out,
                )
            } else {
                let likelihood =
                    ProbabilityFlowLikelihood::new(vp, hutchinson, args.dequantization_time)?;
                let z = noisy.dequantize(k, &mut noise);
                let out =
                    likelihood.log_prob_observed(&model, z.clone(), &mut noise, &mut progress)?;
                (noisy.bits_per_dim(out.log_prob.clone(), z), out)
            };
            let variance = out
                .std_error
                .map_or(0.0, |se| mean_and_std_error(&to_f64(se.square())).0);
            nfe = nfe.max(out.nfe);
            Ok((bpd, variance))
        };
    let mut test_draws = Vec::with_capacity(args.draws);
    let mut hutchinson_variance = 0.0f64;
    for m in 0..args.draws {
        let (bpd, variance) = draw(
            &test_levels,
            true,
            &format!("test, draw {} of {}", m + 1, args.draws),
        )?;
        test_draws.push(bpd);
        hutchinson_variance = hutchinson_variance.max(variance);
    }
    let importance_weighted = to_f64(importance_weighted_bits_per_dim(
        &test_draws,
        Digits::PIXELS,
    )?);
    let per_draw: Vec<Vec<f64>> = test_draws.iter().map(|b| to_f64(b.clone())).collect();
    let averaged: Vec<f64> = (0..per_draw[0].len())
        .map(|j| per_draw.iter().map(|b| b[j]).sum::<f64>() / args.draws as f64)
        .collect();
    // As many train images as test images: the gap between the two is the generalisation gap.
    let train = to_f64(draw(&train_levels[..test_levels.len()], true, "train")?.0);
    let noisy_bpd = to_f64(draw(&test_levels, false, "test, noisy dequantisation")?.0);
    let (mean_bpd, std_error) =
        summarize(&format!("test, mean over {} draws", args.draws), &averaged);
    let line = Summary {
        bits_per_dim: mean_bpd,
        std_error,
        draws: args.draws,
        importance_weighted_bits_per_dim: summarize(
            &format!("test, importance-weighted over {} draws", args.draws),
            &importance_weighted,
        )
        .0,
        hutchinson_bias_bound: hutchinson_variance
            / (2.0 * Digits::PIXELS as f64 * std::f64::consts::LN_2),
        histogram_bits_per_dim: histogram_bits_per_dim(&train_levels, &test_levels),
        uniform_bits_per_dim: (Digits::LEVELS as f64).log2(),
        train_single_draw_bits_per_dim: summarize("train, single draw", &train).0,
        noisy_dequantization_bits_per_dim: summarize("test, noisy dequantisation", &noisy_bpd).0,
        nfe,
        test_images: test_levels.len() / Digits::PIXELS,
        train_seconds,
    };
    println!("{}", serde_json::to_string(&line)?);

    // Samples by the probability-flow ODE from the prior, next to test images.
    let x_t = vp.prior_sample([24, Digits::PIXELS], &device, DType::F32, &mut DeviceNoise);
    let flow = ProbabilityFlowOde::new(&vp, &model);
    let control = PiController::new(1e-4, 1e-4)?;
    let samples = sgm::samplers::solve_ode(
        &flow,
        &Tableau::dormand_prince(),
        x_t,
        1.0,
        EPS,
        control,
        &mut NoObserver,
    )?
    .x;
    let mut images = unit_images(&to_f64(
        digits
            .to_tensor(Split::Test, PixelScale::MinusOneOne, &device)
            .slice(0..24),
    ));
    images.extend(unit_images(&to_f64(samples)));
    let path = args.common.out.join("digits_likelihood.png");
    image_grid(
        &path,
        &format!(
            "test images (top 3 rows), PF-ODE samples (bottom 3 rows); {mean_bpd:.2} bits/dim"
        ),
        &images,
        Digits::SIDE,
        8,
    )?;
    eprintln!("wrote {}", path.display());
    Ok(line)
}

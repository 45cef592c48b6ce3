//! The pipeline of the `digits` example: the reference U-Net ([`UNetConfig`]'s defaults) trained
//! on the 8x8 digits under the VP SDE, sampled by the predictor-corrector sampler, and
//! evaluated twice: bits/dim of the test split by the probability-flow ODE (uniform
//! dequantisation), beside the independent-pixel histogram (2.44) and the uniform model
//! (4.09); and the classifier-based Frechet distance ([`FeatureClassifier`] trained on the
//! train split) of its samples to the test split, beside that of as many train images (the
//! floor: real digits against real digits) and of the independent-pixel model's samples.
//!
//! Data: grey levels k in 0..=16 dequantised to x = -1 + 2 (k + u) / 17, u ~ U[0, 1), fresh u
//! at every step. Training: continuous DSM, lambda = std^2, t ~ U(1e-5, 1), the std-normalised
//! parameterisation (s = h / std), Adam with warm-up and cosine decay, clipping at norm 1, EMA
//! 0.999 of the weights (which are sampled and evaluated). Writes `digits_samples.png`.

use std::error::Error;

use clap::Parser;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use sgm::core::divergence::Projection;
use sgm::core::tensor::{from_f64, to_f64};
use sgm::prelude::*;
use sgm::samplers::Progress;

use crate::digits_likelihood::histogram_bits_per_dim;
use crate::plot::{image_grid, unit_images};
use crate::{CommonArgs, digit_labels, levels_tensor, mean_and_std_error};

/// Train the U-Net on the digits, sample, and evaluate (command line of the `digits` example).
#[derive(Debug, Clone, Parser)]
pub struct Args {
    /// Device, output directory and seed.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Training steps.
    #[arg(long, default_value_t = 3000)]
    pub steps: usize,
    /// Images per step.
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Peak learning rate of Adam (after 5% of the steps of warm-up; cosine to a tenth).
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Samples drawn (and compared with as many test and train images).
    #[arg(long, default_value_t = 360)]
    pub samples: usize,
    /// Steps of the PC sampler.
    #[arg(long, default_value_t = 200)]
    pub pc_steps: usize,
    /// Test images whose bits/dim are computed (at most 360).
    #[arg(long, default_value_t = 360)]
    pub test_images: usize,
}

/// Smallest training time and start of the likelihood.
pub const EPS: f64 = 1e-5;

/// What a run prints and draws.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    /// Test bits/dim (uniform dequantisation, one draw per image) and its standard error.
    pub bits_per_dim: (f64, f64),
    /// The independent-pixel histogram model's test bits/dim.
    pub histogram_bits_per_dim: f64,
    /// The uniform model's, log2 17.
    pub uniform_bits_per_dim: f64,
    /// Classifier Frechet distance of the samples to the test split.
    pub frechet_samples: f64,
    /// The same for as many train images (the floor).
    pub frechet_train_floor: f64,
    /// The same for as many samples of the independent-pixel model.
    pub frechet_independent_pixels: f64,
    /// The digit classifier's accuracy on the test split.
    pub classifier_test_accuracy: f64,
    /// Mean of the last 100 training losses.
    pub final_loss: f64,
    /// Seconds spent training.
    pub train_seconds: f64,
}

/// `n` images of the independent-pixel model (pixel j's level drawn from the train split's
/// histogram of pixel j), scaled to [-1, 1] by level / 16.
pub fn independent_pixel_samples(train_levels: &[u8], n: usize, seed: u64) -> Vec<f64> {
    let rows = train_levels.len() / Digits::PIXELS;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..n * Digits::PIXELS)
        .map(|i| {
            let pick = rng.random_range(0..rows);
            PixelScale::MinusOneOne.apply(train_levels[pick * Digits::PIXELS + i % Digits::PIXELS])
        })
        .collect()
}

/// Runs the example: prints one JSON line ([`Summary`]) and writes `digits_samples.png`.
///
/// # Errors
/// An unknown device, bad settings, a diverging trainer, sampler or solver, or a PNG that cannot
/// be written.
pub fn run(args: &Args) -> Result<Summary, Box<dyn Error>> {
    let device = args.common.setup()?;
    let train_device = device.clone().autodiff();
    train_device.seed(args.common.seed);
    let digits = Digits::load()?;
    let dequantization = Dequantization::new(Digits::LEVELS, -1.0, 1.0)?;
    let vp = VpSde::default();
    let train_levels = digits.levels(Split::Train);
    let test_levels = digits.levels(Split::Test);
    let train = levels_tensor(&train_levels, &train_device);
    let rows = train.dims()[0];

    // 1. Train.
    let dsm = ContinuousDsm::new(vp, Weighting::StdSquared, EPS)?;
    let net = UNetConfig::new(1, Digits::SIDE, Digits::SIDE).init(&train_device)?;
    let config = TrainerConfig::new(args.steps)
        .with_learning_rate(args.lr)
        .with_warmup_steps(args.steps / 20)
        .with_schedule(LearningRateSchedule::Cosine {
            final_fraction: 0.1,
        })
        .with_clip_grad_norm(Some(1.0))
        .with_ema_decay(Some(0.999))
        .with_progress(true);
    let mut noise = HostNoise::new(args.common.seed);
    let clock = std::time::Instant::now();
    let (net, report) = Trainer::new(config)?.fit(net, |net: &UNet, _| {
        let index = noise.uniform_indices(args.batch, rows, &train);
        let x0 = dequantization.dequantize(train.clone().select(0, index), &mut noise);
        let model = Parameterized::with_sde(net, vp, Parameterization::StdNormalized);
        dsm.loss(&model, x0, &mut noise)
    })?;
    let train_seconds = clock.elapsed().as_secs_f64();
    let net = net.valid().to_device(&device);
    let model = Parameterized::with_sde(&net, vp, Parameterization::StdNormalized);

    // 2. Sample.
    let pc = PcSampler::new(
        EulerMaruyama::new(vp),
        LangevinCorrector::new(0.16, 1)?.with_alpha(vp),
        TimeGrid::uniform(vp.t_end(), 1e-3, args.pc_steps + 1)?,
        FinalStep::Mean,
    )?;
    let prior = vp.prior_sample(
        [args.samples, Digits::PIXELS],
        &device,
        DType::F32,
        &mut noise,
    );
    let samples = pc
        .sample(&model, prior, &mut noise, &mut Progress::new("PC sampler"))?
        .x
        .clamp(-1.0, 1.0);

    // 3. Bits/dim of the test split.
    let test_images = args
        .test_images
        .clamp(1, test_levels.len() / Digits::PIXELS);
    let likelihood = ProbabilityFlowLikelihood::new(
        vp,
        Divergence::Hutchinson {
            projection: Projection::Rademacher,
            probes: 2,
        },
        EPS,
    )?;
    let x = dequantization.dequantize(
        levels_tensor(&test_levels[..test_images * Digits::PIXELS], &device),
        &mut noise,
    );
    let log_p = likelihood
        .log_prob_observed(&model, x, &mut noise, &mut Progress::new("test bits/dim"))?
        .log_prob;
    let bits_per_dim =
        mean_and_std_error(&to_f64(dequantization.bits_per_dim(log_p, Digits::PIXELS)));

    // 4. Classifier Frechet distances to the test split.
    let labels = digit_labels(&digits, Split::Train);
    let train_images = digits.to_tensor(Split::Train, PixelScale::MinusOneOne, &device);
    let classifier = FeatureClassifier::train(
        train_images.clone(),
        &labels,
        &ClassifierConfig::new(10).with_seed(args.common.seed),
    )?;
    let test_images_scaled = digits.to_tensor(Split::Test, PixelScale::MinusOneOne, &device);
    let test_labels = digit_labels(&digits, Split::Test);
    let classifier_test_accuracy = classifier.accuracy(test_images_scaled.clone(), &test_labels)?;
    let fd = FrechetDistance::new(&classifier);
    let n = args.samples;
    let independent = from_f64(
        &independent_pixel_samples(&train_levels, n, args.common.seed),
        [n, Digits::PIXELS],
        &device,
        DType::F32,
    );
    let summary = Summary {
        bits_per_dim,
        histogram_bits_per_dim: histogram_bits_per_dim(
            &train_levels,
            &test_levels[..test_images * Digits::PIXELS],
        ),
        uniform_bits_per_dim: (Digits::LEVELS as f64).log2(),
        frechet_samples: fd.distance(samples.clone(), test_images_scaled.clone())?,
        frechet_train_floor: fd.distance(
            train_images.narrow(0, 0, n.min(rows)),
            test_images_scaled.clone(),
        )?,
        frechet_independent_pixels: fd.distance(independent, test_images_scaled)?,
        classifier_test_accuracy,
        final_loss: report.mean_last(100),
        train_seconds,
    };
    println!("{}", serde_json::to_string(&summary)?);

    // 5. Draw: 64 samples.
    let mut shown = unit_images(&to_f64(samples));
    shown.truncate(64);
    image_grid(
        &args.common.out.join("digits_samples.png"),
        &format!(
            "U-Net, VP, PC sampler: {:.2} bits/dim, classifier FD {:.1} (floor {:.1})",
            summary.bits_per_dim.0, summary.frechet_samples, summary.frechet_train_floor
        ),
        &shown,
        Digits::SIDE,
        8,
    )?;
    Ok(summary)
}

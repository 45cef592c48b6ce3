//! The pipeline of the `digits` example: the reference U-Net ([`UNetConfig`]'s defaults)
//! trained on the 8x8 digits by one of two methods ([`Method`]), sampled, and evaluated.
//!
//! - `vp`: continuous DSM under the VP SDE (lambda = std^2, t ~ U(1e-5, 1)), the U-Net read by
//!   [`BinnedDenoiser`] (17 level logits per pixel; `--head std-normalized` for s = h / std
//!   instead), sampled by the predictor-corrector sampler (Euler-Maruyama and Langevin), and
//!   evaluated by the bits/dim of the test split by the probability-flow ODE (uniform
//!   dequantisation), beside the independent-pixel histogram (2.44) and the uniform model
//!   (4.09).
//! - `ncsn`: the multi-scale DSM of NCSN ([`NcsnLoss`], Song & Ermon 2019) over geometric levels
//!   chosen from the data ([`GeometricSigmas::from_data`]: sigma_max the largest pairwise
//!   distance, the ratio of technique 2 of Song & Ermon 2020), the U-Net conditioned on the
//!   level's time and read as s = h / sigma ([`SmldMarginals`]), sampled by annealed Langevin
//!   dynamics with the step size of technique 4 and the final denoising step.
//!
//! Both: the classifier-based Frechet distance ([`FeatureClassifier`] trained on the train
//! split) of the samples to the test split, beside that of as many train images (the floor:
//! real digits against real digits) and of the independent-pixel model's samples.
//!
//! Data: grey levels k in 0..=16 dequantised to x = -1 + 2 (k + u) / 17, u ~ U[0, 1), fresh u
//! at every step. Training: Adam with warm-up and cosine decay, clipping at norm 1, EMA 0.999
//! of the weights (which are sampled and evaluated). Writes `digits_vp.png` or
//! `digits_ncsn.png`.

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
    #[arg(long, default_value_t = 1500)]
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
    /// Test images whose bits/dim are computed (at most 360; `vp` only).
    #[arg(long, default_value_t = 360)]
    pub test_images: usize,
    /// Training objective and sampler.
    #[arg(long, value_enum, default_value_t = Method::Vp)]
    pub method: Method,
    /// How the U-Net's output is read as a score under VP.
    #[arg(long, value_enum, default_value_t = Head::Binned)]
    pub head: Head,
    /// Langevin steps per noise level of annealed Langevin (`ncsn`).
    #[arg(long, default_value_t = 5)]
    pub steps_per_level: usize,
}

/// Training objective and sampler of the `digits` example.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Continuous DSM under the VP SDE; the PC sampler; bits/dim by the probability-flow ODE.
    Vp,
    /// NCSN's multi-scale DSM over geometric levels; annealed Langevin dynamics.
    Ncsn,
}

/// How the U-Net's output is read as a score under VP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Head {
    /// 17 level logits per pixel, read by [`BinnedDenoiser`].
    Binned,
    /// One output per pixel, s = h / std ([`Parameterization::StdNormalized`]).
    StdNormalized,
}

/// Smallest training time and start of the likelihood.
pub const EPS: f64 = 1e-5;

/// What a run prints and draws.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    /// The method.
    pub method: Method,
    /// The head (`vp`).
    pub head: Head,
    /// Test bits/dim (uniform dequantisation, one draw per image) and its standard error
    /// (`vp`; NCSN's discrete levels have no probability-flow ODE of their own).
    pub bits_per_dim: Option<(f64, f64)>,
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
    /// Seconds spent sampling.
    pub sample_seconds: f64,
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

/// The U-Net read as a score: by [`BinnedDenoiser`] or s = h / std under VP, s = h / sigma
/// under the NCSN levels.
fn score_model(
    net: &UNet,
    method: Method,
    head: Head,
    vp: VpSde,
    smld: SmldMarginals,
) -> Result<Box<dyn ScoreModel + '_>, NnError> {
    Ok(match (method, head) {
        (Method::Vp, Head::Binned) => {
            Box::new(BinnedDenoiser::new(net, vp, Digits::LEVELS, -1.0, 1.0)?)
        }
        (Method::Vp, Head::StdNormalized) => Box::new(Parameterized::with_sde(
            net,
            vp,
            Parameterization::StdNormalized,
        )),
        (Method::Ncsn, _) => Box::new(Parameterized::new(
            net,
            smld,
            Parameterization::StdNormalized,
        )?),
    })
}

/// Runs the example: prints one JSON line ([`Summary`]) and writes `digits_vp.png` or
/// `digits_ncsn.png`.
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
    let train_images = digits.to_tensor(Split::Train, PixelScale::MinusOneOne, &device);
    let levels = GeometricSigmas::from_data(train_images.clone(), 0.01)?;
    let smld = SmldMarginals::from_levels(&levels)?;
    let head = if args.method == Method::Vp {
        args.head
    } else {
        Head::StdNormalized
    };
    // 1. Train.
    let dsm = ContinuousDsm::new(vp, Weighting::StdSquared, EPS)?;
    let ncsn = NcsnLoss::new(levels.clone())?;
    let outputs = if head == Head::Binned {
        Digits::LEVELS
    } else {
        1
    };
    let net = UNetConfig::new(1, Digits::SIDE, Digits::SIDE)
        .with_outputs_per_dim(outputs)
        .init(&train_device)?;
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
        let model = score_model(net, args.method, head, vp, smld).map_err(sgm::Error::from)?;
        match args.method {
            Method::Vp => dsm.loss(&*model, x0, &mut noise),
            Method::Ncsn => ncsn.loss(&*model, x0, &mut noise),
        }
        .map_err(sgm::Error::from)
    })?;
    let train_seconds = clock.elapsed().as_secs_f64();
    let net = net.valid().to_device(&device);
    let model = score_model(&net, args.method, head, vp, smld)?;

    // 2. Sample.
    let clock = std::time::Instant::now();
    let shape = [args.samples, Digits::PIXELS];
    let samples = match args.method {
        Method::Vp => {
            let pc = PcSampler::new(
                EulerMaruyama::new(vp),
                LangevinCorrector::new(0.16, 1)?.with_alpha(vp),
                TimeGrid::uniform(vp.t_end(), 1e-3, args.pc_steps + 1)?,
                FinalStep::Mean,
            )?;
            let prior = vp.prior_sample(shape, &device, DType::F32, &mut noise);
            pc.sample(&*model, prior, &mut noise, &mut Progress::new("PC sampler"))?
        }
        Method::Ncsn => {
            let step_size = levels.langevin_step_size(args.steps_per_level)?;
            let annealed = AnnealedLangevin::new(levels.clone(), args.steps_per_level, step_size)?
                .with_denoising(true);
            let prior = noise.normal_like(&Tensor::<2>::zeros(shape, &device)) * levels.sigma_max();
            annealed.sample(
                &*model,
                prior,
                &mut noise,
                &mut Progress::new("annealed Langevin"),
            )?
        }
    }
    .x
    .clamp(-1.0, 1.0);
    let sample_seconds = clock.elapsed().as_secs_f64();

    // 3. Bits/dim of the test split (VP).
    let test_images = args
        .test_images
        .clamp(1, test_levels.len() / Digits::PIXELS);
    let bits_per_dim = if args.method == Method::Vp {
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
            .log_prob_observed(&*model, x, &mut noise, &mut Progress::new("test bits/dim"))?
            .log_prob;
        Some(mean_and_std_error(&to_f64(
            dequantization.bits_per_dim(log_p, Digits::PIXELS),
        )))
    } else {
        None
    };

    // 4. Classifier Frechet distances to the test split.
    let labels = digit_labels(&digits, Split::Train);
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
        method: args.method,
        head,
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
        sample_seconds,
    };
    println!("{}", serde_json::to_string(&summary)?);

    // 5. Draw: 64 samples.
    let mut shown = unit_images(&to_f64(samples));
    shown.truncate(64);
    let (name, title) = match summary.bits_per_dim {
        Some((bpd, _)) => (
            "digits_vp.png",
            format!("U-Net, VP, PC sampler: {bpd:.2} bits/dim"),
        ),
        None => (
            "digits_ncsn.png",
            format!("U-Net, NCSN, annealed Langevin ({} levels)", levels.len()),
        ),
    };
    image_grid(
        &args.common.out.join(name),
        &format!(
            "{title}, classifier FD {:.1} (floor {:.1})",
            summary.frechet_samples, summary.frechet_train_floor
        ),
        &shown,
        Digits::SIDE,
        8,
    )?;
    Ok(summary)
}

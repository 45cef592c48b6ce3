//! The pipeline of the `controllable` example: controllable generation on the 8x8 digits (Song
//! et al., ICLR 2021, sec. 5; Ho & Salimans 2022). One class-conditional MLP score model (a
//! label embedding at every layer) is trained by conditional DSM with label dropout under the
//! VP SDE, so that it gives both the class-conditional and the unconditional score. Then:
//!
//! - class-conditional samples, 8 per digit, by DPM-Solver++ 2M with classifier-free guidance
//!   ((1 + w) s(x, t, y) - w s(x, t)), unguided (w = 0) and guided (`--guidance`);
//! - inpainting of the lower half of test digits from their upper half with the unconditional
//!   score: score_sde's PC inpainter (a projection after every PC step) and the pinned-score
//!   form ([`Imputation::joint`]) with DPM-Solver++ 2M.
//!
//! Measured: the accuracy of a nearest-class-mean classifier (fitted on the train split) and of a
//! trained MLP classifier ([`FeatureClassifier`]) on the class-conditional samples, beside their
//! accuracy on the test split (what real digits of each class score); the mean squared error per pixel of the inpainted lower halves against the
//! truth, beside two baselines: the lower half of a random train image (an unconditional
//! sample) and that of the train image whose upper half is nearest (a nonparametric
//! conditional sample). Writes `controllable_classes.png` and `controllable_inpainting.png`.

use std::error::Error;

use clap::Parser;
use sgm::core::tensor::from_f64;
use sgm::prelude::*;

use crate::plot::{image_grid, unit_images};
use crate::{CommonArgs, digit_labels, mean_and_std_error};

/// Class-conditional generation and inpainting on the digits (command line of the
/// `controllable` example).
#[derive(Debug, Clone, Parser)]
pub struct Args {
    /// Device, output directory and seed.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Adam steps.
    #[arg(long, default_value_t = 4000)]
    pub steps: usize,
    /// Hidden width of the MLP (3 hidden layers).
    #[arg(long, default_value_t = 512)]
    pub hidden: usize,
    /// Batch size.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Decay of the moving average of the weights that is sampled.
    #[arg(long, default_value_t = 0.999)]
    pub ema: f64,
    /// Probability that a training label is dropped to the null condition.
    #[arg(long, default_value_t = 0.15)]
    pub label_dropout: f64,
    /// Classifier-free guidance weight w of the guided samples.
    #[arg(long, default_value_t = 1.0)]
    pub guidance: f64,
    /// Samples per digit class.
    #[arg(long, default_value_t = 8)]
    pub per_class: usize,
    /// Points of the DPM-Solver++ grid (uniform in log-SNR).
    #[arg(long, default_value_t = 100)]
    pub solver_points: usize,
    /// Steps of the PC inpainter.
    #[arg(long, default_value_t = 300)]
    pub pc_steps: usize,
    /// Test images to inpaint (taken in order).
    #[arg(long, default_value_t = 60)]
    pub inpaint: usize,
}

/// Smallest time of training and sampling.
pub const EPS: f64 = 1e-3;
/// The upper half of an image: its first 32 pixels (rows 0 to 3).
pub const OBSERVED: usize = 32;

/// What a run prints (one JSON line) and returns.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Summary {
    /// Nearest-class-mean accuracy on the guided class-conditional samples.
    pub guided_accuracy: f64,
    /// The same on the unguided (w = 0) class-conditional samples.
    pub unguided_accuracy: f64,
    /// The same on the test split (real digits).
    pub test_accuracy: f64,
    /// Accuracy of a trained digit classifier ([`FeatureClassifier`], 0.98 on the test split)
    /// on the guided class-conditional samples, the unguided ones, and the test split.
    pub classifier_accuracy: [f64; 3],
    /// Class-conditional samples per accuracy.
    pub samples: usize,
    /// MSE per lower-half pixel of the PC inpainter, and its standard error over images.
    pub pc_inpainting_mse: (f64, f64),
    /// The same for the pinned-score form with DPM-Solver++ 2M.
    pub joint_inpainting_mse: (f64, f64),
    /// The same for the lower half of a random train image.
    pub random_image_mse: (f64, f64),
    /// The same for the train image whose upper half is nearest.
    pub nearest_upper_half_mse: (f64, f64),
    /// Per image, the random train image's MSE minus the PC inpainter's: mean and SE (paired).
    pub pc_gain_over_random: (f64, f64),
    /// The same for the pinned-score form.
    pub joint_gain_over_random: (f64, f64),
    /// Largest deviation of an inpainted upper half from the observation (0: kept exactly).
    pub observed_deviation: f64,
    /// Score evaluations of one class-conditional sample (guided: two per step).
    pub guided_nfe: usize,
    /// Seconds of training.
    pub train_seconds: f64,
}

/// Class means of `images` (`[n, 64]` flattened) by `labels`.
fn class_means(images: &[f64], labels: &[u8]) -> Vec<Vec<f64>> {
    let mut sums = vec![vec![0.0; Digits::PIXELS]; 10];
    let mut counts = [0usize; 10];
    for (image, &k) in images.chunks(Digits::PIXELS).zip(labels) {
        counts[k as usize] += 1;
        for (s, v) in sums[k as usize].iter_mut().zip(image) {
            *s += v;
        }
    }
    for (sum, count) in sums.iter_mut().zip(counts) {
        sum.iter_mut().for_each(|s| *s /= count.max(1) as f64);
    }
    sums
}

fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(p, q)| (p - q).powi(2)).sum()
}

/// Share of `images` whose nearest class mean is their label.
fn accuracy(means: &[Vec<f64>], images: &[f64], labels: &[usize]) -> f64 {
    let hits = images
        .chunks(Digits::PIXELS)
        .zip(labels)
        .filter(|(image, k)| {
            let nearest = (0..means.len())
                .min_by(|&a, &b| {
                    squared_distance(image, &means[a])
                        .total_cmp(&squared_distance(image, &means[b]))
                })
                .expect("ten classes");
            nearest == **k
        })
        .count();
    hits as f64 / labels.len() as f64
}

/// Per image, the mean squared error over the lower-half pixels of `guess` against `truth`.
fn lower_half_mse(guess: &[f64], truth: &[f64]) -> Vec<f64> {
    guess
        .chunks(Digits::PIXELS)
        .zip(truth.chunks(Digits::PIXELS))
        .map(|(g, t)| {
            squared_distance(&g[OBSERVED..], &t[OBSERVED..]) / (Digits::PIXELS - OBSERVED) as f64
        })
        .collect()
}

/// Runs the example: trains, samples, inpaints, prints one JSON line (the [`Summary`]) and
/// writes the two PNGs into the output directory.
///
/// # Errors
/// An unknown device, invalid hyperparameters, a training or sampler failure, or a PNG that
/// cannot be written.
pub fn run(args: &Args) -> Result<Summary, Box<dyn Error>> {
    let device = args.common.setup()?;
    let train_device = device.clone().autodiff();
    train_device.seed(args.common.seed);
    let digits = Digits::load()?;
    let vp = VpSde::default();
    let train = digits.to_tensor(Split::Train, PixelScale::MinusOneOne, &train_device);
    let train_labels = digit_labels(&digits, Split::Train);
    let y_train = one_hot(&train_labels, 10, &train_device, DType::F32)?;
    let n_train = train_labels.len();

    // Conditional DSM with label dropout.
    let dsm = ConditionalDsm::new(
        ContinuousDsm::new(vp, Weighting::StdSquared, EPS)?,
        args.label_dropout,
    )?;
    let net = ScoreMlpConfig::new(Digits::PIXELS)
        .with_hidden(args.hidden)
        .with_depth(3)
        .with_condition_dim(10)
        .init(&train_device)?;
    let mut noise = HostNoise::new(args.common.seed);
    let config = TrainerConfig::new(args.steps)
        .with_learning_rate(args.lr)
        .with_ema_decay(Some(args.ema))
        .with_progress(true);
    eprintln!(
        "training on {n_train} labelled images for {} steps",
        args.steps
    );
    let clock = std::time::Instant::now();
    let (net, report) = Trainer::new(config)?.fit(net, |net: &ScoreMlp, _| {
        let index = noise.uniform_indices(args.batch, n_train, &train);
        let x0 = train.clone().select(0, index.clone());
        let y = y_train.clone().select(0, index);
        let model = Parameterized::with_sde(net, vp, Parameterization::NoisePrediction);
        dsm.loss(&model, x0, y, &mut noise)
    })?;
    let train_seconds = clock.elapsed().as_secs_f64();
    eprintln!(
        "final loss (mean of the last 100 steps): {:.3}, {train_seconds:.0} s",
        report.mean_last(100)
    );
    let net = net.valid();
    let model = Parameterized::with_sde(&net, vp, Parameterization::NoisePrediction);

    // Class-conditional samples, unguided and guided, from the same prior draws.
    let classes: Vec<usize> = (0..10).flat_map(|k| vec![k; args.per_class]).collect();
    let y = one_hot(&classes, 10, &device, DType::F32)?;
    let solver = DpmSolverPp::new(vp, log_snr_grid(&vp, 1.0, EPS, args.solver_points)?, 2)?
        .with_noise(1.0, 1.0)?;
    let start = vp.prior_sample(
        [classes.len(), Digits::PIXELS],
        &device,
        DType::F32,
        &mut noise,
    );
    let mut sample = |w: f64, label: &str| -> Result<(Vec<f64>, usize), Box<dyn Error>> {
        let guided = ClassifierFreeGuidance::new(&model, y.clone(), w)?;
        let out = solver.sample(
            &guided,
            start.clone(),
            &mut noise,
            &mut Progress::new(label),
        )?;
        Ok((to_f64(out.x.clamp(-1.0, 1.0)), out.nfe))
    };
    let (unguided, _) = sample(0.0, "class-conditional, w = 0")?;
    let (guided, guided_nfe) = sample(args.guidance, "class-conditional, guided")?;
    let train_images = to_f64(train.clone());
    let means = class_means(&train_images, &digits.labels(Split::Train));
    let test = digits.to_tensor(Split::Test, PixelScale::MinusOneOne, &device);
    let test_images = to_f64(test.clone());
    let test_labels = digit_labels(&digits, Split::Test);
    let classifier = FeatureClassifier::train(
        digits.to_tensor(Split::Train, PixelScale::MinusOneOne, &device),
        &train_labels,
        &ClassifierConfig::new(10).with_seed(args.common.seed),
    )?;
    let rows = |images: &[f64]| {
        from_f64(
            images,
            [images.len() / Digits::PIXELS, Digits::PIXELS],
            &device,
            DType::F32,
        )
    };
    let classifier_accuracy = [
        classifier.accuracy(rows(&guided), &classes)?,
        classifier.accuracy(rows(&unguided), &classes)?,
        classifier.accuracy(test, &test_labels)?,
    ];
    let guided_accuracy = accuracy(&means, &guided, &classes);
    let unguided_accuracy = accuracy(&means, &unguided, &classes);
    let test_accuracy = accuracy(&means, &test_images, &test_labels);
    image_grid(
        &args.common.out.join("controllable_classes.png"),
        &format!(
            "class-conditional samples, row k = digit k: left w = 0, right CFG w = {}",
            args.guidance
        ),
        &unit_images(
            &unguided
                .chunks(args.per_class * Digits::PIXELS)
                .zip(guided.chunks(args.per_class * Digits::PIXELS))
                .flat_map(|(u, g)| [u, g].concat())
                .collect::<Vec<f64>>(),
        ),
        8,
        2 * args.per_class,
    )?;

    // Inpainting the lower half of test images from their upper half.
    let n = args.inpaint.clamp(1, test_labels.len());
    let truth = &test_images[..n * Digits::PIXELS];
    let values = from_f64(truth, [n, Digits::PIXELS], &device, DType::F32);
    let mask: Vec<bool> = (0..Digits::PIXELS).map(|p| p < OBSERVED).collect();
    let unconditional = Unconditional(&model);
    let pc = PcSampler::new(
        ReverseDiffusion::new(vp),
        LangevinCorrector::new(0.16, 1)?.with_alpha(vp),
        TimeGrid::uniform(1.0, EPS, args.pc_steps + 1)?,
        FinalStep::tweedie(vp),
    )?;
    let projection = Imputation::new(vp, mask.clone(), values.clone(), n, &mut noise)?;
    let start = vp.prior_sample([n, Digits::PIXELS], &device, DType::F32, &mut noise);
    let pc_out = pc.sample_projected(
        &unconditional,
        start.clone(),
        &projection,
        &mut noise,
        &mut Progress::new("PC inpainter"),
    )?;
    let pinned = Imputation::new(vp, mask, values, n, &mut noise)?.joint(&unconditional);
    let joint_out = solver.sample(
        &pinned,
        start,
        &mut noise,
        &mut Progress::new("pinned score"),
    )?;
    let pc_images = to_f64(pc_out.x.clamp(-1.0, 1.0));
    let joint_images = to_f64(joint_out.x.clamp(-1.0, 1.0));
    let observed_deviation = pc_images
        .chunks(Digits::PIXELS)
        .chain(joint_images.chunks(Digits::PIXELS))
        .zip(truth.chunks(Digits::PIXELS).cycle())
        .flat_map(|(g, t)| {
            g[..OBSERVED]
                .iter()
                .zip(&t[..OBSERVED])
                .map(|(a, b)| (a - b).abs())
        })
        .fold(0.0f64, f64::max);
    let train_rows: Vec<&[f64]> = train_images.chunks(Digits::PIXELS).collect();
    let random: Vec<f64> = (0..n)
        .flat_map(|i| train_rows[(i * 7919 + args.common.seed as usize) % n_train].to_vec())
        .collect();
    let nearest: Vec<f64> = truth
        .chunks(Digits::PIXELS)
        .flat_map(|t| {
            let best = train_rows
                .iter()
                .min_by(|a, b| {
                    squared_distance(&a[..OBSERVED], &t[..OBSERVED])
                        .total_cmp(&squared_distance(&b[..OBSERVED], &t[..OBSERVED]))
                })
                .expect("train images");
            best.to_vec()
        })
        .collect();
    let shown = n.min(10);
    let masked: Vec<f64> = truth[..shown * Digits::PIXELS]
        .chunks(Digits::PIXELS)
        .flat_map(|t| (0..Digits::PIXELS).map(|p| if p < OBSERVED { t[p] } else { 0.0 }))
        .collect();
    let rows = [
        &truth[..shown * Digits::PIXELS],
        &masked[..],
        &pc_images[..shown * Digits::PIXELS],
        &joint_images[..shown * Digits::PIXELS],
        &nearest[..shown * Digits::PIXELS],
    ]
    .concat();
    image_grid(
        &args.common.out.join("controllable_inpainting.png"),
        "rows: test digit, upper half given, PC inpainter, pinned score, nearest train image",
        &unit_images(&rows),
        8,
        shown,
    )?;
    let (pc_mse, joint_mse, random_mse) = (
        lower_half_mse(&pc_images, truth),
        lower_half_mse(&joint_images, truth),
        lower_half_mse(&random, truth),
    );
    let gain = |mse: &[f64]| {
        let differences: Vec<f64> = random_mse.iter().zip(mse).map(|(r, m)| r - m).collect();
        mean_and_std_error(&differences)
    };
    let summary = Summary {
        guided_accuracy,
        unguided_accuracy,
        test_accuracy,
        classifier_accuracy,
        samples: classes.len(),
        pc_inpainting_mse: mean_and_std_error(&pc_mse),
        joint_inpainting_mse: mean_and_std_error(&joint_mse),
        random_image_mse: mean_and_std_error(&random_mse),
        pc_gain_over_random: gain(&pc_mse),
        joint_gain_over_random: gain(&joint_mse),
        nearest_upper_half_mse: mean_and_std_error(&lower_half_mse(&nearest, truth)),
        observed_deviation,
        guided_nfe,
        train_seconds,
    };
    println!("{}", serde_json::to_string(&summary)?);
    Ok(summary)
}

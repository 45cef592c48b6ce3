//! Trains an MLP score model on the 8x8 digits and reports the bits/dim of the test split by
//! the probability-flow ODE, beside two baselines computed here: the uniform model
//! (log2 17 = 4.09 bits/dim: the digits have K = 17 grey levels) and an independent-pixel
//! histogram model fitted on the train split.
//!
//! ```text
//! cargo run --example digits_likelihood [-- --steps 4000 --out out]
//! ```
//!
//! Data: grey levels k in 0..=16 dequantised to x = -1 + 2 (k + u) / 17, u ~ U[0, 1) (fresh u
//! at every training step). Model: VP SDE, MLP 64 -> 512 x 3 -> 64 with s = h / std(t), trained
//! by likelihood-weighted DSM with importance sampling of t. Likelihood: adaptive
//! Dormand-Prince 5(4) at rtol = atol = 1e-5 from t = 1e-5, two fixed Rademacher probes per
//! image (their spread gives the standard error), one dequantisation draw per test image.
//! Prints one JSON line and writes out/digits_likelihood.png (test images and model samples).

use clap::Parser;
use sgm::core::DeviceNoise;
use sgm::core::divergence::Projection;
use sgm::core::tensor::{from_f64, to_f64};
use sgm::prelude::*;
use sgm::samplers::{StepControl, Tableau};
use sgm_examples::CommonArgs;
use sgm_examples::plot::image_grid;

#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Training steps.
    #[arg(long, default_value_t = 4000)]
    steps: usize,
    /// Hidden width of the MLP.
    #[arg(long, default_value_t = 512)]
    hidden: usize,
    /// Batch size.
    #[arg(long, default_value_t = 256)]
    batch: usize,
}

/// Bits/dim of the independent-pixel histogram model (add-one smoothing) fitted on `train`,
/// evaluated on `test` (grey levels, 64 per image).
fn histogram_bits_per_dim(train: &[u8], test: &[u8]) -> f64 {
    let (pixels, levels) = (Digits::PIXELS, Digits::LEVELS);
    let mut counts = vec![1.0f64; pixels * levels];
    for (i, &k) in train.iter().enumerate() {
        counts[(i % pixels) * levels + k as usize] += 1.0;
    }
    let images = (train.len() / pixels) as f64;
    let nll: f64 = test
        .iter()
        .enumerate()
        .map(|(i, &k)| -(counts[(i % pixels) * levels + k as usize] / (images + levels as f64)).log2())
        .sum();
    nll / test.len() as f64
}

/// The MLP conditioned on the normalised log-SNR instead of t: c(t) = (lambda_max -
/// lambda(t)) / (lambda_max - lambda_min) in [0, 1], lambda = log SNR. Likelihood training puts
/// most of its samples at t < 1e-2, where t itself barely moves the Fourier features while the
/// noise level changes a hundredfold; log SNR spreads those times over the features' range.
struct LogSnrConditioned<'a> {
    net: &'a ScoreMlp,
    sde: &'a VpSde,
    range: (f64, f64),
}

impl ScoreNetwork for LogSnrConditioned<'_> {
    fn forward(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        self.net.forward(x, self.condition(t))
    }

    fn forward_jvp(&self, x: Tensor<2>, t: Tensor<1>, v: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        self.net.forward_jvp(x, self.condition(t), v)
    }
}

impl LogSnrConditioned<'_> {
    fn condition(&self, t: Tensor<1>) -> Tensor<1> {
        let (hi, lo) = self.range;
        (self.sde.log_snr(t) - hi) / (lo - hi)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let device = args.common.setup()?;
    let train_device = device.clone().autodiff();
    train_device.seed(args.common.seed);
    let digits = Digits::load()?;
    let dequantization = Dequantization::new(Digits::LEVELS, -1.0, 1.0)?;
    let as_tensor = |levels: &[u8], device: &Device| {
        let values: Vec<f64> = levels.iter().map(|&k| f64::from(k)).collect();
        from_f64(&values, [levels.len() / Digits::PIXELS, Digits::PIXELS], device, DType::F32)
    };
    let train_levels = digits.levels(Split::Train);
    let test_levels = digits.levels(Split::Test);
    let train = as_tensor(&train_levels, &train_device);
    let n_train = train.dims()[0];

    // Training: likelihood-weighted DSM with importance sampling, fresh dequantisation noise.
    let vp = VpSde::default();
    let range = (vp.log_snr_at(1e-5), vp.log_snr_at(1.0));
    let dsm = ContinuousDsm::new(&vp, Weighting::Likelihood { importance_sampling: true }, 1e-5)?;
    let net = ScoreMlpConfig::new(Digits::PIXELS)
        .with_hidden(args.hidden)
        .with_depth(3)
        .init(&train_device)?;
    let mut noise = HostNoise::new(args.common.seed);
    let mut trainer = Trainer::adam(TrainerConfig::new(args.steps).with_learning_rate(5e-4).with_progress(true));
    eprintln!("training on {n_train} images for {} steps", args.steps);
    let clock = std::time::Instant::now();
    let (net, report) = trainer.fit(net, |net: &ScoreMlp, _| {
        let index = noise.uniform_like(args.batch, 0.0, n_train as f64, &train).floor().int();
        let levels = train.clone().select(0, index);
        let x0 = dequantization.dequantize(levels, &mut noise);
        let conditioned = LogSnrConditioned { net, sde: &vp, range };
        let model = Parameterized::with_sde(&conditioned, &vp, Parameterization::StdNormalized);
        dsm.loss(&model, x0, &mut noise)
    })?;
    eprintln!("final loss (mean of the last 100 steps): {:.3}, {:.0} s", report.mean_last(100), clock.elapsed().as_secs_f64());

    // Likelihood of the test split.
    let net = net.valid();
    let conditioned = LogSnrConditioned { net: &net, sde: &vp, range };
    let model = Parameterized::with_sde(&conditioned, &vp, Parameterization::StdNormalized);
    let test = dequantization.dequantize(as_tensor(&test_levels, &device), &mut noise);
    let hutchinson = Divergence::Hutchinson { projection: Projection::Rademacher, probes: 2 };
    let likelihood = ProbabilityFlowLikelihood::new(&vp, &model, hutchinson, 1e-5)?;
    let out = likelihood.log_prob_observed(test, &mut noise, &mut Progress::new("likelihood"))?;
    let bpd = to_f64(dequantization.bits_per_dim(out.log_prob.clone(), Digits::PIXELS));
    let n = bpd.len() as f64;
    let mut sorted = bpd.clone();
    sorted.sort_by(f64::total_cmp);
    eprintln!("bits/dim quantiles 10/50/90/max: {:.2} {:.2} {:.2} {:.2}; {:.0} s", sorted[36], sorted[180], sorted[324], sorted[359], clock.elapsed().as_secs_f64());
    let mean_bpd = bpd.iter().sum::<f64>() / n;
    let spread = (bpd.iter().map(|b| (b - mean_bpd).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let histogram = histogram_bits_per_dim(&train_levels, &test_levels);
    #[derive(serde::Serialize)]
    struct Report {
        bits_per_dim: f64,
        std_error: f64,
        histogram_bits_per_dim: f64,
        uniform_bits_per_dim: f64,
        nfe: usize,
        test_images: usize,
    }
    let line = Report {
        bits_per_dim: mean_bpd,
        // Over images (the Hutchinson error per image is far smaller than the spread of images).
        std_error: spread / n.sqrt(),
        histogram_bits_per_dim: histogram,
        uniform_bits_per_dim: (Digits::LEVELS as f64).log2(),
        nfe: out.nfe,
        test_images: bpd.len(),
    };
    println!("{}", serde_json::to_string(&line)?);

    // Samples by the probability-flow ODE from the prior, next to test images.
    let x_t = vp.prior_sample([24, Digits::PIXELS], &device, DType::F32, &mut DeviceNoise);
    let flow = ProbabilityFlowOde::new(&vp, &model);
    let control = StepControl::adaptive(1e-4, 1e-4)?;
    let samples = sgm::samplers::solve_ode(&flow, &Tableau::dormand_prince(), x_t, 1.0, 1e-3, control, &mut NoObserver)?.x;
    let to_images = |x: Vec<f64>| -> Vec<Vec<f64>> {
        x.chunks(Digits::PIXELS).map(|img| img.iter().map(|v| (v + 1.0) / 2.0).collect()).collect()
    };
    let mut images = to_images(to_f64(digits.to_tensor(Split::Test, PixelScale::MinusOneOne, &device).slice(0..24)));
    images.extend(to_images(to_f64(samples)));
    let path = args.common.out.join("digits_likelihood.png");
    image_grid(
        &path,
        &format!("test images (top 3 rows), PF-ODE samples (bottom 3 rows); {mean_bpd:.2} bits/dim"),
        &images,
        Digits::SIDE,
        8,
    )?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

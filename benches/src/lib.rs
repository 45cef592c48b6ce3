//! The speed workloads of `sgm` (BENCHMARKS.md in the project brief; `docs/PERFORMANCE.md`).
//!
//! Each workload is a function that builds its inputs, runs one warm-up pass (a shortened run:
//! kernel compilation, allocator warm-up and autotuning stay out of the figure), then times the
//! steady-state run and returns a JSON object with `"workload"`, `"device"` and its fields. The
//! `workloads` binary prints one line per workload; the criterion benches in `benches/` time
//! smaller versions of the same code.

use std::time::Instant;

use burn::optim::{AdamConfig, GradientsParams, SgdConfig};
use serde_json::{Value, json};
use sgm::core::DeviceNoise;
use sgm::core::divergence::Projection;
use sgm::core::tensor::from_f64;
use sgm::likelihood::{Divergence, ProbabilityFlowLikelihood};
use sgm::prelude::*;

/// Multiplies the step counts of every workload (1.0 = as specified; smaller for smoke runs).
#[derive(Debug, Clone, Copy)]
pub struct Scale(pub f64);

impl Scale {
    /// `n` scaled, but at least `min` (a grid from t = 1 to 1e-3 needs >= 25 steps for the
    /// DDPM kernel's beta(t) dt < 1).
    fn steps(self, n: usize, min: usize) -> usize {
        ((n as f64 * self.0).round() as usize).max(min)
    }
}

/// Seconds of `f`, with a device synchronisation before the clock stops.
pub fn timed<T>(device: &Device, f: impl FnOnce() -> T) -> (T, f64) {
    device.sync().expect("device synchronises");
    let start = Instant::now();
    let out = f();
    device.sync().expect("device synchronises");
    (out, start.elapsed().as_secs_f64())
}

/// The MLP of w2/w3: 16 Fourier features, `hidden` units, 3 hidden layers, SiLU.
pub fn mlp(hidden: usize, device: &Device) -> ScoreMlp {
    ScoreMlpConfig::new(2)
        .with_hidden(hidden)
        .with_depth(3)
        .with_fourier_features(8)
        .init(device)
        .expect("valid MLP")
}

/// Matmul flops of one forward pass of an MLP with layer widths `widths` per sample.
pub fn mlp_flops(widths: &[usize]) -> f64 {
    widths.windows(2).map(|w| 2.0 * (w[0] * w[1]) as f64).sum()
}

/// w1: predictor-corrector sampling of ring8 under VP with its exact score: 16,384 particles,
/// 1,000 steps from t = 1 to 1e-3, each one Langevin corrector step (snr 0.16, alpha =
/// 1 - beta_i) then one reverse-diffusion predictor step; the noise-free mean at the end.
pub fn w1(device: &Device, scale: Scale) -> Value {
    let vp = VpSde::default();
    let ring = GaussianMixture::ring8();
    let exact = ring.perturbed(&vp);
    let predictor = ReverseDiffusion::new(vp);
    let corrector = LangevinCorrector::new(0.16, 1)
        .expect("valid snr")
        .with_alpha(vp);
    let particles = 16_384;
    let run = |steps: usize| {
        let grid = TimeGrid::uniform(1.0, 1e-3, steps + 1).expect("valid grid");
        let sampler =
            PcSampler::new(predictor, corrector, grid, FinalStep::Mean).expect("decreasing grid");
        let mut noise = DeviceNoise;
        let x_t = vp.prior_sample([particles, 2], device, DType::F32, &mut noise);
        sampler
            .sample(&exact, x_t, &mut noise, &mut NoObserver)
            .expect("finite samples")
            .x
    };
    run(25);
    let steps = scale.steps(1000, 25);
    let (x, seconds) = timed(device, || run(steps));
    let shares = ring.component_shares(x.clone());
    let weight_err = shares.iter().map(|s| (s - 0.125).abs()).fold(0.0, f64::max);
    let log_p = sgm::core::tensor::to_f64(ring.log_prob(x));
    let nll = -log_p.iter().sum::<f64>() / log_p.len() as f64;
    json!({
        "workload": "w1", "steps": steps, "particles": particles, "seconds": seconds,
        "ns_per_particle_step": seconds * 1e9 / (particles * steps) as f64,
        "mode_weight_max_abs_err": weight_err, "true_nll_of_samples": nll,
    })
}

/// w2: Euler-Maruyama sampling of the reverse VP SDE with the untrained MLP (hidden 256,
/// score = output / std(t)): 8,192 particles, 500 steps from t = 1 to 1e-3.
pub fn w2(device: &Device, scale: Scale) -> Value {
    let vp = VpSde::default();
    device.seed(2);
    let net = mlp(256, device);
    let model = Parameterized::with_sde(&net, &vp, Parameterization::StdNormalized);
    let predictor = EulerMaruyama::new(vp);
    let particles = 8192;
    let run = |steps: usize| {
        let grid = TimeGrid::uniform(1.0, 1e-3, steps + 1).expect("valid grid");
        let sampler = PcSampler::new(predictor, NoneCorrector, grid, FinalStep::Mean)
            .expect("decreasing grid");
        let mut noise = DeviceNoise;
        let x_t = vp.prior_sample([particles, 2], device, DType::F32, &mut noise);
        sampler
            .sample(&model, x_t, &mut noise, &mut NoObserver)
            .expect("finite samples")
            .x
    };
    run(5);
    let steps = scale.steps(500, 5);
    let (_, seconds) = timed(device, || run(steps));
    let flops = mlp_flops(&[2 + 16, 256, 256, 256, 2]) * (particles * steps) as f64;
    json!({
        "workload": "w2", "steps": steps, "particles": particles, "seconds": seconds,
        "gflops": flops / seconds / 1e9,
    })
}

/// w3: continuous-time DSM training on ring8 (VP, t ~ U(1e-5, 1)), MLP hidden 256, batch
/// 1,024, Adam lr 1e-3, 2,000 steps.
pub fn w3(device: &Device, scale: Scale) -> Value {
    let ad = device.clone().autodiff();
    let vp = VpSde::default();
    let ring = GaussianMixture::ring8();
    let dsm = ContinuousDsm::new(&vp, Weighting::StdSquared, 1e-5).expect("valid range");
    let run = |steps: usize| {
        let mut net = mlp(256, &ad);
        let mut optim = AdamConfig::new().init();
        let mut noise = DeviceNoise;
        let mut losses = Vec::with_capacity(steps);
        for _ in 0..steps {
            let model = Parameterized::with_sde(&net, &vp, Parameterization::StdNormalized);
            let x0 = ring.sample(1024, &ad, DType::F32, &mut noise);
            let loss = dsm.loss(&model, x0, &mut noise).expect("shapes match");
            losses.push(loss.clone());
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optim.step(1e-3, net, grads);
        }
        losses
    };
    run(20);
    let steps = scale.steps(2000, 2);
    let (losses, seconds) = timed(device, || run(steps));
    // ContinuousDsm carries the factor 1/2 of Hyvarinen's objective; the workload's loss is
    // sum over dims of (std s + z)^2 without it.
    let tail = &losses[losses.len().saturating_sub(100)..];
    let final_loss = 2.0
        * tail
            .iter()
            .map(|l| f64::from(l.clone().into_scalar::<f32>()))
            .sum::<f64>()
        / tail.len() as f64;
    json!({
        "workload": "w3", "steps": steps, "seconds": seconds,
        "steps_per_s": steps as f64 / seconds, "final_loss_avg_last100": final_loss,
    })
}

/// w4 / w4h: log-likelihood of 1,024 ring8 samples by the probability-flow ODE with the exact
/// score under VP, from t = 1e-5 to 1, adaptive Dormand-Prince 5(4) at rtol = atol = 1e-5, with
/// the exact divergence (w4) or one fixed Rademacher probe (w4h). The error is against the
/// closed-form log p at t = 1e-5 (its mean absolute value and its root mean square).
pub fn w4(device: &Device, hutchinson: bool) -> Value {
    let vp = VpSde::default();
    let ring = GaussianMixture::ring8();
    let exact = ring.perturbed(&vp);
    let divergence = if hutchinson {
        Divergence::Hutchinson {
            projection: Projection::Rademacher,
            probes: 1,
        }
    } else {
        Divergence::Exact
    };
    let likelihood = ProbabilityFlowLikelihood::new(vp, divergence, 1e-5)
        .expect("valid eps")
        .with_tolerances(1e-5, 1e-5)
        .expect("valid tolerances");
    let mut host = HostNoise::new(4);
    let x = ring.sample(1024, device, DType::F32, &mut host);
    let run = |x: Tensor<2>| {
        likelihood
            .log_prob(&exact, x, &mut DeviceNoise)
            .expect("solver converges")
    };
    run(x.clone().slice(0..64));
    let (out, seconds) = timed(device, || run(x.clone()));
    let got = sgm::core::tensor::to_f64(out.log_prob);
    let want = sgm::core::tensor::to_f64(
        exact.log_prob(x.clone(), sgm::core::tensor::time_like(1e-5, &x)),
    );
    let n = got.len() as f64;
    json!({
        "workload": if hutchinson { "w4h" } else { "w4" }, "samples": got.len(), "seconds": seconds,
        "nfe": out.nfe, "mean_logp": got.iter().sum::<f64>() / n,
        "exact_mean_logp": want.iter().sum::<f64>() / n,
        "mean_abs_err": got.iter().zip(&want).map(|(a, b)| (a - b).abs()).sum::<f64>() / n,
        "rms_err": (got.iter().zip(&want).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / n).sqrt(),
    })
}

/// w5: sliced score matching on d = 64 Gaussian data x = z A (A a fixed random 64 x 64 matrix
/// / 8), MLP 64 -> 512 -> 512 -> 64, batch 256, one Gaussian projection per sample, exact JVP,
/// plain SGD lr 1e-3, 200 steps.
pub fn w5(device: &Device, scale: Scale) -> Value {
    let ad = device.clone().autodiff();
    let d = 64;
    let mut host = HostNoise::new(5);
    let a = host.normal_like(&Tensor::<2>::zeros([d, d], &ad)) / 8.0;
    let a = from_f64(&sgm::core::tensor::to_f64(a), [d, d], &ad, DType::F32);
    let ssm = SlicedScoreMatching::new(
        Projection::Gaussian,
        1,
        NoiseConditioning::fixed(0.0).expect("finite time"),
    )
    .expect("one projection");
    let config = ScoreMlpConfig::new(d)
        .with_hidden(512)
        .with_depth(2)
        .with_fourier_features(0);
    let run = |steps: usize| {
        let mut net = config.init(&ad).expect("valid MLP");
        let mut optim = SgdConfig::new().init();
        let mut noise = DeviceNoise;
        for _ in 0..steps {
            let x = noise
                .normal_like(&Tensor::<2>::zeros([256, d], &ad))
                .matmul(a.clone());
            let loss = ssm.loss(&net, x, &mut noise).expect("shapes match");
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optim.step(1e-3, net, grads);
        }
        net
    };
    run(5);
    let steps = scale.steps(200, 2);
    let (_, seconds) = timed(device, || run(steps));
    // Per sample: forward and tangent (2 x the forward matmuls), backward (2 x those).
    let flops = 3.0 * 2.0 * mlp_flops(&[d, 512, 512, d]) * 256.0 * steps as f64;
    json!({
        "workload": "w5", "steps": steps, "seconds": seconds,
        "steps_per_s": steps as f64 / seconds, "gflops": flops / seconds / 1e9,
    })
}

/// The budgets of w6: score evaluations per sample path.
pub const W6_BUDGETS: [usize; 6] = [10, 20, 35, 50, 100, 200];

/// One sampler of w6: its name and grid, its NFE on a grid of `points` points, and a run.
struct W6Sampler<'a> {
    name: String,
    nfe_of: Box<dyn Fn(usize) -> usize + 'a>,
    run: Box<dyn Fn(usize, Tensor<2>) -> SampleOutput + 'a>,
}

/// rms_err = sqrt(mean_i |x_i - x_ref_i|^2) and mode_err = max_k |share_k - w_k|.
fn w6_errors(mix: &GaussianMixture, x: &Tensor<2>, reference: &[f64]) -> (f64, f64) {
    let got = to_f64(x.clone());
    let n = reference.len() as f64 / 2.0;
    let rms = (got
        .iter()
        .zip(reference)
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    let mode = mix
        .component_shares(x.clone())
        .iter()
        .zip(mix.weights())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    (rms, mode)
}

/// The probability-flow ODE of the Karras SDE from 80 to 0.002 by adaptive Dormand-Prince at
/// rtol = atol = `tol`, then one exact denoising D(x, 0.002) = x + 0.002^2 s(x, 0.002).
fn w6_reference<M: ScoreModel>(
    karras: &KarrasSde,
    model: &M,
    x: Tensor<2>,
    tol: f64,
) -> (Tensor<2>, usize) {
    let controller = PiController::new(tol, tol)
        .and_then(|c| c.with_max_steps(1_000_000))
        .expect("valid tolerances");
    let flow = ProbabilityFlowOde::new(karras, model);
    let solution = solve_ode(
        &flow,
        &Tableau::dormand_prince(),
        x,
        80.0,
        0.002,
        controller,
        &mut NoObserver,
    )
    .expect("the reference solve converges");
    let x = solution.x;
    let score = model.score(x.clone(), time_like(0.002, &x));
    (x + score * (0.002 * 0.002), solution.nfe + 1)
}

/// w6: accuracy per function evaluation on the Karras et al. (2022) problem: ring8_weighted,
/// x_sigma = x0 + sigma n from sigma = 80 to 0.002, the exact denoiser, 16,384 prior draws
/// 80 n in f64 (`scale` shrinks the count), against the reference solve. One JSON object per
/// (sampler, budget), after one object with the reference's NFE and its check against
/// rtol = 1e-12 on 1,024 of the draws.
pub fn w6(device: &Device, scale: Scale) -> Vec<Value> {
    let samples = ((16_384.0 * scale.0).round() as usize).clamp(256, 16_384);
    let mut host = HostNoise::new(6);
    let x_prior = host.normal_like(&Tensor::<2>::zeros([samples, 2], (device, DType::F64))) * 80.0;
    w6_on(x_prior)
}

/// w6 on given prior draws `x_prior` (`[n, 2]`, f64, at sigma = 80): the draws of another
/// implementation (`benches/reference/w6_kdiffusion.py --write-prior`), so that both are
/// measured on the same draws.
pub fn w6_on(x_prior: Tensor<2>) -> Vec<Value> {
    let device = &x_prior.device();
    let samples = x_prior.dims()[0];
    let karras = VeSde::karras(80.0).expect("valid sigma_max");
    let mix = GaussianMixture::ring8_weighted();
    let perturbed = mix.perturbed(karras);
    let model = &perturbed;
    let ((reference, reference_nfe), reference_seconds) = timed(device, || {
        w6_reference(&karras, model, x_prior.clone(), 1e-10)
    });
    let reference = to_f64(reference);
    let check_n = samples.min(1024);
    let (tight, _) = w6_reference(&karras, model, x_prior.clone().slice(0..check_n), 1e-12);
    let check = to_f64(tight)
        .iter()
        .zip(&reference)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let mut lines = vec![json!({
        "workload": "w6", "impl": "sgm", "samples": samples, "reference_nfe": reference_nfe,
        "reference_seconds": reference_seconds, "reference_check_max_abs_diff": check,
    })];
    let karras_grid_of =
        |n: usize| TimeGrid::new(80.0, 0.002, n, Spacing::Karras { rho: 7.0 }).expect("valid grid");
    let log_snr_grid_of = |n: usize| log_snr_grid(&karras, 80.0, 0.002, n).expect("valid grid");
    let grids: [(&str, &dyn Fn(usize) -> TimeGrid); 2] =
        [("karras", &karras_grid_of), ("log_snr", &log_snr_grid_of)];
    let mut samplers: Vec<W6Sampler> = Vec::new();
    for (grid_name, grid) in grids {
        for (name, method) in [("euler", EdmMethod::Euler), ("heun", EdmMethod::Heun)] {
            samplers.push(W6Sampler {
                name: format!("edm_{name}/{grid_name}"),
                nfe_of: Box::new(move |n| {
                    EdmSampler::new(karras, grid(n), method)
                        .expect("valid")
                        .nfe()
                }),
                run: Box::new(move |n, x| {
                    EdmSampler::new(karras, grid(n), method)
                        .expect("valid")
                        .sample(model, x, &mut HostNoise::new(0), &mut NoObserver)
                        .expect("finite")
                }),
            });
        }
        for order in 1..=3 {
            samplers.push(W6Sampler {
                name: format!("dpm_solver_{order}/{grid_name}"),
                nfe_of: Box::new(move |n| {
                    DpmSolver::new(karras, grid(n), order).expect("valid").nfe()
                }),
                run: Box::new(move |n, x| {
                    DpmSolver::new(karras, grid(n), order)
                        .expect("valid")
                        .sample(model, x, &mut HostNoise::new(0), &mut NoObserver)
                        .expect("finite")
                }),
            });
        }
        for order in 2..=3 {
            samplers.push(W6Sampler {
                name: format!("dpmpp_{order}m/{grid_name}"),
                nfe_of: Box::new(|n| n),
                run: Box::new(move |n, x| {
                    DpmSolverPp::new(karras, grid(n), order)
                        .expect("valid")
                        .sample(model, x, &mut HostNoise::new(0), &mut NoObserver)
                        .expect("finite")
                }),
            });
        }
        for order in 3..=5 {
            samplers.push(W6Sampler {
                name: format!("exponential_multistep_{order}/{grid_name}"),
                nfe_of: Box::new(|n| n),
                run: Box::new(move |n, x| {
                    ExponentialMultistep::new(karras, grid(n), order)
                        .expect("valid")
                        .sample(model, x, &mut HostNoise::new(0), &mut NoObserver)
                        .expect("finite")
                }),
            });
        }
    }
    // The general ODE layer with steps uniform in t, plus the final denoising.
    for (name, tableau) in [
        ("euler", Tableau::euler()),
        ("heun", Tableau::heun()),
        ("rk4", Tableau::rk4()),
    ] {
        let stages = tableau.stages();
        samplers.push(W6Sampler {
            name: format!("ode_{name}/uniform_t"),
            nfe_of: Box::new(move |n| stages * (n - 1) + 1),
            run: Box::new(move |n, x| {
                let flow = ProbabilityFlowOde::new(karras, model);
                let steps = ConstantSteps::new(n - 1).expect("steps >= 1");
                let out = solve_ode(&flow, &tableau, x, 80.0, 0.002, steps, &mut NoObserver)
                    .expect("finite");
                let score = model.score(out.x.clone(), time_like(0.002, &out.x));
                SampleOutput {
                    x: out.x + score * (0.002 * 0.002),
                    nfe: out.nfe + 1,
                }
            }),
        });
    }
    for sampler in &samplers {
        for budget in W6_BUDGETS {
            let Some(points) = (2..=budget + 1)
                .rev()
                .find(|&n| (sampler.nfe_of)(n) <= budget)
            else {
                continue;
            };
            let (out, seconds) = timed(device, || (sampler.run)(points, x_prior.clone()));
            let (rms, mode) = w6_errors(&mix, &out.x, &reference);
            lines.push(json!({
                "workload": "w6", "impl": "sgm", "sampler": sampler.name, "budget": budget,
                "nfe": out.nfe, "steps": points - 1, "rms_err": rms, "mode_err": mode,
                "seconds": seconds,
            }));
        }
    }
    // Adaptive Dormand-Prince: the tightest tolerance of a ladder whose NFE (+ 1 denoising)
    // fits each budget.
    let mut adaptive: Vec<(f64, SampleOutput, f64)> = Vec::new();
    for k in 2..=16 {
        let tol = 10f64.powf(-(k as f64) / 2.0);
        let ((x, nfe), seconds) = timed(device, || {
            w6_reference(&karras, model, x_prior.clone(), tol)
        });
        adaptive.push((tol, SampleOutput { x, nfe }, seconds));
    }
    for budget in W6_BUDGETS {
        if let Some((tol, out, seconds)) =
            adaptive.iter().rev().find(|(_, out, _)| out.nfe <= budget)
        {
            let (rms, mode) = w6_errors(&mix, &out.x, &reference);
            lines.push(json!({
                "workload": "w6", "impl": "sgm", "sampler": format!("dopri5/rtol={tol:.0e}"), "budget": budget,
                "nfe": out.nfe, "steps": null, "rms_err": rms, "mode_err": mode, "seconds": seconds,
            }));
        }
    }
    lines
}

/// w7: continuous-time DSM training of the reference U-Net ([`UNetConfig`]'s defaults, 616,065
/// parameters) on the 8x8 digits' train split in [-1, 1], VP SDE, lambda = std^2,
/// t ~ U(1e-5, 1), batch 128 (rows drawn uniformly), Adam lr 2e-4, 100 steps.
pub fn w7(device: &Device, scale: Scale) -> Value {
    let ad = device.clone().autodiff();
    let vp = VpSde::default();
    let dsm = ContinuousDsm::new(&vp, Weighting::StdSquared, 1e-5).expect("valid range");
    let digits = Digits::load().expect("the embedded digits decode");
    let data = digits.to_tensor(Split::Train, PixelScale::MinusOneOne, &ad);
    let rows = data.dims()[0];
    let run = |steps: usize| {
        let mut net = UNetConfig::new(1, 8, 8).init(&ad).expect("valid U-Net");
        let params = net.num_params();
        let mut optim = AdamConfig::new().init();
        let mut noise = DeviceNoise;
        let mut losses = Vec::with_capacity(steps);
        for _ in 0..steps {
            let index = noise.uniform_indices(128, rows, &data);
            let x0 = data.clone().select(0, index);
            let model = Parameterized::with_sde(&net, &vp, Parameterization::StdNormalized);
            let loss = dsm.loss(&model, x0, &mut noise).expect("shapes match");
            losses.push(loss.clone().detach());
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optim.step(2e-4, net, grads);
        }
        (losses, params)
    };
    run(5);
    let steps = scale.steps(100, 2);
    let ((losses, params), seconds) = timed(device, || run(steps));
    // As in w3: ContinuousDsm carries Hyvarinen's 1/2, the workload's loss does not.
    let tail = &losses[losses.len().saturating_sub(50)..];
    let final_loss = 2.0
        * sgm::core::tensor::to_f64(Tensor::cat(tail.to_vec(), 0))
            .iter()
            .sum::<f64>()
        / tail.len() as f64;
    json!({
        "workload": "w7", "steps": steps, "seconds": seconds,
        "steps_per_s": steps as f64 / seconds, "params": params,
        "final_loss_avg_last50": final_loss,
    })
}

/// Runs the named workload on `device` (named `device_name` in the output).
///
/// # Errors
/// An unknown workload name.
pub fn run(name: &str, device: &Device, device_name: &str, scale: Scale) -> Result<Value, String> {
    let mut value = match name {
        "w1" => w1(device, scale),
        "w2" => w2(device, scale),
        "w3" => w3(device, scale),
        "w4" => w4(device, false),
        "w4h" => w4(device, true),
        "w5" => w5(device, scale),
        "w6" => Value::Array(w6(device, scale)),
        "w7" => w7(device, scale),
        other => return Err(format!("unknown workload '{other}'")),
    };
    match &mut value {
        Value::Array(lines) => lines
            .iter_mut()
            .for_each(|line| line["device"] = json!(device_name)),
        line => line["device"] = json!(device_name),
    }
    Ok(value)
}

/// The workload names, in order.
pub const WORKLOADS: &[&str] = &["w1", "w2", "w3", "w4", "w4h", "w5", "w6", "w7"];

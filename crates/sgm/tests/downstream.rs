//! `sgm` used the way a downstream crate uses it: only the facade and its prelude, configured
//! algorithms returned from functions and stored in structs, models passed at the call, work
//! spread over threads, a Runge-Kutta method and an SDE of the user's own, and a count of the
//! device-to-host reads a run makes.
//!
//! The data are Gaussian, N(mu, s0^2 I) with mu = (1, -0.5) and s0 = 0.3, whose perturbed scores,
//! marginals and probability-flow trajectories are closed-form under every linear SDE (the
//! oracle is `sgm-data`'s `Gaussian`, itself tested against the formulas in `oracles.rs`).

use std::sync::Arc;

use sgm::core::host::host_reads;
use sgm::data::Perturbed;
use sgm::prelude::*;

const MU: [f64; 2] = [1.0, -0.5];
const S0: f64 = 0.3;

fn gaussian() -> Gaussian {
    Gaussian::isotropic(MU.to_vec(), S0).expect("valid Gaussian")
}

/// The PC sampler a user would configure once: Euler-Maruyama predictor, one Langevin
/// corrector step with the VP alpha, `steps` uniform steps from 1 to 1e-3, noise-free mean.
type VpPc = PcSampler<EulerMaruyama<VpSde>, LangevinCorrector<VpSde>>;

/// Item 1: a ready sampler returned from a function.
fn vp_pc_sampler(steps: usize) -> std::result::Result<VpPc, SamplerError> {
    let vp = VpSde::default();
    let corrector = LangevinCorrector::new(0.16, 1)?.with_alpha(vp);
    let grid = TimeGrid::uniform(1.0, 1e-3, steps + 1)?;
    PcSampler::new(EulerMaruyama::new(vp), corrector, grid, FinalStep::Mean)
}

/// Item 1: a sampler, its SDE and a model kept together (the model is owned here; a `&M` or an
/// `Arc<M>` works the same).
struct Generator<M> {
    sde: VpSde,
    model: M,
    sampler: VpPc,
}

impl<M: ScoreModel> Generator<M> {
    fn generate(&self, n: usize, seed: u64) -> std::result::Result<SampleOutput, SamplerError> {
        let mut noise = HostNoise::new(seed);
        let x_t = self
            .sde
            .prior_sample([n, 2], &Device::flex(), DType::F32, &mut noise);
        self.sampler
            .sample(&self.model, x_t, &mut noise, &mut NoObserver)
    }
}

fn generator(steps: usize) -> Generator<Perturbed<Gaussian, VpSde>> {
    let sde = VpSde::default();
    Generator {
        sde,
        model: Perturbed::new(gaussian(), sde),
        sampler: vp_pc_sampler(steps).expect("valid sampler"),
    }
}

/// Per-coordinate sample means and variances of `[n, 2]` samples.
fn moments(x: Tensor<2>) -> ([f64; 2], [f64; 2], usize) {
    let v = to_f64(x);
    let n = v.len() / 2;
    let mean = [0, 1].map(|k| v.iter().skip(k).step_by(2).sum::<f64>() / n as f64);
    let var = [0, 1].map(|k| {
        v.iter()
            .skip(k)
            .step_by(2)
            .map(|a| (a - mean[k]).powi(2))
            .sum::<f64>()
            / (n as f64 - 1.0)
    });
    (mean, var, n)
}

#[test]
fn a_returned_and_stored_pc_sampler_samples_the_data() {
    // Mutation checked: with `PcSampler::sample` returning its input (the prior draw), the
    // means are 0 instead of mu and the test fails.
    let steps = 500;
    let n = 4000;
    let stored = generator(steps);
    let out = stored.generate(n, 7).unwrap();
    assert_eq!((out.x.dims(), out.nfe), ([n, 2], 2 * steps));

    // The same sampler built inline and the stored one give the same draws bit for bit.
    let inline = vp_pc_sampler(steps).unwrap();
    let model = Perturbed::new(gaussian(), VpSde::default());
    let mut noise = HostNoise::new(7);
    let x_t = VpSde::default().prior_sample([n, 2], &Device::flex(), DType::F32, &mut noise);
    let again = inline
        .sample(&model, x_t, &mut noise, &mut NoObserver)
        .unwrap();
    assert_eq!(to_f64(out.x.clone()), to_f64(again.x));

    // The samples have the data's moments. The mean is within 4 standard errors, sqrt(s0^2 / n)
    // = 0.0047; the variance within 4 standard errors of a sample variance, s0^2 sqrt(2 / n),
    // of the interval [s0^2, s0^2 / (1 - snr^2)]: the Langevin corrector with step
    // e = 2 snr^2 v on a Gaussian of variance v has stationary variance v / (1 - snr^2), so it
    // can only inflate (pc.rs measures the PC sampler's accuracy itself).
    let (mean, var, n) = moments(out.x);
    let (se_mean, se_var) = (S0 / (n as f64).sqrt(), S0 * S0 * (2.0 / n as f64).sqrt());
    for k in 0..2 {
        assert!(
            (mean[k] - MU[k]).abs() < 4.0 * se_mean,
            "mean {mean:?} vs {MU:?}"
        );
        let (low, high) = (S0 * S0, S0 * S0 / (1.0 - 0.16f64.powi(2)));
        assert!(
            var[k] > low - 4.0 * se_var && var[k] < high + 4.0 * se_var,
            "variance {var:?} outside [{low}, {high}] +- 4 SE"
        );
    }
}

/// Compile-time check that a type can be shared across threads.
fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn every_public_algorithm_type_is_send_and_sync() {
    type Oracle = Perturbed<Gaussian, VpSde>;
    // Samplers, their parts and the ODE layer.
    assert_send_sync::<VpPc>();
    assert_send_sync::<PcSampler<ReverseDiffusion<VeSde>, AnnealedLangevinCorrector<VeSde>>>();
    assert_send_sync::<PcSampler<AncestralSampling<VpSde>, NoneCorrector>>();
    assert_send_sync::<PcSampler<NonePredictor, LangevinCorrector>>();
    assert_send_sync::<EulerMaruyama<Arc<dyn Sde + Send + Sync>>>();
    assert_send_sync::<FinalStep>();
    assert_send_sync::<LangevinDynamics>();
    assert_send_sync::<AnnealedLangevin>();
    assert_send_sync::<DdpmSampler>();
    assert_send_sync::<DdimSampler>();
    assert_send_sync::<Tableau>();
    assert_send_sync::<ConstantSteps>();
    assert_send_sync::<PiController>();
    assert_send_sync::<SampleOutput>();
    assert_send_sync::<OdeSolution>();
    // SDEs and their wrappers.
    assert_send_sync::<VeSde>();
    assert_send_sync::<VpSde>();
    assert_send_sync::<SubVpSde>();
    assert_send_sync::<OrnsteinUhlenbeck>();
    assert_send_sync::<BrownianMotion>();
    assert_send_sync::<DdpmMarginals>();
    assert_send_sync::<SmldMarginals>();
    assert_send_sync::<ReverseSde<VpSde>>();
    assert_send_sync::<ProbabilityFlowOde<VpSde, Oracle>>();
    assert_send_sync::<sgm::sde::SnrImportance<VpSde>>();
    // Losses.
    assert_send_sync::<ExplicitScoreMatching<Oracle>>();
    assert_send_sync::<ImplicitScoreMatching>();
    assert_send_sync::<SlicedScoreMatching>();
    assert_send_sync::<DenoisingScoreMatching>();
    assert_send_sync::<NcsnLoss>();
    assert_send_sync::<ContinuousDsm<VpSde>>();
    assert_send_sync::<DdpmEpsilonLoss>();
    assert_send_sync::<NoiseConditioning>();
    // Likelihood.
    assert_send_sync::<ProbabilityFlowLikelihood<VpSde>>();
    assert_send_sync::<ContinuousElbo<VpSde>>();
    assert_send_sync::<DdpmElbo>();
    assert_send_sync::<Dequantization>();
    assert_send_sync::<NoisyDequantization>();
    // Models and data.
    assert_send_sync::<Oracle>();
    assert_send_sync::<GaussianMixture>();
    assert_send_sync::<Parameterized<ScoreMlp, VpSde>>();
    assert_send_sync::<Box<dyn ScoreModel + Send + Sync>>();
}

#[test]
fn two_threads_sample_with_one_sampler_at_once() {
    // Mutation checked: giving both threads the same seed makes the two outputs equal and the
    // `assert_ne` fails; a sampler whose output depended on the thread would fail the equality
    // with the sequential runs.
    let shared = Arc::new(generator(50));
    let sequential = [1, 2].map(|seed| to_f64(shared.generate(256, seed).unwrap().x));
    // Scoped threads borrow it; spawned threads own an Arc.
    let borrowed: &Generator<_> = &shared;
    let scoped = std::thread::scope(|s| {
        let handles = [1, 2].map(|seed| s.spawn(move || borrowed.generate(256, seed).unwrap()));
        handles.map(|h| to_f64(h.join().unwrap().x))
    });
    let spawned = [1, 2].map(|seed| {
        let generator = Arc::clone(&shared);
        std::thread::spawn(move || generator.generate(256, seed).unwrap())
    });
    let spawned = spawned.map(|h| to_f64(h.join().unwrap().x));
    assert_eq!(scoped, sequential);
    assert_eq!(spawned, sequential);
    assert_ne!(sequential[0], sequential[1]);
}

#[test]
fn boxed_and_shared_models_sample_like_the_model_itself() {
    // Mutation checked: forwarding `score` of `Box<T>` to a zero score changes the samples.
    let sampler = vp_pc_sampler(40).unwrap();
    let run = |model: &dyn Fn(&mut HostNoise, Tensor<2>) -> SampleOutput| {
        let mut noise = HostNoise::new(3);
        let x_t = VpSde::default().prior_sample([128, 2], &Device::flex(), DType::F32, &mut noise);
        to_f64(model(&mut noise, x_t).x)
    };
    let plain = Perturbed::new(gaussian(), VpSde::default());
    let boxed: Box<dyn ScoreModel + Send + Sync> = Box::new(plain.clone());
    let shared: Arc<Perturbed<Gaussian, VpSde>> = Arc::new(plain.clone());
    let want = run(&|noise, x| sampler.sample(&plain, x, noise, &mut NoObserver).unwrap());
    let from_box = run(&|noise, x| sampler.sample(&boxed, x, noise, &mut NoObserver).unwrap());
    let from_arc = run(&|noise, x| sampler.sample(&shared, x, noise, &mut NoObserver).unwrap());
    let from_dyn = run(&|noise, x| {
        sampler
            .sample(boxed.as_ref(), x, noise, &mut NoObserver)
            .unwrap()
    });
    assert_eq!(from_box, want);
    assert_eq!(from_arc, want);
    assert_eq!(from_dyn, want);
}

/// Bogacki-Shampine 3(2) (Bogacki & Shampine, Appl. Math. Lett. 1989), defined through the
/// public API as a user would.
fn bogacki_shampine() -> Tableau {
    Tableau::new(
        "Bogacki-Shampine 3(2)",
        3,
        vec![
            vec![],
            vec![0.5],
            vec![0.0, 0.75],
            vec![2.0 / 9.0, 1.0 / 3.0, 4.0 / 9.0],
        ],
        vec![2.0 / 9.0, 1.0 / 3.0, 4.0 / 9.0, 0.0],
        Some(vec![7.0 / 24.0, 0.25, 1.0 / 3.0, 0.125]),
        vec![0.0, 0.5, 0.75, 1.0],
    )
    .expect("a consistent tableau")
}

/// sd_t = sqrt(s0^2 m_t^2 + 1 - m_t^2), the per-coordinate std of the data under the default VP
/// SDE at time t.
fn vp_data_sd(t: f64) -> f64 {
    let vp = VpSde::default();
    (S0 * S0 * vp.mean_coeff_at(t).powi(2) + vp.std_at(t).powi(2)).sqrt()
}

/// The closed-form probability flow of N(mu, s0^2 I) under VP: the standardised coordinate is
/// constant, x_t = m_t mu + (sd_t / sd_s)(x_s - m_s mu), sd_t^2 = s0^2 m_t^2 + 1 - m_t^2.
fn exact_flow(x: &[f64], s: f64, t: f64) -> Vec<f64> {
    let vp = VpSde::default();
    let sd = vp_data_sd;
    let (ms, mt) = (vp.mean_coeff_at(s), vp.mean_coeff_at(t));
    x.chunks(2)
        .flat_map(|p| (0..2).map(move |k| mt * MU[k] + sd(t) / sd(s) * (p[k] - ms * MU[k])))
        .collect()
}

#[test]
fn a_user_tableau_has_order_three_on_the_probability_flow() {
    // Mutation checked: with b = (1/4, 1/4, 1/2, 0) (still consistent, but of order 1 and no
    // longer first-same-as-last) the test fails.
    let device = Device::flex();
    let vp = VpSde::default();
    let model = Perturbed::new(gaussian(), vp);
    let flow = ProbabilityFlowOde::new(vp, &model);
    let start = [0.4, -1.2, 1.5, 0.3, -0.7, 2.0];
    let x0 = f64_tensor(&start, [3, 2], &device);
    let (t0, t1) = (1.0, 0.2);
    let want = exact_flow(&start, t0, t1);
    let tableau = bogacki_shampine();
    let error = |steps: usize| {
        let control = ConstantSteps::new(steps).unwrap();
        let sol = solve_ode(
            &flow,
            &tableau,
            x0.clone(),
            t0,
            t1,
            control,
            &mut NoObserver,
        )
        .unwrap();
        assert_eq!(
            sol.nfe,
            3 * steps + 1,
            "first same as last: 3 new stages a step"
        );
        let got = to_f64(sol.x);
        got.iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
    };
    let errors: Vec<f64> = [16, 32, 64].map(error).to_vec();
    let orders: Vec<f64> = errors.windows(2).map(|e| (e[0] / e[1]).log2()).collect();
    eprintln!("Bogacki-Shampine errors {errors:?}, observed orders {orders:?}");
    // Halving h divides the error of an order-3 method by 2^3 up to O(h) corrections; f64 keeps
    // rounding (1e-16) far below the smallest error.
    for order in orders {
        assert!((order - 3.0).abs() < 0.3, "observed order {order}");
    }
    // Its embedded pair drives adaptive steps to the tolerance.
    let control = PiController::new(1e-8, 1e-8).unwrap();
    let sol = solve_ode(&flow, &tableau, x0, t0, t1, control, &mut NoObserver).unwrap();
    let got = to_f64(sol.x);
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1e-6, "adaptive Bogacki-Shampine error {worst}");
}

#[test]
fn sampler_runs_read_the_device_once_and_adaptive_solves_once_per_step() {
    // Mutation checked: putting `all_finite(&x)` back into the PC step loop makes the 100-step
    // run read 101 times.
    let device = Device::flex();
    let vp = VpSde::default();
    let model = Perturbed::new(gaussian(), vp);
    let mut noise = HostNoise::new(11);

    // A 100-step PC run: the final non-finite check only.
    let sampler = vp_pc_sampler(100).unwrap();
    let x_t = vp.prior_sample([64, 2], &device, DType::F32, &mut noise);
    let before = host_reads();
    let out = sampler
        .sample(&model, x_t.clone(), &mut noise, &mut NoObserver)
        .unwrap();
    assert_eq!(host_reads() - before, 1, "100-step PC sampling");

    // A fixed-step ODE solve: the same single check.
    let flow = ProbabilityFlowOde::new(vp, &model);
    let control = ConstantSteps::new(100).unwrap();
    let before = host_reads();
    solve_ode(
        &flow,
        &Tableau::rk4(),
        x_t.clone(),
        1.0,
        1e-3,
        control,
        &mut NoObserver,
    )
    .unwrap();
    assert_eq!(host_reads() - before, 1, "fixed-step ODE");

    // An adaptive solve of about a hundred steps (in f64, at a tolerance f32 could not meet):
    // one scalar per attempted step with a given first step, two more for Hairer's
    // starting-step heuristic.
    let x_t = f64_tensor(&to_f64(x_t), [64, 2], &device);
    let tight = PiController::new(1e-11, 1e-11).unwrap();
    for (control, extra) in [(tight.with_initial_step(1e-3).unwrap(), 0), (tight, 2)] {
        let before = host_reads();
        let sol = solve_ode(
            &flow,
            &Tableau::dormand_prince(),
            x_t.clone(),
            1.0,
            1e-3,
            control,
            &mut NoObserver,
        )
        .unwrap();
        let reads = host_reads() - before;
        let attempts = sol.accepted + sol.rejected;
        eprintln!("adaptive: {attempts} attempted steps, {reads} reads");
        assert!(sol.accepted >= 50, "{} accepted steps", sol.accepted);
        assert_eq!(reads, attempts + extra);
    }

    // Reading the result is the user's choice, and is counted too.
    let before = host_reads();
    let _ = to_f64(out.x);
    assert_eq!(host_reads() - before, 1);
}

#[test]
fn the_trainer_reads_the_loss_every_k_steps() {
    // Mutation checked: reading every step (loss_every ignored) makes 40 reads instead of 4.
    let device = Device::flex().autodiff();
    let net = ScoreMlpConfig::new(2)
        .with_hidden(16)
        .with_depth(1)
        .init(&device)
        .unwrap();
    let loss = DenoisingScoreMatching::new(0.5, 0.0).unwrap();
    let data = gaussian();
    let mut noise = HostNoise::new(5);
    let batches: Vec<Tensor<2>> = (0..40)
        .map(|_| data.sample(64, &device, DType::F32, &mut noise))
        .collect();
    let config = TrainerConfig::new(40).with_loss_every(10);
    let before = host_reads();
    let (_, report) = Trainer::new(config)
        .unwrap()
        .fit_loss(net, &loss, |step| batches[step].clone(), &mut noise)
        .unwrap();
    assert_eq!(host_reads() - before, 4);
    assert_eq!(report.losses.len(), 40);
    assert!(report.losses.iter().all(|l| l.is_finite()));
}

/// Every device-to-host read of the library goes through `sgm_core::host::read`: no library
/// source outside it calls burn's read functions (test modules and doc comments aside).
#[test]
fn no_library_source_reads_the_device_but_through_the_counted_function() {
    // Mutation checked: adding `let _ = x.clone().into_data();` to a sampler's source fails it.
    let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut offenders = Vec::new();
    let mut stack = vec![crates];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !path.ends_with("tests") && !path.ends_with("target") {
                    stack.push(path);
                }
                continue;
            }
            let in_src = path.components().any(|c| c.as_os_str() == "src");
            if path.extension().is_none_or(|e| e != "rs") || !in_src || path.ends_with("host.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let library = text.split("#[cfg(test)]").next().unwrap();
            for (i, line) in library.lines().enumerate() {
                let code = line.trim_start();
                if code.starts_with("//") {
                    continue;
                }
                for read in ["into_data(", "into_scalar", "to_data(", "into_data_async"] {
                    if code.contains(read) {
                        offenders.push(format!("{}:{}: {}", path.display(), i + 1, code));
                    }
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "uncounted reads:\n{}",
        offenders.join("\n")
    );
}

/// The linear VP schedule run twice as slowly: beta_r(t) = beta(t / 2) / 2 on [0, 2], so that
/// B_r(t) = B(t / 2) and the rescaled SDE at time 2 t is the base SDE at time t.
#[derive(Debug, Clone, Copy, PartialEq)]
struct HalfSpeed(LinearBeta);

impl BetaSchedule for HalfSpeed {
    fn beta(&self, t: f64) -> f64 {
        0.5 * self.0.beta(t / 2.0)
    }
    fn integral(&self, t: f64) -> f64 {
        self.0.integral(t / 2.0)
    }
    fn beta_tensor(&self, t: Tensor<1>) -> Tensor<1> {
        self.0.beta_tensor(t * 0.5) * 0.5
    }
    fn integral_tensor(&self, t: Tensor<1>) -> Tensor<1> {
        self.0.integral_tensor(t * 0.5)
    }
    fn t_end(&self) -> f64 {
        2.0
    }
}

/// log p_eps(x) by the probability-flow ODE of `sde` with the exact score of the Gaussian data,
/// exact divergence, tolerances 1e-8.
fn exact_pf_log_prob<S: GaussianMarginals + Sde + Clone>(
    sde: S,
    eps: f64,
    x: Tensor<2>,
) -> Vec<f64> {
    let model = Perturbed::new(gaussian(), sde.clone());
    let likelihood = ProbabilityFlowLikelihood::new(sde, Divergence::Exact, eps)
        .unwrap()
        .with_tolerances(1e-8, 1e-8)
        .unwrap();
    to_f64(
        likelihood
            .log_prob(&model, x, &mut HostNoise::new(1))
            .unwrap()
            .log_prob,
    )
}

#[test]
fn a_time_rescaled_vp_sde_has_the_base_marginals_and_log_density() {
    // Mutation checked: `beta_tensor` without its factor 1/2 changes g(t) of the rescaled SDE,
    // and its probability-flow log-density moves off the base one by ~0.3 nats.
    let device = Device::flex();
    let base = VpSde::default();
    let slow = VpSde::with_schedule(HalfSpeed(LinearBeta::new(0.1, 20.0).unwrap()));
    assert_eq!(slow.t_end(), 2.0);
    let ts = [1e-3, 0.1, 0.37, 0.8, 1.0];
    let times = f64_tensor(&ts, [ts.len()], &device);
    let rescaled = times.clone() * 2.0;
    for (a, b) in [
        (
            to_f64(base.mean_coeff(times.clone())),
            to_f64(slow.mean_coeff(rescaled.clone())),
        ),
        (
            to_f64(base.std(times.clone())),
            to_f64(slow.std(rescaled.clone())),
        ),
        // g_r(2t)^2 = g(t)^2 / 2: the rescaled clock runs at half the rate.
        (
            to_f64(base.diffusion(times).square() * 0.5),
            to_f64(slow.diffusion(rescaled).square()),
        ),
    ] {
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-12, "{a:?} vs {b:?}");
        }
    }
    // The same probability-flow log-density: eps -> T on the base clock is 2 eps -> 2 T on the
    // rescaled one, along the same path. Both against the closed form of the model's density
    // (not quite the data's: the VP prior N(0, I) differs from p_1 by m(1) = 0.0066 in the mean).
    let eps = 1e-3;
    let x = f64_tensor(&[1.2, -0.3, 0.7, -0.9, 1.0, -0.5], [3, 2], &device);
    let base_lp = exact_pf_log_prob(base, eps, x.clone());
    let slow_lp = exact_pf_log_prob(slow, 2.0 * eps, x.clone());
    // The model's density: the prior at the end of the exact flow, times the flow's Jacobian
    // (sd_T / sd_eps)^d.
    let sd = vp_data_sd;
    let rows = to_f64(x.clone());
    let ends = exact_flow(&rows, eps, 1.0);
    for (i, end) in ends.chunks(2).enumerate() {
        let prior = -0.5 * (end[0] * end[0] + end[1] * end[1]) - (2.0 * std::f64::consts::PI).ln();
        let want = prior + 2.0 * (sd(1.0) / sd(eps)).ln();
        assert!(
            (base_lp[i] - want).abs() < 1e-4,
            "base {} vs {want}",
            base_lp[i]
        );
        assert!(
            (slow_lp[i] - base_lp[i]).abs() < 1e-5,
            "rescaled {} vs {}",
            slow_lp[i],
            base_lp[i]
        );
    }
}

#[test]
fn annealed_langevin_runs_any_decreasing_levels() {
    // Levels 3 > 1.5 > 0.5 (not geometric) with model times t_i = sigma_i, for N(0, s0^2 I)
    // data: the model at time t is the score of N(0, (s0^2 + t^2) I). At the last level the
    // chain x' = x + (eps / 2) s + sqrt(eps) z has the stationary variance v / (1 - eps / (4 v)),
    // v = s0^2 + 0.25, reached after 400 steps (each contracts by 1 - eps / (2 v) = 0.93).
    // Mutation checked: evaluating every level at the first level's time (t = 3) gives the
    // variance of N(0, s0^2 + 9) and fails.
    let levels = SigmaLevels::new(vec![3.0, 1.5, 0.5], vec![3.0, 1.5, 0.5]).unwrap();
    let eps = 0.05;
    let sampler = AnnealedLangevin::new(levels, 400, eps).unwrap();
    let model = score_fn(|x: Tensor<2>, t: Tensor<1>| {
        let v = t.square() + S0 * S0;
        -x / v.unsqueeze_dim(1)
    });
    let n = 8000;
    let mut noise = HostNoise::new(21);
    let x0 = noise.sample(Noise::StandardNormal, [n, 2], &Device::flex(), DType::F32) * 3.0;
    let out = sampler
        .sample(&model, x0, &mut noise, &mut NoObserver)
        .unwrap();
    assert_eq!(out.nfe, 3 * 400);
    let v = S0 * S0 + 0.25;
    let want = v / (1.0 - eps / (4.0 * v));
    let (_, var, n) = moments(out.x);
    // Four standard errors of a Gaussian sample variance: want sqrt(2 / n).
    for k in 0..2 {
        assert!(
            (var[k] - want).abs() < 4.0 * want * (2.0 / n as f64).sqrt(),
            "variance {var:?} vs {want}"
        );
    }
}

/// Item 5: A user-defined SDE that implements only the required methods of `Sde` samples and
/// gives likelihoods through the defaults (finite-difference drift JVP), checked against closed
/// forms.
///
/// The SDE is an Ornstein-Uhlenbeck process written by hand, dx = -theta x dt + sigma dW with
/// theta = 2, sigma = 0.5 on [0, T = 3], prior N(0, v_inf I), v_inf = sigma^2 / (2 theta) =
/// 1/16. Data N(mu, s0^2 I) have the Gaussian marginals
///
/// ```text
/// p_t = N(m(t) mu, v(t) I),  m(t) = exp(-theta t),  v(t) = s0^2 m^2 + v_inf (1 - m^2),
/// ```
///
/// and the exact score -(x - m(t) mu) / v(t), written below without any library oracle.
mod user_sde {
    use sgm::core::tensor::{column, from_f64};
    use sgm::prelude::*;
    use sgm::samplers::StepInfo;

    const THETA: f64 = 2.0;
    const SIGMA: f64 = 0.5;
    const T_END: f64 = 3.0;
    const V_INF: f64 = SIGMA * SIGMA / (2.0 * THETA);
    const MU: [f64; 2] = [1.0, -2.0];
    const S0: f64 = 0.5;

    /// The user's SDE: only `t_end`, `drift`, `diffusion`, `prior_sample` and `prior_log_prob`.
    struct UserOu;

    impl Sde for UserOu {
        fn t_end(&self) -> f64 {
            T_END
        }

        fn drift(&self, x: Tensor<2>, _t: Tensor<1>) -> Tensor<2> {
            x * -THETA
        }

        fn diffusion(&self, t: Tensor<1>) -> Tensor<1> {
            t.ones_like() * SIGMA
        }

        fn prior_sample(
            &self,
            shape: [usize; 2],
            device: &Device,
            dtype: DType,
            noise: &mut dyn NoiseSource,
        ) -> Tensor<2> {
            noise.sample(Noise::StandardNormal, shape, device, dtype) * V_INF.sqrt()
        }

        fn prior_log_prob(&self, x: Tensor<2>) -> Tensor<1> {
            let d = x.dims()[1] as f64;
            x.square().sum_dim(1).squeeze_dim(1) * (-0.5 / V_INF)
                - 0.5 * d * (2.0 * std::f64::consts::PI * V_INF).ln()
        }
    }

    fn m_at(t: f64) -> f64 {
        (-THETA * t).exp()
    }

    fn v_at(t: f64) -> f64 {
        let m2 = m_at(t).powi(2);
        S0 * S0 * m2 + V_INF * (1.0 - m2)
    }

    /// The exact score of the perturbed data, with its exact JVP -v / v(t).
    struct ExactScore;

    impl ExactScore {
        fn variance(t: Tensor<1>) -> (Tensor<1>, Tensor<1>) {
            let m = (t * -THETA).exp();
            let m2 = m.clone().square();
            let var = m2.clone() * (S0 * S0) + (m2.neg() + 1.0) * V_INF;
            (m, var)
        }
    }

    impl ScoreModel for ExactScore {
        fn score(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
            let (m, var) = Self::variance(t);
            let mu = from_f64(&MU, [1, 2], &x.device(), x.dtype());
            -(x - mu * column(m)) / column(var)
        }

        fn score_jvp(&self, x: Tensor<2>, t: Tensor<1>, v: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
            let (_, var) = Self::variance(t.clone());
            (self.score(x, t), -v / column(var))
        }
    }

    /// Keeps the state after one chosen step.
    struct Snapshot {
        step: usize,
        taken: Option<(f64, Tensor<2>)>,
    }

    impl Observer for Snapshot {
        fn on_step(&mut self, info: &StepInfo<'_>) {
            if info.step == self.step {
                self.taken = Some((info.t, info.x.clone()));
            }
        }
    }

    /// Per-coordinate sample means and the pooled sample variance (both coordinates have the same
    /// variance) of `[n, 2]` samples.
    fn moments(x: Tensor<2>) -> ([f64; 2], f64, usize) {
        let v = to_f64(x);
        let n = v.len() / 2;
        let mean = [0, 1].map(|k| v.iter().skip(k).step_by(2).sum::<f64>() / n as f64);
        let ss: f64 = v
            .chunks(2)
            .map(|p| (p[0] - mean[0]).powi(2) + (p[1] - mean[1]).powi(2))
            .sum();
        (mean, ss / (2.0 * (n as f64 - 1.0)), n)
    }

    /// Euler-Maruyama sampling (PC with `EulerMaruyama` and no corrector) with the user SDE,
    /// from its own prior, against the closed-form moments at t = 0.5 and t = 0 (the data).
    ///
    /// An Euler-Maruyama step of the reverse SDE from t to t - dt (x' = x - [f - g^2 s] dt +
    /// g sqrt(dt) z with f = -theta x, g = sigma) is, with the exact score,
    ///
    /// ```text
    /// x' = a x + b mu + sigma sqrt(dt) z,  a = 1 + theta dt - sigma^2 dt / v(t),
    ///                                      b = sigma^2 dt m(t) / v(t),
    /// ```
    ///
    /// a linear Gaussian chain whose mean and variance follow M' = a M + b mu,
    /// V' = a^2 V + sigma^2 dt exactly, from M = 0, V = v_inf (the prior). Its moments are the
    /// expected values of the test (4 standard errors: sqrt(V / n) for each mean, V sqrt(2 / (2n - 2))
    /// for the pooled variance of the exactly Gaussian output, n = 4000 samples). They are
    /// themselves within 0.5% (variance) and 0.01 (means) of the closed form of the SDE, the
    /// O(dt) bias of the chain at 1,500 steps: the sampler runs the right process, not only a
    /// consistent one. The prior mismatch (p_T has mean mu e^{-6}, not 0) is in the recursion, and
    /// the reverse dynamics shrink it by a further ~e^{-theta T}.
    ///
    /// Mutation checked: the noise scale g(t) dt instead of g(t) sqrt(dt) in `EulerMaruyama::step`
    /// (`predictor.rs`) makes this fail.
    #[test]
    fn user_sde_with_only_required_methods_samples_the_closed_form_marginals() {
        let device = Device::flex();
        let sde = UserOu;
        let score = ExactScore;
        let steps = 1500;
        let grid = TimeGrid::uniform(T_END, 0.0, steps + 1).unwrap();
        let sampler = PcSampler::new(
            EulerMaruyama::new(&sde),
            NoneCorrector,
            grid,
            FinalStep::Sample,
        )
        .unwrap();
        let times = sampler.grid().times().to_vec();
        // Step k goes from times[k] to times[k + 1]; t = 0.5 is times[1250].
        let mid = 1249;
        assert!((times[mid + 1] - 0.5).abs() < 1e-9);

        let mut noise = HostNoise::new(61);
        let n = 4000;
        let x_t = sde.prior_sample([n, 2], &device, DType::F64, &mut noise);
        let mut snapshot = Snapshot {
            step: mid,
            taken: None,
        };
        let out = sampler
            .sample(&score, x_t, &mut noise, &mut snapshot)
            .unwrap();
        assert_eq!(out.nfe, steps);

        // The chain's exact moments along the grid.
        let dt = T_END / steps as f64;
        let (mut mean, mut var) = ([0.0, 0.0], V_INF);
        let mut chain = vec![(mean, var)];
        for &t in &times[..steps] {
            let a = 1.0 + THETA * dt - SIGMA * SIGMA * dt / v_at(t);
            let b = SIGMA * SIGMA * dt * m_at(t) / v_at(t);
            mean = [0, 1].map(|k| a * mean[k] + b * MU[k]);
            var = a * a * var + SIGMA * SIGMA * dt;
            chain.push((mean, var));
        }

        let (t_mid, x_mid) = snapshot.taken.expect("the observer saw the step");
        for (label, t, x, (want_mean, want_var)) in [
            ("t = 0.5", t_mid, x_mid, chain[mid + 1]),
            ("t = 0", 0.0, out.x, chain[steps]),
        ] {
            // The chain is close to the SDE's closed form.
            let (m, v) = (m_at(t), v_at(t));
            eprintln!(
                "{label}: chain mean {want_mean:?} var {want_var:.5}; SDE mean ({:.5}, {:.5}) var {v:.5}",
                m * MU[0],
                m * MU[1]
            );
            assert!(
                (want_var / v - 1.0).abs() < 5e-3,
                "{label}: chain variance {want_var} vs {v}"
            );
            for k in 0..2 {
                assert!(
                    (want_mean[k] - m * MU[k]).abs() < 1e-2,
                    "{label}: chain mean {want_mean:?}"
                );
            }
            // The samples have the chain's moments.
            let (got_mean, got_var, n) = moments(x);
            eprintln!("{label}: sample mean {got_mean:?} var {got_var:.5}");
            for k in 0..2 {
                assert!(
                    (got_mean[k] - want_mean[k]).abs() < 4.0 * (want_var / n as f64).sqrt(),
                    "{label}: mean {got_mean:?} vs {want_mean:?}"
                );
            }
            let se_var = want_var * (2.0 / (2.0 * n as f64 - 2.0)).sqrt();
            assert!(
                (got_var - want_var).abs() < 4.0 * se_var,
                "{label}: variance {got_var} vs {want_var}"
            );
        }

        // The SDE has no ancestral step (it does not implement `Ancestral`), so pairing it with
        // `AncestralSampling` is a compile error, no longer a run-time refusal: the
        // `compile_fail` doctest on `AncestralSampling` checks that.
    }

    /// The probability-flow log-density of the user SDE (default finite-difference `drift_jvp`)
    /// against the closed form.
    ///
    /// With the exact score the flow carries p_eps onto p_T, so the model's density at x is
    /// log p_eps(x) + log pi(x_T) - log p_T(x_T), where x_T is the exact flow map of x
    /// (standardisation: x_T = m(T) mu + sqrt(v(T) / v(eps)) (x - m(eps) mu)), p_t the Gaussian
    /// marginals above and pi = N(0, v_inf I) the prior; p_T and pi differ by the mean
    /// m(T) mu = 0.0025 mu. In f64 at rtol = atol = 1e-9 the solver's error is ~1e-8 and the
    /// finite-difference JVP of the linear drift is exact up to round-off (~1e-11), so the bound
    /// is 1e-6 nats.
    ///
    /// Mutation checked: the default `drift_jvp` returning the drift instead of its JVP (`.1` to
    /// `.0`) makes this fail.
    #[test]
    fn user_sde_with_only_required_methods_gives_closed_form_log_densities() {
        let device = Device::flex();
        let sde = UserOu;
        let score = ExactScore;
        let eps = 1e-3;
        let points = [1.0, -2.0, 0.2, -1.5, 1.9, -2.8, 0.6, -2.4, 1.3, -1.1];
        let x = from_f64(&points, [5, 2], &device, DType::F64);
        let likelihood = ProbabilityFlowLikelihood::new(&sde, Divergence::Exact, eps)
            .unwrap()
            .with_tolerances(1e-9, 1e-9)
            .unwrap();
        let out: LogLikelihood = likelihood
            .log_prob(&score, x, &mut HostNoise::new(62))
            .unwrap();
        let got = to_f64(out.log_prob);
        let log_normal = |x: f64, mean: f64, var: f64| {
            -0.5 * (2.0 * std::f64::consts::PI * var).ln() - (x - mean).powi(2) / (2.0 * var)
        };
        let ratio = (v_at(T_END) / v_at(eps)).sqrt();
        for (i, p) in points.chunks(2).enumerate() {
            let mut want = 0.0;
            for k in 0..2 {
                let x_t = m_at(T_END) * MU[k] + ratio * (p[k] - m_at(eps) * MU[k]);
                want += log_normal(p[k], m_at(eps) * MU[k], v_at(eps))
                    + log_normal(x_t, 0.0, V_INF)
                    - log_normal(x_t, m_at(T_END) * MU[k], v_at(T_END));
            }
            eprintln!("point {i}: log p {:.8} vs closed form {want:.8}", got[i]);
            assert!(
                (got[i] - want).abs() < 1e-6,
                "point {i}: {} vs closed form {want}",
                got[i]
            );
        }
    }
}

//! Every predictor x corrector pair with the exact scores of ring8_weighted under VE, VP and
//! sub-VP, against the mode weights, the within-mode variance and the entropy.

use std::sync::OnceLock;

use burn::prelude::*;
use burn::tensor::DType;
use sgm_core::tensor::to_f64;
use sgm_core::{CountingScoreModel, HostNoise, ScoreFn, ScoreModel, score_fn};
use sgm_data::{ExactDensity, GaussianMixture};
use sgm_samplers::{
    AncestralSampling, AnnealedLangevinCorrector, Corrector, EulerMaruyama, FinalStep,
    LangevinCorrector, NoObserver, NoneCorrector, NonePredictor, PcSampler, Predictor,
    ReverseDiffusion, SamplerError,
};
use sgm_schedules::TimeGrid;
use sgm_sde::{CorrectorAlpha, Discretize, LinearSde, Sde, SubVpSde, VeSde, VpSde};

const PARTICLES: usize = 4096;

fn device() -> Device {
    Device::flex()
}

/// -H(p) = E_p[log p] for ring8_weighted, by Monte Carlo over 400,000 exact samples (standard
/// error ~0.002, negligible beside the samplers' own).
fn minus_entropy() -> f64 {
    static VALUE: OnceLock<f64> = OnceLock::new();
    *VALUE.get_or_init(|| {
        let ring = GaussianMixture::ring8_weighted();
        let mut noise = HostNoise::new(1234);
        let x = ring.sample(400_000, &device(), DType::F32, &mut noise);
        let lp = to_f64(ring.log_prob(x));
        lp.iter().sum::<f64>() / lp.len() as f64
    })
}

struct Metrics {
    shares: Vec<f64>,
    variance: [f64; 2],
    mean_log_p: f64,
    log_p_se: f64,
}

fn metrics(x: Tensor<2>) -> Metrics {
    let ring = GaussianMixture::ring8_weighted();
    let nearest = ring.nearest_component(x.clone());
    let shares = ring.component_shares(x.clone());
    let lp = to_f64(ring.log_prob(x.clone()));
    let n = lp.len() as f64;
    let mean_log_p = lp.iter().sum::<f64>() / n;
    let var = lp.iter().map(|v| (v - mean_log_p).powi(2)).sum::<f64>() / (n - 1.0);
    let xs = to_f64(x);
    let mut variance = [0.0; 2];
    for (i, k) in nearest.iter().enumerate() {
        for (a, v) in variance.iter_mut().enumerate() {
            *v += (xs[2 * i + a] - ring.means()[*k][a]).powi(2) / n;
        }
    }
    Metrics {
        shares,
        variance,
        mean_log_p,
        log_p_se: (var / n).sqrt(),
    }
}

fn run<S: Sde, M: ScoreModel, P: Predictor, C: Corrector>(
    sde: &S,
    model: &M,
    predictor: &P,
    corrector: &C,
    eps: f64,
    seed: u64,
) -> Metrics {
    let grid = TimeGrid::uniform(sde.t_end(), eps, 1001).unwrap();
    let sampler = PcSampler::new(predictor, corrector, grid, FinalStep::Mean).unwrap();
    let mut noise = HostNoise::new(seed);
    let x_t = sde.prior_sample([PARTICLES, 2], &device(), DType::F32, &mut noise);
    metrics(
        sampler
            .sample(model, x_t, &mut noise, &mut NoObserver)
            .unwrap()
            .x,
    )
}

/// The sweep over predictor x corrector pairs: one seed per pair, in order, and the problems
/// found. Predictors and correctors take the model at the call and are generic in it, so they
/// are not trait objects: each pair is a call of [`Sweep::pair`].
struct Sweep {
    ring: GaussianMixture,
    seed: u64,
    failures: Vec<String>,
}

impl Sweep {
    /// EM and RD, each with the three correctors.
    fn sde<S: LinearSde + Discretize + CorrectorAlpha + Copy>(&mut self, sde: S, eps: f64) {
        self.predictor(sde, eps, "EM", &EulerMaruyama::new(sde));
        self.predictor(sde, eps, "RD", &ReverseDiffusion::new(sde));
    }

    /// `predictor` with no corrector, the Langevin corrector and the annealed one.
    fn predictor<S: LinearSde + CorrectorAlpha + Copy, P: Predictor>(
        &mut self,
        sde: S,
        eps: f64,
        pname: &str,
        predictor: &P,
    ) {
        let langevin = LangevinCorrector::new(0.16, 1).unwrap().with_alpha(sde);
        let annealed = AnnealedLangevinCorrector::new(sde, 0.16, 1).unwrap();
        self.pair(sde, eps, pname, predictor, "none", &NoneCorrector);
        self.pair(sde, eps, pname, predictor, "Langevin", &langevin);
        self.pair(sde, eps, pname, predictor, "annealed", &annealed);
    }

    fn pair<S: LinearSde, P: Predictor, C: Corrector>(
        &mut self,
        sde: S,
        eps: f64,
        pname: &str,
        p: &P,
        cname: &str,
        c: &C,
    ) {
        let ring = &self.ring;
        let exact = ring.perturbed(&sde);
        self.seed += 1;
        let m = run(&sde, &exact, p, c, eps, self.seed);
        let n = PARTICLES as f64;
        let mut problems = Vec::new();
        // Mode shares: binomial standard error sqrt(w (1 - w) / n) per mode, 4 of them.
        for (k, (share, w)) in m.shares.iter().zip(ring.weights()).enumerate() {
            if (share - w).abs() > 4.0 * (w * (1.0 - w) / n).sqrt() {
                problems.push(format!("mode {k} share {share:.4} vs {w:.4}"));
            }
        }
        // Within-mode variance 0.25, pooled over both axes (2n residuals, independent
        // within an isotropic mode): standard error 0.25 sqrt(2 / 2n); 4 of them.
        let pooled = (m.variance[0] + m.variance[1]) / 2.0;
        if (pooled - 0.25).abs() > 4.0 * 0.25 * (1.0 / n).sqrt() {
            problems.push(format!("within-mode variance {pooled:.4}"));
        }
        // Mean true log-density: 4 standard errors of the samples' own spread (the
        // reference's standard error, 0.002, is negligible).
        if (m.mean_log_p - minus_entropy()).abs() > 4.0 * m.log_p_se {
            problems.push(format!(
                "mean log p {:.4} +- {:.4} vs -H = {:.4}",
                m.mean_log_p,
                m.log_p_se,
                minus_entropy()
            ));
        }
        if !problems.is_empty() {
            self.failures.push(format!(
                "{} {pname}+{cname}: {}",
                sde.name(),
                problems.join(", ")
            ));
        }
    }
}

#[test]
fn every_pc_pair_samples_ring8_weighted() {
    let mut sweep = Sweep {
        ring: GaussianMixture::ring8_weighted(),
        seed: 0,
        failures: Vec::new(),
    };
    let ve = VeSde::default();
    let vp = VpSde::default();
    let sub = SubVpSde::default();
    // The pairs in the order (and so with the seeds) of the sweep over VE, VP, sub-VP with the
    // predictors EM, RD, ancestral each.
    sweep.sde(ve, 1e-5);
    sweep.predictor(ve, 1e-5, "ancestral", &AncestralSampling::new(ve));
    sweep.sde(vp, 1e-3);
    sweep.predictor(vp, 1e-3, "ancestral", &AncestralSampling::new(vp));
    sweep.sde(sub, 1e-3);
    // Sub-VP has no ancestral step: `AncestralSampling::new(sub)` does not compile (sub-VP does
    // not implement `Ancestral`; the compile_fail doctest of `AncestralSampling` checks it), so
    // the former run-time check of `SamplerError::AncestralUnsupported` is gone.
    let failures = sweep.failures;
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn reported_nfe_matches_a_counting_model() {
    let ring = GaussianMixture::ring8_weighted();
    let vp = VpSde::default();
    let exact = ring.perturbed(&vp);
    let counted = CountingScoreModel::new(exact);
    let predictor = ReverseDiffusion::new(vp);
    let corrector = LangevinCorrector::new(0.16, 2).unwrap().with_alpha(vp);
    let grid = TimeGrid::uniform(1.0, 1e-3, 51).unwrap();
    let tweedie = FinalStep::tweedie(vp);
    let sampler = PcSampler::new(predictor, corrector, grid, tweedie).unwrap();
    let mut noise = HostNoise::new(0);
    let x_t = vp.prior_sample([64, 2], &device(), DType::F32, &mut noise);
    let out = sampler
        .sample(&counted, x_t, &mut noise, &mut NoObserver)
        .unwrap();
    // 50 steps x (1 predictor + 2 corrector evaluations) + 1 Tweedie evaluation.
    assert_eq!(out.nfe, 151);
    assert_eq!(counted.evaluations(), out.nfe);
}

#[test]
fn a_non_finite_state_stops_the_sampler_with_its_step_and_time() {
    let vp = VpSde::default();
    // The score turns NaN below t = 0.5.
    let broken = score_fn(|x: Tensor<2>, t: Tensor<1>| {
        let below = t.lower_elem(0.5).unsqueeze_dim::<2>(1).expand(x.dims());
        (-x).mask_fill(below, f32::NAN)
    });
    let predictor = EulerMaruyama::new(vp);
    let grid = TimeGrid::uniform(1.0, 0.0, 11).unwrap();
    let sampler = PcSampler::new(&predictor, NoneCorrector, grid, FinalStep::Sample).unwrap();
    let mut noise = HostNoise::new(0);
    let x_t = vp.prior_sample([8, 2], &device(), DType::F32, &mut noise);
    let err = sampler
        .sample(&broken, x_t, &mut noise, &mut NoObserver)
        .unwrap_err();
    // Step 5 runs from t = 0.5 (finite score) to 0.4; step 6 evaluates at t = 0.4 and ends at
    // 0.3 with a NaN state. The sampler runs to the end of the grid (the check is read back
    // once) and names that first bad step, not a later one.
    match err {
        SamplerError::NonFinite { step, t } => {
            assert_eq!(step, 6);
            assert!((t - 0.3).abs() < 1e-12, "t = {t}");
        }
        other => panic!("unexpected {other:?}"),
    }
    let increasing = TimeGrid::uniform(0.0, 1.0, 11).unwrap();
    assert!(PcSampler::new(&predictor, NoneCorrector, increasing, FinalStep::Sample).is_err());
}

/// Batch mean of the per-sample Euclidean norms of a row-major `[b, 2]` array.
fn mean_norm(rows: &[f64]) -> f64 {
    let norms: Vec<f64> = rows.chunks(2).map(|r| r[0].hypot(r[1])).collect();
    norms.iter().sum::<f64>() / norms.len() as f64
}

/// A fixed `[4, 2]` f64 state, and the linear score s(x) = -(x - mu) / v of N(mu, v I) with
/// mu = (1, -2), v = 0.5 as a closure and on the host.
const STATE: [f64; 8] = [0.3, -1.2, 2.5, 0.7, -1.1, -3.0, 1.9, 2.2];
const MU: [f64; 2] = [1.0, -2.0];
const V: f64 = 0.5;

fn host_score(x: &[f64]) -> Vec<f64> {
    x.iter()
        .enumerate()
        .map(|(i, xi)| -(xi - MU[i % 2]) / V)
        .collect()
}

fn linear_score() -> ScoreFn<impl Fn(Tensor<2>, Tensor<1>) -> Tensor<2>> {
    let mu = sgm_core::tensor::from_f64(&MU, [1, 2], &device(), DType::F64);
    score_fn(move |x: Tensor<2>, _t: Tensor<1>| (x - mu.clone()) * (-1.0 / V))
}

/// Replays `moves` Langevin moves x' = x + e s + sqrt(2 e) z on the host with the normals the
/// corrector draws (HostNoise is reproducible: the same seed and shapes give the same numbers)
/// and the step e = step(s, z), and compares with the corrector's output (scores from
/// [`linear_score`]) at 1e-12.
fn check_moves<C: Corrector>(
    corrector: &C,
    t: f64,
    dt: f64,
    moves: usize,
    step: impl Fn(&[f64], &[f64]) -> f64,
) -> Vec<f64> {
    let x0 = sgm_core::tensor::from_f64(&STATE, [4, 2], &device(), DType::F64);
    let mut noise = HostNoise::new(77);
    let score = linear_score();
    let got = to_f64(
        corrector
            .correct(&score, x0.clone(), t, dt, &mut noise)
            .unwrap(),
    );
    let mut replay = HostNoise::new(77);
    let mut x = STATE.to_vec();
    let mut steps = Vec::new();
    for _ in 0..moves {
        let z = to_f64(sgm_core::NoiseSourceExt::normal_like(&mut replay, &x0));
        let s = host_score(&x);
        let e = step(&s, &z);
        steps.push(e);
        for ((xi, si), zi) in x.iter_mut().zip(&s).zip(&z) {
            *xi += e * si + (2.0 * e).sqrt() * zi;
        }
    }
    for (g, w) in got.iter().zip(&x) {
        assert!((g - w).abs() < 1e-12 * (1.0 + w.abs()), "{got:?} vs {x:?}");
    }
    // The moves differ from the start by far more than the tolerance.
    assert!((x[0] - STATE[0]).abs() > 1e-3);
    // The corrector drew exactly `moves` noise tensors: both streams continue alike.
    let next = |n: &mut HostNoise| to_f64(sgm_core::NoiseSourceExt::normal_like(n, &x0));
    assert_eq!(next(&mut noise), next(&mut replay));
    assert_eq!(corrector.evaluations(), moves);
    steps
}

/// Mutation checked: dropping the factor 2 (`2.0 * self.alpha.corrector_alpha`), dropping alpha,
/// dropping the square of the norm ratio in e = 2 alpha (snr |z| / |s|)^2, and taking squared
/// norms (dropping the `sqrt` in `mean_norm`) each fail.
#[test]
fn the_langevin_corrector_step_follows_the_snr_rule() {
    // e = 2 alpha (snr |z| / |s|)^2 with |z|, |s| batch means of per-sample norms and, for VP,
    // alpha = 1 - beta(t) dt, beta(t) = 0.1 + 19.9 t: at t = 0.6, dt = 0.01, alpha = 0.8796.
    let vp = VpSde::default();
    let (snr, t, dt): (f64, f64, f64) = (0.3, 0.6, 0.01);
    let alpha = 1.0 - (0.1 + 19.9 * t) * dt;
    let corrector = LangevinCorrector::new(snr, 2).unwrap().with_alpha(vp);
    let steps = check_moves(&corrector, t, dt, 2, |s, z| {
        2.0 * alpha * (snr * mean_norm(z) / mean_norm(s)).powi(2)
    });
    // Each move's step is its own: the score and the noise change between moves.
    assert!((steps[0] - steps[1]).abs() > 1e-3 * steps[0], "{steps:?}");
}

/// Mutation checked: dropping alpha or the square of snr std(t) in e = 2 alpha (snr std(t))^2
/// fails.
#[test]
fn the_annealed_langevin_corrector_step_follows_its_rule() {
    // e = 2 alpha (snr std(t))^2, the same at every move; VP: std(t)^2 = 1 - exp(-B(t)) with
    // B(t) = 0.1 t + 19.9 t^2 / 2, alpha = 1 - beta(t) dt.
    let vp = VpSde::default();
    let (snr, t, dt): (f64, f64, f64) = (0.3, 0.6, 0.01);
    let alpha = 1.0 - (0.1 + 19.9 * t) * dt;
    let var = -(-(0.1 * t + 19.9 * t * t / 2.0)).exp_m1();
    let e = 2.0 * alpha * snr * snr * var;
    let corrector = AnnealedLangevinCorrector::new(vp, snr, 2).unwrap();
    check_moves(&corrector, t, dt, 2, |_, _| e);
}

/// Mutation checked: a NonePredictor that reports one evaluation per step (`0` -> `1` in
/// `evaluations`) or moves its state (`x: x.clone()` -> `x: x.clone() * 0.5`) fails.
#[test]
fn the_none_predictor_leaves_the_state_and_the_noise_untouched() {
    let x0 = sgm_core::tensor::from_f64(&STATE, [4, 2], &device(), DType::F64);
    let counted = CountingScoreModel::new(linear_score());
    let mut noise = HostNoise::new(5);
    let step = NonePredictor
        .step(&counted, x0.clone(), 0.7, 0.6, &mut noise)
        .unwrap();
    assert_eq!(to_f64(step.x), STATE.to_vec());
    assert_eq!(to_f64(step.mean), STATE.to_vec());
    assert_eq!(NonePredictor.evaluations(), 0);
    // PC sampling with neither predictor nor corrector returns the start exactly, with no
    // evaluation and no draw from the noise source.
    let sampler = PcSampler::new(
        NonePredictor,
        NoneCorrector,
        TimeGrid::uniform(1.0, 1e-3, 11).unwrap(),
        FinalStep::Sample,
    )
    .unwrap();
    let out = sampler
        .sample(&counted, x0.clone(), &mut noise, &mut NoObserver)
        .unwrap();
    assert_eq!(to_f64(out.x), STATE.to_vec());
    assert_eq!(out.nfe, 0);
    // The model given at the call was never evaluated.
    assert_eq!(counted.evaluations(), 0);
    let next = |n: &mut HostNoise| to_f64(sgm_core::NoiseSourceExt::normal_like(n, &x0));
    assert_eq!(next(&mut noise), next(&mut HostNoise::new(5)));
}

/// Mutation checked: the Langevin corrector replaced by a no-op (`langevin_moves(..)` ->
/// `Ok(x)`) keeps the wrong start, dropping the 2 in e = 2 alpha (snr |z| / |s|)^2 moves the
/// variance from 1.25 v to 1.125 v (13 SE), and a NonePredictor counting one evaluation per step
/// breaks the NFE.
#[test]
fn corrector_only_sampling_reaches_the_target_from_a_wrong_start() {
    // score_sde's corrector-only sampler: NonePredictor with the Langevin corrector (snr 0.5, one
    // move per time) for data N(mu, I), mu = (2, -1), under VE with the exact perturbed score,
    // on a grid of 200 steps from t = 1e-2 to 1e-3, started at (-2, 3) with spread 0.1: 5.7
    // away from the target mean with 1% of its variance.
    //
    // Target. The last corrector call is at t_199 = 1e-2 - 199 (9e-3 / 200) = 1.045e-3, where
    // p_t = N(mu, v I) with v = 1 + std(t)^2 and VE's std(t)^2 = sigma_min^2 expm1(2 t
    // ln(sigma_max / sigma_min)) (sigma_min = 0.01, sigma_max = 50), v - 1 = 1.8e-6; over the
    // last 50 steps v moves by 1e-7. alpha = 1 for VE. On N(m, v I) in the state N(m, V I) the
    // batch-mean norms are |z| = c and |s| = c sqrt(V) / v (c = E|N(0, I_2)|), so
    // e = 2 snr^2 v^2 / V; the Gaussian chain x' - m = (1 - e / v)(x - m) + sqrt(2 e) z has the
    // fixed point V = 2 v^2 / (2 v - e), which with that e is V = v (1 + snr^2) = 1.25 v; its
    // mean is m. The chain contracts by 1 - e / v = 0.6 per move near the fixed point, and
    // from the start |x - m|^2 falls by about 4 snr^2 c^2 v = 1.6 per move: 200 moves reach it.
    //
    // Standard errors over n = 16,384 particles: sqrt(V / n) per mean, sqrt(2 / N) V for the
    // pooled variance of the N = 2n coordinates (mean known). The batch step e couples the
    // particles only through O(1 / sqrt(n)) fluctuations that the chain's contraction damps: in
    // 40 independent host simulations of this chain the variance's spread was 0.0098, the
    // nominal SE 0.0098, and its mean 1.2501.
    let data = sgm_data::Gaussian::isotropic(vec![2.0, -1.0], 1.0).unwrap();
    let ve = VeSde::default();
    let exact = data.perturbed(&ve);
    let counted = CountingScoreModel::new(exact);
    let snr = 0.5;
    let corrector = LangevinCorrector::new(snr, 1).unwrap().with_alpha(ve);
    let (from, to, steps) = (1e-2, 1e-3, 200);
    let grid = TimeGrid::uniform(from, to, steps + 1).unwrap();
    let sampler = PcSampler::new(NonePredictor, corrector, grid, FinalStep::Sample).unwrap();
    let n = 16_384;
    let mut noise = HostNoise::new(99);
    let start = sgm_core::NoiseSourceExt::normal_like(
        &mut noise,
        &Tensor::<2>::zeros([n, 2], (&device(), DType::F64)),
    ) * 0.1
        + sgm_core::tensor::from_f64(&[-2.0, 3.0], [1, 2], &device(), DType::F64);
    let out = sampler
        .sample(&counted, start, &mut noise, &mut NoObserver)
        .unwrap();
    // NonePredictor costs nothing: one evaluation per corrector call.
    assert_eq!((out.nfe, counted.evaluations()), (steps, steps));

    let t_last = from + (steps - 1) as f64 * (to - from) / steps as f64;
    let v = 1.0 + 1e-4 * (2.0 * t_last * (50.0f64 / 0.01).ln()).exp_m1();
    let want = v * (1.0 + snr * snr);
    let xs = to_f64(out.x);
    let mean = [2.0, -1.0];
    for (a, m_a) in mean.iter().enumerate() {
        let m = xs.iter().skip(a).step_by(2).sum::<f64>() / n as f64;
        assert!(
            (m - m_a).abs() < 4.0 * (want / n as f64).sqrt(),
            "mean {a} = {m} vs {m_a}"
        );
    }
    let big_n = 2.0 * n as f64;
    let var = xs
        .chunks(2)
        .map(|p| (p[0] - mean[0]).powi(2) + (p[1] - mean[1]).powi(2))
        .sum::<f64>()
        / big_n;
    let se = (2.0 / big_n).sqrt() * want;
    assert!(
        (var - want).abs() < 4.0 * se,
        "variance {var} vs v (1 + snr^2) = {want} (se {se})"
    );
}

#[test]
fn final_step_mean_returns_the_noise_free_mean_of_the_last_predictor_step() {
    // One reverse-diffusion step under VP from t = 1 to 0.99 with the N(0, I) score s = -x:
    // b = beta(1) dt = 20 x 0.01 = 0.2, the reverse kernel's drift is f - b s with
    // f = (sqrt(1 - b) - 1) x, so the noise-free mean is x (2 - sqrt(1 - b) - b) and the sample
    // adds sqrt(b) z on top. `FinalStep::Mean` must return the former, `Sample` the latter.
    // Mutation checked: `FinalStep::Mean => mean` -> `FinalStep::Mean => x` (pc.rs) makes this
    // fail (it survived every other PC test: the last step's noise is below their bounds).
    let vp = VpSde::default();
    let score = score_fn(|x: Tensor<2>, _t| -x);
    let predictor = ReverseDiffusion::new(vp);
    let x0 = sgm_core::tensor::from_f64(&[1.0, -2.0, 0.5, 3.0], [2, 2], &device(), DType::F64);
    let run = |final_step| {
        let grid = TimeGrid::uniform(1.0, 0.99, 2).unwrap();
        let sampler = PcSampler::new(&predictor, NoneCorrector, grid, final_step).unwrap();
        let out = sampler
            .sample(&score, x0.clone(), &mut HostNoise::new(7), &mut NoObserver)
            .unwrap();
        assert_eq!(out.nfe, 1);
        to_f64(out.x)
    };
    let b: f64 = 0.2;
    let factor = 2.0 - (1.0 - b).sqrt() - b;
    let mean = run(FinalStep::Mean);
    let sample = run(FinalStep::Sample);
    for ((m, s), x) in mean.iter().zip(&sample).zip(to_f64(x0.clone())) {
        approx::assert_relative_eq!(*m, factor * x, max_relative = 1e-12);
        // The sample carries sqrt(b) z with z ~ N(0, 1): it is not the mean.
        assert!((s - m).abs() > 1e-6, "sample {s} equals the mean {m}");
    }
}

/// `sample_projected` projects the start at T, the state after every corrector step at t_i and
/// after every predictor step at t_{i+1}, and finishes once; the state it goes on with is the
/// projection's output (here: every row set to the time, then `finish` adds 100). Mutation
/// checked: dropping the projection after the predictor, or after the corrector, fails the
/// recorded times.
#[test]
fn sample_projected_projects_after_every_corrector_and_predictor_step() {
    use sgm_core::NoiseSource;
    use std::cell::RefCell;
    #[derive(Default)]
    struct Recorder {
        times: RefCell<Vec<f64>>,
        finished: RefCell<usize>,
    }
    impl sgm_samplers::StepProjection for Recorder {
        fn project(&self, x: Tensor<2>, t: f64, _: &mut dyn NoiseSource) -> Tensor<2> {
            self.times.borrow_mut().push(t);
            x.zeros_like() + t
        }
        fn finish(&self, x: Tensor<2>) -> Tensor<2> {
            *self.finished.borrow_mut() += 1;
            x + 100.0
        }
    }
    let vp = VpSde::default();
    let grid = TimeGrid::uniform(1.0, 0.2, 5).unwrap();
    let sampler = PcSampler::new(
        NonePredictor,
        LangevinCorrector::new(0.16, 1).unwrap().with_alpha(vp),
        grid.clone(),
        FinalStep::Sample,
    )
    .unwrap();
    let recorder = Recorder::default();
    let x_t = Tensor::<2>::ones([3, 2], (&device(), DType::F64));
    let out = sampler
        .sample_projected(
            &score_fn(|x: Tensor<2>, _| -x),
            x_t,
            &recorder,
            &mut HostNoise::new(0),
            &mut NoObserver,
        )
        .unwrap();
    let mut want = vec![1.0];
    for (t, t_next) in grid.steps() {
        want.extend([t, t_next]);
    }
    assert_eq!(*recorder.times.borrow(), want);
    assert_eq!(*recorder.finished.borrow(), 1);
    // NonePredictor keeps the projected state at the last time, 0.2; finish adds 100.
    assert!(to_f64(out.x).iter().all(|v| (v - 100.2).abs() < 1e-12));
}

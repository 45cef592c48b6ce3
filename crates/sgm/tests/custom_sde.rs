//! A user-defined SDE that implements only the required methods of `Sde` samples and gives
//! likelihoods through the defaults (Euler-Maruyama discretisation, host diffusion,
//! finite-difference drift JVP, alpha = 1, no ancestral step), checked against closed forms.
//!
//! The SDE is an Ornstein-Uhlenbeck process written by hand, dx = -theta x dt + sigma dW with
//! theta = 2, sigma = 0.5 on [0, T = 3], prior N(0, v_inf I), v_inf = sigma^2 / (2 theta) =
//! 1/16. Data N(mu, s0^2 I) have the Gaussian marginals
//!
//! ```text
//! p_t = N(m(t) mu, v(t) I),  m(t) = exp(-theta t),  v(t) = s0^2 m^2 + v_inf (1 - m^2),
//! ```
//!
//! and the exact score -(x - m(t) mu) / v(t), written below without any library oracle.

use sgm::core::tensor::{column, from_f64, to_f64};
use sgm::core::{Noise, ScoreModel};
use sgm::likelihood::LogLikelihood;
use sgm::prelude::*;
use sgm::samplers::{Observer, SamplerError, StepInfo};

const THETA: f64 = 2.0;
const SIGMA: f64 = 0.5;
const T_END: f64 = 3.0;
const V_INF: f64 = SIGMA * SIGMA / (2.0 * THETA);
const MU: [f64; 2] = [1.0, -2.0];
const S0: f64 = 0.5;

/// The user's SDE: only `name`, `t_end`, `drift`, `diffusion_at`, `prior_sample` and
/// `prior_log_prob`.
struct UserOu;

impl Sde for UserOu {
    fn name(&self) -> &'static str {
        "user OU"
    }

    fn t_end(&self) -> f64 {
        T_END
    }

    fn drift(&self, x: Tensor<2>, _t: Tensor<1>) -> Tensor<2> {
        x * -THETA
    }

    fn diffusion_at(&self, _t: f64) -> f64 {
        SIGMA
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

/// Reverse-diffusion sampling (PC with `ReverseDiffusion` and no corrector) with the user SDE,
/// from its own prior, against the closed-form moments at t = 0.5 and t = 0 (the data).
///
/// Through the default `discretize` (Euler-Maruyama: f_i = -theta x dt, G_i = sigma sqrt(dt))
/// each step from t to t - dt is, with the exact score,
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
/// Mutation checked: G_i = g(t) dt instead of g(t) sqrt(dt) in the default `discretize` makes
/// this fail.
#[test]
fn user_sde_with_only_required_methods_samples_the_closed_form_marginals() {
    let device = Device::flex();
    let sde = UserOu;
    let score = ExactScore;
    let steps = 1500;
    let predictor = ReverseDiffusion::new(&sde, &score);
    let grid = TimeGrid::uniform(T_END, 0.0, steps + 1).unwrap();
    let sampler = PcSampler::new(&predictor, &NoneCorrector, grid, FinalStep::Sample).unwrap();
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
    let out = sampler.sample(x_t, &mut noise, &mut snapshot).unwrap();
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

    // The default `ancestral_step` is None: the ancestral predictor refuses the SDE by name.
    assert!(matches!(
        AncestralSampling::new(&sde, &score),
        Err(SamplerError::AncestralUnsupported { sde: "user OU" })
    ));
}

/// The probability-flow log-density of the user SDE (default host `diffusion` and
/// finite-difference `drift_jvp`) against the closed form.
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
    let likelihood = ProbabilityFlowLikelihood::new(&sde, &score, Divergence::Exact, eps)
        .unwrap()
        .with_tolerances(1e-9, 1e-9)
        .unwrap();
    let out: LogLikelihood = likelihood.log_prob(x, &mut HostNoise::new(62)).unwrap();
    let got = to_f64(out.log_prob);
    let log_normal = |x: f64, mean: f64, var: f64| {
        -0.5 * (2.0 * std::f64::consts::PI * var).ln() - (x - mean).powi(2) / (2.0 * var)
    };
    let ratio = (v_at(T_END) / v_at(eps)).sqrt();
    for (i, p) in points.chunks(2).enumerate() {
        let mut want = 0.0;
        for k in 0..2 {
            let x_t = m_at(T_END) * MU[k] + ratio * (p[k] - m_at(eps) * MU[k]);
            want += log_normal(p[k], m_at(eps) * MU[k], v_at(eps)) + log_normal(x_t, 0.0, V_INF)
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

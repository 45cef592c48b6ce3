//! Likelihoods against closed forms: probability-flow log-densities, Hutchinson unbiasedness,
//! the DDPM bound and the continuous-time bound.

use burn::prelude::*;
use burn::tensor::DType;
use nalgebra::{DMatrix, DVector};
use sgm_core::divergence::Projection;
use sgm_core::tensor::{from_f64, time_like, to_f64};
use sgm_core::{CoreError, CountingScoreModel, HostNoise};
use sgm_data::{ExactDensity, Gaussian, GaussianMixture};
use sgm_likelihood::{
    ContinuousElbo, DdpmElbo, Decoder, Dequantization, Divergence, LikelihoodError,
    NoisyDequantization, ProbabilityFlowLikelihood, importance_weighted_bits_per_dim,
};
use sgm_samplers::{DdpmVariance, SamplerError};
use sgm_schedules::DiscreteBetas;
use sgm_sde::{DdpmMarginals, GaussianMarginals, VpSde};

const EPS: f64 = 1e-5;

fn device() -> Device {
    Device::flex()
}

fn full_cov_gaussian() -> Gaussian {
    Gaussian::new(vec![1.0, -0.5], vec![1.5, 0.4, 0.4, 0.6]).unwrap()
}

/// The exact-divergence log-density at rtol = atol = 1e-5 against the closed form, with the
/// reported NFE checked against a counting wrapper.
///
/// The probability-flow model's density is the prior pi = N(0, I) pushed back through the flow.
/// With the exact score the flow carries p_eps onto p_T, so the model's log-density at x is, in
/// closed form, log p_eps(x) + log pi(x_T) - log p_T(x_T) with x_T the encoded point. The last
/// two terms differ because p_1 is not exactly N(0, I) under VP (m(1) = 0.0066): for
/// ring8_weighted, whose mean is not 0, the mismatch reaches 2e-2 nats per sample, 20 times the
/// bound, and belongs to the model, not to the solver.
fn check_exact_divergence<D: ExactDensity>(name: &str, density: &D, seed: u64) {
    let vp = VpSde::default();
    let x = density.sample(256, &device(), DType::F32, &mut HostNoise::new(seed));
    let exact = density.perturbed(&vp);
    let counted = CountingScoreModel::new(exact);
    let likelihood = ProbabilityFlowLikelihood::new(&vp, &counted, Divergence::Exact, EPS)
        .unwrap()
        .with_tolerances(1e-5, 1e-5)
        .unwrap();
    let out = likelihood
        .log_prob(x.clone(), &mut HostNoise::new(seed + 1))
        .unwrap();
    assert_eq!(counted.evaluations(), out.nfe, "{name}: NFE");
    let x_t = out.prior_point.clone();
    let log_p_eps = to_f64(exact.log_prob(x.clone(), time_like(EPS, &x)));
    let log_p_t = to_f64(exact.log_prob(x_t.clone(), time_like(1.0, &x_t)));
    let log_prior = to_f64(out.prior_log_prob.clone());
    let got = to_f64(out.log_prob);
    let want: Vec<f64> = (0..got.len())
        .map(|i| log_p_eps[i] + log_prior[i] - log_p_t[i])
        .collect();
    let mae = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .sum::<f64>()
        / got.len() as f64;
    eprintln!(
        "{name}: mean absolute error {mae:.2e} nats, NFE {}",
        out.nfe
    );
    assert!(mae < 1e-3, "{name}: mean absolute error {mae}");
}

#[test]
fn exact_divergence_log_density_matches_the_closed_form() {
    check_exact_divergence("ring8_weighted", &GaussianMixture::ring8_weighted(), 1);
    check_exact_divergence("full-covariance Gaussian", &full_cov_gaussian(), 3);
}

#[test]
fn hutchinson_estimates_are_unbiased() {
    // With K probes held fixed along one trajectory, each probe's log-density is an unbiased
    // estimate of the exact-divergence one on the same trajectory; over 200 probes their mean
    // lies within 4 standard errors of it, for every sample.
    let vp = VpSde::default();
    let ring = GaussianMixture::ring8_weighted();
    let exact = ring.perturbed(&vp);
    let x = ring.sample(8, &device(), DType::F32, &mut HostNoise::new(5));
    let reference = ProbabilityFlowLikelihood::new(&vp, &exact, Divergence::Exact, EPS).unwrap();
    let want = to_f64(
        reference
            .log_prob(x.clone(), &mut HostNoise::new(6))
            .unwrap()
            .log_prob,
    );
    for projection in [Projection::Rademacher, Projection::Gaussian] {
        let hutchinson = Divergence::Hutchinson {
            projection,
            probes: 200,
        };
        let out = ProbabilityFlowLikelihood::new(&vp, &exact, hutchinson, EPS)
            .unwrap()
            .log_prob(x.clone(), &mut HostNoise::new(7))
            .unwrap();
        let got = to_f64(out.log_prob);
        let se = to_f64(out.std_error.expect("K >= 2 gives a standard error"));
        for i in 0..got.len() {
            assert!(se[i] > 0.0);
            assert!(
                (got[i] - want[i]).abs() < 4.0 * se[i],
                "{projection:?} sample {i}: {} +- {} vs {}",
                got[i],
                se[i],
                want[i]
            );
        }
    }
}

/// log N(x; mean, cov) of the DDPM model p_theta(x_0) with the exact noise predictor of Gaussian
/// data: the reverse chain x_{t-1} = M_t x_t + u_t + sigma_t z from x_N ~ N(0, I), the last step
/// being the Gaussian decoder (variance beta_1).
fn ddpm_model_log_prob(
    g: &Gaussian,
    b: &DiscreteBetas,
    variance: DdpmVariance,
    x: &[f64],
) -> Vec<f64> {
    let eye = DMatrix::<f64>::identity(2, 2);
    let sigma = DMatrix::from_row_slice(2, 2, g.cov());
    let mu = DVector::from_row_slice(g.mean());
    let (mut mean, mut cov) = (DVector::zeros(2), eye.clone());
    for t in (1..=b.len()).rev() {
        let c_inv = (&sigma * b.alpha_bar(t) + &eye * b.one_minus_alpha_bar(t))
            .try_inverse()
            .unwrap();
        let (beta, scale) = (b.beta(t), 1.0 / b.alpha(t).sqrt());
        let m = (&eye - &c_inv * beta) * scale;
        let u = &c_inv * &mu * (b.alpha_bar(t).sqrt() * beta * scale);
        let s2 = match (t, variance) {
            (1, _) | (_, DdpmVariance::Beta) => beta,
            (_, DdpmVariance::BetaTilde) => b.posterior(t).variance,
        };
        mean = &m * mean + u;
        cov = &m * cov * m.transpose() + &eye * s2;
    }
    let inv = cov.clone().try_inverse().unwrap();
    let log_det = cov.determinant().ln();
    x.chunks(2)
        .map(|p| {
            let d = DVector::from_row_slice(p) - &mean;
            -(2.0 * std::f64::consts::PI).ln()
                - 0.5 * log_det
                - 0.5 * (d.transpose() * &inv * &d)[(0, 0)]
        })
        .collect()
}

/// The bound's gap log p - bound = KL(q(x_1:N | x_0) || p(x_1:N | x_0)) is positive for every
/// x_0 and shrinks as N grows. The data are concentrated (std 0.27 and 0.17) so that the gap
/// of both variance choices stands clear of the Monte Carlo error: with 16,384 draws per step
/// the smallest per-sample gap (N = 200, sigma^2 = beta) is 4 standard errors above 0.
#[test]
fn ddpm_bound_is_below_the_model_likelihood_and_tightens_with_more_steps() {
    let g = Gaussian::new(vec![1.0, -0.5], vec![0.075, 0.02, 0.02, 0.03]).unwrap();
    let x = g.sample(32, &device(), DType::F32, &mut HostNoise::new(8));
    let xs = to_f64(x.clone());
    let mut mean_gaps = Vec::new();
    for steps in [20, 200] {
        // beta from 0.1 / N to 10 / N: a VP schedule (beta(t) from 0.1 to 10) at N steps.
        let b = DiscreteBetas::linear(0.1 / steps as f64, 10.0 / steps as f64, steps).unwrap();
        let chain = DdpmMarginals::new(b.clone());
        let exact = g.perturbed(&chain);
        for variance in [DdpmVariance::Beta, DdpmVariance::BetaTilde] {
            let elbo = DdpmElbo::new(b.clone(), variance, Decoder::Gaussian, 16_384).unwrap();
            let out = elbo
                .evaluate(&exact, x.clone(), &mut HostNoise::new(9))
                .unwrap();
            assert_eq!(out.nfe, steps);
            let bound = to_f64(out.bound);
            let se = to_f64(out.std_error);
            let want = ddpm_model_log_prob(&g, &b, variance, &xs);
            let gaps: Vec<f64> = want.iter().zip(&bound).map(|(w, b)| w - b).collect();
            for (i, gap) in gaps.iter().enumerate() {
                assert!(
                    *gap > 0.0,
                    "N = {steps} {variance:?}: sample {i} bound {} above log p {} (se {})",
                    bound[i],
                    want[i],
                    se[i]
                );
            }
            let mean_gap = gaps.iter().sum::<f64>() / gaps.len() as f64;
            let min_z = gaps
                .iter()
                .zip(&se)
                .map(|(g, s)| g / s)
                .fold(f64::INFINITY, f64::min);
            eprintln!(
                "N = {steps} {variance:?}: mean gap {mean_gap:.4}, smallest gap / se {min_z:.1}"
            );
            mean_gaps.push(mean_gap);
        }
    }
    // Ten times the steps: a smaller gap for both variance choices.
    assert!(
        mean_gaps[2] < mean_gaps[0] && mean_gaps[3] < mean_gaps[1],
        "{mean_gaps:?}"
    );
}

#[test]
fn continuous_bound_is_tight_with_the_exact_score() {
    // With the true score and p_T ~ N(0, I) the bound equals log p(x) up to its Monte Carlo
    // error and the prior mismatch KL(p_1 || N(0, I)) ~ 1e-4 for ring8 (m(1)^2 = 4.5e-5).
    let vp = VpSde::default();
    let ring = GaussianMixture::ring8_weighted();
    let exact = ring.perturbed(&vp);
    let x = ring.sample(16, &device(), DType::F32, &mut HostNoise::new(10));
    let want = to_f64(ring.log_prob(x.clone()));
    let bound = ContinuousElbo::new(&vp, &exact, EPS, 20_000)
        .unwrap()
        .evaluate(x, &mut HostNoise::new(11))
        .unwrap();
    let (got, se) = (to_f64(bound.value), to_f64(bound.std_error));
    for i in 0..got.len() {
        assert!(
            (got[i] - want[i]).abs() < 4.0 * se[i] + 1e-3,
            "sample {i}: {} +- {} vs {}",
            got[i],
            se[i],
            want[i]
        );
    }
}

#[test]
fn bits_per_dim_follow_the_dequantisation_formula() {
    let deq = Dequantization::new(17, -1.0, 1.0).unwrap();
    let k = from_f64(&[0.0, 16.0, 8.0, 3.0], [2, 2], &device(), DType::F64);
    let x = to_f64(deq.dequantize(k, &mut HostNoise::new(0)));
    // Level k lands in [-1 + 2k/17, -1 + 2(k+1)/17).
    for (v, k) in x.iter().zip([0.0, 16.0, 8.0, 3.0]) {
        let lo = -1.0 + 2.0 * k / 17.0;
        assert!(
            *v >= lo && *v < lo + 2.0 / 17.0,
            "{v} outside the bin of level {k}"
        );
    }
    // log p = -2 in d = 2 with bins of width w = 2/17: bits/dim = -(-2 + 2 ln w) / (2 ln 2).
    let lp = from_f64(&[-2.0], [1], &device(), DType::F64);
    let want = (2.0 - 2.0 * (2.0f64 / 17.0).ln()) / (2.0 * std::f64::consts::LN_2);
    approx::assert_relative_eq!(
        to_f64(deq.bits_per_dim(lp, 2))[0],
        want,
        max_relative = 1e-12
    );
}

/// Noisy dequantisation against quadrature: for levels drawn uniformly, the exact density of
/// the noisy data is p_eps(z) = prod_i (1/K) sum_k q(z_i | k), and the bound is then tight for
/// every z: exactly log2 K bits/dim. The test integrates q by Simpson's rule (independent of the
/// erfc path of the implementation). Its relative error is about (h/s)^4 / 60 for a Gaussian
/// of std s: with 20,000 panels (h = 1e-4) and s >= 0.0105, below 1e-10.
#[test]
fn noisy_dequantisation_is_tight_for_uniform_levels() {
    let levels = 5;
    let deq = Dequantization::new(levels, -1.0, 1.0).unwrap();
    let vp = VpSde::default();
    for eps in [1e-3, 1e-2, 0.1] {
        let noisy = NoisyDequantization::at_time(deq, &vp, eps).unwrap();
        let (a, s) = (vp.mean_coeff_at(eps), vp.std_at(eps));
        let k = from_f64(
            &[0.0, 4.0, 2.0, 1.0, 3.0, 0.0],
            [3, 2],
            &device(),
            DType::F64,
        );
        let z = noisy.dequantize(k, &mut HostNoise::new(3));
        let sum_q = |zi: f64| {
            // (1/w) int_{-1}^{1} N(zi; a x, s^2) dx with w = 2/K.
            let n = 20_000;
            let h = 2.0 / n as f64;
            let f = |x: f64| {
                (-(zi - a * x).powi(2) / (2.0 * s * s)).exp()
                    / (s * (2.0 * std::f64::consts::PI).sqrt())
            };
            let simpson: f64 = (0..=n)
                .map(|j| {
                    let c = if j == 0 || j == n {
                        1.0
                    } else if j % 2 == 1 {
                        4.0
                    } else {
                        2.0
                    };
                    c * f(-1.0 + j as f64 * h)
                })
                .sum::<f64>()
                * h
                / 3.0;
            simpson / deq.bin_width()
        };
        let log_p: Vec<f64> = to_f64(z.clone())
            .chunks(2)
            .map(|row| row.iter().map(|&zi| (sum_q(zi) / levels as f64).ln()).sum())
            .collect();
        let bpd = to_f64(noisy.bits_per_dim(from_f64(&log_p, [3], &device(), DType::F64), z));
        for b in bpd {
            approx::assert_abs_diff_eq!(b, (levels as f64).log2(), epsilon = 1e-8);
        }
    }
}

/// The importance-weighted bound converges to the model's probability of the level.
///
/// One dimension, K = 2 levels on [0, 1) (w = 1/2), model density p(x) = 2x: the model gives
/// level 0 the probability P = int_0^{1/2} 2x dx = 1/4, i.e. exactly 2 bits. A single draw
/// x = u/2 has weight W = p(x) w = u/2 and bound E[-log2(u/2)] = 1 + 1/ln 2 = 2.4427 bits,
/// with std 1/ln 2 = 1.443 per draw. Over n = 20,000 images: the single-draw mean has standard
/// error 1.443/sqrt(n) = 0.0102, tolerance 4 SE = 0.041. With M = 2,000 draws per image the
/// weight mean has relative std (1/sqrt 3)/sqrt(M) = 0.0129, so each image's bound is
/// 2 bits + N(bias, 0.0129/ln 2 = 0.0186) with bias ~ var/2/ln 2 = 1.2e-4; their mean over 50
/// images has standard error 0.0026: tolerance 4 SE = 0.011, plus the 1.2e-4 bias.
#[test]
fn importance_weighted_bits_converge_to_the_model_probability() {
    let deq = Dequantization::new(2, 0.0, 1.0).unwrap();
    let bits_of_draw = |n: usize, noise: &mut HostNoise| {
        let x = deq.dequantize(Tensor::zeros([n, 1], &device()), noise);
        let log_p = (x * 2.0).log().squeeze_dim(1);
        deq.bits_per_dim(log_p, 1)
    };
    let mut noise = HostNoise::new(11);
    let single = to_f64(bits_of_draw(20_000, &mut noise));
    let mean = single.iter().sum::<f64>() / single.len() as f64;
    assert!(
        (mean - (1.0 + 1.0 / std::f64::consts::LN_2)).abs() < 0.041,
        "single-draw mean {mean}"
    );
    let draws: Vec<Tensor<1>> = (0..2000).map(|_| bits_of_draw(50, &mut noise)).collect();
    let iw = to_f64(importance_weighted_bits_per_dim(&draws, 1).unwrap());
    let iw_mean = iw.iter().sum::<f64>() / iw.len() as f64;
    assert!(
        (iw_mean - 2.0).abs() < 0.011 + 1.2e-4,
        "importance-weighted mean {iw_mean}"
    );
    // M = 1 is the single-draw bound itself.
    let one = to_f64(importance_weighted_bits_per_dim(&draws[..1], 1).unwrap());
    for (a, b) in one.iter().zip(to_f64(draws[0].clone())) {
        approx::assert_abs_diff_eq!(*a, b, epsilon = 1e-9);
    }
    assert!(importance_weighted_bits_per_dim(&[], 1).is_err());
    assert!(
        importance_weighted_bits_per_dim(&[draws[0].clone(), Tensor::zeros([3], &device())], 1)
            .is_err()
    );
}

/// With a vanishing kernel (a = 1, s -> 0) noisy dequantisation is uniform dequantisation.
#[test]
fn noisy_dequantisation_reduces_to_uniform_without_noise() {
    let deq = Dequantization::new(17, -1.0, 1.0).unwrap();
    let noisy = NoisyDequantization::new(deq, 1.0, 1e-9).unwrap();
    let k = from_f64(&[0.0, 16.0, 8.0, 3.0], [2, 2], &device(), DType::F64);
    let z = noisy.dequantize(k, &mut HostNoise::new(0));
    let lp = from_f64(&[-2.0, 1.5], [2], &device(), DType::F64);
    let got = to_f64(noisy.bits_per_dim(lp.clone(), z));
    let want = to_f64(deq.bits_per_dim(lp, 2));
    for (g, w) in got.iter().zip(&want) {
        approx::assert_abs_diff_eq!(g, w, epsilon = 1e-9);
    }
}

#[test]
fn bad_input_gives_typed_errors() {
    let vp = VpSde::default();
    let score = |x: Tensor<2>, _t: Tensor<1>| -x;
    assert!(matches!(
        ProbabilityFlowLikelihood::new(&vp, &score, Divergence::Exact, 0.0),
        Err(LikelihoodError::InvalidEps {
            eps: 0.0,
            t_end: 1.0
        })
    ));
    assert!(ProbabilityFlowLikelihood::new(&vp, &score, Divergence::Exact, 1.5).is_err());
    let rtol = ProbabilityFlowLikelihood::new(&vp, &score, Divergence::Exact, EPS)
        .unwrap()
        .with_tolerances(0.0, 1e-5);
    assert!(matches!(
        rtol,
        Err(LikelihoodError::Solver(SamplerError::InvalidParameter {
            name: "rtol",
            ..
        }))
    ));
    let zero_probes = Divergence::Hutchinson {
        projection: Projection::Gaussian,
        probes: 0,
    };
    assert!(ProbabilityFlowLikelihood::new(&vp, &score, zero_probes, EPS).is_err());
    // A model whose output has the wrong width.
    let wrong = |x: Tensor<2>, _t: Tensor<1>| Tensor::cat(vec![x.clone(), x], 1);
    let out = ProbabilityFlowLikelihood::new(&vp, &wrong, Divergence::Exact, EPS)
        .unwrap()
        .log_prob(Tensor::ones([3, 2], &device()), &mut HostNoise::new(0));
    assert!(
        matches!(
            out,
            Err(LikelihoodError::Core(CoreError::ShapeMismatch { .. }))
        ),
        "{out:?}"
    );
    assert!(ContinuousElbo::new(&vp, &score, EPS, 1).is_err());
    assert!(ContinuousElbo::new(&vp, &score, -1.0, 10).is_err());
    let b = DiscreteBetas::linear(1e-4, 0.02, 10).unwrap();
    assert!(DdpmElbo::new(b.clone(), DdpmVariance::Beta, Decoder::Gaussian, 1).is_err());
    assert!(
        DdpmElbo::new(
            b,
            DdpmVariance::Beta,
            Decoder::Discretized {
                levels: 1,
                low: 0.0,
                high: 1.0
            },
            4
        )
        .is_err()
    );
    assert!(Dequantization::new(1, 0.0, 1.0).is_err());
    assert!(Dequantization::new(17, 1.0, -1.0).is_err());
    let deq = Dequantization::new(17, -1.0, 1.0).unwrap();
    assert!(matches!(
        NoisyDequantization::new(deq, 1.0, 0.0),
        Err(LikelihoodError::InvalidParameter { name: "std", .. })
    ));
    assert!(matches!(
        NoisyDequantization::at_time(deq, &vp, 1.0),
        Err(LikelihoodError::InvalidEps {
            eps: 1.0,
            t_end: 1.0
        })
    ));
}

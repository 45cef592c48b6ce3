//! The exact oracles against quadrature, finite differences and sampling statistics.

use burn::prelude::*;
use burn::tensor::DType;
use sgm_core::tensor::{from_f64, time_like, to_f64};
use sgm_core::{CoreError, HostNoise, ScoreModel, finite_difference_jvp, score_fn};
use sgm_data::{DataError, ExactDensity, Gaussian, GaussianMixture};
use sgm_sde::{GaussianMarginals, SubVpSde, VeSde, VpSde};

fn device() -> Device {
    Device::flex()
}

fn full_cov_gaussian() -> Gaussian {
    Gaussian::new(vec![1.0, -2.0], vec![2.0, 0.8, 0.8, 0.5]).unwrap()
}

/// Mass, means and second moments [1, E x, E y, E x^2, E xy, E y^2] of a density on the plane
/// by the midpoint rule over [-12, 12]^2 with a 480 x 480 grid (cell h = 0.05), in f64.
///
/// For a Gaussian of covariance C the midpoint rule on a lattice of step h is exponentially
/// accurate (Poisson summation): its error is the Fourier transform at the dual lattice points
/// 2 pi k / h, exp(-2 pi^2 k^T C k / h^2), for polynomial moments too. The narrowest component
/// here has variance 0.25 (ring8 at t = 0; the full-covariance Gaussian has k^T Sigma k >= 0.5
/// over nonzero integer k), so the error is below exp(-2 pi^2 0.25 / 0.0025) = exp(-1974).
/// What remains is the mass outside the box (at least 7 standard deviations from every mean:
/// the two-mode mixture's (5, 5) component with std 1, Phi(-7) = 1.3e-12, and x^2 times it
/// contributes 2e-10) and the round-off of summing 230,400 terms (~1e-13): all far below the
/// 1e-8 of the checks.
fn moments(log_prob: impl Fn(Tensor<2>) -> Tensor<1>) -> [f64; 6] {
    let (n, lo, hi) = (480usize, -12.0, 12.0);
    let h = (hi - lo) / n as f64;
    let mut points = Vec::with_capacity(2 * n * n);
    for i in 0..n {
        for j in 0..n {
            points.push(lo + (i as f64 + 0.5) * h);
            points.push(lo + (j as f64 + 0.5) * h);
        }
    }
    let x = from_f64(&points, [n * n, 2], &device(), DType::F64);
    let p = to_f64(log_prob(x).exp());
    let mut out = [0.0; 6];
    for (w, xy) in p.iter().zip(points.chunks(2)) {
        let (a, b) = (xy[0], xy[1]);
        for (o, f) in out.iter_mut().zip([1.0, a, b, a * a, a * b, b * b]) {
            *o += w * f;
        }
    }
    out.map(|o| o * h * h)
}

fn check_moments(what: &str, got: [f64; 6], want: [f64; 6]) {
    let names = ["mass", "E x", "E y", "E x^2", "E xy", "E y^2"];
    for ((g, w), name) in got.iter().zip(want).zip(names) {
        assert!(
            (g - w).abs() < 1e-8 * (1.0 + w.abs()),
            "{what}: {name} = {g}, closed form {w} (error {:e})",
            g - w
        );
    }
}

/// Mass one and the closed-form first and second moments, at 1e-8 (see [`moments`]), with the
/// expected values derived here rather than taken from the library:
///
/// - ring8_weighted: components at 4 (cos, sin)(2 pi k / 8) with weights (k + 1) / 36 and
///   std 0.5. sum_k (k + 1) cos(pi k / 4) = 1 + (2 - 4 - 6 + 8) / sqrt 2 - 5 = -4 and
///   sum_k (k + 1) sin(pi k / 4) = 3 - 7 + (2 + 4 - 6 - 8) / sqrt 2 = -4 - 4 sqrt 2, so the
///   mean is (-4/9, -4 (1 + sqrt 2) / 9). With cos^2 = 1, 1/2, 0, 1/2, ... the weighted sums
///   of cos^2, sin^2 and cos sin are 16, 20 and -2 (over 36), so sum_k w_k mu_k mu_k^T =
///   [[64/9, -8/9], [-8/9, 80/9]]. Under VP (beta 0.1 to 20), m(t) = exp(-(0.05 t +
///   19.9 t^2 / 4)) and std^2 = 1 - m^2: mean m mu-bar, E x x^T = m^2 (sum w mu mu^T +
///   0.25 I) + (1 - m^2) I.
/// - N((1, -2), [[2, 0.8], [0.8, 0.5]]) under VE (sigma 0.01 to 50): m = 1 and
///   std^2 = 1e-4 (5000^(2 t) - 1), so E x x^T = Sigma + mu mu^T + std^2 I =
///   [[3 + std^2, -1.2], [-1.2, 4.5 + std^2]].
/// - two_modes, 0.2 N((-5, -5), I) + 0.8 N((5, 5), I): mean (3, 3), E x x^T =
///   25 [[1, 1], [1, 1]] + I.
///
/// Mutations checked: writing 2 pi as 6.2832 in the mixture's normalisation (a mass error of
/// 2e-6, inside the former 1e-3 bound) and m instead of m^2 in the mixture's perturbed
/// variance (normalised, so only the moments see it) each make this fail.
#[test]
fn perturbed_densities_integrate_to_one_with_closed_form_moments() {
    let vp = VpSde::default();
    let ve = VeSde::default();
    let ring = GaussianMixture::ring8_weighted();
    let gauss = full_cov_gaussian();
    let sqrt2 = std::f64::consts::SQRT_2;
    let ring_mean = [-4.0 / 9.0, -4.0 * (1.0 + sqrt2) / 9.0];
    for t in [0.0, 0.05, 0.3] {
        let m = (-(0.05 * t + 19.9 * t * t / 4.0f64)).exp();
        let (m2, q) = (m * m, 1.0 - m * m);
        let want = [
            1.0,
            m * ring_mean[0],
            m * ring_mean[1],
            m2 * (64.0 / 9.0 + 0.25) + q,
            m2 * (-8.0 / 9.0),
            m2 * (80.0 / 9.0 + 0.25) + q,
        ];
        let r = ring.perturbed(&vp);
        let got = moments(|x| r.log_prob(x.clone(), time_like(t, &x)));
        check_moments(&format!("ring8_weighted under VP at t = {t}"), got, want);

        let tau = 0.2 * t;
        let var = 1e-4 * (5000f64.powf(2.0 * tau) - 1.0);
        let want = [1.0, 1.0, -2.0, 3.0 + var, -1.2, 4.5 + var];
        let g = gauss.perturbed(&ve);
        let got = moments(|x| g.log_prob(x.clone(), time_like(tau, &x)));
        check_moments(&format!("Gaussian under VE at t = {tau}"), got, want);
    }
    let two = GaussianMixture::two_modes();
    let got = moments(|x| two.log_prob(x));
    check_moments("two_modes", got, [1.0, 3.0, 3.0, 26.0, 25.0, 26.0]);
}

/// Central differences of log p in f64 along each axis: error O(h^2) with h = 1e-5.
fn fd_gradient(log_prob: impl Fn(Tensor<2>) -> Tensor<1>, x: &[f64], dim: usize) -> Vec<f64> {
    let n = x.len() / dim;
    let h = 1e-5;
    let mut grad = vec![0.0; x.len()];
    for k in 0..dim {
        let mut plus = x.to_vec();
        let mut minus = x.to_vec();
        for i in 0..n {
            plus[i * dim + k] += h;
            minus[i * dim + k] -= h;
        }
        let lp = to_f64(log_prob(from_f64(&plus, [n, dim], &device(), DType::F64)));
        let lm = to_f64(log_prob(from_f64(&minus, [n, dim], &device(), DType::F64)));
        for i in 0..n {
            grad[i * dim + k] = (lp[i] - lm[i]) / (2.0 * h);
        }
    }
    grad
}

fn check_score_and_jvp<M: ScoreModel>(
    model: &M,
    log_prob: impl Fn(Tensor<2>) -> Tensor<1>,
    points: &[f64],
    t: f64,
) {
    let n = points.len() / 2;
    let x = from_f64(points, [n, 2], &device(), DType::F64);
    let tt = time_like(t, &x);
    let want = fd_gradient(&log_prob, points, 2);
    let got = to_f64(model.score(x.clone(), tt.clone()));
    for (g, w) in got.iter().zip(want.iter()) {
        assert!(
            (g - w).abs() < 1e-6 * (1.0 + w.abs()),
            "score {g} vs finite difference {w}"
        );
    }
    let v = from_f64(&[0.3, -1.1].repeat(n), [n, 2], &device(), DType::F64);
    let (_, exact) = model.score_jvp(x.clone(), tt.clone(), v.clone());
    let (_, fd) = finite_difference_jvp(&score_fn(|x, t| model.score(x, t)), x, tt, v);
    for (e, f) in to_f64(exact).iter().zip(to_f64(fd).iter()) {
        // f64 central differences with h ~ 6e-6: relative error ~1e-9.
        assert!(
            (e - f).abs() < 1e-6 * (1.0 + f.abs()),
            "exact JVP {e} vs finite difference {f}"
        );
    }
}

#[test]
fn scores_are_gradients_and_jvps_are_hessian_products() {
    let points = [0.1, 0.2, 3.5, 1.0, -2.0, -3.9, 4.0, 0.0, -0.7, 2.2];
    let ring = GaussianMixture::ring8_weighted();
    let gauss = full_cov_gaussian();
    let sub = SubVpSde::default();
    let vp = VpSde::default();
    for t in [0.0, 0.01, 0.2, 0.7] {
        let r = ring.perturbed(&sub);
        check_score_and_jvp(&r, |x| r.log_prob(x.clone(), time_like(t, &x)), &points, t);
        let g = gauss.perturbed(&vp);
        check_score_and_jvp(&g, |x| g.log_prob(x.clone(), time_like(t, &x)), &points, t);
    }
}

/// Mutation checked: m instead of m^2 in the Gaussian's perturbed variance
/// (`lambda * m.square()` in `whiten`) makes this fail.
#[test]
fn gaussian_log_prob_matches_the_closed_form_at_a_point() {
    // N(mu, Sigma) with mu = (1, -2), Sigma = [[2, 0.8], [0.8, 0.5]], perturbed by m = 0.5 and
    // std = 1: mean m mu = (0.5, -1), covariance m^2 Sigma + I = [[1.5, 0.2], [0.2, 1.125]]
    // (hard-coded here, not taken from `perturbed_moments`).
    let g = full_cov_gaussian();
    let (mean, cov) = ([0.5, -1.0], [1.5, 0.2, 0.2, 1.125]);
    let (lib_mean, lib_cov) = g.perturbed_moments(0.5, 1.0);
    for (a, b) in lib_mean.iter().chain(&lib_cov).zip(mean.iter().chain(&cov)) {
        approx::assert_relative_eq!(*a, *b, max_relative = 1e-12);
    }
    let x = [2.0, 0.5];
    let (a, b, c) = (cov[0], cov[1], cov[3]);
    let det = a * c - b * b;
    let (dx, dy) = (x[0] - mean[0], x[1] - mean[1]);
    let quad = (c * dx * dx - 2.0 * b * dx * dy + a * dy * dy) / det;
    let want = -(2.0 * std::f64::consts::PI).ln() - 0.5 * det.ln() - 0.5 * quad;
    let xt = from_f64(&x, [1, 2], &device(), DType::F64);
    let log_m = from_f64(&[0.5f64.ln()], [1], &device(), DType::F64);
    let std = from_f64(&[1.0], [1], &device(), DType::F64);
    approx::assert_relative_eq!(
        to_f64(g.log_prob_perturbed(xt, log_m, std))[0],
        want,
        max_relative = 1e-12
    );
}

#[test]
fn samples_have_the_right_moments_and_weights() {
    let mut noise = HostNoise::new(11);
    let n = 40_000;
    let g = full_cov_gaussian();
    let x = to_f64(g.sample(n, &device(), DType::F64, &mut noise));
    let mean = [0, 1].map(|k| x.iter().skip(k).step_by(2).sum::<f64>() / n as f64);
    let cov01 = x
        .chunks(2)
        .map(|p| (p[0] - mean[0]) * (p[1] - mean[1]))
        .sum::<f64>()
        / n as f64;
    // Standard errors: sqrt(Sigma_kk / n) for the means; for the covariance,
    // sqrt((Sigma_00 Sigma_11 + Sigma_01^2) / n) = sqrt(1.64 / n). Bounds at 4 of them.
    assert!((mean[0] - 1.0).abs() < 4.0 * (2.0 / n as f64).sqrt());
    assert!((mean[1] + 2.0).abs() < 4.0 * (0.5 / n as f64).sqrt());
    assert!((cov01 - 0.8).abs() < 4.0 * (1.64 / n as f64).sqrt());

    let ring = GaussianMixture::ring8_weighted();
    let shares = ring.component_shares(ring.sample(n, &device(), DType::F32, &mut noise));
    for (share, w) in shares.iter().zip(ring.weights()) {
        // Binomial standard error sqrt(w (1 - w) / n); modes 4 sqrt(2 - sqrt 2) = 3.06 apart
        // with std 0.5 misassign a fraction ~1e-3 of samples, well inside the bound.
        assert!(
            (share - w).abs() < 4.0 * (w * (1.0 - w) / n as f64).sqrt(),
            "share {share} vs weight {w}"
        );
    }
}

#[test]
fn bad_parameters_are_typed_errors() {
    assert!(matches!(
        Gaussian::new(vec![0.0, 0.0], vec![1.0, 2.0, 2.0, 1.0]),
        Err(DataError::NotPositiveDefinite { .. })
    ));
    assert!(matches!(
        Gaussian::new(vec![0.0, 0.0], vec![1.0, 0.5, 0.0, 1.0]),
        Err(DataError::NotPositiveDefinite { .. })
    ));
    assert_eq!(
        Gaussian::new(vec![0.0, 0.0], vec![1.0]),
        Err(DataError::DimensionMismatch {
            what: "covariance entries",
            expected: 4,
            found: 1
        })
    );
    assert!(Gaussian::isotropic(vec![0.0], 0.0).is_err());
    assert_eq!(
        GaussianMixture::new(vec![1.0, -1.0], vec![vec![0.0], vec![1.0]], vec![1.0, 1.0]),
        Err(DataError::Core(CoreError::InvalidParameter {
            name: "weight",
            value: -1.0,
            requirement: "finite and > 0"
        }))
    );
    assert!(GaussianMixture::new(vec![1.0], vec![vec![0.0, 1.0]], vec![1.0, 2.0]).is_err());
    assert!(
        GaussianMixture::new(
            vec![1.0, 1.0],
            vec![vec![0.0, 1.0], vec![1.0]],
            vec![1.0, 2.0]
        )
        .is_err()
    );
}

#[test]
fn marginals_of_the_oracle_match_gaussian_marginals() {
    // A GMM with one component is a Gaussian: the two oracles must agree everywhere.
    let mix = GaussianMixture::new(vec![1.0], vec![vec![1.0, -2.0]], vec![0.7]).unwrap();
    let gauss = Gaussian::isotropic(vec![1.0, -2.0], 0.7).unwrap();
    let vp = VpSde::default();
    let x = from_f64(&[0.3, 0.1, -1.0, 2.0], [2, 2], &device(), DType::F64);
    for t in [0.0, 0.4] {
        let tt = time_like(t, &x);
        let a = to_f64(mix.perturbed(&vp).log_prob(x.clone(), tt.clone()));
        let b = to_f64(gauss.perturbed(&vp).log_prob(x.clone(), tt));
        for (p, q) in a.iter().zip(b.iter()) {
            approx::assert_relative_eq!(p, q, max_relative = 1e-12);
        }
    }
    assert!(vp.std_at(0.4) > 0.0);
}

//! The metrics against closed forms for Gaussians.
//!
//! - Frechet distance: for 2 x 2 covariances the eigenvalues l_1, l_2 of S_1 S_2 (similar to the
//!   PSD S_1^(1/2) S_2 S_1^(1/2)) give tr (S_1^(1/2) S_2 S_1^(1/2))^(1/2) = sqrt(l_1) + sqrt(l_2)
//!   = sqrt(tr(S_1 S_2) + 2 sqrt(det S_1 det S_2)), a formula by hand with no eigensolver.
//! - MMD: with z = x - y ~ N(mu, C), E exp(-|z|^2 / (2 l^2)) = det(I + C / l^2)^(-1/2)
//!   exp(-1/2 mu^T (C + l^2 I)^-1 mu) (a Gaussian integral), so MMD^2 between N(a, A) and
//!   N(b, B) is E_k(0, 2A) + E_k(0, 2B) - 2 E_k(a - b, A + B).
//! - Energy distance in 1-D: for Z ~ N(mu, s^2), E|Z| = s sqrt(2/pi) exp(-mu^2 / (2 s^2)) +
//!   |mu| (1 - 2 Phi(-|mu| / s)).
//!
//! The estimators are unbiased, so the mean of R independent replicates must be within 4 of its
//! standard errors (replicate sd / sqrt(R)) of the closed form, and of 0 for equal laws.

use burn::prelude::*;
use burn::tensor::DType;
use nalgebra::{Matrix2, Vector2};
use sgm_core::tensor::{from_f64, to_f64};
use sgm_core::{HostNoise, NoiseSourceExt};
use sgm_metrics::{GaussianFit, GaussianKernel, energy_distance, frechet_distance, mmd_squared};

fn device() -> Device {
    Device::flex()
}

/// `n` draws of N(mean, L L^T) with L lower triangular (row-major), `[n, 2]`.
fn gaussian(n: usize, mean: [f64; 2], l: [f64; 4], noise: &mut HostNoise) -> Tensor<2> {
    let z = to_f64(noise.sample(
        sgm_core::Noise::StandardNormal,
        [n, 2],
        &device(),
        DType::F64,
    ));
    let x: Vec<f64> = z
        .chunks(2)
        .flat_map(|z| [mean[0] + l[0] * z[0], mean[1] + l[2] * z[0] + l[3] * z[1]])
        .collect();
    from_f64(&x, [n, 2], &device(), DType::F32)
}

/// Mean and standard error of `r` replicates of `f`.
fn replicate(r: usize, mut f: impl FnMut() -> f64) -> (f64, f64) {
    let v: Vec<f64> = (0..r).map(|_| f()).collect();
    let mean = v.iter().sum::<f64>() / r as f64;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (r as f64 - 1.0);
    (mean, (var / r as f64).sqrt())
}

/// Mutation checked: the 2 on the cross term dropped (`2.0 * cross.trace()` -> `cross.trace()`)
/// fails the closed form.
#[test]
fn frechet_distance_matches_the_two_by_two_closed_form() {
    let (s1, s2) = ([2.0, 0.5, 0.5, 1.0], [1.0, -0.3, -0.3, 0.5]);
    let (m1, m2) = (vec![1.0, -1.0], vec![0.5, 0.5]);
    let a = GaussianFit::new(m1.clone(), s1.to_vec()).unwrap();
    let b = GaussianFit::new(m2.clone(), s2.to_vec()).unwrap();
    let (p1, p2) = (Matrix2::from_row_slice(&s1), Matrix2::from_row_slice(&s2));
    let cross = ((p1 * p2).trace() + 2.0 * (p1.determinant() * p2.determinant()).sqrt()).sqrt();
    let dm = Vector2::new(m1[0] - m2[0], m1[1] - m2[1]).norm_squared();
    let want = dm + p1.trace() + p2.trace() - 2.0 * cross;
    let got = frechet_distance(&a, &b).unwrap();
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    assert!(
        (frechet_distance(&b, &a).unwrap() - want).abs() < 1e-12,
        "symmetric"
    );
    assert!(frechet_distance(&a, &a).unwrap().abs() < 1e-12);
    let c = GaussianFit::new(vec![0.0], vec![1.0]).unwrap();
    assert!(frechet_distance(&a, &c).is_err(), "dimensions differ");
    assert!(
        GaussianFit::new(vec![0.0, 0.0], vec![1.0, 2.0, 2.0, 1.0]).is_err(),
        "indefinite"
    );
    assert!(
        GaussianFit::new(vec![0.0, 0.0], vec![1.0, 0.5, 0.0, 1.0]).is_err(),
        "asymmetric"
    );
}

/// E exp(-|z|^2 / (2 l^2)) for z ~ N(mu, C).
fn expected_kernel(mu: Vector2<f64>, c: Matrix2<f64>, l: f64) -> f64 {
    let l2 = l * l;
    let det = (Matrix2::identity() + c / l2).determinant();
    let quad = mu.dot(&((c + Matrix2::identity() * l2).try_inverse().unwrap() * mu));
    det.powf(-0.5) * (-0.5 * quad).exp()
}

/// Mutation checked: the 2 on the cross term dropped (`kxy * 2.0` -> `kxy`) fails both cases.
#[test]
fn mmd_is_unbiased_for_the_closed_form_between_gaussians() {
    const R: usize = 100;
    const N: usize = 200;
    let l = 1.0;
    let (a, la) = ([0.0, 0.0], [1.0, 0.0, 0.0, 0.5f64.sqrt()]);
    let (b, lb) = (
        [0.5, -0.3],
        [
            1.2f64.sqrt(),
            0.0,
            0.3 / 1.2f64.sqrt(),
            (0.6 - 0.075f64).sqrt(),
        ],
    );
    let cov = |l: [f64; 4]| {
        let m = Matrix2::new(l[0], l[1], l[2], l[3]);
        m * m.transpose()
    };
    let (ca, cb) = (cov(la), cov(lb));
    let want = expected_kernel(Vector2::zeros(), ca * 2.0, l)
        + expected_kernel(Vector2::zeros(), cb * 2.0, l)
        - 2.0 * expected_kernel(Vector2::new(a[0] - b[0], a[1] - b[1]), ca + cb, l);
    let kernel = GaussianKernel::new(l).unwrap();
    let mut noise = HostNoise::new(1);
    let (mean, se) = replicate(R, || {
        let x = gaussian(N, a, la, &mut noise);
        let y = gaussian(N, b, lb, &mut noise);
        mmd_squared(x, y, kernel).unwrap()
    });
    eprintln!("MMD^2 {mean} +- {se}, closed form {want}");
    assert!(want > 20.0 * se, "the laws must differ detectably");
    assert!(
        (mean - want).abs() < 4.0 * se,
        "MMD^2 {mean} +- {se} vs {want}"
    );
    let (mean, se) = replicate(R, || {
        let x = gaussian(N, a, la, &mut noise);
        let y = gaussian(N, a, la, &mut noise);
        mmd_squared(x, y, kernel).unwrap()
    });
    assert!(mean.abs() < 4.0 * se, "equal laws: MMD^2 {mean} +- {se}");
}

/// E|Z| for Z ~ N(mu, s^2).
fn mean_abs_normal(mu: f64, s: f64) -> f64 {
    let tail = sgm_core::special::log_normal_tail(mu.abs() / s).exp();
    s * (2.0 / std::f64::consts::PI).sqrt() * (-mu * mu / (2.0 * s * s)).exp()
        + mu.abs() * (1.0 - 2.0 * tail)
}

/// Mutation checked: the 2 on the cross term dropped (`dxy * 2.0` -> `dxy`) fails both cases.
#[test]
fn energy_distance_is_unbiased_for_the_one_dimensional_closed_form() {
    const R: usize = 100;
    const N: usize = 200;
    let (mx, sx, my, sy): (f64, f64, f64, f64) = (0.0, 1.0, 0.5, 1.5);
    let want = 2.0 * mean_abs_normal(mx - my, (sx * sx + sy * sy).sqrt())
        - mean_abs_normal(0.0, sx * 2f64.sqrt())
        - mean_abs_normal(0.0, sy * 2f64.sqrt());
    let mut noise = HostNoise::new(2);
    let draw = |m: f64, s: f64, noise: &mut HostNoise| {
        noise.sample(
            sgm_core::Noise::StandardNormal,
            [N, 1],
            &device(),
            DType::F32,
        ) * s
            + m
    };
    let (mean, se) = replicate(R, || {
        let x = draw(mx, sx, &mut noise);
        let y = draw(my, sy, &mut noise);
        energy_distance(x, y).unwrap()
    });
    eprintln!("energy distance {mean} +- {se}, closed form {want}");
    assert!(want > 20.0 * se, "the laws must differ detectably");
    assert!((mean - want).abs() < 4.0 * se, "{mean} +- {se} vs {want}");
    let (mean, se) = replicate(R, || {
        let x = draw(mx, sx, &mut noise);
        let y = draw(mx, sx, &mut noise);
        energy_distance(x, y).unwrap()
    });
    assert!(mean.abs() < 4.0 * se, "equal laws: {mean} +- {se}");
}

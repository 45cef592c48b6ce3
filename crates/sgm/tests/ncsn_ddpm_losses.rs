//! `NcsnLoss` and `DdpmEpsilonLoss` against closed forms on isotropic Gaussian data
//! x ~ N(mu, s^2 I): the expected loss at the exact perturbed score (a constant derived below,
//! checked at 4 standard errors), and the exact minimiser of each loss over affine models on a
//! fixed finite sample of data and noise draws (weighted least squares, solved with nalgebra).

mod common;

use common::LinearScore;
use nalgebra::{DMatrix, DVector};
use sgm::core::tensor::{from_f64, to_f64};
use sgm::prelude::*;

/// Data mean and standard deviation.
const MU: [f64; 3] = [0.5, -1.0, 0.25];
const S: f64 = 0.7;
const D: usize = MU.len();

/// The NCSN levels: sigma_i = SIGMA_MAX (SIGMA_MIN / SIGMA_MAX)^(i / (L - 1)), i = 0..L.
const SIGMA_MIN: f64 = 0.05;
const SIGMA_MAX: f64 = 2.0;
const LEVELS: usize = 6;

/// The DDPM chain, beta_1 first: alpha-bar falls from 0.98 to about 0.06.
const BETAS: [f64; 8] = [0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5];

/// n draws of N(mu, s^2 I), f32, on `device`.
fn data(n: usize, device: &Device, noise: &mut HostNoise) -> Tensor<2> {
    let e = noise.normal_like(&Tensor::<2>::zeros([n, D], device));
    e * S + from_f64(&MU, [1, D], device, DType::F32)
}

/// A score model evaluated row by row on the host in f64: `f(row, t)`.
fn host_score(f: impl Fn(&[f64], f64) -> Vec<f64>) -> impl ScoreModel {
    score_fn(move |x: Tensor<2>, t: Tensor<1>| {
        let [n, d] = x.dims();
        let (xs, ts) = (to_f64(x.clone()), to_f64(t));
        let out: Vec<f64> = (0..n)
            .flat_map(|i| f(&xs[i * d..(i + 1) * d], ts[i]))
            .collect();
        from_f64(&out, [n, d], &x.device(), x.dtype())
    })
}

/// The NCSN levels, computed here from their definition.
fn ncsn_sigmas() -> Vec<f64> {
    (0..LEVELS)
        .map(|i| SIGMA_MAX * (SIGMA_MIN / SIGMA_MAX).powf(i as f64 / (LEVELS - 1) as f64))
        .collect()
}

/// alpha-bar_i = prod_{j <= i} (1 - beta_j) for i = 0..=N (alpha-bar_0 = 1).
fn alpha_bars() -> Vec<f64> {
    let mut out = vec![1.0];
    for beta in BETAS {
        out.push(out.last().unwrap() * (1.0 - beta));
    }
    out
}

/// Mean and standard error of the per-sample term T = c_I Q / k, I uniform over `c`,
/// Q ~ chi^2_d independent of I: E T = d E c / k, E T^2 = E c^2 (2d + d^2) / k^2
/// (E Q^2 = Var Q + (E Q)^2 = 2d + d^2), and the batch mean of n terms has SE sqrt(Var T / n).
fn chi_square_mixture(c: &[f64], k: f64, n: usize) -> (f64, f64) {
    let d = D as f64;
    let mean_c = c.iter().sum::<f64>() / c.len() as f64;
    let mean_c2 = c.iter().map(|c| c * c).sum::<f64>() / c.len() as f64;
    let mean = d * mean_c / k;
    let var = mean_c2 * (2.0 * d + d * d) / (k * k) - mean * mean;
    (mean, (var / n as f64).sqrt())
}

/// NCSN at the exact score of every level: on level i the model sees y = x + sigma_i z with
/// x = mu + s e, and the exact score of p_sigma = N(mu, (s^2 + sigma^2) I) gives
///
/// ```text
/// sigma s*(y) + z = z - sigma (s e + sigma z) / (s^2 + sigma^2) = (s^2 z - sigma s e) / (s^2 + sigma^2),
/// ```
///
/// per dimension N(0, c_i) with c_i = s^2 / (s^2 + sigma_i^2). The per-sample loss
/// 1/2 |sigma s* + z|^2 is c_I chi^2_d / 2, so E L = d/2 mean_i c_i (the conditional-score
/// variance left at the optimum), with the SE of `chi_square_mixture`. The exact model reads
/// the level from its time argument, sigma(t) = sigma_min (sigma_max / sigma_min)^t, so the
/// level-to-time map is under test as well.
///
/// Mutations checked: dropping the sigma^2 weighting (`s * sigma + z` -> `s + z` in
/// `NcsnLoss::loss`) and reversing the level times (`time(i)` -> `1 - time(i)`) both fail this.
#[test]
fn ncsn_loss_at_the_exact_score_is_half_d_times_the_mean_signal_fraction() {
    let device = Device::flex();
    let n = 40_000;
    let c: Vec<f64> = ncsn_sigmas()
        .iter()
        .map(|sigma| S * S / (S * S + sigma * sigma))
        .collect();
    let (expected, se) = chi_square_mixture(&c, 2.0, n);
    let exact = host_score(|y, t| {
        let sigma = SIGMA_MIN * (SIGMA_MAX / SIGMA_MIN).powf(t);
        let v = S * S + sigma * sigma;
        y.iter().zip(MU).map(|(y, m)| -(y - m) / v).collect()
    });
    let mut noise = HostNoise::new(11);
    let x = data(n, &device, &mut noise);
    let loss = NcsnLoss::new(GeometricSigmas::new(SIGMA_MIN, SIGMA_MAX, LEVELS).unwrap()).unwrap();
    let got = f64::from(
        loss.loss(&exact, x, &mut noise)
            .unwrap()
            .into_scalar::<f32>(),
    );
    eprintln!("NCSN at the exact score: {got} vs {expected} +- {se}");
    assert!(
        (got - expected).abs() < 4.0 * se,
        "{got} vs {expected} +- {se}"
    );
}

/// DDPM's L_simple at the exact score: step i sees x_i = a x0 + std eps with a^2 = alpha-bar_i,
/// std^2 = 1 - a^2, and the exact score of q(x_i) = N(a mu, v I), v = a^2 s^2 + std^2, gives
///
/// ```text
/// eps + std s*(x_i) = eps - std (a s e + std eps) / v = (a^2 s^2 eps - std a s e) / v,
/// ```
///
/// per dimension N(0, c_i) with c_i = a^2 s^2 / v. L_simple has no factor 1/2, so the
/// per-sample term is c_I chi^2_d and E L = d mean_i c_i. The exact model maps its time
/// t_i = i / N back to the step i.
///
/// Mutations checked: flipping the sign of the target (`eps + s * std` -> `eps - s * std` in
/// `DdpmEpsilonLoss::loss`), dropping the square root of alpha-bar in the mean, and shifting
/// the step times (`time(i)` -> `time(i - 1)`) all fail this.
#[test]
fn ddpm_loss_at_the_exact_score_is_d_times_the_mean_signal_fraction() {
    let device = Device::flex();
    let n = 40_000;
    let ab = alpha_bars();
    let steps = BETAS.len();
    let c: Vec<f64> = (1..=steps)
        .map(|i| ab[i] * S * S / (ab[i] * S * S + 1.0 - ab[i]))
        .collect();
    let (expected, se) = chi_square_mixture(&c, 1.0, n);
    let exact = host_score(|y, t| {
        let i = (t * steps as f64).round() as usize;
        let (a, v) = (ab[i].sqrt(), ab[i] * S * S + 1.0 - ab[i]);
        y.iter().zip(MU).map(|(y, m)| -(y - a * m) / v).collect()
    });
    let mut noise = HostNoise::new(12);
    let x = data(n, &device, &mut noise);
    let loss = DdpmEpsilonLoss::new(DiscreteBetas::from_betas(BETAS.to_vec()).unwrap()).unwrap();
    let got = f64::from(
        loss.loss(&exact, x, &mut noise)
            .unwrap()
            .into_scalar::<f32>(),
    );
    eprintln!("DDPM at the exact score: {got} vs {expected} +- {se}");
    assert!(
        (got - expected).abs() < 4.0 * se,
        "{got} vs {expected} +- {se}"
    );
}

/// A weighted least-squares objective over affine scores s(y) = A y + b = theta [y; 1]:
/// J(theta) = k / n sum_r w_r |theta [y_r; 1] + u_r|^2.
struct WeightedLeastSquares {
    k: f64,
    rows: Vec<(DVector<f64>, f64, DVector<f64>)>,
}

impl WeightedLeastSquares {
    fn augmented(y: &DVector<f64>) -> DVector<f64> {
        DVector::from_fn(D + 1, |j, _| if j < D { y[j] } else { 1.0 })
    }

    /// The minimiser theta = -(sum w u y~^T)(sum w y~ y~^T)^-1 (normal equations), as
    /// (A row-major, b).
    fn minimiser(&self) -> (Vec<f64>, Vec<f64>) {
        let mut yy = DMatrix::zeros(D + 1, D + 1);
        let mut uy = DMatrix::zeros(D, D + 1);
        for (y, w, u) in &self.rows {
            let y = Self::augmented(y);
            yy += &y * y.transpose() * *w;
            uy += u * y.transpose() * *w;
        }
        let theta = -uy * yy.try_inverse().expect("positive definite");
        let a = theta.columns(0, D).into_owned();
        (
            a.transpose().as_slice().to_vec(),
            theta.column(D).as_slice().to_vec(),
        )
    }

    /// J at (A row-major, b), in f64.
    fn value(&self, (a, b): &(Vec<f64>, Vec<f64>)) -> f64 {
        let a = DMatrix::from_row_slice(D, D, a);
        let b = DVector::from_column_slice(b);
        let total: f64 = self
            .rows
            .iter()
            .map(|(y, w, u)| w * (&a * y + &b + u).norm_squared())
            .sum();
        self.k * total / self.rows.len() as f64
    }
}

/// Checks that `loss` (of a `LinearScore` on the autodiff device) is minimised at the closed
/// form of `objective`: its value there equals J(theta*) computed in f64 from the same draws,
/// and its autodiff gradient there vanishes (relative to the gradient at A = -I, b = 0). The
/// loss is a strictly convex quadratic in theta, so a zero gradient identifies the minimiser.
fn check_minimiser(
    objective: &WeightedLeastSquares,
    device: &Device,
    loss: impl Fn(&LinearScore) -> Tensor<1>,
) {
    let gradient_norm = |model: &LinearScore| {
        let value = loss(model);
        let scalar = f64::from(value.clone().into_scalar::<f32>());
        let grads = value.backward();
        let ga = to_f64(model.a.grad(&grads).expect("A has a gradient"));
        let gb = to_f64(model.b.grad(&grads).expect("b has a gradient"));
        let norm = ga.iter().chain(&gb).map(|g| g * g).sum::<f64>().sqrt();
        (scalar, norm)
    };
    let start = (
        (0..D * D)
            .map(|k| if k / D == k % D { -1.0 } else { 0.0 })
            .collect::<Vec<_>>(),
        vec![0.0; D],
    );
    let best = objective.minimiser();
    let (value_start, grad_start) = gradient_norm(&LinearScore::new(&start.0, &start.1, device));
    let (value_best, grad_best) = gradient_norm(&LinearScore::new(&best.0, &best.1, device));
    eprintln!(
        "start: J {value_start} (f64 {}), |grad| {grad_start}; minimiser: J {value_best} \
         (f64 {}), |grad| {grad_best}",
        objective.value(&start),
        objective.value(&best)
    );
    // f32 means of n = 2048 terms of order one: relative error ~ sqrt(n) 6e-8 ~ 3e-6 typical,
    // n 6e-8 ~ 1.2e-4 at worst for a sequential sum.
    approx::assert_relative_eq!(value_start, objective.value(&start), max_relative = 1e-4);
    approx::assert_relative_eq!(value_best, objective.value(&best), max_relative = 1e-4);
    assert!(value_best < value_start);
    // The gradient at the f32-rounded minimiser is H (theta - theta*) plus f32 round-off in
    // the sums, ~1e-6 of the gradient at the start.
    assert!(
        grad_best < 1e-4 * grad_start,
        "|grad| {grad_best} at the minimiser vs {grad_start} at the start"
    );
}

/// NCSN on a fixed sample with fixed draws (levels and z replayed from a clone of the noise
/// source, drawn in the loss's order: levels, then z) is the weighted least-squares problem
/// 1/2n sum_r sigma_r^2 |theta [y_r; 1] + z_r / sigma_r|^2, y_r = x_r + sigma_r z_r, with
/// minimiser theta* = -(sum sigma z y~^T)(sum sigma^2 y~ y~^T)^-1.
///
/// Mutations checked: dropping the sigma^2 weighting (`s * sigma + z` -> `s + z`) moves the
/// minimiser and fails this.
#[test]
fn ncsn_loss_is_minimised_by_the_weighted_least_squares_affine_score_on_fixed_draws() {
    let device = Device::flex().autodiff();
    let n = 2048;
    let mut noise = HostNoise::new(21);
    let x = data(n, &device, &mut noise);
    let mut replay = noise.clone();
    let u = to_f64(replay.uniform_like(n, 0.0, LEVELS as f64, &x));
    let z = to_f64(replay.normal_like(&x));
    let xs = to_f64(x.clone());
    let sigmas = ncsn_sigmas();
    let rows = (0..n)
        .map(|r| {
            let sigma = sigmas[(u[r].floor() as usize).min(LEVELS - 1)];
            let zr = DVector::from_row_slice(&z[r * D..(r + 1) * D]);
            let y = DVector::from_row_slice(&xs[r * D..(r + 1) * D]) + &zr * sigma;
            (y, sigma * sigma, zr / sigma)
        })
        .collect();
    let objective = WeightedLeastSquares { k: 0.5, rows };
    let loss = NcsnLoss::new(GeometricSigmas::new(SIGMA_MIN, SIGMA_MAX, LEVELS).unwrap()).unwrap();
    check_minimiser(&objective, &device, |model| {
        loss.loss(model, x.clone(), &mut noise.clone()).unwrap()
    });
}

/// L_simple on a fixed sample with fixed draws (steps and eps replayed in the loss's order) is
/// the weighted least-squares problem 1/n sum_r std_r^2 |theta [x_r; 1] + eps_r / std_r|^2 with
/// x_r = sqrt(alpha-bar) x0 + std eps, minimiser theta* = -(sum std eps x~^T)(sum std^2 x~ x~^T)^-1.
///
/// Mutations checked: flipping the sign of the target (`eps + s * std` -> `eps - s * std`)
/// fails this (the minimiser changes sign).
#[test]
fn ddpm_loss_is_minimised_by_the_weighted_least_squares_affine_score_on_fixed_draws() {
    let device = Device::flex().autodiff();
    let n = 2048;
    let steps = BETAS.len();
    let ab = alpha_bars();
    let mut noise = HostNoise::new(22);
    let x0 = data(n, &device, &mut noise);
    let mut replay = noise.clone();
    let u = to_f64(replay.uniform_like(n, 0.0, steps as f64, &x0));
    let eps = to_f64(replay.normal_like(&x0));
    let xs = to_f64(x0.clone());
    let rows = (0..n)
        .map(|r| {
            let i = (u[r].floor() as usize).min(steps - 1) + 1;
            let (a, std) = (ab[i].sqrt(), (1.0 - ab[i]).sqrt());
            let er = DVector::from_row_slice(&eps[r * D..(r + 1) * D]);
            let y = DVector::from_row_slice(&xs[r * D..(r + 1) * D]) * a + &er * std;
            (y, std * std, er / std)
        })
        .collect();
    let objective = WeightedLeastSquares { k: 1.0, rows };
    let loss = DdpmEpsilonLoss::new(DiscreteBetas::from_betas(BETAS.to_vec()).unwrap()).unwrap();
    check_minimiser(&objective, &device, |model| {
        loss.loss(model, x0.clone(), &mut noise.clone()).unwrap()
    });
}

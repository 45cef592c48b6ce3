//! Score-matching losses against closed-form answers on Gaussian data.

mod common;

use burn::optim::{GradientsParams, SgdConfig};
use common::LinearScore;
use nalgebra::{DMatrix, DVector};
use sgm::core::divergence::Projection;
use sgm::core::tensor::{from_f64, to_f64};
use sgm::core::{CoreError, CountingScoreModel};
use sgm::losses::LossError;
use sgm::prelude::*;

/// A sample from N(mu, Sigma) with Sigma = Q diag(lambda) Q^T, lambda in [0.5, 2], and its own
/// mean and (1/n) covariance.
struct Sample {
    x: Tensor<2>,
    mean: DVector<f64>,
    cov: DMatrix<f64>,
}

fn gaussian(d: usize) -> Gaussian {
    // Q from the QR factorisation of a fixed matrix; eigenvalues spread over [0.5, 2].
    let m = DMatrix::from_fn(d, d, |i, j| {
        ((i * 7 + j * 3) % 11) as f64 / 11.0 - 0.5 + if i == j { 1.0 } else { 0.0 }
    });
    let q = m.qr().q();
    let lambda = DVector::from_fn(d, |i, _| 0.5 + 1.5 * i as f64 / (d - 1).max(1) as f64);
    let sigma = &q * DMatrix::from_diagonal(&lambda) * q.transpose();
    let sigma = (&sigma + sigma.transpose()) * 0.5;
    let mean: Vec<f64> = (0..d).map(|i| 0.5 * (i as f64 + 1.0).sin()).collect();
    Gaussian::new(mean, sigma.transpose().as_slice().to_vec()).unwrap()
}

fn sample(d: usize, n: usize, device: &Device, seed: u64) -> Sample {
    let x = gaussian(d).sample(n, device, DType::F32, &mut HostNoise::new(seed));
    let values = to_f64(x.clone());
    let data = DMatrix::from_row_slice(n, d, &values);
    let mean = DVector::from_fn(d, |k, _| data.column(k).mean());
    let centred = DMatrix::from_fn(n, d, |i, k| data[(i, k)] - mean[k]);
    let cov = centred.transpose() * &centred / n as f64;
    Sample { x, mean, cov }
}

/// The minimiser A = -C^-1, b = C^-1 mean of 1/2 E|A x + b|^2 + tr A-type objectives, with
/// C = Sigma-hat (+ sigma^2 I for DSM).
fn minimiser(cov: &DMatrix<f64>, mean: &DVector<f64>) -> (Vec<f64>, Vec<f64>) {
    let inv = cov.clone().try_inverse().expect("invertible");
    let a = -&inv;
    let b = &inv * mean;
    (a.transpose().as_slice().to_vec(), b.as_slice().to_vec())
}

fn relative_error(got: &(Vec<f64>, Vec<f64>), want: &(Vec<f64>, Vec<f64>)) -> f64 {
    let diff: f64 = got
        .0
        .iter()
        .chain(&got.1)
        .zip(want.0.iter().chain(&want.1))
        .map(|(g, w)| (g - w).powi(2))
        .sum();
    let norm: f64 = want.0.iter().chain(&want.1).map(|w| w * w).sum();
    (diff / norm).sqrt()
}

/// Plain SGD on a linear score model from A = -I, b = 0, with the iterates averaged after
/// `burn_in` steps (Polyak-Ruppert averaging: for a stochastic objective the average converges
/// to the minimiser of the expected loss at the Monte Carlo rate of all noise draws used).
fn train(
    d: usize,
    steps: usize,
    burn_in: usize,
    lr: f64,
    device: &Device,
    mut loss: impl FnMut(&LinearScore) -> Tensor<1>,
) -> (Vec<f64>, Vec<f64>) {
    let eye: Vec<f64> = (0..d * d)
        .map(|k| if k / d == k % d { -1.0 } else { 0.0 })
        .collect();
    let mut model = LinearScore::new(&eye, &vec![0.0; d], device);
    let mut optim = SgdConfig::new().init();
    let (mut sum_a, mut sum_b) = (vec![0.0; d * d], vec![0.0; d]);
    for step in 0..steps {
        let grads = GradientsParams::from_grads(loss(&model).backward(), &model);
        model = optim.step(lr, model, grads);
        if step >= burn_in {
            let (a, b) = model.values();
            sum_a.iter_mut().zip(a).for_each(|(s, v)| *s += v);
            sum_b.iter_mut().zip(b).for_each(|(s, v)| *s += v);
        }
    }
    let count = (steps - burn_in) as f64;
    (
        sum_a.iter().map(|s| s / count).collect(),
        sum_b.iter().map(|s| s / count).collect(),
    )
}

/// The acceptance bound of the issue: 1e-3 relative error (Frobenius, over [A, b]).
const TOLERANCE: f64 = 1e-3;

/// The objectives of the linear-model tests, each with its fresh-noise minimiser (the
/// expectation over projections or denoising noise, in closed form from the data sample).
#[derive(Debug, Clone, Copy)]
enum Objective {
    Esm,
    Ism,
    Ssm(Projection),
    SsmVr(Projection),
    Dsm(f64),
}

impl Objective {
    fn all(sigma: f64) -> Vec<Objective> {
        let kinds = [
            Projection::Gaussian,
            Projection::Rademacher,
            Projection::Sphere,
        ];
        let mut all = vec![Objective::Esm, Objective::Ism];
        all.extend(kinds.iter().map(|&k| Objective::Ssm(k)));
        all.extend(kinds.iter().map(|&k| Objective::SsmVr(k)));
        all.push(Objective::Dsm(sigma));
        all
    }

    fn is_stochastic(self) -> bool {
        !matches!(self, Objective::Esm | Objective::Ism)
    }

    /// The loss of a linear model on `x`, with `projections` directions for SSM.
    fn loss(
        self,
        model: &LinearScore,
        x: &Tensor<2>,
        data: &Sample,
        projections: usize,
        noise: &mut HostNoise,
    ) -> Tensor<1> {
        let fixed = NoiseConditioning::fixed(0.0).unwrap();
        match self {
            Objective::Esm => {
                let empirical = Gaussian::new(
                    data.mean.as_slice().to_vec(),
                    data.cov.transpose().as_slice().to_vec(),
                )
                .unwrap();
                let vp = VpSde::default(); // unused under Fixed conditioning
                let target = empirical.perturbed(&vp);
                ExplicitScoreMatching::new(&target, fixed).loss(model, x.clone(), noise)
            }
            Objective::Ism => {
                ImplicitScoreMatching::new(fixed)
                    .unwrap()
                    .loss(model, x.clone(), noise)
            }
            Objective::Ssm(k) => SlicedScoreMatching::new(k, projections, fixed)
                .unwrap()
                .loss(model, x.clone(), noise),
            Objective::SsmVr(k) => SlicedScoreMatching::variance_reduced(k, projections, fixed)
                .unwrap()
                .loss(model, x.clone(), noise),
            Objective::Dsm(sigma) => {
                DenoisingScoreMatching::new(sigma, 0.0)
                    .unwrap()
                    .loss(model, x.clone(), noise)
            }
        }
        .unwrap()
    }

    /// The minimiser of the loss in expectation over its noise: A = -C^-1, b = C^-1 mean with
    /// C = Sigma-hat, or Sigma-hat + sigma^2 I for DSM (E_z of |A(x + sigma z) + b + z/sigma|^2).
    fn expected_minimiser(self, data: &Sample) -> (Vec<f64>, Vec<f64>) {
        let d = data.mean.len();
        match self {
            Objective::Dsm(sigma) => minimiser(
                &(&data.cov + DMatrix::identity(d, d) * (sigma * sigma)),
                &data.mean,
            ),
            _ => minimiser(&data.cov, &data.mean),
        }
    }

    /// The exact minimiser of the loss with its noise draws held fixed (the draws the loss
    /// makes from a clone of `noise`), solved with nalgebra: theta = [A b] minimises a quadratic
    /// whose normal equations the test builds from the same projections or noise.
    fn fixed_noise_minimiser(
        self,
        data: &Sample,
        projections: usize,
        noise: &HostNoise,
    ) -> (Vec<f64>, Vec<f64>) {
        let d = data.mean.len();
        let xs = to_f64(data.x.clone());
        let n = xs.len() / d;
        let tilde =
            |i: usize| DVector::from_fn(d + 1, |k, _| if k < d { xs[i * d + k] } else { 1.0 });
        let split = |theta: DMatrix<f64>| {
            let a = theta.columns(0, d).into_owned();
            (
                a.transpose().as_slice().to_vec(),
                theta.column(d).as_slice().to_vec(),
            )
        };
        let second_moment = (0..n).fold(DMatrix::zeros(d + 1, d + 1), |acc, i| {
            acc + tilde(i) * tilde(i).transpose()
        }) / n as f64;
        match self {
            Objective::Esm | Objective::Ism => self.expected_minimiser(data),
            Objective::Ssm(kind) | Objective::SsmVr(kind) => {
                let v = to_f64(
                    kind.sample(projections, &data.x, &mut noise.clone())
                        .unwrap(),
                ); // [n, K, d]
                let vk = |k: usize, i: usize| {
                    let row = i * projections + k;
                    DVector::from_row_slice(&v[row * d..(row + 1) * d])
                };
                let draws = (n * projections) as f64;
                let mut m = DMatrix::zeros(d, d);
                let mut per_sample = vec![DMatrix::<f64>::zeros(d, d); n];
                for k in 0..projections {
                    for (i, acc) in per_sample.iter_mut().enumerate() {
                        let outer = vk(k, i) * vk(k, i).transpose();
                        m += &outer;
                        *acc += outer;
                    }
                }
                m /= draws;
                let mut rhs = DMatrix::zeros(d, d + 1);
                rhs.columns_mut(0, d).copy_from(&(-&m));
                if matches!(self, Objective::SsmVr(_)) {
                    // grad: M + theta S = 0 (S the second moment of x~).
                    split(&rhs * second_moment.try_inverse().unwrap())
                } else {
                    // grad: M + (1/nK) sum_ik v v^T theta x~ x~^T = 0, i.e.
                    // [(1/nK) sum_i x~ x~^T (kron) V_i] vec(theta) = -vec(M).
                    let mut h = DMatrix::zeros(d * (d + 1), d * (d + 1));
                    for (i, vv) in per_sample.iter().enumerate() {
                        h += (tilde(i) * tilde(i).transpose()).kronecker(vv);
                    }
                    h /= draws;
                    let theta = h
                        .lu()
                        .solve(&DVector::from_column_slice(rhs.as_slice()))
                        .unwrap();
                    split(DMatrix::from_column_slice(d, d + 1, theta.as_slice()))
                }
            }
            Objective::Dsm(sigma) => {
                // Least squares: theta minimises sum_i |theta y_i + z_i / sigma|^2, y = [x + sigma z; 1].
                let z = to_f64(noise.clone().normal_like(&data.x));
                let zi = |i: usize| DVector::from_row_slice(&z[i * d..(i + 1) * d]);
                let y = |i: usize| {
                    DVector::from_fn(d + 1, |k, _| {
                        if k < d {
                            xs[i * d + k] + sigma * z[i * d + k]
                        } else {
                            1.0
                        }
                    })
                };
                let yy = (0..n).fold(DMatrix::zeros(d + 1, d + 1), |acc, i| {
                    acc + y(i) * y(i).transpose()
                });
                let zy = (0..n).fold(DMatrix::zeros(d, d + 1), |acc, i| {
                    acc + zi(i) * y(i).transpose()
                });
                split(-(zy / sigma) * yy.try_inverse().unwrap())
            }
        }
    }
}

/// Training with the noise draws held fixed reaches the exact minimiser of the finite sample
/// (data and draws) for every objective: a check of the loss values and their gradients that
/// is free of Monte Carlo error, in any dimension.
fn check_fixed_noise(d: usize, n: usize, projections: usize) {
    let device = Device::flex().autodiff();
    let data = sample(d, n, &device, 30 + d as u64);
    let base = HostNoise::new(40 + d as u64);
    let mut errors = Vec::new();
    for objective in Objective::all(0.1) {
        let want = objective.fixed_noise_minimiser(&data, projections, &base);
        let got = train(d, 400, 399, 0.3, &device, |m| {
            objective.loss(m, &data.x, &data, projections, &mut base.clone())
        });
        errors.push((objective, relative_error(&got, &want)));
    }
    eprintln!("fixed noise, d = {d}: {errors:?}");
    // f32 gradients over n K draws: the converged iterate is exact to ~1e-6; 1e-4 leaves room.
    assert!(errors.iter().all(|(_, e)| *e < 1e-4), "d = {d}: {errors:?}");
}

#[test]
fn fixed_noise_training_reaches_the_exact_finite_sample_minimiser_in_2d() {
    check_fixed_noise(2, 1024, 8);
}

#[test]
fn fixed_noise_training_reaches_the_exact_finite_sample_minimiser_in_16d() {
    check_fixed_noise(16, 512, 8);
}

/// Training with fresh noise every step reaches the minimiser in expectation over the noise,
/// the closed form of the data sample (-Sigma-hat^-1 and Sigma-hat^-1 mean-hat; DSM with its
/// sigma^2 shift), within the issue's 1e-3. The averaged iterate carries the Monte Carlo error
/// of all the draws it used, C / sqrt(draws): with n = 1024 points, 64 projections (or 64
/// noise copies) per point and 1,000 averaged steps (6.6e7 draws) the errors measured here are
/// at most 3.5e-4 (non-reduced Gaussian SSM; C ~ 3 in d = 2).
///
/// In d = 16, C grows with d (the (v^T s)^2 term's variance is ~ |s|^2 ~ d): 1e-3 would need
/// about 1e9 projection draws for non-reduced SSM, minutes per objective on two cores, so
/// d = 16 is checked through the exact fixed-noise minimisers above, and the estimators'
/// unbiasedness through `sliced_estimators_average_to_ism`.
#[test]
fn fresh_noise_training_reaches_the_expected_minimiser_in_2d() {
    let (d, n, repeats) = (2, 1024, 64);
    let device = Device::flex().autodiff();
    let data = sample(d, n, &device, 12);
    let mut noise = HostNoise::new(13);
    let x_rep = Tensor::cat(vec![data.x.clone(); repeats], 0);
    let mut errors = Vec::new();
    for objective in Objective::all(0.25) {
        let (steps, burn_in) = if objective.is_stochastic() {
            (1100, 100)
        } else {
            (400, 399)
        };
        // SSM takes its repeats as projections; DSM as copies of the data with fresh noise.
        let x = if matches!(objective, Objective::Dsm(_)) {
            &x_rep
        } else {
            &data.x
        };
        let got = train(d, steps, burn_in, 0.3, &device, |m| {
            objective.loss(m, x, &data, repeats, &mut noise)
        });
        errors.push((
            objective,
            relative_error(&got, &objective.expected_minimiser(&data)),
        ));
    }
    eprintln!("fresh noise, d = {d}: {errors:?}");
    assert!(errors.iter().all(|(_, e)| *e < TOLERANCE), "{errors:?}");
}

#[test]
fn ism_equals_esm_plus_a_constant_on_the_sample() {
    // For an affine model on a finite sample with the sample's own Gaussian as ESM target,
    // E[s . s*] = -tr A exactly, so ISM - ESM = -1/2 E|s*|^2 = -1/2 tr(Sigma-hat^-1) for every A, b.
    let device = Device::flex();
    let d = 3;
    let data = sample(d, 4096, &device, 5);
    let empirical = Gaussian::new(
        data.mean.as_slice().to_vec(),
        data.cov.transpose().as_slice().to_vec(),
    )
    .unwrap();
    let vp = VpSde::default();
    let target = empirical.perturbed(&vp);
    let constant = -0.5 * data.cov.clone().try_inverse().unwrap().trace();
    let fixed = NoiseConditioning::fixed(0.0).unwrap();
    let mut noise = HostNoise::new(0);
    for k in 0..4 {
        let a: Vec<f64> = (0..d * d).map(|i| ((i + k) as f64 * 1.3).sin()).collect();
        let b: Vec<f64> = (0..d).map(|i| (i + 2 * k) as f64 * 0.2 - 0.3).collect();
        let model = LinearScore::new(&a, &b, &device);
        let ism: f32 = ImplicitScoreMatching::new(fixed.clone())
            .unwrap()
            .loss(&model, data.x.clone(), &mut noise)
            .unwrap()
            .into_scalar();
        let esm: f32 = ExplicitScoreMatching::new(&target, fixed.clone())
            .loss(&model, data.x.clone(), &mut noise)
            .unwrap()
            .into_scalar();
        // f32 sums of 4096 terms of size ~10: relative precision ~1e-5.
        approx::assert_relative_eq!(f64::from(ism - esm), constant, max_relative = 1e-4);
    }
}

/// Mean and standard error of a list of independent estimates.
fn mean_se(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

#[test]
fn ism_minus_esm_is_the_population_constant_for_an_mlp() {
    // For any model, E_p[ISM - ESM] = -1/2 E_p|grad log p|^2 = -1/2 tr(Sigma^-1) by integration
    // by parts. Per batch the difference is random: compare the mean over 40 independent
    // batches with the constant at 4 standard errors.
    let device = Device::flex();
    let g = gaussian(2);
    let vp = VpSde::default();
    let target = g.perturbed(&vp);
    let net = ScoreMlpConfig::new(2)
        .with_hidden(16)
        .with_fourier_features(0)
        .init(&device)
        .unwrap();
    let sigma = DMatrix::from_row_slice(2, 2, g.cov());
    let constant = -0.5 * sigma.try_inverse().unwrap().trace();
    let fixed = NoiseConditioning::fixed(0.0).unwrap();
    let mut noise = HostNoise::new(3);
    let diffs: Vec<f64> = (0..40)
        .map(|_| {
            let x = g.sample(500, &device, DType::F32, &mut noise);
            let ism: f32 = ImplicitScoreMatching::new(fixed.clone())
                .unwrap()
                .loss(&net, x.clone(), &mut noise)
                .unwrap()
                .into_scalar();
            let esm: f32 = ExplicitScoreMatching::new(&target, fixed.clone())
                .loss(&net, x, &mut noise)
                .unwrap()
                .into_scalar();
            f64::from(ism - esm)
        })
        .collect();
    let (mean, se) = mean_se(&diffs);
    assert!(
        (mean - constant).abs() < 4.0 * se,
        "ISM - ESM = {mean} +- {se}, constant {constant}"
    );
}

#[test]
fn sliced_estimators_average_to_ism() {
    // On one fixed batch, E_v[SSM] = E_v[SSM-VR] = ISM: the mean over 200 independent projection
    // draws is within 4 standard errors of the exact-trace value.
    let device = Device::flex();
    let net = ScoreMlpConfig::new(3)
        .with_hidden(16)
        .with_fourier_features(0)
        .init(&device)
        .unwrap();
    let x = gaussian(3).sample(64, &device, DType::F32, &mut HostNoise::new(4));
    let fixed = NoiseConditioning::fixed(0.0).unwrap();
    let mut noise = HostNoise::new(5);
    let ism: f32 = ImplicitScoreMatching::new(fixed.clone())
        .unwrap()
        .loss(&net, x.clone(), &mut noise)
        .unwrap()
        .into_scalar();
    for kind in [
        Projection::Gaussian,
        Projection::Rademacher,
        Projection::Sphere,
    ] {
        for reduced in [false, true] {
            let ssm = if reduced {
                SlicedScoreMatching::variance_reduced(kind, 2, fixed.clone()).unwrap()
            } else {
                SlicedScoreMatching::new(kind, 2, fixed.clone()).unwrap()
            };
            let draws: Vec<f64> = (0..200)
                .map(|_| {
                    f64::from(
                        ssm.loss(&net, x.clone(), &mut noise)
                            .unwrap()
                            .into_scalar::<f32>(),
                    )
                })
                .collect();
            let (mean, se) = mean_se(&draws);
            assert!(
                (mean - f64::from(ism)).abs() < 4.0 * se,
                "{kind:?} (reduced {reduced}): {mean} +- {se} vs ISM {ism}"
            );
        }
    }
}

#[test]
fn ism_and_ssm_batch_their_directions_into_one_jvp_call() {
    let device = Device::flex();
    let (d, batch, k) = (5, 7, 3);
    let model =
        CountingScoreModel::new(LinearScore::new(&vec![0.1; d * d], &vec![0.0; d], &device));
    let x = Tensor::<2>::ones([batch, d], &device);
    let fixed = NoiseConditioning::fixed(0.0).unwrap();
    let mut noise = HostNoise::new(0);
    ImplicitScoreMatching::new(fixed.clone())
        .unwrap()
        .loss(&model, x.clone(), &mut noise)
        .unwrap();
    assert_eq!(
        (model.jvp_calls(), model.score_calls(), model.rows()),
        (1, 0, d * batch)
    );
    model.reset();
    SlicedScoreMatching::new(Projection::Gaussian, k, fixed)
        .unwrap()
        .loss(&model, x, &mut noise)
        .unwrap();
    assert_eq!(
        (model.jvp_calls(), model.score_calls(), model.rows()),
        (1, 0, k * batch)
    );
}

#[test]
fn bad_input_gives_typed_errors() {
    let device = Device::flex();
    let x = Tensor::<2>::ones([4, 2], &device);
    let wrong_width = score_fn(|x: Tensor<2>, _t| Tensor::cat(vec![x.clone(), x], 1));
    let fixed = NoiseConditioning::fixed(0.0).unwrap();
    let mut noise = HostNoise::new(0);
    let mismatch = LossError::Core(CoreError::ShapeMismatch {
        what: "score model output",
        expected: vec![4, 2],
        found: vec![4, 4],
    });
    // ISM batches its d = 2 directions into one JVP call on [2 * 4, 2]; the closure's default
    // finite-difference JVP evaluates the [3 * 8, 2] stack, and the model's [24, 4] answer is
    // passed through unsplit, so the error names it.
    assert_eq!(
        ImplicitScoreMatching::new(fixed.clone())
            .unwrap()
            .loss(&wrong_width, x.clone(), &mut noise)
            .unwrap_err(),
        LossError::Core(CoreError::ShapeMismatch {
            what: "score model output",
            expected: vec![8, 2],
            found: vec![24, 4]
        })
    );
    assert_eq!(
        DenoisingScoreMatching::new(0.5, 0.0)
            .unwrap()
            .loss(&wrong_width, x.clone(), &mut noise)
            .unwrap_err(),
        mismatch
    );
    let vp = VpSde::default();
    let dsm = ContinuousDsm::new(&vp, Weighting::StdSquared, 1e-3).unwrap();
    assert_eq!(dsm.loss(&wrong_width, x, &mut noise).unwrap_err(), mismatch);
    assert_eq!(
        DenoisingScoreMatching::new(0.0, 0.0).unwrap_err(),
        LossError::Core(CoreError::InvalidParameter {
            name: "sigma",
            value: 0.0,
            requirement: "finite and > 0"
        })
    );
    assert!(DenoisingScoreMatching::new(-1.0, 0.0).is_err());
    assert_eq!(
        SlicedScoreMatching::new(Projection::Rademacher, 0, fixed).unwrap_err(),
        LossError::Core(CoreError::ZeroCount {
            name: "projections"
        })
    );
    assert!(ContinuousDsm::new(&vp, Weighting::StdSquared, -0.1).is_err());
    assert!(
        ContinuousDsm::new(
            &vp,
            Weighting::Likelihood {
                importance_sampling: true
            },
            0.0
        )
        .is_err()
    );
    assert!(NoiseConditioning::perturbed(vp, 0.5, 0.1).is_err());
    let _ = from_f64(&[0.0], [1], &device, DType::F32);
}

/// Isotropic Gaussian data N(mu, s^2 I) for the likelihood-weighting tests.
const LIK_MU: [f64; 3] = [0.5, -1.0, 0.25];
const LIK_S: f64 = 0.7;
/// The time range (t_max < T so that a dropped factor (t_max - t_min) shows).
const LIK_T: (f64, f64) = (0.01, 0.5);

/// int_0^t beta for the default VP SDE, beta(u) = 0.1 + (20 - 0.1) u.
fn vp_integrated_beta(t: f64) -> f64 {
    0.1 * t + 0.5 * (20.0 - 0.1) * t * t
}

/// The likelihood-weighted DSM loss at the exact perturbed score of N(mu, s^2 I) under the
/// default VP SDE, in closed form. With m^2 = exp(-int beta), std^2 = 1 - m^2 and x_t = m x0 +
/// std z, the exact score s* = -(x_t - m mu) / v, v = m^2 s^2 + std^2, gives per dimension
/// std s* + z = (m^2 s^2 z - std m s e) / v ~ N(0, m^2 s^2 / v), so
/// E 1/2 |std s* + z|^2 = d/2 s^2 SNR / (1 + s^2 SNR) with SNR = m^2 / std^2. The weight
/// g^2 / std^2 (the term lambda 1/2 |s + z/std|^2 with lambda = g^2) is -d log SNR / dt for VP
/// (d log m^2/dt = -beta, d log std^2/dt = beta m^2 / std^2, their difference -beta / std^2),
/// so with u = log SNR
///
/// ```text
/// L = int_{t_min}^{t_max} (-du/dt) d/2 s^2 e^u / (1 + s^2 e^u) dt
///   = d/2 [ln(1 + s^2 SNR(t_min)) - ln(1 + s^2 SNR(t_max))].
/// ```
fn likelihood_weighted_exact_loss() -> f64 {
    let snr = |t: f64| {
        let m2 = (-vp_integrated_beta(t)).exp();
        m2 / (1.0 - m2)
    };
    let s2 = LIK_S * LIK_S;
    let d = LIK_MU.len() as f64;
    0.5 * d * ((1.0 + s2 * snr(LIK_T.0)).ln() - (1.0 + s2 * snr(LIK_T.1)).ln())
}

/// Mean and SE of the likelihood-weighted loss at the exact VP score over 40 independent
/// batches of 4096 (SE = sample standard deviation of the batch losses / sqrt(40)).
fn likelihood_weighted_loss_at_the_exact_score(importance_sampling: bool) -> (f64, f64) {
    let device = Device::flex();
    let d = LIK_MU.len();
    let exact = score_fn(|x: Tensor<2>, t: Tensor<1>| {
        let [n, _] = x.dims();
        let (xs, ts) = (to_f64(x.clone()), to_f64(t));
        let out: Vec<f64> = (0..n * d)
            .map(|k| {
                let m = (-0.5 * vp_integrated_beta(ts[k / d])).exp();
                let v = m * m * LIK_S * LIK_S + 1.0 - m * m;
                -(xs[k] - m * LIK_MU[k % d]) / v
            })
            .collect();
        from_f64(&out, [n, d], &x.device(), x.dtype())
    });
    let vp = VpSde::default();
    let dsm = ContinuousDsm::with_time_range(
        &vp,
        Weighting::Likelihood {
            importance_sampling,
        },
        LIK_T.0,
        LIK_T.1,
    )
    .unwrap();
    let mut noise = HostNoise::new(if importance_sampling { 61 } else { 62 });
    let mu = from_f64(&LIK_MU, [1, d], &device, DType::F32);
    let batches: Vec<f64> = (0..40)
        .map(|_| {
            let x0 =
                noise.normal_like(&Tensor::<2>::zeros([4096, d], &device)) * LIK_S + mu.clone();
            f64::from(
                dsm.loss(&exact, x0, &mut noise)
                    .unwrap()
                    .into_scalar::<f32>(),
            )
        })
        .collect();
    mean_se(&batches)
}

/// Uniform t: the estimator (t_max - t_min) g^2 / std^2 1/2 |std s + z|^2 averages to the
/// closed form of `likelihood_weighted_exact_loss` (about 8.2 here).
///
/// Mutations checked: dropping the factor (t_max - t_min), or the ratio g^2 / std^2, in
/// `ContinuousDsm::loss` fails this.
#[test]
fn likelihood_weighted_dsm_with_uniform_time_matches_the_log_snr_closed_form() {
    let expected = likelihood_weighted_exact_loss();
    let (mean, se) = likelihood_weighted_loss_at_the_exact_score(false);
    eprintln!("likelihood weighting, uniform t: {mean} +- {se} vs {expected}");
    assert!(
        (mean - expected).abs() < 4.0 * se,
        "{mean} +- {se} vs {expected}"
    );
}

/// Importance-sampled t (density g^2 / std^2 / Z): the estimator Z/2 |std s + z|^2 has the
/// same expectation as the uniform one, the closed form of `likelihood_weighted_exact_loss`,
/// and a smaller standard error (the weight's 1/t blow-up at small t is sampled, not
/// multiplied).
///
/// Mutations checked: dropping the normaliser Z, or sampling only half the log-SNR range
/// (`u * (-self.normalizer())` -> `u * (-0.5 * self.normalizer())` in `SnrImportance::sample`),
/// fails this.
#[test]
fn likelihood_weighted_dsm_with_importance_sampling_matches_the_log_snr_closed_form() {
    let expected = likelihood_weighted_exact_loss();
    let (mean, se) = likelihood_weighted_loss_at_the_exact_score(true);
    let (_, se_uniform) = likelihood_weighted_loss_at_the_exact_score(false);
    eprintln!(
        "likelihood weighting, importance-sampled t: {mean} +- {se} (uniform SE {se_uniform}) \
         vs {expected}"
    );
    assert!(
        (mean - expected).abs() < 4.0 * se,
        "{mean} +- {se} vs {expected}"
    );
    assert!(se < se_uniform, "SE {se} vs uniform {se_uniform}");
}

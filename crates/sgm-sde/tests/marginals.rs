//! The SDEs' closed-form marginals against simulation, hand values and each other.

use burn::prelude::*;
use burn::tensor::DType;
use proptest::prelude::*;
use sgm_core::tensor::{column, from_f64, to_f64};
use sgm_core::{CoreError, HostNoise, NoiseSourceExt};
use sgm_schedules::{BetaSchedule, DiscreteBetas, SigmaSchedule};
use sgm_sde::{
    Ancestral, BrownianMotion, CorrectorAlpha, DdpmMarginals, Discretize, GaussianMarginals,
    LinearSde, OrnsteinUhlenbeck, Sde, SubVpSde, UnitAlpha, VeSde, VpSde,
    euler_maruyama_discretization,
};
use std::marker::PhantomData;

fn device() -> Device {
    Device::flex()
}

fn times(ts: &[f64], dtype: DType) -> Tensor<1> {
    from_f64(ts, [ts.len()], &device(), dtype)
}

fn all_sdes() -> Vec<Box<dyn LinearSde>> {
    vec![
        Box::new(VeSde::default()),
        Box::new(VpSde::default()),
        Box::new(SubVpSde::default()),
        Box::new(OrnsteinUhlenbeck::new(0.7, 1.0).unwrap()),
        Box::new(BrownianMotion::new(1.0).unwrap()),
    ]
}

/// g(t) of each SDE of [`all_sdes`] (same order) computed on the host from its schedule or its
/// documented closed form (the table of the crate docs): the scalar counterpart of the tensor
/// `diffusion`, which the `Sde` trait no longer has.
fn host_diffusions() -> Vec<fn(f64) -> f64> {
    vec![
        // VE: sigma(t) sqrt(2 ln(sigma_max / sigma_min)).
        |t| {
            let ve = VeSde::default();
            ve.sigma().sigma(t) * (2.0 * ve.sigma().log_ratio()).sqrt()
        },
        // VP: sqrt(beta(t)).
        |t| VpSde::default().beta().beta(t).sqrt(),
        // sub-VP: sqrt(beta(t) (1 - exp(-2 B(t)))).
        |t| {
            let beta = *SubVpSde::default().beta();
            (beta.beta(t) * -(-2.0 * beta.integral(t)).exp_m1()).sqrt()
        },
        // OU with theta = 0.7: sqrt(2 theta).
        |_| 1.4f64.sqrt(),
        // Brownian motion: 1.
        |_| 1.0,
    ]
}

/// The library's tensor g(t) at one time, in f64.
fn diffusion_at<S: Sde + ?Sized>(sde: &S, t: f64) -> f64 {
    to_f64(sde.diffusion(times(&[t], DType::F64)))[0]
}

/// Whether `T` implements [`Ancestral`], as a constant: the inherent constant of
/// `Implements<T>` exists only when `T: Ancestral` and then shadows the trait's `false`.
struct Implements<T>(PhantomData<T>);
trait NotAncestral {
    const ANCESTRAL: bool = false;
}
impl<T> NotAncestral for Implements<T> {}
impl<T: Ancestral> Implements<T> {
    const ANCESTRAL: bool = true;
}

fn mean_and_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// Simulates dx = f dt + g dW from x0 with `steps` Euler-Maruyama steps up to `t`, and
/// compares the sample mean and std with m(t) x0 and std(t).
fn check_simulation<S: LinearSde>(sde: &S, t: f64, seed: u64) {
    let (particles, dim, steps, x0) = (10_000, 2, 1_000, 1.5);
    let mut noise = HostNoise::new(seed);
    let mut x = Tensor::<2>::full([particles, dim], x0, &device());
    let dt = t / steps as f64;
    for i in 0..steps {
        let ti = i as f64 * dt;
        let tt = sgm_core::tensor::time_like(ti, &x);
        let z = noise.normal_like(&x);
        let g = column(sde.diffusion(tt.clone()));
        x = x.clone() + sde.drift(x, tt) * dt + z * g * dt.sqrt();
    }
    let (mean, std) = mean_and_std(&to_f64(x));
    let (want_mean, want_std) = (sde.mean_coeff_at(t) * x0, sde.std_at(t));
    let n = (particles * dim) as f64;
    // Sample mean: standard error std/sqrt(n). Sample std: asymptotic standard error
    // std/sqrt(2n) for Gaussian data. Bound both at 4 standard errors. The Euler-Maruyama bias
    // of these linear SDEs at dt = t/1000 is below 0.5% of the variance (VE, the worst: the
    // left Riemann sum of g^2 = c exp(2 k t), k = ln 5000, errs by about k dt), a quarter of the
    // bound on the std.
    assert!(
        (mean - want_mean).abs() < 4.0 * want_std / n.sqrt(),
        "{}: mean {mean}, exact {want_mean}",
        sde.name()
    );
    assert!(
        (std - want_std).abs() < 4.0 * want_std / (2.0 * n).sqrt(),
        "{}: std {std}, exact {want_std}",
        sde.name()
    );
}

#[test]
fn euler_maruyama_simulation_matches_exact_marginals() {
    check_simulation(&VeSde::default(), 0.5, 1);
    check_simulation(&VpSde::default(), 0.5, 2);
    check_simulation(&SubVpSde::default(), 0.5, 3);
    check_simulation(&OrnsteinUhlenbeck::new(1.0, 2.0).unwrap(), 0.5, 4);
    check_simulation(&BrownianMotion::new(1.0).unwrap(), 0.5, 5);
}

#[test]
fn vp_mean_coefficient_matches_hand_value() {
    // log m(0.5) = -(0.5^2 * 19.9 / 4 + 0.5 * 0.1 / 2) = -1.26875, m = 0.281178...
    let vp = VpSde::new(0.1, 20.0).unwrap();
    assert!((vp.mean_coeff_at(0.5) - 0.28118).abs() < 5e-6);
    let m = to_f64(vp.mean_coeff(times(&[0.5], DType::F32)));
    assert!((m[0] - (-1.26875f64).exp()).abs() < 1e-6);
}

#[test]
fn f32_stds_near_zero_match_f64_references() {
    let ts = [1e-5, 0.5, 1.0];
    let ln_r = (50.0f64 / 0.01).ln();
    let b = |t: f64| 0.1 * t + 0.5 * 19.9 * t * t;
    let ve_ref: Vec<f64> = ts
        .iter()
        .map(|&t| 0.01 * ((2.0 * t * ln_r).exp_m1()).sqrt())
        .collect();
    let sub_ref: Vec<f64> = ts.iter().map(|&t| -(-b(t)).exp_m1()).collect();
    let vp_ref: Vec<f64> = ts.iter().map(|&t| (-(-b(t)).exp_m1()).sqrt()).collect();
    let cases: Vec<(Box<dyn GaussianMarginals>, &Vec<f64>)> = vec![
        (Box::new(VeSde::default()), &ve_ref),
        (Box::new(SubVpSde::default()), &sub_ref),
        (Box::new(VpSde::default()), &vp_ref),
    ];
    for (sde, want) in cases {
        let got = to_f64(sde.std(times(&ts, DType::F32)));
        for (g, w) in got.iter().zip(want.iter()) {
            // f32 has 6e-8 relative precision; a few operations accumulate a few ulps.
            assert!((g / w - 1.0).abs() < 2e-6, "std {g}, f64 reference {w}");
        }
    }
    // Hand values: VE std(1e-5) = 0.01 sqrt(expm1(2e-5 ln 5000)) = 0.01 sqrt(1.70358e-4),
    // sub-VP std(1e-5) = -expm1(-B) with B = 0.1e-5 + 19.9e-10 / 2 = 1.000995e-6.
    approx::assert_relative_eq!(ve_ref[0], 1.305_214e-4, max_relative = 1e-6);
    approx::assert_relative_eq!(sub_ref[0], 1.000_994_5e-6, max_relative = 1e-6);
}

#[test]
fn scalar_and_tensor_versions_agree_for_every_sde() {
    let ts = [1e-4, 0.1, 0.5, 0.9, 1.0];
    for (sde, host_g) in all_sdes().into_iter().zip(host_diffusions()) {
        let t = times(&ts, DType::F64);
        let m = to_f64(sde.log_mean_coeff(t.clone()));
        let s = to_f64(sde.std(t.clone()));
        let g = to_f64(sde.diffusion(t.clone()));
        let a = to_f64(sde.drift_coeff(t));
        for (k, &tv) in ts.iter().enumerate() {
            approx::assert_relative_eq!(
                m[k],
                sde.log_mean_coeff_at(tv),
                max_relative = 1e-12,
                epsilon = 1e-300
            );
            approx::assert_relative_eq!(s[k], sde.std_at(tv), max_relative = 1e-12);
            approx::assert_relative_eq!(g[k], host_g(tv), max_relative = 1e-12);
            approx::assert_relative_eq!(
                a[k],
                sde.drift_coeff_at(tv),
                max_relative = 1e-12,
                epsilon = 1e-300
            );
        }
    }
}

#[test]
fn coefficients_satisfy_the_linear_sde_moment_equations() {
    // For dx = a(t) x dt + g(t) dW: d log m / dt = a and d std^2 / dt = 2 a std^2 + g^2.
    let h = 1e-6;
    for sde in all_sdes() {
        for t in [0.05, 0.3, 0.6, 0.95] {
            let dlogm = (sde.log_mean_coeff_at(t + h) - sde.log_mean_coeff_at(t - h)) / (2.0 * h);
            approx::assert_relative_eq!(
                dlogm,
                sde.drift_coeff_at(t),
                max_relative = 1e-6,
                epsilon = 1e-9
            );
            let var = |t: f64| sde.std_at(t).powi(2);
            let dvar = (var(t + h) - var(t - h)) / (2.0 * h);
            let g = diffusion_at(&sde, t);
            let rhs = 2.0 * sde.drift_coeff_at(t) * var(t) + g * g;
            approx::assert_relative_eq!(dvar, rhs, max_relative = 1e-5);
        }
    }
}

#[test]
fn vp_is_ou_on_the_clock_of_half_the_beta_integral() {
    let vp = VpSde::default();
    let ou = OrnsteinUhlenbeck::new(1.0, 20.0).unwrap();
    for t in [1e-4, 0.1, 0.5, 1.0] {
        let s = 0.5 * vp.beta().integral(t);
        approx::assert_relative_eq!(
            vp.mean_coeff_at(t),
            ou.mean_coeff_at(s),
            max_relative = 1e-14
        );
        approx::assert_relative_eq!(vp.std_at(t), ou.std_at(s), max_relative = 1e-14);
    }
    // Same in tensors: evaluate OU at the clock-changed times.
    let ts = [1e-4, 0.1, 0.5, 1.0];
    let clock: Vec<f64> = ts.iter().map(|&t| 0.5 * vp.beta().integral(t)).collect();
    let a = to_f64(vp.std(times(&ts, DType::F32)));
    let b = to_f64(ou.std(times(&clock, DType::F32)));
    for (x, y) in a.iter().zip(b.iter()) {
        approx::assert_relative_eq!(x, y, max_relative = 1e-6);
    }
}

#[test]
fn ddpm_chain_converges_to_the_vp_marginal() {
    // Linear betas beta_i from beta_min / N to beta_max / N at t_i = i / N discretise the VP SDE
    // with beta(t) from 0.1 to 20; the error of sqrt(alpha-bar_i) against m(t_i) is O(1/N).
    let vp = VpSde::default();
    let max_err = |n: usize| {
        let chain =
            DdpmMarginals::new(DiscreteBetas::linear(0.1 / n as f64, 20.0 / n as f64, n).unwrap());
        (1..=n)
            .map(|i| {
                let t = i as f64 / n as f64;
                (chain.mean_coeff_at(t) - vp.mean_coeff_at(t)).abs()
                    + (chain.std_at(t) - vp.std_at(t)).abs()
            })
            .fold(0.0, f64::max)
    };
    let (e100, e1000) = (max_err(100), max_err(1000));
    assert!(e1000 < 5e-3, "error at N = 1000: {e1000}");
    // First order: ten times the steps, about a tenth of the error (allow a factor 2 either way).
    assert!(
        e1000 < e100 / 5.0 && e1000 > e100 / 20.0,
        "errors {e100} -> {e1000}"
    );
}

#[test]
fn ddpm_marginals_look_up_the_nearest_step_in_tensors() {
    let chain = DdpmMarginals::new(DiscreteBetas::linear(1e-4, 0.02, 1000).unwrap());
    // 0.0006 and 0.7507 have fractional parts of t N above 1/2, so rounding and truncating
    // pick different steps there.
    // Mutation checked: `.round()` -> `.floor()` in the tensor lookup (ddpm.rs) makes this fail
    // (it passed the times without such fractions).
    let ts = [0.0, 0.0004, 0.0006, 0.25, 0.7502, 0.7507, 1.0];
    let got = to_f64(chain.std(times(&ts, DType::F64)));
    for (g, &t) in got.iter().zip(ts.iter()) {
        let i = (t * 1000.0).round() as usize;
        approx::assert_relative_eq!(
            *g,
            chain.betas().one_minus_alpha_bar(i).sqrt(),
            max_relative = 1e-12
        );
    }
}

#[test]
fn discretisations_have_the_documented_kernels() {
    let x = from_f64(&[2.0, -1.0], [1, 2], &device(), DType::F64);
    // OU Euler-Maruyama: N((1 - gamma) x, 2 gamma I), gamma = theta dt.
    let ou = OrnsteinUhlenbeck::new(1.0, 1.0).unwrap();
    let k = ou.discretize(x.clone(), 0.5, 0.01).unwrap();
    approx::assert_relative_eq!(to_f64(k.f)[0], -0.02, max_relative = 1e-12);
    let g = to_f64(k.g)[0];
    approx::assert_relative_eq!(g * g, 0.02, max_relative = 1e-12);
    // VP: DDPM kernel with beta_i = beta(t) dt.
    let vp = VpSde::default();
    let k = vp.discretize(x.clone(), 0.5, 0.01).unwrap();
    let beta = 10.05 * 0.01;
    approx::assert_relative_eq!(
        to_f64(k.f)[0],
        2.0 * ((1.0f64 - beta).sqrt() - 1.0),
        max_relative = 1e-12
    );
    let g = to_f64(k.g)[0];
    approx::assert_relative_eq!(g * g, beta, max_relative = 1e-12);
    assert_eq!(vp.corrector_alpha(0.5, 0.01), 1.0 - beta);
    assert!(matches!(
        vp.discretize(x.clone(), 1.0, 0.1),
        Err(sgm_sde::SdeError::StepTooLarge { .. })
    ));
    // VE: SMLD kernel with variance sigma(t)^2 - sigma(t - dt)^2.
    let ve = VeSde::default();
    let k = ve.discretize(x.clone(), 0.5, 0.1).unwrap();
    let sigma = |t: f64| 0.01 * 5000f64.powf(t);
    let g = to_f64(k.g)[0];
    approx::assert_relative_eq!(
        g * g,
        sigma(0.5).powi(2) - sigma(0.4).powi(2),
        max_relative = 1e-12
    );
    assert_eq!(to_f64(k.f), vec![0.0, 0.0]);
    // Ancestral steps exist for VE and VP only (the `Ancestral` capability: sub-VP lacks it).
    assert!(ve.ancestral_step(0.5, 0.1).is_ok());
    assert!(vp.ancestral_step(0.5, 0.01).is_ok());
    assert!(vp.ancestral_step(1.0, 0.1).is_err());
    const { assert!(Implements::<VeSde>::ANCESTRAL && Implements::<VpSde>::ANCESTRAL) };
    const { assert!(!Implements::<SubVpSde>::ANCESTRAL) };
}

/// A user SDE that implements only the required methods: dx = -x^3 dt + (1 + t) dW on [0, 1]
/// with prior N(0, I) (a nonlinear drift, so the finite-difference JVP is really tested).
struct UserCubic;

impl Sde for UserCubic {
    fn name(&self) -> &'static str {
        "user cubic"
    }
    fn t_end(&self) -> f64 {
        1.0
    }
    fn drift(&self, x: Tensor<2>, _t: Tensor<1>) -> Tensor<2> {
        -x.clone() * x.clone() * x
    }
    fn diffusion(&self, t: Tensor<1>) -> Tensor<1> {
        t + 1.0
    }
    fn prior_sample(
        &self,
        shape: [usize; 2],
        device: &Device,
        dtype: DType,
        noise: &mut dyn sgm_core::NoiseSource,
    ) -> Tensor<2> {
        noise.sample(sgm_core::Noise::StandardNormal, shape, device, dtype)
    }
    fn prior_log_prob(&self, x: Tensor<2>) -> Tensor<1> {
        let d = x.dims()[1] as f64;
        x.square().sum_dim(1).squeeze_dim(1) * -0.5 - 0.5 * d * (2.0 * std::f64::consts::PI).ln()
    }
}

/// The default methods of `Sde`, and the generic schemes an SDE without capabilities gets,
/// against hand values for [`UserCubic`]:
/// - `drift_jvp` (central differences): J f v = -3 x^2 v per coordinate. In f64 the step is
///   h = 6.1e-6 max(1, rms x); the truncation error |v| h^2 |u_j|^3 (the third derivative of
///   -x^3 is -6) and the round-off ~1e-16 |f| / h are both below 1e-9 here.
/// - `diffusion` per sample: g(t_i) = 1 + t_i.
/// - `euler_maruyama_discretization`: f_i = f(x, t) dt = -x^3 dt, G_i = g(t) sqrt(dt).
/// - the corrector's alpha for it is `UnitAlpha` = 1, and it has no ancestral step (it does not
///   implement `Ancestral`).
///
/// Mutations checked: the JVP default returning the drift (`.1` to `.0`) and the
/// Euler-Maruyama G_i with dt in place of sqrt(dt) each make this fail.
#[test]
fn default_sde_methods_follow_their_formulas() {
    let sde = UserCubic;
    let xs = [0.5, -1.2, 2.0, 0.3];
    let vs = [0.7, -0.4, 1.1, 2.0];
    let x = from_f64(&xs, [2, 2], &device(), DType::F64);
    let v = from_f64(&vs, [2, 2], &device(), DType::F64);
    let t = times(&[0.25, 0.8], DType::F64);
    let jvp = to_f64(sde.drift_jvp(x.clone(), t.clone(), v));
    for ((j, x), v) in jvp.iter().zip(xs).zip(vs) {
        approx::assert_abs_diff_eq!(*j, -3.0 * x * x * v, epsilon = 1e-8);
    }
    let g = to_f64(sde.diffusion(t));
    approx::assert_relative_eq!(g[0], 1.25, max_relative = 1e-15);
    approx::assert_relative_eq!(g[1], 1.8, max_relative = 1e-15);
    let k = euler_maruyama_discretization(&sde, x, 0.8, 0.01);
    for (f, x) in to_f64(k.f).iter().zip(xs) {
        approx::assert_relative_eq!(*f, -x * x * x * 0.01, max_relative = 1e-12);
    }
    for g in to_f64(k.g) {
        approx::assert_relative_eq!(g, 1.8 * 0.1, max_relative = 1e-12);
    }
    assert_eq!(UnitAlpha.corrector_alpha(0.5, 0.1), 1.0);
    const { assert!(!Implements::<UserCubic>::ANCESTRAL) };
    // The trait is object safe and the generic scheme passes through a `&dyn Sde`.
    let object: &dyn Sde = &sde;
    let x = from_f64(&xs, [2, 2], &device(), DType::F64);
    for g in to_f64(euler_maruyama_discretization(object, x, 0.5, 0.04).g) {
        approx::assert_relative_eq!(g, 1.5 * 0.2, max_relative = 1e-12);
    }
}

#[test]
fn priors_are_the_documented_gaussians() {
    let x = from_f64(&[1.0, 2.0], [1, 2], &device(), DType::F64);
    let ln2pi = (2.0 * std::f64::consts::PI).ln();
    let lp = to_f64(VpSde::default().prior_log_prob(x.clone()))[0];
    approx::assert_relative_eq!(lp, -ln2pi - 2.5, max_relative = 1e-12);
    let lp = to_f64(BrownianMotion::new(4.0).unwrap().prior_log_prob(x.clone()))[0];
    approx::assert_relative_eq!(
        lp,
        -(2.0 * std::f64::consts::PI * 4.0).ln() - 5.0 / 8.0,
        max_relative = 1e-12
    );
    let s =
        VeSde::default().prior_sample([20_000, 1], &device(), DType::F32, &mut HostNoise::new(9));
    let (_, std) = mean_and_std(&to_f64(s));
    // Standard error of a sample std: 50 / sqrt(2 * 20000) = 0.25; 4 of them = 1.0.
    assert!((std - 50.0).abs() < 1.0, "VE prior std {std}");
}

#[test]
fn bad_parameters_are_typed_errors() {
    assert!(matches!(
        VeSde::new(50.0, 0.01),
        Err(sgm_sde::SdeError::Schedule(_))
    ));
    assert!(matches!(
        VpSde::new(20.0, 0.1),
        Err(sgm_sde::SdeError::Schedule(_))
    ));
    assert_eq!(
        OrnsteinUhlenbeck::new(-1.0, 1.0),
        Err(sgm_sde::SdeError::Core(CoreError::InvalidParameter {
            name: "theta",
            value: -1.0,
            requirement: "finite and > 0"
        }))
    );
    assert!(BrownianMotion::new(0.0).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn vp_std_is_in_the_unit_interval_and_increasing(
        beta_min in 0.0f64..5.0, width in 0.1f64..30.0, t in 1e-6f64..0.999, dt in 1e-6f64..1e-3
    ) {
        let vp = VpSde::new(beta_min, beta_min + width).unwrap();
        let (a, b) = (vp.std_at(t), vp.std_at(t + dt));
        prop_assert!(a > 0.0 && a <= 1.0 && b <= 1.0);
        prop_assert!(b > a);
    }
}

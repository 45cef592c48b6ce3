//! ODE solvers on the probability-flow ODE: convergence orders, round trips, marginals, NFE.

use burn::prelude::*;
use burn::tensor::DType;
use sgm_core::tensor::{from_f64, to_f64};
use sgm_core::{CoreError, CountingScoreModel, HostNoise, VectorField};
use sgm_data::{ExactDensity, Gaussian, GaussianMixture};
use sgm_samplers::{ConstantSteps, NoObserver, PiController, SamplerError, Tableau, solve_ode};
use sgm_sde::{GaussianMarginals, LinearSde, ProbabilityFlowOde, SubVpSde, VeSde, VpSde};

fn device() -> Device {
    Device::flex()
}

/// For Gaussian data N(mu, s^2 I) the probability-flow ODE of a linear SDE has the closed-form
/// solution x(t) = m(t) mu + sqrt(v(t) / v(t0)) (x(t0) - m(t0) mu), v = m^2 s^2 + std^2: every
/// point moves along the map that carries N(m(t0) mu, v(t0) I) onto N(m(t) mu, v(t) I).
fn exact_flow(vp: &VpSde, mu: &[f64], s: f64, x0: &[f64], t0: f64, t1: f64) -> Vec<f64> {
    let v = |t: f64| (vp.mean_coeff_at(t) * s).powi(2) + vp.std_at(t).powi(2);
    let ratio = (v(t1) / v(t0)).sqrt();
    x0.iter()
        .enumerate()
        .map(|(i, x)| {
            let m = mu[i % mu.len()];
            vp.mean_coeff_at(t1) * m + ratio * (x - vp.mean_coeff_at(t0) * m)
        })
        .collect()
}

/// Least-squares slope of log(error) against log(h).
fn slope(hs: &[f64], errors: &[f64]) -> f64 {
    let (lx, ly): (Vec<f64>, Vec<f64>) =
        hs.iter().zip(errors).map(|(h, e)| (h.ln(), e.ln())).unzip();
    let n = lx.len() as f64;
    let (mx, my) = (lx.iter().sum::<f64>() / n, ly.iter().sum::<f64>() / n);
    let cov: f64 = lx.iter().zip(&ly).map(|(x, y)| (x - mx) * (y - my)).sum();
    let var: f64 = lx.iter().map(|x| (x - mx).powi(2)).sum();
    cov / var
}

#[test]
fn fixed_step_solvers_converge_at_their_order_both_ways_in_f64() {
    let vp = VpSde::default();
    let (mu, s) = (vec![1.0, -0.5], 0.7);
    let gauss = Gaussian::isotropic(mu.clone(), s).unwrap();
    let exact = gauss.perturbed(&vp);
    let flow = ProbabilityFlowOde::new(&vp, &exact);
    let points = [0.3, 1.2, -0.8, 0.1, 2.0, -1.5];
    let x = from_f64(&points, [3, 2], &device(), DType::F64);
    // Step counts 2^k on [0.2, 0.6] (beta from 4 to 12): each method's sweep keeps its errors
    // above 1e-13, where f64 round-off (~1e-15 per step) starts to show, and within its
    // asymptotic range.
    let cases = [
        (Tableau::euler(), vec![64, 128, 256, 512, 1024]),
        (Tableau::heun(), vec![32, 64, 128, 256, 512]),
        (Tableau::rk4(), vec![16, 32, 64, 128, 256]),
        (Tableau::dormand_prince(), vec![16, 32, 64]),
    ];
    for (t0, t1) in [(0.2, 0.6), (0.6, 0.2)] {
        let want = exact_flow(&vp, &mu, s, &points, t0, t1);
        for (tableau, steps) in &cases {
            let errors: Vec<f64> = steps
                .iter()
                .map(|&n| {
                    let control = ConstantSteps::new(n).unwrap();
                    let sol =
                        solve_ode(&flow, tableau, x.clone(), t0, t1, control, &mut NoObserver)
                            .unwrap();
                    to_f64(sol.x)
                        .iter()
                        .zip(&want)
                        .map(|(a, b)| (a - b).abs())
                        .fold(0.0, f64::max)
                })
                .collect();
            let hs: Vec<f64> = steps.iter().map(|&n| (t1 - t0).abs() / n as f64).collect();
            let p = slope(&hs, &errors);
            eprintln!(
                "{} {t0} -> {t1}: slope {p:.3}, errors {errors:?}",
                tableau.name()
            );
            assert!(
                (p - tableau.order() as f64).abs() < 0.15,
                "{} from {t0} to {t1}: slope {p}",
                tableau.name()
            );
        }
    }
}

#[test]
fn adaptive_dormand_prince_meets_its_tolerance_and_counts_honestly() {
    let vp = VpSde::default();
    let (mu, s) = (vec![1.0, -0.5], 0.7);
    let gauss = Gaussian::isotropic(mu.clone(), s).unwrap();
    let counted = CountingScoreModel::new(gauss.perturbed(&vp));
    let flow = ProbabilityFlowOde::new(&vp, &counted);
    let points = [0.3, 1.2, -0.8, 0.1, 2.0, -1.5];
    let x = from_f64(&points, [3, 2], &device(), DType::F64);
    for tol in [1e-4, 1e-7] {
        counted.reset();
        let control = PiController::new(tol, tol).unwrap();
        let sol = solve_ode(
            &flow,
            &Tableau::dormand_prince(),
            x.clone(),
            1e-3,
            1.0,
            control,
            &mut NoObserver,
        )
        .unwrap();
        let want = exact_flow(&vp, &mu, s, &points, 1e-3, 1.0);
        let err = to_f64(sol.x)
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        // Local errors below tol per step accumulate to a global error of the order of tol
        // (times a modest factor for the ~10-100 steps): bound at 10 tol.
        assert!(err < 10.0 * tol, "tol {tol}: error {err:e}");
        assert_eq!(counted.evaluations(), sol.nfe, "NFE");
        // FSAL: 1 + 1 (starting step) + 6 per attempted step.
        assert_eq!(sol.nfe, 2 + 6 * (sol.accepted + sol.rejected));
    }
}

/// The exact probability-flow map of N(mu, diag(s^2)) data under a linear SDE with mean
/// coefficient m(t) and std(t): per coordinate, the standardised value
/// (x - m(t) mu_j) / sqrt(m(t)^2 s_j^2 + std(t)^2) is constant along the flow (the ODE carries
/// p_t = N(m(t) mu, v(t)) onto p_u by the monotone map that matches their quantiles; for a
/// Gaussian that map is affine: x_u = m(u) mu + sqrt(v(u) / v(t)) (x_t - m(t) mu)).
fn exact_flow_diagonal<K: GaussianMarginals + ?Sized>(
    k: &K,
    mu: &[f64],
    s: &[f64],
    x: &[f64],
    t0: f64,
    t1: f64,
) -> Vec<f64> {
    let v = |t: f64, j: usize| (k.mean_coeff_at(t) * s[j]).powi(2) + k.std_at(t).powi(2);
    x.iter()
        .enumerate()
        .map(|(i, x)| {
            let j = i % mu.len();
            k.mean_coeff_at(t1) * mu[j]
                + (v(t1, j) / v(t0, j)).sqrt() * (x - k.mean_coeff_at(t0) * mu[j])
        })
        .collect()
}

/// Both legs of the probability-flow ODE against the exact flow, not against each other: the
/// forward solve from eps = 1e-3 to T starts at data samples, the backward solve from T to eps
/// starts at independent prior draws, and each end point is compared with the closed-form
/// map above, for VP, sub-VP and VE and anisotropic Gaussian data (stds 0.3 and 1.5), in f64
/// with adaptive Dormand-Prince at rtol = atol = 1e-8. Local errors below tol per step add up
/// to a global error of the order of tol times the state's scale (VE reaches |x| ~ 150): the
/// bound is 10 tol (1 + |x|), as in the adaptive test.
///
/// Mutation checked: dropping the 1/2 of the probability-flow drift f - 1/2 g^2 s (sgm-sde
/// flow.rs, the vector field's `0.5 * g * g` to `g * g`) makes this fail. A round trip compared
/// with its own start cannot see such an error, since both legs solve the same ODE.
#[test]
fn probability_flow_solutions_match_the_exact_flow_both_ways() {
    let (mu, s) = ([1.0, -0.5], [0.3, 1.5]);
    let gauss = Gaussian::new(mu.to_vec(), vec![s[0] * s[0], 0.0, 0.0, s[1] * s[1]]).unwrap();
    let (vp, sub, ve) = (VpSde::default(), SubVpSde::default(), VeSde::default());
    let sdes: [(&dyn LinearSde, &str); 3] = [(&vp, "VP"), (&sub, "sub-VP"), (&ve, "VE")];
    let (eps, tol) = (1e-3, 1e-8);
    let control = PiController::new(tol, tol).unwrap();
    let dp = Tableau::dormand_prince();
    let mut noise = HostNoise::new(8);
    for (sde, name) in sdes {
        let exact = gauss.perturbed(sde);
        let flow = ProbabilityFlowOde::new(sde, &exact);
        let t_end = sde.t_end();
        let data = gauss.sample(64, &device(), DType::F64, &mut noise);
        let prior = sde.prior_sample([64, 2], &device(), DType::F64, &mut noise);
        for (start, t0, t1) in [(data, eps, t_end), (prior, t_end, eps)] {
            let x = to_f64(start.clone());
            let want = exact_flow_diagonal(sde, &mu, &s, &x, t0, t1);
            let got = to_f64(
                solve_ode(&flow, &dp, start, t0, t1, control, &mut NoObserver)
                    .unwrap()
                    .x,
            );
            let worst = got
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs() / (1.0 + b.abs()))
                .fold(0.0, f64::max);
            eprintln!("{name} {t0} -> {t1}: largest scaled error {worst:.2e}");
            assert!(
                worst < 10.0 * tol,
                "{name} from {t0} to {t1}: scaled error {worst:e}"
            );
        }
    }
}

#[test]
fn probability_flow_marginal_matches_the_sde_marginal() {
    // Fokker-Planck: the ODE carries p_0 to p_t. ring8 at t = 0.5 under VP: mean 0 and per-axis
    // variance m^2 (0.25 + 8) + std^2 (weights equal: E x0 = 0, Var = 0.25 + 16/2).
    let vp = VpSde::default();
    let ring = GaussianMixture::ring8();
    let exact = ring.perturbed(&vp);
    let flow = ProbabilityFlowOde::new(&vp, &exact);
    let n = 8192;
    let x0 = ring.sample(n, &device(), DType::F32, &mut HostNoise::new(9));
    let control = PiController::new(1e-5, 1e-5).unwrap();
    let xt = solve_ode(
        &flow,
        &Tableau::dormand_prince(),
        x0,
        0.0,
        0.5,
        control,
        &mut NoObserver,
    )
    .unwrap()
    .x;
    let values = to_f64(xt);
    let var_exact = vp.mean_coeff_at(0.5).powi(2) * 8.25 + vp.std_at(0.5).powi(2);
    for axis in 0..2 {
        let v: Vec<f64> = values.iter().skip(axis).step_by(2).copied().collect();
        let mean = v.iter().sum::<f64>() / n as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0);
        let fourth = v.iter().map(|x| (x - mean).powi(4)).sum::<f64>() / n as f64;
        // Standard errors: sqrt(var / n) for the mean, sqrt((m4 - var^2) / n) for the variance.
        assert!(
            mean.abs() < 4.0 * (var_exact / n as f64).sqrt(),
            "axis {axis}: mean {mean}"
        );
        assert!(
            (var - var_exact).abs() < 4.0 * ((fourth - var * var) / n as f64).sqrt(),
            "axis {axis}: variance {var} vs {var_exact}"
        );
    }
}

#[test]
fn bad_solver_input_is_a_typed_error() {
    let decay = |x: Tensor<2>, _t: f64| -x;
    let x = Tensor::<2>::ones([2, 2], &device());
    assert!(PiController::new(0.0, 1e-5).is_err());
    assert!(PiController::new(1e-5, -1.0).is_err());
    assert!(ConstantSteps::new(0).is_err());
    let adaptive = PiController::new(1e-5, 1e-5).unwrap();
    assert!(matches!(
        solve_ode(
            &decay,
            &Tableau::rk4(),
            x.clone(),
            0.0,
            1.0,
            adaptive,
            &mut NoObserver
        ),
        Err(SamplerError::Core(CoreError::InvalidParameter { .. }))
    ));
    assert!(
        solve_ode(
            &decay,
            &Tableau::rk4(),
            x.clone(),
            1.0,
            1.0,
            ConstantSteps::new(4).unwrap(),
            &mut NoObserver
        )
        .is_err()
    );
    let blow_up = |x: Tensor<2>, _t: f64| x.clone() * x.clone() * x;
    let err = solve_ode(
        &blow_up,
        &Tableau::euler(),
        x * 10.0,
        0.0,
        1.0,
        ConstantSteps::new(100).unwrap(),
        &mut NoObserver,
    )
    .unwrap_err();
    assert!(matches!(err, SamplerError::NonFinite { .. }), "{err:?}");
    let _ = decay.eval(Tensor::<2>::ones([1, 1], &device()), 0.0);
}

#[test]
fn tableau_new_rejects_each_inconsistent_method_with_its_value() {
    // Mutation checked: dropping the row-sum check lets the third case through.
    let heun = || (vec![vec![], vec![1.0]], vec![0.5, 0.5], vec![0.0, 1.0]);
    let (a, b, c) = heun();
    let built = Tableau::new("Heun", 2, a, b, None, c).unwrap();
    assert_eq!(built.b(), Tableau::heun().b());
    let invalid = |result: Result<Tableau, SamplerError>| match result {
        Err(SamplerError::Core(CoreError::InvalidParameter { name, value, .. })) => (name, value),
        other => panic!("expected an invalid parameter, got {other:?}"),
    };
    // Weights that do not sum to 1.
    let (a, _, c) = heun();
    let r = Tableau::new("bad b", 2, a, vec![0.5, 0.6], None, c);
    assert_eq!(invalid(r), ("tableau weight sum", 1.1));
    // Embedded weights that do not sum to 1.
    let (a, b, c) = heun();
    let r = Tableau::new("bad b*", 2, a, b, Some(vec![1.0, 0.5]), c);
    assert_eq!(invalid(r), ("tableau weight sum", 1.5));
    // A node that is not its row sum.
    let (_, b, c) = heun();
    let r = Tableau::new("bad c", 2, vec![vec![], vec![0.5]], b, None, c);
    assert_eq!(invalid(r), ("tableau row sum of a", 0.5));
    // An implicit first stage.
    let r = Tableau::new("bad c1", 1, vec![vec![]], vec![1.0], None, vec![0.5]);
    assert_eq!(invalid(r).0, "tableau node c_1");
    // A non-finite coefficient.
    let (a, _, c) = heun();
    let r = Tableau::new("nan", 2, a, vec![f64::NAN, 0.5], None, c);
    assert_eq!(invalid(r).0, "tableau coefficient");
    // Shapes: a row of the wrong length (not explicit), too few nodes.
    let (_, b, c) = heun();
    assert!(matches!(
        Tableau::new("implicit", 2, vec![vec![0.0], vec![1.0]], b, None, c),
        Err(SamplerError::Core(CoreError::ShapeMismatch { .. }))
    ));
    let (a, b, _) = heun();
    assert!(matches!(
        Tableau::new("short c", 2, a, b, None, vec![0.0]),
        Err(SamplerError::Core(CoreError::ShapeMismatch { .. }))
    ));
    assert!(matches!(
        Tableau::new("empty", 1, vec![], vec![], None, vec![]),
        Err(SamplerError::Core(CoreError::ZeroCount { .. }))
    ));
}

#[test]
fn adaptive_steps_follow_the_worst_sample_and_pi_control_changes_them() {
    // dx/dt = -lambda_i x per sample, x(0) = 1, exact x(1) = exp(-lambda_i). With 15 samples at
    // lambda = 1 and one at lambda = 30, the batch's error norm is the largest per-sample norm,
    // that of the stiff sample at every step, so the batch takes exactly the steps of the stiff
    // sample alone. A PI pair (0.4, 0.3) changes the step sequence and still keeps every sample
    // within a small multiple of the tolerance.
    // Mutation checked: the batch mean instead of the largest per-sample norm makes the batch
    // take fewer steps than the stiff sample alone; a `with_pi` that keeps the coefficients
    // makes the PI solve identical to the integral one.
    let device = device();
    let run = |rates: &[f64], control: PiController| {
        let n = rates.len();
        let lambda = from_f64(rates, [n, 1], &device, DType::F64);
        let field = move |x: Tensor<2>, _t: f64| -x * lambda.clone();
        let x0 = from_f64(&vec![1.0; n], [n, 1], &device, DType::F64);
        let sol = solve_ode(
            &field,
            &Tableau::dormand_prince(),
            x0,
            0.0,
            1.0,
            control,
            &mut NoObserver,
        )
        .unwrap();
        (to_f64(sol.x), sol.accepted, sol.rejected)
    };
    let tol = 1e-7;
    let integral = PiController::new(tol, tol).unwrap();
    let pi = integral.with_pi(0.4, 0.3).unwrap();
    let mut rates = vec![1.0; 15];
    rates.push(30.0);
    let (_, alone_accepted, alone_rejected) = run(&[30.0], integral);
    let mut steps = Vec::new();
    for control in [integral, pi] {
        let (x, accepted, rejected) = run(&rates, control);
        for (got, lambda) in x.iter().zip(&rates) {
            let want = (-lambda).exp();
            // The global error of a tolerance-controlled solve is a small multiple of tol.
            assert!(
                (got - want).abs() < 10.0 * tol,
                "{got} vs {want} (lambda {lambda})"
            );
        }
        steps.push((accepted, rejected));
    }
    eprintln!(
        "stiff alone {alone_accepted}+{alone_rejected}, integral {:?}, PI {:?}",
        steps[0], steps[1]
    );
    assert_eq!(steps[0], (alone_accepted, alone_rejected));
    assert_ne!(steps[1], steps[0]);
    assert!(
        PiController::new(tol, tol)
            .unwrap()
            .with_pi(-0.1, 0.3)
            .is_err()
    );
    assert!(
        PiController::new(tol, tol)
            .unwrap()
            .with_pi(0.4, 0.0)
            .is_err()
    );
}

#[test]
fn many_constant_steps_end_exactly_at_t1() {
    // 20,000 Euler steps of dx/dt = 1 from 0 to 1 (and back from 1 to 1e-3): step i ends at
    // t0 + i (t1 - t0) / n from the index, so rounding in t cannot add a step (which
    // `ConstantSteps`'s step limit would refuse) and the last step ends at t1 exactly; Euler is
    // exact for a constant field, x(t1) = t1 - t0 to rounding.
    // Mutation checked: `fixed_steps` returning None (t accumulated step by step) makes the
    // forward solve fail with TooManySteps.
    let device = device();
    let field = |x: Tensor<2>, _t: f64| x.ones_like();
    for (t0, t1) in [(0.0, 1.0), (1.0, 1e-3)] {
        let x0 = from_f64(&[0.0], [1, 1], &device, DType::F64);
        let control = ConstantSteps::new(20_000).unwrap();
        let sol = solve_ode(
            &field,
            &Tableau::euler(),
            x0,
            t0,
            t1,
            control,
            &mut NoObserver,
        )
        .unwrap_or_else(|e| panic!("{t0} -> {t1}: {e}"));
        assert_eq!(sol.accepted, 20_000);
        assert!((to_f64(sol.x)[0] - (t1 - t0)).abs() < 1e-9);
    }
}

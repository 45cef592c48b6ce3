//! Run of the `forward_diffusion` example in its default configuration (4,096 particles, 1,000
//! Euler-Maruyama steps; ~1 s) against closed forms computed here.
//!
//! Ring8 per coordinate: x0 = 4 cos(theta) + 0.5 z with theta uniform on the 8 angles 2 pi k / 8
//! (the y coordinate has the same law, with sin). Over those angles E cos^2 = 1/2 and
//! E cos^4 = (1 + 1/4 + 0 + 1/4 + 1 + 1/4 + 0 + 1/4) / 8 = 3/8.
//!
//! Euler-Maruyama on a linear SDE dx = f(t) x dt + g(t) dW, x' = (1 + f dt) x + g sqrt(dt) z, is
//! itself linear-Gaussian: after k steps x_k = P_k x0 + N(0, Q_k) with
//! P_{k+1} = (1 + f(t_k) dt) P_k and Q_{k+1} = (1 + f(t_k) dt)^2 Q_k + g(t_k)^2 dt. So the
//! simulated coordinate is A + E with A = 4 P cos(theta), E ~ N(0, s2), s2 = 0.25 P^2 + Q:
//! mean 0, variance v = 8 P^2 + s2, fourth moment mu4 = E A^4 + 6 E A^2 s2 + 3 s2^2 =
//! 96 P^4 + 48 P^2 s2 + 3 s2^2. Over n particles the sample mean has SE sqrt(v / n), and the
//! sample variance has variance (mu4 - v^2) / n, so by the delta method the sample std has
//! SE sqrt(mu4 - v^2) / (2 sqrt(v n)). Those are the exact moments of what the example
//! simulates, whatever the step count; the continuous-time marginal (the example's "exact"
//! column) is checked separately against the closed forms of m(t) and std(t).

use sgm_examples::forward_diffusion::{Args, run};

/// Defaults of the library's SDEs: VE sigma in [0.01, 50], VP and sub-VP beta in [0.1, 20].
const SIGMA_MIN: f64 = 0.01;
const SIGMA_MAX: f64 = 50.0;
const BETA_MIN: f64 = 0.1;
const BETA_MAX: f64 = 20.0;

fn beta(t: f64) -> f64 {
    BETA_MIN + t * (BETA_MAX - BETA_MIN)
}

/// B(t) = int_0^t beta.
fn beta_integral(t: f64) -> f64 {
    BETA_MIN * t + 0.5 * (BETA_MAX - BETA_MIN) * t * t
}

/// (f(t), g(t)^2) of dx = f x dt + g dW for each SDE: VE f = 0, g^2 = d sigma^2 / dt =
/// 2 ln(sigma_max / sigma_min) sigma(t)^2; VP f = -beta / 2, g^2 = beta; sub-VP f = -beta / 2,
/// g^2 = beta (1 - exp(-2 B)).
fn coefficients(sde: &str, t: f64) -> (f64, f64) {
    match sde {
        "VE" => {
            let ratio = SIGMA_MAX / SIGMA_MIN;
            let sigma = SIGMA_MIN * ratio.powf(t);
            (0.0, 2.0 * ratio.ln() * sigma * sigma)
        }
        "VP" => (-0.5 * beta(t), beta(t)),
        "sub-VP" => (
            -0.5 * beta(t),
            beta(t) * (1.0 - (-2.0 * beta_integral(t)).exp()),
        ),
        other => panic!("unexpected SDE {other}"),
    }
}

/// Continuous-time marginal (m(t), std(t)^2): VE m = 1, std^2 = sigma(t)^2 - sigma_min^2; VP
/// m = exp(-B / 2), std^2 = 1 - exp(-B); sub-VP m = exp(-B / 2), std^2 = (1 - exp(-B))^2.
fn continuous(sde: &str, t: f64) -> (f64, f64) {
    let b = beta_integral(t);
    match sde {
        "VE" => (
            1.0,
            SIGMA_MIN * SIGMA_MIN * ((SIGMA_MAX / SIGMA_MIN).powf(2.0 * t) - 1.0),
        ),
        "VP" => ((-0.5 * b).exp(), -(-b).exp_m1()),
        "sub-VP" => ((-0.5 * b).exp(), (-b).exp_m1().powi(2)),
        other => panic!("unexpected SDE {other}"),
    }
}

/// (P_k, Q_k) of the Euler-Maruyama chain after `k` steps of size `dt`.
fn euler_maruyama(sde: &str, k: usize, dt: f64) -> (f64, f64) {
    (0..k).fold((1.0, 0.0), |(p, q), i| {
        let (f, g2) = coefficients(sde, i as f64 * dt);
        let a = 1.0 + f * dt;
        (a * p, a * a * q + g2 * dt)
    })
}

// Mutation checked: dropping the square root of dt in the example's Euler-Maruyama noise
// (`dt.sqrt()` -> `dt`) makes the simulated stds fail the 4 SE bound.
#[test]
fn simulated_marginals_match_the_euler_maruyama_moments_within_4_se() {
    let (particles, steps) = (4096, 1000);
    let out = std::env::temp_dir().join(format!("sgm-forward-diffusion-{}", std::process::id()));
    // The README's command line, with the output in a temporary directory.
    let args = <Args as clap::Parser>::try_parse_from([
        "forward_diffusion",
        "--out",
        out.to_str().unwrap(),
    ])
    .unwrap();
    assert_eq!((args.particles, args.steps), (particles, steps));
    let summary = run(&args).unwrap();

    let snapshots = [0.0, 0.1, 0.3, 0.6, 1.0];
    assert_eq!(summary.marginals.len(), 3 * snapshots.len());
    let n = particles as f64;
    let dt = 1.0 / steps as f64;
    for (row, (sde, t)) in summary.marginals.iter().zip(
        ["VE", "VP", "sub-VP"]
            .into_iter()
            .flat_map(|sde| snapshots.map(|t| (sde, t))),
    ) {
        assert_eq!((row.sde, row.t), (sde, t), "rows out of order");
        // The example's exact column against the closed form (both in f64).
        let (m, std2) = continuous(sde, t);
        let exact = (m * m * 8.25 + std2).sqrt();
        assert!(
            (row.exact_std - exact).abs() < 1e-9 * exact,
            "{sde} t = {t}: exact std {} but the closed form gives {exact}",
            row.exact_std
        );
        // The simulation against the exact moments of the Euler-Maruyama chain.
        let (p, q) = euler_maruyama(sde, (t * steps as f64).round() as usize, dt);
        let s2 = 0.25 * p * p + q;
        let v = 8.0 * p * p + s2;
        let mu4 = 96.0 * p.powi(4) + 48.0 * p * p * s2 + 3.0 * s2 * s2;
        let se_mean = (v / n).sqrt();
        let se_std = (mu4 - v * v).sqrt() / (2.0 * (v * n).sqrt());
        for k in 0..2 {
            assert!(
                row.mean[k].abs() < 4.0 * se_mean,
                "{sde} t = {t}: mean[{k}] = {} beyond 4 SE = {}",
                row.mean[k],
                4.0 * se_mean
            );
            assert!(
                (row.std[k] - v.sqrt()).abs() < 4.0 * se_std,
                "{sde} t = {t}: std[{k}] = {} but Euler-Maruyama gives {} +- {se_std}",
                row.std[k],
                v.sqrt()
            );
        }
    }
    let png = std::fs::metadata(&summary.plot).unwrap();
    assert!(
        png.len() > 1000,
        "{} is {} bytes",
        summary.plot.display(),
        png.len()
    );
    std::fs::remove_dir_all(&out).unwrap();
}

//! Run of the `ncsn_two_modes` example (1,280 particles, 1,000 plain Langevin steps, annealed
//! Langevin over the example's 10 levels but with 1,000 steps per level instead of 100, ~3 s)
//! against values derived here.
//!
//! Target p = 0.2 N(mu_0, I) + 0.8 N(mu_1, I), mu_0 = (-5, -5), mu_1 = (5, 5). Nearest mode:
//! |x - mu_0| < |x - mu_1| iff x + y < 0.
//!
//! Plain Langevin (NCSN spelling x' = x + (eps / 2) s + sqrt(eps) z, eps = 0.1) with the exact
//! score cannot cross between modes 14 apart in units of the std (the barrier is ~25 nats), so
//! each particle ends in the basin it starts in. Along u = (x + y) / sqrt(2) the modes sit at
//! -a and a, a = 5 sqrt(2), and the orthogonal coordinate is N(0, 1) under both components, so
//! the basin boundary is the line x + y = sqrt(2) u*, u* the minimum of the 1-D density
//! 0.2 phi(u + a) + 0.8 phi(u - a): p'(u) = 0 iff r(u) (u + a) + (u - a) = 0 with
//! r(u) = 0.2 phi(u + a) / (0.8 phi(u - a)) = exp(-2 a u) / 4 (u* ~ -0.100). The predicted low
//! share is the share of starting points with x + y < sqrt(2) u*; particles that start within a
//! few tenths of the boundary may be kicked across, both ways about equally, far below the
//! binomial SE sqrt(p (1 - p) / n) the share is checked at (4 SE).
//!
//! Inside a mode the chain is the AR(1) x' - mu = (1 - eps / (2 s^2)) (x - mu) + sqrt(eps) z on
//! N(mu, s^2 I), whose stationary law is exactly N(mu, v I) with
//! v = eps / (1 - (1 - eps / (2 s^2))^2) = s^2 / (1 - eps / (4 s^2)). It contracts by
//! 1 - eps / 2 = 0.95 a step, so after 1,000 steps the start (at most ~18 away) is forgotten. With n_k particles in mode k, the mean squared deviation from mu_k over
//! both coordinates (2 n_k independent N(0, v) squares) has SE v sqrt(2 / (2 n_k)) = v / sqrt(n_k),
//! and each coordinate's mean has SE sqrt(v / n_k).
//!
//! Annealed Langevin ends at sigma_L = 1, whose perturbed target is 0.2 N(mu_0, 2 I) +
//! 0.8 N(mu_1, 2 I): low share 0.2 (binomial SE sqrt(0.2 * 0.8 / n)) and, at the last level's
//! step alpha = eps = 0.1, within-mode variance v = 2 / (1 - 0.1 / 8); the last level's 1,000
//! steps contract the variance left by the previous level (sigma = 20^(1/9), variance ~ 2.9) by
//! 0.975^2000, to nothing. The weight is right only as the steps per level grow: measured with
//! 50,000 particles (SE 0.0018), the low share is 0.217 at the example's 100 steps per level,
//! 0.207 at 300 and 0.203 at 1,000. So this test runs 1,000 steps per level, where that bias
//! (0.003) is a quarter of the binomial SE at 1,280 particles (0.011); at 100 steps per level
//! the 0.017 bias would eat 1.5 of the 4 SE.

use sgm_examples::ncsn_two_modes::{Args, run};

/// Low-mode share: the share of points with x + y below `boundary`.
fn share_below(flat: &[f64], boundary: f64) -> f64 {
    let n = flat.len() / 2;
    flat.chunks(2).filter(|p| p[0] + p[1] < boundary).count() as f64 / n as f64
}

/// The basin boundary u* along (x + y) / sqrt(2), by bisection on r(u) (u + a) + (u - a).
fn basin_boundary() -> f64 {
    let a = 5.0 * std::f64::consts::SQRT_2;
    let g = |u: f64| 0.25 * (-2.0 * a * u).exp() * (u + a) + (u - a);
    let (mut lo, mut hi) = (-1.0, 1.0);
    assert!(g(lo) > 0.0 && g(hi) < 0.0);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if g(mid) > 0.0 { lo = mid } else { hi = mid }
    }
    0.5 * (lo + hi)
}

/// Checks the samples nearest each mode: mean within 4 SE of the mode, mean squared deviation
/// within 4 SE of `v`.
fn check_modes(label: &str, flat: &[f64], v: f64) {
    for (k, mu) in [-5.0, 5.0].into_iter().enumerate() {
        let points: Vec<&[f64]> = flat
            .chunks(2)
            .filter(|p| (p[0] + p[1] < 0.0) == (k == 0))
            .collect();
        let n_k = points.len() as f64;
        assert!(n_k > 100.0, "{label}: only {n_k} particles in mode {k}");
        for c in 0..2 {
            let mean = points.iter().map(|p| p[c]).sum::<f64>() / n_k;
            let se = (v / n_k).sqrt();
            assert!(
                (mean - mu).abs() < 4.0 * se,
                "{label}: mode {k} coordinate {c} mean {mean}, expected {mu} +- {se}"
            );
        }
        let msd = points
            .iter()
            .map(|p| (p[0] - mu).powi(2) + (p[1] - mu).powi(2))
            .sum::<f64>()
            / (2.0 * n_k);
        let se = v / n_k.sqrt();
        assert!(
            (msd - v).abs() < 4.0 * se,
            "{label}: mode {k} variance {msd}, expected {v} +- {se}"
        );
    }
}

// Mutations checked: a plain Langevin step of 1e-12 instead of 0.1 (a no-op sampler, though its
// shares stay within 4 SE of the basin shares) fails the within-mode mean and variance (the
// uniform start: mode means ~ -2.9, variance ~ 21, not -5 and 1.03); annealing from sigma = 1.5
// instead of 20 (`(1.0, 20.0, 10)` -> `(1.0, 1.5, 10)`, modes never merged) fails the annealed
// 0.2 share (0.45).
#[test]
fn langevin_keeps_the_basin_shares_and_annealed_langevin_recovers_the_weight_0_2() {
    let out = std::env::temp_dir().join(format!("sgm-ncsn-two-modes-{}", std::process::id()));
    let args = <Args as clap::Parser>::try_parse_from([
        "ncsn_two_modes",
        "--out",
        out.to_str().unwrap(),
        "--steps-per-level",
        "1000",
    ])
    .unwrap();
    let summary = run(&args).unwrap();
    let n = 1280.0;
    assert_eq!(summary.initial.len(), 2 * 1280);

    // The printed shares are the nearest-mode shares of the samples.
    for (shares, flat) in [
        (&summary.langevin_shares, &summary.langevin),
        (&summary.annealed_shares, &summary.annealed),
    ] {
        let low = share_below(flat, 0.0);
        assert_eq!(shares.len(), 2);
        assert!((shares[0] - low).abs() < 1e-12 && (shares[1] - (1.0 - low)).abs() < 1e-12);
    }

    // Plain Langevin: the basin share of the start, and the Langevin-biased mode variance.
    let eps = 0.1;
    let boundary = std::f64::consts::SQRT_2 * basin_boundary();
    assert!((boundary + 0.1414).abs() < 1e-3, "boundary {boundary}");
    let predicted = share_below(&summary.initial, boundary);
    let se = (predicted * (1.0 - predicted) / n).sqrt();
    assert!(
        (summary.langevin_shares[0] - predicted).abs() < 4.0 * se,
        "Langevin low share {} but the start's basin share is {predicted} +- {se}",
        summary.langevin_shares[0]
    );
    check_modes("Langevin", &summary.langevin, 1.0 / (1.0 - eps / 4.0));

    // Annealed Langevin: the true weight 0.2, and the sigma_L = 1 target's variance 2.
    let se = (0.2 * 0.8 / n).sqrt();
    assert!(
        (summary.annealed_shares[0] - 0.2).abs() < 4.0 * se,
        "annealed low share {}, expected 0.2 +- {se}",
        summary.annealed_shares[0]
    );
    check_modes("annealed", &summary.annealed, 2.0 / (1.0 - eps / 8.0));

    assert!(std::fs::metadata(&summary.plot).unwrap().len() > 1000);
    std::fs::remove_dir_all(&out).unwrap();
}

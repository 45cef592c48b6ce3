//! Song & Ermon's two-mode experiment (NeurIPS 2019, sec. 3.2 and Fig. 3):
//! p = 0.2 N((-5, -5), I) + 0.8 N((5, 5), I), particles started uniformly on [-8, 8]^2, and
//! the exact stationary law of the discretised Langevin chain on Gaussian data.

use burn::prelude::*;
use burn::tensor::DType;
use sgm_core::tensor::{from_f64, to_f64};
use sgm_core::{HostNoise, Noise, NoiseSourceExt, score_fn};
use sgm_data::{ExactDensity, GaussianMixture};
use sgm_samplers::{AnnealedLangevin, LangevinDynamics, NoObserver, Trajectory};
use sgm_schedules::GeometricSigmas;
use sgm_sde::SmldMarginals;

const PARTICLES: usize = 4096;

fn start(seed: u64, particles: usize) -> (Tensor<2>, HostNoise) {
    let mut noise = HostNoise::new(seed);
    let x = noise.sample(
        Noise::Uniform {
            low: -8.0,
            high: 8.0,
        },
        [particles, 2],
        &Device::flex(),
        DType::F32,
    );
    (x, noise)
}

/// The basin boundary of the two-mode mixture's score flow, as the value c of y = x1 + x2.
///
/// Both components have covariance I, so s(x) = -(x - r1 mu1 - r2 mu2) with responsibilities
/// r_k. Along u = (1, 1), y = x1 + x2 obeys dy/dt = s1 + s2 = -y + 10 (r2 - r1), and across it
/// (x1 - x2) obeys d(x1 - x2)/dt = -(x1 - x2): the flow splits, and the basins are the two
/// sides of the line y = c through the saddle. With |x - mu1|^2 - |x - mu2|^2 = 20 y,
/// r2 / r1 = (0.8 / 0.2) exp(10 y), so r2 - r1 = tanh(ln 2 + 5 y). The weighted
/// responsibilities are equal at y0 = -ln 4 / 10 = -0.1386; the saddle solves
/// g(y) = -y + 10 tanh(ln 2 + 5 y) = 0, y = 50 y0 / 49 to first order (-0.1415). The roots of
/// g are where the line y crosses the sigmoid 10 tanh(ln 2 + 5 y): the modes' y = -10, +10 and
/// the saddle, the only one in [-1, 1], where g(-1) < 0 < g(1): bisection finds it. (The two
/// lines hold 0.0002 of the start's mass between them.)
fn basin_boundary() -> f64 {
    let g = |y: f64| -y + 10.0 * (2f64.ln() + 5.0 * y).tanh();
    let (mut lo, mut hi) = (-1.0, 1.0);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if g(mid) < 0.0 { lo = mid } else { hi = mid }
    }
    let c = 0.5 * (lo + hi);
    assert!(
        (c - 50.0 / 49.0 * (-4f64.ln() / 10.0)).abs() < 1e-3,
        "saddle {c}"
    );
    c
}

/// For each mode k of two_modes (nearest mean), (n_k, mean residual per axis, mean squared
/// residual per axis) of the points about mu_k.
fn within_mode(x: Tensor<2>) -> [(usize, [f64; 2], [f64; 2]); 2] {
    let two = GaussianMixture::two_modes();
    let nearest = two.nearest_component(x.clone());
    let xs = to_f64(x);
    let mut out = [(0, [0.0; 2], [0.0; 2]); 2];
    for (i, &k) in nearest.iter().enumerate() {
        out[k].0 += 1;
        for a in 0..2 {
            let r = xs[2 * i + a] - two.means()[k][a];
            out[k].1[a] += r;
            out[k].2[a] += r * r;
        }
    }
    for (n, mean, sq) in out.iter_mut() {
        for a in 0..2 {
            mean[a] /= *n as f64;
            sq[a] /= *n as f64;
        }
    }
    out
}

/// Mutation checked: replacing the move by a no-op (`x = langevin_move(..).0` ->
/// `let _ = langevin_move(x.clone(), ..)`) leaves the uniform start, whose within-mode variance is
/// ~40, and dropping the 2 in the noise sqrt(2 e) halves it: both fail.
#[test]
fn langevin_with_the_exact_score_keeps_the_basin_shares_of_its_start() {
    // Plain Langevin cannot cross between the modes (the barrier is ~25 nats; Kramers' rate
    // e^-25 per unit time): each particle stays in the basin it starts in, so the low-mode share
    // is the share of starting points with x1 + x2 < c (see `basin_boundary`), about 0.49, not
    // the mode weight 0.2. Bound: 4 binomial standard errors sqrt(p (1 - p) / n) = 0.0063 at
    // n = 4096 (generous: only the ~250 points within 0.5 of the line, where one step's noise
    // sqrt(2 eps) = 0.45 in y can carry them across, are random at all).
    let two = GaussianMixture::two_modes();
    let score = score_fn(|x: Tensor<2>, _t| two.score(x));
    let (x0, mut noise) = start(1, PARTICLES);
    let eps = 0.1;
    let c = basin_boundary();
    let x0s = to_f64(x0.clone());
    let n = PARTICLES as f64;
    let predicted = x0s.chunks(2).filter(|p| p[0] + p[1] < c).count() as f64 / n;
    let x = LangevinDynamics::new(eps, 1000)
        .unwrap()
        .sample(&score, x0.clone(), 0.0, &mut noise, &mut NoObserver)
        .unwrap()
        .x;
    let low = two.component_shares(x.clone())[0];
    let se = (predicted * (1.0 - predicted) / n).sqrt();
    assert!(
        (low - predicted).abs() < 4.0 * se,
        "low-mode share {low} vs the start's basin share {predicted} (se {se})"
    );
    assert!((low - 0.2).abs() > 0.2, "low-mode share {low}");

    // Within each mode the chain is the Gaussian one of
    // `langevin_bias_on_gaussian_data_matches_its_closed_form`: each coordinate has mean mu_k and
    // variance s^2 / (1 - eps / (4 s^2)) = 1 / 0.975 with s = 1 (the other mode's pull is
    // e^-50). After 1000 steps the start is forgotten (contraction 0.95^1000 = 5e-23). Standard
    // errors with the mean known: sqrt(V / n_k) for the mean residual, sqrt(2 / n_k) V for the
    // mean squared residual (Var z^2 = 2 for z ~ N(0, 1)).
    let v = 1.0 / (1.0 - eps / 4.0);
    let check = |x: Tensor<2>| -> Vec<String> {
        let mut problems = Vec::new();
        for (k, (n_k, mean, sq)) in within_mode(x).iter().enumerate() {
            let n_k = *n_k as f64;
            for a in 0..2 {
                if mean[a].abs() > 4.0 * (v / n_k).sqrt() {
                    problems.push(format!("mode {k} axis {a}: mean residual {}", mean[a]));
                }
                if (sq[a] - v).abs() > 4.0 * (2.0 / n_k).sqrt() * v {
                    problems.push(format!("mode {k} axis {a}: variance {} vs {v}", sq[a]));
                }
            }
        }
        problems
    };
    let problems = check(x);
    assert!(problems.is_empty(), "{problems:#?}");
    // A sampler that did nothing would keep the uniform start: its shares are those of the
    // line x1 + x2 = 0 (within 0.01 of `predicted`), but its within-mode variance is ~40.
    assert_eq!(
        check(x0).len(),
        8,
        "the start must fail every variance check"
    );
}

/// Mutation checked: dropping the 1/2 in the step (e = eps / 2 -> eps) moves V(4) from 5.33 to
/// 8; dropping the 2 in the noise sqrt(2 e) halves V; both fail by far more than 4 SE.
#[test]
fn langevin_bias_on_gaussian_data_matches_its_closed_form() {
    // On N(mu, s^2 I), score -(x - mu) / s^2, one NCSN step x' = x + (eps / 2) s + sqrt(eps) z is
    // x' - mu = a (x - mu) + sqrt(eps) z with a = 1 - eps / (2 s^2). The variance obeys
    // V' = a^2 V + eps, whose fixed point is V = eps / (1 - a^2) = s^2 / (1 - eps / (4 s^2)),
    // and the mean converges to mu exactly. From x0 = 0 the mean error is a^k |mu| and the
    // variance deficit a^(2k) V: with s^2 = 4, a = 0.5 (eps = 4) and a = 0.9375 (eps = 0.5),
    // 400 steps leave 6e-12 of either.
    let (s2, mu) = (4.0, [3.0, -2.0]);
    let (n, steps) = (50_000, 400);
    let device = Device::flex();
    let mu_t = from_f64(&mu, [1, 2], &device, DType::F64);
    let score = score_fn(|x: Tensor<2>, _t| (x - mu_t.clone()) * (-1.0 / s2));
    // Standard errors over the N = 2n i.i.d. coordinates (independent under an isotropic
    // target), mean known: sqrt(V / n) for each axis' mean, sqrt(2 / N) V for the pooled mean
    // squared residual.
    let big_n = (2 * n) as f64;
    let mut excess = Vec::new();
    for (k, eps) in [4.0, 0.5].into_iter().enumerate() {
        let want = s2 / (1.0 - eps / (4.0 * s2));
        let x0 = Tensor::<2>::zeros([n, 2], (&device, DType::F64));
        let mut noise = HostNoise::new(40 + k as u64);
        let x = LangevinDynamics::new(eps, steps)
            .unwrap()
            .sample(&score, x0, 0.0, &mut noise, &mut NoObserver)
            .unwrap()
            .x;
        let xs = to_f64(x);
        for (a, mu_a) in mu.iter().enumerate() {
            let m = xs.iter().skip(a).step_by(2).sum::<f64>() / n as f64;
            let se = (want / n as f64).sqrt();
            assert!((m - mu_a).abs() < 4.0 * se, "eps {eps}: mean {a} = {m}");
        }
        let var = xs
            .chunks(2)
            .map(|p| (p[0] - mu[0]).powi(2) + (p[1] - mu[1]).powi(2))
            .sum::<f64>()
            / big_n;
        let se = (2.0 / big_n).sqrt() * want;
        assert!(
            (var - want).abs() < 4.0 * se,
            "eps {eps}: variance {var} vs s^2 / (1 - eps / (4 s^2)) = {want} (se {se})"
        );
        // The bias itself is resolved: the variance is many SE away from s^2 (33 SE at
        // eps = 4, 7 SE at eps = 0.5).
        assert!(
            (var - s2).abs() > 4.0 * se,
            "eps {eps}: variance {var} vs s^2"
        );
        excess.push((var - s2, se));
    }
    // And it tends to s^2 as eps shrinks: the excess at eps = 0.5 (0.13) is below the excess at
    // eps = 4 (1.33) by more than 4 SE of the difference (independent runs).
    let ((big, se_big), (small, se_small)) = (excess[0], excess[1]);
    assert!(
        big - small > 4.0 * (se_big * se_big + se_small * se_small).sqrt(),
        "excess {big} at eps = 4, {small} at eps = 0.5"
    );
}

/// The low-mode share of annealed Langevin (10 geometric levels from 20 to 1, eps = 0.1, the
/// exact perturbed scores with component std sqrt(1 + sigma^2)) after `steps` per level, from
/// the uniform start.
fn annealed_share(steps: usize, particles: usize, seed: u64) -> f64 {
    let two = GaussianMixture::two_modes();
    let levels = GeometricSigmas::new(1.0, 20.0, 10).unwrap();
    let smld = SmldMarginals::from_levels(&levels).unwrap();
    let exact = two.perturbed(&smld);
    let (x0, mut noise) = start(seed, particles);
    let x = AnnealedLangevin::new(levels, steps, 0.1)
        .unwrap()
        .sample(&exact, x0, &mut noise, &mut NoObserver)
        .unwrap()
        .x;
    two.component_shares(x)[0]
}

/// Mutation checked: dropping the level scaling of the step (alpha_i = eps (sigma_i /
/// sigma_L)^2 -> eps) leaves the high levels, where the modes mix, with steps 400 times too
/// small, and the share at T = 300 stays near 0.32. (The smaller error `powi(2)` -> `powi(1)`
/// moves the share at T = 300 by only 0.013, about 2 SE: the exact replay
/// `annealed_langevin_steps_are_alpha_i_over_2_at_the_level_times` catches it.)
#[test]
fn annealed_langevin_bias_in_the_mode_weights_shrinks_with_steps_per_level() {
    // With too few steps per level the chain cannot move the start's mass (share ~0.5) to the
    // weights before the modes separate: the low-mode share is biased upwards, and the bias
    // shrinks as T grows (independent simulations: 0.32 at T = 10, 0.25 at T = 30, 0.207 at
    // T = 300; Song & Ermon use T = 100). Standard error of a share p over n particles:
    // sqrt(p (1 - p) / n); of a difference of independent shares, the root sum of squares.
    let se = |p: f64, n: usize| (p * (1.0 - p) / n as f64).sqrt();
    let (few, n_few) = (annealed_share(10, 16_384, 2), 16_384);
    let (some, n_some) = (annealed_share(30, 16_384, 3), 16_384);
    let (many, n_many) = (annealed_share(300, PARTICLES, 4), PARTICLES);
    let (se_few, se_some, se_many) = (se(few, n_few), se(some, n_some), se(0.2, n_many));
    assert!(few - 0.2 > 4.0 * se_few, "T = 10: share {few}");
    assert!(some - 0.2 > 4.0 * se_some, "T = 30: share {some}");
    assert!(
        few - some > 4.0 * (se_few * se_few + se_some * se_some).sqrt(),
        "bias at T = 10: {few}, at T = 30: {some}"
    );
    // At T = 300 the remaining bias (~0.007) is about one standard error of 4,096 particles:
    // the share is within 4 of them of the mode weight 0.2.
    assert!(
        (many - 0.2).abs() < 4.0 * se_many,
        "T = 300: share {many} (se {se_many})"
    );
    assert!(
        some - many > 4.0 * (se_some * se_some + se(many, n_many).powi(2)).sqrt(),
        "bias at T = 30: {some}, at T = 300: {many}"
    );
}

/// Mutation checked: `powi(2)` -> `powi(1)` in alpha_i, dropping the 1/2 (`alpha / 2.0` ->
/// `alpha`), and dropping sigma_L^2 from the denoising step each fail.
#[test]
fn annealed_langevin_steps_are_alpha_i_over_2_at_the_level_times() {
    // Song & Ermon's Algorithm 1 replayed on the host with the sampler's normals (HostNoise is
    // reproducible): levels sigma_i = 4 (1 / 8)^(i / 2) = 4, sqrt 2, 1/2 at the times
    // t_i = (L - 1 - i) / (L - 1) = 1, 1/2, 0; alpha_i = eps sigma_i^2 / sigma_L^2 = 0.64, 0.08,
    // 0.01; T = 2 moves x <- x + (alpha_i / 2) s(x, t_i) + sqrt(alpha_i) z per level, then the
    // denoising step x <- x + sigma_L^2 s(x, t_L). The score -(x - mu) (1 + t) / 2 depends on
    // t, so the time passed at each level is checked too; `Trajectory::every(1)` gives every
    // state and its time.
    let device = Device::flex();
    let start = [0.3, -1.2, 2.5, 0.7, -1.1, -3.0];
    let mu = [1.0, -2.0];
    let mu_t = from_f64(&mu, [1, 2], &device, DType::F64);
    let score = score_fn(|x: Tensor<2>, t: Tensor<1>| {
        (x - mu_t.clone()) * (t.unsqueeze_dim::<2>(1) + 1.0) * (-0.5)
    });
    let host_score = |x: &[f64], t: f64| -> Vec<f64> {
        x.iter()
            .enumerate()
            .map(|(i, xi)| -(xi - mu[i % 2]) * (1.0 + t) * 0.5)
            .collect()
    };
    let (eps, steps) = (0.01, 2);
    let levels = GeometricSigmas::new(0.5, 4.0, 3).unwrap();
    let x0 = from_f64(&start, [3, 2], &device, DType::F64);
    let mut trajectory = Trajectory::every(1).unwrap();
    let x = AnnealedLangevin::new(levels, steps, eps)
        .unwrap()
        .with_denoising(true)
        .sample(&score, x0.clone(), &mut HostNoise::new(8), &mut trajectory)
        .unwrap()
        .x;

    let mut replay = HostNoise::new(8);
    let mut h = start.to_vec();
    let (mut states, mut times) = (Vec::new(), Vec::new());
    for i in 0..3 {
        let sigma = 4.0 * (1.0f64 / 8.0).powf(i as f64 / 2.0);
        let alpha = eps * (sigma / 0.5).powi(2);
        let t = (2 - i) as f64 / 2.0;
        for _ in 0..steps {
            let z = to_f64(replay.normal_like(&x0));
            let s = host_score(&h, t);
            for ((hi, si), zi) in h.iter_mut().zip(&s).zip(&z) {
                *hi += 0.5 * alpha * si + alpha.sqrt() * zi;
            }
            states.push(h.clone());
            times.push(t);
        }
    }
    let s = host_score(&h, 0.0);
    let denoised: Vec<f64> = h.iter().zip(&s).map(|(hi, si)| hi + 0.25 * si).collect();
    let close = |got: &[f64], want: &[f64]| {
        got.iter()
            .zip(want)
            .all(|(g, w)| (g - w).abs() < 1e-12 * (1.0 + w.abs()))
    };
    let got = to_f64(x);
    assert!(close(&got, &denoised), "{got:?} vs {denoised:?}");
    assert_eq!(trajectory.times, times);
    assert_eq!(trajectory.states.len(), states.len());
    for (k, (state, want)) in trajectory.states.iter().zip(&states).enumerate() {
        let got = to_f64(state.clone());
        assert!(close(&got, want), "step {k}: {got:?} vs {want:?}");
    }
}

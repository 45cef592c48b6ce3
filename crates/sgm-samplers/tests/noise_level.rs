//! The noise-level samplers (EDM Euler/Heun with churn, Euler ancestral, DPM-Solver 1-3,
//! DPM-Solver++ 1-3 multistep, ODE and SDE) against exact answers: convergence orders on Gaussian
//! data, whose probability-flow ODE has a closed-form flow, under the Karras and VP SDEs; and the
//! moments and mode weights of `ring8_weighted` within 4 standard errors.

use burn::prelude::*;
use burn::tensor::DType;
use sgm_core::tensor::{from_f64, to_f64};
use sgm_core::{CountingScoreModel, HostNoise, NoiseSource};
use sgm_data::{ExactDensity, Gaussian, GaussianMixture};
use sgm_samplers::{
    Churn, DpmSolver, DpmSolverPp, EdmMethod, EdmSampler, EulerAncestral, ExponentialMultistep,
    NoObserver, SampleOutput, SamplerError,
};
use sgm_schedules::{Spacing, TimeGrid};
use sgm_sde::{GaussianMarginals, VeSde, VpSde, karras_grid, log_snr_grid};

fn device() -> Device {
    Device::flex()
}

/// The samplers under test, by name, built on one SDE and grid.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Euler,
    Heun,
    Dpm(usize),
    DpmPp(usize),
    Exp(usize),
}

impl Kind {
    /// The order of convergence of each method.
    fn order(self) -> f64 {
        match self {
            Kind::Euler => 1.0,
            Kind::Heun => 2.0,
            Kind::Dpm(p) | Kind::DpmPp(p) | Kind::Exp(p) => p as f64,
        }
    }

    fn run<G: GaussianMarginals + Clone>(
        self,
        sde: &G,
        grid: TimeGrid,
        model: &dyn sgm_core::ScoreModel,
        x: Tensor<2>,
    ) -> SampleOutput {
        let noise = &mut HostNoise::new(0);
        let obs = &mut NoObserver;
        let sde = sde.clone();
        match self {
            Kind::Euler => EdmSampler::new(sde, grid, EdmMethod::Euler)
                .unwrap()
                .sample(model, x, noise, obs),
            Kind::Heun => EdmSampler::new(sde, grid, EdmMethod::Heun)
                .unwrap()
                .sample(model, x, noise, obs),
            Kind::Dpm(p) => DpmSolver::new(sde, grid, p)
                .unwrap()
                .sample(model, x, noise, obs),
            Kind::DpmPp(p) => DpmSolverPp::new(sde, grid, p)
                .unwrap()
                .sample(model, x, noise, obs),
            Kind::Exp(p) => ExponentialMultistep::new(sde, grid, p)
                .unwrap()
                .sample(model, x, noise, obs),
        }
        .unwrap()
    }
}

const ALL: [Kind; 11] = [
    Kind::Euler,
    Kind::Heun,
    Kind::Dpm(1),
    Kind::Dpm(2),
    Kind::Dpm(3),
    Kind::DpmPp(1),
    Kind::DpmPp(2),
    Kind::DpmPp(3),
    Kind::Exp(2),
    Kind::Exp(3),
    Kind::Exp(4),
];

/// Gaussian data N(mu, diag(s^2)): in the noise-level form y = x / m, sigma-bar = std / m the
/// probability-flow ODE moves each coordinate as y_k(sigma) = mu_k + (y_k(sigma_0) - mu_k)
/// sqrt((s_k^2 + sigma^2) / (s_k^2 + sigma_0^2)), and the final denoising is
/// D = mu + s^2 / (s^2 + sigma^2) (y - mu). So the exact output of every sampler's target is
/// known in closed form from its start.
struct GaussianCase {
    mu: [f64; 2],
    var: [f64; 2],
}

impl GaussianCase {
    fn density(&self) -> Gaussian {
        Gaussian::new(self.mu.to_vec(), vec![self.var[0], 0.0, 0.0, self.var[1]]).unwrap()
    }

    /// The exact flow from x at time t0 to time t1, then D(., t1).
    fn exact<G: GaussianMarginals>(&self, sde: &G, x: &[f64], t0: f64, t1: f64) -> Vec<f64> {
        let (l0, l1) = (sde.noise_level_at(t0), sde.noise_level_at(t1));
        let m0 = sde.mean_coeff_at(t0);
        x.iter()
            .enumerate()
            .map(|(i, &xi)| {
                let (mu, s2) = (self.mu[i % 2], self.var[i % 2]);
                let y1 = mu + (xi / m0 - mu) * ((s2 + l1 * l1) / (s2 + l0 * l0)).sqrt();
                mu + s2 / (s2 + l1 * l1) * (y1 - mu)
            })
            .collect()
    }
}

/// Largest error of `kind` with grids of `points` points, over a few starting points.
fn error<G: GaussianMarginals + Clone>(
    kind: Kind,
    sde: &G,
    grid: &dyn Fn(usize) -> TimeGrid,
    points: usize,
) -> f64 {
    let case = GaussianCase {
        mu: [1.0, -0.5],
        var: [1.5, 0.09],
    };
    let density = case.density();
    let model = density.perturbed(sde.clone());
    let g = grid(points);
    let spread = 1.2 * sde.std_at(g.start());
    let x: Vec<f64> = [-1.0, 0.3, 0.8, 1.1, 0.5, -0.7]
        .iter()
        .map(|u| u * spread)
        .collect();
    let start = from_f64(&x, [3, 2], &device(), DType::F64);
    let want = case.exact(sde, &x, g.start(), g.end());
    let out = kind.run(sde, g, &model, start);
    to_f64(out.x)
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}

/// Observed orders log2(e(n) / e(2n)) and log2(e(2n) / e(4n)) of `kind`, with the errors.
fn observed_orders<G: GaussianMarginals + Clone>(
    kind: Kind,
    sde: &G,
    grid: &dyn Fn(usize) -> TimeGrid,
    steps: usize,
) -> ([f64; 2], [f64; 3]) {
    let e = [steps, 2 * steps, 4 * steps].map(|n| error(kind, sde, grid, n + 1));
    ([(e[0] / e[1]).log2(), (e[1] / e[2]).log2()], e)
}

/// Each method converges at its order on both SDEs, each on its Karras grid (rho = 7): over n,
/// 2n and 4n steps (n = 32 for orders 1 and 2, 16 above, where the errors are 1e-3 to 1e-8,
/// far above rounding), both observed orders must be at least p - 0.3. A method that loses an
/// order (a dropped or wrong term) falls to about p - 1: DPM-Solver++ 3M with k-diffusion's d2
/// weight (the factor 2 dropped in dpm_solver_pp.rs) measured 3.55 and 1.20 here, and Heun
/// with its 0.5 dropped, or DPM-Solver-2 with 2 r1 replaced by r1, fall to order 1. No upper
/// bound: on Gaussian data the pre-asymptotic rates of the third- and fourth-order methods run
/// above p (DPM-Solver-3 measured 4.4 and 5.1, exponential multistep 4 7.8 and 4.4), which says
/// nothing about a bug. The multistep methods warm up at lower orders; on the Karras grids the
/// first steps are short in lambda and the flow contracts what they leave, so the warm-up does
/// not show at these step counts (on VP's uniform log-SNR grid it pulls order 4 to about 3.6).
#[test]
fn every_method_converges_at_its_order() {
    let karras = VeSde::karras(80.0).unwrap();
    let vp = VpSde::default();
    let karras_grid_fn =
        |n: usize| TimeGrid::new(80.0, 0.002, n, Spacing::Karras { rho: 7.0 }).unwrap();
    let vp_grid_fn = |n: usize| karras_grid(&vp, 1.0, 1e-3, n, 7.0).unwrap();
    let mut failures = Vec::new();
    for kind in ALL {
        let steps = if kind.order() < 3.0 { 32 } else { 16 };
        let (p_karras, e_karras) = observed_orders(kind, &karras, &karras_grid_fn, steps);
        let (p_vp, e_vp) = observed_orders(kind, &vp, &vp_grid_fn, steps);
        println!("{kind:?}: karras {p_karras:.2?} {e_karras:?}  vp {p_vp:.2?} {e_vp:?}");
        for p in p_karras.into_iter().chain(p_vp) {
            if p < kind.order() - 0.3 {
                failures.push((kind, p));
            }
        }
    }
    assert!(failures.is_empty(), "orders below p - 0.3: {failures:?}");
}

/// The Karras grid of a general SDE puts its noise levels where the Karras SDE's grid puts
/// its times: same levels, exactly at the ends. Mutation checked: a grid uniform in t fails.
#[test]
fn karras_grid_matches_the_karras_levels() {
    let vp = VpSde::default();
    let g = karras_grid(&vp, 1.0, 1e-3, 12, 7.0).unwrap();
    let levels: Vec<f64> = g.times().iter().map(|&t| vp.noise_level_at(t)).collect();
    let want = TimeGrid::new(levels[0], levels[11], 12, Spacing::Karras { rho: 7.0 }).unwrap();
    for (a, b) in levels.iter().zip(want.times()) {
        assert!((a - b).abs() <= 1e-9 * b, "{a} vs {b}");
    }
}

/// Every sampler reports its true NFE (counted by the model) and what `nfe()` predicts.
/// Mutation checked: reporting one evaluation more than the model saw fails.
#[test]
fn nfe_is_counted_and_predicted() {
    let karras = VeSde::karras(80.0).unwrap();
    let mix = GaussianMixture::ring8_weighted();
    let model = CountingScoreModel::new(mix.perturbed(karras));
    let grid = TimeGrid::new(80.0, 0.002, 6, Spacing::Karras { rho: 7.0 }).unwrap();
    let x = from_f64(&[1.0, 2.0], [1, 2], &device(), DType::F64);
    for (kind, want) in [
        (Kind::Euler, 6),
        (Kind::Heun, 11),
        (Kind::Dpm(2), 11),
        (Kind::Dpm(3), 16),
        (Kind::DpmPp(3), 6),
    ] {
        let before = model.score_calls();
        let out = kind.run(&karras, grid.clone(), &model, x.clone() * 80.0);
        assert_eq!(
            (out.nfe, model.score_calls() - before),
            (want, want),
            "{kind:?}"
        );
    }
}

/// A state that turns non-finite stops the sampler with an error naming the step.
#[test]
fn a_non_finite_state_is_an_error() {
    let karras = VeSde::karras(80.0).unwrap();
    let grid = TimeGrid::new(80.0, 0.002, 6, Spacing::Karras { rho: 7.0 }).unwrap();
    let model = sgm_core::score_fn(|x: Tensor<2>, _t: Tensor<1>| x.clone() / x.zeros_like());
    let x = from_f64(&[1.0, 2.0], [1, 2], &device(), DType::F64);
    let got = DpmSolverPp::new(karras, grid, 2).unwrap().sample(
        &model,
        x,
        &mut HostNoise::new(0),
        &mut NoObserver,
    );
    assert!(
        matches!(got, Err(SamplerError::NonFinite { step: 0, .. })),
        "{got:?}"
    );
}

/// Mean, mean squared norm and mode shares of samples of `ring8_weighted`, each within 4
/// standard errors of the exact values. The SEs: a mode share of n samples has sd
/// sqrt(w (1 - w) / n); the mean coordinate sd(x_k) / sqrt(n) with the exact sd; |x|^2 its
/// sample sd / sqrt(n). Sampling error dominates when the discretisation error is small,
/// which the step counts below give.
fn check_ring8(name: &str, x: Tensor<2>) {
    let mix = GaussianMixture::ring8_weighted();
    let n = x.dims()[0] as f64;
    let shares = mix.component_shares(x.clone());
    let v = to_f64(x);
    let w = mix.weights();
    for (k, (&got, &want)) in shares.iter().zip(w).enumerate() {
        let z = (got - want) / (want * (1.0 - want) / n).sqrt();
        assert!(
            z.abs() < 4.0,
            "{name}: mode {k} share {got} vs {want} ({z:.1} SE)"
        );
    }
    let s2 = mix.stds()[0].powi(2);
    for d in 0..2 {
        let mean: f64 = w.iter().zip(mix.means()).map(|(w, m)| w * m[d]).sum();
        let second: f64 = w
            .iter()
            .zip(mix.means())
            .map(|(w, m)| w * m[d] * m[d])
            .sum();
        let sd = (s2 + second - mean * mean).sqrt();
        let got = v.iter().skip(d).step_by(2).sum::<f64>() / n;
        let z = (got - mean) / (sd / n.sqrt());
        assert!(
            z.abs() < 4.0,
            "{name}: mean[{d}] {got} vs {mean} ({z:.1} SE)"
        );
    }
    let norms: Vec<f64> = v.chunks(2).map(|p| p[0] * p[0] + p[1] * p[1]).collect();
    let want: f64 = 2.0 * s2
        + mix
            .means()
            .iter()
            .zip(w)
            .map(|(m, w)| w * (m[0] * m[0] + m[1] * m[1]))
            .sum::<f64>();
    let got = norms.iter().sum::<f64>() / n;
    let sd = (norms.iter().map(|q| (q - got).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let z = (got - want) / (sd / n.sqrt());
    assert!(z.abs() < 4.0, "{name}: E|x|^2 {got} vs {want} ({z:.1} SE)");
}

/// Draws of the exact marginal at time t (data plus noise), so that only the sampler's error
/// remains.
fn exact_start<G: GaussianMarginals>(
    sde: &G,
    t: f64,
    n: usize,
    noise: &mut dyn NoiseSource,
) -> Tensor<2> {
    let x0 = GaussianMixture::ring8_weighted().sample(n, &device(), DType::F64, noise);
    let z = sgm_core::NoiseSourceExt::normal_like(noise, &x0);
    x0 * sde.mean_coeff_at(t) + z * sde.std_at(t)
}

/// The stochastic samplers (EDM with churn, Euler ancestral, DPM-Solver++ 2M and 3M SDE) and
/// the deterministic ones sample ring8_weighted on the Karras SDE and on VP. Mutations checked
/// (each fails): Euler ancestral without its noise, the 2M SDE with its noise doubled, and the
/// EDM churn with its added noise doubled.
#[test]
fn samplers_reproduce_ring8_weighted() {
    const N: usize = 4_000;
    let karras = VeSde::karras(80.0).unwrap();
    let vp = VpSde::default();
    let mix = GaussianMixture::ring8_weighted();
    let noise = &mut HostNoise::new(11);
    let obs = &mut NoObserver;
    let kgrid = |n| TimeGrid::new(80.0, 0.002, n, Spacing::Karras { rho: 7.0 }).unwrap();
    let vgrid = |n| karras_grid(&vp, 1.0, 1e-3, n, 7.0).unwrap();
    let km = mix.perturbed(karras);
    let vm = mix.perturbed(vp);
    let churn = Churn::new(40.0, 0.05, 50.0, 1.0).unwrap();
    let runs: Vec<(&str, SampleOutput)> = vec![
        (
            "EDM Heun churn (Karras)",
            EdmSampler::new(karras, kgrid(40), EdmMethod::Heun)
                .unwrap()
                .with_churn(churn)
                .sample(&km, exact_start(&karras, 80.0, N, noise), noise, obs)
                .unwrap(),
        ),
        (
            "Euler ancestral (Karras)",
            EulerAncestral::new(karras, kgrid(200), 1.0, 1.0)
                .unwrap()
                .sample(&km, exact_start(&karras, 80.0, N, noise), noise, obs)
                .unwrap(),
        ),
        (
            "Euler ancestral (VP)",
            EulerAncestral::new(vp, vgrid(200), 1.0, 1.0)
                .unwrap()
                .sample(&vm, exact_start(&vp, 1.0, N, noise), noise, obs)
                .unwrap(),
        ),
        (
            "DPM-Solver++ 2M SDE (VP)",
            DpmSolverPp::new(vp, vgrid(60), 2)
                .unwrap()
                .with_noise(1.0, 1.0)
                .unwrap()
                .sample(&vm, exact_start(&vp, 1.0, N, noise), noise, obs)
                .unwrap(),
        ),
        (
            "DPM-Solver++ 3M SDE (Karras)",
            DpmSolverPp::new(karras, kgrid(60), 3)
                .unwrap()
                .with_noise(1.0, 1.0)
                .unwrap()
                .sample(&km, exact_start(&karras, 80.0, N, noise), noise, obs)
                .unwrap(),
        ),
        (
            "DPM-Solver-3 (VP)",
            DpmSolver::new(vp, log_snr_grid(&vp, 1.0, 1e-3, 11).unwrap(), 3)
                .unwrap()
                .sample(&vm, exact_start(&vp, 1.0, N, noise), noise, obs)
                .unwrap(),
        ),
    ];
    for (name, out) in runs {
        check_ring8(name, out.x);
    }
}

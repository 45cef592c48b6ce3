//! Energy models against closed forms: the quadratic energy's derivatives, Metropolis-Hastings'
//! stationary moments and acceptance rate, annealed importance sampling's log Z.

use burn::prelude::*;
use burn::tensor::DType;
use sgm_core::tensor::{from_f64, time_like, to_f64};
use sgm_core::{HostNoise, Noise, NoiseSourceExt, ScoreModel};
use sgm_energy::{
    AnnealedImportanceSampling, EnergyModel, EnergyScore, MetropolisHastings, QuadraticEnergy,
};
use sgm_samplers::{Observer, StepInfo};

fn device() -> Device {
    Device::flex()
}

const MU: [f64; 2] = [1.0, -2.0];
/// P = [[2, 0.6], [0.6, 0.5]], det P = 0.64, Sigma = P^-1 = [[0.78125, -0.9375], [-0.9375, 3.125]].
const P: [f64; 4] = [2.0, 0.6, 0.6, 0.5];
const SIGMA: [f64; 4] = [0.78125, -0.9375, -0.9375, 3.125];

fn quadratic() -> QuadraticEnergy {
    QuadraticEnergy::new(&MU, &P, &device(), DType::F64).unwrap()
}

/// An energy that forwards E, grad E and H v but not the trace, so `hessian_trace` takes the
/// trait's default (the d unit-vector HVPs).
struct WithoutTrace<'a>(&'a QuadraticEnergy);

impl EnergyModel for WithoutTrace<'_> {
    fn energy(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<1> {
        self.0.energy(x, t)
    }
    fn energy_grad(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        self.0.energy_grad(x, t)
    }
    fn energy_hvp(&self, x: Tensor<2>, t: Tensor<1>, v: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        self.0.energy_hvp(x, t, v)
    }
}

#[test]
fn quadratic_energy_derivatives_match_finite_differences_and_closed_forms() {
    // Mutation checked: `v.matmul(p)` -> `v` in the HVP fails both the closed form and the
    // finite differences.
    let energy = quadratic();
    let x = from_f64(&[0.3, 1.2, -1.0, 0.5], [2, 2], &device(), DType::F64);
    let t = time_like(0.0, &x);
    let e = to_f64(energy.energy(x.clone(), t.clone()));
    let (grad, hv) = energy.energy_hvp(
        x.clone(),
        t.clone(),
        from_f64(&[1.0, -1.0, 0.5, 2.0], [2, 2], &device(), DType::F64),
    );
    let (grad, hv) = (to_f64(grad), to_f64(hv));
    let xs = to_f64(x.clone());
    let h = 1e-5;
    for i in 0..2 {
        let r = [xs[2 * i] - MU[0], xs[2 * i + 1] - MU[1]];
        // E = 1/2 r^T P r, grad = P r, H v = P v: by hand.
        let want_e = 0.5 * (P[0] * r[0] * r[0] + 2.0 * P[1] * r[0] * r[1] + P[3] * r[1] * r[1]);
        approx::assert_relative_eq!(e[i], want_e, max_relative = 1e-12);
        for k in 0..2 {
            approx::assert_relative_eq!(
                grad[2 * i + k],
                P[2 * k] * r[0] + P[2 * k + 1] * r[1],
                max_relative = 1e-12
            );
            // Central differences of E along e_k: the gradient to O(h^2) (exact for a quadratic).
            let mut plus = xs.clone();
            plus[2 * i + k] += h;
            let mut minus = xs.clone();
            minus[2 * i + k] -= h;
            let ep =
                to_f64(energy.energy(from_f64(&plus, [2, 2], &device(), DType::F64), t.clone()));
            let em =
                to_f64(energy.energy(from_f64(&minus, [2, 2], &device(), DType::F64), t.clone()));
            approx::assert_abs_diff_eq!(
                (ep[i] - em[i]) / (2.0 * h),
                grad[2 * i + k],
                epsilon = 1e-8
            );
        }
    }
    let v = [[1.0, -1.0], [0.5, 2.0]];
    for i in 0..2 {
        for k in 0..2 {
            let want = P[2 * k] * v[i][0] + P[2 * k + 1] * v[i][1];
            approx::assert_relative_eq!(hv[2 * i + k], want, max_relative = 1e-12);
        }
    }
    // The trace, closed form and through the default d-HVP route, equals tr P = 2.5.
    let trace = to_f64(energy.hessian_trace(x.clone(), t.clone()));
    let via_hvp = to_f64(WithoutTrace(&energy).hessian_trace(x.clone(), t.clone()));
    for (a, b) in trace.iter().zip(&via_hvp) {
        approx::assert_relative_eq!(*a, 2.5, max_relative = 1e-12);
        approx::assert_relative_eq!(*b, 2.5, max_relative = 1e-6);
    }
    // The induced score model: s = -P r, J s v = -P v.
    let model = EnergyScore(&energy);
    let (s, js) = model.score_jvp(
        x.clone(),
        t,
        from_f64(&[1.0, -1.0, 0.5, 2.0], [2, 2], &device(), DType::F64),
    );
    for (a, b) in to_f64(s).iter().zip(&grad) {
        approx::assert_relative_eq!(*a, -b, max_relative = 1e-12);
    }
    for (a, b) in to_f64(js).iter().zip(&hv) {
        approx::assert_relative_eq!(*a, -b, max_relative = 1e-12);
    }
    assert!(
        (energy.log_normalizer().unwrap()
            - ((2.0 * std::f64::consts::PI).ln() - 0.5 * 0.64f64.ln()))
        .abs()
            < 1e-12
    );
    assert!(QuadraticEnergy::new(&MU, &[1.0, 0.5, 0.4, 1.0], &device(), DType::F64).is_err());
    assert!(QuadraticEnergy::new(&MU, &[1.0, 2.0, 2.0, 1.0], &device(), DType::F64).is_err());
    assert!(QuadraticEnergy::new(&MU, &[1.0], &device(), DType::F64).is_err());
}

/// Records, per step, how many chains moved (compared with the previous state on the host).
struct Moves {
    previous: Vec<f64>,
    moved: usize,
    proposals: usize,
}

impl Observer for Moves {
    fn on_step(&mut self, info: &StepInfo<'_>) {
        let x = to_f64(info.x.clone());
        for (a, b) in x.chunks(2).zip(self.previous.chunks(2)) {
            self.moved += usize::from(a != b);
            self.proposals += 1;
        }
        self.previous = x;
    }
}

#[test]
fn metropolis_hastings_has_the_stationary_moments_and_reports_its_acceptance() {
    // 4000 independent chains from N(0, 9 I), 300 steps of scale 1 on N(mu, Sigma): after
    // burn-in the final states are 4000 independent draws of N(mu, Sigma) (the chains mix in a
    // few tens of steps at this scale). Four standard errors: sqrt(Sigma_kk / n) for the means,
    // Sigma_kk sqrt(2 / n) for the variances, sqrt((Sigma_00 Sigma_11 + Sigma_01^2) / n) for the
    // covariance. The acceptance rate must equal the fraction of proposals that moved a chain,
    // counted independently by an observer.
    // Mutation checked: accepting when log u > -dE (the inequality flipped) makes the chains
    // climb the energy and fails the means; reporting accepted / chains fails the rate.
    let energy = quadratic();
    let n = 4000;
    let mut noise = HostNoise::new(3);
    let x0 = noise.sample(Noise::StandardNormal, [n, 2], &device(), DType::F32) * 3.0;
    let mut moves = Moves {
        previous: to_f64(x0.clone()),
        moved: 0,
        proposals: 0,
    };
    let out = MetropolisHastings::new(1.0, 300)
        .unwrap()
        .sample(&energy, x0, 0.0, &mut noise, &mut moves)
        .unwrap();
    assert_eq!(out.nfe, 301);
    let rate = moves.moved as f64 / moves.proposals as f64;
    eprintln!("acceptance {:.4} (observer {rate:.4})", out.acceptance_rate);
    assert!((out.acceptance_rate - rate).abs() < 1e-9);
    assert!(out.acceptance_rate > 0.1 && out.acceptance_rate < 0.95);
    let x = to_f64(out.x);
    let nf = n as f64;
    let mean = [0, 1].map(|k| x.iter().skip(k).step_by(2).sum::<f64>() / nf);
    let cov = |a: usize, b: usize| {
        x.chunks(2)
            .map(|p| (p[a] - mean[a]) * (p[b] - mean[b]))
            .sum::<f64>()
            / (nf - 1.0)
    };
    for k in 0..2 {
        let s = SIGMA[3 * k];
        assert!(
            (mean[k] - MU[k]).abs() < 4.0 * (s / nf).sqrt(),
            "mean {mean:?}"
        );
        assert!(
            (cov(k, k) - s).abs() < 4.0 * s * (2.0 / nf).sqrt(),
            "var {} vs {s}",
            cov(k, k)
        );
    }
    let se_cov = ((SIGMA[0] * SIGMA[3] + SIGMA[1] * SIGMA[1]) / nf).sqrt();
    assert!(
        (cov(0, 1) - SIGMA[1]).abs() < 4.0 * se_cov,
        "cov {}",
        cov(0, 1)
    );
}

#[test]
fn annealed_importance_sampling_finds_the_gaussian_normaliser() {
    // log Z of the quadratic energy is log(2 pi) - 1/2 log det P = 2.0610; AIS from N(0, 4 I)
    // with 200 temperatures and 2 Metropolis steps each, 2000 chains, must be within 4 of its
    // standard errors (the log-mean-exp bias, Var(w) / (2 n mean^2), is far smaller at this
    // spread of the weights; the test prints both).
    // Mutation checked: dropping the base density's normaliser from the weights shifts log Z
    // by d/2 log(2 pi s^2) = 2.5 and fails.
    let energy = quadratic();
    let ais = AnnealedImportanceSampling::new(200, 2.0, MetropolisHastings::new(0.8, 2).unwrap())
        .unwrap();
    let mut noise = HostNoise::new(9);
    let est = ais
        .log_normalizer(&energy, (2000, 2), 0.0, &device(), DType::F32, &mut noise)
        .unwrap();
    let want = energy.log_normalizer().unwrap();
    eprintln!(
        "AIS log Z {:.4} +- {:.4}, exact {want:.4}, nfe {}",
        est.log_z, est.std_error, est.nfe
    );
    assert_eq!(est.nfe, 1 + 200 * 2);
    assert!(
        est.std_error < 0.05,
        "weights too spread: {}",
        est.std_error
    );
    assert!(
        (est.log_z - want).abs() < 4.0 * est.std_error,
        "{} vs {want}",
        est.log_z
    );
}

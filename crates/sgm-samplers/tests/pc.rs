//! Every predictor x corrector pair with the exact scores of ring8_weighted under VE, VP and
//! sub-VP, against the mode weights, the within-mode variance and the entropy.

use std::sync::OnceLock;

use burn::prelude::*;
use burn::tensor::DType;
use sgm_core::tensor::to_f64;
use sgm_core::{CountingScoreModel, HostNoise};
use sgm_data::{ExactDensity, GaussianMixture};
use sgm_samplers::{
    AncestralSampling, AnnealedLangevinCorrector, Corrector, EulerMaruyama, FinalStep,
    LangevinCorrector, NoObserver, NoneCorrector, PcSampler, Predictor, ReverseDiffusion,
    SamplerError,
};
use sgm_schedules::TimeGrid;
use sgm_sde::{LinearSde, Sde, SubVpSde, VeSde, VpSde};

const PARTICLES: usize = 4096;

fn device() -> Device {
    Device::flex()
}

/// -H(p) = E_p[log p] for ring8_weighted, by Monte Carlo over 400,000 exact samples (standard
/// error ~0.002, negligible beside the samplers' own).
fn minus_entropy() -> f64 {
    static VALUE: OnceLock<f64> = OnceLock::new();
    *VALUE.get_or_init(|| {
        let ring = GaussianMixture::ring8_weighted();
        let mut noise = HostNoise::new(1234);
        let x = ring.sample(400_000, &device(), DType::F32, &mut noise);
        let lp = to_f64(ring.log_prob(x));
        lp.iter().sum::<f64>() / lp.len() as f64
    })
}

struct Metrics {
    shares: Vec<f64>,
    variance: [f64; 2],
    mean_log_p: f64,
    log_p_se: f64,
}

fn metrics(x: Tensor<2>) -> Metrics {
    let ring = GaussianMixture::ring8_weighted();
    let nearest = ring.nearest_component(x.clone());
    let shares = ring.component_shares(x.clone());
    let lp = to_f64(ring.log_prob(x.clone()));
    let n = lp.len() as f64;
    let mean_log_p = lp.iter().sum::<f64>() / n;
    let var = lp.iter().map(|v| (v - mean_log_p).powi(2)).sum::<f64>() / (n - 1.0);
    let xs = to_f64(x);
    let mut variance = [0.0; 2];
    for (i, k) in nearest.iter().enumerate() {
        for (a, v) in variance.iter_mut().enumerate() {
            *v += (xs[2 * i + a] - ring.means()[*k][a]).powi(2) / n;
        }
    }
    Metrics {
        shares,
        variance,
        mean_log_p,
        log_p_se: (var / n).sqrt(),
    }
}

fn run<P: Predictor, C: Corrector>(
    sde: &dyn LinearSde,
    predictor: &P,
    corrector: &C,
    eps: f64,
    seed: u64,
) -> Metrics {
    let grid = TimeGrid::uniform(sde.t_end(), eps, 1001).unwrap();
    let sampler = PcSampler::new(predictor, corrector, grid, FinalStep::Mean).unwrap();
    let mut noise = HostNoise::new(seed);
    let x_t = sde.prior_sample([PARTICLES, 2], &device(), DType::F32, &mut noise);
    metrics(sampler.sample(x_t, &mut noise, &mut NoObserver).unwrap().x)
}

#[test]
fn every_pc_pair_samples_ring8_weighted() {
    let ring = GaussianMixture::ring8_weighted();
    let ve = VeSde::default();
    let vp = VpSde::default();
    let sub = SubVpSde::default();
    let sdes: [(&dyn LinearSde, f64); 3] = [(&ve, 1e-5), (&vp, 1e-3), (&sub, 1e-3)];
    let mut failures: Vec<String> = Vec::new();
    let mut seed = 0;
    for (sde, eps) in sdes {
        let exact = ring.perturbed(sde);
        let em = EulerMaruyama::new(sde, &exact);
        let rd = ReverseDiffusion::new(sde, &exact);
        let ancestral = AncestralSampling::new(sde, &exact);
        let langevin = LangevinCorrector::new(sde, &exact, 0.16, 1).unwrap();
        let annealed = AnnealedLangevinCorrector::new(sde, &exact, 0.16, 1).unwrap();
        let mut predictors: Vec<(&str, &dyn Predictor)> = vec![("EM", &em), ("RD", &rd)];
        match &ancestral {
            Ok(a) => predictors.push(("ancestral", a)),
            Err(e) => assert_eq!(*e, SamplerError::AncestralUnsupported { sde: "sub-VP" }),
        }
        let correctors: [(&str, &dyn Corrector); 3] = [
            ("none", &NoneCorrector),
            ("Langevin", &langevin),
            ("annealed", &annealed),
        ];
        for (pname, p) in &predictors {
            for (cname, c) in correctors {
                seed += 1;
                let m = run(sde, p, &c, eps, seed);
                let n = PARTICLES as f64;
                let mut problems = Vec::new();
                // Mode shares: binomial standard error sqrt(w (1 - w) / n) per mode, 4 of them.
                for (k, (share, w)) in m.shares.iter().zip(ring.weights()).enumerate() {
                    if (share - w).abs() > 4.0 * (w * (1.0 - w) / n).sqrt() {
                        problems.push(format!("mode {k} share {share:.4} vs {w:.4}"));
                    }
                }
                // Within-mode variance 0.25, pooled over both axes (2n residuals, independent
                // within an isotropic mode): standard error 0.25 sqrt(2 / 2n); 4 of them.
                let pooled = (m.variance[0] + m.variance[1]) / 2.0;
                if (pooled - 0.25).abs() > 4.0 * 0.25 * (1.0 / n).sqrt() {
                    problems.push(format!("within-mode variance {pooled:.4}"));
                }
                // Mean true log-density: 4 standard errors of the samples' own spread (the
                // reference's standard error, 0.002, is negligible).
                if (m.mean_log_p - minus_entropy()).abs() > 4.0 * m.log_p_se {
                    problems.push(format!(
                        "mean log p {:.4} +- {:.4} vs -H = {:.4}",
                        m.mean_log_p,
                        m.log_p_se,
                        minus_entropy()
                    ));
                }
                if !problems.is_empty() {
                    failures.push(format!(
                        "{} {pname}+{cname}: {}",
                        sde.name(),
                        problems.join(", ")
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn reported_nfe_matches_a_counting_model() {
    let ring = GaussianMixture::ring8_weighted();
    let vp = VpSde::default();
    let exact = ring.perturbed(&vp);
    let counted = CountingScoreModel::new(exact);
    let predictor = ReverseDiffusion::new(&vp, &counted);
    let corrector = LangevinCorrector::new(&vp, &counted, 0.16, 2).unwrap();
    let grid = TimeGrid::uniform(1.0, 1e-3, 51).unwrap();
    let tweedie = FinalStep::Tweedie {
        model: &counted,
        marginals: &vp,
    };
    let sampler = PcSampler::new(&predictor, &corrector, grid, tweedie).unwrap();
    let mut noise = HostNoise::new(0);
    let x_t = vp.prior_sample([64, 2], &device(), DType::F32, &mut noise);
    let out = sampler.sample(x_t, &mut noise, &mut NoObserver).unwrap();
    // 50 steps x (1 predictor + 2 corrector evaluations) + 1 Tweedie evaluation.
    assert_eq!(out.nfe, 151);
    assert_eq!(counted.evaluations(), out.nfe);
}

#[test]
fn a_non_finite_state_stops_the_sampler_with_its_step_and_time() {
    let vp = VpSde::default();
    // The score turns NaN below t = 0.5.
    let broken = |x: Tensor<2>, t: Tensor<1>| {
        let below = t.lower_elem(0.5).unsqueeze_dim::<2>(1).expand(x.dims());
        (-x).mask_fill(below, f32::NAN)
    };
    let predictor = EulerMaruyama::new(&vp, &broken);
    let grid = TimeGrid::uniform(1.0, 0.0, 11).unwrap();
    let sampler = PcSampler::new(&predictor, &NoneCorrector, grid, FinalStep::Sample).unwrap();
    let mut noise = HostNoise::new(0);
    let x_t = vp.prior_sample([8, 2], &device(), DType::F32, &mut noise);
    let err = sampler
        .sample(x_t, &mut noise, &mut NoObserver)
        .unwrap_err();
    // Step 5 runs from t = 0.5 (finite score) to 0.4; step 6 evaluates at t = 0.4 and ends at
    // 0.3 with a NaN state.
    match err {
        SamplerError::NonFinite { step, t } => {
            assert_eq!(step, 6);
            assert!((t - 0.3).abs() < 1e-12, "t = {t}");
        }
        other => panic!("unexpected {other:?}"),
    }
    let increasing = TimeGrid::uniform(0.0, 1.0, 11).unwrap();
    assert!(PcSampler::new(&predictor, &NoneCorrector, increasing, FinalStep::Sample).is_err());
}

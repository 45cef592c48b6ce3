//! Song & Ermon's two-mode experiment (NeurIPS 2019, sec. 3.2 and Fig. 3):
//! p = 0.2 N((-5, -5), I) + 0.8 N((5, 5), I), particles started uniformly on [-8, 8]^2.

use burn::prelude::*;
use burn::tensor::DType;
use sgm_core::{HostNoise, Noise, NoiseSourceExt};
use sgm_data::{ExactDensity, GaussianMixture};
use sgm_samplers::{AnnealedLangevin, LangevinDynamics, NoObserver};
use sgm_schedules::GeometricSigmas;
use sgm_sde::SmldMarginals;

const PARTICLES: usize = 4096;

fn start(seed: u64) -> (Tensor<2>, HostNoise) {
    let mut noise = HostNoise::new(seed);
    let x = noise.sample(
        Noise::Uniform {
            low: -8.0,
            high: 8.0,
        },
        [PARTICLES, 2],
        &Device::flex(),
        DType::F32,
    );
    (x, noise)
}

#[test]
fn langevin_with_the_exact_score_misses_the_mode_weights() {
    // Plain Langevin cannot cross between the modes: the low-weight mode keeps roughly the
    // share of the initial square in its basin, about 0.49 instead of 0.2. The test requires a
    // share more than 0.2 away from 0.2 (the binomial standard error at 4,096 particles is
    // 0.008).
    let two = GaussianMixture::two_modes();
    let score = |x: Tensor<2>, _t: Tensor<1>| two.score(x);
    let (x0, mut noise) = start(1);
    let x = LangevinDynamics::new(0.1, 1000)
        .unwrap()
        .sample(&score, x0, 0.0, &mut noise, &mut NoObserver)
        .unwrap();
    let low = two.component_shares(x)[0];
    assert!((low - 0.2).abs() > 0.2, "low-mode share {low}");
}

#[test]
fn annealed_langevin_recovers_the_mode_weights() {
    // 10 geometric levels from 20 to 1, 100 steps each, eps = 0.1, the exact perturbed scores
    // (component std sqrt(1 + sigma^2)). Song & Ermon report the right weights; the known bias
    // at 100 steps per level is about +0.02. Bound: within 0.05 of 0.2 (6 standard errors of
    // the share at 4,096 particles, 0.006, on top of that bias).
    let two = GaussianMixture::two_modes();
    let levels = GeometricSigmas::new(1.0, 20.0, 10).unwrap();
    let smld = SmldMarginals::from_levels(&levels).unwrap();
    let exact = two.perturbed(&smld);
    let (x0, mut noise) = start(2);
    let x = AnnealedLangevin::new(levels, 100, 0.1)
        .unwrap()
        .sample(&exact, x0, &mut noise, &mut NoObserver)
        .unwrap();
    let low = two.component_shares(x)[0];
    assert!((low - 0.2).abs() < 0.05, "low-mode share {low}");
}

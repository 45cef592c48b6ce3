//! # sgm: score-based generative models on burn
//!
//! `sgm` covers the field of score-based generative modelling in one workspace: scores and
//! score models, score-matching losses, noise schedules, SDEs with their reverse-time SDEs and
//! probability-flow ODEs, samplers, likelihood evaluation, and exact oracles to test them all.
//! Everything runs on any burn device (CPU: flex or ndarray; GPU: wgpu or cuda) through one code
//! path: functions take tensors and `&Device`, never a backend type parameter.
//!
//! This crate is the facade: it re-exports the workspace crates as modules and gathers the most
//! used items in [`prelude`].
//!
//! | module | crate | what |
//! |---|---|---|
//! | [`core`] | `sgm-core` | `ScoreModel`, `VectorField`, `NoiseSource`, divergences |
//! | [`schedules`] | `sgm-schedules` | geometric sigmas, DDPM betas, Karras sigmas, time grids |
//! | [`sde`] | `sgm-sde` | VE, VP, sub-VP, OU, Brownian; reverse SDE; probability-flow ODE |
//! | [`data`] | `sgm-data` | Gaussians and mixtures with exact perturbed scores; 8x8 digits |
//! | [`nn`] | `sgm-nn` | MLP score network with exact JVP, parameterisations, training loop |
//! | [`losses`] | `sgm-losses` | ESM, ISM, SSM, SSM-VR, DSM (single, NCSN, continuous), DDPM loss |
//! | [`samplers`] | `sgm-samplers` | Langevin, annealed Langevin, PC samplers, ODE solvers, DDPM, DDIM |
//! | [`likelihood`] | `sgm-likelihood` | probability-flow log-likelihood, bits/dim, DDPM and continuous ELBOs |
//! | [`energy`] | `sgm-energy` | energy models (score -grad E), contrastive divergence, Metropolis-Hastings, annealed importance sampling |
//! | [`metrics`] | `sgm-metrics` | sample quality: Frechet distance of feature fits, unbiased MMD, energy distance |
//!
//! ```
//! use sgm::prelude::*;
//!
//! // Diffuse ring8 under the VP SDE and check the exact marginal variance at t = 0.5.
//! let device = Device::flex();
//! let ring = GaussianMixture::ring8();
//! let mut noise = HostNoise::new(0);
//! let x0 = ring.sample(4096, &device, DType::F32, &mut noise);
//! let vp = VpSde::default();
//! let t = time_like(0.5, &x0);
//! let (xt, _) = vp.sample_marginal(x0, t, &mut noise);
//! assert_eq!(xt.dims(), [4096, 2]);
//!
//! // By hand: m(t) = exp(-t^2 (20 - 0.1) / 4 - t 0.1 / 2); a coordinate of ring8 (means on the
//! // circle of radius 4, std 0.5) has variance 16 / 2 + 0.25, so Var x_t = m^2 8.25 + 1 - m^2.
//! let m2 = (-0.25f64 * 19.9 / 2.0 - 0.05).exp();
//! let want = m2 * 8.25 + 1.0 - m2;
//! let x: Vec<f64> = xt.into_data().convert::<f64>().to_vec().unwrap();
//! for coord in 0..2 {
//!     let v: Vec<f64> = x.iter().skip(coord).step_by(2).copied().collect();
//!     let n = v.len() as f64;
//!     let mean = v.iter().sum::<f64>() / n;
//!     let var = v.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n;
//!     let m4 = v.iter().map(|a| (a - mean).powi(4)).sum::<f64>() / n;
//!     // Four standard errors of a sample variance, sqrt((m4 - var^2) / n).
//!     assert!((var - want).abs() < 4.0 * ((m4 - var * var) / n).sqrt(), "{var} vs {want}");
//! }
//! ```

pub mod device;
mod error;

pub use error::{Error, Result};
pub use {
    sgm_core as core, sgm_data as data, sgm_energy as energy, sgm_likelihood as likelihood,
    sgm_losses as losses, sgm_metrics as metrics, sgm_nn as nn, sgm_samplers as samplers,
    sgm_schedules as schedules, sgm_sde as sde,
};

/// burn, as this crate builds it: use it for tensors and devices so that versions match.
pub use burn;

/// The items most programs use.
pub mod prelude {
    pub use burn::prelude::*;
    pub use burn::tensor::DType;
    pub use sgm_core::divergence::Projection;
    pub use sgm_core::tensor::{f64_tensor, time_like, to_f64};
    pub use sgm_core::{
        ClassifierFreeGuidance, ClassifierGuidance, ConditionalScoreModel, Conditioned, CoreError,
        DeviceNoise, HostNoise, Loss, Noise, NoiseSource, NoiseSourceExt, NoisyClassifier,
        NonFiniteWatch, ScoreFn, ScoreModel, Unconditional, VectorField, one_hot, score_fn,
    };
    pub use sgm_data::{
        Digits, ExactDensity, Gaussian, GaussianMixture, ImageDataset, MixtureClasses, PixelScale,
        Split,
    };
    pub use sgm_energy::{
        AnnealedImportanceSampling, CdLoss, ContrastiveDivergence, EnergyError, EnergyMlp,
        EnergyMlpConfig, EnergyModel, EnergyScore, MetropolisHastings, NegativeSampler,
        QuadraticEnergy,
    };
    pub use sgm_likelihood::{
        ContinuousElbo, DdpmElbo, Decoder, Dequantization, Divergence, LikelihoodError,
        LogLikelihood, NoisyDequantization, ProbabilityFlowLikelihood,
        importance_weighted_bits_per_dim,
    };
    pub use sgm_losses::{
        ConditionalDsm, ContinuousDsm, DdpmEpsilonLoss, DenoisingScoreMatching,
        ExplicitScoreMatching, ImplicitScoreMatching, LossError, NcsnLoss, NoiseConditioning,
        SlicedScoreMatching, Weighting, fisher_divergence, fisher_divergence_at, fisher_profile,
    };
    pub use sgm_metrics::{
        ClassifierConfig, FeatureClassifier, FeatureMap, FrechetDistance, GaussianFit,
        GaussianKernel, IdentityFeatures, MetricError, energy_distance, frechet_distance,
        mmd_squared,
    };
    pub use sgm_nn::{
        BinnedDenoiser, ConditionalScoreNetwork, Ema, LearningRateSchedule, NnError, OptimizerKind,
        Parameterization, Parameterized, ScoreMlp, ScoreMlpConfig, ScoreNetwork, TrainReport,
        Trainer, TrainerConfig, UNet, UNetConfig,
    };
    pub use sgm_samplers::{
        AncestralSampling, AnnealedLangevin, AnnealedLangevinCorrector, Churn, ConstantSteps,
        Corrector, DdimSampler, DdpmSampler, DdpmVariance, DpmSolver, DpmSolverPp, EdmMethod,
        EdmSampler, EulerAncestral, EulerMaruyama, ExponentialMultistep, FinalStep, Imputation,
        Imputed, LangevinCorrector, LangevinDynamics, NoObserver, NoneCorrector, NonePredictor,
        Observer, OdeSolution, PcSampler, PiController, Predictor, Progress, ReverseDiffusion,
        SampleOutput, SamplerError, StepProjection, StepSizeController, Tableau, Trajectory,
        solve_ode,
    };
    pub use sgm_schedules::{
        BetaSchedule, DiscreteBetas, GeometricSigma, GeometricSigmas, IdentitySigma, KarrasSigmas,
        LinearBeta, SigmaLevels, SigmaSchedule, Spacing, TimeGrid,
    };
    pub use sgm_sde::{
        Ancestral, BrownianMotion, CorrectorAlpha, DdpmMarginals, Discretize, GaussianMarginals,
        KarrasSde, LinearSde, OrnsteinUhlenbeck, ProbabilityFlowOde, ReverseSde, Sde, SdeError,
        SmldMarginals, SubVpSde, VeSde, VpSde, isotropic_gaussian_log_prob,
        isotropic_gaussian_sample, karras_grid, log_snr_grid,
    };

    pub use crate::{Error, Result};
}

/// The README's Rust snippet, compiled and run as a doctest so that it stays true.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

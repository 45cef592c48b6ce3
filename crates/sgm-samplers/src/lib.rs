//! Samplers for score-based models.
//!
//! Every sampler works with any [`ScoreModel`](sgm_core::ScoreModel) and any
//! [`Sde`](sgm_sde::Sde), takes its randomness from a [`NoiseSource`](sgm_core::NoiseSource),
//! reports progress to an [`Observer`], and stops with [`SamplerError::NonFinite`] (naming the
//! step and time) as soon as its state stops being finite.
//!
//! | sampler | what | reference |
//! |---|---|---|
//! | [`LangevinDynamics`] | x <- x + (eps/2) s + sqrt(eps) z at one time | Roberts & Tweedie 1996 |
//! | [`AnnealedLangevin`] | Langevin over decreasing noise levels, alpha_i = eps sigma_i^2 / sigma_L^2 | Song & Ermon 2019, Alg. 1 |
//! | [`PcSampler`] | any [`Predictor`] with any [`Corrector`] from T to eps | Song et al. 2021, Alg. 1-5 |
//! | [`EulerMaruyama`], [`ReverseDiffusion`], [`AncestralSampling`], [`NonePredictor`] | predictors | Song et al. 2021 |
//! | [`LangevinCorrector`], [`AnnealedLangevinCorrector`], [`NoneCorrector`] | correctors | Song et al. 2021 |
//! | [`solve_ode`] with [`Tableau`] and [`StepControl`] | Euler, Heun, RK4, adaptive Dormand-Prince 5(4) | Dormand & Prince 1980 |
//! | [`DdpmSampler`] | ancestral sampling of a DDPM chain, sigma^2 = beta or beta-tilde | Ho et al. 2020, Alg. 2 |
//! | [`DdimSampler`] | DDIM, eta = 0 deterministic, eta > 0 stochastic | Song, Meng & Ermon 2021 |
//!
//! Langevin steps come in two spellings in the literature; each type names the one it uses:
//! x + (eps/2) s + sqrt(eps) z (NCSN: [`LangevinDynamics`], [`AnnealedLangevin`]) and
//! x + e s + sqrt(2 e) z (score_sde's correctors, with e the step from the SNR rule).

mod corrector;
mod ddpm;
mod error;
mod langevin;
mod observer;
mod ode;
mod pc;
mod predictor;

pub use corrector::{AnnealedLangevinCorrector, Corrector, LangevinCorrector, NoneCorrector};
pub use ddpm::{DdimSampler, DdpmSampler, DdpmVariance};
pub use error::{Result, SamplerError};
pub use langevin::{AnnealedLangevin, LangevinDynamics};
pub use observer::{NoObserver, Observer, Progress, StepInfo, Trajectory};
pub use ode::{OdeSolution, StepControl, Tableau, solve_ode};
pub use pc::{FinalStep, PcOutput, PcSampler};
pub use predictor::{
    AncestralSampling, EulerMaruyama, NonePredictor, Predictor, PredictorStep, ReverseDiffusion,
};

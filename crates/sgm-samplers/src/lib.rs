//! Samplers for score-based models.
//!
//! Every sampler owns its configuration (its SDE, grid, step sizes) and takes the
//! [`ScoreModel`](sgm_core::ScoreModel) at the call, so one configured sampler runs any model
//! and can be stored, cloned and sent to another thread. It works with any
//! [`Sde`](sgm_sde::Sde) that has the scheme it needs, takes its randomness from a
//! [`NoiseSource`](sgm_core::NoiseSource), reports progress to an [`Observer`], returns a
//! [`SampleOutput`] (state and NFE), and fails with [`SamplerError::NonFinite`] (naming the first
//! bad step and its time) when its state stops being finite. That check runs on the device and
//! is read back once at the end: no fixed-step loop reads the device, and an adaptive ODE solve
//! reads one scalar per attempted step (its error norm).
//!
//! | sampler | what | reference |
//! |---|---|---|
//! | [`LangevinDynamics`] | x <- x + (eps/2) s + sqrt(eps) z at one time | Roberts & Tweedie 1996 |
//! | [`AnnealedLangevin`] | Langevin over decreasing noise levels, alpha_i = eps sigma_i^2 / sigma_L^2 | Song & Ermon 2019, Alg. 1 |
//! | [`PcSampler`] | any [`Predictor`] with any [`Corrector`] from T to eps | Song et al. 2021, Alg. 1-5 |
//! | [`EulerMaruyama`], [`ReverseDiffusion`], [`AncestralSampling`], [`NonePredictor`] | predictors | Song et al. 2021 |
//! | [`LangevinCorrector`], [`AnnealedLangevinCorrector`], [`NoneCorrector`] | correctors | Song et al. 2021 |
//! | [`solve_ode`] with a [`Tableau`] and a [`StepSizeController`] | Euler, Heun, RK4, Dormand-Prince 5(4) or your own ([`Tableau::new`]); [`ConstantSteps`] or [`PiController`] | Dormand & Prince 1980; Hairer et al. 1993 |
//! | [`DdpmSampler`] | ancestral sampling of a DDPM chain, sigma^2 = beta or beta-tilde | Ho et al. 2020, Alg. 2 |
//! | [`DdimSampler`] | DDIM, eta = 0 deterministic, eta > 0 stochastic | Song, Meng & Ermon 2021 |
//! | [`EdmSampler`] | Euler or Heun on the noise-level ODE, optional churn ([`Churn`]) | Karras et al. 2022, Alg. 1, 2 |
//! | [`EulerAncestral`] | Euler ancestral in noise level | Karras et al. 2022; k-diffusion |
//! | [`DpmSolver`] | single-step DPM-Solver of order 1, 2, 3 | Lu et al. 2022 |
//! | [`DpmSolverPp`] | multistep DPM-Solver++ 2M / 3M, ODE or SDE | Lu et al. 2022b |
//! | [`ExponentialMultistep`] | exponential Adams-Bashforth of order 1-6 on D, exact weights | Hochbruck & Ostermann 2010; Zhang & Chen 2023 |
//!
//! The last five run on any SDE with Gaussian marginals through its noise-level form
//! y = x / m(t) = x_0 + sigma-bar n, sigma-bar = std / m, with the denoiser
//! D = y + (std^2 / m) s (Tweedie), and end with one denoising at the grid's last time. Their
//! grids: [`TimeGrid`](sgm_schedules::TimeGrid) in t, [`sgm_sde::karras_grid`] (uniform in
//! sigma-bar^(1/rho)), [`sgm_sde::log_snr_grid`].
//!
//! [`Imputation`] pins observed coordinates for any of them (inpainting) through the score,
//! and for the PC sampler also as score_sde's inpainter, a [`StepProjection`] after every step
//! ([`PcSampler::sample_projected`]).
//!
//! Langevin steps come in two spellings in the literature; each type names the one it uses:
//! x + (eps/2) s + sqrt(eps) z (NCSN: [`LangevinDynamics`], [`AnnealedLangevin`]) and
//! x + e s + sqrt(2 e) z (score_sde's correctors, with e the step from the SNR rule).

mod corrector;
mod ddpm;
mod error;
mod imputation;
mod langevin;
mod noise_level;
mod observer;
mod ode;
mod output;
mod pc;
mod predictor;
mod projection;

pub use corrector::{AnnealedLangevinCorrector, Corrector, LangevinCorrector, NoneCorrector};
pub use ddpm::{DdimSampler, DdpmSampler, DdpmVariance};
pub use error::{Result, SamplerError};
pub use imputation::{Imputation, Imputed};
pub use langevin::{AnnealedLangevin, LangevinDynamics};
pub use noise_level::{
    Churn, DpmSolver, DpmSolverPp, EdmMethod, EdmSampler, EulerAncestral, ExponentialMultistep,
    MAX_EXPONENTIAL_ORDER,
};
pub use observer::{NoObserver, Observer, Progress, StepInfo, Trajectory};
pub use ode::{
    ConstantSteps, OdeSolution, PiController, StepDecision, StepSizeController, Tableau, solve_ode,
};
pub use output::SampleOutput;
pub use pc::{FinalStep, PcSampler};
pub use predictor::{
    AncestralSampling, EulerMaruyama, NonePredictor, Predictor, PredictorStep, ReverseDiffusion,
};
pub use projection::StepProjection;

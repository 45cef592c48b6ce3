//! Noise and time schedules for score-based models.
//!
//! One type per schedule, computed once and validated at construction (typed
//! [`ScheduleError`]s carrying the offending values):
//!
//! | type | what | reference |
//! |---|---|---|
//! | [`GeometricSigmas`] | NCSN noise levels sigma_1 > ... > sigma_L, geometric | Song & Ermon 2019 |
//! | [`GeometricSigmas::from_data`], [`GeometricSigmas::langevin_step_size`] | sigma_max, L and the Langevin step from the data (NCSNv2's techniques 1, 2, 4) | Song & Ermon 2020 |
//! | [`DiscreteBetas`] | DDPM betas (linear or cosine) with alpha, alpha-bar and the posterior q(x_{i-1} \| x_i, x_0) | Ho et al. 2020; Nichol & Dhariwal 2021 |
//! | [`LinearBeta`] | continuous beta(t) = beta_min + t (beta_max - beta_min) and its integral | Song et al. 2021 |
//! | [`GeometricSigma`] | continuous sigma(t) = sigma_min (sigma_max / sigma_min)^t | Song et al. 2021 |
//! | [`IdentitySigma`] | continuous sigma(t) = t on [0, sigma_max] (the Karras SDE) | Karras et al. 2022 |
//! | [`KarrasSigmas`] | sigma_i = (sigma_max^(1/rho) + i/(n-1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho | Karras et al. 2022 |
//! | [`TimeGrid`] | uniform, quadratic or Karras-spaced time points, increasing or decreasing | |

mod betas;
mod continuous;
mod data_sigmas;
mod error;
mod grid;
mod sigmas;

pub use betas::{DiscreteBetas, Posterior};
pub use continuous::{BetaSchedule, GeometricSigma, IdentitySigma, LinearBeta, SigmaSchedule};
pub use data_sigmas::max_pairwise_distance;
pub use error::{Result, ScheduleError};
pub use grid::{Spacing, TimeGrid};
pub use sigmas::{GeometricSigmas, KarrasSigmas, SigmaLevels};

pub(crate) use sgm_core::validate::{at_least, finite};

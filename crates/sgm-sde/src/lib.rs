//! Stochastic differential equations of score-based generative modelling (Song et al., *Score-Based
//! Generative Modeling through Stochastic Differential Equations*, ICLR 2021).
//!
//! A forward SDE dx = f(x, t) dt + g(t) dW carries data at t = 0 to a prior at t = T. Its
//! reverse-time SDE (Anderson 1982)
//!
//! ```text
//! dx = [f(x, t) - g(t)^2 grad_x log p_t(x)] dt + g(t) dW-bar   (time running from T to 0)
//! ```
//!
//! and probability-flow ODE dx/dt = f(x, t) - 1/2 g(t)^2 grad_x log p_t(x) have the same
//! marginals p_t; with a [`ScoreModel`](sgm_core::ScoreModel) in place of the true score they give
//! [`ReverseSde`] and [`ProbabilityFlowOde`].
//!
//! | SDE | f(x, t) | g(t) | mean coefficient m(t) | std(t) | prior |
//! |---|---|---|---|---|---|
//! | [`VeSde`] | 0 | sigma(t) sqrt(2 ln(sigma_max/sigma_min)) | 1 | sqrt(sigma(t)^2 - sigma_min^2) | N(0, sigma_max^2 I) |
//! | [`VpSde`] | -beta(t) x / 2 | sqrt(beta(t)) | exp(-B(t) / 2) | sqrt(1 - exp(-B(t))) | N(0, I) |
//! | [`SubVpSde`] | -beta(t) x / 2 | sqrt(beta(t) (1 - exp(-2 B(t)))) | exp(-B(t) / 2) | 1 - exp(-B(t)) | N(0, I) |
//! | [`OrnsteinUhlenbeck`] | -theta x | sqrt(2 theta) | exp(-theta t) | sqrt(1 - exp(-2 theta t)) | N(0, I) |
//! | [`BrownianMotion`] | 0 | 1 | 1 | sqrt(t) | N(0, T I) |
//!
//! with the default schedules sigma(t) = sigma_min (sigma_max/sigma_min)^t ([`GeometricSigma`](sgm_schedules::GeometricSigma)),
//! beta(t) = beta_min + t (beta_max - beta_min) ([`LinearBeta`](sgm_schedules::LinearBeta)) and
//! B(t) = int_0^t beta; with another schedule VE has g = sqrt(d sigma^2 / dt) and std =
//! sqrt(sigma(t)^2 - sigma(0)^2), VP and sub-VP the same formulas in its beta and B. All five are linear ([`LinearSde`]): their transition
//! kernels are Gaussian, p_t|0(x | x0) = N(m(t) x0, std(t)^2 I) ([`GaussianMarginals`]).
//! [`DdpmMarginals`] gives the same interface for a discrete DDPM chain, and [`SmldMarginals`]
//! for the noise levels of NCSN.
//!
//! VP and sub-VP take any [`BetaSchedule`](sgm_schedules::BetaSchedule), VE any
//! [`SigmaSchedule`](sgm_schedules::SigmaSchedule) (`with_schedule`), and a new SDE is the five
//! required methods of [`Sde`]. The schemes samplers build on are capability traits, implemented
//! only where they exist: [`Discretize`] (all five built-ins), [`Ancestral`] (VE and VP),
//! [`CorrectorAlpha`], [`LinearSde`] and [`GaussianMarginals`].

mod brownian;
mod ddpm;
mod error;
mod flow;
mod grids;
mod importance;
mod ou;
mod reverse;
mod sde;
mod smld;
mod sub_vp;
mod ve;
mod vp;
mod vp_family;

pub use brownian::BrownianMotion;
pub use ddpm::DdpmMarginals;
pub use error::{Result, SdeError};
pub use flow::ProbabilityFlowOde;
pub use grids::{karras_grid, log_snr_grid};
pub use importance::SnrImportance;
pub use ou::OrnsteinUhlenbeck;
pub use reverse::{ReverseDiscretization, ReverseDrift, ReverseSde};
pub use sde::{
    Ancestral, AncestralStep, CorrectorAlpha, Discretization, Discretize, GaussianMarginals,
    LinearSde, Sde, UnitAlpha, euler_maruyama_discretization, isotropic_gaussian_log_prob,
    isotropic_gaussian_sample, linear_drift,
};
pub use smld::SmldMarginals;
pub use sub_vp::SubVpSde;
pub use ve::{KarrasSde, VeSde};
pub use vp::VpSde;

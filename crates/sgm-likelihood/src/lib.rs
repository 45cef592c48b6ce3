//! Likelihood of score-based models.
//!
//! - [`ProbabilityFlowLikelihood`]: the exact log-density of the probability-flow ODE model
//!   (Song et al., ICLR 2021, sec. 4.3; Chen et al. 2018), solved as one augmented ODE with the
//!   adaptive Dormand-Prince solver of `sgm-samplers`, with the exact divergence (d JVPs) or
//!   Hutchinson-Skilling probes held fixed for the whole solve ([`Divergence`]).
//! - [`Dequantization`]: uniform dequantisation of K-level data into model space and the
//!   bits/dim that follows from a model-space log-density; [`NoisyDequantization`] carries the
//!   data on to a small diffusion time and decodes with the exact Bayes decoder (for data with
//!   few levels); [`importance_weighted_bits_per_dim`] tightens either bound with M draws.
//! - [`DdpmElbo`]: the DDPM variational bound L_T + sum L_{t-1} + L_0 (Ho et al. 2020), with a
//!   Gaussian or discretised decoder ([`Decoder`]).
//! - [`ContinuousElbo`]: the continuous-time bound of Song, Durkan, Murray & Ermon (NeurIPS 2021,
//!   Thm. 1) and Huang, Lim & Courville (NeurIPS 2021) for a score model under any linear SDE.
//!
//! Every estimate comes with its Monte Carlo standard error where it has one, and every
//! function counts the score evaluations it makes.

mod continuous;
mod ddpm;
mod dequantization;
mod error;
mod flow;
mod noisy_dequantization;

pub use continuous::{Bound, ContinuousElbo};
pub use ddpm::{DdpmElbo, DdpmElboTerms, Decoder};
pub use dequantization::{Dequantization, importance_weighted_bits_per_dim};
pub use error::{LikelihoodError, Result};
pub use flow::{Divergence, LogLikelihood, ProbabilityFlowLikelihood};
pub use noisy_dequantization::NoisyDequantization;

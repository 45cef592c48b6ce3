//! Core traits of `sgm`, shared by every other crate of the workspace.
//!
//! - [`ScoreModel`]: a score model s_theta(x, t) ~ grad_x log p_t(x), with a Jacobian-vector
//!   product [`ScoreModel::score_jvp`] that score-matching losses and likelihood computations
//!   use instead of higher-order autodiff (which burn 0.22 does not have).
//! - [`VectorField`]: a time-dependent vector field dx/dt = F(x, t) for ODE solvers.
//! - [`NoiseSource`]: where samplers and losses draw their randomness ([`DeviceNoise`] for
//!   speed, [`HostNoise`] for reproducibility across devices and threads).
//! - [`divergence`]: exact and Hutchinson-Skilling divergence estimators built on JVPs.
//! - [`tensor`]: small helpers on burn tensors (per-sample times, `expm1`, finiteness checks).
//!
//! Shapes follow one convention everywhere: samples are `Tensor<2>` shaped `[batch, dim]`, and
//! per-sample times are `Tensor<1>` shaped `[batch]`.

mod error;
mod field;
mod noise;
mod score;

pub mod divergence;
pub mod special;
pub mod tensor;

pub use error::{CoreError, Result};
pub use field::VectorField;
pub use noise::{DeviceNoise, HostNoise, Noise, NoiseSource, NoiseSourceExt};
pub use score::{CountingScoreModel, ScoreModel, finite_difference_jvp};

/// Re-export of the burn version this crate is built against.
pub use burn;

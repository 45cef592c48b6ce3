//! Core traits of `sgm`, shared by every other crate of the workspace.
//!
//! - [`ScoreModel`]: a score model s_theta(x, t) ~ grad_x log p_t(x), with a Jacobian-vector
//!   product [`ScoreModel::score_jvp`] that score-matching losses and likelihood computations
//!   use instead of higher-order autodiff (which burn 0.22 does not have).
//! - [`ConditionalScoreModel`]: s(x, t, y), made an ordinary score model by [`Conditioned`],
//!   [`ClassifierFreeGuidance`] or [`ClassifierGuidance`] (with a [`NoisyClassifier`]).
//! - [`VectorField`]: a time-dependent vector field dx/dt = F(x, t) for ODE solvers.
//! - [`NoiseSource`]: where samplers and losses draw their randomness ([`DeviceNoise`] for
//!   speed, [`HostNoise`] for reproducibility across devices and threads).
//! - [`divergence`]: exact and Hutchinson-Skilling divergence estimators built on JVPs.
//! - [`Loss`]: the training objective every loss implements and the trainer accepts.
//! - [`tensor`]: small helpers on burn tensors (per-sample times, `expm1`, f64 tensors, shape
//!   checks); [`validate`]: parameter checks shared by every crate.
//! - [`host`]: the one counted way the library reads the device back; [`NonFiniteWatch`]:
//!   non-finite detection that reads once at the end of a loop, not once per step.
//!
//! Shapes follow one convention everywhere: samples are `Tensor<2>` shaped `[batch, dim]`, and
//! per-sample times are `Tensor<1>` shaped `[batch]`.

mod conditional;
mod error;
mod field;
mod finite;
mod loss;
mod noise;
mod score;

pub mod divergence;
pub mod host;
pub mod special;
pub mod tensor;
pub mod validate;

pub use conditional::{
    ClassifierFreeGuidance, ClassifierGuidance, ConditionalScoreModel, Conditioned,
    NoisyClassifier, Unconditional, one_hot,
};
pub use error::{CoreError, Result};
pub use field::VectorField;
pub use finite::NonFiniteWatch;
pub use loss::Loss;
pub use noise::{DeviceNoise, HostNoise, Noise, NoiseSource, NoiseSourceExt};
pub use score::{CountingScoreModel, ScoreFn, ScoreModel, finite_difference_jvp, score_fn};

/// Re-export of the burn version this crate is built against.
pub use burn;

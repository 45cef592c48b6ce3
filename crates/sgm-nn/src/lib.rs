//! Score networks for `sgm`, with exact Jacobian-vector products.
//!
//! - [`ScoreMlp`] ([`ScoreMlpConfig`]): an MLP on [x, Gaussian Fourier features of t] with SiLU
//!   activations, optionally class-conditional through a label embedding at every layer
//!   ([`ConditionalScoreNetwork`]), whose [`ScoreNetwork::forward_jvp`] carries a tangent
//!   through every layer with ordinary tensor operations. One backward pass then gives exact
//!   parameter gradients of losses that contain J v (implicit and sliced score matching),
//!   which burn 0.22's first-order autodiff could not differentiate otherwise.
//! - [`Parameterized`]: turns a network output h(x, t) into a score in one of the standard
//!   [`Parameterization`]s (raw, noise prediction, std-normalised, drift-cancelling, data
//!   prediction, v prediction), exact JVP included, and back
//!   ([`Parameterized::network_target`]); [`BinnedDenoiser`] does the same for quantised data
//!   from per-coordinate level logits, with the bins' likelihoods and means in closed form.
//! - [`Trainer`]: a minimal training loop over any loss closure, with a progress bar and an
//!   optional [`Ema`] (exponential moving average) of the weights.

mod binned;
mod ema;
mod error;
mod mlp;
mod network;
mod parameterization;
mod train;

pub use binned::BinnedDenoiser;
pub use ema::Ema;
pub use error::{NnError, Result};
pub use mlp::{Activation, ScoreMlp, ScoreMlpConfig};
pub use network::{ConditionalScoreNetwork, ScoreNetwork};
pub use parameterization::{Parameterization, Parameterized};
pub use train::{TrainReport, Trainer, TrainerConfig};

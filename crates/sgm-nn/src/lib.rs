//! Score networks for `sgm`, with exact Jacobian-vector products.
//!
//! - [`ScoreMlp`] ([`ScoreMlpConfig`]): an MLP on [x, Gaussian Fourier features of t] with SiLU
//!   activations, optionally class-conditional through a label embedding at every layer
//!   ([`ConditionalScoreNetwork`]), whose [`ScoreNetwork::forward_jvp`] carries a tangent
//!   through every layer with ordinary tensor operations. One backward pass then gives exact
//!   parameter gradients of losses that contain J v (implicit and sliced score matching),
//!   which burn 0.22's first-order autodiff could not differentiate otherwise.
//! - [`UNet`] ([`UNetConfig`]): a time-conditioned U-Net for images (GroupNorm, residual
//!   blocks, self-attention at the coarsest resolution) on flat `[batch, C*H*W]` samples, with
//!   the exact JVP carried through every layer.
//! - [`Parameterized`]: turns a network output h(x, t) into a score in one of the standard
//!   [`Parameterization`]s (raw, noise prediction, std-normalised, drift-cancelling, data
//!   prediction, v prediction), exact JVP included, and back
//!   ([`Parameterized::network_target`]); [`BinnedDenoiser`] does the same for quantised data
//!   from per-coordinate level logits, with the bins' likelihoods and means in closed form.
//! - [`Trainer`]: a training loop over any loss or closure: Adam or AdamW, linear warm-up then a
//!   constant or cosine [`LearningRateSchedule`], clipping by global norm, an optional [`Ema`]
//!   (exponential moving average) of the weights, a progress bar, a CSV loss log, and
//!   checkpoints that resume bit for bit.
//! - `learner` (feature `train`): burn-train's `Learner` training any `sgm` loss, for its
//!   metrics, checkpointing and multi-device strategies.

mod binned;
mod checkpoint;
mod clip;
mod ema;
mod error;
mod layers;
#[cfg(feature = "train")]
pub mod learner;
mod loss_log;
mod mlp;
mod network;
mod parameterization;
mod schedule;
mod train;
mod unet;

pub use binned::BinnedDenoiser;
pub use ema::Ema;
pub use error::{NnError, Result};
pub use mlp::{Activation, ScoreMlp, ScoreMlpConfig};
pub use network::{ConditionalScoreNetwork, ScoreNetwork};
pub use parameterization::{Parameterization, Parameterized};
pub use schedule::LearningRateSchedule;
pub use train::{OptimizerKind, TrainReport, Trainer, TrainerConfig};
pub use unet::{UNet, UNetConfig};

//! Exact oracles and data for testing and demonstrating score-based models.
//!
//! Gaussian and Gaussian-mixture data have closed-form scores and log-densities under every
//! linear perturbation p_t|0(x | x0) = N(m(t) x0, std(t)^2 I): the perturbed law of a Gaussian
//! N(mu, Sigma) is N(m mu, m^2 Sigma + std^2 I), and that of a mixture of isotropic components
//! N(mu_k, s_k^2 I) is the mixture of N(m mu_k, (m^2 s_k^2 + std^2) I) with the same weights.
//! Samplers, ODE solvers and likelihood computations are tested against them.
//!
//! - [`Gaussian`] (isotropic or full covariance) and [`GaussianMixture`] (with [`ring8`],
//!   [`ring8_weighted`] and [`two_modes`]) implement [`ExactDensity`]: sampling, log-density,
//!   score and the exact Hessian-vector product (score JVP) at any perturbation.
//! - [`ExactDensity::perturbed`] turns one into a [`ScoreModel`](sgm_core::ScoreModel) under any
//!   [`GaussianMarginals`](sgm_sde::GaussianMarginals): an SDE, a DDPM chain, NCSN levels.
//! - [`MixtureClasses`]: a mixture's components as classes, with the exact class-conditional
//!   score and noisy classifier (for guidance and conditional sampling);
//!   [`GaussianMixture::conditional`] the exact law given some coordinates (for imputation).
//! - [`Digits`]: the 8x8 handwritten digits (UCI, 1,797 images, 17 grey levels), embedded in
//!   the crate, with a fixed train/test split.
//! - [`ImageDataset`]: MNIST (IDX, raw or gzip'd) and CIFAR-10 (binary batches) read from
//!   files the user gives.
//!
//! [`ring8`]: GaussianMixture::ring8
//! [`ring8_weighted`]: GaussianMixture::ring8_weighted
//! [`two_modes`]: GaussianMixture::two_modes

mod classes;
mod density;
mod digits;
mod error;
mod gaussian;
mod image_files;
mod mixture;

pub use classes::MixtureClasses;
pub use density::{ExactDensity, Perturbed};
pub use digits::{Digits, PixelScale, Split};
pub use error::{DataError, Result};
pub use gaussian::Gaussian;
pub use image_files::ImageDataset;
pub use mixture::GaussianMixture;

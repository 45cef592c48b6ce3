//! Energy-based models p(x) = exp(-E(x)) / Z for `sgm`, trained by score matching or by
//! contrastive divergence.
//!
//! The score of an energy model is s = -grad_x E, which needs no normaliser Z: that is why
//! score matching trains energy models. burn has no double backward, so an [`EnergyModel`]
//! gives its gradient and Hessian-vector product in closed form (ordinary tensor operations,
//! differentiable in its parameters); [`EnergyScore`] turns it into a
//! [`ScoreModel`](sgm_core::ScoreModel) with s = -grad E and J s v = -H v, so every loss,
//! sampler and likelihood of `sgm` runs on it.
//!
//! | item | what | reference |
//! |---|---|---|
//! | [`EnergyMlp`] | softplus MLP energy with its gradient and Hessian-vector product written out | |
//! | [`QuadraticEnergy`] | E = 1/2 (x - mu)^T P (x - mu), closed-form log Z | the Gaussian N(mu, P^-1) |
//! | [`MetropolisHastings`] | random-walk Metropolis on any energy, with its acceptance rate | Metropolis et al. 1953; Hastings 1970 |
//! | [`ContrastiveDivergence`] | CD-k and persistent CD with Langevin or Metropolis negatives | Hinton 2002; Tieleman, ICML 2008 |
//! | [`AnnealedImportanceSampling`] | log Z by annealing from N(0, s^2 I) to exp(-E) | Neal, *Annealed importance sampling*, Stat. Comput. 2001 |

mod ais;
mod contrastive;
mod energy;
mod error;
mod metropolis;
mod mlp;
mod quadratic;

pub use ais::{AnnealedImportanceSampling, LogNormalizer};
pub use contrastive::{CdLoss, ContrastiveDivergence, NegativeSampler};
pub use energy::{EnergyModel, EnergyScore};
pub use error::{EnergyError, Result};
pub use metropolis::{MetropolisHastings, MhOutput};
pub use mlp::{EnergyMlp, EnergyMlpConfig};
pub use quadratic::QuadraticEnergy;

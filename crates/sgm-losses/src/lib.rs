//! Score-matching losses.
//!
//! Every loss returns a scalar tensor (`[1]`) on the autodiff graph of the model's parameters,
//! usable with any burn optimizer, and draws its randomness from a
//! [`NoiseSource`](sgm_core::NoiseSource). Per-sample objectives are summed over dimensions and
//! averaged over the batch. Losses that need the Jacobian of the score (ISM, SSM, SSM-VR) get
//! it through [`ScoreModel::score_jvp`](sgm_core::ScoreModel::score_jvp), batched into one call.
//!
//! | loss | objective per sample | reference |
//! |---|---|---|
//! | [`ExplicitScoreMatching`] | 1/2 \|s - s*\|^2 (known target score s*) | Hyvarinen 2005 |
//! | [`ImplicitScoreMatching`] | tr(J s) + 1/2 \|s\|^2 | Hyvarinen 2005 |
//! | [`SlicedScoreMatching`] | v^T J s v + 1/2 (v^T s)^2, or the variance-reduced v^T J s v + 1/2 \|s\|^2 | Song et al. 2019 |
//! | [`DenoisingScoreMatching`] | 1/2 \|s(x + sigma z) + z / sigma\|^2 | Vincent 2011 |
//! | [`NcsnLoss`] | 1/2 \|sigma_i s(x + sigma_i z, t_i) + z\|^2, level i random (lambda = sigma^2) | Song & Ermon 2019 |
//! | [`ContinuousDsm`] | lambda(t) 1/2 \|s(x_t, t) + z / std(t)\|^2, t random | Song et al. 2021; Song, Durkan et al. 2021 |
//! | [`ConditionalDsm`] | as `ContinuousDsm` for s(x_t, t, y), y dropped to the null condition with probability p | Ho & Salimans 2022 |
//! | [`DdpmEpsilonLoss`] | \|eps + std_i s(x_i, t_i)\|^2 = \|eps - eps-hat\|^2 | Ho et al. 2020 |
//!
//! The Hyvarinen objectives (ESM, ISM, SSM) can be applied to the data itself or to its
//! perturbations p_t at random t ([`NoiseConditioning`]), which trains a time-conditional score
//! network without a known conditional score. [`fisher_divergence`] measures a model against an
//! exact score.

mod conditional;
mod conditioning;
mod continuous;
mod ddpm;
mod dsm;
mod error;
mod esm;
mod fisher;
mod ism;
mod ssm;

pub use conditional::ConditionalDsm;
pub use conditioning::NoiseConditioning;
pub use continuous::{ContinuousDsm, Weighting};
pub use ddpm::DdpmEpsilonLoss;
pub use dsm::{DenoisingScoreMatching, NcsnLoss};
pub use error::{LossError, Result};
pub use esm::ExplicitScoreMatching;
pub use fisher::{FisherDivergence, fisher_divergence, fisher_divergence_at, fisher_profile};
pub use ism::ImplicitScoreMatching;
pub use ssm::SlicedScoreMatching;

/// The trait every loss here implements (re-exported from `sgm-core`).
pub use sgm_core::Loss;

/// Implements [`Loss`] for a loss type by forwarding to its inherent `loss` method (which callers
/// can use without importing the trait).
macro_rules! impl_loss {
    ($(impl$([$($gen:tt)*])? for $ty:ty;)*) => {$(
        impl$(<$($gen)*>)? Loss for $ty {
            type Error = LossError;
            fn loss<M: sgm_core::ScoreModel + ?Sized>(
                &self,
                model: &M,
                x: Tensor<2>,
                noise: &mut dyn sgm_core::NoiseSource,
            ) -> Result<Tensor<1>> {
                <$ty>::loss(self, model, x, noise)
            }
        }
    )*};
}

impl_loss! {
    impl[S: sgm_sde::LinearSde] for ContinuousDsm<S>;
    impl for DdpmEpsilonLoss;
    impl for DenoisingScoreMatching;
    impl for NcsnLoss;
    impl[T: sgm_core::ScoreModel] for ExplicitScoreMatching<T>;
    impl for ImplicitScoreMatching;
    impl for SlicedScoreMatching;
}

use burn::prelude::*;

/// mean over the batch of 1/2 |r|^2 summed over dimensions, `[1]`.
pub(crate) fn half_squared_norm(r: Tensor<2>) -> Tensor<1> {
    r.square().sum_dim(1).mean() * 0.5
}

//! The [`Loss`] trait: what every score-matching loss of `sgm-losses` implements and the
//! trainer of `sgm-nn` accepts.

use burn::prelude::*;

use crate::{NoiseSource, ScoreModel};

/// A training objective for a score model: a scalar `[1]` tensor on the autodiff graph of the
/// model's parameters, computed from a batch of data `x` (`[batch, dim]`) and the noise the loss
/// draws (noise levels, perturbations, projections).
///
/// ```
/// use burn::prelude::*;
/// use sgm_core::{HostNoise, Loss, NoiseSource, ScoreModel, score_fn};
///
/// /// Explicit score matching against N(0, I): E |s(x) + x|^2 / 2.
/// struct ToStandardNormal;
/// impl Loss for ToStandardNormal {
///     type Error = sgm_core::CoreError;
///     fn loss<M: ScoreModel + ?Sized>(
///         &self, model: &M, x: Tensor<2>, _noise: &mut dyn NoiseSource,
///     ) -> Result<Tensor<1>, Self::Error> {
///         let t = sgm_core::tensor::time_like(0.0, &x);
///         let s = model.checked_score(x.clone(), t)?;
///         Ok((s + x).square().sum_dim(1).mean() * 0.5)
///     }
/// }
/// let exact = score_fn(|x: Tensor<2>, _t| -x);
/// let x = Tensor::<2>::ones([4, 2], &Device::flex());
/// let value: f32 = ToStandardNormal.loss(&exact, x, &mut HostNoise::new(0))?.into_scalar();
/// assert_eq!(value, 0.0);
/// # Ok::<(), sgm_core::CoreError>(())
/// ```
pub trait Loss {
    /// The loss's error type (bad shapes from the model, non-finite values).
    type Error: std::error::Error + Send + Sync + 'static;

    /// The loss of `model` on the batch `x`, `[1]`.
    ///
    /// # Errors
    /// When the model's output has the wrong shape, or the loss's own checks fail.
    fn loss<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x: Tensor<2>,
        noise: &mut dyn NoiseSource,
    ) -> Result<Tensor<1>, Self::Error>;
}

impl<L: Loss + ?Sized> Loss for &L {
    type Error = L::Error;
    fn loss<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x: Tensor<2>,
        noise: &mut dyn NoiseSource,
    ) -> Result<Tensor<1>, Self::Error> {
        (**self).loss(model, x, noise)
    }
}

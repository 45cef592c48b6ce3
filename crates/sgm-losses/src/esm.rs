use burn::prelude::*;
use sgm_core::{NoiseSource, ScoreModel};

use crate::{NoiseConditioning, Result};

/// Explicit score matching (Hyvarinen 2005): the Fisher divergence to a known target score,
///
/// ```text
/// J_ESM = E_x [ 1/2 |s(x, t) - s*(x, t)|^2 ].
/// ```
///
/// Only possible when the target score s* is known (toy data, the exact oracles of
/// `sgm-data`); the yardstick the other objectives are compared with.
///
/// ```
/// use burn::prelude::*;
/// use sgm_core::{HostNoise, score_fn};
/// use sgm_losses::{ExplicitScoreMatching, NoiseConditioning};
///
/// let target = score_fn(|x: Tensor<2>, _t| -x);       // N(0, I)
/// let model = score_fn(|x: Tensor<2>, _t| -x * 0.5); // half the score
/// let esm = ExplicitScoreMatching::new(target, NoiseConditioning::fixed(0.0)?);
/// let x = Tensor::<2>::ones([4, 2], &Device::flex());
/// let loss: f32 = esm.loss(&model, x, &mut HostNoise::new(0))?.into_scalar();
/// assert!((loss - 0.25).abs() < 1e-6); // 1/2 * 2 * 0.5^2
/// # Ok::<(), sgm_losses::LossError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ExplicitScoreMatching<T> {
    target: T,
    conditioning: NoiseConditioning,
}

impl<T: ScoreModel> ExplicitScoreMatching<T> {
    /// ESM against `target` (evaluated at the same x and t as the model; pass `&target` to
    /// borrow it).
    pub fn new(target: T, conditioning: NoiseConditioning) -> Self {
        Self {
            target,
            conditioning,
        }
    }

    /// The loss on the batch `x` (`[batch, dim]`), `[1]`.
    ///
    /// # Errors
    /// [`LossError::Core`](crate::LossError::Core) if the model's or the target's output does not
    /// match `x`.
    pub fn loss<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x: Tensor<2>,
        noise: &mut dyn NoiseSource,
    ) -> Result<Tensor<1>> {
        let c = self.conditioning.apply(x, noise);
        let s = model.checked_score(c.x.clone(), c.t.clone())?;
        let target = self.target.score(c.x.clone(), c.t.clone()).detach();
        sgm_core::tensor::check_same_shape("target score", &c.x, &target)?;
        let per_sample = (s - target).square().sum_dim(1).squeeze_dim(1) * 0.5;
        Ok(c.weighted_mean(per_sample))
    }
}

use burn::prelude::*;
use sgm_core::divergence::{jvp_quadratic_forms, unit_directions};
use sgm_core::{NoiseSource, ScoreModel};

use crate::{NoiseConditioning, Result};

/// Implicit score matching (Hyvarinen, JMLR 2005):
///
/// ```text
/// J_ISM = E_x [ tr(J_x s(x, t)) + 1/2 |s(x, t)|^2 ] = J_ESM - 1/2 E|grad log p|^2,
/// ```
///
/// equal to explicit score matching up to a constant that does not depend on the model, by
/// integration by parts. The trace is exact: sum_i e_i^T J e_i over the d unit vectors, computed
/// by one call of [`ScoreModel::score_jvp`] on a `[d batch, d]` batch. Its cost grows with d;
/// sliced score matching is the scalable alternative.
///
/// ```
/// use burn::prelude::*;
/// use sgm_core::{HostNoise, score_fn};
/// use sgm_losses::{ImplicitScoreMatching, NoiseConditioning};
///
/// // s(x) = -x: tr J = -d, 1/2 |s|^2 = 1/2 |x|^2.
/// let model = score_fn(|x: Tensor<2>, _t| -x);
/// let ism = ImplicitScoreMatching::new(NoiseConditioning::fixed(0.0)?)?;
/// let x = Tensor::<2>::ones([3, 2], &Device::flex());
/// let loss: f32 = ism.loss(&model, x, &mut HostNoise::new(0))?.into_scalar();
/// assert!((loss - (-2.0 + 1.0)).abs() < 1e-3); // finite-difference JVP of a closure
/// # Ok::<(), sgm_losses::LossError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ImplicitScoreMatching {
    conditioning: NoiseConditioning,
}

impl ImplicitScoreMatching {
    /// ISM evaluated where `conditioning` says.
    ///
    /// # Errors
    /// None today (the conditioning was validated when built); a `Result` like every other
    /// loss constructor, so that a check added later does not change the signature.
    pub fn new(conditioning: NoiseConditioning) -> Result<Self> {
        Ok(Self { conditioning })
    }

    /// The loss on the batch `x` (`[batch, dim]`), `[1]`.
    ///
    /// # Errors
    /// [`LossError::Core`](crate::LossError::Core) if the model output does not match `x`.
    pub fn loss<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x: Tensor<2>,
        noise: &mut dyn NoiseSource,
    ) -> Result<Tensor<1>> {
        let c = self.conditioning.apply(x, noise);
        let q = jvp_quadratic_forms(
            |x, t, v| model.checked_score_jvp(x, t, v),
            c.x.clone(),
            c.t.clone(),
            unit_directions(&c.x),
        )?;
        let per_sample = q.trace() + q.value.clone().square().sum_dim(1).squeeze_dim(1) * 0.5;
        Ok(c.weighted_mean(per_sample))
    }
}

use burn::prelude::*;
use sgm_core::divergence::{Projection, jvp_quadratic_forms};
use sgm_core::{CoreError, NoiseSource, ScoreModel};

use crate::{NoiseConditioning, Result};

/// Sliced score matching (Song, Garg, Shi & Ermon, UAI 2019): implicit score matching with the
/// trace replaced by random projections v with E[v v^T] = I,
///
/// ```text
/// J_SSM    = E_x E_v [ v^T J_x s v + 1/2 (v^T s)^2 ],
/// J_SSM-VR = E_x E_v [ v^T J_x s v ] + 1/2 |s|^2        (variance reduced, for Gaussian v).
/// ```
///
/// Both equal J_ISM in expectation over v. `projections` directions per sample are drawn from
/// [`Projection`] (Gaussian, Rademacher, or the sphere of radius sqrt(d)) and evaluated with
/// one call of [`ScoreModel::score_jvp`] on a `[batch projections, dim]` batch. The
/// variance-reduced form integrates (v^T s)^2 analytically, E_v[(v^T s)^2] = |s|^2, which holds
/// for every projection kind here.
///
/// ```
/// use sgm_core::divergence::Projection;
/// use sgm_losses::{NoiseConditioning, SlicedScoreMatching};
/// let ssm = SlicedScoreMatching::new(Projection::Rademacher, 4, NoiseConditioning::fixed(0.0)?)?;
/// assert!(SlicedScoreMatching::new(Projection::Gaussian, 0, NoiseConditioning::fixed(0.0)?).is_err());
/// # Ok::<(), sgm_losses::LossError>(())
/// ```
#[derive(Debug, Clone)]
pub struct SlicedScoreMatching {
    projection: Projection,
    projections: usize,
    variance_reduced: bool,
    conditioning: NoiseConditioning,
}

impl SlicedScoreMatching {
    /// SSM with `projections` directions of kind `projection` per sample.
    ///
    /// # Errors
    /// [`CoreError::ZeroCount`] (as [`LossError::Core`](crate::LossError::Core)) if
    /// `projections == 0`.
    pub fn new(
        projection: Projection,
        projections: usize,
        conditioning: NoiseConditioning,
    ) -> Result<Self> {
        if projections == 0 {
            return Err(CoreError::ZeroCount {
                name: "projections",
            }
            .into());
        }
        Ok(Self {
            projection,
            projections,
            variance_reduced: false,
            conditioning,
        })
    }

    /// SSM-VR: as [`SlicedScoreMatching::new`], with 1/2 |s|^2 in place of 1/2 (v^T s)^2.
    ///
    /// # Errors
    /// As [`SlicedScoreMatching::new`].
    pub fn variance_reduced(
        projection: Projection,
        projections: usize,
        conditioning: NoiseConditioning,
    ) -> Result<Self> {
        Ok(Self {
            variance_reduced: true,
            ..Self::new(projection, projections, conditioning)?
        })
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
        let directions = self.projection.sample(self.projections, &c.x, noise)?;
        let q = jvp_quadratic_forms(
            |x, t, v| model.checked_score_jvp(x, t, v),
            c.x.clone(),
            c.t.clone(),
            directions,
        )?;
        let per_sample = if self.variance_reduced {
            q.mean() + q.value.clone().square().sum_dim(1).squeeze_dim(1) * 0.5
        } else {
            (q.forms.clone() + q.projections.clone().square() * 0.5)
                .mean_dim(1)
                .squeeze_dim(1)
        };
        Ok(c.weighted_mean(per_sample))
    }
}

use burn::prelude::*;
use sgm_core::tensor::column;
use sgm_core::{NoiseSource, NoiseSourceExt, ScoreModel};
use sgm_sde::{LinearSde, SnrImportance};

use crate::error::time_range;
use crate::{LossError, Result};

/// The weighting lambda(t) of [`ContinuousDsm`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weighting {
    /// lambda(t) = std(t)^2 (Song et al., ICLR 2021): every time contributes an O(1) term
    /// 1/2 |std s + z|^2. The loss is the mean over t ~ U(t_min, t_max).
    StdSquared,
    /// lambda(t) = g(t)^2, the likelihood weighting (Song, Durkan, Murray & Ermon, NeurIPS 2021):
    /// the loss estimates int_{t_min}^{t_max} g^2/2 E|s - grad log p_0t|^2 dt, the score-matching
    /// part of the continuous-time bound on -log p. With `importance_sampling`, t is drawn with
    /// density proportional to g(t)^2 / std(t)^2, which cancels the weight's blow-up at small t
    /// and lowers the variance.
    Likelihood {
        /// Draw t from p(t) ~ g^2 / std^2 instead of uniformly.
        importance_sampling: bool,
    },
}

/// Continuous-time denoising score matching for any linear SDE:
///
/// ```text
/// L = E_t E_x0 E_z [ lambda(t) 1/2 |s(x_t, t) + z / std(t)|^2 ],   x_t = m(t) x0 + std(t) z,
/// ```
///
/// the objective of score_sde (Song et al., ICLR 2021, eq. 7), with t drawn per sample.
///
/// Importance sampling for the likelihood weighting draws t from
/// p(t) = (g^2 / std^2) / Z ([`SnrImportance`]), with which the per-sample term
/// lambda / p * 1/2 |s + z/std|^2 becomes Z/2 |std s + z|^2.
///
/// ```
/// use sgm_losses::{ContinuousDsm, Weighting};
/// use sgm_sde::VpSde;
/// let vp = VpSde::default();
/// let dsm = ContinuousDsm::new(&vp, Weighting::StdSquared, 1e-5)?;
/// let is = ContinuousDsm::new(&vp, Weighting::Likelihood { importance_sampling: true }, 1e-5)?;
/// assert!(ContinuousDsm::new(&vp, Weighting::StdSquared, 2.0).is_err());
/// # Ok::<(), sgm_losses::LossError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ContinuousDsm<S> {
    sde: S,
    weighting: Weighting,
    t_min: f64,
    t_max: f64,
}

impl<S: LinearSde> ContinuousDsm<S> {
    /// DSM over t in (`t_min`, T) with T = `sde.t_end()`.
    ///
    /// # Errors
    /// [`LossError::Core`] (`CoreError::InvalidParameter`) unless 0 <= t_min < T, and t_min > 0 for importance
    /// sampling (the density g^2 / std^2 is not integrable at 0).
    pub fn new(sde: S, weighting: Weighting, t_min: f64) -> Result<Self> {
        let t_end = sde.t_end();
        Self::with_time_range(sde, weighting, t_min, t_end)
    }

    /// DSM over t in (`t_min`, `t_max`).
    ///
    /// # Errors
    /// As [`ContinuousDsm::new`].
    pub fn with_time_range(sde: S, weighting: Weighting, t_min: f64, t_max: f64) -> Result<Self> {
        time_range(t_min, t_max)?;
        if weighting
            == (Weighting::Likelihood {
                importance_sampling: true,
            })
            && t_min <= 0.0
        {
            return Err(LossError::from(sgm_core::validate::invalid(
                "t_min",
                t_min,
                "> 0 for importance sampling",
            )));
        }
        Ok(Self {
            sde,
            weighting,
            t_min,
            t_max,
        })
    }

    /// The loss on the batch `x0` (`[batch, dim]`), `[1]`.
    ///
    /// # Errors
    /// [`LossError::Core`](crate::LossError::Core) if the model output does not match `x0`.
    pub fn loss<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x0: Tensor<2>,
        noise: &mut dyn NoiseSource,
    ) -> Result<Tensor<1>> {
        let batch = x0.dims()[0];
        let importance = (self.weighting
            == Weighting::Likelihood {
                importance_sampling: true,
            })
        .then(|| {
            SnrImportance::new(&self.sde, self.t_min, self.t_max)
                .expect("t_min > 0 is checked at construction")
        });
        let t = match &importance {
            Some(density) => density.sample(batch, &x0, noise),
            None => noise.uniform_like(batch, self.t_min, self.t_max, &x0),
        };
        let (xt, z) = self.sde.sample_marginal(x0, t.clone(), noise);
        let s = model.checked_score(xt.clone(), t.clone())?;
        let std = self.sde.std(t.clone());
        // 1/2 |std s + z|^2 per sample: the std^2-weighted term.
        let residual = (s * column(std.clone()) + z)
            .square()
            .sum_dim(1)
            .squeeze_dim(1)
            * 0.5;
        Ok(match self.weighting {
            Weighting::StdSquared => residual.mean(),
            Weighting::Likelihood {
                importance_sampling: false,
            } => {
                let ratio = self.sde.diffusion(t).square() / std.square();
                (residual * ratio).mean() * (self.t_max - self.t_min)
            }
            Weighting::Likelihood {
                importance_sampling: true,
            } => residual.mean() * importance.map_or(1.0, |density| density.normalizer()),
        })
    }
}

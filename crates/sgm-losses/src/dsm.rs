use burn::prelude::*;
use sgm_core::tensor::{column, from_f64, time_like};
use sgm_core::{NoiseSource, NoiseSourceExt, ScoreModel};
use sgm_schedules::GeometricSigmas;

use crate::{Result, half_squared_norm};
use sgm_core::validate::positive;

/// Denoising score matching at one noise level (Vincent, Neural Computation 2011):
///
/// ```text
/// J_DSM = E_x E_z [ 1/2 |s(x + sigma z, t) + z / sigma|^2 ],   z ~ N(0, I),
/// ```
///
/// whose minimiser is the score of the perturbed law p_sigma = p * N(0, sigma^2 I), because
/// -z / sigma is the score of N(x + sigma z; x, sigma^2 I). The model is evaluated at the fixed
/// time `t` (its conditioning argument; any value for a network that ignores time).
///
/// ```
/// use sgm_losses::DenoisingScoreMatching;
/// assert!(DenoisingScoreMatching::new(0.1, 0.0).is_ok());
/// assert!(DenoisingScoreMatching::new(0.0, 0.0).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DenoisingScoreMatching {
    sigma: f64,
    t: f64,
}

impl DenoisingScoreMatching {
    /// DSM at noise `sigma`, the model evaluated at time `t`.
    ///
    /// # Errors
    /// [`LossError::Core`](crate::LossError::Core) (`CoreError::InvalidParameter`) unless sigma is
    /// finite and > 0.
    pub fn new(sigma: f64, t: f64) -> Result<Self> {
        Ok(Self {
            sigma: positive("sigma", sigma)?,
            t,
        })
    }

    /// The noise level.
    pub fn sigma(&self) -> f64 {
        self.sigma
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
        let z = noise.normal_like(&x);
        let xt = x + z.clone() * self.sigma;
        let s = model.checked_score(xt.clone(), time_like(self.t, &xt))?;
        Ok(half_squared_norm(s + z / self.sigma))
    }
}

/// The multi-scale denoising objective of NCSN (Song & Ermon, NeurIPS 2019, eq. 2):
///
/// ```text
/// L = E_i E_x E_z [ lambda(sigma_i) 1/2 |s(x + sigma_i z, t_i) + z / sigma_i|^2 ]
///   = E_i E_x E_z [ 1/2 |sigma_i s(x + sigma_i z, t_i) + z|^2 ],   lambda(sigma) = sigma^2,
/// ```
///
/// with one level i drawn uniformly per sample and the model conditioned on the level's time
/// t_i = [`GeometricSigmas::time`] (from 1 at sigma_max to 0 at sigma_min). lambda = sigma^2
/// makes every level's term of order one.
///
/// ```
/// use sgm_losses::NcsnLoss;
/// use sgm_schedules::GeometricSigmas;
/// let loss = NcsnLoss::new(GeometricSigmas::new(0.01, 1.0, 10)?)?;
/// assert_eq!(loss.levels().len(), 10);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct NcsnLoss {
    levels: GeometricSigmas,
}

impl NcsnLoss {
    /// The NCSN objective over `levels`.
    ///
    /// # Errors
    /// None today (its argument was validated when built); a `Result` like every other loss
    /// constructor, so that a check added later does not change the signature.
    pub fn new(levels: GeometricSigmas) -> Result<Self> {
        Ok(Self { levels })
    }

    /// The noise levels.
    pub fn levels(&self) -> &GeometricSigmas {
        &self.levels
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
        let [batch, _] = x.dims();
        let count = self.levels.len();
        let (device, dtype) = (x.device(), x.dtype());
        let level = noise.uniform_indices(batch, count, &x);
        let times: Vec<f64> = (0..count).map(|i| self.levels.time(i)).collect();
        let sigma =
            from_f64(self.levels.sigmas(), [count], &device, dtype).select(0, level.clone());
        let t = from_f64(&times, [count], &device, dtype).select(0, level);
        let z = noise.normal_like(&x);
        let sigma = column(sigma);
        let xt = x + z.clone() * sigma.clone();
        let s = model.checked_score(xt.clone(), t)?;
        Ok(half_squared_norm(s * sigma + z))
    }
}

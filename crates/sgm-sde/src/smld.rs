use burn::prelude::*;
use sgm_schedules::{GeometricSigma, GeometricSigmas, SigmaSchedule};

use crate::{GaussianMarginals, Result};

/// The perturbation kernels of NCSN / SMLD (Song & Ermon, NeurIPS 2019): p_t|0(x | x0) =
/// N(x0, sigma(t)^2 I) with sigma(t) = sigma_min (sigma_max / sigma_min)^t, so that the noise
/// level i of [`GeometricSigmas`] is reached at its time [`GeometricSigmas::time`].
///
/// These differ from the exact VE-SDE marginals ([`VeSde`](crate::VeSde): std(t) =
/// sqrt(sigma(t)^2 - sigma_min^2)) by treating even the smallest level as noise added to the data:
/// annealed Langevin dynamics and the multi-scale NCSN loss use them, and score_sde uses them as
/// its VE marginals.
///
/// ```
/// use sgm_schedules::GeometricSigmas;
/// use sgm_sde::{GaussianMarginals, SmldMarginals};
/// let levels = GeometricSigmas::new(1.0, 20.0, 10)?;
/// let smld = SmldMarginals::from_levels(&levels)?;
/// assert!((smld.std_at(levels.time(3)) - levels.sigmas()[3]).abs() < 1e-12);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SmldMarginals {
    sigma: GeometricSigma,
}

impl SmldMarginals {
    /// Kernels with sigma(t) from `sigma_min` (t = 0) to `sigma_max` (t = 1).
    ///
    /// # Errors
    /// [`SdeError::Schedule`](crate::SdeError::Schedule) unless 0 < sigma_min < sigma_max.
    pub fn new(sigma_min: f64, sigma_max: f64) -> Result<Self> {
        Ok(Self {
            sigma: GeometricSigma::new(sigma_min, sigma_max)?,
        })
    }

    /// The kernels whose sigma(t) passes through every level of `levels`.
    ///
    /// # Errors
    /// As [`SmldMarginals::new`] (never, for a valid schedule).
    pub fn from_levels(levels: &GeometricSigmas) -> Result<Self> {
        Self::new(levels.sigma_min(), levels.sigma_max())
    }

    /// The noise scale sigma(t).
    pub fn sigma(&self) -> &GeometricSigma {
        &self.sigma
    }
}

impl GaussianMarginals for SmldMarginals {
    fn log_mean_coeff(&self, t: Tensor<1>) -> Tensor<1> {
        t.zeros_like()
    }

    fn std(&self, t: Tensor<1>) -> Tensor<1> {
        self.sigma.sigma_tensor(t)
    }

    fn log_mean_coeff_at(&self, _t: f64) -> f64 {
        0.0
    }

    fn std_at(&self, t: f64) -> f64 {
        self.sigma.sigma(t)
    }
}

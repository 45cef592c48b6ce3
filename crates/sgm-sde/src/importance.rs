use burn::prelude::*;
use sgm_core::{NoiseSource, NoiseSourceExt};

use crate::{GaussianMarginals, Result, SdeError};

/// Times drawn with density proportional to -d log SNR(t) / dt on [t_min, t_max], where
/// SNR = m(t)^2 / std(t)^2.
///
/// For a linear SDE, d std^2/dt = 2 a std^2 + g^2 gives -d log SNR / dt = g(t)^2 / std(t)^2, the
/// likelihood weighting divided by the std^2 weighting: sampling t from this density turns the
/// likelihood-weighted objectives into std^2-weighted ones times the normaliser
/// Z = log SNR(t_min) - log SNR(t_max) (Song, Durkan, Murray & Ermon, NeurIPS 2021, sec. 5;
/// Kingma et al., NeurIPS 2021, for the SNR view). The inverse CDF solves
/// log SNR(t) = log SNR(t_min) - u Z, by 40 bisection halvings in tensor operations.
///
/// ```
/// use sgm_sde::{SnrImportance, VpSde};
/// let vp = VpSde::default();
/// let importance = SnrImportance::new(&vp, 1e-5, 1.0)?;
/// assert!(importance.normalizer() > 0.0);
/// assert!(SnrImportance::new(&vp, 0.0, 1.0).is_err());
/// # Ok::<(), sgm_sde::SdeError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SnrImportance<K> {
    marginals: K,
    t_min: f64,
    t_max: f64,
}

impl<K: GaussianMarginals> SnrImportance<K> {
    /// The density on [t_min, t_max].
    ///
    /// # Errors
    /// [`SdeError::Core`] (`CoreError::InvalidParameter`) unless 0 < t_min < t_max (the density is not integrable at
    /// t = 0, where log SNR is infinite).
    pub fn new(marginals: K, t_min: f64, t_max: f64) -> Result<Self> {
        if !(t_min.is_finite() && t_min > 0.0) {
            return Err(SdeError::from(sgm_core::validate::invalid(
                "t_min",
                t_min,
                "finite and > 0 for SNR importance sampling",
            )));
        }
        if !(t_max.is_finite() && t_max > t_min) {
            return Err(SdeError::from(sgm_core::validate::invalid(
                "t_max",
                t_max,
                "finite and > t_min",
            )));
        }
        Ok(Self {
            marginals,
            t_min,
            t_max,
        })
    }

    /// Z = log SNR(t_min) - log SNR(t_max): the density is (-d log SNR / dt) / Z.
    pub fn normalizer(&self) -> f64 {
        self.marginals.log_snr_at(self.t_min) - self.marginals.log_snr_at(self.t_max)
    }

    /// Draws `n` times, on the device and with the dtype of `like`.
    pub fn sample<const D: usize>(
        &self,
        n: usize,
        like: &Tensor<D>,
        noise: &mut dyn NoiseSource,
    ) -> Tensor<1> {
        let u = noise.uniform_like(n, 0.0, 1.0, like);
        let target = u * (-self.normalizer()) + self.marginals.log_snr_at(self.t_min);
        let mut lo = target.full_like(self.t_min);
        let mut hi = target.full_like(self.t_max);
        for _ in 0..40 {
            let mid = (lo.clone() + hi.clone()) * 0.5;
            // log SNR decreases in t: above the target means the root lies further right.
            let right = self.marginals.log_snr(mid.clone()).greater(target.clone());
            lo = lo.mask_where(right.clone(), mid.clone());
            hi = mid.mask_where(right, hi);
        }
        (lo + hi) * 0.5
    }
}

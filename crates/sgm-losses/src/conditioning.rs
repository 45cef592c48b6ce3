use burn::prelude::*;
use sgm_core::tensor::time_like;
use sgm_core::{NoiseSource, NoiseSourceExt};
use std::sync::Arc;

use sgm_sde::GaussianMarginals;

use crate::Result;
use crate::error::time_range;

/// Where the Hyvarinen objectives (ESM, ISM, SSM) evaluate the model.
///
/// - [`NoiseConditioning::Fixed`]: on the data as given, at one model time t (a model of the
///   data score when t is the data end, or of any single distribution).
/// - [`NoiseConditioning::Perturbed`]: on x_t = m(t) x + std(t) z, a draw of the perturbed law
///   p_t, with t ~ U(t_min, t_max) per sample, each sample's objective weighted by
///   lambda(t) = std(t)^2 as in denoising score matching. The objectives need no conditional
///   score, so this trains a time-conditional network on all noise levels with ISM or SSM.
#[derive(Clone)]
pub enum NoiseConditioning {
    /// The data as given, the model at time `t`, weight 1.
    Fixed {
        /// Model time.
        t: f64,
    },
    /// Perturbed data at uniform random times, weight std(t)^2.
    Perturbed {
        /// The transition kernels (an SDE, NCSN levels, a DDPM chain).
        marginals: Arc<dyn GaussianMarginals + Send + Sync>,
        /// Smallest time.
        t_min: f64,
        /// Largest time.
        t_max: f64,
    },
}

impl std::fmt::Debug for NoiseConditioning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fixed { t } => f.debug_struct("Fixed").field("t", t).finish(),
            Self::Perturbed { t_min, t_max, .. } => f
                .debug_struct("Perturbed")
                .field("t_min", t_min)
                .field("t_max", t_max)
                .finish_non_exhaustive(),
        }
    }
}

/// A batch ready for an objective: samples, times, per-sample weights (None = 1).
pub(crate) struct Conditioned {
    pub x: Tensor<2>,
    pub t: Tensor<1>,
    pub weight: Option<Tensor<1>>,
}

impl Conditioned {
    /// mean over the batch of weight * objective, `[1]`.
    pub fn weighted_mean(&self, objective: Tensor<1>) -> Tensor<1> {
        match &self.weight {
            Some(w) => (objective * w.clone()).mean(),
            None => objective.mean(),
        }
    }
}

impl NoiseConditioning {
    /// The data as given, the model at time `t`.
    ///
    /// ```
    /// use sgm_losses::NoiseConditioning;
    /// assert!(NoiseConditioning::fixed(0.0).is_ok());
    /// assert!(NoiseConditioning::fixed(f64::NAN).is_err());
    /// ```
    ///
    /// # Errors
    /// [`LossError::Core`](crate::LossError::Core) (`CoreError::InvalidParameter`) for a
    /// non-finite `t`.
    pub fn fixed(t: f64) -> Result<Self> {
        Ok(Self::Fixed {
            t: sgm_core::validate::finite("t", t)?,
        })
    }

    /// Perturbed data with t ~ U(t_min, t_max).
    ///
    /// # Errors
    /// [`LossError::Core`](crate::LossError::Core) (`CoreError::InvalidParameter`) unless
    /// 0 <= t_min < t_max.
    pub fn perturbed<K>(marginals: K, t_min: f64, t_max: f64) -> Result<Self>
    where
        K: GaussianMarginals + Send + Sync + 'static,
    {
        time_range(t_min, t_max)?;
        Ok(Self::Perturbed {
            marginals: Arc::new(marginals),
            t_min,
            t_max,
        })
    }

    pub(crate) fn apply(&self, x: Tensor<2>, noise: &mut dyn NoiseSource) -> Conditioned {
        match self {
            Self::Fixed { t } => Conditioned {
                t: time_like(*t, &x),
                x,
                weight: None,
            },
            Self::Perturbed {
                marginals,
                t_min,
                t_max,
            } => perturb_uniform(&**marginals, x, *t_min, *t_max, noise),
        }
    }
}

/// x_t = m(t) x + std(t) z at t ~ U(t_min, t_max) per sample, weighted by std(t)^2: the
/// perturbed conditioning, for any transition kernels.
pub(crate) fn perturb_uniform<K: GaussianMarginals + ?Sized>(
    marginals: &K,
    x: Tensor<2>,
    t_min: f64,
    t_max: f64,
    noise: &mut dyn NoiseSource,
) -> Conditioned {
    let t = noise.uniform_like(x.dims()[0], t_min, t_max, &x);
    let (xt, _) = marginals.sample_marginal(x, t.clone(), noise);
    let weight = marginals.std(t.clone()).square();
    Conditioned {
        x: xt,
        t,
        weight: Some(weight),
    }
}

//! What the VP and sub-VP SDEs share: both are dx = -1/2 beta(t) x dt + g(t) dW over a
//! [`BetaSchedule`], with mean coefficient m(t) = exp(-B(t) / 2), drift coefficient
//! a(t) = -beta(t) / 2, the corrector's alpha 1 - beta(t) dt and the prior N(0, I). Only the
//! diffusion and the marginal standard deviation differ, and each SDE's file says those.

use burn::prelude::*;
use sgm_schedules::BetaSchedule;

use crate::{Result, SdeError};

/// log m(t) = -B(t) / 2, `[batch]`.
pub(crate) fn log_mean_coeff<B: BetaSchedule>(beta: &B, t: Tensor<1>) -> Tensor<1> {
    beta.integral_tensor(t) * -0.5
}

/// log m(t) = -B(t) / 2 at one time.
pub(crate) fn log_mean_coeff_at<B: BetaSchedule>(beta: &B, t: f64) -> f64 {
    -0.5 * beta.integral(t)
}

/// a(t) = -beta(t) / 2, `[batch]`.
pub(crate) fn drift_coeff<B: BetaSchedule>(beta: &B, t: Tensor<1>) -> Tensor<1> {
    beta.beta_tensor(t) * -0.5
}

/// a(t) = -beta(t) / 2 at one time.
pub(crate) fn drift_coeff_at<B: BetaSchedule>(beta: &B, t: f64) -> f64 {
    -0.5 * beta.beta(t)
}

/// The corrector's alpha_i = 1 - beta_i with beta_i = beta(t) dt (Song et al. 2021, Alg. 5).
pub(crate) fn corrector_alpha<B: BetaSchedule>(beta: &B, t: f64, dt: f64) -> f64 {
    1.0 - beta.beta(t) * dt
}

/// The DDPM step beta_i = beta(t) dt, which must be < 1.
pub(crate) fn ddpm_beta<B: BetaSchedule>(beta: &B, t: f64, dt: f64) -> Result<f64> {
    let b = beta.beta(t) * dt;
    if b < 1.0 {
        Ok(b)
    } else {
        Err(SdeError::StepTooLarge { t, dt, beta: b })
    }
}

/// Implements `Sde` (all but `diffusion`), `LinearSde` and `CorrectorAlpha` for a VP-family SDE
/// over `BetaSchedule` B, from the functions above: `$ty<B>` must have a field `beta: B` and an
/// inherent `diffusion_tensor(&self, t) -> Tensor<1>`.
macro_rules! vp_family {
    ($ty:ident, $name:literal) => {
        impl<B: BetaSchedule> Sde for $ty<B> {
            fn name(&self) -> &'static str {
                $name
            }

            fn t_end(&self) -> f64 {
                self.beta.t_end()
            }

            fn drift(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
                linear_drift(self, x, t)
            }

            fn drift_jvp(&self, _x: Tensor<2>, t: Tensor<1>, v: Tensor<2>) -> Tensor<2> {
                linear_drift(self, v, t)
            }

            fn diffusion(&self, t: Tensor<1>) -> Tensor<1> {
                self.diffusion_tensor(t)
            }

            fn prior_sample(
                &self,
                shape: [usize; 2],
                device: &Device,
                dtype: DType,
                noise: &mut dyn NoiseSource,
            ) -> Tensor<2> {
                isotropic_gaussian_sample(1.0, shape, device, dtype, noise)
            }

            fn prior_log_prob(&self, x: Tensor<2>) -> Tensor<1> {
                isotropic_gaussian_log_prob(x, 1.0)
            }
        }

        impl<B: BetaSchedule> LinearSde for $ty<B> {
            fn drift_coeff(&self, t: Tensor<1>) -> Tensor<1> {
                vp_family::drift_coeff(&self.beta, t)
            }

            fn drift_coeff_at(&self, t: f64) -> f64 {
                vp_family::drift_coeff_at(&self.beta, t)
            }
        }

        impl<B: BetaSchedule> CorrectorAlpha for $ty<B> {
            fn corrector_alpha(&self, t: f64, dt: f64) -> f64 {
                vp_family::corrector_alpha(&self.beta, t, dt)
            }
        }
    };
}

pub(crate) use vp_family;

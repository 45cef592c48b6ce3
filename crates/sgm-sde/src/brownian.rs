use burn::prelude::*;
use burn::tensor::DType;
use sgm_core::NoiseSource;
use sgm_core::tensor::check_positive;

use crate::sde::isotropic_gaussian_sample;
use crate::{GaussianMarginals, LinearSde, Result, Sde, SdeError, isotropic_gaussian_log_prob};

/// Standard Brownian motion dx = dW on [0, T]: m(t) = 1, std(t) = sqrt(t), prior N(0, T I).
/// Its Euler-Maruyama kernel N(x, dt I) is exact.
///
/// ```
/// use sgm_sde::{BrownianMotion, GaussianMarginals, Sde};
/// let bm = BrownianMotion::new(4.0)?;
/// assert_eq!((bm.std_at(4.0), bm.t_end()), (2.0, 4.0));
/// # Ok::<(), sgm_sde::SdeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BrownianMotion {
    t_end: f64,
}

impl BrownianMotion {
    /// Brownian motion on [0, `t_end`].
    ///
    /// # Errors
    /// [`SdeError::InvalidParameter`] unless `t_end` is finite and > 0.
    pub fn new(t_end: f64) -> Result<Self> {
        check_positive("t_end", t_end).map_err(|_| SdeError::InvalidParameter {
            name: "t_end",
            value: t_end,
            requirement: "finite and > 0",
        })?;
        Ok(Self { t_end })
    }
}

impl Sde for BrownianMotion {
    fn name(&self) -> &'static str {
        "Brownian motion"
    }

    fn t_end(&self) -> f64 {
        self.t_end
    }

    fn drift(&self, x: Tensor<2>, _t: Tensor<1>) -> Tensor<2> {
        x.zeros_like()
    }

    fn drift_jvp(&self, _x: Tensor<2>, _t: Tensor<1>, v: Tensor<2>) -> Tensor<2> {
        v.zeros_like()
    }

    fn diffusion_at(&self, _t: f64) -> f64 {
        1.0
    }

    fn diffusion(&self, t: Tensor<1>) -> Tensor<1> {
        t.ones_like()
    }

    fn prior_sample(
        &self,
        shape: [usize; 2],
        device: &Device,
        dtype: DType,
        noise: &mut dyn NoiseSource,
    ) -> Tensor<2> {
        isotropic_gaussian_sample(self.t_end.sqrt(), shape, device, dtype, noise)
    }

    fn prior_log_prob(&self, x: Tensor<2>) -> Tensor<1> {
        isotropic_gaussian_log_prob(x, self.t_end.sqrt())
    }
}

impl GaussianMarginals for BrownianMotion {
    fn log_mean_coeff(&self, t: Tensor<1>) -> Tensor<1> {
        t.zeros_like()
    }

    fn std(&self, t: Tensor<1>) -> Tensor<1> {
        t.sqrt()
    }

    fn log_mean_coeff_at(&self, _t: f64) -> f64 {
        0.0
    }

    fn std_at(&self, t: f64) -> f64 {
        t.sqrt()
    }
}

impl LinearSde for BrownianMotion {
    fn drift_coeff(&self, t: Tensor<1>) -> Tensor<1> {
        t.zeros_like()
    }

    fn drift_coeff_at(&self, _t: f64) -> f64 {
        0.0
    }
}

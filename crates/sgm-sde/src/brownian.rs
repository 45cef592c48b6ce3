use burn::prelude::*;
use burn::tensor::DType;
use sgm_core::NoiseSource;

use crate::{
    CorrectorAlpha, Discretization, Discretize, GaussianMarginals, LinearSde, Result, Sde,
    euler_maruyama_discretization, isotropic_gaussian_log_prob, isotropic_gaussian_sample,
};

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
    /// [`SdeError::Core`](crate::SdeError::Core) (`CoreError::InvalidParameter`) unless `t_end` is finite and > 0.
    pub fn new(t_end: f64) -> Result<Self> {
        sgm_core::validate::positive("t_end", t_end)?;
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

impl Discretize for BrownianMotion {
    /// Euler-Maruyama.
    fn discretize(&self, x: Tensor<2>, t: f64, dt: f64) -> Result<Discretization> {
        Ok(euler_maruyama_discretization(self, x, t, dt))
    }
}

impl CorrectorAlpha for BrownianMotion {
    /// 1.
    fn corrector_alpha(&self, _t: f64, _dt: f64) -> f64 {
        1.0
    }
}

use burn::prelude::*;
use burn::tensor::DType;
use sgm_core::NoiseSource;
use sgm_core::tensor::expm1;
use sgm_schedules::LinearBeta;

use crate::sde::{isotropic_gaussian_sample, linear_drift};
use crate::{GaussianMarginals, LinearSde, Result, Sde, isotropic_gaussian_log_prob};

/// The sub-VP SDE (Song et al., ICLR 2021, eq. 34), whose variance stays below the VP SDE's:
///
/// ```text
/// dx = -1/2 beta(t) x dt + sqrt(beta(t) (1 - exp(-2 B(t)))) dW,  B(t) = int_0^t beta.
/// ```
///
/// Transition kernel: log m(t) = -B(t) / 2, std(t) = 1 - exp(-B(t)) = -expm1(-B(t)) (no
/// square root: the variance is (1 - e^{-B})^2). Prior N(0, I). It has no ancestral sampler;
/// its discretisation is Euler-Maruyama.
///
/// ```
/// use sgm_sde::{GaussianMarginals, SubVpSde};
/// let sub = SubVpSde::new(0.1, 20.0)?;
/// // B(1e-5) = 0.1e-5 + 19.9e-10 / 2; std = 1 - exp(-B) ~ B.
/// assert!((sub.std_at(1e-5) - 1.000_994_5e-6).abs() < 1e-12);
/// # Ok::<(), sgm_sde::SdeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SubVpSde {
    beta: LinearBeta,
}

impl Default for SubVpSde {
    /// beta_min = 0.1, beta_max = 20.
    fn default() -> Self {
        Self::new(0.1, 20.0).expect("valid default")
    }
}

impl SubVpSde {
    /// The sub-VP SDE with beta(t) from `beta_min` to `beta_max`.
    ///
    /// # Errors
    /// [`SdeError::Schedule`](crate::SdeError::Schedule) unless 0 <= beta_min <= beta_max,
    /// beta_max > 0.
    pub fn new(beta_min: f64, beta_max: f64) -> Result<Self> {
        Ok(Self {
            beta: LinearBeta::new(beta_min, beta_max)?,
        })
    }

    /// The noise rate beta(t).
    pub fn beta(&self) -> &LinearBeta {
        &self.beta
    }
}

impl Sde for SubVpSde {
    fn name(&self) -> &'static str {
        "sub-VP"
    }

    fn t_end(&self) -> f64 {
        1.0
    }

    fn drift(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        linear_drift(self, x, t)
    }

    fn drift_jvp(&self, _x: Tensor<2>, t: Tensor<1>, v: Tensor<2>) -> Tensor<2> {
        linear_drift(self, v, t)
    }

    fn diffusion_at(&self, t: f64) -> f64 {
        (self.beta.beta(t) * -(-2.0 * self.beta.integral(t)).exp_m1()).sqrt()
    }

    fn diffusion(&self, t: Tensor<1>) -> Tensor<1> {
        let discount = -expm1(self.beta.integral_tensor(t.clone()) * -2.0);
        (self.beta.beta_tensor(t) * discount).sqrt()
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

    /// alpha_i = 1 - beta(t) dt, as for the VP SDE (same drift).
    fn corrector_alpha(&self, t: f64, dt: f64) -> f64 {
        1.0 - self.beta.beta(t) * dt
    }
}

impl GaussianMarginals for SubVpSde {
    fn log_mean_coeff(&self, t: Tensor<1>) -> Tensor<1> {
        self.beta.integral_tensor(t) * -0.5
    }

    fn std(&self, t: Tensor<1>) -> Tensor<1> {
        -expm1(-self.beta.integral_tensor(t))
    }

    fn log_mean_coeff_at(&self, t: f64) -> f64 {
        -0.5 * self.beta.integral(t)
    }

    fn std_at(&self, t: f64) -> f64 {
        -(-self.beta.integral(t)).exp_m1()
    }
}

impl LinearSde for SubVpSde {
    fn drift_coeff(&self, t: Tensor<1>) -> Tensor<1> {
        self.beta.beta_tensor(t) * -0.5
    }

    fn drift_coeff_at(&self, t: f64) -> f64 {
        -0.5 * self.beta.beta(t)
    }
}

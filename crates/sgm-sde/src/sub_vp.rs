use burn::prelude::*;
use burn::tensor::DType;
use sgm_core::NoiseSource;
use sgm_core::tensor::expm1;
use sgm_schedules::{BetaSchedule, LinearBeta};

use crate::vp_family::{self, vp_family};
use crate::{
    CorrectorAlpha, Discretization, Discretize, GaussianMarginals, LinearSde, Result, Sde,
    euler_maruyama_discretization, isotropic_gaussian_log_prob, isotropic_gaussian_sample,
    linear_drift,
};

/// The sub-VP SDE (Song et al., ICLR 2021, eq. 34), whose variance stays below the VP SDE's:
///
/// ```text
/// dx = -1/2 beta(t) x dt + sqrt(beta(t) (1 - exp(-2 B(t)))) dW,  B(t) = int_0^t beta,
/// ```
///
/// with the linear beta(t) of [`SubVpSde::new`] or any [`BetaSchedule`]
/// ([`SubVpSde::with_schedule`]).
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
pub struct SubVpSde<B = LinearBeta> {
    beta: B,
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
        Ok(Self::with_schedule(LinearBeta::new(beta_min, beta_max)?))
    }
}

impl<B: BetaSchedule> SubVpSde<B> {
    /// The sub-VP SDE with any noise-rate schedule beta(t).
    ///
    /// ```
    /// use sgm_schedules::LinearBeta;
    /// use sgm_sde::SubVpSde;
    /// assert_eq!(SubVpSde::with_schedule(LinearBeta::new(0.1, 20.0)?), SubVpSde::default());
    /// # Ok::<(), sgm_sde::SdeError>(())
    /// ```
    pub fn with_schedule(beta: B) -> Self {
        Self { beta }
    }

    /// The noise rate schedule beta(t).
    pub fn beta(&self) -> &B {
        &self.beta
    }

    /// g(t) = sqrt(beta(t) (1 - exp(-2 B(t)))).
    fn diffusion_tensor(&self, t: Tensor<1>) -> Tensor<1> {
        let discount = -expm1(self.beta.integral_tensor(t.clone()) * -2.0);
        (self.beta.beta_tensor(t) * discount).sqrt()
    }
}

vp_family!(SubVpSde, "sub-VP");

impl<B: BetaSchedule> Discretize for SubVpSde<B> {
    /// Euler-Maruyama (sub-VP has no discrete chain of its own).
    fn discretize(&self, x: Tensor<2>, t: f64, dt: f64) -> Result<Discretization> {
        Ok(euler_maruyama_discretization(self, x, t, dt))
    }
}

impl<B: BetaSchedule> GaussianMarginals for SubVpSde<B> {
    fn log_mean_coeff(&self, t: Tensor<1>) -> Tensor<1> {
        vp_family::log_mean_coeff(&self.beta, t)
    }

    /// -expm1(-B(t)).
    fn std(&self, t: Tensor<1>) -> Tensor<1> {
        -expm1(-self.beta.integral_tensor(t))
    }

    fn log_mean_coeff_at(&self, t: f64) -> f64 {
        vp_family::log_mean_coeff_at(&self.beta, t)
    }

    fn std_at(&self, t: f64) -> f64 {
        -(-self.beta.integral(t)).exp_m1()
    }
}

use burn::prelude::*;
use burn::tensor::DType;
use sgm_core::NoiseSource;
use sgm_core::tensor::expm1;
use sgm_core::tensor::time_like;
use sgm_schedules::{BetaSchedule, LinearBeta};

use crate::vp_family::{self, vp_family};
use crate::{
    Ancestral, AncestralStep, CorrectorAlpha, Discretization, Discretize, GaussianMarginals,
    LinearSde, Result, Sde, isotropic_gaussian_log_prob, isotropic_gaussian_sample, linear_drift,
};

/// The variance-preserving SDE (DDPM in continuous time; Song et al., ICLR 2021, eq. 32):
///
/// ```text
/// dx = -1/2 beta(t) x dt + sqrt(beta(t)) dW,  beta(t) = beta_min + t (beta_max - beta_min),
/// ```
///
/// or any other [`BetaSchedule`] through [`VpSde::with_schedule`] (a time-rescaled VP SDE is a
/// schedule of a few lines).
///
/// Transition kernel: log m(t) = -B(t) / 2 with B(t) = int_0^t beta, and
/// std(t) = sqrt(1 - m(t)^2) = sqrt(-expm1(-B(t))) (through `expm1`: `sqrt(1 - m^2)` loses 2% in
/// f32 at t = 1e-5). Prior N(0, I).
///
/// ```
/// use sgm_sde::{GaussianMarginals, VpSde};
/// let vp = VpSde::new(0.1, 20.0)?;
/// assert!((vp.mean_coeff_at(0.5) - 0.28118).abs() < 1e-5);
/// # Ok::<(), sgm_sde::SdeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VpSde<B = LinearBeta> {
    beta: B,
}

impl Default for VpSde {
    /// beta_min = 0.1, beta_max = 20 (DDPM's schedule in continuous time).
    fn default() -> Self {
        Self::new(0.1, 20.0).expect("valid default")
    }
}

impl VpSde {
    /// The VP SDE with the linear schedule from `beta_min` to `beta_max`.
    ///
    /// # Errors
    /// [`SdeError::Schedule`](crate::SdeError::Schedule) unless 0 <= beta_min <= beta_max,
    /// beta_max > 0.
    pub fn new(beta_min: f64, beta_max: f64) -> Result<Self> {
        Ok(Self::with_schedule(LinearBeta::new(beta_min, beta_max)?))
    }
}

impl<B: BetaSchedule> VpSde<B> {
    /// The VP SDE with any noise-rate schedule beta(t) (its T is the schedule's).
    ///
    /// ```
    /// use sgm_schedules::LinearBeta;
    /// use sgm_sde::{GaussianMarginals, VpSde};
    /// let vp = VpSde::with_schedule(LinearBeta::new(0.1, 20.0)?);
    /// assert_eq!(vp, VpSde::default());
    /// # Ok::<(), sgm_sde::SdeError>(())
    /// ```
    pub fn with_schedule(beta: B) -> Self {
        Self { beta }
    }

    /// The noise rate schedule beta(t).
    pub fn beta(&self) -> &B {
        &self.beta
    }

    /// g(t) = sqrt(beta(t)).
    fn diffusion_tensor(&self, t: Tensor<1>) -> Tensor<1> {
        self.beta.beta_tensor(t).sqrt()
    }
}

vp_family!(VpSde, "VP");

impl<B: BetaSchedule> Discretize for VpSde<B> {
    /// DDPM's kernel x_i = sqrt(1 - beta_i) x_{i-1} + sqrt(beta_i) z with beta_i = beta(t) dt:
    /// f_i(x) = (sqrt(1 - beta_i) - 1) x, G_i = sqrt(beta_i).
    fn discretize(&self, x: Tensor<2>, t: f64, dt: f64) -> Result<Discretization> {
        let b = vp_family::ddpm_beta(&self.beta, t, dt)?;
        Ok(Discretization {
            g: time_like(b.sqrt(), &x),
            f: x * ((1.0 - b).sqrt() - 1.0),
        })
    }
}

impl<B: BetaSchedule> Ancestral for VpSde<B> {
    /// DDPM's ancestral step x_{i-1} = (x_i + beta_i s) / sqrt(1 - beta_i) + sqrt(beta_i) z.
    fn ancestral_step(&self, t: f64, dt: f64) -> Result<AncestralStep> {
        let b = vp_family::ddpm_beta(&self.beta, t, dt)?;
        let scale = 1.0 / (1.0 - b).sqrt();
        Ok(AncestralStep {
            x_coeff: scale,
            score_coeff: b * scale,
            noise_std: b.sqrt(),
        })
    }
}

impl<B: BetaSchedule> GaussianMarginals for VpSde<B> {
    fn log_mean_coeff(&self, t: Tensor<1>) -> Tensor<1> {
        vp_family::log_mean_coeff(&self.beta, t)
    }

    /// sqrt(-expm1(-B(t))).
    fn std(&self, t: Tensor<1>) -> Tensor<1> {
        (-expm1(-self.beta.integral_tensor(t))).sqrt()
    }

    fn log_mean_coeff_at(&self, t: f64) -> f64 {
        vp_family::log_mean_coeff_at(&self.beta, t)
    }

    fn std_at(&self, t: f64) -> f64 {
        (-(-self.beta.integral(t)).exp_m1()).sqrt()
    }
}

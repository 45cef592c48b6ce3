use burn::prelude::*;
use burn::tensor::DType;
use sgm_core::NoiseSource;
use sgm_core::tensor::time_like;
use sgm_schedules::{GeometricSigma, IdentitySigma, SigmaSchedule};

use crate::{
    Ancestral, AncestralStep, CorrectorAlpha, Discretization, Discretize, GaussianMarginals,
    LinearSde, Result, Sde, isotropic_gaussian_log_prob, isotropic_gaussian_sample,
};

/// The variance-exploding SDE (SMLD / NCSN in continuous time; Song et al., ICLR 2021, eq. 30):
///
/// ```text
/// dx = sqrt(d sigma(t)^2 / dt) dW = sigma(t) sqrt(2 ln(sigma_max / sigma_min)) dW,
/// sigma(t) = sigma_min (sigma_max / sigma_min)^t,  t in [0, 1],
/// ```
///
/// or dx = sqrt(d sigma(t)^2 / dt) dW for any [`SigmaSchedule`] ([`VeSde::with_schedule`]), whose
/// std(t) = sqrt(sigma(t)^2 - sigma(0)^2) and prior N(0, sigma(T)^2 I).
///
/// Transition kernel: m(t) = 1 and the exact std(t) = sqrt(sigma(t)^2 - sigma_min^2) =
/// sigma_min sqrt(expm1(2 t ln(sigma_max / sigma_min))), which vanishes at t = 0. score_sde
/// uses sigma(t) itself as the marginal std, treating the data as already carrying noise
/// sigma_min; the two differ by sigma_min^2 in variance. The prior is N(0, sigma_max^2 I), as
/// in score_sde.
///
/// ```
/// use sgm_sde::{GaussianMarginals, VeSde};
/// let ve = VeSde::new(0.01, 50.0)?;
/// assert_eq!(ve.std_at(0.0), 0.0);
/// assert!((ve.std_at(1.0) - (50.0f64.powi(2) - 1e-4).sqrt()).abs() < 1e-9);
/// # Ok::<(), sgm_sde::SdeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VeSde<S = GeometricSigma> {
    sigma: S,
}

impl Default for VeSde {
    /// sigma_min = 0.01, sigma_max = 50 (score_sde's CIFAR-10 setting).
    fn default() -> Self {
        Self::new(0.01, 50.0).expect("valid default")
    }
}

impl VeSde {
    /// The VE SDE with the geometric schedule from `sigma_min` to `sigma_max`.
    ///
    /// # Errors
    /// [`SdeError::Schedule`](crate::SdeError::Schedule) unless 0 < sigma_min < sigma_max.
    pub fn new(sigma_min: f64, sigma_max: f64) -> Result<Self> {
        Ok(Self::with_schedule(GeometricSigma::new(
            sigma_min, sigma_max,
        )?))
    }
}

/// The SDE of Karras et al. (2022): x_sigma = x_0 + sigma n with time equal to the noise level.
pub type KarrasSde = VeSde<IdentitySigma>;

impl VeSde<IdentitySigma> {
    /// The Karras et al. (2022) SDE: dx = sqrt(2 t) dW on [0, sigma_max], m(t) = 1, std(t) = t,
    /// prior N(0, sigma_max^2 I); its probability-flow ODE is dx/dsigma = (x - D(x, sigma)) /
    /// sigma with D the denoiser (eq. 3 of the paper).
    ///
    /// ```
    /// use sgm_sde::{GaussianMarginals, Sde, VeSde};
    /// let karras = VeSde::karras(80.0)?;
    /// assert_eq!((karras.t_end(), karras.std_at(0.002)), (80.0, 0.002));
    /// assert!(VeSde::karras(-1.0).is_err());
    /// # Ok::<(), sgm_sde::SdeError>(())
    /// ```
    ///
    /// # Errors
    /// [`SdeError::Schedule`](crate::SdeError::Schedule) unless sigma_max is finite and > 0.
    pub fn karras(sigma_max: f64) -> Result<Self> {
        Ok(Self::with_schedule(IdentitySigma::new(sigma_max)?))
    }
}

impl<S: SigmaSchedule> VeSde<S> {
    /// The VE SDE with any increasing noise scale sigma(t) (its T is the schedule's).
    ///
    /// ```
    /// use sgm_schedules::GeometricSigma;
    /// use sgm_sde::VeSde;
    /// assert_eq!(VeSde::with_schedule(GeometricSigma::new(0.01, 50.0)?), VeSde::default());
    /// # Ok::<(), sgm_sde::SdeError>(())
    /// ```
    pub fn with_schedule(sigma: S) -> Self {
        Self { sigma }
    }

    /// The noise scale schedule sigma(t).
    pub fn sigma(&self) -> &S {
        &self.sigma
    }

    /// sigma(t)^2 - sigma(s)^2, the variance added between s and t (s clamped at 0).
    fn variance_between(&self, s: f64, t: f64) -> f64 {
        self.sigma.variance_from_zero(t) - self.sigma.variance_from_zero(s.max(0.0))
    }
}

impl<S: SigmaSchedule> Sde for VeSde<S> {
    fn name(&self) -> &'static str {
        "VE"
    }

    fn t_end(&self) -> f64 {
        self.sigma.t_end()
    }

    fn drift(&self, x: Tensor<2>, _t: Tensor<1>) -> Tensor<2> {
        x.zeros_like()
    }

    fn drift_jvp(&self, _x: Tensor<2>, _t: Tensor<1>, v: Tensor<2>) -> Tensor<2> {
        v.zeros_like()
    }

    /// g(t) = sqrt(d sigma(t)^2 / dt).
    fn diffusion(&self, t: Tensor<1>) -> Tensor<1> {
        self.sigma.sigma_sq_rate_tensor(t).sqrt()
    }

    fn prior_sample(
        &self,
        shape: [usize; 2],
        device: &Device,
        dtype: DType,
        noise: &mut dyn NoiseSource,
    ) -> Tensor<2> {
        let sigma_max = self.sigma.sigma(self.sigma.t_end());
        isotropic_gaussian_sample(sigma_max, shape, device, dtype, noise)
    }

    fn prior_log_prob(&self, x: Tensor<2>) -> Tensor<1> {
        isotropic_gaussian_log_prob(x, self.sigma.sigma(self.sigma.t_end()))
    }
}

impl<S: SigmaSchedule> Discretize for VeSde<S> {
    /// SMLD's kernel x_i = x_{i-1} + sqrt(sigma_i^2 - sigma_{i-1}^2) z: f_i = 0.
    fn discretize(&self, x: Tensor<2>, t: f64, dt: f64) -> Result<Discretization> {
        Ok(Discretization {
            g: time_like(self.variance_between(t - dt, t).sqrt(), &x),
            f: x.zeros_like(),
        })
    }
}

impl<S: SigmaSchedule> Ancestral for VeSde<S> {
    /// SMLD's ancestral step (Song et al. 2021, eq. 47): x_{i-1} = x_i + (v_i - v_{i-1}) s +
    /// sqrt(v_{i-1} (v_i - v_{i-1}) / v_i) z with v = std^2.
    fn ancestral_step(&self, t: f64, dt: f64) -> Result<AncestralStep> {
        let (v, v_prev) = (
            self.std_at(t).powi(2),
            self.std_at((t - dt).max(0.0)).powi(2),
        );
        let increment = v - v_prev;
        Ok(AncestralStep {
            x_coeff: 1.0,
            score_coeff: increment,
            noise_std: (v_prev * increment / v).sqrt(),
        })
    }
}

impl<S: SigmaSchedule> CorrectorAlpha for VeSde<S> {
    /// 1 (Song et al. 2021, Algorithm 4).
    fn corrector_alpha(&self, _t: f64, _dt: f64) -> f64 {
        1.0
    }
}

impl<S: SigmaSchedule> GaussianMarginals for VeSde<S> {
    fn log_mean_coeff(&self, t: Tensor<1>) -> Tensor<1> {
        t.zeros_like()
    }

    /// sqrt(sigma(t)^2 - sigma(0)^2).
    fn std(&self, t: Tensor<1>) -> Tensor<1> {
        self.sigma.variance_from_zero_tensor(t).sqrt()
    }

    fn log_mean_coeff_at(&self, _t: f64) -> f64 {
        0.0
    }

    fn std_at(&self, t: f64) -> f64 {
        self.sigma.variance_from_zero(t).sqrt()
    }
}

impl<S: SigmaSchedule> LinearSde for VeSde<S> {
    fn drift_coeff(&self, t: Tensor<1>) -> Tensor<1> {
        t.zeros_like()
    }

    fn drift_coeff_at(&self, _t: f64) -> f64 {
        0.0
    }
}

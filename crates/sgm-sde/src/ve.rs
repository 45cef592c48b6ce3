use burn::prelude::*;
use burn::tensor::DType;
use sgm_core::NoiseSource;
use sgm_core::tensor::expm1;
use sgm_schedules::GeometricSigma;

use crate::sde::{isotropic_gaussian_sample, linear_drift};
use crate::{
    AncestralStep, Discretization, GaussianMarginals, LinearSde, Result, Sde,
    isotropic_gaussian_log_prob,
};

/// The variance-exploding SDE (SMLD / NCSN in continuous time; Song et al., ICLR 2021, eq. 30):
///
/// ```text
/// dx = sqrt(d sigma(t)^2 / dt) dW = sigma(t) sqrt(2 ln(sigma_max / sigma_min)) dW,
/// sigma(t) = sigma_min (sigma_max / sigma_min)^t,  t in [0, 1].
/// ```
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
pub struct VeSde {
    sigma: GeometricSigma,
}

impl Default for VeSde {
    /// sigma_min = 0.01, sigma_max = 50 (score_sde's CIFAR-10 setting).
    fn default() -> Self {
        Self::new(0.01, 50.0).expect("valid default")
    }
}

impl VeSde {
    /// The VE SDE with noise from `sigma_min` to `sigma_max`.
    ///
    /// # Errors
    /// [`SdeError::Schedule`](crate::SdeError::Schedule) unless 0 < sigma_min < sigma_max.
    pub fn new(sigma_min: f64, sigma_max: f64) -> Result<Self> {
        Ok(Self {
            sigma: GeometricSigma::new(sigma_min, sigma_max)?,
        })
    }

    /// The noise scale sigma(t).
    pub fn sigma(&self) -> &GeometricSigma {
        &self.sigma
    }

    /// The exact transition variance accumulated between times `s < t`:
    /// sigma(t)^2 - sigma(max(s, 0))^2.
    fn variance_between(&self, s: f64, t: f64) -> f64 {
        let (a, b) = (self.sigma.sigma(t), self.sigma.sigma(s.max(0.0)));
        a * a - b * b
    }
}

impl Sde for VeSde {
    fn name(&self) -> &'static str {
        "VE"
    }

    fn t_end(&self) -> f64 {
        1.0
    }

    fn drift(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        linear_drift(self, x, t)
    }

    fn drift_jvp(&self, _x: Tensor<2>, _t: Tensor<1>, v: Tensor<2>) -> Tensor<2> {
        v.zeros_like()
    }

    fn diffusion_at(&self, t: f64) -> f64 {
        self.sigma.sigma(t) * (2.0 * self.sigma.log_ratio()).sqrt()
    }

    fn diffusion(&self, t: Tensor<1>) -> Tensor<1> {
        self.sigma.sigma_tensor(t) * (2.0 * self.sigma.log_ratio()).sqrt()
    }

    fn prior_sample(
        &self,
        shape: [usize; 2],
        device: &Device,
        dtype: DType,
        noise: &mut dyn NoiseSource,
    ) -> Tensor<2> {
        isotropic_gaussian_sample(self.sigma.sigma_max(), shape, device, dtype, noise)
    }

    fn prior_log_prob(&self, x: Tensor<2>) -> Tensor<1> {
        isotropic_gaussian_log_prob(x, self.sigma.sigma_max())
    }

    /// The SMLD kernel x_t = x_{t-dt} + N(0, (sigma(t)^2 - sigma(t - dt)^2) I): f_i = 0,
    /// G_i = sqrt(sigma(t)^2 - sigma(t - dt)^2), with sigma(t - dt) taken at 0 when t - dt < 0.
    fn discretize(&self, x: Tensor<2>, t: f64, dt: f64) -> Result<Discretization> {
        Ok(Discretization {
            f: x.zeros_like(),
            g: self.variance_between(t - dt, t).sqrt(),
        })
    }

    /// SMLD ancestral sampling: with v = std(t)^2, v' = std(t - dt)^2 (exact variances from the
    /// data), x' = x + (v - v') s + sqrt(v' (v - v') / v) z.
    fn ancestral_step(&self, t: f64, dt: f64) -> Result<Option<AncestralStep>> {
        let (v, v_prev) = (
            self.std_at(t).powi(2),
            self.std_at((t - dt).max(0.0)).powi(2),
        );
        let increment = v - v_prev;
        Ok(Some(AncestralStep {
            x_coeff: 1.0,
            score_coeff: increment,
            noise_std: (v_prev * increment / v).sqrt(),
        }))
    }
}

impl GaussianMarginals for VeSde {
    fn log_mean_coeff(&self, t: Tensor<1>) -> Tensor<1> {
        t.zeros_like()
    }

    fn std(&self, t: Tensor<1>) -> Tensor<1> {
        expm1(t * (2.0 * self.sigma.log_ratio())).sqrt() * self.sigma.sigma_min()
    }

    fn log_mean_coeff_at(&self, _t: f64) -> f64 {
        0.0
    }

    fn std_at(&self, t: f64) -> f64 {
        self.sigma.sigma_min() * (2.0 * t * self.sigma.log_ratio()).exp_m1().sqrt()
    }
}

impl LinearSde for VeSde {
    fn drift_coeff(&self, t: Tensor<1>) -> Tensor<1> {
        t.zeros_like()
    }

    fn drift_coeff_at(&self, _t: f64) -> f64 {
        0.0
    }
}

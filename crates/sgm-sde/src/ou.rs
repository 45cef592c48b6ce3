use burn::prelude::*;
use burn::tensor::DType;
use sgm_core::NoiseSource;
use sgm_core::tensor::expm1;

use crate::{
    CorrectorAlpha, Discretization, Discretize, GaussianMarginals, LinearSde, Result, Sde,
    euler_maruyama_discretization, isotropic_gaussian_log_prob, isotropic_gaussian_sample,
    linear_drift,
};

/// The Ornstein-Uhlenbeck process with stationary law N(0, I):
///
/// ```text
/// dx = -theta x dt + sqrt(2 theta) dW,  t in [0, T].
/// ```
///
/// Transition kernel: m(t) = exp(-theta t), std(t) = sqrt(-expm1(-2 theta t)); prior N(0, I)
/// (the stationary law). Its Euler-Maruyama kernel is N((1 - gamma) x, 2 gamma I) with
/// gamma = theta dt, the unadjusted Langevin algorithm for N(0, I). The VP SDE is this process
/// run on the clock s(t) = B(t) / 2 with theta = 1.
///
/// ```
/// use sgm_sde::{GaussianMarginals, OrnsteinUhlenbeck};
/// let ou = OrnsteinUhlenbeck::new(1.0, 5.0)?;
/// assert!((ou.mean_coeff_at(1.0) - (-1.0f64).exp()).abs() < 1e-15);
/// # Ok::<(), sgm_sde::SdeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrnsteinUhlenbeck {
    theta: f64,
    t_end: f64,
}

impl OrnsteinUhlenbeck {
    /// The OU process with rate `theta` on [0, `t_end`].
    ///
    /// # Errors
    /// [`SdeError::Core`](crate::SdeError::Core) (`CoreError::InvalidParameter`) unless both are finite and > 0.
    pub fn new(theta: f64, t_end: f64) -> Result<Self> {
        for (name, value) in [("theta", theta), ("t_end", t_end)] {
            sgm_core::validate::positive(name, value)?;
        }
        Ok(Self { theta, t_end })
    }

    /// The mean-reversion rate theta.
    pub fn theta(&self) -> f64 {
        self.theta
    }
}

impl Sde for OrnsteinUhlenbeck {
    fn name(&self) -> &'static str {
        "Ornstein-Uhlenbeck"
    }

    fn t_end(&self) -> f64 {
        self.t_end
    }

    fn drift(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        linear_drift(self, x, t)
    }

    fn drift_jvp(&self, _x: Tensor<2>, t: Tensor<1>, v: Tensor<2>) -> Tensor<2> {
        linear_drift(self, v, t)
    }

    fn diffusion(&self, t: Tensor<1>) -> Tensor<1> {
        t.ones_like() * (2.0 * self.theta).sqrt()
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

impl GaussianMarginals for OrnsteinUhlenbeck {
    fn log_mean_coeff(&self, t: Tensor<1>) -> Tensor<1> {
        t * -self.theta
    }

    fn std(&self, t: Tensor<1>) -> Tensor<1> {
        (-expm1(t * (-2.0 * self.theta))).sqrt()
    }

    fn log_mean_coeff_at(&self, t: f64) -> f64 {
        -self.theta * t
    }

    fn std_at(&self, t: f64) -> f64 {
        (-(-2.0 * self.theta * t).exp_m1()).sqrt()
    }
}

impl LinearSde for OrnsteinUhlenbeck {
    fn drift_coeff(&self, t: Tensor<1>) -> Tensor<1> {
        t.ones_like() * -self.theta
    }

    fn drift_coeff_at(&self, _t: f64) -> f64 {
        -self.theta
    }
}

impl Discretize for OrnsteinUhlenbeck {
    /// Euler-Maruyama.
    fn discretize(&self, x: Tensor<2>, t: f64, dt: f64) -> Result<Discretization> {
        Ok(euler_maruyama_discretization(self, x, t, dt))
    }
}

impl CorrectorAlpha for OrnsteinUhlenbeck {
    /// alpha_i = 1 - 2 theta dt: the OU process is VP-type with constant beta = 2 theta.
    fn corrector_alpha(&self, _t: f64, dt: f64) -> f64 {
        1.0 - 2.0 * self.theta * dt
    }
}

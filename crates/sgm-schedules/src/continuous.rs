use burn::prelude::*;

use crate::sigmas::check_sigma_range;
use crate::{Result, ScheduleError, finite};

/// The noise rate beta(t) >= 0 of a variance-preserving (VP or sub-VP) SDE on [0, T], with its
/// integral B(t) = int_0^t beta(s) ds, in closed form on the host and as tensors.
///
/// Any schedule works: [`LinearBeta`] is Song et al.'s, and a user's own (cosine, a time
/// rescaling of another schedule) is the four methods below. The SDE's marginals follow from
/// B alone: m(t) = exp(-B(t) / 2).
///
/// ```
/// use burn::prelude::*;
/// use sgm_schedules::BetaSchedule;
///
/// /// beta(t) = 2 on [0, 1]: B(t) = 2 t.
/// struct ConstantBeta;
/// impl BetaSchedule for ConstantBeta {
///     fn beta(&self, _t: f64) -> f64 { 2.0 }
///     fn integral(&self, t: f64) -> f64 { 2.0 * t }
///     fn beta_tensor(&self, t: Tensor<1>) -> Tensor<1> { t.zeros_like() + 2.0 }
///     fn integral_tensor(&self, t: Tensor<1>) -> Tensor<1> { t * 2.0 }
/// }
/// assert_eq!(ConstantBeta.integral(0.5), 1.0);
/// assert_eq!(ConstantBeta.t_end(), 1.0);
/// ```
pub trait BetaSchedule {
    /// beta(t).
    fn beta(&self, t: f64) -> f64;
    /// B(t) = int_0^t beta.
    fn integral(&self, t: f64) -> f64;
    /// beta(t) per sample, `[batch]`.
    fn beta_tensor(&self, t: Tensor<1>) -> Tensor<1>;
    /// B(t) per sample, `[batch]`.
    fn integral_tensor(&self, t: Tensor<1>) -> Tensor<1>;
    /// The terminal time T of the SDE built on this schedule (default 1).
    fn t_end(&self) -> f64 {
        1.0
    }
}

/// The noise scale sigma(t) of a variance-exploding SDE on [0, T], increasing, with the rate
/// d sigma(t)^2 / dt that gives the diffusion coefficient g(t) = sqrt(d sigma^2 / dt).
///
/// The marginal standard deviation is sqrt(sigma(t)^2 - sigma(0)^2)
/// ([`SigmaSchedule::variance_from_zero`], which [`GeometricSigma`] computes without
/// cancellation at small t), the prior N(0, sigma(T)^2 I).
pub trait SigmaSchedule {
    /// sigma(t).
    fn sigma(&self, t: f64) -> f64;
    /// sigma(t) per sample, `[batch]`.
    fn sigma_tensor(&self, t: Tensor<1>) -> Tensor<1>;
    /// d sigma(t)^2 / dt per sample, `[batch]`.
    fn sigma_sq_rate_tensor(&self, t: Tensor<1>) -> Tensor<1>;
    /// The terminal time T of the SDE built on this schedule (default 1).
    fn t_end(&self) -> f64 {
        1.0
    }
    /// sigma(t)^2 - sigma(0)^2, the variance the SDE adds between 0 and t.
    fn variance_from_zero(&self, t: f64) -> f64 {
        self.sigma(t).powi(2) - self.sigma(0.0).powi(2)
    }
    /// [`SigmaSchedule::variance_from_zero`] per sample, `[batch]`.
    fn variance_from_zero_tensor(&self, t: Tensor<1>) -> Tensor<1> {
        let s0 = self.sigma(0.0);
        self.sigma_tensor(t).square() - s0 * s0
    }
}

/// The linear noise rate of the VP and sub-VP SDEs (Song et al., ICLR 2021):
///
/// ```text
/// beta(t) = beta_min + t (beta_max - beta_min),
/// B(t) = int_0^t beta(s) ds = beta_min t + (beta_max - beta_min) t^2 / 2.
/// ```
///
/// ```
/// use sgm_schedules::{BetaSchedule, LinearBeta};
/// let b = LinearBeta::new(0.1, 20.0)?;
/// assert!((b.beta(0.5) - 10.05).abs() < 1e-12);
/// assert!((b.integral(1.0) - 10.05).abs() < 1e-12);
/// # Ok::<(), sgm_schedules::ScheduleError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearBeta {
    beta_min: f64,
    beta_max: f64,
}

impl LinearBeta {
    /// beta(t) rising linearly from `beta_min` at t = 0 to `beta_max` at t = 1.
    ///
    /// # Errors
    /// [`ScheduleError::InvalidBetaRange`] unless 0 <= beta_min <= beta_max and beta_max > 0;
    /// [`ScheduleError::Core`] (`CoreError::InvalidParameter`) for NaN or infinite ends.
    pub fn new(beta_min: f64, beta_max: f64) -> Result<Self> {
        finite("beta_min", beta_min)?;
        finite("beta_max", beta_max)?;
        if beta_min >= 0.0 && beta_min <= beta_max && beta_max > 0.0 {
            Ok(Self { beta_min, beta_max })
        } else {
            Err(ScheduleError::InvalidBetaRange { beta_min, beta_max })
        }
    }

    /// beta(0).
    pub fn beta_min(&self) -> f64 {
        self.beta_min
    }

    /// beta(1).
    pub fn beta_max(&self) -> f64 {
        self.beta_max
    }
}

impl BetaSchedule for LinearBeta {
    fn beta(&self, t: f64) -> f64 {
        self.beta_min + t * (self.beta_max - self.beta_min)
    }

    fn integral(&self, t: f64) -> f64 {
        t * (self.beta_min + 0.5 * t * (self.beta_max - self.beta_min))
    }

    fn beta_tensor(&self, t: Tensor<1>) -> Tensor<1> {
        t * (self.beta_max - self.beta_min) + self.beta_min
    }

    fn integral_tensor(&self, t: Tensor<1>) -> Tensor<1> {
        (t.clone() * (0.5 * (self.beta_max - self.beta_min)) + self.beta_min) * t
    }
}

/// The geometric noise scale of the VE SDE (Song et al., ICLR 2021):
///
/// ```text
/// sigma(t) = sigma_min (sigma_max / sigma_min)^t,
/// d sigma(t)^2 / dt = 2 sigma(t)^2 ln(sigma_max / sigma_min).
/// ```
///
/// ```
/// use sgm_schedules::{GeometricSigma, SigmaSchedule};
/// let s = GeometricSigma::new(0.01, 50.0)?;
/// assert!((s.sigma(1.0) - 50.0).abs() < 1e-9);
/// assert!((s.sigma(0.5) - (0.01f64 * 50.0).sqrt()).abs() < 1e-12);
/// # Ok::<(), sgm_schedules::ScheduleError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeometricSigma {
    sigma_min: f64,
    sigma_max: f64,
}

impl GeometricSigma {
    /// sigma(t) from `sigma_min` at t = 0 to `sigma_max` at t = 1.
    ///
    /// # Errors
    /// [`ScheduleError::InvalidSigmas`] unless 0 < sigma_min < sigma_max.
    pub fn new(sigma_min: f64, sigma_max: f64) -> Result<Self> {
        check_sigma_range(sigma_min, sigma_max)?;
        Ok(Self {
            sigma_min,
            sigma_max,
        })
    }

    /// sigma(0).
    pub fn sigma_min(&self) -> f64 {
        self.sigma_min
    }

    /// sigma(1).
    pub fn sigma_max(&self) -> f64 {
        self.sigma_max
    }

    /// ln(sigma_max / sigma_min).
    pub fn log_ratio(&self) -> f64 {
        (self.sigma_max / self.sigma_min).ln()
    }
}

impl SigmaSchedule for GeometricSigma {
    fn sigma(&self, t: f64) -> f64 {
        self.sigma_min * (t * self.log_ratio()).exp()
    }

    fn sigma_tensor(&self, t: Tensor<1>) -> Tensor<1> {
        (t * self.log_ratio() + self.sigma_min.ln()).exp()
    }

    /// d sigma^2 / dt = 2 ln(sigma_max / sigma_min) sigma(t)^2.
    fn sigma_sq_rate_tensor(&self, t: Tensor<1>) -> Tensor<1> {
        self.sigma_tensor(t).square() * (2.0 * self.log_ratio())
    }

    /// sigma_min^2 expm1(2 t ln(sigma_max / sigma_min)), exact at small t.
    fn variance_from_zero(&self, t: f64) -> f64 {
        self.sigma_min.powi(2) * (2.0 * t * self.log_ratio()).exp_m1()
    }

    fn variance_from_zero_tensor(&self, t: Tensor<1>) -> Tensor<1> {
        sgm_core::tensor::expm1(t * (2.0 * self.log_ratio())) * self.sigma_min.powi(2)
    }
}

/// The noise scale of Karras et al. (2022, "Elucidating the design space of diffusion-based
/// generative models", sec. 2 and Table 1): sigma(t) = t on [0, sigma_max], so that time *is* the
/// noise level and the VE SDE built on it is x_sigma = x_0 + sigma n
/// (`sgm_sde::VeSde::karras`). d sigma^2 / dt = 2 t, sigma(0) = 0, so the
/// marginal std is t exactly.
///
/// ```
/// use sgm_schedules::{IdentitySigma, SigmaSchedule};
/// let s = IdentitySigma::new(80.0)?;
/// assert_eq!((s.sigma(0.5), s.t_end(), s.variance_from_zero(3.0)), (0.5, 80.0, 9.0));
/// assert!(IdentitySigma::new(0.0).is_err());
/// # Ok::<(), sgm_schedules::ScheduleError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IdentitySigma {
    sigma_max: f64,
}

impl IdentitySigma {
    /// sigma(t) = t up to `sigma_max` (80 in the paper).
    ///
    /// # Errors
    /// [`ScheduleError::Core`] (`CoreError::InvalidParameter`) unless sigma_max is finite and > 0.
    pub fn new(sigma_max: f64) -> Result<Self> {
        if !(sigma_max.is_finite() && sigma_max > 0.0) {
            return Err(ScheduleError::from(sgm_core::validate::invalid(
                "sigma_max",
                sigma_max,
                "finite and > 0",
            )));
        }
        Ok(Self { sigma_max })
    }
}

impl SigmaSchedule for IdentitySigma {
    fn sigma(&self, t: f64) -> f64 {
        t
    }

    fn sigma_tensor(&self, t: Tensor<1>) -> Tensor<1> {
        t
    }

    /// d t^2 / dt = 2 t.
    fn sigma_sq_rate_tensor(&self, t: Tensor<1>) -> Tensor<1> {
        t * 2.0
    }

    /// T = sigma_max.
    fn t_end(&self) -> f64 {
        self.sigma_max
    }

    fn variance_from_zero(&self, t: f64) -> f64 {
        t * t
    }

    fn variance_from_zero_tensor(&self, t: Tensor<1>) -> Tensor<1> {
        t.square()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::DType;
    use proptest::prelude::*;

    #[test]
    fn tensor_and_scalar_versions_agree() {
        let device = Device::flex();
        let ts = [0.0, 1e-5, 0.3, 0.5, 1.0];
        let t = Tensor::<1>::from_data(TensorData::new(ts.to_vec(), [5]), (&device, DType::F64));
        let b = LinearBeta::new(0.1, 20.0).unwrap();
        let s = GeometricSigma::new(0.01, 50.0).unwrap();
        let got_b: Vec<f64> = b.beta_tensor(t.clone()).into_data().try_to_vec().unwrap();
        let got_i: Vec<f64> = b
            .integral_tensor(t.clone())
            .into_data()
            .try_to_vec()
            .unwrap();
        let got_s: Vec<f64> = s.sigma_tensor(t).into_data().try_to_vec().unwrap();
        for (k, &tv) in ts.iter().enumerate() {
            approx::assert_relative_eq!(got_b[k], b.beta(tv), max_relative = 1e-14);
            approx::assert_relative_eq!(got_i[k], b.integral(tv), max_relative = 1e-14);
            approx::assert_relative_eq!(got_s[k], s.sigma(tv), max_relative = 1e-13);
        }
    }

    #[test]
    fn bad_ranges_are_rejected_with_their_values() {
        assert_eq!(
            LinearBeta::new(20.0, 0.1),
            Err(ScheduleError::InvalidBetaRange {
                beta_min: 20.0,
                beta_max: 0.1
            })
        );
        assert!(LinearBeta::new(-0.1, 1.0).is_err());
        assert!(LinearBeta::new(0.0, 0.0).is_err());
        assert!(LinearBeta::new(0.0, 1.0).is_ok());
        assert!(GeometricSigma::new(50.0, 0.01).is_err());
        assert!(GeometricSigma::new(f64::NAN, 1.0).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn sigma_t_is_geometric_in_t(
            sigma_min in 1e-3f64..1.0, factor in 1.5f64..1e4, t in 0.0f64..0.9, h in 0.01f64..0.1
        ) {
            // sigma(t + h) / sigma(t) = (sigma_max / sigma_min)^h for every t.
            let s = GeometricSigma::new(sigma_min, sigma_min * factor).unwrap();
            let want = factor.powf(h);
            prop_assert!((s.sigma(t + h) / s.sigma(t) / want - 1.0).abs() < 1e-12);
        }

        #[test]
        fn integral_is_the_antiderivative_of_beta(b0 in 0.0f64..5.0, db in 0.01f64..30.0, t in 0.0f64..1.0) {
            let b = LinearBeta::new(b0, b0 + db).unwrap();
            let h = 1e-6;
            let numeric = (b.integral(t + h) - b.integral(t - h)) / (2.0 * h);
            prop_assert!((numeric - b.beta(t)).abs() < 1e-6 * (1.0 + b.beta(t)));
        }
    }
}

use crate::{Result, ScheduleError, at_least, finite};

/// Checks 0 < sigma_min < sigma_max, both finite.
pub(crate) fn check_sigma_range(sigma_min: f64, sigma_max: f64) -> Result<()> {
    finite("sigma_min", sigma_min)?;
    finite("sigma_max", sigma_max)?;
    if sigma_min > 0.0 && sigma_min < sigma_max {
        Ok(())
    } else {
        Err(ScheduleError::InvalidSigmas {
            sigma_min,
            sigma_max,
        })
    }
}

/// The noise levels of NCSN (Song & Ermon, NeurIPS 2019): a geometric sequence
/// sigma_1 > sigma_2 > ... > sigma_L from sigma_max down to sigma_min,
///
/// ```text
/// sigma_i = sigma_max (sigma_min / sigma_max)^((i - 1) / (L - 1)),  i = 1..L.
/// ```
///
/// In Rust the levels are 0-based: `sigmas()[0]` is sigma_1 = sigma_max. Level i corresponds to
/// the time [`GeometricSigmas::time`] of the VE SDE with the same sigma_min and sigma_max, the
/// conditioning argument score models receive.
///
/// ```
/// use sgm_schedules::GeometricSigmas;
/// let s = GeometricSigmas::new(1.0, 20.0, 10)?;
/// assert_eq!(s.len(), 10);
/// assert!((s.sigmas()[0] - 20.0).abs() < 1e-12 && (s.sigmas()[9] - 1.0).abs() < 1e-12);
/// # Ok::<(), sgm_schedules::ScheduleError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct GeometricSigmas {
    sigmas: Vec<f64>,
}

impl GeometricSigmas {
    /// `levels` geometric noise levels from `sigma_max` down to `sigma_min`.
    ///
    /// # Errors
    /// [`ScheduleError::InvalidSigmas`] unless 0 < sigma_min < sigma_max (finite);
    /// [`ScheduleError::Core`] (`CoreError::TooFew`) if `levels < 2`.
    pub fn new(sigma_min: f64, sigma_max: f64, levels: usize) -> Result<Self> {
        check_sigma_range(sigma_min, sigma_max)?;
        at_least("levels", levels, 2)?;
        let log_ratio = (sigma_min / sigma_max).ln();
        let sigmas = (0..levels)
            .map(|i| sigma_max * (log_ratio * i as f64 / (levels - 1) as f64).exp())
            .collect();
        Ok(Self { sigmas })
    }

    /// The levels, largest first.
    pub fn sigmas(&self) -> &[f64] {
        &self.sigmas
    }

    /// Number of levels L.
    pub fn len(&self) -> usize {
        self.sigmas.len()
    }

    /// Always false: a valid schedule has at least two levels.
    pub fn is_empty(&self) -> bool {
        self.sigmas.is_empty()
    }

    /// Largest level sigma_1.
    pub fn sigma_max(&self) -> f64 {
        self.sigmas[0]
    }

    /// Smallest level sigma_L.
    pub fn sigma_min(&self) -> f64 {
        self.sigmas[self.sigmas.len() - 1]
    }

    /// The VE-SDE time of level `i` (0-based): the t with
    /// sigma_min (sigma_max / sigma_min)^t = sigma_i, that is t_i = (L - 1 - i) / (L - 1), from
    /// 1 at the largest level to 0 at the smallest.
    ///
    /// # Panics
    /// If `i >= len()`.
    pub fn time(&self, i: usize) -> f64 {
        assert!(i < self.len(), "level {i} of {}", self.len());
        (self.len() - 1 - i) as f64 / (self.len() - 1) as f64
    }
}

/// Any strictly decreasing sequence of noise levels sigma_1 > ... > sigma_L > 0, each with the
/// model time t_i at which a score model is evaluated for it: what annealed Langevin dynamics
/// runs over.
///
/// [`GeometricSigmas`] converts into it (with its [`GeometricSigmas::time`]); any other
/// schedule (Karras's, a hand-tuned list) is [`SigmaLevels::new`].
///
/// ```
/// use sgm_schedules::{GeometricSigmas, SigmaLevels};
/// let levels = SigmaLevels::new(vec![4.0, 1.0, 0.5], vec![1.0, 0.4, 0.0])?;
/// assert_eq!(levels.sigma_min(), 0.5);
/// assert!(SigmaLevels::new(vec![1.0, 2.0], vec![1.0, 0.0]).is_err()); // increasing
/// let geometric = SigmaLevels::from(GeometricSigmas::new(0.01, 1.0, 3)?);
/// assert_eq!(geometric.time(1), 0.5);
/// # Ok::<(), sgm_schedules::ScheduleError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SigmaLevels {
    sigmas: Vec<f64>,
    times: Vec<f64>,
}

impl SigmaLevels {
    /// Levels `sigmas` (strictly decreasing, finite, > 0) with model times `times`.
    ///
    /// # Errors
    /// [`ScheduleError::Core`] (`CoreError::TooFew`) for no levels; [`ScheduleError::Core`]
    /// (`CoreError::InvalidParameter`) for a non-positive sigma or one that is not below the
    /// previous (levels strictly decrease), a non-finite time; (`CoreError::ShapeMismatch`) for
    /// `times` of another length.
    pub fn new(sigmas: Vec<f64>, times: Vec<f64>) -> Result<Self> {
        sgm_core::validate::nonzero("noise levels", sigmas.len())?;
        if times.len() != sigmas.len() {
            return Err(sgm_core::CoreError::ShapeMismatch {
                what: "level times (one per noise level)",
                expected: vec![sigmas.len()],
                found: vec![times.len()],
            }
            .into());
        }
        for (i, &sigma) in sigmas.iter().enumerate() {
            sgm_core::validate::positive("noise level sigma", sigma)?;
            if i > 0 {
                sgm_core::validate::require(
                    sigma < sigmas[i - 1],
                    "noise level sigma",
                    sigma,
                    "below the previous level (levels decrease)",
                )?;
            }
        }
        for &t in &times {
            sgm_core::validate::finite("level time", t)?;
        }
        Ok(Self { sigmas, times })
    }

    /// sigma_1 > ... > sigma_L.
    pub fn sigmas(&self) -> &[f64] {
        &self.sigmas
    }

    /// The number of levels L.
    pub fn len(&self) -> usize {
        self.sigmas.len()
    }

    /// Always false: there is at least one level.
    pub fn is_empty(&self) -> bool {
        self.sigmas.is_empty()
    }

    /// sigma_L, the smallest level.
    pub fn sigma_min(&self) -> f64 {
        self.sigmas[self.sigmas.len() - 1]
    }

    /// The model time of level `i` (0-based).
    ///
    /// # Panics
    /// If `i >= len()`.
    pub fn time(&self, i: usize) -> f64 {
        self.times[i]
    }
}

impl From<GeometricSigmas> for SigmaLevels {
    fn from(levels: GeometricSigmas) -> Self {
        let times = (0..levels.len()).map(|i| levels.time(i)).collect();
        Self {
            sigmas: levels.sigmas().to_vec(),
            times,
        }
    }
}

/// The noise schedule of Karras et al. (NeurIPS 2022, eq. 5): for u in [0, 1],
///
/// ```text
/// sigma(u) = (sigma_max^(1/rho) + u (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho,
/// ```
///
/// which for rho = 7 spends most steps at small noise. [`KarrasSigmas::discretize`] gives the
/// n levels sigma(i / (n - 1)), largest first (k-diffusion's `get_sigmas_karras` without its
/// appended zero).
///
/// ```
/// use sgm_schedules::KarrasSigmas;
/// let k = KarrasSigmas::new(0.002, 80.0, 7.0)?;
/// let s = k.discretize(5)?;
/// assert!((s[0] - 80.0).abs() < 1e-9 && (s[4] - 0.002).abs() < 1e-12);
/// assert!(s.windows(2).all(|w| w[0] > w[1]));
/// # Ok::<(), sgm_schedules::ScheduleError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KarrasSigmas {
    sigma_min: f64,
    sigma_max: f64,
    rho: f64,
}

impl KarrasSigmas {
    /// The schedule between `sigma_min` and `sigma_max` with exponent `rho` (7 in the paper).
    ///
    /// # Errors
    /// [`ScheduleError::InvalidSigmas`] unless 0 < sigma_min < sigma_max;
    /// [`ScheduleError::Core`] (`CoreError::InvalidParameter`) unless rho is finite and > 0.
    pub fn new(sigma_min: f64, sigma_max: f64, rho: f64) -> Result<Self> {
        check_sigma_range(sigma_min, sigma_max)?;
        if !(rho.is_finite() && rho > 0.0) {
            return Err(ScheduleError::from(sgm_core::validate::invalid(
                "rho",
                rho,
                "finite and > 0",
            )));
        }
        Ok(Self {
            sigma_min,
            sigma_max,
            rho,
        })
    }

    /// sigma(u) for u in [0, 1]: sigma(0) = sigma_max, sigma(1) = sigma_min.
    pub fn sigma(&self, u: f64) -> f64 {
        let (a, b) = (
            self.sigma_max.powf(1.0 / self.rho),
            self.sigma_min.powf(1.0 / self.rho),
        );
        // Interpolate from the nearer end: at u = 1, a + (b - a) cancels a^(1/rho) against
        // itself (for rho = 0.5 and a ratio of 1e4, 1e8 against 1), which loses the ends by
        // more than 1e-9; b + (1 - u) (a - b) gives both ends exactly.
        if u <= 0.5 {
            (a + u * (b - a)).powf(self.rho)
        } else {
            (b + (1.0 - u) * (a - b)).powf(self.rho)
        }
    }

    /// `n` levels sigma(i / (n - 1)), i = 0..n, largest first.
    ///
    /// # Errors
    /// [`ScheduleError::Core`] (`CoreError::TooFew`) if `n < 2`.
    pub fn discretize(&self, n: usize) -> Result<Vec<f64>> {
        at_least("Karras levels", n, 2)?;
        Ok((0..n)
            .map(|i| self.sigma(i as f64 / (n - 1) as f64))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn geometric_sigmas_match_hand_values() {
        // NCSN's CIFAR-10 schedule: 10 levels from 1 to 0.01, ratio 10^(-2/9) = 0.59948.
        let s = GeometricSigmas::new(0.01, 1.0, 10).unwrap();
        approx::assert_relative_eq!(s.sigmas()[1], 0.599_484_250_318_941, max_relative = 1e-12);
        approx::assert_relative_eq!(s.sigma_min(), 0.01, max_relative = 1e-12);
        assert_eq!((s.time(0), s.time(9)), (1.0, 0.0));
        // Level times are those of the VE SDE: sigma_min (sigma_max/sigma_min)^t_i = sigma_i.
        for i in 0..10 {
            approx::assert_relative_eq!(
                0.01 * 100f64.powf(s.time(i)),
                s.sigmas()[i],
                max_relative = 1e-12
            );
        }
    }

    #[test]
    fn bad_sigma_ranges_are_rejected_with_their_values() {
        assert_eq!(
            GeometricSigmas::new(2.0, 1.0, 10),
            Err(ScheduleError::InvalidSigmas {
                sigma_min: 2.0,
                sigma_max: 1.0
            })
        );
        assert!(GeometricSigmas::new(0.0, 1.0, 10).is_err());
        assert!(GeometricSigmas::new(1.0, 1.0, 10).is_err());
        assert!(matches!(
            GeometricSigmas::new(0.1, f64::INFINITY, 10),
            Err(ScheduleError::Core(sgm_core::CoreError::InvalidParameter {
                name: "sigma_max",
                ..
            }))
        ));
        assert_eq!(
            GeometricSigmas::new(0.1, 1.0, 1),
            Err(ScheduleError::Core(sgm_core::CoreError::TooFew {
                name: "levels",
                count: 1,
                min: 2
            }))
        );
        assert!(KarrasSigmas::new(0.1, 1.0, 0.0).is_err());
        assert!(
            KarrasSigmas::new(0.1, 1.0, 7.0)
                .unwrap()
                .discretize(0)
                .is_err()
        );
    }

    #[test]
    fn karras_sigmas_match_hand_values() {
        // rho = 1 is linear in sigma.
        let lin = KarrasSigmas::new(1.0, 3.0, 1.0)
            .unwrap()
            .discretize(3)
            .unwrap();
        approx::assert_relative_eq!(lin[1], 2.0, max_relative = 1e-12);
        // rho = 7, midpoint: ((80^(1/7) + 0.002^(1/7)) / 2)^7.
        let k = KarrasSigmas::new(0.002, 80.0, 7.0).unwrap();
        let want = ((80f64.powf(1.0 / 7.0) + 0.002f64.powf(1.0 / 7.0)) / 2.0).powi(7);
        approx::assert_relative_eq!(k.sigma(0.5), want, max_relative = 1e-12);
        // 80^(1/7) = 1.87033, 0.002^(1/7) = 0.41157, mean 1.14095, to the 7th: 2.51522.
        approx::assert_relative_eq!(k.sigma(0.5), 2.51522, max_relative = 1e-5);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn geometric_sigmas_have_a_constant_ratio(
            sigma_min in 1e-4f64..1.0, factor in 1.01f64..1e4, levels in 2usize..50
        ) {
            let s = GeometricSigmas::new(sigma_min, sigma_min * factor, levels).unwrap();
            let ratio = s.sigmas()[1] / s.sigmas()[0];
            for w in s.sigmas().windows(2) {
                prop_assert!((w[1] / w[0] / ratio - 1.0).abs() < 1e-10);
            }
            prop_assert!((s.sigma_min() / sigma_min - 1.0).abs() < 1e-10);
        }

        #[test]
        fn karras_sigmas_are_decreasing_between_their_ends(
            sigma_min in 1e-4f64..1.0, factor in 1.01f64..1e4, rho in 0.5f64..10.0, n in 2usize..40
        ) {
            let s = KarrasSigmas::new(sigma_min, sigma_min * factor, rho).unwrap().discretize(n).unwrap();
            prop_assert!(s.windows(2).all(|w| w[0] > w[1]));
            prop_assert!((s[n - 1] / sigma_min - 1.0).abs() < 1e-9);
        }
    }
}

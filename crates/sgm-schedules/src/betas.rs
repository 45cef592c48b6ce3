use crate::{Result, ScheduleError, at_least, finite};

/// The variance schedule of a DDPM forward chain (Ho et al., NeurIPS 2020),
///
/// ```text
/// q(x_i | x_{i-1}) = N(sqrt(1 - beta_i) x_{i-1}, beta_i I),   i = 1..N,
/// alpha_i = 1 - beta_i,   alpha-bar_i = prod_{j <= i} alpha_j,   alpha-bar_0 = 1,
/// q(x_i | x_0) = N(sqrt(alpha-bar_i) x_0, (1 - alpha-bar_i) I).
/// ```
///
/// Steps are 1-based as in the paper: `beta(i)` for i in 1..=N, `alpha_bar(i)` for i in 0..=N.
/// Step i corresponds to the SDE time t_i = i / N ([`DiscreteBetas::time`]), so that the linear
/// schedule with N steps and beta_i = beta(t_i) / N discretises the VP SDE.
///
/// log alpha-bar is accumulated with `ln_1p`, and 1 - alpha-bar through `exp_m1`, so both stay
/// accurate when the betas are tiny.
///
/// ```
/// use sgm_schedules::DiscreteBetas;
/// let ddpm = DiscreteBetas::linear(1e-4, 0.02, 1000)?;
/// assert_eq!(ddpm.len(), 1000);
/// assert!((ddpm.beta(1000) - 0.02).abs() < 1e-15);
/// assert!(ddpm.alpha_bar(1000) < 1e-4);
/// # Ok::<(), sgm_schedules::ScheduleError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DiscreteBetas {
    betas: Vec<f64>,
    /// log alpha-bar_i for i = 0..=N.
    log_alpha_bars: Vec<f64>,
}

/// Coefficients of the forward-process posterior q(x_{i-1} | x_i, x_0) = N(mean, variance I)
/// with mean = `coef_x0` x_0 + `coef_xt` x_i (Ho et al. 2020, eq. 6-7).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Posterior {
    /// sqrt(alpha-bar_{i-1}) beta_i / (1 - alpha-bar_i).
    pub coef_x0: f64,
    /// sqrt(alpha_i) (1 - alpha-bar_{i-1}) / (1 - alpha-bar_i).
    pub coef_xt: f64,
    /// beta-tilde_i = (1 - alpha-bar_{i-1}) / (1 - alpha-bar_i) beta_i (zero at i = 1).
    pub variance: f64,
}

impl DiscreteBetas {
    /// Betas from an explicit list, beta_1 first.
    ///
    /// # Errors
    /// [`ScheduleError::Core`] (`CoreError::TooFew`) if the list is empty; [`ScheduleError::InvalidBeta`]
    /// naming the first beta outside (0, 1) (NaN included).
    pub fn from_betas(betas: Vec<f64>) -> Result<Self> {
        at_least("betas", betas.len(), 1)?;
        if let Some((i, &value)) = betas
            .iter()
            .enumerate()
            .find(|&(_, &b)| !(b > 0.0 && b < 1.0))
        {
            return Err(ScheduleError::InvalidBeta {
                index: i + 1,
                value,
            });
        }
        let mut log_alpha_bars = Vec::with_capacity(betas.len() + 1);
        log_alpha_bars.push(0.0);
        let mut acc = 0.0;
        for &b in &betas {
            acc += (-b).ln_1p();
            log_alpha_bars.push(acc);
        }
        Ok(Self {
            betas,
            log_alpha_bars,
        })
    }

    /// DDPM's linear schedule: beta_i = beta_1 + (i - 1) / (N - 1) (beta_N - beta_1); Ho et al.
    /// use beta_1 = 1e-4, beta_N = 0.02, N = 1000. With one step the schedule is (beta_1).
    ///
    /// # Errors
    /// As [`DiscreteBetas::from_betas`], and [`ScheduleError::Core`] (`CoreError::InvalidParameter`) for non-finite ends.
    pub fn linear(beta_1: f64, beta_n: f64, steps: usize) -> Result<Self> {
        finite("beta_1", beta_1)?;
        finite("beta_N", beta_n)?;
        at_least("steps", steps, 1)?;
        let denom = (steps.max(2) - 1) as f64;
        Self::from_betas(
            (0..steps)
                .map(|i| beta_1 + (beta_n - beta_1) * i as f64 / denom)
                .collect(),
        )
    }

    /// The cosine schedule of Nichol & Dhariwal (ICML 2021, eq. 17):
    ///
    /// ```text
    /// alpha-bar_i = f(i) / f(0),  f(i) = cos^2(pi/2 (i/N + s) / (1 + s)),
    /// beta_i = min(1 - alpha-bar_i / alpha-bar_{i-1}, 0.999),
    /// ```
    ///
    /// with offset `s` (0.008 in the paper). All arithmetic is in floating point.
    ///
    /// # Errors
    /// [`ScheduleError::Core`] (`CoreError::InvalidParameter`) unless s is finite and >= 0;
    /// [`ScheduleError::Core`] (`CoreError::TooFew`) if `steps == 0`.
    pub fn cosine(steps: usize, s: f64) -> Result<Self> {
        at_least("steps", steps, 1)?;
        if !(s.is_finite() && s >= 0.0) {
            return Err(ScheduleError::from(sgm_core::validate::invalid(
                "s",
                s,
                "finite and >= 0",
            )));
        }
        let f = |i: usize| {
            let u = (i as f64 / steps as f64 + s) / (1.0 + s);
            (u * std::f64::consts::FRAC_PI_2).cos().powi(2)
        };
        Self::from_betas(
            (1..=steps)
                .map(|i| (1.0 - f(i) / f(i - 1)).min(0.999))
                .collect(),
        )
    }

    /// Number of steps N.
    pub fn len(&self) -> usize {
        self.betas.len()
    }

    /// Always false: a valid schedule has at least one step.
    pub fn is_empty(&self) -> bool {
        self.betas.is_empty()
    }

    /// All betas, beta_1 first.
    pub fn betas(&self) -> &[f64] {
        &self.betas
    }

    /// beta_i, i in 1..=N.
    ///
    /// # Panics
    /// If i is 0 or greater than N.
    pub fn beta(&self, i: usize) -> f64 {
        assert!(
            (1..=self.len()).contains(&i),
            "step {i} outside 1..={}",
            self.len()
        );
        self.betas[i - 1]
    }

    /// alpha_i = 1 - beta_i, i in 1..=N.
    pub fn alpha(&self, i: usize) -> f64 {
        1.0 - self.beta(i)
    }

    /// log alpha-bar_i, i in 0..=N.
    ///
    /// # Panics
    /// If i is greater than N.
    pub fn log_alpha_bar(&self, i: usize) -> f64 {
        self.log_alpha_bars[i]
    }

    /// alpha-bar_i = prod_{j <= i} (1 - beta_j), i in 0..=N (alpha-bar_0 = 1).
    pub fn alpha_bar(&self, i: usize) -> f64 {
        self.log_alpha_bar(i).exp()
    }

    /// 1 - alpha-bar_i, the variance of q(x_i | x_0), computed as -expm1(log alpha-bar_i).
    pub fn one_minus_alpha_bar(&self, i: usize) -> f64 {
        -self.log_alpha_bar(i).exp_m1()
    }

    /// The coefficients of q(x_{i-1} | x_i, x_0), i in 1..=N.
    pub fn posterior(&self, i: usize) -> Posterior {
        let beta = self.beta(i);
        let v_prev = self.one_minus_alpha_bar(i - 1);
        let v = self.one_minus_alpha_bar(i);
        Posterior {
            coef_x0: self.alpha_bar(i - 1).sqrt() * beta / v,
            coef_xt: (1.0 - beta).sqrt() * v_prev / v,
            variance: v_prev / v * beta,
        }
    }

    /// The SDE time of step i: t_i = i / N.
    pub fn time(&self, i: usize) -> f64 {
        i as f64 / self.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn linear_schedule_matches_hand_values() {
        let d = DiscreteBetas::linear(0.1, 0.3, 3).unwrap();
        for (b, want) in d.betas().iter().zip([0.1, 0.2, 0.3]) {
            approx::assert_relative_eq!(*b, want, max_relative = 1e-15);
        }
        approx::assert_relative_eq!(d.alpha_bar(2), 0.9 * 0.8, max_relative = 1e-14);
        approx::assert_relative_eq!(
            d.one_minus_alpha_bar(3),
            1.0 - 0.9 * 0.8 * 0.7,
            max_relative = 1e-14
        );
        assert_eq!(d.alpha_bar(0), 1.0);
        // Posterior at i = 2: mean coefficients and beta-tilde by hand.
        let p = d.posterior(2);
        approx::assert_relative_eq!(p.coef_x0, 0.9f64.sqrt() * 0.2 / 0.28, max_relative = 1e-12);
        approx::assert_relative_eq!(p.coef_xt, 0.8f64.sqrt() * 0.1 / 0.28, max_relative = 1e-12);
        approx::assert_relative_eq!(p.variance, 0.1 / 0.28 * 0.2, max_relative = 1e-12);
        assert_eq!(d.posterior(1).variance, 0.0);
    }

    #[test]
    fn posterior_is_the_conditional_of_the_joint_gaussian() {
        // For scalar x0 = 0 the joint of (x_{i-1}, x_i) is Gaussian with
        // Var x_{i-1} = 1 - abar_{i-1}, Cov = sqrt(alpha_i) Var x_{i-1}, Var x_i = 1 - abar_i;
        // conditioning gives coef_xt = Cov / Var x_i and variance = Var x_{i-1} - Cov^2 / Var x_i.
        let d = DiscreteBetas::cosine(50, 0.008).unwrap();
        for i in 2..=50 {
            let (vp, v) = (d.one_minus_alpha_bar(i - 1), d.one_minus_alpha_bar(i));
            let cov = d.alpha(i).sqrt() * vp;
            let p = d.posterior(i);
            approx::assert_relative_eq!(p.coef_xt, cov / v, max_relative = 1e-10);
            approx::assert_relative_eq!(p.variance, vp - cov * cov / v, max_relative = 1e-8);
        }
    }

    #[test]
    fn cosine_schedule_matches_its_alpha_bar_and_is_not_zeroed() {
        let (n, s) = (1000, 0.008);
        let d = DiscreteBetas::cosine(n, s).unwrap();
        let f = |i: f64| {
            (((i / n as f64 + s) / (1.0 + s)) * std::f64::consts::FRAC_PI_2)
                .cos()
                .powi(2)
        };
        for i in [1usize, 10, 500, 900] {
            approx::assert_relative_eq!(d.alpha_bar(i), f(i as f64) / f(0.0), max_relative = 1e-9);
        }
        assert!(d.betas().iter().all(|&b| b > 0.0 && b <= 0.999));
        assert_eq!(d.beta(n), 0.999);
        assert!(d.beta(1) > 1e-5 && d.beta(1) < 1e-4);
    }

    #[test]
    fn bad_betas_are_rejected_with_index_and_value() {
        assert_eq!(
            DiscreteBetas::from_betas(vec![0.1, 1.0, 0.2]),
            Err(ScheduleError::InvalidBeta {
                index: 2,
                value: 1.0
            })
        );
        assert!(matches!(
            DiscreteBetas::from_betas(vec![0.1, f64::NAN]),
            Err(ScheduleError::InvalidBeta { index: 2, .. })
        ));
        assert_eq!(
            DiscreteBetas::linear(0.0, 0.02, 10),
            Err(ScheduleError::InvalidBeta {
                index: 1,
                value: 0.0
            })
        );
        assert!(DiscreteBetas::linear(1e-4, 0.02, 0).is_err());
        assert!(DiscreteBetas::cosine(10, -0.1).is_err());
        assert!(DiscreteBetas::from_betas(vec![]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn alpha_bar_decreases_and_stays_in_the_unit_interval(
            b1 in 1e-6f64..0.5, bn in 1e-6f64..0.5, n in 1usize..300
        ) {
            let d = DiscreteBetas::linear(b1, bn, n).unwrap();
            for i in 1..=n {
                prop_assert!(d.alpha_bar(i) < d.alpha_bar(i - 1));
                prop_assert!(d.alpha_bar(i) > 0.0);
                let p = d.posterior(i);
                prop_assert!(p.variance >= 0.0 && p.variance <= d.beta(i));
            }
        }

        #[test]
        fn linear_betas_validate_their_range(b1 in -1.0f64..2.0, bn in -1.0f64..2.0, n in 2usize..20) {
            let ok = b1 > 0.0 && b1 < 1.0 && bn > 0.0 && bn < 1.0;
            prop_assert_eq!(DiscreteBetas::linear(b1, bn, n).is_ok(), ok);
        }
    }
}

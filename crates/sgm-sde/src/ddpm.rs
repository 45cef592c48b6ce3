use burn::prelude::*;
use sgm_core::tensor::from_f64;
use sgm_schedules::DiscreteBetas;

use crate::GaussianMarginals;

/// The marginals q(x_i | x_0) = N(sqrt(alpha-bar_i) x_0, (1 - alpha-bar_i) I) of a discrete DDPM
/// chain, as functions of the SDE time t_i = i / N.
///
/// A time t maps to the nearest step i = round(t N) (clamped to 0..=N), so the exact oracles
/// of `sgm-data` give the exact noise predictor of the chain itself, not of the VP SDE it
/// approximates.
///
/// ```
/// use sgm_schedules::DiscreteBetas;
/// use sgm_sde::{DdpmMarginals, GaussianMarginals};
/// let chain = DdpmMarginals::new(DiscreteBetas::linear(0.1, 0.5, 4)?);
/// // Step 2 of 4 sits at t = 0.5: alpha-bar_2 = 0.9 * (1 - 0.2333...).
/// let abar2: f64 = 0.9 * (1.0 - (0.1 + 0.4 / 3.0));
/// assert!((chain.mean_coeff_at(0.5) - abar2.sqrt()).abs() < 1e-12);
/// # Ok::<(), sgm_schedules::ScheduleError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DdpmMarginals {
    betas: DiscreteBetas,
    log_means: Vec<f64>,
    stds: Vec<f64>,
}

impl DdpmMarginals {
    /// The marginals of the chain with these betas.
    pub fn new(betas: DiscreteBetas) -> Self {
        let n = betas.len();
        let log_means = (0..=n).map(|i| 0.5 * betas.log_alpha_bar(i)).collect();
        let stds = (0..=n)
            .map(|i| betas.one_minus_alpha_bar(i).sqrt())
            .collect();
        Self {
            betas,
            log_means,
            stds,
        }
    }

    /// The chain's betas.
    pub fn betas(&self) -> &DiscreteBetas {
        &self.betas
    }

    /// The step i = round(t N), clamped to 0..=N.
    pub fn step(&self, t: f64) -> usize {
        let n = self.betas.len();
        ((t * n as f64).round().max(0.0) as usize).min(n)
    }

    fn lookup(&self, table: &[f64], t: Tensor<1>) -> Tensor<1> {
        let n = self.betas.len();
        let (device, dtype) = (t.device(), t.dtype());
        let index = (t * n as f64).round().clamp(0.0, n as f64).int();
        from_f64(table, [n + 1], &device, dtype).select(0, index)
    }
}

impl GaussianMarginals for DdpmMarginals {
    fn log_mean_coeff(&self, t: Tensor<1>) -> Tensor<1> {
        self.lookup(&self.log_means, t)
    }

    fn std(&self, t: Tensor<1>) -> Tensor<1> {
        self.lookup(&self.stds, t)
    }

    fn log_mean_coeff_at(&self, t: f64) -> f64 {
        self.log_means[self.step(t)]
    }

    fn std_at(&self, t: f64) -> f64 {
        self.stds[self.step(t)]
    }
}

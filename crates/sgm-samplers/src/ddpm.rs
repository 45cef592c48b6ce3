use burn::prelude::*;
use sgm_core::tensor::time_like;
use sgm_core::{NoiseSource, NoiseSourceExt, ScoreModel};
use sgm_schedules::DiscreteBetas;

use crate::output::StepEnd;
use crate::{Observer, Result, SampleOutput, SamplerError};

/// The variance sigma_i^2 of DDPM's reverse kernel (Ho et al. 2020, sec. 3.2): both choices
/// give the same samples in the limit of many steps; beta is optimal for x_0 ~ N(0, I),
/// beta-tilde for x_0 a point mass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DdpmVariance {
    /// sigma_i^2 = beta_i.
    #[default]
    Beta,
    /// sigma_i^2 = beta-tilde_i = (1 - alpha-bar_{i-1}) / (1 - alpha-bar_i) beta_i.
    BetaTilde,
}

/// DDPM ancestral sampling (Ho, Jain & Abbeel, NeurIPS 2020, Algorithm 2) with a score model
/// read as a noise predictor, eps-hat = -sqrt(1 - alpha-bar_i) s(x_i, t_i), t_i = i / N:
///
/// ```text
/// x_{i-1} = (x_i - beta_i / sqrt(1 - alpha-bar_i) eps-hat) / sqrt(alpha_i) + sigma_i z
///         = (x_i + beta_i s(x_i, t_i)) / sqrt(alpha_i) + sigma_i z,   i = N, ..., 1,
/// ```
///
/// with no noise at the last step (i = 1).
///
/// ```
/// use sgm_samplers::{DdpmSampler, DdpmVariance};
/// use sgm_schedules::DiscreteBetas;
/// let sampler = DdpmSampler::new(DiscreteBetas::linear(1e-4, 0.02, 1000)?, DdpmVariance::Beta)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DdpmSampler {
    betas: DiscreteBetas,
    variance: DdpmVariance,
}

impl DdpmSampler {
    /// The sampler of the chain with `betas`.
    ///
    /// # Errors
    /// None today (the betas were validated when built); a `Result` like every other sampler
    /// constructor, so that a check added later does not change the signature.
    pub fn new(betas: DiscreteBetas, variance: DdpmVariance) -> Result<Self> {
        Ok(Self { betas, variance })
    }

    /// Runs the N reverse steps from `x_n` (`[batch, dim]`, draws of N(0, I)); N evaluations.
    ///
    /// # Errors
    /// [`SamplerError::NonFinite`] if the state diverges (checked on the device, read once).
    pub fn sample<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x_n: Tensor<2>,
        noise: &mut dyn NoiseSource,
        observer: &mut dyn Observer,
    ) -> Result<SampleOutput> {
        let n = self.betas.len();
        let mut x = x_n;
        let mut end = StepEnd::new(observer, Some(n));
        for (step, i) in (1..=n).rev().enumerate() {
            let beta = self.betas.beta(i);
            let t = self.betas.time(i);
            let score = model.checked_score(x.clone(), time_like(t, &x))?;
            let mean = (x + score * beta) / (1.0 - beta).sqrt();
            let sigma = match self.variance {
                DdpmVariance::Beta => beta.sqrt(),
                DdpmVariance::BetaTilde => self.betas.posterior(i).variance.sqrt(),
            };
            x = if i > 1 {
                let z = noise.normal_like(&mean);
                mean + z * sigma
            } else {
                mean
            };
            end.end(&x, self.betas.time(i - 1), step + 1);
        }
        end.finish(x, n)
    }
}

/// DDIM (Song, Meng & Ermon, ICLR 2021, eq. 12) on a subsequence tau_1 < ... < tau_S = N of
/// the chain's steps, with eps-hat = -sqrt(1 - alpha-bar_tau) s(x, t_tau):
///
/// ```text
/// x0-hat  = (x - sqrt(1 - alpha-bar_tau) eps-hat) / sqrt(alpha-bar_tau),
/// sigma   = eta sqrt((1 - alpha-bar_prev) / (1 - alpha-bar_tau)) sqrt(1 - alpha-bar_tau / alpha-bar_prev),
/// x_prev  = sqrt(alpha-bar_prev) x0-hat + sqrt(1 - alpha-bar_prev - sigma^2) eps-hat + sigma z.
/// ```
///
/// eta = 0 is the deterministic DDIM sampler; eta = 1 matches DDPM's posterior variance. The
/// subsequence is uniform: tau_j = round(j N / S).
///
/// ```
/// use sgm_samplers::DdimSampler;
/// use sgm_schedules::DiscreteBetas;
/// let betas = DiscreteBetas::linear(1e-4, 0.02, 1000)?;
/// let ddim = DdimSampler::new(betas.clone(), 50, 0.0)?;
/// assert_eq!(ddim.steps().len(), 50);
/// assert!(DdimSampler::new(betas, 0, 0.0).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DdimSampler {
    betas: DiscreteBetas,
    steps: Vec<usize>,
    eta: f64,
}

impl DdimSampler {
    /// DDIM with `steps` uniformly spaced steps of the chain and stochasticity `eta`.
    ///
    /// # Errors
    /// [`SamplerError::Core`] (`CoreError::InvalidParameter`) unless 1 <= steps <= N and eta is finite and >= 0.
    pub fn new(betas: DiscreteBetas, steps: usize, eta: f64) -> Result<Self> {
        let n = betas.len();
        sgm_core::validate::nonzero("steps", steps)?;
        if steps > n {
            return Err(SamplerError::from(sgm_core::validate::invalid(
                "steps",
                steps as f64,
                "at most the chain's length",
            )));
        }
        if !(eta.is_finite() && eta >= 0.0) {
            return Err(SamplerError::from(sgm_core::validate::invalid(
                "eta",
                eta,
                "finite and >= 0",
            )));
        }
        let steps = (1..=steps)
            .map(|j| ((j * n) as f64 / steps as f64).round() as usize)
            .collect();
        Ok(Self { betas, steps, eta })
    }

    /// The subsequence tau_1 < ... < tau_S.
    pub fn steps(&self) -> &[usize] {
        &self.steps
    }

    /// Runs the S reverse steps from `x_n` (`[batch, dim]`, draws of N(0, I)); S evaluations.
    ///
    /// # Errors
    /// [`SamplerError::NonFinite`] if the state diverges (checked on the device, read once).
    pub fn sample<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x_n: Tensor<2>,
        noise: &mut dyn NoiseSource,
        observer: &mut dyn Observer,
    ) -> Result<SampleOutput> {
        let total = self.steps.len();
        let mut x = x_n;
        let mut end = StepEnd::new(observer, Some(total));
        for (step, j) in (0..total).rev().enumerate() {
            let tau = self.steps[j];
            let prev = if j == 0 { 0 } else { self.steps[j - 1] };
            let (abar, abar_prev) = (self.betas.alpha_bar(tau), self.betas.alpha_bar(prev));
            let (v, v_prev) = (
                self.betas.one_minus_alpha_bar(tau),
                self.betas.one_minus_alpha_bar(prev),
            );
            let score = model.checked_score(x.clone(), time_like(self.betas.time(tau), &x))?;
            let eps = score * (-v.sqrt());
            let x0 = (x - eps.clone() * v.sqrt()) / abar.sqrt();
            let sigma = self.eta * (v_prev / v).sqrt() * (1.0 - abar / abar_prev).max(0.0).sqrt();
            let direction = (v_prev - sigma * sigma).max(0.0).sqrt();
            let mean = x0 * abar_prev.sqrt() + eps * direction;
            x = if sigma > 0.0 {
                let z = noise.normal_like(&mean);
                mean + z * sigma
            } else {
                mean
            };
            end.end(&x, self.betas.time(prev), step + 1);
        }
        end.finish(x, total)
    }
}

use burn::prelude::*;
use sgm_core::tensor::time_like;
use sgm_core::{NoiseSource, NoiseSourceExt, ScoreModel};
use sgm_samplers::DdpmVariance;
use sgm_schedules::DiscreteBetas;

use crate::error::ensure_finite;
use crate::{LikelihoodError, Result};
use sgm_core::validate::at_least;

/// The decoder p(x_0 | x_1) of the DDPM bound's last term L_0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decoder {
    /// N(x_0; mu(x_1), beta_1 I), for continuous data: the bound is on a density (nats in
    /// model space).
    Gaussian,
    /// Ho et al.'s discretised Gaussian for data on K levels placed at
    /// low + (high - low) k / (K - 1): each level receives the Gaussian mass of its bin of
    /// half-width (high - low) / (2 (K - 1)), the end bins extended to infinity. The bound is on
    /// the probability of the discrete data (nats; bits/dim = -bound / (d ln 2)).
    Discretized {
        /// K.
        levels: usize,
        /// Value of level 0.
        low: f64,
        /// Value of level K - 1.
        high: f64,
    },
}

/// The DDPM bound and its terms, per sample (nats).
#[derive(Debug, Clone)]
pub struct DdpmElboTerms {
    /// The lower bound on log p(x_0): -(L_T + sum_t L_{t-1} + L_0), `[batch]`.
    pub bound: Tensor<1>,
    /// Monte Carlo standard error of `bound`, `[batch]`.
    pub std_error: Tensor<1>,
    /// L_T = KL(q(x_N | x_0) || N(0, I)), exact, `[batch]`.
    pub prior: Tensor<1>,
    /// sum_{t=2}^N L_{t-1}, `[batch]`.
    pub diffusion: Tensor<1>,
    /// L_0 = -log p(x_0 | x_1), `[batch]`.
    pub decoder: Tensor<1>,
    /// Score-model evaluations (one per step, each on `samples` x batch points).
    pub nfe: usize,
}

/// The variational bound of a DDPM (Ho, Jain & Abbeel, NeurIPS 2020, eq. 5) for a score model
/// read as a noise predictor, eps-hat = -sqrt(1 - alpha-bar_t) s(x_t, t / N):
///
/// ```text
/// log p(x_0) >= -L_T - sum_{t=2}^N L_{t-1} - L_0,
/// L_T     = KL(q(x_N | x_0) || N(0, I)),
/// L_{t-1} = E_q KL(q(x_{t-1} | x_t, x_0) || N(mu(x_t), sigma_t^2 I)),
///           mu(x_t) = (x_t + beta_t s(x_t, t/N)) / sqrt(alpha_t),
/// L_0     = -E_q log p(x_0 | x_1)   (the [`Decoder`], with sigma_1^2 = beta_1).
/// ```
///
/// L_T is computed exactly; every other term by Monte Carlo over x_t ~ q(x_t | x_0) with
/// `samples` draws per step and data point, which also gives the standard error (the steps'
/// estimates are independent, so their variances add). sigma_t^2 is beta_t or beta-tilde_t
/// ([`DdpmVariance`]); L_0 always uses beta_1 (beta-tilde_1 = 0 would make the decoder
/// degenerate).
///
/// ```
/// use sgm_likelihood::{DdpmElbo, Decoder};
/// use sgm_samplers::DdpmVariance;
/// use sgm_schedules::DiscreteBetas;
/// let elbo = DdpmElbo::new(DiscreteBetas::linear(1e-4, 0.02, 1000)?, DdpmVariance::Beta, Decoder::Gaussian, 4)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DdpmElbo {
    betas: DiscreteBetas,
    variance: DdpmVariance,
    decoder: Decoder,
    samples: usize,
}

impl DdpmElbo {
    /// The bound of the chain with `betas`, with `samples` Monte Carlo draws per step.
    ///
    /// # Errors
    /// [`LikelihoodError::Core`] (`CoreError::TooFew`) for fewer than 2 samples (the standard error needs
    /// two) or a discretised decoder with fewer than 2 levels or an empty range.
    pub fn new(
        betas: DiscreteBetas,
        variance: DdpmVariance,
        decoder: Decoder,
        samples: usize,
    ) -> Result<Self> {
        at_least("samples", samples, 2)?;
        if let Decoder::Discretized { levels, low, high } = decoder {
            at_least("levels", levels, 2)?;
            if !(low.is_finite() && high.is_finite() && low < high) {
                return Err(LikelihoodError::from(sgm_core::validate::invalid(
                    "high",
                    high,
                    "finite and above low",
                )));
            }
        }
        Ok(Self {
            betas,
            variance,
            decoder,
            samples,
        })
    }

    /// The bound for every row of `x0` (`[batch, dim]`).
    ///
    /// # Errors
    /// [`LikelihoodError::Core`] if the model's output does not match `x0`;
    /// [`LikelihoodError::NonFinite`] if the bound is NaN or infinite (a non-finite model).
    pub fn evaluate<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x0: Tensor<2>,
        noise: &mut dyn NoiseSource,
    ) -> Result<DdpmElboTerms> {
        let [batch, dim] = x0.dims();
        let (n, r) = (self.betas.len(), self.samples);
        let b = &self.betas;
        // L_T in closed form: 1/2 sum_j [abar x0^2 + (1 - abar) - 1 - ln(1 - abar)].
        let (abar_n, v_n) = (b.alpha_bar(n), b.one_minus_alpha_bar(n));
        let prior = (x0.clone().square().sum_dim(1).squeeze_dim(1) * abar_n
            + dim as f64 * (v_n - 1.0 - v_n.ln()))
            * 0.5;
        let x0_rep = Tensor::cat(vec![x0.clone(); r], 0);
        let mut diffusion = prior.zeros_like();
        let mut decoder = prior.zeros_like();
        let mut variance = prior.zeros_like();
        for t in 1..=n {
            let eps = noise.normal_like(&x0_rep);
            let xt = x0_rep.clone() * b.alpha_bar(t).sqrt() + eps * b.one_minus_alpha_bar(t).sqrt();
            let score = model.checked_score(xt.clone(), time_like(b.time(t), &xt))?;
            let beta = b.beta(t);
            let mean = (xt.clone() + score * beta) / (1.0 - beta).sqrt();
            let per_draw = if t == 1 {
                self.decoder_nll(x0_rep.clone(), mean, beta)
            } else {
                let post = b.posterior(t);
                let sigma2 = match self.variance {
                    DdpmVariance::Beta => beta,
                    DdpmVariance::BetaTilde => post.variance,
                };
                let post_mean = x0_rep.clone() * post.coef_x0 + xt * post.coef_xt;
                let ratio = post.variance / sigma2;
                (post_mean - mean).square().sum_dim(1).squeeze_dim(1) * (0.5 / sigma2)
                    + 0.5 * dim as f64 * (ratio - 1.0 - ratio.ln())
            };
            // [R batch] -> [R, batch]: mean and variance over the R draws.
            let draws = per_draw.reshape([r, batch]);
            let mean_t = draws.clone().mean_dim(0).squeeze_dim(0);
            let var_t = (draws - mean_t.clone().unsqueeze_dim(0))
                .square()
                .sum_dim(0)
                .squeeze_dim(0)
                / (r - 1) as f64;
            variance = variance + var_t / r as f64;
            if t == 1 {
                decoder = mean_t;
            } else {
                diffusion = diffusion + mean_t;
            }
        }
        let bound = -(prior.clone() + diffusion.clone() + decoder.clone());
        ensure_finite("DDPM ELBO", &bound)?;
        Ok(DdpmElboTerms {
            bound,
            std_error: variance.sqrt(),
            prior,
            diffusion,
            decoder,
            nfe: n,
        })
    }

    /// -log p(x_0 | x_1) per row, `[rows]`, for the decoder mean `mean` and variance beta_1.
    fn decoder_nll(&self, x0: Tensor<2>, mean: Tensor<2>, beta_1: f64) -> Tensor<1> {
        let dim = x0.dims()[1] as f64;
        match self.decoder {
            Decoder::Gaussian => {
                (x0 - mean).square().sum_dim(1).squeeze_dim(1) * (0.5 / beta_1)
                    + 0.5 * dim * (2.0 * std::f64::consts::PI * beta_1).ln()
            }
            Decoder::Discretized { levels, low, high } => {
                let half = (high - low) / (2.0 * (levels - 1) as f64);
                let inv_sigma = 1.0 / beta_1.sqrt();
                let cdf = |z: Tensor<2>| (z * std::f64::consts::FRAC_1_SQRT_2).erf() * 0.5 + 0.5;
                let centred = x0.clone() - mean;
                let z_hi = (centred.clone() + half) * inv_sigma;
                let z_lo = (centred - half) * inv_sigma;
                // End bins reach to -inf (first level) and +inf (last level).
                let first = x0.clone().lower_equal_elem(low + half / 2.0);
                let last = x0.greater_equal_elem(high - half / 2.0);
                // P = cdf(z_hi) - cdf(z_lo) = cdf(-z_lo) - cdf(-z_hi); when the whole bin lies in
                // the right tail (z_lo > 0) the second form subtracts small numbers instead of
                // numbers near 1, which keeps its precision in f32.
                let direct = cdf(z_hi.clone()).mask_fill(last.clone(), 1.0)
                    - cdf(z_lo.clone()).mask_fill(first.clone(), 0.0);
                let flipped =
                    cdf(-z_lo.clone()).mask_fill(first, 1.0) - cdf(-z_hi).mask_fill(last, 0.0);
                let probability = direct.mask_where(z_lo.greater_elem(0.0), flipped);
                -probability.clamp_min(1e-12).log().sum_dim(1).squeeze_dim(1)
            }
        }
    }
}

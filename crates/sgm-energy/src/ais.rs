use burn::prelude::*;
use burn::tensor::DType;
use sgm_core::tensor::{time_like, to_f64};
use sgm_core::{Noise, NoiseSource, NoiseSourceExt, NonFiniteWatch};

use crate::metropolis::mh_step;
use crate::{EnergyError, EnergyModel, MetropolisHastings, Result};

/// Annealed importance sampling (Neal, Stat. Comput. 2001) for the normaliser Z = int exp(-E) of
/// an energy: chains start from the base N(0, s^2 I) (normalised), move through the densities
/// f_k = base^(1 - beta_k) exp(-beta_k E) for 0 = beta_0 < ... < beta_K = 1 with
/// [`MetropolisHastings`] steps that leave each f_k invariant, and collect the weights
///
/// ```text
/// log w = sum_k (beta_k - beta_{k-1}) (-E(x_{k-1}) - log base(x_{k-1})),   E[w] = Z.
/// ```
///
/// The estimate is log Z-hat = log mean w (biased low by about Var(w) / (2 n mean(w)^2)), with
/// the delta-method standard error sd(w) / (sqrt(n) mean(w)).
///
/// ```
/// use sgm_energy::{AnnealedImportanceSampling, MetropolisHastings};
/// let ais = AnnealedImportanceSampling::new(100, 2.0, MetropolisHastings::new(0.5, 2)?)?;
/// assert_eq!(ais.betas().len(), 101);
/// assert!(AnnealedImportanceSampling::with_betas(vec![0.0, 0.7, 0.5, 1.0], 1.0, MetropolisHastings::new(0.5, 2)?).is_err());
/// # Ok::<(), sgm_energy::EnergyError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct AnnealedImportanceSampling {
    betas: Vec<f64>,
    base_std: f64,
    transitions: MetropolisHastings,
}

/// The estimate of log Z and what came with it.
#[derive(Debug, Clone)]
pub struct LogNormalizer {
    /// log Z-hat = log mean_i w_i.
    pub log_z: f64,
    /// Its standard error (delta method).
    pub std_error: f64,
    /// log w_i per chain, `[chains]`.
    pub log_weights: Tensor<1>,
    /// Energy evaluations (batched calls).
    pub nfe: usize,
}

impl AnnealedImportanceSampling {
    /// `temperatures` equal steps of beta from 0 to 1, base N(0, `base_std`^2 I), `transitions`
    /// Metropolis steps at each temperature.
    ///
    /// # Errors
    /// As [`AnnealedImportanceSampling::with_betas`].
    pub fn new(
        temperatures: usize,
        base_std: f64,
        transitions: MetropolisHastings,
    ) -> Result<Self> {
        let k = sgm_core::validate::nonzero("temperatures", temperatures)?;
        let betas = (0..=k).map(|i| i as f64 / k as f64).collect();
        Self::with_betas(betas, base_std, transitions)
    }

    /// Any schedule `betas` from 0 to 1, strictly increasing.
    ///
    /// # Errors
    /// [`EnergyError::Core`] (`CoreError::InvalidParameter`) for a schedule that does not start
    /// at 0, end at 1 and increase, or a base std that is not finite and > 0; `TooFew` for fewer
    /// than 2 points.
    pub fn with_betas(
        betas: Vec<f64>,
        base_std: f64,
        transitions: MetropolisHastings,
    ) -> Result<Self> {
        use sgm_core::validate::require;
        sgm_core::validate::at_least("annealing temperatures", betas.len(), 2)?;
        require(betas[0] == 0.0, "first beta", betas[0], "0")?;
        let last = betas[betas.len() - 1];
        require(last == 1.0, "last beta", last, "1")?;
        for pair in betas.windows(2) {
            require(
                pair[1] > pair[0],
                "beta",
                pair[1],
                "above the previous beta",
            )?;
        }
        Ok(Self {
            betas,
            base_std: sgm_core::validate::positive("base_std", base_std)?,
            transitions,
        })
    }

    /// The schedule 0 = beta_0 < ... < beta_K = 1.
    pub fn betas(&self) -> &[f64] {
        &self.betas
    }

    /// Estimates log Z of `energy` at time `t` in `dim` dimensions with `chains` chains.
    ///
    /// # Errors
    /// [`EnergyError::Core`] (`ZeroCount`) for no chains or dimensions;
    /// [`EnergyError::NonFinite`] when a chain or a weight becomes NaN or infinite.
    #[allow(clippy::too_many_arguments)]
    pub fn log_normalizer<E: EnergyModel + ?Sized>(
        &self,
        energy: &E,
        (chains, dim): (usize, usize),
        t: f64,
        device: &Device,
        dtype: DType,
        noise: &mut dyn NoiseSource,
    ) -> Result<LogNormalizer> {
        sgm_core::validate::nonzero("chains", chains)?;
        sgm_core::validate::nonzero("dim", dim)?;
        let var = self.base_std * self.base_std;
        let log_base_norm = -0.5 * dim as f64 * (2.0 * std::f64::consts::PI * var).ln();
        let mut x =
            noise.sample(Noise::StandardNormal, [chains, dim], device, dtype) * self.base_std;
        let tt = time_like(t, &x);
        let mut e_x = energy.energy(x.clone(), tt.clone());
        let mut log_w = e_x.zeros_like();
        let mut watch = NonFiniteWatch::default();
        let step_size = self.transitions.step_size();
        for (k, pair) in self.betas.windows(2).enumerate() {
            let (previous, beta) = (pair[0], pair[1]);
            // log f_k - log f_{k-1} at x = (beta_k - beta_{k-1}) (-E(x) - log base(x)), and
            // -log base(x) = |x|^2 / (2 s^2) - log_base_norm.
            let quad = x.clone().square().sum_dim(1).squeeze_dim(1) / (2.0 * var);
            let log_ratio = quad - e_x.clone() - log_base_norm;
            log_w = log_w + log_ratio * (beta - previous);
            for _ in 0..self.transitions.steps() {
                let (x_new, e_new, _) =
                    mh_step(energy, &tt, (x, e_x), (beta, var, step_size), noise);
                (x, e_x) = (x_new, e_new);
            }
            watch.record(&log_w.clone().unsqueeze_dim::<2>(1), k, beta);
        }
        if let Some((step, _)) = watch.first_bad() {
            return Err(EnergyError::NonFinite { step });
        }
        let lw = to_f64(log_w.clone());
        let max = lw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let w: Vec<f64> = lw.iter().map(|l| (l - max).exp()).collect();
        let n = w.len() as f64;
        let mean = w.iter().sum::<f64>() / n;
        let var_w = w.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
        Ok(LogNormalizer {
            log_z: max + mean.ln(),
            std_error: (var_w / n).sqrt() / mean,
            log_weights: log_w,
            nfe: 1 + (self.betas.len() - 1) * self.transitions.steps(),
        })
    }
}

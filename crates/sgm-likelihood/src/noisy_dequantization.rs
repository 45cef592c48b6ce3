use burn::prelude::*;
use sgm_core::special::log_normal_interval;
use sgm_core::tensor::{from_f64, to_f64};
use sgm_core::{NoiseSource, NoiseSourceExt};
use sgm_sde::LinearSde;

use crate::error::check_eps;
use crate::{Dequantization, Result};

/// Uniform dequantisation followed by the forward diffusion to a small time eps, with the
/// Bayes decoder back to the levels: a variational bound on the bits of discrete data under a
/// density p_eps of the *noisy* data, such as the probability-flow density at eps.
///
/// Uniform dequantisation ([`Dequantization`]) asks the model for the density of x on the
/// boxes of the levels, whose edges are sharp; a score model evaluated at eps -> 0 must learn
/// those edges, which smooth networks do poorly. Here the data are instead carried to the
/// model's own starting time: with a = mean_coeff(eps), s = std(eps) and the bins
/// [low + w k, low + w (k + 1)) of [`Dequantization`],
///
/// ```text
/// q(z | k) = prod_i (1/w) int_{bin k_i} N(z_i; a x, s^2) dx     (z = a x + s e, x uniform on the bin),
/// P(k | z) = q(z | k) / sum_k' q(z | k')                        (the decoder: Bayes with a uniform prior),
/// log P(k) >= E_q [log p_eps(z) + log P(k | z) - log q(z | k)]
///           = E_q [log p_eps(z) - log sum_k' q(z | k')],
/// sum_k' q(z_i | k') = (Phi((a high - z_i)/s) - Phi((a low - z_i)/s)) / (a w)   (the bins telescope).
/// ```
///
/// The bound holds for any density p_eps (P(k | z) is a distribution over the levels for every
/// z), so the reported bits/dim, -(log p_eps(z) - sum_i log sum_k' q(z_i | k')) / (d ln 2), is an
/// upper bound on -log2 P(k) / d like the uniform one. As s -> 0 and a -> 1 it becomes uniform
/// dequantisation (the Phi difference is 1 inside [low, high)). This is the continuous-time form
/// of the discretised decoders of Ho et al. (2020) and Kingma et al. (VDM, 2021), with the
/// decoder fixed to the Bayes posterior so that the bound needs nothing but p_eps. The normal
/// CDF differences are evaluated on the host in f64 ([`sgm_core::special`]), accurate in both
/// tails.
///
/// ```
/// use burn::prelude::*;
/// use sgm_core::HostNoise;
/// use sgm_likelihood::{Dequantization, NoisyDequantization};
/// use sgm_sde::VpSde;
///
/// let uniform = Dequantization::new(17, -1.0, 1.0)?;
/// let noisy = NoisyDequantization::at_time(uniform, &VpSde::default(), 3e-3)?;
/// let levels = Tensor::<2>::from_data([[0.0, 16.0], [8.0, 3.0]], &Device::flex());
/// let z = noisy.dequantize(levels, &mut HostNoise::new(0));
/// let log_p_eps = Tensor::<1>::from_data([0.5, -1.0], &Device::flex()); // from a model
/// let bpd = noisy.bits_per_dim(log_p_eps, z);
/// assert_eq!(bpd.dims(), [2]);
/// # Ok::<(), sgm_likelihood::LikelihoodError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoisyDequantization {
    uniform: Dequantization,
    mean_coeff: f64,
    std: f64,
}

impl NoisyDequantization {
    /// The bins of `uniform`, carried by z = `mean_coeff` x + `std` e.
    ///
    /// # Errors
    /// [`LikelihoodError::Core`](crate::LikelihoodError::Core) (`CoreError::InvalidParameter`) unless both coefficients are finite and positive.
    pub fn new(uniform: Dequantization, mean_coeff: f64, std: f64) -> Result<Self> {
        for (name, value) in [("mean_coeff", mean_coeff), ("std", std)] {
            sgm_core::validate::positive(name, value)?;
        }
        Ok(Self {
            uniform,
            mean_coeff,
            std,
        })
    }

    /// The perturbation kernel of `sde` at time `eps`: a = mean_coeff(eps), s = std(eps).
    ///
    /// # Errors
    /// [`LikelihoodError::InvalidEps`](crate::LikelihoodError::InvalidEps) unless 0 < eps < T.
    pub fn at_time<S: LinearSde + ?Sized>(
        uniform: Dequantization,
        sde: &S,
        eps: f64,
    ) -> Result<Self> {
        check_eps(eps, sde.t_end())?;
        Self::new(uniform, sde.mean_coeff_at(eps), sde.std_at(eps))
    }

    /// The uniform dequantisation underneath.
    pub fn uniform(&self) -> Dequantization {
        self.uniform
    }

    /// z = a (low + w (k + u)) + s e, u ~ U[0, 1)^d, e ~ N(0, I): a draw from q(z | k) for
    /// levels `k` (integers held as floats), `[batch, dim]`.
    pub fn dequantize(&self, k: Tensor<2>, noise: &mut dyn NoiseSource) -> Tensor<2> {
        let x = self.uniform.dequantize(k, noise);
        let e = noise.normal_like(&x);
        x * self.mean_coeff + e * self.std
    }

    /// -(log p_eps(z) - sum_i log sum_k' q(z_i | k')) / (d ln 2) per sample, `[batch]`, from
    /// the model's log-densities `log_prob` (nats) at the points `z` of [`Self::dequantize`].
    pub fn bits_per_dim(&self, log_prob: Tensor<1>, z: Tensor<2>) -> Tensor<1> {
        let [batch, dim] = z.dims();
        let (device, dtype) = (z.device(), z.dtype());
        let log_evidence: Vec<f64> = to_f64(z)
            .chunks(dim)
            .map(|row| row.iter().map(|&zi| self.log_decoder_normalizer(zi)).sum())
            .collect();
        let log_evidence = from_f64(&log_evidence, [batch], &device, dtype);
        let d = dim as f64;
        (log_prob - log_evidence) * (-1.0 / (d * std::f64::consts::LN_2))
    }

    /// log sum_k' q(z | k') for one coordinate.
    fn log_decoder_normalizer(&self, z: f64) -> f64 {
        let (a, s) = (self.mean_coeff, self.std);
        let (low, high) = self.uniform.range();
        let lower = (a * low - z) / s;
        let upper = (a * high - z) / s;
        log_normal_interval(lower, upper) - (a * self.uniform.bin_width()).ln()
    }
}

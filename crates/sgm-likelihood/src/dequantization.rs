use burn::prelude::*;
use sgm_core::tensor::{from_f64, to_f64};
use sgm_core::{NoiseSource, NoiseSourceExt};

use crate::{LikelihoodError, Result};

/// Uniform dequantisation of data with K levels k in {0, ..., K-1} into a model-space box
/// [low, high)^d, and the bits per dimension that a model-space density implies.
///
/// Each level k occupies the bin [low + w k, low + w (k + 1)) with w = (high - low) / K, and a
/// data point is dequantised to x = low + w (k + u), u ~ U[0, 1)^d. For any model density p on
/// model space, Jensen's inequality bounds the probability of the discrete data
/// (Theis, van den Oord & Bethge, ICLR 2016):
///
/// ```text
/// log P(k) = log E_u [p(low + w (k + u)) w^d] >= E_u log p(x) + d ln w,
/// bits/dim = -(log p(x) + d ln w) / (d ln 2)      (an upper bound on -log2 P(k) / d).
/// ```
///
/// There is no hidden constant: the uniform density on the box gives exactly log2 K bits/dim.
/// The 8x8 digits have K = 17 levels (so log2 17 = 4.09 bits/dim is the trivial bound), not 256.
///
/// ```
/// use burn::prelude::*;
/// use sgm_likelihood::Dequantization;
/// let deq = Dequantization::new(17, -1.0, 1.0)?;
/// // The uniform density on [-1, 1)^64 has log p = -64 ln 2: log2(17) bits/dim.
/// let log_p = Tensor::<1>::from_data([-64.0 * 2f32.ln()], &Device::flex());
/// let bpd: f32 = deq.bits_per_dim(log_p, 64).into_scalar();
/// assert!((bpd - 17f32.log2()).abs() < 1e-5);
/// # Ok::<(), sgm_likelihood::LikelihoodError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dequantization {
    levels: usize,
    low: f64,
    high: f64,
}

impl Dequantization {
    /// K = `levels` levels mapped onto [low, high).
    ///
    /// # Errors
    /// [`LikelihoodError::Core`] (`CoreError::TooFew`) for fewer than 2 levels, (`InvalidParameter`) for an empty or non-finite
    /// box.
    pub fn new(levels: usize, low: f64, high: f64) -> Result<Self> {
        sgm_core::validate::at_least("levels", levels, 2)?;
        if !(low.is_finite() && high.is_finite() && low < high) {
            return Err(LikelihoodError::from(sgm_core::validate::invalid(
                "high",
                high,
                "finite and above low",
            )));
        }
        Ok(Self { levels, low, high })
    }

    /// K.
    pub fn levels(&self) -> usize {
        self.levels
    }

    /// The model-space range (low, high).
    pub fn range(&self) -> (f64, f64) {
        (self.low, self.high)
    }

    /// The bin width w = (high - low) / K.
    pub fn bin_width(&self) -> f64 {
        (self.high - self.low) / self.levels as f64
    }

    /// x = low + w (k + u) with u ~ U[0, 1) per element; `k` holds the integer levels as
    /// floats, `[batch, dim]`.
    pub fn dequantize(&self, k: Tensor<2>, noise: &mut dyn NoiseSource) -> Tensor<2> {
        let u = noise.sample(
            sgm_core::Noise::Uniform {
                low: 0.0,
                high: 1.0,
            },
            k.dims(),
            &k.device(),
            k.dtype(),
        );
        (k + u) * self.bin_width() + self.low
    }

    /// -(log p(x) + d ln w) / (d ln 2) per sample, `[batch]`, from model-space log-densities
    /// `log_prob` (nats) of dequantised points of dimension `dim`.
    pub fn bits_per_dim(&self, log_prob: Tensor<1>, dim: usize) -> Tensor<1> {
        let d = dim as f64;
        (log_prob + d * self.bin_width().ln()) * (-1.0 / (d * std::f64::consts::LN_2))
    }
}

/// Importance-weighted bits/dim from M >= 1 independent dequantisation draws of the same data
/// (Burda, Grosse & Salakhutdinov, ICLR 2016; used for dequantisation by Ho et al., Flow++, ICML
/// 2019). Each draw m gives the single-draw bound b_m = -log2(W_m) / d of [`Dequantization`] or
/// [`NoisyDequantization`](crate::NoisyDequantization), W_m the importance weight
/// p(x_m) w^d (uniform) or p_eps(z_m) / prod_i sum_k q(z_mi | k) (noisy). Then
///
/// ```text
/// log P(k) >= E log (1/M) sum_m W_m >= E log W_1,
/// bits/dim = -(logsumexp_m(-b_m d ln 2) - ln M) / (d ln 2),
/// ```
///
/// a bound that tightens as M grows and tends to -log2 P(k) / d, the model's own probability of
/// the levels. `draws` holds the M single-draw bits/dim, each `[batch]`, for the same images.
/// With log p estimated by Hutchinson probes the weights are exponentials of unbiased estimates,
/// which biases the bound down by at most var(log p) / (2 d ln 2) bits/dim (Gaussian errors).
///
/// # Errors
/// [`LikelihoodError::Core`] (`CoreError::ZeroCount`) for no draws or a zero `dim`, (`InvalidParameter`) for draws of different
/// lengths.
///
/// ```
/// use burn::prelude::*;
/// use sgm_likelihood::importance_weighted_bits_per_dim;
/// let device = Device::flex();
/// let draws = [Tensor::<1>::from_data([2.0], &device), Tensor::<1>::from_data([3.0], &device)];
/// let bpd: f32 = importance_weighted_bits_per_dim(&draws, 1)?.into_scalar();
/// // -log2((2^-2 + 2^-3) / 2) = 2.415, below the mean 2.5 of the single draws.
/// assert!((bpd - 2.415).abs() < 1e-3);
/// # Ok::<(), sgm_likelihood::LikelihoodError>(())
/// ```
pub fn importance_weighted_bits_per_dim(draws: &[Tensor<1>], dim: usize) -> Result<Tensor<1>> {
    sgm_core::validate::nonzero("draws", draws.len())?;
    sgm_core::validate::nonzero("dim", dim)?;
    let first = &draws[0];
    let [batch] = first.dims();
    let (device, dtype) = (first.device(), first.dtype());
    let bits: Vec<Vec<f64>> = draws.iter().map(|b| to_f64(b.clone())).collect();
    if let Some(other) = bits.iter().find(|b| b.len() != batch) {
        return Err(LikelihoodError::from(sgm_core::validate::invalid(
            "draws",
            other.len() as f64,
            "of equal lengths",
        )));
    }
    let nats_per_bit = dim as f64 * std::f64::consts::LN_2;
    let m = draws.len() as f64;
    let combined: Vec<f64> = (0..batch)
        .map(|j| {
            let log_w: Vec<f64> = bits.iter().map(|b| -b[j] * nats_per_bit).collect();
            let max = log_w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = max + log_w.iter().map(|l| (l - max).exp()).sum::<f64>().ln();
            -(lse - m.ln()) / nats_per_bit
        })
        .collect();
    Ok(from_f64(&combined, [batch], &device, dtype))
}

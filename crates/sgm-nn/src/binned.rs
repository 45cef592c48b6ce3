use burn::prelude::*;
use burn::tensor::activation::softmax;
use sgm_core::ScoreModel;
use sgm_core::special::{log_normal_interval, log_normal_pdf};
use sgm_core::tensor::{column, from_f64, to_f64};
use sgm_sde::LinearSde;

use crate::{NnError, Result, ScoreNetwork};

/// A data-prediction score for quantised data: the network gives, per coordinate, logits over
/// the K levels, and the bins' own likelihoods and means are exact.
///
/// Data with K levels dequantised uniformly onto the bins [low + w k, low + w (k + 1)),
/// w = (high - low) / K, and perturbed by a linear SDE (x_t = a x_0 + s z) have, given the
/// level k_i of coordinate i, an exact within-bin posterior: x_0,i is N(x_t,i / a, (s/a)^2)
/// truncated to the bin. With the network's logits l_ik(x_t, t) as the prior over levels,
///
/// ```text
/// alpha, beta = (bin edges - x/a) / (s/a),   Z_ik = Phi(beta) - Phi(alpha)    (bin likelihood),
/// pi_ik = softmax_k(l_ik + log Z_ik),
/// m_ik = x/a + (s/a) (phi(alpha) - phi(beta)) / Z_ik                          (truncated mean),
/// x0_hat_i = sum_k pi_ik m_ik,    score = (a x0_hat - x) / s^2                 (Tweedie).
/// ```
///
/// The level structure is then in the parameterisation instead of in what the network must
/// learn: with zero logits this is the exact score of data uniform on [low, high)^d, and at
/// small noise the bin containing x dominates, so the sharp bin edges need no sharp network.
/// This is the discretised decoder of Ho et al. (2020) and the categorical data prediction of
/// discrete-data diffusion (e.g. Dieleman et al. 2022, CDCD) made into a score for the
/// continuous SDE.
///
/// The bin terms depend on x and t only, not on the network's weights: they are computed on the
/// host in f64 ([`sgm_core::special`], accurate in the tails where f32 `erf` is not) and enter
/// the graph as constants, so gradients reach the weights through the logits. The JVP is exact:
/// the derivatives of log Z and m in x are closed forms (d log Z / dx = (phi(alpha) -
/// phi(beta)) / (Z s), dm/dx = (1 + alpha phi(alpha)/Z - beta phi(beta)/Z - r^2) / a with
/// r = (phi(alpha) - phi(beta)) / Z, the truncated-normal variance ratio).
///
/// ```
/// use burn::prelude::*;
/// use sgm_core::ScoreModel;
/// use sgm_nn::{BinnedDenoiser, ScoreMlpConfig};
/// use sgm_sde::VpSde;
///
/// let device = Device::flex();
/// let net = ScoreMlpConfig::new(4).with_hidden(16).with_outputs_per_dim(17).init(&device)?;
/// let vp = VpSde::default();
/// let model = BinnedDenoiser::new(&net, &vp, 17, -1.0, 1.0)?;
/// let s = model.score(Tensor::zeros([3, 4], &device), Tensor::full([3], 0.5, &device));
/// assert_eq!(s.dims(), [3, 4]);
/// # Ok::<(), sgm_nn::NnError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct BinnedDenoiser<N, S> {
    net: N,
    sde: S,
    levels: usize,
    low: f64,
    high: f64,
}

/// The bin terms of every coordinate and level, `[batch, dim, K]`.
struct BinTerms {
    log_likelihood: Tensor<3>,
    mean: Tensor<3>,
    /// d log Z / dx and dm / dx (only for JVPs).
    derivatives: Option<(Tensor<3>, Tensor<3>)>,
}

impl<N: ScoreNetwork, S: LinearSde> BinnedDenoiser<N, S> {
    /// The score of K-level data on [low, high) under `sde`, with level logits from `net`
    /// (output width d K, level-major within each coordinate: column i K + k).
    ///
    /// # Errors
    /// [`NnError::Core`] (`CoreError::TooFew`) for fewer than 2 levels, (`InvalidParameter`) for an empty or non-finite range.
    pub fn new(net: N, sde: S, levels: usize, low: f64, high: f64) -> Result<Self> {
        sgm_core::validate::at_least("levels", levels, 2)?;
        if !(low.is_finite() && high.is_finite() && low < high) {
            return Err(NnError::from(sgm_core::validate::invalid(
                "high",
                high,
                "finite and above low",
            )));
        }
        Ok(Self {
            net,
            sde,
            levels,
            low,
            high,
        })
    }

    fn bin_terms(&self, x: &Tensor<2>, t: &Tensor<1>, derivatives: bool) -> BinTerms {
        let [batch, dim] = x.dims();
        let k = self.levels;
        let width = (self.high - self.low) / k as f64;
        let (xs, ts) = (to_f64(x.clone()), to_f64(t.clone()));
        let size = batch * dim * k;
        let (mut log_z, mut mean) = (Vec::with_capacity(size), Vec::with_capacity(size));
        let (mut d_log_z, mut d_mean) = (Vec::new(), Vec::new());
        if derivatives {
            d_log_z.reserve(size);
            d_mean.reserve(size);
        }
        for (row, &tj) in xs.chunks(dim).zip(&ts) {
            let (a, s) = (self.sde.mean_coeff_at(tj), self.sde.std_at(tj));
            let scale = s / a;
            for &xi in row {
                let mu = xi / a;
                for level in 0..k {
                    let lower = self.low + width * level as f64;
                    let alpha = (lower - mu) / scale;
                    let beta = (lower + width - mu) / scale;
                    let lz = log_normal_interval(alpha, beta);
                    let r_alpha = (log_normal_pdf(alpha) - lz).exp();
                    let r_beta = (log_normal_pdf(beta) - lz).exp();
                    let r = r_alpha - r_beta;
                    log_z.push(lz);
                    mean.push(mu + scale * r);
                    if derivatives {
                        d_log_z.push(r / s);
                        d_mean.push((1.0 + alpha * r_alpha - beta * r_beta - r * r) / a);
                    }
                }
            }
        }
        let (device, dtype) = (x.device(), x.dtype());
        let tensor = |values: &[f64]| from_f64(values, [batch, dim, k], &device, dtype);
        BinTerms {
            log_likelihood: tensor(&log_z),
            mean: tensor(&mean),
            derivatives: derivatives.then(|| (tensor(&d_log_z), tensor(&d_mean))),
        }
    }

    /// (a(t), s(t)^2) as columns.
    fn coefficients(&self, t: Tensor<1>) -> (Tensor<2>, Tensor<2>) {
        let a = column(self.sde.mean_coeff(t.clone()));
        let variance = column(self.sde.std(t).square());
        (a, variance)
    }

    fn logits(&self, h: Tensor<2>) -> Tensor<3> {
        let [batch, width] = h.dims();
        h.reshape([batch, width / self.levels, self.levels])
    }
}

impl<N: ScoreNetwork, S: LinearSde> ScoreModel for BinnedDenoiser<N, S> {
    fn score(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        let [batch, dim] = x.dims();
        let terms = self.bin_terms(&x, &t, false);
        let logits = self.logits(self.net.forward(x.clone(), t.clone()));
        let pi = softmax(logits + terms.log_likelihood, 2);
        let x0 = (pi * terms.mean).sum_dim(2).reshape([batch, dim]);
        let (a, variance) = self.coefficients(t);
        (x0 * a - x) / variance
    }

    fn score_jvp(&self, x: Tensor<2>, t: Tensor<1>, v: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let [batch, dim] = x.dims();
        let terms = self.bin_terms(&x, &t, true);
        let (d_log_z, d_mean) = terms.derivatives.expect("derivatives were asked for");
        let (h, dh) = self.net.forward_jvp(x.clone(), t.clone(), v.clone());
        let (logits, d_logits) = (self.logits(h), self.logits(dh));
        let v3 = v.clone().unsqueeze_dim::<3>(2);
        let pi = softmax(logits + terms.log_likelihood, 2);
        let d_l = d_logits + d_log_z * v3.clone();
        let d_pi = pi.clone() * (d_l.clone() - (pi.clone() * d_l).sum_dim(2));
        let x0 = (pi.clone() * terms.mean.clone())
            .sum_dim(2)
            .reshape([batch, dim]);
        let d_x0 = (d_pi * terms.mean + pi * d_mean * v3)
            .sum_dim(2)
            .reshape([batch, dim]);
        let (a, variance) = self.coefficients(t);
        let score = (x0 * a.clone() - x) / variance.clone();
        let jvp = (d_x0 * a - v) / variance;
        (score, jvp)
    }
}

use burn::prelude::*;
use burn::tensor::DType;
use burn::tensor::activation::softmax;
use sgm_core::tensor::{column, from_f64, log_sum_exp};
use sgm_core::{Noise, NoiseSource, NoiseSourceExt};

use crate::{DataError, ExactDensity, Result};

/// A mixture of isotropic Gaussians sum_k w_k N(mu_k, s_k^2 I).
///
/// Perturbed by x_t = m x0 + std z it stays a mixture, of N(m mu_k, v_k I) with
/// v_k = m^2 s_k^2 + std^2 and the same weights. With responsibilities r_k(x) (the softmax of
/// the log-weighted component densities) and component scores a_k = -(x - m mu_k) / v_k:
///
/// ```text
/// log p(x)  = logsumexp_k [ln w_k - d/2 ln(2 pi v_k) - |x - m mu_k|^2 / (2 v_k)],
/// score     = s = sum_k r_k a_k,
/// J score v = sum_k r_k (a_k (a_k . v) - v / v_k) - s (s . v)      (exact Hessian times v).
/// ```
///
/// ```
/// use sgm_data::{ExactDensity, GaussianMixture};
/// let ring = GaussianMixture::ring8();
/// assert_eq!((ring.num_components(), ring.dim()), (8, 2));
/// assert!((ring.means()[2][1] - 4.0).abs() < 1e-12); // mode k = 2 at angle pi/2
/// let custom = GaussianMixture::new(vec![1.0, 3.0], vec![vec![0.0], vec![2.0]], vec![1.0, 0.5])?;
/// assert_eq!(custom.weights(), &[0.25, 0.75]);
/// # Ok::<(), sgm_data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianMixture {
    weights: Vec<f64>,
    means: Vec<Vec<f64>>,
    stds: Vec<f64>,
}

impl GaussianMixture {
    /// A mixture with (unnormalised, positive) `weights`, component `means` and isotropic
    /// `stds`. Weights are normalised to sum to one.
    ///
    /// # Errors
    /// [`DataError::DimensionMismatch`] for lists of different lengths or means of different
    /// dimensions; [`DataError::Core`] (`CoreError::InvalidParameter`) for a weight or std that is not finite and
    /// > 0, a non-finite mean, or no components.
    pub fn new(weights: Vec<f64>, means: Vec<Vec<f64>>, stds: Vec<f64>) -> Result<Self> {
        let k = weights.len();
        if k == 0 {
            return Err(DataError::from(sgm_core::validate::invalid(
                "components",
                0.0,
                "at least 1",
            )));
        }
        for (what, found) in [("means", means.len()), ("stds", stds.len())] {
            if found != k {
                return Err(DataError::DimensionMismatch {
                    what,
                    expected: k,
                    found,
                });
            }
        }
        let dim = means[0].len();
        if let Some(bad) = means.iter().find(|m| m.len() != dim) {
            return Err(DataError::DimensionMismatch {
                what: "component mean",
                expected: dim,
                found: bad.len(),
            });
        }
        for (name, values) in [("weight", &weights), ("std", &stds)] {
            if let Some(&value) = values.iter().find(|&&v| !(v.is_finite() && v > 0.0)) {
                return Err(DataError::from(sgm_core::validate::invalid(
                    name,
                    value,
                    "finite and > 0",
                )));
            }
        }
        if let Some(&value) = means.iter().flatten().find(|v| !v.is_finite()) {
            return Err(DataError::from(sgm_core::validate::invalid(
                "mean", value, "finite",
            )));
        }
        let total: f64 = weights.iter().sum();
        Ok(Self {
            weights: weights.iter().map(|w| w / total).collect(),
            means,
            stds,
        })
    }

    /// `ring8`: 8 equal-weight modes N(mu_k, 0.25 I) with mu_k = 4 (cos 2 pi k/8, sin 2 pi k/8).
    pub fn ring8() -> Self {
        Self::ring8_with_weights(vec![1.0; 8])
    }

    /// `ring8` with weights proportional to k + 1 (1/36, 2/36, ..., 8/36), so that a sampler's
    /// error in the mode weights cannot hide behind the ring's symmetry.
    pub fn ring8_weighted() -> Self {
        Self::ring8_with_weights((1..=8).map(f64::from).collect())
    }

    fn ring8_with_weights(weights: Vec<f64>) -> Self {
        let means = (0..8)
            .map(|k| {
                let angle = 2.0 * std::f64::consts::PI * k as f64 / 8.0;
                vec![4.0 * angle.cos(), 4.0 * angle.sin()]
            })
            .collect();
        Self::new(weights, means, vec![0.5; 8]).expect("valid ring8")
    }

    /// The two-mode mixture of Song & Ermon (2019, sec. 3.2): 0.2 N((-5, -5), I) +
    /// 0.8 N((5, 5), I).
    pub fn two_modes() -> Self {
        Self::new(
            vec![0.2, 0.8],
            vec![vec![-5.0, -5.0], vec![5.0, 5.0]],
            vec![1.0, 1.0],
        )
        .expect("valid two-mode mixture")
    }

    /// Normalised weights w_k.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Component means mu_k.
    pub fn means(&self) -> &[Vec<f64>] {
        &self.means
    }

    /// Component standard deviations s_k.
    pub fn stds(&self) -> &[f64] {
        &self.stds
    }

    /// Number of components K.
    pub fn num_components(&self) -> usize {
        self.weights.len()
    }

    /// For each sample of `x` (`[batch, dim]`), the index of the nearest component mean.
    pub fn nearest_component(&self, x: Tensor<2>) -> Vec<usize> {
        let (mu, _) = self.mean_tensor(&x);
        let dist = (x.unsqueeze_dim::<3>(1) - mu.unsqueeze_dim::<3>(0))
            .square()
            .sum_dim(2)
            .squeeze_dim::<2>(2);
        sgm_core::host::read(dist.argmin(1))
            .convert::<i64>()
            .try_to_vec::<i64>()
            .expect("indices read back")
            .into_iter()
            .map(|i| i as usize)
            .collect()
    }

    /// The share of samples of `x` nearest to each component mean (sums to 1).
    pub fn component_shares(&self, x: Tensor<2>) -> Vec<f64> {
        let nearest = self.nearest_component(x);
        let mut counts = vec![0usize; self.num_components()];
        for k in &nearest {
            counts[*k] += 1;
        }
        counts
            .into_iter()
            .map(|c| c as f64 / nearest.len() as f64)
            .collect()
    }

    /// The component scores weighted by condition rows, sum_k y_k a_k(x) with
    /// a_k = -(x - m mu_k) / v_k (for one-hot y: the perturbed score of the chosen component),
    /// and the mixture's score s = sum_k r_k a_k, both `[batch, d]`; `y`: `[batch, K]`.
    pub fn class_and_mixture_scores_perturbed(
        &self,
        x: Tensor<2>,
        log_m: Tensor<1>,
        std: Tensor<1>,
        y: Tensor<2>,
    ) -> (Tensor<2>, Tensor<2>) {
        let [batch, d] = x.dims();
        let (logits, var, diff) = self.components(x, log_m, std);
        let a = -diff / var.unsqueeze_dim::<3>(2);
        let class = (a.clone() * y.unsqueeze_dim::<3>(2))
            .sum_dim(1)
            .reshape([batch, d]);
        let r = softmax(logits, 1).unsqueeze_dim::<3>(2);
        let mixture = (a * r).sum_dim(1).reshape([batch, d]);
        (class, mixture)
    }

    /// The mixture conditioned on some coordinates: `observed[i]` is `Some(value)` for an
    /// observed coordinate, `None` for a free one. The result is the exact conditional law of
    /// the free coordinates, a mixture with the same components restricted to them and weights
    /// w_k N(x_o; mu_k,o, s_k^2 I) renormalised (isotropic components factorise).
    ///
    /// ```
    /// use sgm_data::{ExactDensity, GaussianMixture};
    /// let two = GaussianMixture::new(vec![1.0, 1.0], vec![vec![0.0, 0.0], vec![1.0, 3.0]], vec![1.0, 1.0])?;
    /// let given_y = two.conditional(&[None, Some(3.0)])?;
    /// assert_eq!(given_y.dim(), 1);
    /// let odds = given_y.weights()[1] / given_y.weights()[0];
    /// assert!((odds - (4.5f64).exp()).abs() < 1e-9 * odds); // exp((9 - 0) / 2)
    /// # Ok::<(), sgm_data::DataError>(())
    /// ```
    ///
    /// # Errors
    /// [`DataError::DimensionMismatch`] unless `observed` has one entry per dimension;
    /// [`DataError::Core`] if every coordinate is observed or none is, or a value is not finite.
    pub fn conditional(&self, observed: &[Option<f64>]) -> Result<Self> {
        if observed.len() != self.dim() {
            return Err(DataError::DimensionMismatch {
                what: "observed coordinates",
                expected: self.dim(),
                found: observed.len(),
            });
        }
        let free = observed.iter().filter(|o| o.is_none()).count();
        if free == 0 || free == observed.len() {
            return Err(DataError::from(sgm_core::validate::invalid(
                "free coordinates",
                free as f64,
                "at least one and not all",
            )));
        }
        for value in observed.iter().flatten() {
            sgm_core::validate::finite("observed value", *value)?;
        }
        let log_weights: Vec<f64> = (0..self.num_components())
            .map(|k| {
                let s2 = self.stds[k].powi(2);
                let sq: f64 = observed
                    .iter()
                    .zip(&self.means[k])
                    .filter_map(|(o, m)| o.map(|v| (v - m).powi(2)))
                    .sum();
                let n_obs = (observed.len() - free) as f64;
                self.weights[k].ln()
                    - 0.5 * n_obs * (2.0 * std::f64::consts::PI * s2).ln()
                    - sq / (2.0 * s2)
            })
            .collect();
        let top = log_weights
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let weights = log_weights.iter().map(|l| (l - top).exp()).collect();
        let means = self
            .means
            .iter()
            .map(|m| {
                m.iter()
                    .zip(observed)
                    .filter(|(_, o)| o.is_none())
                    .map(|(v, _)| *v)
                    .collect()
            })
            .collect();
        Self::new(weights, means, self.stds.clone())
    }

    /// Means as a `[K, d]` tensor and stds as `[K]`, on the device and dtype of `like`.
    fn mean_tensor(&self, like: &Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let (device, dtype) = (like.device(), like.dtype());
        let flat: Vec<f64> = self.means.iter().flatten().copied().collect();
        (
            from_f64(&flat, [self.num_components(), self.dim()], &device, dtype),
            from_f64(&self.stds, [self.num_components()], &device, dtype),
        )
    }

    /// Log-weighted component log-densities `[B, K]`, component variances `[B, K]` and the
    /// differences x - m mu_k `[B, K, d]`.
    fn components(
        &self,
        x: Tensor<2>,
        log_m: Tensor<1>,
        std: Tensor<1>,
    ) -> (Tensor<2>, Tensor<2>, Tensor<3>) {
        let [batch, d] = x.dims();
        let k = self.num_components();
        let (mu, s) = self.mean_tensor(&x);
        let log_w: Vec<f64> = self.weights.iter().map(|w| w.ln()).collect();
        let log_w = from_f64(&log_w, [1, k], &x.device(), x.dtype());
        let m = log_m.exp();
        let shifted = mu.unsqueeze_dim::<3>(0) * m.clone().reshape([batch, 1, 1]);
        let diff = x.unsqueeze_dim::<3>(1) - shifted;
        let var = s.square().unsqueeze_dim::<2>(0) * column(m.square()) + column(std.square());
        let sq = diff.clone().square().sum_dim(2).reshape([batch, k]);
        let logits = log_w
            - (var.clone() * (2.0 * std::f64::consts::PI)).log() * (0.5 * d as f64)
            - sq / (var.clone() * 2.0);
        (logits, var, diff)
    }
}

impl ExactDensity for GaussianMixture {
    fn dim(&self) -> usize {
        self.means[0].len()
    }

    fn sample(
        &self,
        n: usize,
        device: &Device,
        dtype: DType,
        noise: &mut dyn NoiseSource,
    ) -> Tensor<2> {
        let k = self.num_components();
        let z = noise.sample(Noise::StandardNormal, [n, self.dim()], device, dtype);
        let (mu, s) = self.mean_tensor(&z);
        let index = if k == 1 {
            Tensor::<1, Int>::zeros([n], device)
        } else {
            // Inverse CDF: the component is the number of cumulative weights below u.
            let u = noise.sample(
                Noise::Uniform {
                    low: 0.0,
                    high: 1.0,
                },
                [n, 1],
                device,
                dtype,
            );
            let cumulative: Vec<f64> = self
                .weights
                .iter()
                .scan(0.0, |acc, w| {
                    *acc += w;
                    Some(*acc)
                })
                .take(k - 1)
                .collect();
            let cumulative = from_f64(&cumulative, [1, k - 1], device, dtype);
            u.greater_equal(cumulative).int().sum_dim(1).reshape([n])
        };
        mu.select(0, index.clone()) + z * column(s.select(0, index))
    }

    fn log_prob_perturbed(&self, x: Tensor<2>, log_m: Tensor<1>, std: Tensor<1>) -> Tensor<1> {
        log_sum_exp(self.components(x, log_m, std).0)
    }

    fn score_perturbed(&self, x: Tensor<2>, log_m: Tensor<1>, std: Tensor<1>) -> Tensor<2> {
        let [batch, d] = x.dims();
        let (logits, var, diff) = self.components(x, log_m, std);
        let r = softmax(logits, 1);
        let weight = (r / var).unsqueeze_dim::<3>(2);
        -(diff * weight).sum_dim(1).reshape([batch, d])
    }

    fn score_jvp_perturbed(
        &self,
        x: Tensor<2>,
        log_m: Tensor<1>,
        std: Tensor<1>,
        v: Tensor<2>,
    ) -> (Tensor<2>, Tensor<2>) {
        let [batch, d] = x.dims();
        let (logits, var, diff) = self.components(x, log_m, std);
        let r = softmax(logits, 1);
        let a = -diff / var.clone().unsqueeze_dim::<3>(2); // component scores [B, K, d]
        let r3 = r.clone().unsqueeze_dim::<3>(2);
        let score = (a.clone() * r3.clone()).sum_dim(1).reshape([batch, d]);
        let a_dot_v = (a.clone() * v.clone().unsqueeze_dim::<3>(1)).sum_dim(2); // [B, K, 1]
        let curvature = (a * a_dot_v * r3).sum_dim(1).reshape([batch, d]);
        let inv_var = (r / var).sum_dim(1); // [B, 1]
        let s_dot_v = (score.clone() * v.clone()).sum_dim(1);
        let jvp = curvature - v * inv_var - score.clone() * s_dot_v;
        (score, jvp)
    }
}

//! Noise levels chosen from the data: techniques 1, 2 and 4 of Song & Ermon (2020), "Improved
//! techniques for training score-based generative models" (NCSNv2).

use burn::prelude::*;
use burn::tensor::DType;
use sgm_core::special::log_normal_interval;

use crate::{GeometricSigmas, Result, at_least};

/// Rows per block of the pairwise-distance scan: a block's distances are a `[1024, n]` matrix.
const BLOCK: usize = 1024;

/// The largest Euclidean distance between two rows of `data` (`[n, d]`), computed on the
/// device in f64 by blocks of rows, |a - b|^2 = |a|^2 + |b|^2 - 2 a.b, with one read-back.
/// O(n^2 d) work: subsample a large data set first (the maximum of a subsample is a lower
/// bound).
///
/// ```
/// use burn::prelude::*;
/// use sgm_schedules::max_pairwise_distance;
///
/// let x = Tensor::<2>::from_data([[0.0, 0.0], [3.0, 4.0], [1.0, 1.0]], &Device::flex());
/// assert!((max_pairwise_distance(x) - 5.0).abs() < 1e-12);
/// ```
pub fn max_pairwise_distance(data: Tensor<2>) -> f64 {
    let x = data.cast(DType::F64);
    let n = x.dims()[0];
    let norms = x.clone().square().sum_dim(1); // [n, 1]
    let maxima: Vec<Tensor<1>> = (0..n)
        .step_by(BLOCK)
        .map(|start| {
            let rows = BLOCK.min(n - start);
            let a = x.clone().narrow(0, start, rows);
            let a_norms = norms.clone().narrow(0, start, rows);
            let squared =
                a_norms + norms.clone().transpose() - a.matmul(x.clone().transpose()) * 2.0;
            squared.max().reshape([1])
        })
        .collect();
    sgm_core::tensor::to_f64(Tensor::cat(maxima, 0))
        .into_iter()
        .fold(0.0, f64::max)
        .max(0.0)
        .sqrt()
}

impl GeometricSigmas {
    /// The common ratio gamma = sigma_{i-1} / sigma_i of technique 2 for data of dimension
    /// `dim`: the gamma > 1 with
    ///
    /// ```text
    /// Phi(sqrt(2D) (gamma - 1) + 3 gamma) - Phi(sqrt(2D) (gamma - 1) - 3 gamma) = 1/2,
    /// ```
    ///
    /// so that a sample perturbed at one level lands, with probability 1/2, within three
    /// standard deviations of the norm of the next level's samples (their norms concentrate at
    /// sigma sqrt(D) with standard deviation sigma / sqrt 2). Solved by bisection to 1e-12.
    ///
    /// ```
    /// use sgm_schedules::GeometricSigmas;
    /// let gamma = GeometricSigmas::ratio_for_dimension(3 * 32 * 32)?;
    /// assert!(gamma > 1.03 && gamma < 1.05);
    /// # Ok::<(), sgm_schedules::ScheduleError>(())
    /// ```
    ///
    /// # Errors
    /// `CoreError::TooFew` for `dim < 5`: below, sqrt(2D) <= 3 and the overlap never falls to
    /// 1/2 (the rule is for high-dimensional data).
    pub fn ratio_for_dimension(dim: usize) -> Result<f64> {
        at_least("dim", dim, 5)?;
        let root = (2.0 * dim as f64).sqrt();
        let overlap = |gamma: f64| {
            let center = root * (gamma - 1.0);
            log_normal_interval(center - 3.0 * gamma, center + 3.0 * gamma).exp()
        };
        // overlap(1) = Phi(3) - Phi(-3) > 1/2 and it falls to 0 as gamma grows (the lower
        // argument (root - 3) gamma - root goes to infinity): bracket, then bisect.
        let (mut low, mut high) = (1.0, 2.0);
        while overlap(high) > 0.5 {
            high *= 2.0;
        }
        while high - low > 1e-12 {
            let mid = 0.5 * (low + high);
            if overlap(mid) > 0.5 {
                low = mid;
            } else {
                high = mid;
            }
        }
        Ok(0.5 * (low + high))
    }

    /// Geometric levels from `sigma_max` down to `sigma_min` with the ratio of technique 2 for
    /// dimension `dim`: L = 1 + ceil(ln(sigma_max / sigma_min) / ln gamma) levels, so that the
    /// actual ratio (sigma_max / sigma_min)^(1 / (L - 1)) is at most gamma.
    ///
    /// ```
    /// use sgm_schedules::GeometricSigmas;
    /// let s = GeometricSigmas::for_dimension(0.01, 50.0, 3 * 32 * 32)?;
    /// assert!(s.ratio() <= GeometricSigmas::ratio_for_dimension(3 * 32 * 32)?);
    /// # Ok::<(), sgm_schedules::ScheduleError>(())
    /// ```
    ///
    /// # Errors
    /// As [`GeometricSigmas::new`] and [`GeometricSigmas::ratio_for_dimension`].
    pub fn for_dimension(sigma_min: f64, sigma_max: f64, dim: usize) -> Result<Self> {
        crate::sigmas::check_sigma_range(sigma_min, sigma_max)?;
        let gamma = Self::ratio_for_dimension(dim)?;
        let levels = 1 + ((sigma_max / sigma_min).ln() / gamma.ln()).ceil() as usize;
        Self::new(sigma_min, sigma_max, levels.max(2))
    }

    /// Levels chosen from a data set `[n, d]` (techniques 1 and 2): sigma_max is the largest
    /// pairwise distance of the rows ([`max_pairwise_distance`]), so that the largest level
    /// can carry any data point to any other, and the number of levels follows from d
    /// ([`GeometricSigmas::for_dimension`]); `sigma_min` is the user's (the finest detail to
    /// keep, 0.01 for images in [0, 1]).
    ///
    /// ```
    /// use burn::prelude::*;
    /// use sgm_schedules::GeometricSigmas;
    ///
    /// let mut rows = vec![0.0f32; 2 * 8];
    /// rows[8..].fill(1.0); // two points at distance sqrt(8)
    /// let data = Tensor::<2>::from_data(TensorData::new(rows, [2, 8]), &Device::flex());
    /// let s = GeometricSigmas::from_data(data, 0.01)?;
    /// assert!((s.sigma_max() - 8f64.sqrt()).abs() < 1e-6);
    /// # Ok::<(), sgm_schedules::ScheduleError>(())
    /// ```
    ///
    /// # Errors
    /// As [`GeometricSigmas::for_dimension`] (including `InvalidSigmas` when all rows are
    /// within `sigma_min` of each other).
    pub fn from_data(data: Tensor<2>, sigma_min: f64) -> Result<Self> {
        let dim = data.dims()[1];
        Self::for_dimension(sigma_min, max_pairwise_distance(data), dim)
    }

    /// The ratio sigma_{i-1} / sigma_i of consecutive levels.
    pub fn ratio(&self) -> f64 {
        self.sigmas()[0] / self.sigmas()[1]
    }

    /// The step size epsilon of annealed Langevin dynamics with `steps_per_level` steps T per
    /// level (technique 4; the step at level i is alpha_i = epsilon sigma_i^2 / sigma_L^2):
    /// the epsilon that brings the variance ratio of Proposition 3,
    ///
    /// ```text
    /// s_T^2 / sigma_i^2 = (1 - a)^(2T) (gamma^2 - 2 / (2 - a)) + 2 / (2 - a),   a = epsilon / sigma_L^2,
    /// ```
    ///
    /// closest to 1 (a sample that enters a level with the previous level's spread leaves it
    /// with this one's). Found by a scan of a over (0, 1) on a log grid, refined by golden
    /// section. NCSNv2's CIFAR-10 levels (50 to 0.01, L = 232, T = 5) give its 6.2e-6.
    ///
    /// ```
    /// use sgm_schedules::GeometricSigmas;
    /// let s = GeometricSigmas::new(0.01, 50.0, 232)?;
    /// let eps = s.langevin_step_size(5)?;
    /// assert!((eps / 6.2e-6 - 1.0).abs() < 0.05);
    /// # Ok::<(), sgm_schedules::ScheduleError>(())
    /// ```
    ///
    /// # Errors
    /// `CoreError::ZeroCount` for `steps_per_level = 0`.
    pub fn langevin_step_size(&self, steps_per_level: usize) -> Result<f64> {
        sgm_core::validate::nonzero("steps_per_level", steps_per_level)?;
        let (gamma2, steps) = (self.ratio().powi(2), steps_per_level as f64);
        let distance = |a: f64| {
            let stationary = 2.0 / (2.0 - a);
            ((1.0 - a).powf(2.0 * steps) * (gamma2 - stationary) + stationary - 1.0).abs()
        };
        let grid: Vec<f64> = (0..=4000)
            .map(|k| 10f64.powf(-12.0 + 12.0 * k as f64 / 4000.0) * (1.0 - 1e-9))
            .collect();
        let best = (0..grid.len())
            .min_by(|&i, &j| distance(grid[i]).total_cmp(&distance(grid[j])))
            .expect("a non-empty grid");
        let (mut low, mut high) = (grid[best.saturating_sub(1)], grid[(best + 1).min(4000)]);
        let phi = 0.5 * (5f64.sqrt() - 1.0);
        for _ in 0..100 {
            let (x1, x2) = (high - phi * (high - low), low + phi * (high - low));
            if distance(x1) < distance(x2) {
                high = x2;
            } else {
                low = x1;
            }
        }
        Ok(0.5 * (low + high) * self.sigma_min().powi(2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ratio solves the defining equation, here evaluated with erf directly (not through
    /// `log_normal_interval`).
    ///
    /// Mutations checked: `3.0 * gamma` -> `2.0 * gamma`, or `2.0 * dim` -> `dim` in the root,
    /// fail the equation.
    #[test]
    fn the_ratio_solves_the_overlap_equation() {
        let cdf = |u: f64| 0.5 * (1.0 + libm::erf(u / std::f64::consts::SQRT_2));
        for dim in [5usize, 64, 784, 3072, 196_608] {
            let gamma = GeometricSigmas::ratio_for_dimension(dim).unwrap();
            let root = (2.0 * dim as f64).sqrt();
            let overlap =
                cdf(root * (gamma - 1.0) + 3.0 * gamma) - cdf(root * (gamma - 1.0) - 3.0 * gamma);
            assert!((overlap - 0.5).abs() < 1e-9, "dim {dim}: {overlap}");
            assert!(gamma > 1.0);
        }
        assert!(GeometricSigmas::ratio_for_dimension(4).is_err());
    }

    /// Technique 4 against NCSNv2's published configurations: CIFAR-10 (sigma 50 to 0.01,
    /// L = 232, T = 5: epsilon = 6.2e-6) and CelebA (90 to 0.01, L = 500, T = 5: 3.3e-6),
    /// which the paper gives to two digits (bound: 5%).
    ///
    /// Mutations checked: dropping the `(1 - a)^(2T)` factor's 2, or `2 / (2 - a)` ->
    /// `1 / (2 - a)`, move both off by more than 5%.
    #[test]
    fn the_step_size_reproduces_ncsnv2_configs() {
        for (sigma_max, levels, expected) in [(50.0, 232, 6.2e-6), (90.0, 500, 3.3e-6)] {
            let s = GeometricSigmas::new(0.01, sigma_max, levels).unwrap();
            let eps = s.langevin_step_size(5).unwrap();
            assert!((eps / expected - 1.0).abs() < 0.05, "{sigma_max}: {eps}");
        }
    }

    /// The levels from data: sigma_max is the largest distance (points at known distances in
    /// 8 dimensions), the number of levels makes the ratio at most gamma and one fewer would
    /// exceed it.
    ///
    /// Mutations checked: `ceil` -> `floor` makes the ratio exceed gamma; a distance without
    /// the `- 2 a.b` term fails sigma_max.
    #[test]
    fn levels_from_data_span_the_largest_distance() {
        let device = Device::flex();
        let mut rows = vec![0.0f32; 3 * 8];
        rows[8..16].fill(1.0);
        rows[16] = -2.0; // |(-2, 0, ...) - (1, ..., 1)| = sqrt(9 + 7) = 4
        let data = Tensor::<2>::from_data(TensorData::new(rows, [3, 8]), &device);
        let s = GeometricSigmas::from_data(data, 0.01).unwrap();
        assert!((s.sigma_max() - 4.0).abs() < 1e-9, "{}", s.sigma_max());
        let gamma = GeometricSigmas::ratio_for_dimension(8).unwrap();
        assert!(s.ratio() <= gamma);
        let fewer = (s.sigma_max() / s.sigma_min()).powf(1.0 / (s.len() - 2) as f64);
        assert!(fewer > gamma);
        // More rows than a block: the maximum pair sits in different blocks.
        let n = BLOCK + 10;
        let mut rows = vec![0.0f32; n * 5];
        rows[0] = 3.0;
        rows[(n - 1) * 5] = -3.0;
        let data = Tensor::<2>::from_data(TensorData::new(rows, [n, 5]), &device);
        assert!((max_pairwise_distance(data) - 6.0).abs() < 1e-9);
    }
}

use burn::prelude::*;
use sgm_core::tensor::{check_dim, to_f64};
use sgm_core::validate::{at_least, positive};

use crate::{MetricError, Result};

/// The Gaussian kernel k(x, y) = exp(-|x - y|^2 / (2 l^2)) with bandwidth l.
///
/// ```
/// use sgm_metrics::GaussianKernel;
/// assert_eq!(GaussianKernel::new(0.5)?.bandwidth(), 0.5);
/// assert!(GaussianKernel::new(0.0).is_err());
/// # Ok::<(), sgm_metrics::MetricError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaussianKernel {
    bandwidth: f64,
}

impl GaussianKernel {
    /// The kernel with bandwidth l = `bandwidth`.
    ///
    /// # Errors
    /// [`MetricError::Core`] (`InvalidParameter`) unless l is finite and > 0.
    pub fn new(bandwidth: f64) -> Result<Self> {
        Ok(Self {
            bandwidth: positive("bandwidth", bandwidth)?,
        })
    }

    /// The bandwidth l.
    pub fn bandwidth(&self) -> f64 {
        self.bandwidth
    }

    /// The kernel matrix of the rows of `x` and `y`, `[n, m]`.
    fn matrix(&self, x: &Tensor<2>, y: &Tensor<2>) -> Tensor<2> {
        (squared_distances(x, y) * (-0.5 / (self.bandwidth * self.bandwidth))).exp()
    }
}

/// |x_i - y_j|^2 for all pairs, `[n, m]`, as |x|^2 + |y|^2 - 2 x y^T (one matmul), clamped at 0
/// against cancellation.
fn squared_distances(x: &Tensor<2>, y: &Tensor<2>) -> Tensor<2> {
    let xx = x.clone().square().sum_dim(1); // [n, 1]
    let yy = y.clone().square().sum_dim(1).transpose(); // [1, m]
    (xx + yy - x.clone().matmul(y.clone().transpose()) * 2.0).clamp_min(0.0)
}

/// Checks two sample sets: at least 2 rows each, the same dimension.
fn check_samples(x: &Tensor<2>, y: &Tensor<2>) -> Result<()> {
    at_least("samples of x", x.dims()[0], 2)?;
    at_least("samples of y", y.dims()[0], 2)?;
    check_dim("y", y, x.dims()[1])?;
    Ok(())
}

/// The mean of the off-diagonal entries of a square pair matrix (the U-statistic over i != j);
/// the diagonal is taken from the matrix itself, so its round-off (|x|^2 + |x|^2 - 2 x.x is not
/// exactly 0 in floating point) does not leak in.
fn off_diagonal_mean(matrix: Tensor<2>) -> Tensor<1> {
    let n = matrix.dims()[0];
    let eye = Tensor::<2>::eye(n, &matrix.device()).cast(matrix.dtype());
    let diagonal = (matrix.clone() * eye).sum();
    (matrix.sum() - diagonal) / (n * (n - 1)) as f64
}

/// Reads a scalar metric, erroring when it is not finite.
fn finite_scalar(value: Tensor<1>, what: &'static str) -> Result<f64> {
    let v = to_f64(value)[0];
    if v.is_finite() {
        Ok(v)
    } else {
        Err(MetricError::NonFinite { what })
    }
}

/// The unbiased estimate of the squared maximum mean discrepancy (Gretton et al., JMLR 2012,
/// eq. 3) between the laws of the rows of `x` (`[n, d]`) and `y` (`[m, d]`):
///
/// ```text
/// MMD_u^2 = 1/(n(n-1)) sum_{i != j} k(x_i, x_j) + 1/(m(m-1)) sum_{i != j} k(y_i, y_j)
///         - 2/(n m) sum_{i, j} k(x_i, y_j),
/// ```
///
/// whose expectation is exactly MMD^2 = E k(x, x') + E k(y, y') - 2 E k(x, y) (so it can be
/// negative when the laws are equal). Costs three kernel matrices, O((n + m)^2 d).
///
/// ```
/// use burn::prelude::*;
/// use sgm_metrics::{GaussianKernel, mmd_squared};
/// let device = Device::flex();
/// let x = Tensor::<2>::from_data([[0.0], [1.0]], &device);
/// let y = Tensor::<2>::from_data([[0.0], [3.0]], &device);
/// let k = |d: f64| (-d * d / 2.0).exp();
/// let want = k(1.0) + k(3.0) - 2.0 * (k(0.0) + k(3.0) + k(1.0) + k(2.0)) / 4.0;
/// assert!((mmd_squared(x, y, GaussianKernel::new(1.0)?)? - want).abs() < 1e-6);
/// # Ok::<(), sgm_metrics::MetricError>(())
/// ```
///
/// # Errors
/// [`MetricError::Core`] for fewer than 2 rows in either set or different dimensions;
/// [`MetricError::NonFinite`] for non-finite samples.
pub fn mmd_squared(x: Tensor<2>, y: Tensor<2>, kernel: GaussianKernel) -> Result<f64> {
    check_samples(&x, &y)?;
    let kxx = off_diagonal_mean(kernel.matrix(&x, &x));
    let kyy = off_diagonal_mean(kernel.matrix(&y, &y));
    let kxy = kernel.matrix(&x, &y).mean();
    finite_scalar(kxx + kyy - kxy * 2.0, "MMD")
}

/// The unbiased estimate of the energy distance (Szekely & Rizzo, InterStat 2004) between the
/// laws of the rows of `x` (`[n, d]`) and `y` (`[m, d]`):
///
/// ```text
/// E^2 = 2 E|X - Y| - E|X - X'| - E|Y - Y'|,
/// ```
///
/// with the within-set means over i != j, so its expectation is exactly E^2, which is >= 0 and
/// 0 only for equal laws. Costs three distance matrices, O((n + m)^2 d).
///
/// ```
/// use burn::prelude::*;
/// use sgm_metrics::energy_distance;
/// let device = Device::flex();
/// let x = Tensor::<2>::from_data([[0.0], [1.0]], &device);
/// let y = Tensor::<2>::from_data([[0.0], [3.0]], &device);
/// let want = 2.0 * (0.0 + 3.0 + 1.0 + 2.0) / 4.0 - 1.0 - 3.0;
/// assert!((energy_distance(x, y)? - want).abs() < 1e-6);
/// # Ok::<(), sgm_metrics::MetricError>(())
/// ```
///
/// # Errors
/// As [`mmd_squared`].
pub fn energy_distance(x: Tensor<2>, y: Tensor<2>) -> Result<f64> {
    check_samples(&x, &y)?;
    let distance = |a: &Tensor<2>, b: &Tensor<2>| squared_distances(a, b).sqrt();
    let dxx = off_diagonal_mean(distance(&x, &x));
    let dyy = off_diagonal_mean(distance(&y, &y));
    let dxy = distance(&x, &y).mean();
    finite_scalar(dxy * 2.0 - dxx - dyy, "energy distance")
}

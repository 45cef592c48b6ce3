use burn::prelude::*;
use nalgebra::{DMatrix, DVector, SymmetricEigen};
use sgm_core::CoreError;
use sgm_core::tensor::to_f64;

use crate::{FeatureMap, MetricError, Result};

/// A Gaussian N(mean, covariance) fitted to features (or given), in f64 on the host.
///
/// ```
/// use burn::prelude::*;
/// use sgm_metrics::GaussianFit;
/// // The corners of the square [0, 2]^2: mean (1, 1), unbiased covariance 4/3 I.
/// let x = Tensor::<2>::from_data([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]], &Device::flex());
/// let fit = GaussianFit::from_samples(x)?;
/// assert_eq!(fit.mean().as_slice(), &[1.0, 1.0]);
/// assert!((fit.covariance()[(0, 0)] - 4.0 / 3.0).abs() < 1e-12 && fit.covariance()[(0, 1)] == 0.0);
/// assert!(GaussianFit::new(vec![0.0], vec![-1.0]).is_err());
/// # Ok::<(), sgm_metrics::MetricError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianFit {
    mean: DVector<f64>,
    covariance: DMatrix<f64>,
}

impl GaussianFit {
    /// The Gaussian with `mean` (length d) and `covariance` (d x d, row-major).
    ///
    /// # Errors
    /// [`MetricError::Core`] (`ShapeMismatch`) when the covariance is not d x d or d = 0;
    /// [`MetricError::NonFinite`] for a non-finite entry; [`MetricError::NotCovariance`] when it
    /// is not symmetric (to 1e-10 relative) or has an eigenvalue below -1e-10 of its largest.
    pub fn new(mean: Vec<f64>, covariance: Vec<f64>) -> Result<Self> {
        let d = sgm_core::validate::nonzero("dimension", mean.len())?;
        if covariance.len() != d * d {
            return Err(CoreError::ShapeMismatch {
                what: "covariance",
                expected: vec![d, d],
                found: vec![covariance.len()],
            }
            .into());
        }
        if mean.iter().chain(&covariance).any(|v| !v.is_finite()) {
            return Err(MetricError::NonFinite {
                what: "Gaussian fit",
            });
        }
        let covariance = DMatrix::from_row_slice(d, d, &covariance);
        let scale = covariance.amax().max(f64::MIN_POSITIVE);
        if (&covariance - covariance.transpose()).amax() > 1e-10 * scale {
            return Err(MetricError::NotCovariance {
                reason: "not symmetric",
            });
        }
        if SymmetricEigen::new(covariance.clone()).eigenvalues.min() < -1e-10 * scale {
            return Err(MetricError::NotCovariance {
                reason: "negative eigenvalue",
            });
        }
        Ok(Self {
            mean: DVector::from_vec(mean),
            covariance,
        })
    }

    /// The sample mean and the unbiased sample covariance (divisor n - 1, as `numpy.cov` and the
    /// FID reference code) of the rows of `x` (`[n, d]`), read to the host once.
    ///
    /// # Errors
    /// [`MetricError::Core`] (`TooFew`) for fewer than 2 rows; [`MetricError::NonFinite`] for a
    /// non-finite sample.
    pub fn from_samples(x: Tensor<2>) -> Result<Self> {
        let [n, d] = x.dims();
        sgm_core::validate::at_least("samples", n, 2)?;
        let values = to_f64(x);
        if values.iter().any(|v| !v.is_finite()) {
            return Err(MetricError::NonFinite { what: "samples" });
        }
        let data = DMatrix::from_row_slice(n, d, &values);
        let mean = data.row_mean().transpose();
        let centred = DMatrix::from_fn(n, d, |i, j| data[(i, j)] - mean[j]);
        let covariance = centred.transpose() * &centred / (n as f64 - 1.0);
        Ok(Self { mean, covariance })
    }

    /// The mean.
    pub fn mean(&self) -> &DVector<f64> {
        &self.mean
    }

    /// The covariance.
    pub fn covariance(&self) -> &DMatrix<f64> {
        &self.covariance
    }
}

/// The symmetric PSD square root (eigenvalues clamped at 0 against round-off).
fn psd_sqrt(m: DMatrix<f64>) -> DMatrix<f64> {
    let eig = SymmetricEigen::new(m);
    let root = eig.eigenvalues.map(|l| l.max(0.0).sqrt());
    &eig.eigenvectors * DMatrix::from_diagonal(&root) * eig.eigenvectors.transpose()
}

/// The Frechet distance between Gaussians, which is their squared 2-Wasserstein distance
/// (Dowson & Landau 1982):
///
/// ```text
/// d^2 = |m_1 - m_2|^2 + tr(S_1 + S_2 - 2 (S_1^(1/2) S_2 S_1^(1/2))^(1/2)).
/// ```
///
/// The matrix square roots are taken by symmetric eigendecompositions (S_1^(1/2) S_2 S_1^(1/2) is
/// symmetric PSD), so no complex round-off appears, unlike `scipy.linalg.sqrtm(S_1 S_2)`.
///
/// ```
/// use sgm_metrics::{GaussianFit, frechet_distance};
/// // 1-D: (m_1 - m_2)^2 + (s_1 - s_2)^2.
/// let a = GaussianFit::new(vec![0.0], vec![4.0])?;
/// let b = GaussianFit::new(vec![1.0], vec![1.0])?;
/// assert!((frechet_distance(&a, &b)? - (1.0 + 1.0)).abs() < 1e-12);
/// # Ok::<(), sgm_metrics::MetricError>(())
/// ```
///
/// # Errors
/// [`MetricError::Core`] (`ShapeMismatch`) for fits of different dimensions.
pub fn frechet_distance(a: &GaussianFit, b: &GaussianFit) -> Result<f64> {
    if a.mean.len() != b.mean.len() {
        return Err(CoreError::ShapeMismatch {
            what: "Gaussian fits",
            expected: vec![a.mean.len()],
            found: vec![b.mean.len()],
        }
        .into());
    }
    let root_a = psd_sqrt(a.covariance.clone());
    let cross = psd_sqrt(&root_a * &b.covariance * &root_a);
    let mean_term = (&a.mean - &b.mean).norm_squared();
    Ok(mean_term + a.covariance.trace() + b.covariance.trace() - 2.0 * cross.trace())
}

/// The Frechet distance between the Gaussian fits of two sample sets' features: FID when the
/// features are Inception-v3's pool layer (Heusel et al., NeurIPS 2017), the classifier-based
/// Frechet distance with a small classifier's features.
///
/// The estimate from n samples is biased upward by O(k / n) (k features): compare models at the
/// same n, and report the distance of a second data sample as the floor.
///
/// ```
/// use burn::prelude::*;
/// use sgm_metrics::{FrechetDistance, IdentityFeatures};
/// let device = Device::flex();
/// let x = Tensor::<2>::from_data([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]], &device);
/// let fd = FrechetDistance::new(IdentityFeatures);
/// assert!(fd.distance(x.clone(), x.clone())?.abs() < 1e-12);
/// assert!((fd.distance(x.clone(), x + 1.0)? - 2.0).abs() < 1e-12); // shifted mean
/// # Ok::<(), sgm_metrics::MetricError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct FrechetDistance<F> {
    features: F,
}

impl<F: FeatureMap> FrechetDistance<F> {
    /// The distance of the Gaussian fits of `features`.
    pub fn new(features: F) -> Self {
        Self { features }
    }

    /// The fit of the features of `x`.
    ///
    /// # Errors
    /// As [`GaussianFit::from_samples`].
    pub fn fit(&self, x: Tensor<2>) -> Result<GaussianFit> {
        GaussianFit::from_samples(self.features.features(x))
    }

    /// The Frechet distance between the feature fits of `x` and `y`.
    ///
    /// # Errors
    /// As [`GaussianFit::from_samples`] and [`frechet_distance`].
    pub fn distance(&self, x: Tensor<2>, y: Tensor<2>) -> Result<f64> {
        frechet_distance(&self.fit(x)?, &self.fit(y)?)
    }
}

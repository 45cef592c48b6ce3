use burn::prelude::*;
use burn::tensor::DType;
use nalgebra::{DMatrix, SymmetricEigen};
use sgm_core::NoiseSource;
use sgm_core::NoiseSourceExt;
use sgm_core::tensor::{column, from_f64};

use crate::{DataError, ExactDensity, Result};

/// A Gaussian N(mu, Sigma) in d dimensions, with full or isotropic covariance.
///
/// With Sigma = U diag(lambda) U^T (computed once, by `nalgebra`), the perturbed law
/// N(m mu, m^2 Sigma + std^2 I) has, for y = U^T (x - m mu) and w = m^2 lambda + std^2,
///
/// ```text
/// log p(x)  = -1/2 (d ln 2 pi + sum_j ln w_j + sum_j y_j^2 / w_j),
/// score     = -U (y / w),
/// J score v = -U ((U^T v) / w)          (the Hessian of log p is constant in x).
/// ```
///
/// ```
/// use sgm_data::{ExactDensity, Gaussian};
/// let g = Gaussian::new(vec![1.0, -1.0], vec![2.0, 0.5, 0.5, 1.0])?;
/// assert_eq!(g.dim(), 2);
/// let (mean, cov) = g.perturbed_moments(0.5, 1.0);
/// assert_eq!(mean, vec![0.5, -0.5]);
/// assert!((cov[0] - (0.25 * 2.0 + 1.0)).abs() < 1e-12);
/// # Ok::<(), sgm_data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Gaussian {
    mean: Vec<f64>,
    cov: Vec<f64>,
    eigenvalues: Vec<f64>,
    /// U, row-major: column j is the j-th eigenvector.
    eigenvectors: Vec<f64>,
}

impl Gaussian {
    /// N(`mean`, `cov`) with `cov` a d x d row-major symmetric positive definite matrix.
    ///
    /// # Errors
    /// [`DataError::DimensionMismatch`] if `cov` is not d x d;
    /// [`DataError::NotPositiveDefinite`] if it is not symmetric (to 1e-10 relative) or has an
    /// eigenvalue <= 1e-12 times the largest; [`DataError::Core`] (`CoreError::InvalidParameter`) for non-finite
    /// entries or an empty mean.
    pub fn new(mean: Vec<f64>, cov: Vec<f64>) -> Result<Self> {
        let d = mean.len();
        if d == 0 {
            return Err(DataError::from(sgm_core::validate::invalid(
                "dimension",
                0.0,
                "at least 1",
            )));
        }
        if cov.len() != d * d {
            return Err(DataError::DimensionMismatch {
                what: "covariance entries",
                expected: d * d,
                found: cov.len(),
            });
        }
        if let Some(&bad) = mean.iter().chain(cov.iter()).find(|v| !v.is_finite()) {
            return Err(DataError::from(sgm_core::validate::invalid(
                "mean or covariance entry",
                bad,
                "finite",
            )));
        }
        let scale = cov.iter().fold(0.0f64, |a, &b| a.max(b.abs()));
        let matrix = DMatrix::from_row_slice(d, d, &cov);
        let asymmetry = (&matrix - matrix.transpose()).abs().max();
        if asymmetry > 1e-10 * scale {
            return Err(DataError::NotPositiveDefinite {
                reason: format!("|Sigma - Sigma^T| = {asymmetry:e}"),
            });
        }
        let eigen = SymmetricEigen::new(matrix);
        let eigenvalues: Vec<f64> = eigen.eigenvalues.iter().copied().collect();
        let (lo, hi) = eigenvalues
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(lo, hi), &l| {
                (lo.min(l), hi.max(l))
            });
        if lo <= 1e-12 * hi {
            return Err(DataError::NotPositiveDefinite {
                reason: format!("smallest eigenvalue {lo:e}, largest {hi:e}"),
            });
        }
        let u = eigen.eigenvectors;
        let eigenvectors = (0..d)
            .flat_map(|i| (0..d).map(move |j| (i, j)))
            .map(|(i, j)| u[(i, j)])
            .collect();
        Ok(Self {
            mean,
            cov,
            eigenvalues,
            eigenvectors,
        })
    }

    /// N(`mean`, std^2 I).
    ///
    /// # Errors
    /// [`DataError::Core`] (`CoreError::InvalidParameter`) unless std is finite and > 0.
    pub fn isotropic(mean: Vec<f64>, std: f64) -> Result<Self> {
        if !(std.is_finite() && std > 0.0) {
            return Err(DataError::from(sgm_core::validate::invalid(
                "std",
                std,
                "finite and > 0",
            )));
        }
        let d = mean.len();
        let cov = (0..d * d)
            .map(|k| if k / d == k % d { std * std } else { 0.0 })
            .collect();
        Self::new(mean, cov)
    }

    /// The mean mu.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// The covariance Sigma, row-major.
    pub fn cov(&self) -> &[f64] {
        &self.cov
    }

    /// The eigenvalues lambda of Sigma.
    pub fn eigenvalues(&self) -> &[f64] {
        &self.eigenvalues
    }

    /// Mean m mu and covariance m^2 Sigma + std^2 I (row-major) of the perturbed law.
    pub fn perturbed_moments(&self, m: f64, std: f64) -> (Vec<f64>, Vec<f64>) {
        let d = self.dim();
        let mean = self.mean.iter().map(|mu| m * mu).collect();
        let cov = (0..d * d)
            .map(|k| m * m * self.cov[k] + if k / d == k % d { std * std } else { 0.0 })
            .collect();
        (mean, cov)
    }

    /// y = U^T (x - m mu) and w = m^2 lambda + std^2, both `[batch, d]`, and U.
    fn whiten(
        &self,
        x: Tensor<2>,
        log_m: Tensor<1>,
        std: Tensor<1>,
    ) -> (Tensor<2>, Tensor<2>, Tensor<2>) {
        let d = self.dim();
        let (device, dtype) = (x.device(), x.dtype());
        let m = column(log_m.exp());
        let mu = from_f64(&self.mean, [1, d], &device, dtype);
        let lambda = from_f64(&self.eigenvalues, [1, d], &device, dtype);
        let u = from_f64(&self.eigenvectors, [d, d], &device, dtype);
        let y = (x - mu * m.clone()).matmul(u.clone());
        let w = lambda * m.square() + column(std.square());
        (y, w, u)
    }
}

impl ExactDensity for Gaussian {
    fn dim(&self) -> usize {
        self.mean.len()
    }

    fn sample(
        &self,
        n: usize,
        device: &Device,
        dtype: DType,
        noise: &mut dyn NoiseSource,
    ) -> Tensor<2> {
        let d = self.dim();
        let z = noise.sample(sgm_core::Noise::StandardNormal, [n, d], device, dtype);
        let sqrt_lambda: Vec<f64> = self.eigenvalues.iter().map(|l| l.sqrt()).collect();
        let u = from_f64(&self.eigenvectors, [d, d], device, dtype);
        let mu = from_f64(&self.mean, [1, d], device, dtype);
        (z * from_f64(&sqrt_lambda, [1, d], device, dtype)).matmul(u.transpose()) + mu
    }

    fn log_prob_perturbed(&self, x: Tensor<2>, log_m: Tensor<1>, std: Tensor<1>) -> Tensor<1> {
        let d = self.dim() as f64;
        let (y, w, _) = self.whiten(x, log_m, std);
        let quad = (y.square() / w.clone()).sum_dim(1);
        ((quad + w.log().sum_dim(1)) * -0.5 - 0.5 * d * (2.0 * std::f64::consts::PI).ln())
            .squeeze_dim(1)
    }

    fn score_perturbed(&self, x: Tensor<2>, log_m: Tensor<1>, std: Tensor<1>) -> Tensor<2> {
        let (y, w, u) = self.whiten(x, log_m, std);
        -(y / w).matmul(u.transpose())
    }

    fn score_jvp_perturbed(
        &self,
        x: Tensor<2>,
        log_m: Tensor<1>,
        std: Tensor<1>,
        v: Tensor<2>,
    ) -> (Tensor<2>, Tensor<2>) {
        let (y, w, u) = self.whiten(x, log_m, std);
        let ut = u.clone().transpose();
        let score = -(y / w.clone()).matmul(ut.clone());
        let jvp = -(v.matmul(u) / w).matmul(ut);
        (score, jvp)
    }
}

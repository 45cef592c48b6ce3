use burn::module::Param;
use burn::prelude::*;
use burn::tensor::DType;
use sgm_core::tensor::{from_f64, to_f64};

use crate::{EnergyError, EnergyModel, Result};

/// The quadratic energy E(x) = 1/2 (x - mu)^T P (x - mu) of the Gaussian N(mu, P^-1), with P
/// symmetric positive definite: grad E = P (x - mu), H v = P v, tr H = tr P, and the normaliser
/// log Z = d/2 log(2 pi) - 1/2 log det P in closed form. The test energy of score matching:
/// every objective's minimiser over quadratic energies is known.
///
/// ```
/// use burn::prelude::*;
/// use burn::tensor::DType;
/// use sgm_energy::{EnergyModel, QuadraticEnergy};
/// let device = Device::flex();
/// let energy = QuadraticEnergy::new(&[0.0, 0.0], &[2.0, 0.0, 0.0, 0.5], &device, DType::F32)?;
/// let x = Tensor::<2>::from_data([[1.0, 2.0]], &device);
/// let e: f32 = energy.energy(x.clone(), sgm_core::tensor::time_like(0.0, &x)).into_scalar();
/// assert_eq!(e, 0.5 * (2.0 + 0.5 * 4.0));
/// assert!((energy.log_normalizer()? - ((2.0 * std::f64::consts::PI).ln())).abs() < 1e-12); // det P = 1
/// assert_eq!(energy.precision(), vec![2.0, 0.0, 0.0, 0.5]);
/// assert!(QuadraticEnergy::new(&[0.0], &[-1.0], &device, DType::F32).is_err());
/// # Ok::<(), sgm_energy::EnergyError>(())
/// ```
#[derive(Module, Debug)]
pub struct QuadraticEnergy {
    /// mu as a `[1, d]` row.
    mu: Param<Tensor<2>>,
    /// The raw matrix A with P = (A + A^T) / 2 (A = P as built; training keeps P symmetric).
    precision: Param<Tensor<2>>,
}

impl QuadraticEnergy {
    /// The energy with mean `mu` (length d) and precision `precision` (d x d, row-major), held on
    /// `device` in `dtype` (and cast to the dtype of each input). Both are trainable parameters
    /// (a [`Module`]): on an autodiff device, score matching or contrastive divergence fits them.
    ///
    /// # Errors
    /// [`EnergyError::Core`] (`CoreError::ShapeMismatch`) when `precision` is not d x d or `mu`
    /// is empty, (`CoreError::InvalidParameter`) for a non-finite entry;
    /// [`EnergyError::NotPositiveDefinite`] when P is not symmetric (to 1e-12 relative) or has
    /// no Cholesky factor.
    pub fn new(mu: &[f64], precision: &[f64], device: &Device, dtype: DType) -> Result<Self> {
        let d = sgm_core::validate::nonzero("dimension", mu.len())?;
        if precision.len() != d * d {
            return Err(sgm_core::CoreError::ShapeMismatch {
                what: "precision matrix",
                expected: vec![d, d],
                found: vec![precision.len()],
            }
            .into());
        }
        for &v in mu.iter().chain(precision) {
            sgm_core::validate::finite("quadratic energy coefficient", v)?;
        }
        let p = nalgebra::DMatrix::from_row_slice(d, d, precision);
        let scale = p.amax().max(f64::MIN_POSITIVE);
        if (&p - p.transpose()).amax() > 1e-12 * scale {
            return Err(EnergyError::NotPositiveDefinite {
                reason: "not symmetric",
            });
        }
        log_det_cholesky(p)?;
        Ok(Self {
            mu: Param::from_tensor(from_f64(mu, [1, d], device, dtype)),
            precision: Param::from_tensor(from_f64(precision, [d, d], device, dtype)),
        })
    }

    /// log Z = log int exp(-E) = d/2 log(2 pi) - 1/2 log det P, from the current parameters
    /// (one read of P to the host).
    ///
    /// # Errors
    /// [`EnergyError::NotPositiveDefinite`] when training has left P without a Cholesky factor
    /// (then exp(-E) is not integrable).
    pub fn log_normalizer(&self) -> Result<f64> {
        let d = self.dim();
        let log_det = log_det_cholesky(nalgebra::DMatrix::from_row_slice(d, d, &self.precision()))?;
        Ok(0.5 * d as f64 * (2.0 * std::f64::consts::PI).ln() - 0.5 * log_det)
    }

    /// The dimension d.
    pub fn dim(&self) -> usize {
        self.mu.val().dims()[1]
    }

    /// The current mean mu, read to the host.
    pub fn mean(&self) -> Vec<f64> {
        to_f64(self.mu.val())
    }

    /// The current precision P = (A + A^T) / 2 (row-major), read to the host.
    pub fn precision(&self) -> Vec<f64> {
        to_f64(self.symmetric_precision(self.mu.val().dtype()))
    }

    /// P = (A + A^T) / 2 in `dtype`.
    fn symmetric_precision(&self, dtype: DType) -> Tensor<2> {
        let a = self.precision.val().cast(dtype);
        (a.clone() + a.transpose()) * 0.5
    }

    /// (x - mu, P) in the dtype of `x`.
    fn centred(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let dtype = x.dtype();
        (
            x - self.mu.val().cast(dtype),
            self.symmetric_precision(dtype),
        )
    }
}

/// log det P from a Cholesky factor of P.
fn log_det_cholesky(p: nalgebra::DMatrix<f64>) -> Result<f64> {
    let chol = p.cholesky().ok_or(EnergyError::NotPositiveDefinite {
        reason: "no Cholesky factor",
    })?;
    Ok(chol.l().diagonal().iter().map(|l| 2.0 * l.ln()).sum())
}

impl EnergyModel for QuadraticEnergy {
    fn energy(&self, x: Tensor<2>, _t: Tensor<1>) -> Tensor<1> {
        let (r, p) = self.centred(x);
        (r.clone().matmul(p) * r).sum_dim(1).squeeze_dim(1) * 0.5
    }

    fn energy_grad(&self, x: Tensor<2>, _t: Tensor<1>) -> Tensor<2> {
        let (r, p) = self.centred(x);
        r.matmul(p)
    }

    fn energy_hvp(&self, x: Tensor<2>, _t: Tensor<1>, v: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let (r, p) = self.centred(x);
        (r.matmul(p.clone()), v.matmul(p))
    }

    /// tr P for every sample.
    fn hessian_trace(&self, x: Tensor<2>, _t: Tensor<1>) -> Tensor<1> {
        let [batch, d] = x.dims();
        let eye = Tensor::<2>::eye(d, &x.device()).cast(x.dtype());
        let trace = (self.symmetric_precision(x.dtype()) * eye).sum();
        trace.expand([batch])
    }
}

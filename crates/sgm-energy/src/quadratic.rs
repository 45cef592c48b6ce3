use burn::prelude::*;
use burn::tensor::DType;
use sgm_core::tensor::from_f64;

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
/// assert!((energy.log_normalizer() - ((2.0 * std::f64::consts::PI).ln())).abs() < 1e-12); // det P = 1
/// assert!(QuadraticEnergy::new(&[0.0], &[-1.0], &device, DType::F32).is_err());
/// # Ok::<(), sgm_energy::EnergyError>(())
/// ```
#[derive(Debug, Clone)]
pub struct QuadraticEnergy {
    mu: Tensor<2>,
    precision: Tensor<2>,
    log_normalizer: f64,
    trace: f64,
}

impl QuadraticEnergy {
    /// The energy with mean `mu` (length d) and precision `precision` (d x d, row-major), held on
    /// `device` in `dtype` (and cast to the dtype of each input).
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
        let chol = p
            .clone()
            .cholesky()
            .ok_or(EnergyError::NotPositiveDefinite {
                reason: "no Cholesky factor",
            })?;
        let log_det: f64 = chol.l().diagonal().iter().map(|l| 2.0 * l.ln()).sum();
        Ok(Self {
            mu: from_f64(mu, [1, d], device, dtype),
            precision: from_f64(precision, [d, d], device, dtype),
            log_normalizer: 0.5 * d as f64 * (2.0 * std::f64::consts::PI).ln() - 0.5 * log_det,
            trace: p.trace(),
        })
    }

    /// log Z = log int exp(-E) = d/2 log(2 pi) - 1/2 log det P.
    pub fn log_normalizer(&self) -> f64 {
        self.log_normalizer
    }

    /// The dimension d.
    pub fn dim(&self) -> usize {
        self.mu.dims()[1]
    }

    /// (x - mu, P) in the dtype of `x`.
    fn centred(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let dtype = x.dtype();
        (
            x - self.mu.clone().cast(dtype),
            self.precision.clone().cast(dtype),
        )
    }
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
        Tensor::full([x.dims()[0]], self.trace, (&x.device(), x.dtype()))
    }
}

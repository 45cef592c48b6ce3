use sgm_core::CoreError;
use sgm_samplers::SamplerError;
use thiserror::Error;

/// Errors of `sgm-likelihood`.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum LikelihoodError {
    /// The truncation time is outside (0, T).
    #[error("eps = {eps} must lie in (0, T) with T = {t_end}")]
    InvalidEps {
        /// The truncation time.
        eps: f64,
        /// The SDE's terminal time.
        t_end: f64,
    },
    /// A bound came out NaN or infinite (a model that returns non-finite scores).
    #[error("{what} is not finite")]
    NonFinite {
        /// What was computed.
        what: &'static str,
    },
    /// From the ODE solver.
    #[error(transparent)]
    Solver(#[from] SamplerError),
    /// From `sgm-sde`.
    #[error(transparent)]
    Sde(#[from] sgm_sde::SdeError),
    /// From `sgm-core` (shape checks, counts).
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// Result alias of `sgm-likelihood`.
pub type Result<T, E = LikelihoodError> = std::result::Result<T, E>;

/// Checks 0 < eps < t_end.
pub(crate) fn check_eps(eps: f64, t_end: f64) -> Result<f64> {
    if eps.is_finite() && eps > 0.0 && eps < t_end {
        Ok(eps)
    } else {
        Err(LikelihoodError::InvalidEps { eps, t_end })
    }
}

/// Stops with [`LikelihoodError::NonFinite`] unless every element of `x` is finite (one read of
/// a single boolean from the device).
pub(crate) fn ensure_finite(what: &'static str, x: &burn::prelude::Tensor<1>) -> Result<()> {
    if sgm_core::tensor::all_finite(x) {
        Ok(())
    } else {
        Err(LikelihoodError::NonFinite { what })
    }
}

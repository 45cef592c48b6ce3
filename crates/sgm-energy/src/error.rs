use thiserror::Error;

/// Errors of `sgm-energy`.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum EnergyError {
    /// A bad parameter or shape, detected by `sgm-core`'s checks.
    #[error(transparent)]
    Core(#[from] sgm_core::CoreError),
    /// A sampler of `sgm-samplers` failed (CD's Langevin negatives diverged).
    #[error(transparent)]
    Sampler(#[from] sgm_samplers::SamplerError),
    /// A precision matrix that is not symmetric positive definite.
    #[error("the precision matrix is not symmetric positive definite ({reason})")]
    NotPositiveDefinite {
        /// What failed.
        reason: &'static str,
    },
    /// A chain's state or energy became NaN or infinite.
    #[error("non-finite state or energy at step {step}")]
    NonFinite {
        /// 0-based step at which it was found (the first one).
        step: usize,
    },
}

/// Result alias of `sgm-energy`.
pub type Result<T, E = EnergyError> = std::result::Result<T, E>;

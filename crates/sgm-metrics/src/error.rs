use thiserror::Error;

/// Errors of `sgm-metrics`.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum MetricError {
    /// A bad parameter, count or shape, detected by `sgm-core`'s checks.
    #[error(transparent)]
    Core(#[from] sgm_core::CoreError),
    /// A covariance that is not symmetric positive semi-definite.
    #[error("the covariance is not symmetric positive semi-definite ({reason})")]
    NotCovariance {
        /// What failed.
        reason: &'static str,
    },
    /// Samples or features with NaN or infinite entries.
    #[error("{what} is not finite")]
    NonFinite {
        /// What was computed.
        what: &'static str,
    },
}

/// Result alias of `sgm-metrics`.
pub type Result<T, E = MetricError> = std::result::Result<T, E>;

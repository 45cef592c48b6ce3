use thiserror::Error;

/// Errors of `sgm-data`.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum DataError {
    /// A parameter is out of range.
    #[error("invalid {name} = {value}: must be {requirement}")]
    InvalidParameter {
        /// Parameter name.
        name: &'static str,
        /// The offending value.
        value: f64,
        /// What it must satisfy.
        requirement: &'static str,
    },
    /// Dimensions of the parameters disagree.
    #[error("dimension mismatch in {what}: expected {expected}, found {found}")]
    DimensionMismatch {
        /// Which parameter.
        what: &'static str,
        /// The dimension required.
        expected: usize,
        /// The dimension passed.
        found: usize,
    },
    /// A covariance matrix is not symmetric positive definite.
    #[error("covariance is not symmetric positive definite: {reason}")]
    NotPositiveDefinite {
        /// Which condition failed, with the number.
        reason: String,
    },
    /// The embedded data file could not be decoded.
    #[error("digits data, line {line}: {reason}")]
    Parse {
        /// 1-based line number.
        line: usize,
        /// What went wrong.
        reason: String,
    },
}

/// Result alias of `sgm-data`.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

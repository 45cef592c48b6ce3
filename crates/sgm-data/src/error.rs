use thiserror::Error;

/// Errors of `sgm-data`.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum DataError {
    /// A bad parameter or shape, detected by `sgm-core`'s checks.
    #[error(transparent)]
    Core(#[from] sgm_core::CoreError),
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
    /// A data file could not be read.
    #[error("{}: {message}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error's message.
        message: String,
    },
    /// A data file is not in the format its reader expects.
    #[error("{}: {reason}", path.display())]
    Format {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong, with the numbers.
        reason: String,
    },
}

/// Result alias of `sgm-data`.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

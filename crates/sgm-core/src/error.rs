use thiserror::Error;

/// Errors of `sgm-core`: bad arguments detected before any tensor work starts.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum CoreError {
    /// Two tensors whose shapes must agree do not.
    #[error("shape mismatch in {what}: expected {expected:?}, found {found:?}")]
    ShapeMismatch {
        /// Which argument or computation.
        what: &'static str,
        /// The shape that was required.
        expected: Vec<usize>,
        /// The shape that was passed.
        found: Vec<usize>,
    },
    /// A scalar parameter is outside its valid range.
    #[error("invalid {name} = {value}: must be {requirement}")]
    InvalidParameter {
        /// Parameter name.
        name: &'static str,
        /// The offending value.
        value: f64,
        /// What the value must satisfy.
        requirement: &'static str,
    },
    /// A count that needs at least `min` (samples for a standard error, levels) has fewer.
    #[error("{name} needs at least {min}, got {count}")]
    TooFew {
        /// What is being counted.
        name: &'static str,
        /// The count passed.
        count: usize,
        /// The minimum.
        min: usize,
    },
    /// Two tensors that must share a dtype and device do not.
    #[error("incompatible {what}: expected {expected}, found {found}")]
    Incompatible {
        /// Which argument.
        what: &'static str,
        /// What was required.
        expected: String,
        /// What was passed.
        found: String,
    },
    /// A count (of probes, steps, samples) that must be positive is zero.
    #[error("{name} must be at least 1, got 0")]
    ZeroCount {
        /// What is being counted.
        name: &'static str,
    },
}

/// Result alias of `sgm-core`.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;

use thiserror::Error;

/// Invalid schedule parameters, with the values that were passed.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// A bad parameter or shape, detected by `sgm-core`'s checks.
    #[error(transparent)]
    Core(#[from] sgm_core::CoreError),
    /// The noise range is empty or not positive: needs 0 < sigma_min < sigma_max.
    #[error(
        "invalid sigma range: need 0 < sigma_min < sigma_max, got sigma_min = {sigma_min}, sigma_max = {sigma_max}"
    )]
    InvalidSigmas {
        /// Smallest noise level.
        sigma_min: f64,
        /// Largest noise level.
        sigma_max: f64,
    },
    /// A discrete beta is outside (0, 1).
    #[error("beta_{index} = {value} is outside (0, 1)")]
    InvalidBeta {
        /// 1-based step index.
        index: usize,
        /// The offending beta.
        value: f64,
    },
    /// A continuous beta range is invalid: needs 0 <= beta_min <= beta_max, beta_max > 0.
    #[error(
        "invalid beta range: need 0 <= beta_min <= beta_max and beta_max > 0, got beta_min = {beta_min}, beta_max = {beta_max}"
    )]
    InvalidBetaRange {
        /// beta(0).
        beta_min: f64,
        /// beta(1).
        beta_max: f64,
    },
    /// A time range is empty or outside the domain of its spacing.
    #[error("invalid time range from {from} to {to}: {reason}")]
    InvalidTimeRange {
        /// First time point.
        from: f64,
        /// Last time point.
        to: f64,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Result alias of `sgm-schedules`.
pub type Result<T, E = ScheduleError> = std::result::Result<T, E>;

use sgm_core::CoreError;
use thiserror::Error;

/// Errors of `sgm-losses`.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum LossError {
    /// A shape, count or parameter check of `sgm-core` failed.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// A quantity read back to the host is NaN or infinite.
    #[error("{what} is not finite")]
    NonFinite {
        /// What was computed.
        what: &'static str,
    },
}

/// Result alias of `sgm-losses`.
pub type Result<T, E = LossError> = std::result::Result<T, E>;

/// Checks 0 <= t_min < t_max, both finite.
pub(crate) fn time_range(t_min: f64, t_max: f64) -> Result<()> {
    if !(t_min.is_finite() && t_min >= 0.0) {
        return Err(LossError::from(sgm_core::validate::invalid(
            "t_min",
            t_min,
            "finite and >= 0",
        )));
    }
    if !(t_max.is_finite() && t_max > t_min) {
        return Err(LossError::from(sgm_core::validate::invalid(
            "t_max",
            t_max,
            "finite and > t_min",
        )));
    }
    Ok(())
}

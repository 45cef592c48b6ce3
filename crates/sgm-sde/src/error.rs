use sgm_schedules::ScheduleError;
use thiserror::Error;

/// Errors of `sgm-sde`.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum SdeError {
    /// The SDE's noise schedule is invalid.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// A shape check of `sgm-core` failed (a score model of the wrong shape).
    #[error(transparent)]
    Core(#[from] sgm_core::CoreError),
    /// A discretisation step is too coarse for the kernel (a DDPM beta_i = beta(t) dt >= 1).
    #[error(
        "step from t = {t} with dt = {dt} is too large: beta_i = beta(t) dt = {beta} must be < 1"
    )]
    StepTooLarge {
        /// Time at the end of the step.
        t: f64,
        /// Step length.
        dt: f64,
        /// The discrete beta it gives.
        beta: f64,
    },
}

/// Result alias of `sgm-sde`.
pub type Result<T, E = SdeError> = std::result::Result<T, E>;

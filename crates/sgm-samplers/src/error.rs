use sgm_core::CoreError;
use sgm_schedules::ScheduleError;
use sgm_sde::SdeError;
use thiserror::Error;

/// Errors of `sgm-samplers`.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum SamplerError {
    /// The sampler's state became NaN or infinite.
    #[error("non-finite state at step {step} (t = {t})")]
    NonFinite {
        /// 0-based step at which it was found.
        step: usize,
        /// The time of the state.
        t: f64,
    },
    /// The adaptive ODE solver hit its step limit.
    #[error("ODE solver stopped after {steps} steps at t = {t} (max_steps reached)")]
    TooManySteps {
        /// Steps taken.
        steps: usize,
        /// Time reached.
        t: f64,
    },
    /// The adaptive step size underflowed.
    #[error("ODE step size {h:e} at t = {t} is too small to make progress")]
    StepSizeUnderflow {
        /// The step size.
        h: f64,
        /// Time reached.
        t: f64,
    },
    /// From `sgm-sde` (a discretisation outside its range).
    #[error(transparent)]
    Sde(#[from] SdeError),
    /// From `sgm-schedules`.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// From `sgm-core`.
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// Result alias of `sgm-samplers`.
pub type Result<T, E = SamplerError> = std::result::Result<T, E>;

use burn::prelude::*;
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
    /// The SDE has no ancestral sampler (only VE and VP have one).
    #[error("the {sde} SDE has no ancestral sampling step (VE and VP have one)")]
    AncestralUnsupported {
        /// The SDE's name.
        sde: &'static str,
    },
    /// A sampler parameter is out of range.
    #[error("invalid {name} = {value}: must be {requirement}")]
    InvalidParameter {
        /// Parameter name.
        name: &'static str,
        /// The offending value.
        value: f64,
        /// What it must satisfy.
        requirement: &'static str,
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

/// Stops with [`SamplerError::NonFinite`] unless every element of `x` is finite.
pub(crate) fn ensure_finite(x: &Tensor<2>, step: usize, t: f64) -> Result<()> {
    if sgm_core::tensor::all_finite(x) {
        Ok(())
    } else {
        Err(SamplerError::NonFinite { step, t })
    }
}

/// Checks that a parameter is finite and > 0.
pub(crate) fn positive(name: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(SamplerError::InvalidParameter {
            name,
            value,
            requirement: "finite and > 0",
        })
    }
}

/// Checks that a count is at least one.
pub(crate) fn nonzero(name: &'static str, value: usize) -> Result<usize> {
    if value > 0 {
        Ok(value)
    } else {
        Err(CoreError::ZeroCount { name }.into())
    }
}

use thiserror::Error;

/// Errors of `sgm-nn`.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum NnError {
    /// A network configuration value is out of range.
    #[error("invalid {name} = {value}: must be {requirement}")]
    InvalidConfig {
        /// Field name.
        name: &'static str,
        /// The offending value.
        value: f64,
        /// What it must satisfy.
        requirement: &'static str,
    },
    /// The drift-cancelling parameterisation needs an SDE (drift and diffusion), not only
    /// Gaussian marginals.
    #[error("the drift-cancelling parameterisation needs a LinearSde: use Parameterized::with_sde")]
    DriftCancellingNeedsSde,
    /// Training produced a NaN or infinite loss.
    #[error("non-finite loss {loss} at training step {step}")]
    NonFiniteLoss {
        /// 0-based step.
        step: usize,
        /// The loss value.
        loss: f64,
    },
    /// The loss closure failed.
    #[error("loss failed at training step {step}: {message}")]
    Loss {
        /// 0-based step.
        step: usize,
        /// The loss error, rendered.
        message: String,
    },
}

/// Result alias of `sgm-nn`.
pub type Result<T, E = NnError> = std::result::Result<T, E>;

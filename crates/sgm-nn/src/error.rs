use thiserror::Error;

/// Errors of `sgm-nn`.
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum NnError {
    /// A bad parameter or shape, detected by `sgm-core`'s checks.
    #[error(transparent)]
    Core(#[from] sgm_core::CoreError),
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
    /// The loss failed (a model of the wrong shape, a loss's own check); `source` is its error.
    #[error("loss failed at training step {step}")]
    Loss {
        /// The step whose loss failed.
        step: usize,
        /// The loss's error, kept whole (downcast it to the loss's error type).
        #[source]
        source: std::sync::Arc<dyn std::error::Error + Send + Sync>,
    },
}

/// Result alias of `sgm-nn`.
pub type Result<T, E = NnError> = std::result::Result<T, E>;

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
    /// A checkpoint or loss log could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::sync::Arc<std::io::Error>,
    },
    /// The file is not an `sgm` checkpoint (another format, another version, or a section
    /// burn cannot read).
    #[error("{} is not an sgm checkpoint: expected {expected}, found {found}", path.display())]
    CheckpointForeign {
        /// The file.
        path: std::path::PathBuf,
        /// What an `sgm` checkpoint has there.
        expected: String,
        /// What the file has.
        found: String,
    },
    /// The checkpoint was cut short (a copy interrupted, a full disk).
    #[error("{} is a truncated checkpoint: {found} bytes, expected {expected}", path.display())]
    CheckpointTruncated {
        /// The file.
        path: std::path::PathBuf,
        /// The length its own header (or the fixed prefix) promises.
        expected: u64,
        /// Its length.
        found: u64,
    },
    /// The checkpoint is of another run: another config, model or state type.
    #[error("{} does not match this run: {what} is {found} there, expected {expected}", path.display())]
    CheckpointMismatch {
        /// The file.
        path: std::path::PathBuf,
        /// What differs (`config field learning_rate`, `model parameter shapes`, ...).
        what: String,
        /// This run's value.
        expected: String,
        /// The checkpoint's value.
        found: String,
    },
}

/// Result alias of `sgm-nn`.
pub type Result<T, E = NnError> = std::result::Result<T, E>;

use thiserror::Error;

/// Any error of the `sgm` crates.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// From `sgm-core`.
    #[error(transparent)]
    Core(#[from] sgm_core::CoreError),
    /// From `sgm-schedules`.
    #[error(transparent)]
    Schedule(#[from] sgm_schedules::ScheduleError),
    /// From `sgm-sde`.
    #[error(transparent)]
    Sde(#[from] sgm_sde::SdeError),
    /// From `sgm-data`.
    #[error(transparent)]
    Data(#[from] sgm_data::DataError),
    /// From `sgm-nn`.
    #[error(transparent)]
    Nn(#[from] sgm_nn::NnError),
    /// From `sgm-losses`.
    #[error(transparent)]
    Loss(#[from] sgm_losses::LossError),
    /// From `sgm-samplers`.
    #[error(transparent)]
    Sampler(#[from] sgm_samplers::SamplerError),
    /// From `sgm-likelihood`.
    #[error(transparent)]
    Likelihood(#[from] sgm_likelihood::LikelihoodError),
    /// From `sgm-energy`.
    #[error(transparent)]
    Energy(#[from] sgm_energy::EnergyError),
    /// From `sgm-metrics`.
    #[error(transparent)]
    Metric(#[from] sgm_metrics::MetricError),
    /// From device selection.
    #[error(transparent)]
    Device(#[from] crate::device::DeviceError),
}

/// Result alias of `sgm`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! Helpers shared by the `sgm` examples: device selection from the command line and PNG plots
//! (plotters) of particle clouds, score fields and trajectories.

pub mod plot;

use clap::Args;
use sgm::burn::prelude::Device;

/// Command-line options every example takes.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// burn device: flex, ndarray, wgpu, vulkan or cuda.
    #[arg(long, default_value = "flex")]
    pub device: String,
    /// Directory for the PNG files.
    #[arg(long, default_value = "out")]
    pub out: std::path::PathBuf,
    /// Seed of the host noise source.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl CommonArgs {
    /// The chosen device, and the output directory created.
    ///
    /// # Errors
    /// An unknown or uncompiled device, or an output directory that cannot be created.
    pub fn setup(&self) -> Result<Device, Box<dyn std::error::Error>> {
        std::fs::create_dir_all(&self.out)?;
        Ok(sgm::device::by_name(&self.device)?)
    }
}

//! The `sgm` examples as library code: each example's pipeline is a `run` function in the
//! module of its name (the example's `main` parses the command line and calls it; the tests in
//! `examples/tests/` call it with a short configuration), plus the helpers they share: device
//! selection from the command line and PNG plots (plotters) of particle clouds and images.

pub mod controllable;
pub mod custom_sampler;
pub mod digits;
pub mod digits_likelihood;
pub mod energy_model;
pub mod forward_diffusion;
pub mod learner;
pub mod ncsn_two_modes;
pub mod plot;
pub mod quickstart;
pub mod score_matching_compare;

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

/// The labels of the digits of `split`, as class indices.
pub fn digit_labels(digits: &sgm::data::Digits, split: sgm::data::Split) -> Vec<usize> {
    digits.labels(split).into_iter().map(usize::from).collect()
}

/// Grey levels (64 per image, row-major) as a `[n, 64]` f32 tensor of the levels themselves,
/// the input of [`Dequantization::dequantize`](sgm::likelihood::Dequantization).
pub fn levels_tensor(levels: &[u8], device: &Device) -> sgm::burn::prelude::Tensor<2> {
    let values: Vec<f64> = levels.iter().map(|&k| f64::from(k)).collect();
    let pixels = sgm::data::Digits::PIXELS;
    sgm::core::tensor::from_f64(
        &values,
        [levels.len() / pixels, pixels],
        device,
        sgm::burn::tensor::DType::F32,
    )
}

/// The mean of `values` and its standard error, sample sd / sqrt(n) (n - 1 in the variance).
pub fn mean_and_std_error(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (variance / n).sqrt())
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

//! Euler ancestral sampling (k-diffusion's `sample_euler_ancestral`).

use burn::prelude::*;
use sgm_core::{NoiseSource, NoiseSourceExt, ScoreModel};
use sgm_schedules::TimeGrid;
use sgm_sde::GaussianMarginals;

use super::run::{drive, grid_levels};
use crate::{Observer, Result, SampleOutput};

/// Euler ancestral sampling in the noise-level form y = x / m, sigma-bar = std / m (Karras et al.
/// 2022's formulation; Crowson's k-diffusion `sample_euler_ancestral`): each step from sigma to
/// sigma' splits sigma' into a deterministic part sigma_down and fresh noise sigma_up,
///
/// ```text
/// sigma_up   = min(sigma', eta sqrt(sigma'^2 (sigma^2 - sigma'^2) / sigma^2)),
/// sigma_down = sqrt(sigma'^2 - sigma_up^2),
/// y' = y + (sigma_down - sigma) (y - D(y, sigma)) / sigma + s_noise sigma_up z,
/// ```
///
/// which for eta = 1 is the exact ancestral step of the Gaussian posterior when D is exact at
/// the current point, and for eta = 0 Euler's method on the probability-flow ODE. Then one final
/// denoising. NFE: N on a grid of N points.
///
/// ```
/// use sgm_samplers::EulerAncestral;
/// use sgm_sde::{VpSde, log_snr_grid};
/// let vp = VpSde::default();
/// let sampler = EulerAncestral::new(vp, log_snr_grid(&vp, 1.0, 1e-3, 30)?, 1.0, 1.0)?;
/// assert_eq!(sampler.nfe(), 30);
/// assert!(EulerAncestral::new(vp, log_snr_grid(&vp, 1.0, 1e-3, 30)?, -1.0, 1.0).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct EulerAncestral<G> {
    marginals: G,
    grid: TimeGrid,
    levels: Vec<f64>,
    eta: f64,
    s_noise: f64,
}

impl<G: GaussianMarginals> EulerAncestral<G> {
    /// The sampler over the decreasing `grid` with ancestral fraction `eta` (1 in k-diffusion)
    /// and noise scale `s_noise` (1).
    ///
    /// # Errors
    /// [`SamplerError::Core`] (`CoreError::InvalidParameter`) unless eta and s_noise are finite
    /// and >= 0, the grid decreases and sigma-bar is finite and positive at its times.
    pub fn new(marginals: G, grid: TimeGrid, eta: f64, s_noise: f64) -> Result<Self> {
        sgm_core::validate::non_negative("eta", eta)?;
        sgm_core::validate::non_negative("s_noise", s_noise)?;
        let levels = grid_levels(&marginals, &grid)?;
        Ok(Self {
            marginals,
            grid,
            levels,
            eta,
            s_noise,
        })
    }

    /// Score evaluations of one run.
    pub fn nfe(&self) -> usize {
        self.grid.len()
    }

    /// Runs the sampler from `x_t` (`[batch, dim]`, at the grid's first time).
    ///
    /// # Errors
    /// [`SamplerError::NonFinite`] if the state diverges (checked on the device, read once);
    /// [`SamplerError::Core`] for a model of the wrong shape.
    pub fn sample<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x_t: Tensor<2>,
        noise: &mut dyn NoiseSource,
        observer: &mut dyn Observer,
    ) -> Result<SampleOutput> {
        let (grid, levels) = (&self.grid, &self.levels);
        drive(
            model,
            &self.marginals,
            grid,
            levels,
            x_t,
            observer,
            |run, at, mut y| {
                let (level, next) = (at.level, at.level_next);
                let up = (self.eta
                    * (next * next * (level * level - next * next) / (level * level)).sqrt())
                .min(next);
                let down = (next * next - up * up).sqrt();
                let d = run.noise(&y, at.t, level)?;
                y = y + d * (down - level);
                if up > 0.0 && self.s_noise > 0.0 {
                    let z = noise.normal_like(&y);
                    y = y + z * (up * self.s_noise);
                }
                Ok(y)
            },
        )
    }
}

//! The deterministic and stochastic samplers of Karras et al. (2022, Algorithms 1 and 2).

use burn::prelude::*;
use sgm_core::{NoiseSource, NoiseSourceExt, ScoreModel};
use sgm_schedules::TimeGrid;
use sgm_sde::GaussianMarginals;

use super::run::{Step, drive, grid_levels};
use crate::{Observer, Result, SampleOutput, SamplerError};

/// The integrator of [`EdmSampler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EdmMethod {
    /// Euler's method (k-diffusion's `sample_euler`): one evaluation per step.
    Euler,
    /// Heun's second-order method (Karras et al. 2022, Algorithm 1; k-diffusion's
    /// `sample_heun`): two evaluations per step.
    #[default]
    Heun,
}

/// The stochastic "churn" of Karras et al. (2022, Algorithm 2): before each step at noise level
/// sigma_i in [s_tmin, s_tmax], raise it to sigma-hat = (1 + gamma) sigma_i with
/// gamma = min(s_churn / N, sqrt(2) - 1) (N the number of steps, the final denoising included)
/// by adding fresh noise of std sqrt(sigma-hat^2 - sigma_i^2) s_noise.
///
/// ```
/// use sgm_samplers::Churn;
/// let churn = Churn::new(40.0, 0.05, 50.0, 1.003)?; // the paper's ImageNet-64 setting
/// assert_eq!(Churn::none().s_churn(), 0.0);
/// assert!(Churn::new(-1.0, 0.0, f64::INFINITY, 1.0).is_err());
/// # Ok::<(), sgm_samplers::SamplerError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Churn {
    s_churn: f64,
    s_tmin: f64,
    s_tmax: f64,
    s_noise: f64,
}

impl Churn {
    /// The churn with the paper's four parameters.
    ///
    /// # Errors
    /// [`SamplerError::Core`] (`CoreError::InvalidParameter`) unless s_churn is finite and
    /// >= 0, 0 <= s_tmin <= s_tmax (s_tmax may be infinite) and s_noise is finite and >= 0.
    pub fn new(s_churn: f64, s_tmin: f64, s_tmax: f64, s_noise: f64) -> Result<Self> {
        let bad = |name, value, reason| {
            Err(SamplerError::from(sgm_core::validate::invalid(
                name, value, reason,
            )))
        };
        if !(s_churn.is_finite() && s_churn >= 0.0) {
            return bad("s_churn", s_churn, "finite and >= 0");
        }
        if !(s_tmin.is_finite() && s_tmin >= 0.0) {
            return bad("s_tmin", s_tmin, "finite and >= 0");
        }
        if s_tmax.is_nan() || s_tmax < s_tmin {
            return bad("s_tmax", s_tmax, "at least s_tmin");
        }
        if !(s_noise.is_finite() && s_noise >= 0.0) {
            return bad("s_noise", s_noise, "finite and >= 0");
        }
        Ok(Self {
            s_churn,
            s_tmin,
            s_tmax,
            s_noise,
        })
    }

    /// No churn: the deterministic sampler (Algorithm 1).
    pub fn none() -> Self {
        Self {
            s_churn: 0.0,
            s_tmin: 0.0,
            s_tmax: f64::INFINITY,
            s_noise: 1.0,
        }
    }

    /// S_churn.
    pub fn s_churn(&self) -> f64 {
        self.s_churn
    }

    /// gamma_i at noise level `level` in a run of `steps` steps.
    fn gamma(&self, level: f64, steps: usize) -> f64 {
        if self.s_churn > 0.0 && (self.s_tmin..=self.s_tmax).contains(&level) {
            (self.s_churn / steps as f64).min(std::f64::consts::SQRT_2 - 1.0)
        } else {
            0.0
        }
    }
}

impl Default for Churn {
    fn default() -> Self {
        Self::none()
    }
}

/// The EDM sampler of Karras et al. (2022, "Elucidating the design space of diffusion-based
/// generative models", Algorithms 1 and 2) on any SDE with Gaussian marginals, in its
/// noise-level form y = x / m, sigma-bar = std / m. Step i, from sigma_i to sigma_{i+1}:
///
/// ```text
/// sigma-hat = (1 + gamma_i) sigma_i,  y-hat = y + sqrt(sigma-hat^2 - sigma_i^2) S_noise z   (churn)
/// d  = (y-hat - D(y-hat, sigma-hat)) / sigma-hat,   y' = y-hat + (sigma_{i+1} - sigma-hat) d   (Euler)
/// d' = (y' - D(y', sigma_{i+1})) / sigma_{i+1},     y' = y-hat + (sigma_{i+1} - sigma-hat) (d + d') / 2   (Heun)
/// ```
///
/// then one final denoising D(y, sigma_N) (the paper's last step to sigma = 0). NFE: Euler
/// N - 1 + 1, Heun 2 (N - 1) + 1 on a grid of N points. Times of intermediate levels
/// (sigma-hat) come from inverting sigma-bar(t).
///
/// ```
/// use sgm_samplers::{Churn, EdmMethod, EdmSampler};
/// use sgm_schedules::{Spacing, TimeGrid};
/// use sgm_sde::VeSde;
/// let grid = TimeGrid::new(80.0, 0.002, 18, Spacing::Karras { rho: 7.0 })?;
/// let heun = EdmSampler::new(VeSde::karras(80.0)?, grid.clone(), EdmMethod::Heun)?;
/// assert_eq!(heun.nfe(), 35);
/// let stochastic = heun.with_churn(Churn::new(40.0, 0.05, 50.0, 1.003)?);
/// assert!(EdmSampler::new(VeSde::karras(80.0)?, TimeGrid::uniform(0.0, 1.0, 5)?, EdmMethod::Euler).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct EdmSampler<G> {
    marginals: G,
    grid: TimeGrid,
    levels: Vec<f64>,
    method: EdmMethod,
    churn: Churn,
}

impl<G: GaussianMarginals> EdmSampler<G> {
    /// The deterministic sampler with `method` over the decreasing `grid`.
    ///
    /// # Errors
    /// [`SamplerError::Core`] (`CoreError::InvalidParameter`) if the grid increases or if
    /// sigma-bar is not finite and positive at a grid time (a grid ending at t = 0).
    pub fn new(marginals: G, grid: TimeGrid, method: EdmMethod) -> Result<Self> {
        let levels = grid_levels(&marginals, &grid)?;
        Ok(Self {
            marginals,
            grid,
            levels,
            method,
            churn: Churn::none(),
        })
    }

    /// The same sampler with stochastic churn (Algorithm 2).
    pub fn with_churn(self, churn: Churn) -> Self {
        Self { churn, ..self }
    }

    /// Score evaluations of one run.
    pub fn nfe(&self) -> usize {
        let per_step = match self.method {
            EdmMethod::Euler => 1,
            EdmMethod::Heun => 2,
        };
        per_step * self.grid.num_steps() + 1
    }

    /// Runs the sampler from `x_t` (`[batch, dim]`, at the grid's first time) and returns the
    /// denoised samples. Draws noise only with churn.
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
                let Step {
                    t,
                    t_next,
                    level,
                    level_next,
                    ..
                } = at;
                let gamma = self.churn.gamma(level, self.grid.len());
                let (t_hat, level_hat) = if gamma > 0.0 {
                    let level_hat = level * (1.0 + gamma);
                    let z = noise.normal_like(&y);
                    let extra = (level_hat * level_hat - level * level).sqrt() * self.churn.s_noise;
                    y = y + z * extra;
                    (run.time_at(level_hat, t, t)?, level_hat)
                } else {
                    (t, level)
                };
                let d = run.noise(&y, t_hat, level_hat)?;
                let dt = level_next - level_hat;
                let euler = y.clone() + d.clone() * dt;
                Ok(match self.method {
                    EdmMethod::Euler => euler,
                    EdmMethod::Heun => {
                        let d_next = run.noise(&euler, t_next, level_next)?;
                        y + (d + d_next) * (0.5 * dt)
                    }
                })
            },
        )
    }
}

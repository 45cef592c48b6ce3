use burn::prelude::*;
use sgm_core::tensor::{column, time_like};
use sgm_core::{NoiseSource, ScoreModel};
use sgm_schedules::TimeGrid;
use sgm_sde::GaussianMarginals;

use crate::error::ensure_finite;
use crate::{Corrector, Observer, Predictor, Result, SamplerError, StepInfo};

/// What a [`PcSampler`] returns after its last step.
#[derive(Clone, Copy)]
pub enum FinalStep<'a> {
    /// The state itself, final noise included.
    Sample,
    /// The noise-free mean of the last predictor step (score_sde's `noise_removal`).
    Mean,
    /// Tweedie's denoised estimate x0 = (x + std(t)^2 s(x, t)) / m(t) at the last time, with
    /// one more evaluation of `model` (Efron 2011; the denoising step of NCSNv2 and EDM).
    Tweedie {
        /// The score model.
        model: &'a dyn ScoreModel,
        /// The transition kernels giving m(t) and std(t).
        marginals: &'a dyn GaussianMarginals,
    },
}

impl std::fmt::Debug for FinalStep<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FinalStep::Sample => "Sample",
            FinalStep::Mean => "Mean",
            FinalStep::Tweedie { .. } => "Tweedie",
        })
    }
}

/// What [`PcSampler::sample`] returns.
#[derive(Debug, Clone)]
pub struct PcOutput {
    /// The samples, `[batch, dim]`.
    pub x: Tensor<2>,
    /// Score evaluations used.
    pub nfe: usize,
}

/// The predictor-corrector sampler (Song et al., ICLR 2021, Algorithm 1): along a decreasing
/// time grid T = t_0 > t_1 > ... > t_n = eps, each step runs the corrector at t_i, then the
/// predictor from t_i to t_{i+1}. Any [`Predictor`] combines with any [`Corrector`].
///
/// ```
/// use burn::prelude::*;
/// use sgm_core::HostNoise;
/// use sgm_samplers::{FinalStep, LangevinCorrector, NoObserver, PcSampler, ReverseDiffusion};
/// use sgm_schedules::TimeGrid;
/// use sgm_sde::{Sde, VpSde};
///
/// let vp = VpSde::default();
/// let score = |x: Tensor<2>, _t: Tensor<1>| -x; // N(0, I) data
/// let predictor = ReverseDiffusion::new(&vp, &score);
/// let corrector = LangevinCorrector::new(&vp, &score, 0.16, 1)?;
/// let grid = TimeGrid::uniform(1.0, 1e-3, 101)?;
/// let sampler = PcSampler::new(&predictor, &corrector, grid, FinalStep::Mean)?;
/// let device = Device::flex();
/// let mut noise = HostNoise::new(0);
/// let x_t = vp.prior_sample([256, 2], &device, burn::tensor::DType::F32, &mut noise);
/// let out = sampler.sample(x_t, &mut noise, &mut NoObserver)?;
/// assert_eq!((out.x.dims(), out.nfe), ([256, 2], 200));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct PcSampler<'a, P: ?Sized, C: ?Sized> {
    predictor: &'a P,
    corrector: &'a C,
    grid: TimeGrid,
    final_step: FinalStep<'a>,
}

impl<'a, P: Predictor + ?Sized, C: Corrector + ?Sized> PcSampler<'a, P, C> {
    /// A sampler along `grid`, which must decrease (from T to eps).
    ///
    /// # Errors
    /// [`SamplerError::InvalidParameter`] for an increasing grid.
    pub fn new(
        predictor: &'a P,
        corrector: &'a C,
        grid: TimeGrid,
        final_step: FinalStep<'a>,
    ) -> Result<Self> {
        if !grid.is_decreasing() {
            return Err(SamplerError::InvalidParameter {
                name: "time grid end",
                value: grid.end(),
                requirement: "below the grid start (sampling runs from T down to eps)",
            });
        }
        Ok(Self {
            predictor,
            corrector,
            grid,
            final_step,
        })
    }

    /// The time grid.
    pub fn grid(&self) -> &TimeGrid {
        &self.grid
    }

    /// Runs the sampler from `x_t` (`[batch, dim]`, samples of the prior at the grid's start).
    ///
    /// # Errors
    /// [`SamplerError::NonFinite`] (naming the step and time) if the state diverges; errors of
    /// the predictor and corrector.
    pub fn sample(
        &self,
        x_t: Tensor<2>,
        noise: &mut dyn NoiseSource,
        observer: &mut dyn Observer,
    ) -> Result<PcOutput> {
        let steps = self.grid.num_steps();
        let per_step = self.predictor.evaluations() + self.corrector.evaluations();
        let mut x = x_t;
        let mut mean = x.clone();
        for (step, (t, t_next)) in self.grid.steps().enumerate() {
            x = self.corrector.correct(x, t, t - t_next, noise)?;
            let next = self.predictor.step(x, t, t_next, noise)?;
            (x, mean) = (next.x, next.mean);
            ensure_finite(&x, step, t_next)?;
            observer.on_step(&StepInfo {
                step,
                steps: Some(steps),
                t: t_next,
                x: &x,
                nfe: (step + 1) * per_step,
            });
        }
        let mut nfe = steps * per_step;
        let x = match self.final_step {
            FinalStep::Sample => x,
            FinalStep::Mean => mean,
            FinalStep::Tweedie { model, marginals } => {
                nfe += 1;
                let t = self.grid.end();
                let tt = time_like(t, &x);
                let score = model.checked_score(x.clone(), tt.clone())?;
                let var = column(marginals.std(tt.clone()).square());
                let denoised = (x + score * var) / column(marginals.mean_coeff(tt));
                ensure_finite(&denoised, steps, t)?;
                denoised
            }
        };
        observer.on_finish();
        Ok(PcOutput { x, nfe })
    }
}

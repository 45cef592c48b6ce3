use std::sync::Arc;

use burn::prelude::*;
use sgm_core::tensor::{column, time_like};
use sgm_core::{NoiseSource, ScoreModel};
use sgm_schedules::TimeGrid;
use sgm_sde::GaussianMarginals;

use crate::output::StepEnd;
use crate::{Corrector, Observer, Predictor, Result, SampleOutput, SamplerError, StepProjection};

/// What a [`PcSampler`] returns after its last step.
#[derive(Clone)]
pub enum FinalStep {
    /// The state itself, final noise included.
    Sample,
    /// The noise-free mean of the last predictor step (score_sde's `noise_removal`).
    Mean,
    /// Tweedie's denoised estimate x0 = (x + std(t)^2 s(x, t)) / m(t) at the last time, with
    /// one more evaluation of the model (Efron 2011; the denoising step of NCSNv2 and EDM); the
    /// kernels give m(t) and std(t). Build it with [`FinalStep::tweedie`].
    Tweedie(Arc<dyn GaussianMarginals + Send + Sync>),
}

impl FinalStep {
    /// [`FinalStep::Tweedie`] with the transition kernels `marginals` (an SDE, typically).
    pub fn tweedie<K: GaussianMarginals + Send + Sync + 'static>(marginals: K) -> Self {
        Self::Tweedie(Arc::new(marginals))
    }
}

impl std::fmt::Debug for FinalStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FinalStep::Sample => "Sample",
            FinalStep::Mean => "Mean",
            FinalStep::Tweedie(_) => "Tweedie",
        })
    }
}

/// The predictor-corrector sampler (Song et al., ICLR 2021, Algorithm 1): along a decreasing
/// time grid T = t_0 > t_1 > ... > t_n = eps, each step runs the corrector at t_i, then the
/// predictor from t_i to t_{i+1}. Any [`Predictor`] combines with any [`Corrector`].
///
/// The sampler owns its predictor, corrector and grid, and takes the model at
/// [`PcSampler::sample`]: one configured sampler can be returned from a function, stored,
/// cloned, shared across threads, and run with the raw or the EMA weights.
///
/// ```
/// use burn::prelude::*;
/// use sgm_core::{HostNoise, score_fn};
/// use sgm_samplers::{FinalStep, LangevinCorrector, NoObserver, PcSampler, ReverseDiffusion};
/// use sgm_schedules::TimeGrid;
/// use sgm_sde::{Sde, VpSde};
///
/// let vp = VpSde::default();
/// let predictor = ReverseDiffusion::new(vp);
/// let corrector = LangevinCorrector::new(0.16, 1)?.with_alpha(vp);
/// let grid = TimeGrid::uniform(1.0, 1e-3, 101)?;
/// let sampler = PcSampler::new(predictor, corrector, grid, FinalStep::Mean)?;
///
/// let score = score_fn(|x: Tensor<2>, _t| -x); // N(0, I) data
/// let device = Device::flex();
/// let mut noise = HostNoise::new(0);
/// let x_t = vp.prior_sample([256, 2], &device, burn::tensor::DType::F32, &mut noise);
/// let out = sampler.sample(&score, x_t, &mut noise, &mut NoObserver)?;
/// assert_eq!((out.x.dims(), out.nfe), ([256, 2], 200));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct PcSampler<P, C> {
    predictor: P,
    corrector: C,
    grid: TimeGrid,
    final_step: FinalStep,
}

impl<P: Predictor, C: Corrector> PcSampler<P, C> {
    /// A sampler along `grid`, which must decrease (from T to eps).
    ///
    /// # Errors
    /// [`SamplerError::Core`] (`CoreError::InvalidParameter`) for an increasing grid.
    pub fn new(predictor: P, corrector: C, grid: TimeGrid, final_step: FinalStep) -> Result<Self> {
        if !grid.is_decreasing() {
            return Err(SamplerError::from(sgm_core::validate::invalid(
                "time grid end",
                grid.end(),
                "below the grid start (sampling runs from T down to eps)",
            )));
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

    /// The predictor.
    pub fn predictor(&self) -> &P {
        &self.predictor
    }

    /// The corrector.
    pub fn corrector(&self) -> &C {
        &self.corrector
    }

    /// Runs the sampler from `x_t` (`[batch, dim]`, typically a draw of the SDE's prior) with
    /// scores from `model`. `observer` sees every step. The state stays on the device: the
    /// only host read is the final non-finite check.
    ///
    /// # Errors
    /// [`SamplerError::NonFinite`] if the state diverges (naming the first bad step and its
    /// time); the predictor's and corrector's errors.
    pub fn sample<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x_t: Tensor<2>,
        noise: &mut dyn NoiseSource,
        observer: &mut dyn Observer,
    ) -> Result<SampleOutput> {
        self.run(model, x_t, None, noise, observer)
    }

    /// [`PcSampler::sample`] with `projection` applied to the start (at T), after every
    /// corrector step (at t_i) and after every predictor step (at t_{i+1}), and [`StepProjection::finish`] to the result: score_sde's
    /// PC inpainter with an [`Imputation`](crate::Imputation) as the projection, whose observed
    /// coordinates then follow m(t) y_o + std(t) z (fresh z each step) and end at y_o.
    ///
    /// # Errors
    /// As [`PcSampler::sample`].
    pub fn sample_projected<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x_t: Tensor<2>,
        projection: &dyn StepProjection,
        noise: &mut dyn NoiseSource,
        observer: &mut dyn Observer,
    ) -> Result<SampleOutput> {
        self.run(model, x_t, Some(projection), noise, observer)
    }

    fn run<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x_t: Tensor<2>,
        projection: Option<&dyn StepProjection>,
        noise: &mut dyn NoiseSource,
        observer: &mut dyn Observer,
    ) -> Result<SampleOutput> {
        let steps = self.grid.num_steps();
        let per_step = self.predictor.evaluations() + self.corrector.evaluations();
        let mut end = StepEnd::new(observer, Some(steps));
        let mut x = match projection {
            Some(p) => {
                p.check_state(&x_t)?;
                p.project(x_t, self.grid.start(), noise)
            }
            None => x_t,
        };
        let mut mean = x.clone();
        for (step, (t, t_next)) in self.grid.steps().enumerate() {
            x = self.corrector.correct(model, x, t, t - t_next, noise)?;
            if let Some(p) = projection {
                x = p.project(x, t, noise);
            }
            let next = self.predictor.step(model, x, t, t_next, noise)?;
            (x, mean) = (next.x, next.mean);
            if let Some(p) = projection {
                x = p.project(x, t_next, noise);
            }
            end.end(&x, t_next, (step + 1) * per_step);
        }
        let mut nfe = steps * per_step;
        let x = match &self.final_step {
            FinalStep::Sample => x,
            FinalStep::Mean => mean,
            FinalStep::Tweedie(marginals) => {
                nfe += 1;
                let t = self.grid.end();
                let tt = time_like(t, &x);
                let score = model.checked_score(x.clone(), tt.clone())?;
                let var = column(marginals.std(tt.clone()).square());
                let denoised = (x + score * var) / column(marginals.mean_coeff(tt));
                end.check(&denoised, t);
                denoised
            }
        };
        let x = match projection {
            Some(p) => p.finish(x),
            None => x,
        };
        end.finish(x, nfe)
    }
}

//! What the noise-level samplers share: the grid's noise levels, the denoiser, the run's
//! bookkeeping (NFE, the observer, the non-finite check) and the final denoising.

use burn::prelude::*;
use sgm_core::ScoreModel;
use sgm_core::tensor::time_like;
use sgm_schedules::TimeGrid;
use sgm_sde::GaussianMarginals;

use crate::output::StepEnd;
use crate::{Observer, Result, SampleOutput, SamplerError};

/// The noise levels sigma-bar(t_i) of a decreasing grid, checked finite and positive (the
/// samplers divide by them).
pub(crate) fn grid_levels<M: GaussianMarginals + ?Sized>(
    marginals: &M,
    grid: &TimeGrid,
) -> Result<Vec<f64>> {
    if !grid.is_decreasing() {
        return Err(SamplerError::from(sgm_core::validate::invalid(
            "time grid end",
            grid.end(),
            "below the grid's start: samplers run from T down to eps",
        )));
    }
    grid.times()
        .iter()
        .map(|&t| {
            let level = marginals.noise_level_at(t);
            if level.is_finite() && level > 0.0 {
                Ok(level)
            } else {
                Err(SamplerError::from(sgm_core::validate::invalid(
                    "noise level std / m at a grid time",
                    level,
                    "finite and > 0 (end the grid at eps > 0)",
                )))
            }
        })
        .collect()
}

/// `order` if it is in 1..=max.
pub(crate) fn check_order(name: &'static str, order: usize, max: usize) -> Result<usize> {
    if (1..=max).contains(&order) {
        Ok(order)
    } else {
        Err(SamplerError::from(sgm_core::validate::invalid(
            name,
            order as f64,
            "from 1 to the method's highest order",
        )))
    }
}

/// Step i of a grid: from time t (noise level `level`) to t_next (`level_next`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Step {
    pub(crate) i: usize,
    pub(crate) t: f64,
    pub(crate) t_next: f64,
    pub(crate) level: f64,
    pub(crate) level_next: f64,
}

/// The frame every noise-level sampler shares: y = x_t / m at the grid's start, `step` for each
/// step of `grid` (`levels` its noise levels, from [`grid_levels`]), the end-of-step routine
/// after each, then the final denoising.
pub(crate) fn drive<'a, M, G>(
    model: &'a M,
    marginals: &'a G,
    grid: &TimeGrid,
    levels: &[f64],
    x_t: Tensor<2>,
    observer: &'a mut dyn Observer,
    mut step: impl FnMut(&mut LevelRun<'a, M, G>, Step, Tensor<2>) -> Result<Tensor<2>>,
) -> Result<SampleOutput>
where
    M: ScoreModel + ?Sized,
    G: GaussianMarginals + ?Sized,
{
    let times = grid.times();
    let mut run = LevelRun::new(model, marginals, grid, observer);
    let mut y = run.rescale(x_t, times[0]);
    for i in 0..grid.num_steps() {
        let at = Step {
            i,
            t: times[i],
            t_next: times[i + 1],
            level: levels[i],
            level_next: levels[i + 1],
        };
        y = step(&mut run, at, y)?;
        run.step_done(&y, at.t_next);
    }
    run.finish(y, grid.end())
}

/// One run of a noise-level sampler: the model and marginals, the evaluations so far and the
/// end-of-step routine.
pub(crate) struct LevelRun<'a, M: ?Sized, G: ?Sized> {
    model: &'a M,
    marginals: &'a G,
    end: StepEnd<'a>,
    nfe: usize,
}

impl<'a, M: ScoreModel + ?Sized, G: GaussianMarginals + ?Sized> LevelRun<'a, M, G> {
    /// A run over `grid` (its steps, then the final denoising).
    fn new(
        model: &'a M,
        marginals: &'a G,
        grid: &TimeGrid,
        observer: &'a mut dyn Observer,
    ) -> Self {
        Self {
            model,
            marginals,
            end: StepEnd::new(observer, Some(grid.num_steps() + 1)),
            nfe: 0,
        }
    }

    /// y = x / m(t).
    fn rescale(&self, x: Tensor<2>, t: f64) -> Tensor<2> {
        let log_m = self.marginals.log_mean_coeff_at(t);
        if log_m == 0.0 { x } else { x * (-log_m).exp() }
    }

    /// x = m(t) y.
    fn unscale(&self, y: &Tensor<2>, t: f64) -> Tensor<2> {
        let log_m = self.marginals.log_mean_coeff_at(t);
        if log_m == 0.0 {
            y.clone()
        } else {
            y.clone() * log_m.exp()
        }
    }

    /// The denoiser D(y, t) = y + (std^2 / m) s(m y, t): one evaluation.
    pub(crate) fn denoise(&mut self, y: &Tensor<2>, t: f64) -> Result<Tensor<2>> {
        let x = self.unscale(y, t);
        let score = self.model.checked_score(x, time_like(t, y))?;
        self.nfe += 1;
        let std = self.marginals.std_at(t);
        let factor = std * std * (-self.marginals.log_mean_coeff_at(t)).exp();
        Ok(y.clone() + score * factor)
    }

    /// The noise prediction eps = (y - D(y, t)) / sigma-bar(t): one evaluation.
    pub(crate) fn noise(&mut self, y: &Tensor<2>, t: f64, level: f64) -> Result<Tensor<2>> {
        let denoised = self.denoise(y, t)?;
        Ok((y.clone() - denoised) / level)
    }

    /// The time in [lo, ...) whose noise level is `level` (grid times are exact; intermediate
    /// levels are found by bisection).
    pub(crate) fn time_at(&self, level: f64, lo: f64, hi: f64) -> Result<f64> {
        self.marginals
            .time_at_noise_level(level, lo, hi)
            .ok_or_else(|| {
                SamplerError::from(sgm_core::validate::invalid(
                    "noise level",
                    level,
                    "reached by the SDE's std / m at some time",
                ))
            })
    }

    /// Ends a step at time `t` with state `y`.
    fn step_done(&mut self, y: &Tensor<2>, t: f64) {
        let x = self.unscale(y, t);
        self.end.end(&x, t, self.nfe);
    }

    /// The final denoising D(y, t_end) (the step to sigma = 0) and the run's output.
    fn finish(mut self, y: Tensor<2>, t_end: f64) -> Result<SampleOutput> {
        let x0 = self.denoise(&y, t_end)?;
        self.end.end(&x0, 0.0, self.nfe);
        let nfe = self.nfe;
        self.end.finish(x0, nfe)
    }
}

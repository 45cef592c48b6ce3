//! What every sampler returns, and the routine every sampler runs at the end of a step.

use burn::prelude::*;
use sgm_core::NonFiniteWatch;

use crate::{Observer, Result, SamplerError, StepInfo};

/// The result of a sampler: the final state and how many score-model evaluations it took.
///
/// Every sampler of this crate returns it (PC, Langevin, annealed Langevin, DDPM, DDIM), so code
/// that compares samplers at equal cost reads `nfe` the same way everywhere.
#[derive(Debug, Clone)]
pub struct SampleOutput {
    /// The samples, `[batch, dim]`.
    pub x: Tensor<2>,
    /// Score-model evaluations (a batched call counts once).
    pub nfe: usize,
}

/// The end of every sampler step: record whether the state is finite (on the device, read once
/// at [`StepEnd::finish`]), tell the observer, count the step.
pub(crate) struct StepEnd<'o> {
    watch: NonFiniteWatch,
    observer: &'o mut dyn Observer,
    steps: Option<usize>,
    step: usize,
}

impl<'o> StepEnd<'o> {
    /// For a run of `steps` steps (None when not known in advance).
    pub(crate) fn new(observer: &'o mut dyn Observer, steps: Option<usize>) -> Self {
        Self {
            watch: NonFiniteWatch::default(),
            observer,
            steps,
            step: 0,
        }
    }

    /// Ends a step that reached `x` at time `t` after `nfe` evaluations in all.
    pub(crate) fn end(&mut self, x: &Tensor<2>, t: f64, nfe: usize) {
        self.watch.record(x, self.step, t);
        self.notify(x, t, nfe);
    }

    /// Ends a step whose state was already checked (an adaptive step's read): the observer and
    /// the count only.
    pub(crate) fn notify(&mut self, x: &Tensor<2>, t: f64, nfe: usize) {
        self.observer.on_step(&StepInfo {
            step: self.step,
            steps: self.steps,
            t,
            x,
            nfe,
        });
        self.step += 1;
    }

    /// Records a state that is not a step of its own (the final denoising), labelled with the
    /// next step's index.
    pub(crate) fn check(&mut self, x: &Tensor<2>, t: f64) {
        self.watch.record(x, self.step, t);
    }

    /// The run's output, or [`SamplerError::NonFinite`] naming the first step whose state was
    /// not finite: one host read for the whole run (none when nothing was recorded).
    pub(crate) fn finish(self, x: Tensor<2>, nfe: usize) -> Result<SampleOutput> {
        self.observer.on_finish();
        match self.watch.first_bad() {
            Some((step, t)) => Err(SamplerError::NonFinite { step, t }),
            None => Ok(SampleOutput { x, nfe }),
        }
    }
}

use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};

/// What a sampler reports after each step.
#[derive(Debug, Clone, Copy)]
pub struct StepInfo<'a> {
    /// 0-based index of the step just taken.
    pub step: usize,
    /// Total number of steps, when known in advance.
    pub steps: Option<usize>,
    /// Time of the state after the step.
    pub t: f64,
    /// The state after the step, `[batch, dim]`.
    pub x: &'a Tensor<2>,
    /// Score (or vector-field) evaluations so far.
    pub nfe: usize,
}

/// Watches a sampler from outside (argmin's observer pattern): progress bars, trajectory
/// recording, logging. Both methods do nothing by default.
pub trait Observer {
    /// Called after every step.
    fn on_step(&mut self, info: &StepInfo<'_>) {
        let _ = info;
    }

    /// Called once when the sampler returns successfully.
    fn on_finish(&mut self) {}
}

/// The observer that observes nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl Observer for NoObserver {}

impl<O: Observer + ?Sized> Observer for &mut O {
    fn on_step(&mut self, info: &StepInfo<'_>) {
        (**self).on_step(info)
    }

    fn on_finish(&mut self) {
        (**self).on_finish()
    }
}

impl<A: Observer, B: Observer> Observer for (A, B) {
    fn on_step(&mut self, info: &StepInfo<'_>) {
        self.0.on_step(info);
        self.1.on_step(info);
    }

    fn on_finish(&mut self) {
        self.0.on_finish();
        self.1.on_finish();
    }
}

/// An indicatif progress bar over the steps, showing t and the NFE.
///
/// ```
/// use sgm_samplers::Progress;
/// let progress = Progress::new("sampling");
/// ```
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar labelled `label` (its length is set from the first step's total).
    pub fn new(label: &str) -> Self {
        let bar = ProgressBar::new(0).with_style(
            ProgressStyle::with_template("{prefix} {bar:40} {pos}/{len} steps {msg} ({eta})")
                .expect("valid template"),
        );
        bar.set_prefix(label.to_string());
        Self { bar }
    }

    /// A bar drawn nowhere (for quiet runs with the same types).
    pub fn hidden() -> Self {
        Self {
            bar: ProgressBar::hidden(),
        }
    }
}

impl Observer for Progress {
    fn on_step(&mut self, info: &StepInfo<'_>) {
        if let Some(total) = info.steps {
            self.bar.set_length(total as u64);
        }
        self.bar.set_position(info.step as u64 + 1);
        if info.step.is_multiple_of(10) {
            self.bar
                .set_message(format!("t = {:.4}, nfe = {}", info.t, info.nfe));
        }
    }

    fn on_finish(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// Records the state every `every` steps (and after the last one), for trajectory plots.
///
/// ```
/// use sgm_samplers::Trajectory;
/// let trajectory = Trajectory::every(10)?;
/// assert!(trajectory.times.is_empty());
/// assert!(Trajectory::every(0).is_err());
/// # Ok::<(), sgm_samplers::SamplerError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Trajectory {
    every: usize,
    /// Times of the recorded states.
    pub times: Vec<f64>,
    /// The recorded states, `[batch, dim]` each.
    pub states: Vec<Tensor<2>>,
    last: Option<(f64, Tensor<2>)>,
}

impl Trajectory {
    /// Records every `every`-th step (and the last).
    ///
    /// # Errors
    /// [`SamplerError::Core`](crate::SamplerError::Core) (`CoreError::ZeroCount`) for 0.
    pub fn every(every: usize) -> crate::Result<Self> {
        Ok(Self {
            every: sgm_core::validate::nonzero("every", every)?,
            times: Vec::new(),
            states: Vec::new(),
            last: None,
        })
    }
}

impl Observer for Trajectory {
    fn on_step(&mut self, info: &StepInfo<'_>) {
        if info.step.is_multiple_of(self.every) {
            self.times.push(info.t);
            self.states.push(info.x.clone());
            self.last = None;
        } else {
            self.last = Some((info.t, info.x.clone()));
        }
    }

    fn on_finish(&mut self) {
        if let Some((t, x)) = self.last.take() {
            self.times.push(t);
            self.states.push(x);
        }
    }
}

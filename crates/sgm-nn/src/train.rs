use std::path::{Path, PathBuf};

use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde::de::DeserializeOwned;

use sgm_core::{Loss, NoiseSource, ScoreModel};

use crate::checkpoint::{
    Checkpoint, CheckpointPlan, Header, first_difference, io_error, load_module, mismatch,
    module_bytes, parameter_shapes, record_error,
};
use crate::clip::clip_global_norm;
use crate::loss_log::LossLog;
use crate::{Ema, LearningRateSchedule, NnError, Result};

/// The optimiser a [`Trainer`] builds from its config (burn's implementations, at burn's
/// defaults beta = (0.9, 0.999), epsilon = 1e-5).
#[derive(Config, Debug, Copy, PartialEq)]
pub enum OptimizerKind {
    /// Adam (Kingma & Ba 2015).
    Adam,
    /// AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay, each step
    /// theta <- theta - eta lambda theta beside the Adam update.
    AdamW {
        /// The decay lambda (>= 0).
        weight_decay: f64,
    },
}

/// Settings of a [`Trainer`]: everything that decides the numbers of a run, which a
/// checkpoint records and a resumed run must repeat (`progress` and `loss_every` excepted:
/// they change what is shown and when, not what is computed).
///
/// ```
/// use sgm_nn::{LearningRateSchedule, OptimizerKind, TrainerConfig};
///
/// let config = TrainerConfig::new(10_000)
///     .with_learning_rate(2e-4)
///     .with_optimizer(OptimizerKind::AdamW { weight_decay: 1e-2 })
///     .with_warmup_steps(500)
///     .with_schedule(LearningRateSchedule::Cosine { final_fraction: 0.1 })
///     .with_clip_grad_norm(Some(1.0))
///     .with_ema_decay(Some(0.999));
/// assert_eq!(config.learning_rate_at(499), 2e-4);
/// ```
#[derive(Config, Debug)]
pub struct TrainerConfig {
    /// Number of optimisation steps.
    pub steps: usize,
    /// Base learning rate eta (reached at the end of the warm-up).
    #[config(default = 1e-3)]
    pub learning_rate: f64,
    /// The optimiser [`Trainer::new`] builds.
    #[config(default = "OptimizerKind::Adam")]
    pub optimizer: OptimizerKind,
    /// Steps of linear warm-up from eta / warmup to eta (0: none).
    #[config(default = 0)]
    pub warmup_steps: usize,
    /// The rate after the warm-up.
    #[config(default = "LearningRateSchedule::Constant")]
    pub schedule: LearningRateSchedule,
    /// Clip the gradients by their global norm to this value (PyTorch's `clip_grad_norm_`;
    /// score_sde's `grad_clip` = 1).
    #[config(default = "None")]
    pub clip_grad_norm: Option<f64>,
    /// Decay of an exponential moving average of the weights ([`Ema`]); when set, `fit`
    /// returns the averaged weights instead of the last iterate.
    #[config(default = "None")]
    pub ema_decay: Option<f64>,
    /// Show an indicatif progress bar with the running loss and the steps per second.
    #[config(default = false)]
    pub progress: bool,
    /// Read the losses back to the host every this many steps (all of them at once, one
    /// synchronisation): a GPU keeps its queue full in between. A non-finite loss is caught at
    /// the next read, and the error names its step.
    #[config(default = 10)]
    pub loss_every: usize,
}

impl TrainerConfig {
    /// The learning rate of 0-based step `step` (warm-up and schedule applied; see
    /// [`LearningRateSchedule`]).
    pub fn learning_rate_at(&self, step: usize) -> f64 {
        self.schedule
            .rate(self.learning_rate, step, self.steps, self.warmup_steps)
    }

    /// The config as a checkpoint compares it: without the display settings.
    fn numerics(&self) -> serde_json::Value {
        let mut config = self.clone();
        config.progress = false;
        config.loss_every = 10;
        serde_json::to_value(&config).expect("a config serialises")
    }

    fn check(&self) -> Result<()> {
        if let Some(decay) = self.ema_decay {
            crate::ema::check_decay(decay)?;
        }
        sgm_core::validate::nonzero("loss_every", self.loss_every)?;
        sgm_core::validate::positive("learning_rate", self.learning_rate)?;
        if self.warmup_steps > self.steps {
            return Err(sgm_core::validate::invalid(
                "warmup_steps",
                self.warmup_steps as f64,
                "at most steps",
            )
            .into());
        }
        self.schedule.check()?;
        if let OptimizerKind::AdamW { weight_decay } = self.optimizer {
            sgm_core::validate::non_negative("weight_decay", weight_decay)?;
        }
        if let Some(norm) = self.clip_grad_norm {
            sgm_core::validate::positive("clip_grad_norm", norm)?;
        }
        Ok(())
    }
}

/// What a training run produced besides the model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainReport {
    /// The loss at every step, before that step's update (from the first step, also for a
    /// resumed run: the earlier ones come from the checkpoint).
    pub losses: Vec<f64>,
}

impl TrainReport {
    /// Mean of the last `n` losses (all of them if fewer).
    pub fn mean_last(&self, n: usize) -> f64 {
        let tail = &self.losses[self.losses.len().saturating_sub(n)..];
        tail.iter().sum::<f64>() / tail.len().max(1) as f64
    }
}

/// A training loop: evaluate a loss, back-propagate, clip, step an optimiser on a schedule,
/// average, log, checkpoint.
///
/// [`Trainer::fit_loss`] trains a score network with any [`Loss`] (every loss of `sgm-losses`
/// implements it); [`Trainer::fit`] takes any closure of the model and the step index that
/// returns a scalar tensor on the autodiff graph, so it trains any burn module;
/// [`Trainer::fit_with_state`] also hands the closure a state of the run (a noise source, a
/// data cursor) that checkpoints save. The losses are read back every `loss_every` steps (one
/// device synchronisation for all of them) to record them, to log them
/// ([`Trainer::with_loss_log`]) and to stop with [`NnError::NonFiniteLoss`] instead of
/// training on NaN.
///
/// # Checkpoints
/// With [`Trainer::with_checkpoints`] the run writes, every k steps and after the last, one
/// file with everything it needs to go on: the model, the optimiser's state, the EMA, the step,
/// the losses so far, the run's state and the config, written atomically (a temporary file,
/// then a rename). [`Trainer::with_resume_from`] continues from such a file bit for bit: a run
/// of 2n steps gives the same weights as n steps, a crash, a new process and the remaining n
/// (`crates/sgm/tests/checkpoint.rs`), provided the closure's randomness comes from the state
/// ([`sgm_core::HostNoise`] serialises its generator). A file that is not a checkpoint, one cut
/// short, or one of another run gives [`NnError::CheckpointForeign`],
/// [`NnError::CheckpointTruncated`] or [`NnError::CheckpointMismatch`], naming the file.
///
/// ```
/// use burn::prelude::*;
/// use burn::nn::LinearConfig;
/// use sgm_nn::{Trainer, TrainerConfig};
///
/// // Fit y = 2 x with one linear unit.
/// let device = Device::flex().autodiff();
/// let model = LinearConfig::new(1, 1).init(&device);
/// let x = Tensor::<2>::from_data([[1.0], [2.0], [-1.0]], &device);
/// let mut trainer = Trainer::new(TrainerConfig::new(300).with_learning_rate(0.05))?;
/// let (model, report) = trainer.fit(model, |m: &burn::nn::Linear, _| {
///     Ok::<_, std::convert::Infallible>((m.forward(x.clone()) - x.clone() * 2.0).square().mean())
/// })?;
/// assert!(report.losses[299] < 1e-3);
/// # Ok::<(), sgm_nn::NnError>(())
/// ```
pub struct Trainer {
    config: TrainerConfig,
    optimizer: ModuleOptimizer,
    checkpoints: Option<CheckpointPlan>,
    resume_from: Option<PathBuf>,
    loss_log: Option<PathBuf>,
}

impl std::fmt::Debug for Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("config", &self.config)
            .field("checkpoints", &self.checkpoints)
            .field("resume_from", &self.resume_from)
            .field("loss_log", &self.loss_log)
            .finish_non_exhaustive()
    }
}

impl Trainer {
    /// A trainer with the optimiser of `config.optimizer`.
    ///
    /// ```
    /// use sgm_nn::{Trainer, TrainerConfig};
    /// assert!(Trainer::new(TrainerConfig::new(100).with_ema_decay(Some(0.999))).is_ok());
    /// assert!(Trainer::new(TrainerConfig::new(100).with_loss_every(0)).is_err());
    /// assert!(Trainer::new(TrainerConfig::new(100).with_warmup_steps(101)).is_err());
    /// ```
    ///
    /// # Errors
    /// [`NnError::Core`]: `InvalidParameter` for an `ema_decay` outside [0, 1), a
    /// non-positive learning rate or clipping norm, a negative weight decay, a final fraction
    /// outside [0, 1] or more warm-up steps than steps; `ZeroCount` for a zero `loss_every`.
    pub fn new(config: TrainerConfig) -> Result<Self> {
        let optimizer = match config.optimizer {
            OptimizerKind::Adam => AdamConfig::new().init(),
            OptimizerKind::AdamW { weight_decay } => AdamWConfig::new()
                .with_weight_decay(weight_decay as f32)
                .init(),
        };
        Self::with_optimizer(config, optimizer)
    }

    /// A trainer with any burn optimiser in place of `config.optimizer` (which a checkpoint
    /// still records: resume with the same optimiser).
    ///
    /// ```
    /// use burn::optim::SgdConfig;
    /// use sgm_nn::{Trainer, TrainerConfig};
    /// assert!(Trainer::with_optimizer(TrainerConfig::new(10), SgdConfig::new().init()).is_ok());
    /// ```
    ///
    /// # Errors
    /// As [`Trainer::new`].
    pub fn with_optimizer(config: TrainerConfig, optimizer: ModuleOptimizer) -> Result<Self> {
        config.check()?;
        Ok(Self {
            config,
            optimizer,
            checkpoints: None,
            resume_from: None,
            loss_log: None,
        })
    }

    /// Writes a checkpoint to `path` every `every` steps and after the last step (each
    /// replacing the previous one atomically).
    ///
    /// # Errors
    /// [`NnError::Core`] (`ZeroCount`) for `every = 0`.
    pub fn with_checkpoints(mut self, path: impl Into<PathBuf>, every: usize) -> Result<Self> {
        sgm_core::validate::nonzero("checkpoint every", every)?;
        self.checkpoints = Some(CheckpointPlan {
            path: path.into(),
            every,
        });
        Ok(self)
    }

    /// Starts the next `fit` from the checkpoint at `path` instead of from the model given:
    /// that model only supplies the structure the weights are loaded into.
    pub fn with_resume_from(mut self, path: impl Into<PathBuf>) -> Self {
        self.resume_from = Some(path.into());
        self
    }

    /// Logs `step,loss,learning_rate` to the CSV file `path` (replaced at the start of a run;
    /// a resumed run rewrites the steps of its checkpoint first).
    pub fn with_loss_log(mut self, path: impl Into<PathBuf>) -> Self {
        self.loss_log = Some(path.into());
        self
    }

    /// The settings.
    pub fn config(&self) -> &TrainerConfig {
        &self.config
    }

    /// Runs `config.steps` steps of `loss` on `model` and returns the trained model: the last
    /// iterate, or with `ema_decay` set the moving average of the iterates (outside autodiff).
    /// The run's checkpoints have no state of their own (`()`): randomness the closure draws
    /// from elsewhere does not resume; use [`Trainer::fit_with_state`] for that.
    ///
    /// # Errors
    /// As [`Trainer::fit_with_state`].
    pub fn fit<M, F, E>(&mut self, model: M, mut loss: F) -> Result<(M, TrainReport)>
    where
        M: Module,
        F: FnMut(&M, usize) -> std::result::Result<Tensor<1>, E>,
        E: std::error::Error + Send + Sync + 'static,
    {
        self.fit_with_state(model, &mut (), |m, step, _| loss(m, step))
    }

    /// [`Trainer::fit`] with a state of the run that the closure may change at every step
    /// (a noise source, a data cursor) and that checkpoints save and resumed runs restore.
    ///
    /// # Errors
    /// [`NnError::Loss`] if the closure fails (its error kept as the source),
    /// [`NnError::NonFiniteLoss`] if a loss is NaN or infinite (the model is then dropped: it was
    /// trained on it; no checkpoint is written after it), [`NnError::Io`] if a checkpoint or
    /// the log cannot be written, and when resuming the checkpoint errors of [`Trainer`].
    pub fn fit_with_state<M, S, F, E>(
        &mut self,
        model: M,
        state: &mut S,
        mut loss: F,
    ) -> Result<(M, TrainReport)>
    where
        M: Module,
        S: Serialize + DeserializeOwned,
        F: FnMut(&M, usize, &mut S) -> std::result::Result<Tensor<1>, E>,
        E: std::error::Error + Send + Sync + 'static,
    {
        let steps = self.config.steps;
        let mut ema = match self.config.ema_decay {
            Some(decay) => Some(Ema::new(&model, decay)?),
            None => None,
        };
        let (mut model, mut losses) = match self.resume_from.clone() {
            Some(path) => self.resume(&path, model, &mut ema, state)?,
            None => (model, Vec::with_capacity(steps)),
        };
        let start = losses.len();
        let mut log = match &self.loss_log {
            Some(path) => Some(LossLog::create(path, &losses, |k| {
                self.config.learning_rate_at(k)
            })?),
            None => None,
        };
        let bar = self.progress_bar(start);
        let every = self.config.loss_every;
        let mut pending = Vec::with_capacity(every);
        for step in start..steps {
            let value = loss(&model, step, state).map_err(|e| NnError::Loss {
                step,
                source: std::sync::Arc::new(e),
            })?;
            pending.push(value.clone().detach().reshape([1]));
            let mut grads = GradientsParams::from_grads(value.backward(), &model);
            if let Some(max_norm) = self.config.clip_grad_norm {
                grads = clip_global_norm(&model, grads, max_norm);
            }
            let rate = self.config.learning_rate_at(step);
            model = self.optimizer.step(rate, model, grads);
            if let Some(ema) = ema.as_mut() {
                ema.update(&model);
            }
            let done = step + 1;
            let checkpoint = self
                .checkpoints
                .as_ref()
                .is_some_and(|plan| done % plan.every == 0 || done == steps);
            if pending.len() == every || done == steps || checkpoint {
                let first = done - pending.len();
                let read = sgm_core::tensor::to_f64(Tensor::cat(std::mem::take(&mut pending), 0));
                if let Some(i) = read.iter().position(|l| !l.is_finite()) {
                    return Err(NnError::NonFiniteLoss {
                        step: first + i,
                        loss: read[i],
                    });
                }
                if let Some(log) = log.as_mut() {
                    for (i, &l) in read.iter().enumerate() {
                        log.push(first + i, l, self.config.learning_rate_at(first + i))?;
                    }
                    log.flush()?;
                }
                bar.set_message(format!("{:.4}", read[read.len() - 1]));
                losses.extend(read);
            }
            if checkpoint {
                self.write_checkpoint(&model, ema.as_ref(), &*state, &losses)?;
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        let model = ema.map_or(model, Ema::into_model);
        Ok((model, TrainReport { losses }))
    }

    /// Trains the score network `model` with `loss` on the batch `data(step)` of every step,
    /// the loss drawing its noise from `noise`: [`Trainer::fit_with_state`] with the noise
    /// source as the run's state (checkpointed with it).
    ///
    /// ```
    /// use burn::prelude::*;
    /// use sgm_core::{HostNoise, Loss, NoiseSource, NoiseSourceExt, ScoreModel};
    /// use sgm_nn::{ScoreMlpConfig, Trainer, TrainerConfig};
    ///
    /// /// Explicit score matching to N(0, I) at t = 0: 1/2 E |s(x) + x|^2.
    /// struct ToStandardNormal;
    /// impl Loss for ToStandardNormal {
    ///     type Error = sgm_core::CoreError;
    ///     fn loss<M: ScoreModel + ?Sized>(
    ///         &self, model: &M, x: Tensor<2>, _: &mut dyn NoiseSource,
    ///     ) -> Result<Tensor<1>, Self::Error> {
    ///         let s = model.checked_score(x.clone(), sgm_core::tensor::time_like(0.0, &x))?;
    ///         Ok((s + x).square().sum_dim(1).mean() * 0.5)
    ///     }
    /// }
    /// let device = Device::flex().autodiff();
    /// let net = ScoreMlpConfig::new(2).with_hidden(16).with_depth(1).init(&device)?;
    /// let mut noise = HostNoise::new(0);
    /// let batch = noise.normal_like(&Tensor::<2>::zeros([256, 2], &device));
    /// let mut trainer = Trainer::new(TrainerConfig::new(200).with_learning_rate(1e-2))?;
    /// let (_, report) = trainer.fit_loss(net, &ToStandardNormal, |_| batch.clone(), &mut noise)?;
    /// assert!(report.mean_last(20) < report.losses[0]);
    /// # Ok::<(), sgm_nn::NnError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Trainer::fit_with_state`]; a failing loss gives [`NnError::Loss`] whose source is
    /// the loss's own error.
    pub fn fit_loss<M, L, D, N>(
        &mut self,
        model: M,
        loss: &L,
        mut data: D,
        noise: &mut N,
    ) -> Result<(M, TrainReport)>
    where
        M: Module + ScoreModel,
        L: Loss + ?Sized,
        D: FnMut(usize) -> Tensor<2>,
        N: NoiseSource + Serialize + DeserializeOwned,
    {
        self.fit_with_state(model, noise, |m: &M, step, noise: &mut N| {
            loss.loss(m, data(step), noise)
        })
    }

    fn progress_bar(&self, start: usize) -> ProgressBar {
        if !self.config.progress {
            return ProgressBar::hidden();
        }
        ProgressBar::new(self.config.steps as u64)
            .with_position(start as u64)
            .with_style(
                ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} steps, {per_sec}, loss {msg} ({eta})",
                )
                .expect("valid template"),
            )
    }

    fn write_checkpoint<M: Module, S: Serialize>(
        &self,
        model: &M,
        ema: Option<&Ema<M>>,
        state: &S,
        losses: &[f64],
    ) -> Result<()> {
        let plan = self.checkpoints.as_ref().expect("checkpoints are planned");
        let path = plan.path.as_path();
        let state =
            serde_json::to_value(state).map_err(|e| io_error(path, std::io::Error::other(e)))?;
        let optimizer = self
            .optimizer
            .into_bytes()
            .map_err(|e| record_error(path, "the optimizer record", e))?;
        Checkpoint {
            header: Header {
                config: self.config.numerics(),
                step: losses.len(),
                ema_updates: ema.map(Ema::updates),
                parameters: parameter_shapes(model),
                state_type: std::any::type_name::<S>().to_string(),
                state,
                sections: [0; 4],
            },
            model: module_bytes(model, path)?,
            optimizer: optimizer.to_vec(),
            ema: match ema {
                Some(ema) => module_bytes(ema.model(), path)?,
                None => Vec::new(),
            },
            losses: losses.to_vec(),
        }
        .write(path)
    }

    /// Loads the checkpoint at `path` into `model`, the optimiser, `ema` and `state`; returns
    /// the model and the losses so far.
    fn resume<M: Module, S: DeserializeOwned>(
        &mut self,
        path: &Path,
        model: M,
        ema: &mut Option<Ema<M>>,
        state: &mut S,
    ) -> Result<(M, Vec<f64>)> {
        let checkpoint = Checkpoint::read(path)?;
        let header = checkpoint.header;
        if let Some((field, expected, found)) =
            first_difference(&self.config.numerics(), &header.config)
        {
            return Err(mismatch(
                path,
                format!("trainer config field `{field}`"),
                expected,
                found,
            ));
        }
        let shapes = parameter_shapes(&model);
        if shapes != header.parameters {
            return Err(mismatch(
                path,
                "model parameter shapes",
                format!("{shapes:?}"),
                format!("{:?}", header.parameters),
            ));
        }
        let state_type = std::any::type_name::<S>();
        if header.state_type != state_type {
            return Err(mismatch(path, "state type", state_type, header.state_type));
        }
        *state = serde_json::from_value(header.state)
            .map_err(|e| mismatch(path, "state", state_type, e))?;
        let model = load_module(model, checkpoint.model, path)?;
        self.optimizer = self
            .optimizer
            .clone()
            .from_bytes(burn::tensor::Bytes::from_bytes_vec(checkpoint.optimizer))
            .map_err(|e| record_error(path, "the optimizer record", e))?;
        if let Some(ema) = ema.as_mut() {
            let average = load_module(model.valid(), checkpoint.ema, path)?;
            *ema = Ema::from_parts(average, ema.decay(), header.ema_updates.unwrap_or(0));
        }
        Ok((model, checkpoint.losses))
    }
}

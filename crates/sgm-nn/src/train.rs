use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};

use sgm_core::{Loss, NoiseSource, ScoreModel};

use crate::{Ema, NnError, Result};

/// Settings of a [`Trainer`].
#[derive(Config, Debug)]
pub struct TrainerConfig {
    /// Number of optimisation steps.
    pub steps: usize,
    /// Learning rate.
    #[config(default = 1e-3)]
    pub learning_rate: f64,
    /// Show an indicatif progress bar with the running loss.
    #[config(default = false)]
    pub progress: bool,
    /// Decay of an exponential moving average of the weights ([`Ema`]); when set, `fit`
    /// returns the averaged weights instead of the last iterate.
    #[config(default = "None")]
    pub ema_decay: Option<f64>,
    /// Read the losses back to the host every this many steps (all of them at once, one
    /// synchronisation): a GPU keeps its queue full in between. A non-finite loss is caught at
    /// the next read, and the error names its step.
    #[config(default = 10)]
    pub loss_every: usize,
}

/// What a training run produced besides the model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainReport {
    /// The loss at every step, before that step's update.
    pub losses: Vec<f64>,
}

impl TrainReport {
    /// Mean of the last `n` losses (all of them if fewer).
    pub fn mean_last(&self, n: usize) -> f64 {
        let tail = &self.losses[self.losses.len().saturating_sub(n)..];
        tail.iter().sum::<f64>() / tail.len().max(1) as f64
    }
}

/// A minimal training loop: evaluate a loss closure, back-propagate, step an optimizer.
///
/// [`Trainer::fit_loss`] trains a score network with any [`Loss`] (every loss of `sgm-losses`
/// implements it); [`Trainer::fit`] takes any closure of the model and the step index that
/// returns a scalar tensor on the autodiff graph, so it trains any burn module. The losses are
/// read back every `loss_every` steps (one device synchronisation for all of them) to record
/// them and to stop with [`NnError::NonFiniteLoss`] instead of training on NaN.
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
/// let mut trainer = Trainer::adam(TrainerConfig::new(300).with_learning_rate(0.05))?;
/// let (model, report) = trainer.fit(model, |m: &burn::nn::Linear, _| {
///     Ok::<_, std::convert::Infallible>((m.forward(x.clone()) - x.clone() * 2.0).square().mean())
/// })?;
/// assert!(report.losses[299] < 1e-3);
/// # Ok::<(), sgm_nn::NnError>(())
/// ```
pub struct Trainer {
    config: TrainerConfig,
    optimizer: ModuleOptimizer,
}

impl std::fmt::Debug for Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Trainer {
    /// A trainer with any burn optimizer.
    ///
    /// # Errors
    /// [`NnError::Core`]: `InvalidParameter` for an `ema_decay` outside [0, 1), `ZeroCount` for a
    /// zero `loss_every`.
    pub fn new(config: TrainerConfig, optimizer: ModuleOptimizer) -> Result<Self> {
        if let Some(decay) = config.ema_decay {
            crate::ema::check_decay(decay)?;
        }
        sgm_core::validate::nonzero("loss_every", config.loss_every)?;
        Ok(Self { config, optimizer })
    }

    /// A trainer with Adam at its default betas (0.9, 0.999).
    ///
    /// ```
    /// use sgm_nn::{Trainer, TrainerConfig};
    /// assert!(Trainer::adam(TrainerConfig::new(100).with_ema_decay(Some(0.999))).is_ok());
    /// assert!(Trainer::adam(TrainerConfig::new(100).with_loss_every(0)).is_err());
    /// ```
    ///
    /// # Errors
    /// As [`Trainer::new`].
    pub fn adam(config: TrainerConfig) -> Result<Self> {
        Self::new(config, AdamConfig::new().init())
    }

    /// Runs `config.steps` steps of `loss` on `model` and returns the trained model: the last
    /// iterate, or with `ema_decay` set the moving average of the iterates (outside autodiff).
    ///
    /// # Errors
    /// [`NnError::Loss`] if the closure fails (its error kept as the source),
    /// [`NnError::NonFiniteLoss`] if a loss is NaN or infinite (the model is then dropped: it was
    /// trained on it).
    pub fn fit<M, F, E>(&mut self, mut model: M, mut loss: F) -> Result<(M, TrainReport)>
    where
        M: Module,
        F: FnMut(&M, usize) -> std::result::Result<Tensor<1>, E>,
        E: std::error::Error + Send + Sync + 'static,
    {
        let every = self.config.loss_every;
        let bar = if self.config.progress {
            ProgressBar::new(self.config.steps as u64).with_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} steps, loss {msg} ({eta})")
                    .expect("valid template"),
            )
        } else {
            ProgressBar::hidden()
        };
        let mut ema = match self.config.ema_decay {
            Some(decay) => Some(Ema::new(&model, decay)?),
            None => None,
        };
        let mut losses = Vec::with_capacity(self.config.steps);
        let mut pending = Vec::with_capacity(every);
        for step in 0..self.config.steps {
            let value = loss(&model, step).map_err(|e| NnError::Loss {
                step,
                source: std::sync::Arc::new(e),
            })?;
            pending.push(value.clone().detach().reshape([1]));
            let grads = GradientsParams::from_grads(value.backward(), &model);
            model = self.optimizer.step(self.config.learning_rate, model, grads);
            if let Some(ema) = ema.as_mut() {
                ema.update(&model);
            }
            if pending.len() == every || step + 1 == self.config.steps {
                let first = step + 1 - pending.len();
                let read = sgm_core::tensor::to_f64(Tensor::cat(std::mem::take(&mut pending), 0));
                if let Some(i) = read.iter().position(|l| !l.is_finite()) {
                    return Err(NnError::NonFiniteLoss {
                        step: first + i,
                        loss: read[i],
                    });
                }
                bar.set_message(format!("{:.4}", read[read.len() - 1]));
                losses.extend(read);
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        let model = ema.map_or(model, Ema::into_model);
        Ok((model, TrainReport { losses }))
    }

    /// Trains the score network `model` with `loss` on the batch `data(step)` of every step,
    /// the loss drawing its noise from `noise`: [`Trainer::fit`] with `loss.loss(model, data,
    /// noise)` as the closure.
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
    /// let mut trainer = Trainer::adam(TrainerConfig::new(200).with_learning_rate(1e-2))?;
    /// let (_, report) = trainer.fit_loss(net, &ToStandardNormal, |_| batch.clone(), &mut noise)?;
    /// assert!(report.mean_last(20) < report.losses[0]);
    /// # Ok::<(), sgm_nn::NnError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Trainer::fit`]; a failing loss gives [`NnError::Loss`] whose source is the loss's
    /// own error.
    pub fn fit_loss<M, L, D>(
        &mut self,
        model: M,
        loss: &L,
        mut data: D,
        noise: &mut dyn NoiseSource,
    ) -> Result<(M, TrainReport)>
    where
        M: Module + ScoreModel,
        L: Loss + ?Sized,
        D: FnMut(usize) -> Tensor<2>,
    {
        self.fit(model, |m: &M, step| loss.loss(m, data(step), &mut *noise))
    }
}

use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};

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
/// The loss is any closure of the model and the step index that returns a scalar tensor on the
/// autodiff graph, so every loss of `sgm-losses` (or a user's own) trains any burn module. The
/// loss is read back every step (one device synchronisation) to record it and to stop with
/// [`NnError::NonFiniteLoss`] instead of training on NaN.
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
/// let mut trainer = Trainer::adam(TrainerConfig::new(300).with_learning_rate(0.05));
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
    pub fn new(config: TrainerConfig, optimizer: ModuleOptimizer) -> Self {
        Self { config, optimizer }
    }

    /// A trainer with Adam at its default betas (0.9, 0.999).
    pub fn adam(config: TrainerConfig) -> Self {
        Self::new(config, AdamConfig::new().init())
    }

    /// Runs `config.steps` steps of `loss` on `model` and returns the trained model: the last
    /// iterate, or with `ema_decay` set the moving average of the iterates (outside autodiff).
    ///
    /// # Errors
    /// [`NnError::Loss`] if the closure fails, [`NnError::NonFiniteLoss`] if the loss is NaN or
    /// infinite (the model is then dropped: its last update made it so),
    /// [`NnError::InvalidConfig`] for an `ema_decay` outside [0, 1).
    pub fn fit<M, F, E>(&mut self, mut model: M, mut loss: F) -> Result<(M, TrainReport)>
    where
        M: Module,
        F: FnMut(&M, usize) -> std::result::Result<Tensor<1>, E>,
        E: std::fmt::Display,
    {
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
        for step in 0..self.config.steps {
            let value = loss(&model, step).map_err(|e| NnError::Loss {
                step,
                message: e.to_string(),
            })?;
            let scalar = f64::from(value.clone().into_scalar::<f32>());
            if !scalar.is_finite() {
                return Err(NnError::NonFiniteLoss { step, loss: scalar });
            }
            losses.push(scalar);
            let grads = GradientsParams::from_grads(value.backward(), &model);
            model = self.optimizer.step(self.config.learning_rate, model, grads);
            if let Some(ema) = ema.as_mut() {
                ema.update(&model);
            }
            if step % 25 == 0 {
                bar.set_message(format!("{scalar:.4}"));
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        let model = ema.map_or(model, Ema::into_model);
        Ok((model, TrainReport { losses }))
    }
}

//! burn-train's [`Learner`](burn::train::Learner) training any `sgm` [`Loss`] (feature `train`).
//!
//! [`Trainer`](crate::Trainer) covers one device. For burn-train's metrics, its checkpointing
//! and its multi-device and distributed-data-parallel strategies, wrap the score model and the
//! loss in a [`ScoreMatching`] module, feed it [`ScoreBatch`]es from [`score_dataloader`] (or a
//! data loader of your own built on [`ScoreBatcher`]), and hand it to a `Learner`
//! ([`ProgressRenderer`] shows the run as one progress bar):
//!
//! ```no_run
//! use burn::prelude::*;
//! use burn::optim::AdamConfig;
//! use burn::train::{ExecutionStrategy, Learner, SupervisedTraining, metric::LossMetric};
//! use sgm_losses::{ContinuousDsm, Weighting};
//! use sgm_nn::learner::{ProgressRenderer, ScoreMatching, score_dataloader};
//! use sgm_nn::{Parameterization, ScoreMlp, ScoreMlpConfig};
//! use sgm_sde::VpSde;
//!
//! let device = Device::flex().autodiff();
//! let data = Tensor::<2>::random([4096, 2], burn::tensor::Distribution::Normal(0.0, 1.0), &device);
//! let train = score_dataloader(data.clone(), 256, 0)?;
//! let valid = score_dataloader(data, 1024, 1)?;
//! let net = ScoreMlpConfig::new(2).init(&device)?;
//! let vp = VpSde::default();
//! let dsm = ContinuousDsm::new(vp, Weighting::StdSquared, 1e-5)?;
//! let model = ScoreMatching::new(net, vp, Parameterization::StdNormalized, dsm);
//! let learner = Learner::new(model, AdamConfig::new().init(), 1e-3);
//! let result = SupervisedTraining::new("runs/learner", train, valid)
//!     .with_training_strategy(ExecutionStrategy::SingleDevice(device).into())
//!     .num_epochs(10)
//!     .renderer(Box::new(ProgressRenderer::new()))
//!     .metric_train_numeric(LossMetric::new())
//!     .metric_valid_numeric(LossMetric::new())
//!     .launch(learner);
//! let trained: ScoreMlp = result.model.into_net();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The noise a loss draws (noise levels, perturbations) travels with its batch: the batcher
//! gives the k-th batch it builds the k-th `u64` of a xoshiro256++ stream seeded by its seed
//! ([`rand::SeedableRng::seed_from_u64`]), and the training step draws from
//! `HostNoise::new(batch.noise_seed)`. Replicas of the module on several devices, each fed
//! other batches, therefore never repeat each other's noise, and a run on one device with one
//! loader thread is reproducible.
//!
//! burn-train's training step has no error channel: a loss that fails (a model of the wrong
//! shape) or turns non-finite panics with the step's message, which the Learner reports
//! ([`LearningResult::error`](burn::train::LearningResult) on multi-device strategies).

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::data::dataset::InMemDataset;
use burn::module::{Module, ModuleDisplay};
use burn::prelude::*;
use burn::tensor::ExecutionError;
use burn::train::metric::{Adaptor, ItemLazy, LossInput};
use burn::train::{InferenceStep, TrainOutput, TrainStep};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use sgm_core::{CoreError, HostNoise, Loss};
use sgm_sde::LinearSde;

use crate::{Parameterization, Parameterized, Result, ScoreNetwork};

mod progress;
pub use progress::ProgressRenderer;

/// A batch of data rows, `[batch, dim]`, with the seed of the noise its loss draws.
#[derive(Debug, Clone)]
pub struct ScoreBatch {
    /// The data, `[batch, dim]`.
    pub x: Tensor<2>,
    /// Seed of the [`HostNoise`] the loss draws from for this batch.
    pub noise_seed: u64,
}

/// Stacks rows of `dim` values into a [`ScoreBatch`]; the k-th batch it builds gets the k-th
/// `u64` of `Xoshiro256PlusPlus::seed_from_u64(seed)` as its noise seed.
///
/// ```
/// use burn::data::dataloader::batcher::Batcher;
/// use burn::prelude::*;
/// use sgm_nn::learner::ScoreBatcher;
///
/// let batcher = ScoreBatcher::new(2, 0)?;
/// let a = batcher.batch(vec![vec![1.0, 2.0], vec![3.0, 4.0]], &Device::flex());
/// let b = batcher.batch(vec![vec![5.0, 6.0]], &Device::flex());
/// assert_eq!(a.x.dims(), [2, 2]);
/// assert_ne!(a.noise_seed, b.noise_seed);
/// # Ok::<(), sgm_nn::NnError>(())
/// ```
#[derive(Debug)]
pub struct ScoreBatcher {
    dim: usize,
    seeds: Mutex<Xoshiro256PlusPlus>,
}

impl ScoreBatcher {
    /// A batcher of rows of length `dim` whose noise seeds are the draws of
    /// `Xoshiro256PlusPlus::seed_from_u64(seed)`.
    ///
    /// # Errors
    /// [`CoreError::ZeroCount`] if `dim` is 0.
    pub fn new(dim: usize, seed: u64) -> Result<Self> {
        if dim == 0 {
            return Err(CoreError::ZeroCount { name: "dim" }.into());
        }
        Ok(Self {
            dim,
            seeds: Mutex::new(Xoshiro256PlusPlus::seed_from_u64(seed)),
        })
    }

    /// The length of a row.
    pub fn dim(&self) -> usize {
        self.dim
    }
}

impl Batcher<Vec<f32>, ScoreBatch> for ScoreBatcher {
    /// # Panics
    /// If a row's length is not [`ScoreBatcher::dim`] (burn's `Batcher` has no error channel;
    /// [`score_dataloader`] builds only rows of the right length).
    fn batch(&self, items: Vec<Vec<f32>>, device: &Device) -> ScoreBatch {
        let rows = items.len();
        let mut values = Vec::with_capacity(rows * self.dim);
        for (i, row) in items.into_iter().enumerate() {
            assert_eq!(
                row.len(),
                self.dim,
                "row {i} has {} values, the batcher's rows have {}",
                row.len(),
                self.dim
            );
            values.extend(row);
        }
        let noise_seed = self
            .seeds
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .random::<u64>();
        let x = Tensor::from_data(TensorData::new(values, [rows, self.dim]), device);
        ScoreBatch { x, noise_seed }
    }
}

/// A burn-train data loader over the rows of `data` (`[n, dim]`, read to the host once), in
/// batches of `batch_size` in the data's order on one thread, the noise seeds those of
/// `ScoreBatcher::new(dim, seed)`. Shuffle, more threads or another dataset: build a
/// [`DataLoaderBuilder`] on a [`ScoreBatcher`] directly.
///
/// # Errors
/// [`CoreError::ZeroCount`] if `batch_size` is 0 or `data` has no rows or no columns,
/// [`CoreError::InvalidParameter`] naming the first NaN or infinity in `data`.
pub fn score_dataloader(
    data: Tensor<2>,
    batch_size: usize,
    seed: u64,
) -> Result<Arc<dyn DataLoader<ScoreBatch>>> {
    let [n, dim] = data.dims();
    for (name, value) in [("batch_size", batch_size), ("rows", n)] {
        if value == 0 {
            return Err(CoreError::ZeroCount { name }.into());
        }
    }
    let batcher = ScoreBatcher::new(dim, seed)?;
    let values = sgm_core::tensor::to_f64(data);
    if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
        return Err(CoreError::InvalidParameter {
            name: "data",
            value: *bad,
            requirement: "finite",
        }
        .into());
    }
    let rows: Vec<Vec<f32>> = values
        .chunks(dim)
        .map(|row| row.iter().map(|&v| v as f32).collect())
        .collect();
    Ok(DataLoaderBuilder::new(batcher)
        .batch_size(batch_size)
        .build(InMemDataset::new(rows)))
}

/// A score network read through a [`Parameterization`] under a linear SDE (the score model
/// [`Parameterized::with_sde`] builds), and the loss that trains it, as one burn module that
/// burn-train's `Learner` trains and validates. Only the network's weights are parameters:
/// the SDE, the parameterisation and the loss are `#[module(skip)]` fields.
#[derive(Module, Debug)]
pub struct ScoreMatching<N: Module, S: Debug + Clone + Send + Sync, L: Debug + Clone + Send + Sync>
{
    net: N,
    #[module(skip)]
    sde: S,
    #[module(skip)]
    parameterization: Parameterization,
    #[module(skip)]
    loss: L,
}

impl<N, S, L> ScoreMatching<N, S, L>
where
    N: Module + ModuleDisplay + ScoreNetwork,
    S: LinearSde + Debug + Clone + Send + Sync,
    L: Loss + Debug + Clone + Send + Sync,
{
    /// `net`, read as a score through `parameterization` under `sde`, trained by `loss`.
    ///
    /// ```
    /// use burn::prelude::*;
    /// use sgm_losses::{ContinuousDsm, Weighting};
    /// use sgm_nn::{Parameterization, ScoreMlpConfig, learner::ScoreMatching};
    /// use sgm_sde::VpSde;
    ///
    /// let vp = VpSde::default();
    /// let net = ScoreMlpConfig::new(2).init(&Device::flex())?;
    /// let dsm = ContinuousDsm::new(vp, Weighting::StdSquared, 1e-5)?;
    /// let module = ScoreMatching::new(net, vp, Parameterization::StdNormalized, dsm);
    /// assert_eq!(module.net().dim(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(net: N, sde: S, parameterization: Parameterization, loss: L) -> Self {
        Self {
            net,
            sde,
            parameterization,
            loss,
        }
    }

    /// The network.
    pub fn net(&self) -> &N {
        &self.net
    }

    /// The network, taken out of the module.
    pub fn into_net(self) -> N {
        self.net
    }

    /// The loss on a batch, with the batch's noise.
    ///
    /// # Panics
    /// If the loss fails or is not finite (the Learner's step has no error channel).
    fn batch_loss(&self, batch: ScoreBatch) -> Tensor<1> {
        let model = Parameterized::with_sde(&self.net, self.sde.clone(), self.parameterization);
        let mut noise = HostNoise::new(batch.noise_seed);
        let loss = self
            .loss
            .loss(&model, batch.x, &mut noise)
            .unwrap_or_else(|err| panic!("sgm loss failed in a Learner step: {err}"));
        let value = sgm_core::tensor::to_f64(loss.clone())[0];
        assert!(
            value.is_finite(),
            "sgm loss is {value} in a Learner step (noise seed {})",
            batch.noise_seed
        );
        loss
    }
}

/// What a [`ScoreMatching`] step reports: the loss, `[1]`, for burn-train's `LossMetric`.
#[derive(Debug, Clone)]
pub struct ScoreMatchingOutput {
    /// The batch's loss, `[1]`.
    pub loss: Tensor<1>,
}

impl Adaptor<LossInput> for ScoreMatchingOutput {
    fn adapt(&self) -> LossInput {
        LossInput::new(self.loss.clone())
    }
}

impl ItemLazy for ScoreMatchingOutput {
    fn sync(self) -> std::result::Result<Self, ExecutionError> {
        self.loss.device().flush()?;
        Ok(Self {
            loss: self.loss.without_autodiff(),
        })
    }
}

impl<N, S, L> TrainStep for ScoreMatching<N, S, L>
where
    N: Module + ModuleDisplay + ScoreNetwork,
    S: LinearSde + Debug + Clone + Send + Sync,
    L: Loss + Debug + Clone + Send + Sync,
{
    type Input = ScoreBatch;
    type Output = ScoreMatchingOutput;

    fn step(&self, batch: ScoreBatch) -> TrainOutput<ScoreMatchingOutput> {
        let loss = self.batch_loss(batch);
        let grads = loss.backward();
        TrainOutput::new(self, grads, ScoreMatchingOutput { loss })
    }
}

impl<N, S, L> InferenceStep for ScoreMatching<N, S, L>
where
    N: Module + ModuleDisplay + ScoreNetwork,
    S: LinearSde + Debug + Clone + Send + Sync,
    L: Loss + Debug + Clone + Send + Sync,
{
    type Input = ScoreBatch;
    type Output = ScoreMatchingOutput;

    fn step(&self, batch: ScoreBatch) -> ScoreMatchingOutput {
        ScoreMatchingOutput {
            loss: self.batch_loss(batch),
        }
    }
}

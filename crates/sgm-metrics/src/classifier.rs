//! [`FeatureClassifier`]: a small MLP classifier trained on labelled data, whose penultimate
//! layer is the [`FeatureMap`] of a classifier-based Frechet distance (what Inception's pool
//! layer is to FID, for data sets Inception was not trained on), and whose accuracy on
//! class-conditional samples says whether they show their class.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, silu};
use sgm_core::tensor::to_f64;
use sgm_core::validate::{at_least, nonzero, positive};
use sgm_core::{CoreError, HostNoise, NoiseSourceExt};

use crate::{FeatureMap, MetricError, Result};

/// Training settings of a [`FeatureClassifier`].
///
/// ```
/// use sgm_metrics::ClassifierConfig;
/// let config = ClassifierConfig::new(10).with_steps(500);
/// assert_eq!((config.classes, config.hidden, config.steps), (10, 128, 500));
/// ```
#[derive(Config, Debug)]
pub struct ClassifierConfig {
    /// Number of classes; labels are 0..classes.
    pub classes: usize,
    /// Width of the two hidden layers (the features are the second's activations).
    #[config(default = 128)]
    pub hidden: usize,
    /// Adam steps.
    #[config(default = 2000)]
    pub steps: usize,
    /// Rows per step, drawn uniformly with replacement.
    #[config(default = 128)]
    pub batch: usize,
    /// Adam's learning rate.
    #[config(default = 1e-3)]
    pub learning_rate: f64,
    /// Seed of the host noise that draws the batches (the weights use the device's generator).
    #[config(default = 0)]
    pub seed: u64,
}

/// An MLP classifier x -> SiLU(W1 x + b1) -> SiLU(W2 h1 + b2) = f(x) -> W3 f + b3 (logits),
/// trained by cross-entropy with Adam. `features` is f(x), the penultimate layer.
///
/// ```
/// use burn::prelude::*;
/// use sgm_metrics::{ClassifierConfig, FeatureClassifier, FeatureMap};
///
/// let device = Device::flex();
/// // Two classes: the sign of the first coordinate.
/// let x = Tensor::<2>::from_floats([[-2.0, 0.0], [-1.0, 1.0], [1.0, 0.5], [2.0, -1.0]], &device);
/// let labels = [0, 0, 1, 1];
/// let config = ClassifierConfig::new(2).with_hidden(8).with_steps(200).with_batch(4);
/// let classifier = FeatureClassifier::train(x.clone(), &labels, &config)?;
/// assert_eq!(classifier.accuracy(x.clone(), &labels)?, 1.0);
/// assert_eq!(classifier.features(x).dims(), [4, 8]);
/// # Ok::<(), sgm_metrics::MetricError>(())
/// ```
#[derive(Module, Debug)]
pub struct FeatureClassifier {
    first: Linear,
    second: Linear,
    logits: Linear,
}

impl FeatureClassifier {
    /// Trains a classifier of `x` (`[n, d]`) into `labels` (`n` of them, each below
    /// `config.classes`) on `x`'s device.
    ///
    /// # Errors
    /// [`MetricError::Core`] for a label count other than n (`ShapeMismatch`), a label out of
    /// range (`InvalidParameter`), fewer than 2 classes (`TooFew`), zero width, steps or batch
    /// (`ZeroCount`), a non-positive learning rate; [`MetricError::NonFinite`] if the training
    /// loss turns NaN or infinite (checked every 100 steps and at the end).
    pub fn train(x: Tensor<2>, labels: &[usize], config: &ClassifierConfig) -> Result<Self> {
        let [n, d] = x.dims();
        if labels.len() != n {
            return Err(CoreError::ShapeMismatch {
                what: "classifier labels",
                expected: vec![n],
                found: vec![labels.len()],
            }
            .into());
        }
        at_least("classes", config.classes, 2)?;
        nonzero("hidden", config.hidden)?;
        nonzero("steps", config.steps)?;
        nonzero("batch", config.batch)?;
        nonzero("rows", n)?;
        positive("learning_rate", config.learning_rate)?;
        if let Some(&bad) = labels.iter().find(|&&l| l >= config.classes) {
            return Err(sgm_core::validate::invalid(
                "label",
                bad as f64,
                "below the number of classes",
            )
            .into());
        }
        let device = x.device().autodiff();
        let x = x.to_device(&device);
        let one_hot: Vec<f32> = labels
            .iter()
            .flat_map(|&l| (0..config.classes).map(move |k| if k == l { 1.0 } else { 0.0 }))
            .collect();
        let targets =
            Tensor::<2>::from_data(TensorData::new(one_hot, [n, config.classes]), &device);
        let mut net = Self {
            first: LinearConfig::new(d, config.hidden).init(&device),
            second: LinearConfig::new(config.hidden, config.hidden).init(&device),
            logits: LinearConfig::new(config.hidden, config.classes).init(&device),
        };
        let mut optim = AdamConfig::new().init();
        let mut noise = HostNoise::new(config.seed);
        for step in 0..config.steps {
            let index = noise.uniform_indices(config.batch, n, &x);
            let loss = net.cross_entropy(
                x.clone().select(0, index.clone()),
                targets.clone().select(0, index),
            );
            if step % 100 == 99 || step + 1 == config.steps {
                let value = to_f64(loss.clone())[0];
                if !value.is_finite() {
                    return Err(MetricError::NonFinite {
                        what: "classifier training loss",
                    });
                }
            }
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optim.step(config.learning_rate, net, grads);
        }
        Ok(net.valid())
    }

    /// Mean cross-entropy of the logits of `x` against one-hot `targets`, `[1]`.
    fn cross_entropy(&self, x: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
        let log_p = log_softmax(self.forward(x), 1);
        -(log_p * targets).sum_dim(1).mean()
    }

    /// The logits of `x`, `[n, classes]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.logits.forward(self.penultimate(x))
    }

    fn penultimate(&self, x: Tensor<2>) -> Tensor<2> {
        silu(self.second.forward(silu(self.first.forward(x))))
    }

    /// The most likely class of each row of `x`.
    pub fn predict(&self, x: Tensor<2>) -> Vec<usize> {
        let logits = self.forward(x);
        let classes = logits.dims()[1];
        to_f64(logits)
            .chunks(classes)
            .map(|row| {
                row.iter()
                    .enumerate()
                    .fold((0, f64::NEG_INFINITY), |best, (k, &v)| {
                        if v > best.1 { (k, v) } else { best }
                    })
                    .0
            })
            .collect()
    }

    /// The share of rows of `x` whose predicted class is their label: on class-conditional
    /// samples, whether each sample shows the class it was drawn for.
    ///
    /// # Errors
    /// [`MetricError::Core`] (`ShapeMismatch`) for a label count other than the rows of `x`,
    /// (`ZeroCount`) for no rows.
    pub fn accuracy(&self, x: Tensor<2>, labels: &[usize]) -> Result<f64> {
        let n = x.dims()[0];
        nonzero("rows", n)?;
        if labels.len() != n {
            return Err(CoreError::ShapeMismatch {
                what: "classifier labels",
                expected: vec![n],
                found: vec![labels.len()],
            }
            .into());
        }
        let right = self
            .predict(x)
            .iter()
            .zip(labels)
            .filter(|(p, l)| p == l)
            .count();
        Ok(right as f64 / n as f64)
    }
}

impl FeatureMap for FeatureClassifier {
    /// The penultimate layer's activations, `[n, hidden]`.
    fn features(&self, x: Tensor<2>) -> Tensor<2> {
        self.penultimate(x)
    }
}

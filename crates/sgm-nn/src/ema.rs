use burn::module::{ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;

use crate::Result;

/// Exponential moving average of a module's float parameters (Polyak averaging), the weights
/// score models are evaluated with (Song & Ermon 2020, "Improved techniques for training
/// score-based generative models", sec. 3.5; score_sde's `ema_rate`).
///
/// After update n (counting from 1) with live parameters theta_n,
///
/// ```text
/// avg_n = r_n avg_{n-1} + (1 - r_n) theta_n,   r_n = min(decay, (1 + n) / (10 + n)),
/// ```
///
/// starting from avg_0 = theta_0, the parameters at construction. The warm-up r_n (TensorFlow's
/// `ExponentialMovingAverage` with `num_updates`) keeps the first updates from being dominated
/// by the untrained initial weights. The average lives outside autodiff (`Module::valid`);
/// integer and boolean parameters keep their values from construction.
///
/// ```
/// use burn::prelude::*;
/// use burn::nn::LinearConfig;
/// use sgm_nn::Ema;
///
/// let device = Device::flex();
/// let model = LinearConfig::new(2, 1).init(&device);
/// let mut ema = Ema::new(&model, 0.999)?;
/// ema.update(&model);
/// assert_eq!(ema.updates(), 1);
/// let averaged: &burn::nn::Linear = ema.model();
/// # let _ = averaged;
/// # Ok::<(), sgm_nn::NnError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Ema<M: Module> {
    average: M,
    decay: f64,
    updates: usize,
}

impl<M: Module> Ema<M> {
    /// Starts the average at `model`'s parameters.
    ///
    /// # Errors
    /// [`NnError::Core`](crate::NnError::Core) (`CoreError::InvalidParameter`) unless 0 <= `decay` < 1.
    pub fn new(model: &M, decay: f64) -> Result<Self> {
        check_decay(decay)?;
        Ok(Self {
            average: model.valid(),
            decay,
            updates: 0,
        })
    }

    /// An average that has already folded in `updates` updates (a resumed run's).
    pub(crate) fn from_parts(average: M, decay: f64, updates: usize) -> Self {
        Self {
            average,
            decay,
            updates,
        }
    }

    /// The decay.
    pub fn decay(&self) -> f64 {
        self.decay
    }

    /// The rate r_n of the next update.
    pub fn next_rate(&self) -> f64 {
        let n = (self.updates + 1) as f64;
        self.decay.min((1.0 + n) / (10.0 + n))
    }

    /// Folds `model`'s current parameters into the average.
    pub fn update(&mut self, model: &M) {
        let rate = self.next_rate();
        let mut live = LiveParams::default();
        model.valid().visit(&mut live);
        let mut blend = Blend {
            live: live.values.into_iter(),
            rate,
        };
        self.average = self.average.clone().map(&mut blend);
        self.updates += 1;
    }

    /// Number of updates so far.
    pub fn updates(&self) -> usize {
        self.updates
    }

    /// The averaged module.
    pub fn model(&self) -> &M {
        &self.average
    }

    /// The averaged module, by value.
    pub fn into_model(self) -> M {
        self.average
    }
}

/// Collects the float parameters of a module, flattened, in visiting order.
#[derive(Default)]
struct LiveParams {
    values: Vec<Tensor<1>>,
}

impl ModuleVisitor for LiveParams {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.values.push(param.val().flatten(0, D - 1));
    }
}

/// Replaces each float parameter p of the average, in the same visiting order, by
/// rate p + (1 - rate) live.
struct Blend {
    live: std::vec::IntoIter<Tensor<1>>,
    rate: f64,
}

impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let live = self
            .live
            .next()
            .expect("the average has the live module's structure");
        let rate = self.rate;
        param.map(|p| {
            let shape = p.shape();
            p * rate + live.reshape(shape) * (1.0 - rate)
        })
    }
}

/// `decay` if 0 <= decay < 1 (the EMA's and the trainer's check).
pub(crate) fn check_decay(decay: f64) -> Result<f64> {
    Ok(sgm_core::validate::require(
        (0.0..1.0).contains(&decay),
        "ema_decay",
        decay,
        "0 <= decay < 1",
    )?)
}

#[cfg(test)]
mod tests {
    use crate::NnError;
    use burn::nn::{Linear, LinearConfig};

    use super::*;
    use crate::{Trainer, TrainerConfig};

    fn linear(weight: f32, bias: f32, device: &Device) -> Linear {
        let mut model = LinearConfig::new(1, 1).init(device);
        model.weight = Param::from_tensor(Tensor::from_data([[weight]], device));
        model.bias = Some(Param::from_tensor(Tensor::from_data([bias], device)));
        model
    }

    fn weight_and_bias(model: &Linear) -> (f64, f64) {
        let w = f64::from(model.weight.val().into_scalar::<f32>());
        let b = f64::from(model.bias.as_ref().unwrap().val().into_scalar::<f32>());
        (w, b)
    }

    #[test]
    fn follows_the_warm_up_recursion() {
        let device = Device::flex();
        let mut ema = Ema::new(&linear(1.0, -1.0, &device), 0.5).unwrap();
        // r_1 = min(0.5, 2/11), r_2 = min(0.5, 3/12), r_3 = min(0.5, 4/13).
        let (r1, r2, r3) = (2.0 / 11.0, 3.0 / 12.0, 4.0 / 13.0);
        let (mut w, mut b) = (1.0, -1.0);
        for (rate, (lw, lb)) in [r1, r2, r3]
            .into_iter()
            .zip([(3.0, 2.0), (-2.0, 5.0), (4.0, 0.5)])
        {
            assert!((ema.next_rate() - rate).abs() < 1e-15);
            ema.update(&linear(lw as f32, lb as f32, &device));
            w = rate * w + (1.0 - rate) * lw;
            b = rate * b + (1.0 - rate) * lb;
            let (ew, eb) = weight_and_bias(ema.model());
            assert!(
                (ew - w).abs() < 1e-6 && (eb - b).abs() < 1e-6,
                "{ew} {eb} vs {w} {b}"
            );
        }
        for _ in 0..100 {
            ema.update(&linear(0.0, 0.0, &device));
        }
        assert_eq!(ema.updates(), 103);
        assert_eq!(ema.next_rate(), 0.5);
    }

    #[test]
    fn rejects_a_decay_outside_the_unit_interval() {
        let model = linear(1.0, 0.0, &Device::flex());
        for decay in [1.0, -0.1, f64::NAN] {
            assert!(matches!(
                Ema::new(&model, decay),
                Err(NnError::Core(sgm_core::CoreError::InvalidParameter {
                    name: "ema_decay",
                    ..
                }))
            ));
        }
    }

    #[test]
    fn trainer_returns_the_average() {
        // Fit y = 2 x: the averaged weight converges with the iterates, and differs from the
        // last iterate (the average lags it).
        let device = Device::flex().autodiff();
        let x = Tensor::<2>::from_data([[1.0], [2.0], [-1.0]], &device);
        let fit = |ema_decay| {
            let config = TrainerConfig::new(400)
                .with_learning_rate(0.05)
                .with_ema_decay(ema_decay);
            let (model, _) = Trainer::new(config)
                .unwrap()
                .fit(linear(0.0, 0.0, &device), |m: &Linear, _| {
                    Ok::<_, std::convert::Infallible>(
                        (m.forward(x.clone()) - x.clone() * 2.0).square().mean(),
                    )
                })
                .unwrap();
            weight_and_bias(&model)
        };
        let (last, averaged) = (fit(None), fit(Some(0.9)));
        assert!((averaged.0 - 2.0).abs() < 1e-2, "{averaged:?}");
        assert_ne!(last, averaged);
    }
}

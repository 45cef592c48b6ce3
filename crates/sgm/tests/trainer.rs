//! The trainer against hand computations: where a diverging run stops (`NnError::NonFiniteLoss`)
//! and the EMA weights it returns (the recursion replayed on the recorded iterates).

use burn::module::Param;
use burn::nn::{Linear, LinearConfig};
use burn::optim::SgdConfig;
use sgm::core::tensor::{from_f64, to_f64};
use sgm::nn::NnError;
use sgm::prelude::*;

/// A 1 -> 1 linear unit without bias, weight `w`.
fn unit(w: f32, device: &Device) -> Linear {
    let mut model = LinearConfig::new(1, 1).with_bias(false).init(device);
    model.weight = Param::from_tensor(Tensor::from_data([[w]], device));
    model
}

/// SGD on loss(w) = w^2 (x = 1, no bias) with learning rate 10: w <- w - 10 * 2w = -19 w, so
/// from w_0 = 1 the loss before step k is 19^(2k) = 361^k. In f32 the loss first overflows to
/// +inf at the first k with 361^k > f32::MAX (k = 16: 361^15 = 2.3e38 < 3.4e38 < 361^16), and
/// w_k = (-19)^k itself stays finite until then (19^16 = 2.9e20). With the losses read back
/// every step (`loss_every = 1`) the trainer must stop there, return
/// `NonFiniteLoss { step: 16, loss: inf }`, and not evaluate the loss again. With the default
/// `loss_every = 10` it reads steps 10..=19 at once: it evaluates up to step 19 (20 calls;
/// w_19 = 19^19 = 2e24 is still finite, the loss stays inf) and still names step 16.
///
/// Mutations checked: removing the finiteness check (the `position(|l| !l.is_finite())` over
/// the losses read back in `Trainer::fit`) or reporting the wrong step fails this.
#[test]
fn a_diverging_run_stops_with_non_finite_loss_at_the_overflowing_step() {
    let device = Device::flex().autodiff();
    let expected_step = (0..)
        .find(|&k| 361f64.powi(k) > f64::from(f32::MAX))
        .unwrap() as usize;
    assert_eq!(expected_step, 16);
    let x = Tensor::<2>::from_data([[1.0]], &device);
    for (loss_every, expected_calls) in [(1, expected_step + 1), (10, 20)] {
        let mut calls = 0usize;
        let mut trainer = Trainer::with_optimizer(
            TrainerConfig::new(100)
                .with_learning_rate(10.0)
                .with_loss_every(loss_every),
            SgdConfig::new().init(),
        )
        .unwrap();
        let err = trainer
            .fit(unit(1.0, &device), |m: &Linear, _| {
                calls += 1;
                Ok::<_, std::convert::Infallible>(m.forward(x.clone()).square().mean())
            })
            .unwrap_err();
        match err {
            NnError::NonFiniteLoss { step, loss } => {
                assert_eq!(
                    (step, loss),
                    (expected_step, f64::INFINITY),
                    "loss_every {loss_every}"
                );
            }
            other => panic!("expected NonFiniteLoss, got {other:?}"),
        }
        assert_eq!(calls, expected_calls, "loss_every {loss_every}");
    }
}

/// A loss that turns NaN at step 5 (the closure multiplies it by NaN there) stops the run with
/// `NonFiniteLoss { step: 5, loss: NaN }`: after exactly six evaluations when every loss is
/// read back (`loss_every = 1`), after the ten of the first block of reads with the default
/// `loss_every = 10` (the NaN weights make the later losses NaN too; the first is named).
///
/// Mutations checked: removing the finiteness check fails this (the run then finishes).
#[test]
fn a_nan_loss_stops_the_trainer_with_its_step() {
    let device = Device::flex().autodiff();
    let x = Tensor::<2>::from_data([[1.0]], &device);
    for (loss_every, expected_calls) in [(1, 6), (10, 10)] {
        let mut calls = 0usize;
        let mut trainer = Trainer::new(
            TrainerConfig::new(20)
                .with_learning_rate(0.01)
                .with_loss_every(loss_every),
        )
        .unwrap();
        let err = trainer
            .fit(unit(1.0, &device), |m: &Linear, step| {
                calls += 1;
                let loss = m.forward(x.clone()).square().mean();
                Ok::<_, std::convert::Infallible>(if step == 5 { loss * f64::NAN } else { loss })
            })
            .unwrap_err();
        match err {
            NnError::NonFiniteLoss { step, loss } => {
                assert_eq!(step, 5, "loss_every {loss_every}");
                assert!(loss.is_nan(), "{loss}");
            }
            other => panic!("expected NonFiniteLoss, got {other:?}"),
        }
        assert_eq!(calls, expected_calls, "loss_every {loss_every}");
    }
}

/// A 2 -> 1 linear model in f64 with weights `w` and bias `b`.
fn regression_model(w: [f64; 2], b: f64, device: &Device) -> Linear {
    let mut model = LinearConfig::new(2, 1).init(device);
    model.weight = Param::from_tensor(from_f64(&w, [2, 1], device, DType::F64));
    model.bias = Some(Param::from_tensor(from_f64(&[b], [1], device, DType::F64)));
    model
}

/// (w_1, w_2, b) of a regression model, read back.
fn parameters(model: &Linear) -> Vec<f64> {
    let mut p = to_f64(model.weight.val());
    p.extend(to_f64(model.bias.as_ref().expect("bias").val()));
    p
}

/// Adam on a least-squares fit, 60 steps, in f64; returns the model `fit` gives back and the
/// iterates theta_0..theta_59 the loss closure saw (each before that step's update).
fn regression_run(ema_decay: Option<f64>) -> (Vec<f64>, Vec<Vec<f64>>) {
    let device = Device::flex().autodiff();
    let x = from_f64(
        &[1.0, 0.5, -1.0, 2.0, 0.3, -0.7, 2.0, 1.0],
        [4, 2],
        &device,
        DType::F64,
    );
    // y = 1.5 x_1 - 2 x_2 + 0.7.
    let y = x
        .clone()
        .matmul(from_f64(&[1.5, -2.0], [2, 1], &device, DType::F64))
        + 0.7;
    let mut iterates = Vec::new();
    let config = TrainerConfig::new(60)
        .with_learning_rate(0.05)
        .with_ema_decay(ema_decay);
    let (model, _) = Trainer::new(config)
        .unwrap()
        .fit(
            regression_model([0.2, 0.1], -0.3, &device),
            |m: &Linear, _| {
                iterates.push(parameters(m));
                Ok::<_, std::convert::Infallible>(
                    (m.forward(x.clone()) - y.clone()).square().mean(),
                )
            },
        )
        .unwrap();
    (parameters(&model), iterates)
}

/// With `ema_decay = 0.8` the trainer returns avg_N of the recursion
///
/// ```text
/// avg_0 = theta_0,  avg_n = r_n avg_{n-1} + (1 - r_n) theta_n,  r_n = min(0.8, (1 + n) / (10 + n)),
/// ```
///
/// (TensorFlow's ExponentialMovingAverage with num_updates), theta_n the parameters after the
/// n-th update. The loss closure records theta_0..theta_{N-1}; theta_N, which no closure sees,
/// is the last iterate of the same deterministic run without EMA (whose recorded iterates are
/// checked to be the same). The warm-up rate is below 0.8 until n = 35, so both branches of
/// the min are exercised in 60 steps. In f64 the replay agrees to round-off; 1e-6 is the bound.
///
/// Mutations checked: `min` -> `max` in `Ema::next_rate`, dropping `ema.update(&model)` in
/// `Trainer::fit`, and returning the last iterate instead of the average all fail this.
#[test]
fn trainer_ema_weights_replay_the_warm_up_recursion_on_the_iterates() {
    let (averaged, iterates) = regression_run(Some(0.8));
    let (last, plain_iterates) = regression_run(None);
    assert_eq!(iterates, plain_iterates, "the runs are deterministic");
    assert_eq!(iterates.len(), 60);
    let mut thetas = iterates.clone();
    thetas.push(last.clone());
    let mut average = thetas[0].clone();
    for (n, theta) in thetas.iter().enumerate().skip(1) {
        let rate = f64::min(0.8, (1.0 + n as f64) / (10.0 + n as f64));
        for (a, p) in average.iter_mut().zip(theta) {
            *a = rate * *a + (1.0 - rate) * p;
        }
    }
    eprintln!("EMA {averaged:?}, replay {average:?}, last iterate {last:?}");
    for (got, want) in averaged.iter().zip(&average) {
        assert!((got - want).abs() < 1e-6, "{averaged:?} vs {average:?}");
    }
    // The average is not the last iterate: the check above distinguishes the two.
    let lag: f64 = average.iter().zip(&last).map(|(a, l)| (a - l).abs()).sum();
    assert!(lag > 1e-3, "average {average:?} vs last {last:?}");
}

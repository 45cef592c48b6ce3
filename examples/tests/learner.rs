//! burn-train's `Learner`, fed by `sgm::nn::learner`, takes the same Adam steps as sgm's own
//! `Trainer` on the same batches and noise: after 8 steps on flex the two networks give the
//! same outputs bit for bit on a fixed grid of inputs (both run burn's Adam on the same
//! gradients, computed by the same operations), while training moved the outputs by more
//! than 1e-3 (by 0.085). The `learner` example then runs
//! end to end at a short setting and writes its checkpoints and plot.
//!
//! Mutations checked: the batcher giving every batch the same noise seed (`random::<u64>()`
//! -> `0`), and the module dropping the parameterisation (`self.parameterization` ->
//! `Parameterization::Raw`), each fail the agreement.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use sgm::prelude::*;
use sgm_examples::CommonArgs;
use sgm_examples::learner::{Args, EPS, LEARNING_RATE, run, score_model, train_with_learner};

#[test]
fn the_learner_takes_the_steps_of_the_sgm_trainer() {
    let (steps, batch, seed) = (8, 32, 11);
    let device = Device::flex();
    let train_device = device.clone().autodiff();
    train_device.seed(3);
    let ring = GaussianMixture::ring8_weighted();
    let vp = VpSde::default();
    let mut noise = HostNoise::new(5);
    let data = ring.sample(steps * batch, &device, DType::F32, &mut noise);
    let valid = ring.sample(batch, &device, DType::F32, &mut noise);
    let net = ScoreMlpConfig::new(2)
        .with_hidden(16)
        .init(&train_device)
        .unwrap();
    let initial = net.clone();

    let dir = std::env::temp_dir().join("sgm-learner-test");
    let by_learner = train_with_learner(
        net.clone(),
        vp,
        data.clone(),
        valid,
        (1, batch, seed),
        LEARNING_RATE.into(),
        &train_device,
        &dir,
        (false, false),
    )
    .unwrap();

    let dsm = ContinuousDsm::new(vp, Weighting::StdSquared, EPS).unwrap();
    let mut seeds = Xoshiro256PlusPlus::seed_from_u64(seed);
    let config = TrainerConfig::new(steps).with_learning_rate(LEARNING_RATE);
    let (by_trainer, _) = Trainer::new(config)
        .unwrap()
        .fit(net, |m: &ScoreMlp, step| {
            let x = data
                .clone()
                .narrow(0, step * batch, batch)
                .to_device(&train_device);
            let mut noise = HostNoise::new(seeds.random::<u64>());
            dsm.loss(&score_model(m, vp), x, &mut noise)
        })
        .unwrap();

    let grid = sgm::core::tensor::from_f64(
        &sgm_examples::plot::grid_points(9, 4.0),
        [81, 2],
        &device,
        DType::F32,
    );
    let out = |net: &ScoreMlp| {
        let net = net.valid();
        let t = time_like(0.3, &grid);
        to_f64(net.forward(grid.clone(), t))
    };
    let (learner, trainer, before) = (out(&by_learner), out(&by_trainer), out(&initial));
    let max_diff = |a: &[f64], b: &[f64]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    };
    let agreement = max_diff(&learner, &trainer);
    let moved = max_diff(&trainer, &before);
    assert_eq!(agreement, 0.0, "Learner vs Trainer");
    assert!(moved > 1e-3, "training moved the outputs by {moved}");
}

#[test]
fn the_learner_example_runs_and_writes_checkpoints_and_a_plot() {
    let out = std::env::temp_dir().join("sgm-learner-example-test");
    let _ = std::fs::remove_dir_all(&out);
    let args = Args {
        common: CommonArgs {
            device: "flex".into(),
            out,
            seed: 0,
        },
        epochs: 2,
        rows: 1024,
        batch: 256,
        samples: 400,
        pc_steps: 50,
    };
    let s = run(&args).unwrap();
    assert_eq!(s.steps, 8);
    assert!((s.shares.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    let checkpoints = std::fs::read_dir(s.run_dir.join("checkpoint"))
        .unwrap()
        .count();
    assert!(checkpoints >= 3, "{checkpoints} checkpoint files");
    assert!(std::fs::metadata(&s.plot).unwrap().len() > 10_000);
}

#[test]
fn bad_loader_settings_are_typed_errors() {
    use sgm::core::CoreError;
    use sgm::nn::learner::{ScoreBatcher, score_dataloader};
    let device = Device::flex();
    let data = Tensor::<2>::ones([4, 2], &device);
    let core = |e: NnError| match e {
        NnError::Core(c) => c,
        other => panic!("{other:?}"),
    };
    assert!(matches!(
        core(score_dataloader(data.clone(), 0, 0).err().unwrap()),
        CoreError::ZeroCount { name: "batch_size" }
    ));
    let with_nan = data.slice_assign([1..2, 0..1], Tensor::full([1, 1], f32::NAN, &device));
    assert!(matches!(
        core(score_dataloader(with_nan, 2, 0).err().unwrap()),
        CoreError::InvalidParameter { name: "data", .. }
    ));
    assert!(matches!(
        core(ScoreBatcher::new(0, 0).unwrap_err()),
        CoreError::ZeroCount { name: "dim" }
    ));
}

//! Checkpoint and resume of the trainer: a run of 2n steps equals n steps, a checkpoint, a crash,
//! a new process and the remaining n, bit for bit; a truncated, a foreign and a mismatched file
//! each give their typed error, naming the file.
//!
//! The crash and the resumption run in child processes: this test binary runs itself with
//! `--ignored --exact checkpoint_child_process` and `SGM_CHECKPOINT_ROLE` set (`crash` or
//! `resume`), so nothing but the checkpoint file carries the run from one process to the next.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::weights;

use burn::module::{ModuleMapper, Param};
use sgm::core::tensor::to_f64;
use sgm::nn::NnError;
use sgm::prelude::*;

/// n: the run is 2n steps, checkpointed every n and crashing three steps after the first.
const HALF: usize = 20;
const CRASH_AT: usize = HALF + 3;

/// The config of the run: every part of the trainer that carries state or depends on the step
/// is on (AdamW moments, warm-up and cosine schedule, global-norm clipping, the EMA).
fn config() -> TrainerConfig {
    TrainerConfig::new(2 * HALF)
        .with_learning_rate(1e-2)
        .with_optimizer(OptimizerKind::AdamW { weight_decay: 1e-2 })
        .with_warmup_steps(5)
        .with_schedule(LearningRateSchedule::Cosine {
            final_fraction: 0.1,
        })
        .with_clip_grad_norm(Some(1.0))
        .with_ema_decay(Some(0.9))
}

fn net(hidden: usize, device: &Device) -> ScoreMlp {
    // The same seed gives the same Fourier frequencies; the linear layers' weights come from
    // the device generator and differ between processes, which is the point: a resumed run
    // must take every weight from the checkpoint.
    ScoreMlpConfig::new(2)
        .with_hidden(hidden)
        .with_depth(2)
        .init(device)
        .unwrap()
}

/// The network with every weight drawn from `HostNoise(5)` (times 0.3): the same start in
/// every process, whatever the device generator does.
fn fixed_net(device: &Device) -> ScoreMlp {
    struct Draw(HostNoise);
    impl ModuleMapper for Draw {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let noise = &mut self.0;
            // Only the trained weights (the Fourier frequencies are fixed by their seed).
            param.map(|w| {
                if w.is_require_grad() {
                    (noise.normal_like(&w) * 0.3).require_grad()
                } else {
                    w
                }
            })
        }
    }
    net(16, device).map(&mut Draw(HostNoise::new(5)))
}

/// The loss draws fresh data and DSM noise every step from the run's `HostNoise`, so the
/// noise source's state is part of what must resume.
fn train(
    trainer: &mut Trainer,
    model: ScoreMlp,
    noise: &mut HostNoise,
    crash_at: Option<usize>,
) -> Result<(ScoreMlp, TrainReport), NnError> {
    let device = Device::flex().autodiff();
    let loss = DenoisingScoreMatching::new(0.3, 0.0).unwrap();
    let shape = Tensor::<2>::zeros([64, 2], &device);
    trainer.fit_with_state(model, noise, |m: &ScoreMlp, step, noise: &mut HostNoise| {
        if crash_at == Some(step) {
            std::process::exit(17);
        }
        let x = noise.normal_like(&shape) * 0.5 + 1.0;
        loss.loss(m, x, noise)
    })
}

fn write_f64s(path: &Path, values: &[f64]) {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

fn read_f64s(path: &Path) -> Vec<f64> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sgm-checkpoint-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run_child(role: &str, dir: &Path) -> std::process::ExitStatus {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "checkpoint_child_process",
            "--nocapture",
        ])
        .env("SGM_CHECKPOINT_ROLE", role)
        .env("SGM_CHECKPOINT_DIR", dir)
        .status()
        .unwrap()
}

/// The child process: `crash` trains with checkpoints every n steps and exits abruptly at step
/// n + 3 (after the checkpoint of step n, before that of step 2n), logging every step;
/// `resume` builds a fresh network (other random weights), resumes from the checkpoint, and
/// writes the final weights and losses for the parent to compare.
#[test]
#[ignore = "run as a child process by the resume test"]
fn checkpoint_child_process() {
    let dir = PathBuf::from(std::env::var("SGM_CHECKPOINT_DIR").unwrap());
    let role = std::env::var("SGM_CHECKPOINT_ROLE").unwrap();
    let device = Device::flex().autodiff();
    let checkpoint = dir.join("run.ckpt");
    // The display settings may differ between the runs: the crashed one reads every loss.
    let loss_every = if role == "crash" { 1 } else { 10 };
    let mut trainer = Trainer::new(config().with_loss_every(loss_every))
        .unwrap()
        .with_checkpoints(&checkpoint, HALF)
        .unwrap()
        .with_loss_log(dir.join("losses.csv"));
    let mut noise = HostNoise::new(11);
    match role.as_str() {
        "crash" => {
            let _ = train(&mut trainer, fixed_net(&device), &mut noise, Some(CRASH_AT));
            unreachable!("the run exits at step {CRASH_AT}");
        }
        "resume" => {
            let mut trainer = trainer.with_resume_from(&checkpoint);
            // Another seed: the state must come from the checkpoint, not from here.
            let mut noise = HostNoise::new(999);
            let (model, report) = train(&mut trainer, net(16, &device), &mut noise, None).unwrap();
            write_f64s(&dir.join("weights.bin"), &weights(&model));
            write_f64s(&dir.join("losses.bin"), &report.losses);
        }
        other => panic!("unknown role {other}"),
    }
}

/// 2n steps in one go against n steps, a crash, a new process, and n more: the same weights
/// (the EMA the trainer returns) and the same 2n losses, bit for bit; the CSV log of the
/// resumed run has each step once with the run's losses and rates.
///
/// Mutations checked: not restoring the optimiser state, the noise state, or the EMA in
/// `Trainer::resume` each change the weights (the first two also the losses); checkpointing
/// the step count off by one (`step: losses.len() + 1`) fails the read.
#[test]
fn a_resumed_run_equals_the_uninterrupted_one_bit_for_bit() {
    let device = Device::flex().autodiff();
    let mut trainer = Trainer::new(config()).unwrap();
    let mut noise = HostNoise::new(11);
    let (model, report) = train(&mut trainer, fixed_net(&device), &mut noise, None).unwrap();
    let (expected_weights, expected_losses) = (weights(&model), report.losses);

    let dir = scratch("resume");
    let crashed = run_child("crash", &dir);
    assert_eq!(
        crashed.code(),
        Some(17),
        "the crashing child must exit at its crash"
    );
    let log = std::fs::read_to_string(dir.join("losses.csv")).unwrap();
    assert_eq!(
        log.lines().count(),
        1 + CRASH_AT,
        "the crashed run logged every step"
    );
    assert!(
        run_child("resume", &dir).success(),
        "the resuming child failed"
    );

    let losses = read_f64s(&dir.join("losses.bin"));
    assert_eq!(losses, expected_losses);
    let resumed = read_f64s(&dir.join("weights.bin"));
    assert_eq!(resumed.len(), expected_weights.len());
    let differing = resumed
        .iter()
        .zip(&expected_weights)
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(differing, 0, "{differing} weights differ after resuming");

    let log = std::fs::read_to_string(dir.join("losses.csv")).unwrap();
    let mut lines = log.lines();
    assert_eq!(lines.next(), Some("step,loss,learning_rate"));
    let rows: Vec<(usize, f64, f64)> = lines
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows.len(), 2 * HALF);
    for (k, (step, loss, rate)) in rows.into_iter().enumerate() {
        assert_eq!(step, k);
        assert_eq!(loss, expected_losses[k]);
        assert_eq!(rate, config().learning_rate_at(k));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Writes a checkpoint of a short run at `path`.
fn short_run(path: &Path) {
    let device = Device::flex().autodiff();
    let mut trainer = Trainer::new(config())
        .unwrap()
        .with_checkpoints(path, HALF)
        .unwrap();
    let mut noise = HostNoise::new(3);
    train(&mut trainer, net(16, &device), &mut noise, None).unwrap();
}

fn resume_error(path: &Path, config: TrainerConfig, hidden: usize) -> NnError {
    let device = Device::flex().autodiff();
    let mut trainer = Trainer::new(config).unwrap().with_resume_from(path);
    train(
        &mut trainer,
        net(hidden, &device),
        &mut HostNoise::new(3),
        None,
    )
    .unwrap_err()
}

/// A file cut short anywhere (inside the magic, inside the header, inside a section) gives
/// `CheckpointTruncated` with its length and the length the file promises; another format
/// gives `CheckpointForeign`; both name the file.
///
/// Mutations checked: dropping the length check against the header's sections makes the cut
/// inside a section fail elsewhere (a slice panic); reading a short file as foreign fails the
/// cut inside the magic.
#[test]
fn truncated_and_foreign_files_give_their_typed_errors() {
    let dir = scratch("bad-files");
    let good = dir.join("good.ckpt");
    short_run(&good);
    let bytes = std::fs::read(&good).unwrap();
    let full = bytes.len() as u64;
    for (cut, expected) in [(5, Some(16)), (40, None), (bytes.len() - 100, Some(full))] {
        let path = dir.join(format!("cut{cut}.ckpt"));
        std::fs::write(&path, &bytes[..cut]).unwrap();
        match resume_error(&path, config(), 16) {
            NnError::CheckpointTruncated {
                path: p,
                expected: e,
                found,
            } => {
                assert_eq!(p, path);
                assert_eq!(found, cut as u64);
                assert!(e > found);
                if let Some(expected) = expected {
                    assert_eq!(e, expected, "cut at {cut}");
                }
            }
            other => panic!("cut at {cut}: expected CheckpointTruncated, got {other:?}"),
        }
    }
    // A burnpack model file (what `Module::save_file` writes) and a text file.
    let model_file = dir.join("model.bpk");
    net(16, &Device::flex()).save_file(&model_file).unwrap();
    let text_file = dir.join("notes.txt");
    std::fs::write(&text_file, "not a checkpoint").unwrap();
    for path in [model_file, text_file] {
        let error = resume_error(&path, config(), 16);
        assert!(
            matches!(&error, NnError::CheckpointForeign { path: p, .. } if *p == path),
            "{error:?}"
        );
        assert!(error.to_string().contains("not an sgm checkpoint"));
    }
    // A missing file is an I/O error naming it.
    let missing = dir.join("missing.ckpt");
    assert!(matches!(
        resume_error(&missing, config(), 16),
        NnError::Io { path, .. } if path == missing
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A checkpoint of another run: another learning rate, another network width, another state
/// type each give `CheckpointMismatch` saying what differs and both values.
///
/// Mutations checked: skipping the config comparison lets the first resume train on;
/// skipping the shape comparison leaves burn's load error (reported, but as "model record").
#[test]
fn a_checkpoint_of_another_run_gives_a_mismatch_naming_what_differs() {
    let dir = scratch("mismatch");
    let path = dir.join("run.ckpt");
    short_run(&path);
    let mismatch = |error: NnError| match error {
        NnError::CheckpointMismatch {
            path: p,
            what,
            expected,
            found,
        } => {
            assert_eq!(p, path);
            (what, expected, found)
        }
        other => panic!("expected CheckpointMismatch, got {other:?}"),
    };
    let (what, expected, found) =
        mismatch(resume_error(&path, config().with_learning_rate(2e-2), 16));
    assert_eq!(what, "trainer config field `learning_rate`");
    assert_eq!((expected.as_str(), found.as_str()), ("0.02", "0.01"));

    let (what, expected, found) = mismatch(resume_error(&path, config(), 8));
    assert_eq!(what, "model parameter shapes");
    assert!(
        expected.contains("[8]") && found.contains("[16]"),
        "{expected} / {found}"
    );

    // The right run, resumed without its noise source as the state.
    let device = Device::flex().autodiff();
    let mut trainer = Trainer::new(config()).unwrap().with_resume_from(&path);
    let error = trainer
        .fit(net(16, &device), |m: &ScoreMlp, _| {
            Ok::<_, std::convert::Infallible>(
                m.score(Tensor::zeros([1, 2], &device), Tensor::zeros([1], &device))
                    .sum(),
            )
        })
        .unwrap_err();
    let (what, expected, found) = mismatch(error);
    assert_eq!(what, "state type");
    assert_eq!(expected, "()");
    assert!(found.contains("HostNoise"), "{found}");
    // The message a user reads names the file and the field.
    let message = resume_error(&path, config().with_learning_rate(2e-2), 16).to_string();
    assert!(
        message.contains("run.ckpt") && message.contains("learning_rate"),
        "{message}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A trained model saves with burn's record format (`Module::save_file`, burnpack) and a fresh
/// network of the same config loads it (`try_load_file`): the loaded U-Net gives the saved
/// one's outputs exactly, where the fresh one differed. Mutation checked: loading into the
/// fresh network skipped (`try_load_file` dropped) fails the equality.
#[test]
fn a_trained_unet_saves_and_loads_with_burns_record_format() {
    let device = Device::flex();
    let dir = scratch("record");
    let path = dir.join("unet.bpk");
    let config = UNetConfig::new(1, 8, 8)
        .with_widths(vec![8, 16])
        .with_groups(4);
    let saved = config.init(&device).unwrap();
    let x = HostNoise::new(1).sample(Noise::StandardNormal, [3, 64], &device, DType::F32);
    let t = Tensor::<1>::from_floats([0.1, 0.5, 0.9], &device);
    let want = to_f64(saved.forward(x.clone(), t.clone()));
    saved.save_file(&path).unwrap();
    let fresh = config.init(&device).unwrap();
    assert_ne!(to_f64(fresh.forward(x.clone(), t.clone())), want);
    let loaded = fresh.try_load_file(&path).unwrap();
    assert_eq!(to_f64(loaded.forward(x, t)), want);
}

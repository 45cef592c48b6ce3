//! What the samplers tell their observers: the `Trajectory` recorder against hand-replayed
//! chains and known times, and the NFE of every `StepInfo` against a counting model.

use burn::prelude::*;
use burn::tensor::DType;
use sgm_core::tensor::{from_f64, to_f64};
use sgm_core::{CountingScoreModel, HostNoise, NoiseSourceExt, ScoreFn, ScoreModel, score_fn};
use sgm_data::{ExactDensity, Gaussian, GaussianMixture};
use sgm_samplers::{
    AnnealedLangevin, DdimSampler, DdpmSampler, DdpmVariance, FinalStep, LangevinCorrector,
    LangevinDynamics, NoneCorrector, NonePredictor, Observer, PcSampler, ReverseDiffusion,
    StepInfo, Trajectory,
};
use sgm_schedules::{DiscreteBetas, GeometricSigmas, TimeGrid};
use sgm_sde::{DdpmMarginals, Sde, SmldMarginals, VpSde};

fn device() -> Device {
    Device::flex()
}

/// A fixed `[3, 2]` f64 start and the score -(x - mu) / v of N(mu, v I), mu = (1, -2), v = 0.5.
const START: [f64; 6] = [0.3, -1.2, 2.5, 0.7, -1.1, -3.0];
const MU: [f64; 2] = [1.0, -2.0];
const V: f64 = 0.5;

fn start() -> Tensor<2> {
    from_f64(&START, [3, 2], &device(), DType::F64)
}

fn linear_score() -> ScoreFn<impl Fn(Tensor<2>, Tensor<1>) -> Tensor<2>> {
    let mu = from_f64(&MU, [1, 2], &device(), DType::F64);
    score_fn(move |x: Tensor<2>, _t: Tensor<1>| (x - mu.clone()) * (-1.0 / V))
}

fn assert_close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() < 1e-12 * (1.0 + w.abs()),
            "{what}: {got:?} vs {want:?}"
        );
    }
}

/// Mutation checked: recording the wrong steps (`every.max(1)` -> `every.max(1) + 1`), recording
/// every step but the multiples (`if info.step.is_multiple_of` -> `if !info.step.is_multiple_of`)
/// and keeping a stale pending state (dropping `self.last = None;`, which appends step 8 again
/// at the end) all fail.
#[test]
fn trajectory_records_every_kth_langevin_state() {
    // NCSN Langevin x_{k+1} = x_k + (eps / 2) s(x_k) + sqrt(eps) z_k, replayed on the host with
    // the sampler's normals (HostNoise with the same seed and shapes gives the same draws).
    // Trajectory::every(3) over 10 steps records the states after steps 0, 3, 6, 9 (the last
    // step is a multiple of 3, so nothing is pending at the end), all at the chain's time t.
    let (eps, steps, t) = (0.2, 10, 0.3);
    let score = linear_score();
    let mut trajectory = Trajectory::every(3).unwrap();
    let mut noise = HostNoise::new(11);
    let x = LangevinDynamics::new(eps, steps)
        .unwrap()
        .sample(&score, start(), t, &mut noise, &mut trajectory)
        .unwrap()
        .x;
    let mut replay = HostNoise::new(11);
    let mut states = Vec::new();
    let mut h = START.to_vec();
    for _ in 0..steps {
        let z = to_f64(replay.normal_like(&start()));
        for (i, (hi, zi)) in h.iter_mut().zip(&z).enumerate() {
            let s = -(*hi - MU[i % 2]) / V;
            *hi += 0.5 * eps * s + eps.sqrt() * zi;
        }
        states.push(h.clone());
    }
    assert_close(&to_f64(x), &states[steps - 1], "final state");
    assert_eq!(trajectory.states.len(), 4);
    assert_eq!(trajectory.times, vec![t; 4]);
    for (recorded, step) in trajectory.states.iter().zip([0, 3, 6, 9]) {
        assert_close(&to_f64(recorded.clone()), &states[step], "recorded state");
    }
}

/// Mutation checked: dropping the final push in `on_finish` (`self.states.push(x)` ->
/// `drop(x)`) loses the last state; `every.max(1)` -> `every.max(2)` halves the
/// every-step recording; both fail.
#[test]
fn trajectory_records_the_times_and_the_last_step_of_a_pc_run() {
    // NonePredictor with NoneCorrector leaves the state at x0 on the grid 1, 0.9, ..., 0: step i
    // ends at t = 0.9 - 0.1 i. every(4) records steps 0, 4, 8 and, at the end, the pending
    // step 9; every(1) records all 10 steps and nothing twice; every(0) is an error.
    let grid = TimeGrid::uniform(1.0, 0.0, 11).unwrap();
    let sampler = PcSampler::new(NonePredictor, NoneCorrector, grid, FinalStep::Sample).unwrap();
    let score = linear_score();
    assert!(Trajectory::every(0).is_err());
    for (every, steps) in [(4, vec![0, 4, 8, 9]), (1, (0..10).collect())] {
        let mut trajectory = Trajectory::every(every).unwrap();
        let mut noise = HostNoise::new(0);
        sampler
            .sample(&score, start(), &mut noise, &mut trajectory)
            .unwrap();
        let want: Vec<f64> = steps.iter().map(|&i| 0.9 - 0.1 * i as f64).collect();
        assert_close(&trajectory.times, &want, "times");
        assert_eq!(trajectory.states.len(), steps.len());
        for state in &trajectory.states {
            assert_eq!(to_f64(state.clone()), START.to_vec());
        }
    }
}

/// Records, at every step, the NFE the sampler reports and the counting model's count.
struct NfeProbe<'a, M> {
    model: &'a CountingScoreModel<M>,
    seen: Vec<(usize, usize, usize)>,
    finished: usize,
}

impl<'a, M: ScoreModel> NfeProbe<'a, M> {
    fn new(model: &'a CountingScoreModel<M>) -> Self {
        Self {
            model,
            seen: Vec::new(),
            finished: 0,
        }
    }

    /// Every report equals the count at that moment, and the steps run 0, 1, ..., steps - 1.
    fn check(&self, name: &str, steps: usize, per_step: usize) {
        assert_eq!(self.finished, 1, "{name}: on_finish calls");
        assert_eq!(self.seen.len(), steps, "{name}: on_step calls");
        for (i, &(step, reported, counted)) in self.seen.iter().enumerate() {
            assert_eq!(step, i, "{name}: step index");
            assert_eq!(reported, counted, "{name}: step {i} reports nfe {reported}");
            assert_eq!(counted, (i + 1) * per_step, "{name}: step {i}");
        }
    }
}

impl<M: ScoreModel> Observer for NfeProbe<'_, M> {
    fn on_step(&mut self, info: &StepInfo<'_>) {
        self.seen
            .push((info.step, info.nfe, self.model.evaluations()));
    }

    fn on_finish(&mut self) {
        self.finished += 1;
    }
}

fn gaussian() -> Gaussian {
    Gaussian::new(vec![1.0, -0.5], vec![1.5, 0.4, 0.4, 0.6]).unwrap()
}

fn prior(n: usize) -> Tensor<2> {
    HostNoise::new(3).normal_like(&Tensor::<2>::zeros([n, 2], &device()))
}

/// Mutation checked: `nfe: step + 1` -> `nfe: step` in DdpmSampler::sample fails (the NFE is
/// now the last argument of `end.end(&x, .., step + 1)` there).
#[test]
fn ddpm_reports_the_nfe_of_a_counting_model_at_every_step() {
    let betas = DiscreteBetas::linear(1e-3, 0.1, 20).unwrap();
    let data = gaussian();
    let chain = DdpmMarginals::new(betas.clone());
    let counted = CountingScoreModel::new(data.perturbed(&chain));
    for variance in [DdpmVariance::Beta, DdpmVariance::BetaTilde] {
        counted.reset();
        let mut probe = NfeProbe::new(&counted);
        DdpmSampler::new(betas.clone(), variance)
            .unwrap()
            .sample(&counted, prior(16), &mut HostNoise::new(1), &mut probe)
            .unwrap();
        probe.check(&format!("DDPM {variance:?}"), 20, 1);
    }
}

/// Mutation checked: `nfe: step + 1` -> `nfe: step` in DdimSampler::sample fails (the NFE is
/// now the last argument of `end.end(&x, .., step + 1)` there).
#[test]
fn ddim_reports_the_nfe_of_a_counting_model_at_every_step() {
    let betas = DiscreteBetas::linear(1e-3, 0.1, 20).unwrap();
    let data = gaussian();
    let chain = DdpmMarginals::new(betas.clone());
    let counted = CountingScoreModel::new(data.perturbed(&chain));
    for (steps, eta) in [(7, 0.0), (5, 1.0)] {
        counted.reset();
        let mut probe = NfeProbe::new(&counted);
        DdimSampler::new(betas.clone(), steps, eta)
            .unwrap()
            .sample(&counted, prior(16), &mut HostNoise::new(1), &mut probe)
            .unwrap();
        probe.check(&format!("DDIM S = {steps}, eta = {eta}"), steps, 1);
    }
}

/// Mutation checked: `nfe: *step + 1` -> `nfe: *step` in `record_step`, which both Langevin
/// samplers reported through, fails (checked before issue 10; the count is now the `nfe += 1`
/// before `end.end(x, t, nfe)` in each sampler of langevin.rs).
#[test]
fn langevin_samplers_report_the_nfe_of_a_counting_model_at_every_step() {
    let counted = CountingScoreModel::new(linear_score());
    let mut probe = NfeProbe::new(&counted);
    LangevinDynamics::new(0.1, 12)
        .unwrap()
        .sample(&counted, start(), 0.0, &mut HostNoise::new(1), &mut probe)
        .unwrap();
    probe.check("Langevin", 12, 1);

    // Annealed: L T steps, counted across the levels; the denoising step adds one evaluation
    // after the last report.
    let two = GaussianMixture::two_modes();
    let levels = GeometricSigmas::new(1.0, 20.0, 4).unwrap();
    let smld = SmldMarginals::from_levels(&levels).unwrap();
    let counted = CountingScoreModel::new(two.perturbed(&smld));
    let x0 = HostNoise::new(2).normal_like(&Tensor::<2>::zeros([16, 2], &device()));
    let mut probe = NfeProbe::new(&counted);
    AnnealedLangevin::new(levels, 5, 0.1)
        .unwrap()
        .with_denoising(true)
        .sample(&counted, x0, &mut HostNoise::new(1), &mut probe)
        .unwrap();
    probe.check("annealed Langevin", 20, 1);
    assert_eq!(counted.evaluations(), 21);
}

/// Mutation checked: `nfe: (step + 1) * per_step` -> `nfe: step * per_step` in
/// PcSampler::sample fails (the NFE is now the last argument of
/// `end.end(&x, t_next, (step + 1) * per_step)` there).
#[test]
fn pc_reports_the_nfe_of_a_counting_model_at_every_step() {
    let ring = GaussianMixture::ring8_weighted();
    let vp = VpSde::default();
    let counted = CountingScoreModel::new(ring.perturbed(&vp));
    let predictor = ReverseDiffusion::new(vp);
    let corrector = LangevinCorrector::new(0.16, 2).unwrap().with_alpha(vp);
    let grid = TimeGrid::uniform(1.0, 1e-3, 41).unwrap();
    let sampler = PcSampler::new(predictor, corrector, grid, FinalStep::Mean).unwrap();
    let mut noise = HostNoise::new(0);
    let x_t = vp.prior_sample([16, 2], &device(), DType::F32, &mut noise);
    let mut probe = NfeProbe::new(&counted);
    let out = sampler
        .sample(&counted, x_t, &mut noise, &mut probe)
        .unwrap();
    probe.check("PC", 40, 3);
    assert_eq!(out.nfe, 120);
}

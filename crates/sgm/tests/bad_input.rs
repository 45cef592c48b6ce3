//! Score models that break their contract get a typed error at every entry point that calls
//! them (losses, samplers, ODE solvers, likelihoods, the Fisher divergence), never a panic
//! inside burn and never a silently wrong result.
//!
//! Four broken models, each a closure-like model with the default finite-difference JVP:
//! one row too many (`[b + 1, d]`), one row too few, one column too many, and NaN everywhere.
//! Shape breaks must give `CoreError::ShapeMismatch` (wrapped in the entry point's error);
//! NaN must give the entry point's non-finite error. Losses read nothing back from the device
//! (they are differentiable objectives), so their NaN check is the trainer's
//! (`NnError::NonFiniteLoss`), which is where a NaN loss is stopped.
//!
//! Mutations checked: splitting the finite-difference stack without its shape check (the old
//! `split(batch)`) lets the extra-row model through ISM, SSM, SSM-VR and the likelihood; dropping
//! the target check of ESM or the exact-score check of the Fisher divergence makes those cases
//! panic; turning the probability-flow field's shape error back into NaN makes the ODE cases
//! report `NonFinite` instead of the shape error.

mod common;

use common::LinearScore;
use sgm::core::CoreError;
use sgm::core::divergence::Projection;
use sgm::likelihood::LikelihoodError;
use sgm::losses::{LossError, fisher_divergence};
use sgm::nn::NnError;
use sgm::prelude::*;
use sgm::samplers::{DdpmVariance, SamplerError};
use sgm::sde::SdeError;
use sgm::{Error, Result};

const BATCH: usize = 4;
const DIM: usize = 2;

/// The ways a model breaks its contract.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Bad {
    ExtraRow,
    MissingRow,
    ExtraColumn,
    NaN,
}

const ALL: [Bad; 4] = [Bad::ExtraRow, Bad::MissingRow, Bad::ExtraColumn, Bad::NaN];

/// s(x) = -x (the score of N(0, I)), broken as `bad` says.
struct Broken(Bad);

impl ScoreModel for Broken {
    fn score(&self, x: Tensor<2>, _t: Tensor<1>) -> Tensor<2> {
        let [n, _] = x.dims();
        let s = -x;
        match self.0 {
            Bad::ExtraRow => Tensor::cat(vec![s.clone(), s.slice(0..1)], 0),
            Bad::MissingRow => s.slice(0..n - 1),
            Bad::ExtraColumn => Tensor::cat(vec![s.clone(), s.slice([0..n, 0..1])], 1),
            Bad::NaN => s.zeros_like() + f64::NAN,
        }
    }
}

/// A well-behaved model, for the parts of an entry point that are not under test: s(x) = -x.
fn good() -> impl ScoreModel + Copy {
    score_fn(|x: Tensor<2>, _t| -x)
}

/// The good model for the first `good_calls` evaluations, then the broken one: for an entry
/// point that takes one model but should see the broken one only at its last evaluation.
struct BrokenAfter<'a> {
    good_calls: usize,
    broken: &'a Broken,
    calls: std::cell::Cell<usize>,
}

impl<'a> BrokenAfter<'a> {
    fn new(good_calls: usize, broken: &'a Broken) -> Self {
        Self {
            good_calls,
            broken,
            calls: std::cell::Cell::new(0),
        }
    }
}

impl ScoreModel for BrokenAfter<'_> {
    fn score(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        let call = self.calls.get();
        self.calls.set(call + 1);
        if call < self.good_calls {
            good().score(x, t)
        } else {
            self.broken.score(x, t)
        }
    }
}

fn data(device: &Device) -> Tensor<2> {
    let values: Vec<f64> = (0..BATCH * DIM).map(|i| 0.3 * i as f64 - 1.0).collect();
    sgm::core::tensor::from_f64(&values, [BATCH, DIM], device, DType::F32)
}

fn is_shape_error(e: &Error) -> bool {
    let shape = |c: &CoreError| matches!(c, CoreError::ShapeMismatch { .. });
    match e {
        Error::Core(c)
        | Error::Loss(LossError::Core(c))
        | Error::Sampler(SamplerError::Core(c))
        | Error::Sampler(SamplerError::Sde(SdeError::Core(c)))
        | Error::Likelihood(LikelihoodError::Core(c)) => shape(c),
        _ => false,
    }
}

fn is_non_finite_error(e: &Error) -> bool {
    matches!(
        e,
        Error::Sampler(SamplerError::NonFinite { .. })
            | Error::Likelihood(LikelihoodError::Solver(SamplerError::NonFinite { .. }))
            | Error::Likelihood(LikelihoodError::NonFinite { .. })
            | Error::Loss(LossError::NonFinite { .. })
            | Error::Nn(NnError::NonFiniteLoss { .. })
    )
}

/// Runs `entry` with every broken model and checks the error it returns.
fn check_entry(name: &str, entry: impl Fn(&Broken) -> Result<()>) {
    for bad in ALL {
        match entry(&Broken(bad)) {
            Ok(()) => panic!("{name} accepted a model with {bad:?}"),
            Err(e) => {
                let right = if bad == Bad::NaN {
                    is_non_finite_error(&e)
                } else {
                    is_shape_error(&e)
                };
                assert!(right, "{name} with {bad:?}: wrong error {e:?}");
            }
        }
    }
}

type LossFn = Box<dyn Fn(&dyn ScoreModel, Tensor<2>) -> Result<Tensor<1>>>;

/// Every loss of `sgm-losses`, as a function of the model and the batch.
fn losses() -> Vec<(&'static str, LossFn)> {
    let vp = VpSde::default();
    vec![
        (
            "ExplicitScoreMatching",
            Box::new(|m, x| {
                let esm = ExplicitScoreMatching::new(good(), NoiseConditioning::fixed(0.0)?);
                Ok(esm.loss(m, x, &mut HostNoise::new(0))?)
            }),
        ),
        (
            "ImplicitScoreMatching",
            Box::new(|m, x| {
                let ism = ImplicitScoreMatching::new(NoiseConditioning::fixed(0.0)?)?;
                Ok(ism.loss(m, x, &mut HostNoise::new(0))?)
            }),
        ),
        (
            "SlicedScoreMatching",
            Box::new(|m, x| {
                let ssm = SlicedScoreMatching::new(
                    Projection::Rademacher,
                    2,
                    NoiseConditioning::fixed(0.0)?,
                )?;
                Ok(ssm.loss(m, x, &mut HostNoise::new(0))?)
            }),
        ),
        (
            "SlicedScoreMatching (VR)",
            Box::new(|m, x| {
                let ssm = SlicedScoreMatching::variance_reduced(
                    Projection::Gaussian,
                    2,
                    NoiseConditioning::fixed(0.0)?,
                )?;
                Ok(ssm.loss(m, x, &mut HostNoise::new(0))?)
            }),
        ),
        (
            "DenoisingScoreMatching",
            Box::new(|m, x| {
                let dsm = DenoisingScoreMatching::new(0.5, 0.0)?;
                Ok(dsm.loss(m, x, &mut HostNoise::new(0))?)
            }),
        ),
        (
            "NcsnLoss",
            Box::new(|m, x| {
                let ncsn = NcsnLoss::new(GeometricSigmas::new(0.1, 2.0, 4)?)?;
                Ok(ncsn.loss(m, x, &mut HostNoise::new(0))?)
            }),
        ),
        (
            "ContinuousDsm",
            Box::new(move |m, x| {
                let dsm = ContinuousDsm::new(
                    &vp,
                    Weighting::Likelihood {
                        importance_sampling: true,
                    },
                    1e-3,
                )?;
                Ok(dsm.loss(m, x, &mut HostNoise::new(0))?)
            }),
        ),
        (
            "DdpmEpsilonLoss",
            Box::new(|m, x| {
                let ddpm = DdpmEpsilonLoss::new(DiscreteBetas::linear(1e-4, 0.02, 50)?)?;
                Ok(ddpm.loss(m, x, &mut HostNoise::new(0))?)
            }),
        ),
    ]
}

#[test]
fn every_loss_rejects_a_broken_model() {
    for (name, loss) in losses() {
        check_entry(name, |model| {
            let device = Device::flex();
            if model.0 != Bad::NaN {
                return loss(model, data(&device)).map(|_| ());
            }
            // A NaN loss is stopped by the trainer that reads it, on the autodiff device.
            let device = device.autodiff();
            let module = LinearScore::new(&[-1.0, 0.0, 0.0, -1.0], &[0.0, 0.0], &device);
            let x = data(&device);
            let mut trainer = Trainer::new(TrainerConfig::new(2)).unwrap();
            trainer
                .fit(module, |m: &LinearScore, _| {
                    let poisoned = score_fn(|x: Tensor<2>, t: Tensor<1>| {
                        m.score(x.clone(), t.clone()) + model.score(x, t)
                    });
                    loss(&poisoned, x.clone())
                })
                .map(|_| ())
                .map_err(Error::from)
        });
    }
}

#[test]
fn explicit_score_matching_rejects_a_broken_target() {
    // The model is right; the target is broken: the target's shape is checked too.
    for bad in [Bad::ExtraRow, Bad::MissingRow, Bad::ExtraColumn] {
        let target = Broken(bad);
        let esm = ExplicitScoreMatching::new(&target, NoiseConditioning::fixed(0.0).unwrap());
        let err = esm
            .loss(&good(), data(&Device::flex()), &mut HostNoise::new(0))
            .map_err(Error::from)
            .unwrap_err();
        assert!(is_shape_error(&err), "{bad:?}: {err:?}");
    }
}

#[test]
fn fisher_divergence_rejects_a_broken_model_or_exact_score() {
    let vp = VpSde::default();
    check_entry("fisher_divergence (model)", |model| {
        fisher_divergence(
            model,
            &good(),
            &vp,
            data(&Device::flex()),
            0.1,
            1.0,
            &mut HostNoise::new(0),
        )
        .map(|_| ())
        .map_err(Error::from)
    });
    check_entry("fisher_divergence (exact)", |exact| {
        fisher_divergence(
            &good(),
            exact,
            &vp,
            data(&Device::flex()),
            0.1,
            1.0,
            &mut HostNoise::new(0),
        )
        .map(|_| ())
        .map_err(Error::from)
    });
}

#[test]
fn every_sampler_rejects_a_broken_model() {
    let device = Device::flex();
    let vp = VpSde::default();
    let grid = || TimeGrid::uniform(1.0, 1e-3, 101).unwrap();
    check_entry("LangevinDynamics", |m| {
        LangevinDynamics::new(0.1, 3)?.sample(
            m,
            data(&device),
            0.0,
            &mut HostNoise::new(0),
            &mut NoObserver,
        )?;
        Ok(())
    });
    check_entry("AnnealedLangevin", |m| {
        let levels = GeometricSigmas::new(0.1, 2.0, 3)?;
        AnnealedLangevin::new(levels, 2, 0.1)?.sample(
            m,
            data(&device),
            &mut HostNoise::new(0),
            &mut NoObserver,
        )?;
        Ok(())
    });
    check_entry("PC: EulerMaruyama", |m| {
        let sampler = PcSampler::new(
            EulerMaruyama::new(vp),
            NoneCorrector,
            grid(),
            FinalStep::Sample,
        )?;
        sampler.sample(m, data(&device), &mut HostNoise::new(0), &mut NoObserver)?;
        Ok(())
    });
    check_entry("PC: ReverseDiffusion + LangevinCorrector", |m| {
        let corrector = LangevinCorrector::new(0.16, 1)?.with_alpha(vp);
        let sampler = PcSampler::new(
            ReverseDiffusion::new(vp),
            corrector,
            grid(),
            FinalStep::Mean,
        )?;
        sampler.sample(m, data(&device), &mut HostNoise::new(0), &mut NoObserver)?;
        Ok(())
    });
    // Ancestral sampling with an SDE that has no ancestral step (sub-VP) no longer reaches a
    // run time check: it does not compile (the `compile_fail` doctest on `AncestralSampling`).
    check_entry("PC: AncestralSampling", |m| {
        let sampler = PcSampler::new(
            AncestralSampling::new(vp),
            NoneCorrector,
            grid(),
            FinalStep::Sample,
        )?;
        sampler.sample(m, data(&device), &mut HostNoise::new(0), &mut NoObserver)?;
        Ok(())
    });
    check_entry("PC: Tweedie final step", |m| {
        // The predictor's scores are right; only the final Tweedie evaluation sees the broken
        // model (the sampler takes one model: it turns broken after the predictor's calls).
        let model = BrokenAfter::new(grid().num_steps(), m);
        let sampler = PcSampler::new(
            ReverseDiffusion::new(vp),
            NoneCorrector,
            grid(),
            FinalStep::tweedie(vp),
        )?;
        let result = sampler.sample(
            &model,
            data(&device),
            &mut HostNoise::new(0),
            &mut NoObserver,
        );
        assert_eq!(
            model.calls.get(),
            grid().num_steps() + 1,
            "one Tweedie evaluation"
        );
        result?;
        Ok(())
    });
    check_entry("DdpmSampler", |m| {
        let sampler = DdpmSampler::new(DiscreteBetas::linear(1e-4, 0.02, 10)?, DdpmVariance::Beta)?;
        sampler.sample(m, data(&device), &mut HostNoise::new(0), &mut NoObserver)?;
        Ok(())
    });
    check_entry("DdimSampler", |m| {
        let sampler = DdimSampler::new(DiscreteBetas::linear(1e-4, 0.02, 10)?, 5, 0.0)?;
        sampler.sample(m, data(&device), &mut HostNoise::new(0), &mut NoObserver)?;
        Ok(())
    });
}

#[test]
fn ode_solvers_report_the_probability_flow_models_shape_error() {
    // Shapes give the shape error itself (not NonFinite { step: 0 } as when the field turned
    // errors into NaN); NaN gives NonFinite.
    let device = Device::flex();
    let vp = VpSde::default();
    let fixed = ConstantSteps::new(4).unwrap();
    let adaptive = PiController::new(1e-4, 1e-4).unwrap();
    for (name, tableau, control) in [
        (
            "Euler, fixed steps",
            Tableau::euler(),
            &fixed as &dyn StepSizeController,
        ),
        (
            "Dormand-Prince, adaptive",
            Tableau::dormand_prince(),
            &adaptive,
        ),
    ] {
        check_entry(name, |m| {
            let flow = ProbabilityFlowOde::new(&vp, m);
            solve_ode(
                &flow,
                &tableau,
                data(&device),
                1.0,
                1e-3,
                control,
                &mut NoObserver,
            )?;
            Ok(())
        });
    }
}

#[test]
fn every_likelihood_rejects_a_broken_model() {
    let device = Device::flex();
    let vp = VpSde::default();
    for divergence in [
        Divergence::Exact,
        Divergence::Hutchinson {
            projection: Projection::Rademacher,
            probes: 2,
        },
    ] {
        check_entry("ProbabilityFlowLikelihood", |m| {
            let likelihood = ProbabilityFlowLikelihood::new(&vp, divergence, 1e-3)?
                .with_tolerances(1e-3, 1e-3)?;
            likelihood.log_prob(m, data(&device), &mut HostNoise::new(0))?;
            Ok(())
        });
    }
    check_entry("DdpmElbo", |m| {
        let elbo = DdpmElbo::new(
            DiscreteBetas::linear(1e-4, 0.02, 10)?,
            DdpmVariance::Beta,
            Decoder::Gaussian,
            2,
        )?;
        elbo.evaluate(m, data(&device), &mut HostNoise::new(0))?;
        Ok(())
    });
    check_entry("ContinuousElbo", |m| {
        ContinuousElbo::new(&vp, 1e-3, 2)?.evaluate(m, data(&device), &mut HostNoise::new(0))?;
        Ok(())
    });
}

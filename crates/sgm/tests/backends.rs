//! The same computations on flex, ndarray and wgpu agree (DESIGN.md, testing layer 6):
//! relative 1e-4 for single operations, 1e-3 for whole runs; NaN or infinity fails.

mod common;

use sgm::core::tensor::{from_f64, to_f64};
use sgm::prelude::*;

/// SDE coefficients, exact GMM scores, JVPs and log-densities, and host noise, evaluated on
/// one device and read back.
fn oracle_outputs(device: &Device) -> Vec<Vec<f64>> {
    let ring = GaussianMixture::ring8_weighted();
    let vp = VpSde::default();
    let ve = VeSde::default();
    let points: Vec<f64> = (0..64)
        .map(|i| ((i * 37) % 17) as f64 * 0.6 - 4.8)
        .collect();
    let x = from_f64(&points, [32, 2], device, DType::F32);
    let t = from_f64(
        &(0..32).map(|i| 0.01 + i as f64 * 0.03).collect::<Vec<_>>(),
        [32],
        device,
        DType::F32,
    );
    let v = x.clone().flip([1]);
    let model = ring.perturbed(&vp);
    let (s, jv) = model.score_jvp(x.clone(), t.clone(), v);
    vec![
        to_f64(vp.std(t.clone())),
        to_f64(ve.std(t.clone())),
        to_f64(SubVpSde::default().diffusion(t.clone())),
        to_f64(s),
        to_f64(jv),
        to_f64(model.log_prob(x, t)),
        to_f64(HostNoise::new(3).normal_like(&Tensor::<2>::zeros([8, 2], device))),
    ]
}

#[test]
fn oracles_agree_across_backends() {
    let reference = oracle_outputs(&Device::flex());
    for (name, device) in common::other_devices() {
        for (k, (got, want)) in oracle_outputs(&device).iter().zip(&reference).enumerate() {
            let err = common::max_relative_error(got, want, 1.0);
            assert!(
                err < 1e-4,
                "{name}: output {k} differs from flex by {err:e}"
            );
        }
    }
}

/// The points and times every pipeline below evaluates at: a fixed grid over the ring.
fn grid(device: &Device) -> (Tensor<2>, Tensor<1>) {
    let points: Vec<f64> = (0..64)
        .map(|i| ((i * 37) % 17) as f64 * 0.6 - 4.8)
        .collect();
    let times: Vec<f64> = (0..32).map(|i| 0.05 + i as f64 * 0.03).collect();
    (
        from_f64(&points, [32, 2], device, DType::F32),
        from_f64(&times, [32], device, DType::F32),
    )
}

/// The MLP of the comparison, built once on flex (with autodiff, so that its weights are
/// trainable) and copied to each device.
fn reference_net() -> ScoreMlp {
    let device = Device::flex().autodiff();
    device.seed(21);
    ScoreMlpConfig::new(2)
        .with_hidden(32)
        .init(&device)
        .unwrap()
}

/// Whole computations on one device, read back: the MLP's forward pass and JVP (single
/// operations), the gradient of a continuous DSM loss in the MLP's weights, the weights after
/// two Adam steps of the trainer (single-step computations), a 20-step predictor-corrector
/// run and a Dormand-Prince likelihood run on the exact ring8 score with the host noise source
/// (whole runs).
fn pipeline_outputs(device: &Device, net: &ScoreMlp) -> [Vec<Vec<f64>>; 2] {
    let vp = VpSde::default();
    let (x, t) = grid(device);
    let plain = net.valid().to_device(device);
    let (h, jv) = plain.forward_jvp(x.clone(), t.clone(), x.clone().flip([1]));

    let ad = device.clone().autodiff();
    let net_ad = net.clone().fork(&ad);
    let dsm = ContinuousDsm::new(vp, Weighting::StdSquared, 1e-3).unwrap();
    let batch = x.clone().to_device(&ad);
    let loss = dsm
        .loss(&net_ad, batch.clone(), &mut HostNoise::new(4))
        .unwrap();
    let gradients = common::parameter_gradients(&net_ad, &loss.backward());
    let (trained, _) = Trainer::new(TrainerConfig::new(2))
        .unwrap()
        .fit_loss(net_ad, &dsm, |_| batch.clone(), &mut HostNoise::new(5))
        .unwrap();

    let ring = GaussianMixture::ring8_weighted();
    let exact = ring.perturbed(vp);
    let pc = PcSampler::new(
        EulerMaruyama::new(vp),
        LangevinCorrector::new(0.16, 1).unwrap().with_alpha(vp),
        TimeGrid::uniform(1.0, 1e-3, 21).unwrap(),
        FinalStep::Mean,
    )
    .unwrap();
    let mut noise = HostNoise::new(6);
    let prior = vp.prior_sample([64, 2], device, DType::F32, &mut noise);
    let sampled = pc
        .sample(&exact, prior, &mut noise, &mut NoObserver)
        .unwrap();
    let likelihood = ProbabilityFlowLikelihood::new(vp, Divergence::Exact, 1e-3).unwrap();
    let log_p = likelihood
        .log_prob(&exact, x.narrow(0, 0, 16), &mut HostNoise::new(7))
        .unwrap();
    [
        vec![to_f64(h), to_f64(jv), gradients, common::weights(&trained)],
        vec![to_f64(sampled.x), to_f64(log_p.log_prob)],
    ]
}

#[test]
fn network_loss_training_sampler_and_likelihood_agree_across_backends() {
    // Measured: the largest relative differences from flex are 3e-8 (single computations) and
    // 3e-6 (whole runs) on ndarray and on wgpu through lavapipe, far inside the bounds.
    // Mutations checked (on the other devices only, in this test): the PC run's noise seed
    // 6 -> 7 fails run 0; the JVP's tangent negated fails single computation 1.
    let net = reference_net();
    let [single, runs] = pipeline_outputs(&Device::flex(), &net);
    for (name, device) in common::other_devices() {
        let [got_single, got_runs] = pipeline_outputs(&device, &net);
        for (k, (got, want)) in got_single.iter().zip(&single).enumerate() {
            let err = common::max_relative_error(got, want, 1.0);
            assert!(
                err < 1e-4,
                "{name}: single computation {k} differs from flex by {err:e}"
            );
        }
        for (k, (got, want)) in got_runs.iter().zip(&runs).enumerate() {
            let err = common::max_relative_error(got, want, 1.0);
            assert!(err < 1e-3, "{name}: run {k} differs from flex by {err:e}");
        }
    }
}

#[test]
fn the_backend_comparison_fails_on_nan_and_infinity() {
    // A backend that returns NaN must fail the comparison above: f64::max skips NaN, so a fold
    // with it alone would report the error of the finite elements only.
    // Mutation checked: folding with plain `f64::max` (no finiteness guard) makes this fail.
    let want = [1.0, 2.0, 3.0];
    assert_eq!(
        common::max_relative_error(&[1.0, f64::NAN, 3.0], &want, 1.0),
        f64::INFINITY
    );
    assert_eq!(
        common::max_relative_error(&[1.0, 2.0, f64::INFINITY], &want, 1.0),
        f64::INFINITY
    );
    assert!((common::max_relative_error(&[1.0, 2.2, 3.0], &want, 1.0) - 0.1).abs() < 1e-12);
}

#[test]
fn device_names_give_their_own_backends() {
    // The comparison above is only as good as the devices it gets: `by_name("ndarray")` must be
    // ndarray, not flex under another name.
    // Mutation checked: returning `Device::flex()` for "ndarray" in device.rs makes this fail.
    let debug = |d: &Device| format!("{d:?}");
    #[allow(deprecated)]
    let ndarray = Device::ndarray();
    assert_ne!(debug(&ndarray), debug(&Device::flex()));
    let named = sgm::device::by_name("ndarray").expect("ndarray is compiled into the tests");
    assert_eq!(debug(&named), debug(&ndarray));
    assert_eq!(
        debug(&sgm::device::by_name("flex").unwrap()),
        debug(&Device::flex())
    );
}

//! The same computations on flex, ndarray and wgpu agree (DESIGN.md, testing layer 6):
//! relative 1e-4 for single operations.

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

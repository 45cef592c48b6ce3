//! The U-Net's hand-written JVP against f64 central differences, and its gradient in the
//! weights (through the tangent) against finite differences in each weight tensor. This test
//! binary sets flex's default float type to f64, so it keeps to itself (the setting is
//! process-wide).

use std::sync::OnceLock;

use burn::module::{ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use burn::tensor::{DType, DeviceConfig, FloatDType};
use sgm_core::tensor::{from_f64, to_f64};
use sgm_core::{finite_difference_jvp, score_fn};
use sgm_nn::{Parameterization, Parameterized, ScoreNetwork, UNet, UNetConfig};
use sgm_sde::VpSde;

fn device() -> Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE
        .get_or_init(|| {
            let mut d = Device::flex();
            d.configure(DeviceConfig::default().float_dtype(FloatDType::F64))
                .expect("configured before any tensor exists");
            d.seed(11);
            d
        })
        .clone()
}

/// A small U-Net with every kind of layer: two resolutions of 4x4 images (down conv, upsampling,
/// 1x1 shortcuts where widths change, skips concatenated), two blocks each, attention at 2x2.
fn small(device: &Device) -> UNet {
    UNetConfig::new(2, 4, 4)
        .with_widths(vec![4, 8])
        .with_groups(2)
        .with_time_features(4)
        .with_time_dim(8)
        .init(device)
        .unwrap()
}

fn values(n: usize, seed: usize, scale: f64) -> Vec<f64> {
    (0..n)
        .map(|i| (((i + seed) * 7919) % 37) as f64 / 37.0 * 2.0 * scale - scale)
        .collect()
}

fn tensor2(rows: usize, cols: usize, seed: usize, scale: f64, device: &Device) -> Tensor<2> {
    from_f64(
        &values(rows * cols, seed, scale),
        [rows, cols],
        device,
        DType::F64,
    )
}

fn times(n: usize, device: &Device) -> Tensor<1> {
    let t: Vec<f64> = (0..n).map(|i| 0.1 + 0.8 * i as f64 / n as f64).collect();
    from_f64(&t, [n], device, DType::F64)
}

/// J v against the central difference (f(x + h v) - f(x - h v)) / 2h with h = 1e-6: its
/// truncation error is O(h^2 |f'''|) ~ 1e-12 and its rounding 1e-16 / 1e-6 = 1e-10, so a
/// relative bound of 1e-7 leaves room only for a correct tangent. Also through the EDM and
/// noise-prediction parameterisations under VP.
///
/// Mutations checked: dropping `- x_hat * projection` from the group-norm tangent, dropping
/// the `rowsum` term of the softmax tangent, or giving the conv tangent its bias each fail
/// this.
#[test]
fn unet_jvp_matches_central_differences() {
    let device = device();
    let net = small(&device);
    let dim = net.dim();
    assert_eq!(dim, 32);
    let (x, t) = (tensor2(3, dim, 1, 1.5, &device), times(3, &device));
    let v = tensor2(3, dim, 5, 1.0, &device);
    let check = |what: &str, jv: Tensor<2>, fd: Tensor<2>| {
        let (jv, fd) = (to_f64(jv), to_f64(fd));
        let scale = fd.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        assert!(scale > 1e-3, "{what}: a vanishing JVP tests nothing");
        for (a, b) in jv.iter().zip(&fd) {
            assert!((a - b).abs() <= 1e-7 * scale, "{what}: {a} vs {b}");
        }
    };
    let (_, jv) = net.forward_jvp(x.clone(), t.clone(), v.clone());
    let (_, fd) = finite_difference_jvp(
        &score_fn(|x, t| net.forward(x, t)),
        x.clone(),
        t.clone(),
        v.clone(),
    );
    check("raw", jv, fd);
    let vp = VpSde::default();
    for kind in [
        Parameterization::NoisePrediction,
        Parameterization::Edm { sigma_data: 0.5 },
    ] {
        use sgm_core::ScoreModel;
        let model = Parameterized::with_sde(&net, &vp, kind);
        let (_, jv) = model.score_jvp(x.clone(), t.clone(), v.clone());
        let (_, fd) = finite_difference_jvp(
            &score_fn(|x, t| model.score(x, t)),
            x.clone(),
            t.clone(),
            v.clone(),
        );
        check(&format!("{kind:?}"), jv, fd);
    }
}

/// The gradients of every float parameter, flattened, in visiting order.
fn gradients(net: &UNet, grads: &burn::tensor::Gradients) -> Vec<Option<Vec<f64>>> {
    struct Collect<'a>(&'a burn::tensor::Gradients, Vec<Option<Vec<f64>>>);
    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.1
                .push(param.grad(self.0).map(|g| to_f64(g.flatten::<1>(0, D - 1))));
        }
    }
    let mut collect = Collect(grads, Vec::new());
    net.visit(&mut collect);
    collect.1
}

/// `net` with element `k` of float parameter `p` (visiting order) shifted by `delta`.
fn nudged(net: &UNet, p: usize, k: usize, delta: f64) -> UNet {
    struct Nudge {
        p: usize,
        k: usize,
        delta: f64,
        seen: usize,
    }
    impl ModuleMapper for Nudge {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let index = self.seen;
            self.seen += 1;
            if index != self.p {
                return param;
            }
            let (k, delta) = (self.k, self.delta);
            param.map(|w| {
                let (shape, device) = (w.shape(), w.device());
                let mut flat = to_f64(w.flatten::<1>(0, D - 1));
                flat[k] += delta;
                from_f64(&flat, [flat.len()], &device, DType::F64).reshape(shape)
            })
        }
    }
    net.clone().map(&mut Nudge {
        p,
        k,
        delta,
        seen: 0,
    })
}

/// d/dtheta of sum_i v_i . (J v)_i, the term of implicit and sliced score matching, by one
/// backward pass through the hand-written tangent, against central differences in one entry
/// of every weight tensor (convs, group norms, attention, time MLP, shortcuts). The objective
/// is a smooth function of theta in f64; with h = 1e-5 the difference is within 1e-6 relative
/// of the derivative (plus an absolute 1e-9 for entries whose gradient is near zero).
///
/// Mutations checked: detaching the attention's tangent (`ds` of `.detach()`ed q, k) fails the
/// query and key weights' entries.
#[test]
fn gradient_of_v_dot_jv_in_the_weights_matches_finite_differences() {
    let ad = device().autodiff();
    let net = small(&ad);
    let dim = net.dim();
    let (x, t) = (tensor2(2, dim, 3, 1.0, &ad), times(2, &ad));
    let v = tensor2(2, dim, 8, 1.0, &ad);
    let objective = |net: &UNet| {
        let (_, jv) = net.forward_jvp(x.clone(), t.clone(), v.clone());
        (v.clone() * jv).sum()
    };
    let grads = objective(&net).backward();
    let analytic = gradients(&net, &grads);
    // Every parameter but the output bias (J v does not see it: the output conv's tangent has
    // no bias) has a gradient; the sinusoidal frequencies are not parameters.
    let missing = analytic.iter().filter(|g| g.is_none()).count();
    assert_eq!(missing, 1, "parameters without a gradient");
    assert!(
        analytic.last().unwrap().is_none(),
        "the output bias, visited last"
    );
    let h = 1e-5;
    let mut checked = 0;
    for (p, grad) in analytic.iter().enumerate() {
        let Some(grad) = grad else { continue };
        let k = grad.len() / 2;
        let up = to_f64(objective(&nudged(&net, p, k, h)))[0];
        let down = to_f64(objective(&nudged(&net, p, k, -h)))[0];
        let numeric = (up - down) / (2.0 * h);
        assert!(
            (grad[k] - numeric).abs() <= 1e-6 * numeric.abs() + 1e-9,
            "parameter {p} entry {k}: autodiff {} vs finite difference {numeric}",
            grad[k]
        );
        checked += 1;
    }
    assert!(checked > 40, "{checked} weight tensors checked");
}

/// The reference configuration (w7): 616,065 parameters, as `../shared/BENCHMARKS.md` counts
/// them; its config round-trips through JSON.
///
/// Mutations checked: dropping the middle attention block, or the 1x1 shortcut, changes the
/// count.
#[test]
fn the_reference_unet_has_the_workload_parameter_count() {
    let config = UNetConfig::new(1, 8, 8);
    let net = config.init(&Device::flex()).unwrap();
    assert_eq!(net.num_params(), 616_065);
    let json = config.to_string();
    let back: UNetConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back.to_string(), json);
    // Bad shapes are errors, not panics inside burn.
    assert!(
        UNetConfig::new(1, 6, 8)
            .with_widths(vec![8, 16, 32])
            .init(&Device::flex())
            .is_err()
    );
    assert!(
        UNetConfig::new(1, 8, 8)
            .with_groups(5)
            .init(&Device::flex())
            .is_err()
    );
}

/// K outputs per pixel come out pixel-major (column i K + k), the layout [`BinnedDenoiser`]
/// reads: with every weight zero but the output convolution's bias (b_0, b_1) = (1, 2), column
/// j holds b_(j mod 2), not b_(j / 16) (the channel-major flattening of the conv output). The
/// binned score read from such a U-Net then has a JVP that matches central differences (within
/// 1e-6 relative: the bin terms are smooth in x at these noise levels, h = 1e-6).
///
/// Mutation checked: dropping the `swap_dims(2, 3)` of the output flattening fails the layout
/// assertion.
#[test]
fn several_outputs_per_pixel_are_pixel_major_and_their_binned_jvp_is_exact() {
    use sgm_core::ScoreModel;
    let device = device();
    let config = UNetConfig::new(1, 4, 4)
        .with_widths(vec![4, 8])
        .with_groups(2)
        .with_time_features(4)
        .with_time_dim(8);
    let net = config
        .clone()
        .with_outputs_per_dim(2)
        .init(&device)
        .unwrap();
    assert_eq!(net.outputs_per_dim(), 2);
    struct BiasOnly;
    impl ModuleMapper for BiasOnly {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.map(|w| {
                let (shape, device) = (w.shape(), w.device());
                if D == 1 && shape.num_elements() == 2 {
                    from_f64(&[1.0, 2.0], [2], &device, DType::F64).reshape(shape)
                } else {
                    w.zeros_like()
                }
            })
        }
    }
    let biased = net.clone().map(&mut BiasOnly);
    let (x, t) = (tensor2(2, 16, 1, 1.0, &device), times(2, &device));
    let h = to_f64(biased.forward(x.clone(), t.clone()));
    assert_eq!(h.len(), 2 * 32);
    for (j, value) in h.iter().enumerate() {
        let expected = if j % 2 == 0 { 1.0 } else { 2.0 };
        assert!((value - expected).abs() < 1e-12, "column {j}: {value}");
    }

    let net = config.with_outputs_per_dim(5).init(&device).unwrap();
    let vp = VpSde::default();
    let model = sgm_nn::BinnedDenoiser::new(&net, &vp, 5, -1.0, 1.0).unwrap();
    let v = tensor2(2, 16, 5, 1.0, &device);
    let (_, jv) = model.score_jvp(x.clone(), t.clone(), v.clone());
    let (_, fd) = finite_difference_jvp(&score_fn(|x, t| model.score(x, t)), x, t, v);
    let (jv, fd) = (to_f64(jv), to_f64(fd));
    let scale = fd.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    assert!(scale > 1e-3);
    for (a, b) in jv.iter().zip(&fd) {
        assert!((a - b).abs() <= 1e-6 * scale, "{a} vs {b}");
    }
}

//! Exactness of the MLP's hand-written JVP, in f64 (this test binary sets flex's default float
//! type to f64, so it keeps to itself: the setting is process-wide).

use std::sync::OnceLock;

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::{DType, DeviceConfig, FloatDType};
use sgm_core::special::log_normal_interval;
use sgm_core::tensor::{from_f64, to_f64};
use sgm_core::{ScoreModel, finite_difference_jvp, score_fn};
use sgm_nn::{
    Activation, BinnedDenoiser, ConditionalScoreNetwork, Parameterization, Parameterized, ScoreMlp,
    ScoreMlpConfig, ScoreNetwork,
};
use sgm_sde::{DdpmMarginals, GaussianMarginals, SubVpSde, VeSde, VpSde};

fn device() -> Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE
        .get_or_init(|| {
            let mut d = Device::flex();
            d.configure(DeviceConfig::default().float_dtype(FloatDType::F64))
                .expect("configured before any tensor exists");
            d.seed(7);
            d
        })
        .clone()
}

fn input(batch: usize, dim: usize, scale: f64) -> Tensor<2> {
    let values: Vec<f64> = (0..batch * dim)
        .map(|i| ((i * 7919) % 23) as f64 / 23.0 * 2.0 * scale - scale)
        .collect();
    from_f64(&values, [batch, dim], &device(), burn::tensor::DType::F64)
}

fn times(batch: usize) -> Tensor<1> {
    let values: Vec<f64> = (0..batch)
        .map(|i| 0.05 + 0.9 * i as f64 / batch as f64)
        .collect();
    from_f64(&values, [batch], &device(), burn::tensor::DType::F64)
}

fn assert_close(a: Tensor<2>, b: Tensor<2>, rel: f64, what: &str) {
    let (a, b) = (to_f64(a), to_f64(b));
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (x, y) in a.iter().zip(&b) {
        assert!(
            (x - y).abs() <= rel * scale,
            "{what}: {x} vs {y} (scale {scale})"
        );
    }
}

#[test]
fn mlp_jvp_matches_finite_differences() {
    let net = ScoreMlpConfig::new(3)
        .with_hidden(24)
        .with_depth(3)
        .init(&device())
        .unwrap();
    let (x, t) = (input(16, 3, 2.0), times(16));
    let v = input(16, 3, 1.0).flip([0]);
    let (h, jv) = net.forward_jvp(x.clone(), t.clone(), v.clone());
    assert_close(h, net.forward(x.clone(), t.clone()), 1e-14, "forward");
    let (_, fd) = finite_difference_jvp(&score_fn(|x, t| net.forward(x, t)), x, t, v);
    // f64 central differences with h = 6e-6 (1 + |x|): error ~1e-10 relative.
    assert_close(jv, fd, 1e-8, "JVP");
}

/// The conditional MLP's JVP in x with the label embedding switched on, against f64 central
/// differences; the null condition equals zero rows. Mutation checked: the embedding added in
/// the forward pass only (not in the JVP's pre-activations) fails.
#[test]
fn conditional_mlp_jvp_matches_finite_differences() {
    let net = ScoreMlpConfig::new(3)
        .with_hidden(16)
        .with_depth(2)
        .with_condition_dim(4)
        .init(&device())
        .unwrap();
    let (x, t) = (input(8, 3, 2.0), times(8));
    let v = input(8, 3, 1.0).flip([0]);
    let y = input(8, 4, 1.5);
    let (h, jv) = net.forward_conditional_jvp(x.clone(), t.clone(), v.clone(), Some(y.clone()));
    // finite_difference_jvp stacks [x, x + h v, x - h v]: the condition repeats per block.
    let forward = |x: Tensor<2>, t| {
        let blocks = x.dims()[0] / 8;
        net.forward_conditional(x, t, Some(y.clone().repeat_dim(0, blocks)))
    };
    assert_close(h.clone(), forward(x.clone(), t.clone()), 1e-14, "forward");
    let (_, fd) = finite_difference_jvp(&score_fn(forward), x.clone(), t.clone(), v);
    assert_close(jv, fd, 1e-8, "conditional JVP");
    let null = net.forward_conditional(x.clone(), t.clone(), None);
    let zeros = net.forward_conditional(x.clone(), t.clone(), Some(y.zeros_like()));
    assert_close(null.clone(), zeros, 1e-15, "null condition = zero rows");
    assert_close(
        null,
        net.forward(x, t),
        1e-15,
        "null condition = unconditional forward",
    );
    assert_eq!(net.condition_dim(), 4);
}

/// Every parameterisation's `network_target` inverts its score map without loss: a network
/// that outputs the target of the exact score of N(0.5, 2 I) data (and, the target being linear
/// in (x, s), its JVP by `network_target(v, t, J s v)`) gives back that score and its JVP to
/// 1e-12 under VP, VE and sub-VP. Mutation checked: v = m eps + std x0 (a sign) fails.
#[test]
fn network_targets_invert_every_parameterisation() {
    /// The exact score of N(0.5, 2 I) perturbed: -(x - 0.5 m) / (2 m^2 + std^2).
    fn exact<K: GaussianMarginals>(k: &K, x: Tensor<2>, t: Tensor<1>) -> (Tensor<2>, Tensor<2>) {
        let (m, std) = (k.mean_coeff(t.clone()), k.std(t));
        let var = (m.clone().square() * 2.0 + std.square()).unsqueeze_dim::<2>(1);
        let mean = m.unsqueeze_dim::<2>(1) * 0.5;
        (-(x - mean) / var.clone(), -var.recip())
    }
    struct Target<'a, K>(&'a Parameterized<(), K>);
    impl<K: sgm_sde::LinearSde> ScoreNetwork for Target<'_, K> {
        fn forward(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
            let (s, _) = exact(self.0.marginals(), x.clone(), t.clone());
            self.0.network_target(x, t, s)
        }
        fn forward_jvp(&self, x: Tensor<2>, t: Tensor<1>, v: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
            let (_, hessian) = exact(self.0.marginals(), x.clone(), t.clone());
            let js = v.clone() * hessian;
            (self.forward(x, t.clone()), self.0.network_target(v, t, js))
        }
    }
    let (x, t) = (input(10, 2, 2.0), times(10));
    let v = input(10, 2, 1.0).flip([0]);
    let sdes: [&dyn sgm_sde::LinearSde; 3] =
        [&VpSde::default(), &VeSde::default(), &SubVpSde::default()];
    for sde in sdes {
        let (s, hessian) = exact(&sde, x.clone(), t.clone());
        // EDM's network sees other inputs: its round trip is the next test.
        for kind in &Parameterization::ALL[..6] {
            let kind = *kind;
            let inverse = Parameterized::with_sde((), sde, kind);
            let model = Parameterized::with_sde(Target(&inverse), sde, kind);
            let (got, jv) = model.score_jvp(x.clone(), t.clone(), v.clone());
            let what = format!("{kind:?} under {}", sde.name());
            assert_close(got, s.clone(), 1e-12, &what);
            assert_close(
                jv,
                v.clone() * hessian.clone(),
                1e-12,
                &format!("{what}, JVP"),
            );
        }
    }
}

/// EDM's `network_target` inverts its score map, with the network at the preconditioned
/// inputs: a network that maps (c_in x / m, c_noise) back to x (knowing t) and outputs the
/// target of the exact score of N(0.5, 2 I) gives back that score and its JVP to 1e-12, on the
/// EDM SDE (sigma = t, m = 1) and on VP (m < 1), for two sigma_data; and the network's time
/// input is c_noise = ln(sigma) / 4 with sigma = std / m.
///
/// Mutations checked: c_in without the 1 / m, c_out without sigma_data, or c_noise = ln(sigma)
/// fail this.
#[test]
fn edm_network_target_inverts_the_preconditioning() {
    fn exact<K: GaussianMarginals>(k: &K, x: Tensor<2>, t: Tensor<1>) -> (Tensor<2>, Tensor<2>) {
        let (m, std) = (k.mean_coeff(t.clone()), k.std(t));
        let var = (m.clone().square() * 2.0 + std.square()).unsqueeze_dim::<2>(1);
        let mean = m.unsqueeze_dim::<2>(1) * 0.5;
        (-(x - mean) / var.clone(), -var.recip())
    }
    /// Knows t and sigma_data; checks the time input and undoes the input scaling.
    struct Target<'a, K> {
        inverse: &'a Parameterized<(), K>,
        t: Tensor<1>,
        sigma_data: f64,
    }
    impl<K: sgm_sde::LinearSde> Target<'_, K> {
        /// c_in / m as a column, from its definition.
        fn input_scale(&self) -> Tensor<2> {
            let k = self.inverse.marginals();
            let (m, std) = (k.mean_coeff(self.t.clone()), k.std(self.t.clone()));
            let sigma = std / m.clone();
            ((sigma.square() + self.sigma_data.powi(2)).sqrt() * m)
                .recip()
                .unsqueeze_dim(1)
        }
    }
    impl<K: sgm_sde::LinearSde> ScoreNetwork for Target<'_, K> {
        fn forward(&self, x_in: Tensor<2>, c_noise: Tensor<1>) -> Tensor<2> {
            let k = self.inverse.marginals();
            let sigma = k.std(self.t.clone()) / k.mean_coeff(self.t.clone());
            let expected = sigma.log() * 0.25;
            let (got, want) = (to_f64(c_noise), to_f64(expected));
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-12, "c_noise {g} vs {w}");
            }
            let x = x_in / self.input_scale();
            let (s, _) = exact(k, x.clone(), self.t.clone());
            self.inverse.network_target(x, self.t.clone(), s)
        }
        fn forward_jvp(
            &self,
            x_in: Tensor<2>,
            c_noise: Tensor<1>,
            v_in: Tensor<2>,
        ) -> (Tensor<2>, Tensor<2>) {
            let k = self.inverse.marginals();
            let v = v_in / self.input_scale();
            let x = x_in.clone() / self.input_scale();
            let (_, hessian) = exact(k, x, self.t.clone());
            let target_jvp = self
                .inverse
                .network_target(v.clone(), self.t.clone(), v * hessian);
            (self.forward(x_in, c_noise), target_jvp)
        }
    }
    let (x, t) = (input(10, 2, 2.0), times(10));
    let v = input(10, 2, 1.0).flip([0]);
    let karras = VeSde::karras(80.0).unwrap();
    let vp = VpSde::default();
    let sdes: [&dyn sgm_sde::LinearSde; 2] = [&karras, &vp];
    for sde in sdes {
        let (s, hessian) = exact(&sde, x.clone(), t.clone());
        for sigma_data in [0.5, 1.3] {
            let kind = Parameterization::edm(sigma_data).unwrap();
            let inverse = Parameterized::with_sde((), sde, kind);
            let target = Target {
                inverse: &inverse,
                t: t.clone(),
                sigma_data,
            };
            let model = Parameterized::with_sde(target, sde, kind);
            let (got, jv) = model.score_jvp(x.clone(), t.clone(), v.clone());
            let what = format!("EDM sigma_data {sigma_data} under {}", sde.name());
            assert_close(got, s.clone(), 1e-12, &what);
            assert_close(
                jv,
                v.clone() * hessian.clone(),
                1e-12,
                &format!("{what}, JVP"),
            );
        }
    }
}

#[test]
fn linear_stack_jvp_is_the_product_of_weight_matrices() {
    let dim = 2;
    let net = ScoreMlpConfig::new(dim)
        .with_hidden(5)
        .with_depth(3)
        .with_activation(Activation::Identity)
        .init(&device())
        .unwrap();
    // Without activations, J^T = W_1[:dim] W_2 W_3 W_out (weights stored [d_in, d_out]).
    let mut jt = net.hidden_layers()[0].weight.val().narrow(0, 0, dim);
    for layer in &net.hidden_layers()[1..] {
        jt = jt.matmul(layer.weight.val());
    }
    jt = jt.matmul(net.output_layer().weight.val());
    let v = input(4, dim, 1.0);
    let (_, jv) = net.forward_jvp(input(4, dim, 3.0), times(4), v.clone());
    assert_close(jv, v.matmul(jt), 1e-13, "affine JVP");
}

#[test]
fn parameterised_jvps_match_finite_differences() {
    let net = ScoreMlpConfig::new(2)
        .with_hidden(16)
        .init(&device())
        .unwrap();
    let (x, t) = (input(12, 2, 2.0), times(12));
    let v = input(12, 2, 1.0).flip([1]);
    let vp = VpSde::default();
    let ve = VeSde::default();
    let sub = SubVpSde::default();
    let chain = DdpmMarginals::new(sgm_schedules::DiscreteBetas::linear(1e-4, 0.02, 100).unwrap());
    let kinds = Parameterization::ALL;
    let sdes: [&dyn sgm_sde::LinearSde; 3] = [&vp, &ve, &sub];
    for sde in sdes {
        for kind in kinds {
            let model = Parameterized::with_sde(&net, sde, kind);
            let (_, jv) = model.score_jvp(x.clone(), t.clone(), v.clone());
            let (_, fd) = finite_difference_jvp(
                &score_fn(|x, t| model.score(x, t)),
                x.clone(),
                t.clone(),
                v.clone(),
            );
            assert_close(jv, fd, 1e-7, &format!("{kind:?} under {}", sde.name()));
        }
    }
    let eps = Parameterized::new(&net, &chain, Parameterization::NoisePrediction).unwrap();
    let (_, jv) = eps.score_jvp(x.clone(), t.clone(), v.clone());
    let (_, fd) = finite_difference_jvp(&score_fn(|x, t| eps.score(x, t)), x, t, v);
    assert_close(jv, fd, 1e-7, "noise prediction on a DDPM chain");
    assert!(matches!(
        Parameterized::new(&net, &chain, Parameterization::DriftCancelling),
        Err(sgm_nn::NnError::DriftCancellingNeedsSde)
    ));
}

#[test]
fn parameterisations_follow_their_formulas() {
    // With h known, each score is a closed-form function of h, x, m, std, f and g.
    let net = ScoreMlpConfig::new(2)
        .with_hidden(8)
        .init(&device())
        .unwrap();
    let vp = VpSde::default();
    let (x, t) = (
        input(3, 2, 1.0),
        from_f64(&[0.3; 3], [3], &device(), burn::tensor::DType::F64),
    );
    let h = to_f64(net.forward(x.clone(), t.clone()));
    let xs = to_f64(x.clone());
    use sgm_schedules::BetaSchedule;
    use sgm_sde::{GaussianMarginals, LinearSde};
    // g = sqrt(beta(t)) for VP, on the host from its schedule.
    let (m, std, a, g) = (
        vp.mean_coeff_at(0.3),
        vp.std_at(0.3),
        vp.drift_coeff_at(0.3),
        vp.beta().beta(0.3).sqrt(),
    );
    // EDM: the network at (c_in x / m, c_noise), sigma = std / m, sigma_data = 0.5.
    let sigma = std / m;
    let total = sigma * sigma + 0.25;
    let (c_skip, c_out) = (0.25 / total, sigma * 0.5 / total.sqrt());
    let c_in = 1.0 / total.sqrt();
    let h_edm = to_f64(net.forward(
        x.clone() * (c_in / m),
        from_f64(
            &[sigma.ln() / 4.0; 3],
            [3],
            &device(),
            burn::tensor::DType::F64,
        ),
    ));
    let expect = |kind: Parameterization, k: usize| match kind {
        Parameterization::Raw => h[k],
        Parameterization::NoisePrediction => -h[k] / std,
        Parameterization::StdNormalized => h[k] / std,
        Parameterization::DriftCancelling => h[k] / std + 2.0 * a * xs[k] / (g * g),
        Parameterization::DataPrediction => (m * h[k] - xs[k]) / (std * std),
        Parameterization::VPrediction => -(std * xs[k] + m * h[k]) / (std * (m * m + std * std)),
        Parameterization::Edm { .. } => {
            (m * (c_skip * xs[k] / m + c_out * h_edm[k]) - xs[k]) / (std * std)
        }
    };
    for kind in Parameterization::ALL {
        let s = to_f64(Parameterized::with_sde(&net, &vp, kind).score(x.clone(), t.clone()));
        for (k, sk) in s.iter().enumerate() {
            approx::assert_relative_eq!(*sk, expect(kind, k), max_relative = 1e-12);
        }
    }
}

#[test]
fn jvp_is_differentiable_in_the_parameters() {
    // d/dW of sum(c * J v), by autodiff through the hand-written tangent, against a central
    // finite difference in one weight entry.
    let ad = device().autodiff();
    let net = ScoreMlpConfig::new(2)
        .with_hidden(8)
        .with_depth(2)
        .init(&ad)
        .unwrap();
    let (x, t) = (input(6, 2, 1.5), times(6));
    let (x, t) = (x.to_device(&ad), t.to_device(&ad));
    let v = x.clone().flip([1]);
    let objective = |net: &ScoreMlp| {
        net.forward_jvp(x.clone(), t.clone(), v.clone())
            .1
            .sin()
            .sum()
    };
    let grads = objective(&net).backward();
    let w = &net.hidden_layers()[1].weight;
    let analytic = to_f64(w.grad(&grads).expect("weight has a gradient"))[5];
    let nudge = |delta: f64| {
        let mut shifted = net.clone();
        let mut weight = to_f64(w.val());
        weight[5] += delta;
        shifted.hidden_layers_mut()[1].weight =
            Param::from_tensor(from_f64(&weight, [8, 8], &ad, burn::tensor::DType::F64));
        to_f64(objective(&shifted))[0]
    };
    let h = 1e-6;
    let numeric = (nudge(h) - nudge(-h)) / (2.0 * h);
    approx::assert_relative_eq!(analytic, numeric, max_relative = 1e-6);
}

/// A network whose level logits are all zero: the binned denoiser is then the exact score of
/// data uniform on [low, high)^d, whose perturbed density per coordinate is
/// (Phi((a high - x)/s) - Phi((a low - x)/s)) / (a (high - low)).
struct ZeroLogits {
    width: usize,
}

impl ScoreNetwork for ZeroLogits {
    fn forward(&self, x: Tensor<2>, _t: Tensor<1>) -> Tensor<2> {
        Tensor::zeros([x.dims()[0], self.width], &x.device())
    }

    fn forward_jvp(&self, x: Tensor<2>, t: Tensor<1>, _v: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let h = self.forward(x, t);
        (h.clone(), h.zeros_like())
    }
}

#[test]
fn binned_denoiser_with_zero_logits_is_the_uniform_data_score() {
    let (levels, dim) = (5, 3);
    let vp = VpSde::default();
    let net = ZeroLogits {
        width: levels * dim,
    };
    let model = BinnedDenoiser::new(&net, &vp, levels, -1.0, 1.0).unwrap();
    // Points inside, near the edges of and outside [-a, a], at small and large times.
    let x = input(12, dim, 1.3);
    let t_values: Vec<f64> = (0..12)
        .map(|i| [1e-3, 1e-2, 0.1, 0.5, 0.9, 0.05][i % 6])
        .collect();
    let t = from_f64(&t_values, [12], &device(), DType::F64);
    let got = to_f64(model.score(x.clone(), t));
    // The score of the exact density by central differences of its log (f64 host, h = 1e-5 s).
    let xs = to_f64(x);
    for (j, row) in xs.chunks(dim).enumerate() {
        let (a, s) = (vp.mean_coeff_at(t_values[j]), vp.std_at(t_values[j]));
        for (i, &xi) in row.iter().enumerate() {
            let log_p = |x: f64| log_normal_interval((-a - x) / s, (a - x) / s);
            let h = 1e-5 * s;
            let want = (log_p(xi + h) - log_p(xi - h)) / (2.0 * h);
            let g = got[j * dim + i];
            assert!(
                (g - want).abs() <= 1e-6 * (1.0 + want.abs()),
                "t = {}, x = {xi}: {g} vs {want}",
                t_values[j]
            );
        }
    }
}

#[test]
fn binned_denoiser_jvp_matches_finite_differences() {
    let (levels, dim) = (5, 3);
    let net = ScoreMlpConfig::new(dim)
        .with_hidden(24)
        .with_outputs_per_dim(levels)
        .init(&device())
        .unwrap();
    let vp = VpSde::default();
    let model = BinnedDenoiser::new(&net, &vp, levels, -1.0, 1.0).unwrap();
    let x = input(16, dim, 1.2);
    let t_values: Vec<f64> = (0..16).map(|i| [2e-2, 0.1, 0.4, 0.8][i % 4]).collect();
    let t = from_f64(&t_values, [16], &device(), DType::F64);
    let v = input(16, dim, 1.0).flip([0]);
    let (score, jv) = model.score_jvp(x.clone(), t.clone(), v.clone());
    assert_close(score, model.score(x.clone(), t.clone()), 1e-12, "score");
    let (_, fd) = finite_difference_jvp(&score_fn(|x, t| model.score(x, t)), x, t, v);
    // f64 central differences with h = 6e-6 (1 + |x|) against a score that varies on the scale
    // s(t) >= 0.045 here: relative error ~ (h/s)^2 = 2e-8.
    assert_close(jv, fd, 1e-6, "binned JVP");
}

//! Controllable generation against closed forms (Song et al., ICLR 2021, sec. 5 and App. I):
//! with the components of `ring8_weighted` as classes, p_t(y | x) is the responsibility and the
//! class-conditional score the component's perturbed score, so
//! - classifier guidance with w = 1 and the exact classifier samples the chosen component;
//! - a conditional model with its label fixed samples the chosen component;
//! - classifier-free guidance with w = 0 is conditional sampling, bit for bit;
//! - imputing one coordinate reproduces the exact conditional mixture, and score_sde's joint
//!   form is exact when the coordinates are independent.
//!
//! Statistical checks use 4,000 samples and 4 standard errors: the mean of an isotropic
//! component N(mu, s^2 I) has SE s / sqrt(n) per coordinate, |x - mu|^2 / s^2 is chi-square with
//! 2 degrees of freedom (sd 2), so the mean of |x - mu|^2 has SE 2 s^2 / sqrt(n).

use sgm::core::special::log_normal_tail;
use sgm::core::tensor::from_f64;
use sgm::prelude::*;

const N: usize = 4_000;

fn device() -> Device {
    Device::flex()
}

fn vp_grid(vp: &VpSde, points: usize) -> TimeGrid {
    karras_grid(vp, 1.0, 1e-3, points, 7.0).expect("valid grid")
}

/// Draws of component k of ring8_weighted perturbed to t = 1 (the exact start).
fn component_start(vp: &VpSde, k: usize, noise: &mut dyn NoiseSource) -> Tensor<2> {
    let mix = GaussianMixture::ring8_weighted();
    let (m, std) = (vp.mean_coeff_at(1.0), vp.std_at(1.0));
    let sd = (m * m * 0.25 + std * std).sqrt();
    let mu = &mix.means()[k];
    let z = noise.normal_like(&Tensor::<2>::zeros([N, 2], (&device(), DType::F64)));
    z * sd + from_f64(&[m * mu[0], m * mu[1]], [1, 2], &device(), DType::F64)
}

/// Mean within 4 SE of mu_k and mean |x - mu_k|^2 within 4 SE of 2 s^2.
fn check_component(name: &str, x: Tensor<2>, k: usize) {
    let mix = GaussianMixture::ring8_weighted();
    let (mu, s) = (&mix.means()[k], mix.stds()[k]);
    let v = to_f64(x);
    let n = (v.len() / 2) as f64;
    for (d, &want) in mu.iter().enumerate() {
        let mean = v.iter().skip(d).step_by(2).sum::<f64>() / n;
        let z = (mean - want) / (s / n.sqrt());
        assert!(
            z.abs() < 4.0,
            "{name}: mean[{d}] {mean} vs {want} ({z:.1} SE)"
        );
    }
    let sq = v
        .chunks(2)
        .map(|p| (p[0] - mu[0]).powi(2) + (p[1] - mu[1]).powi(2))
        .sum::<f64>()
        / n;
    let z = (sq - 2.0 * s * s) / (2.0 * s * s / n.sqrt());
    assert!(
        z.abs() < 4.0,
        "{name}: E|x - mu|^2 {sq} vs {} ({z:.1} SE)",
        2.0 * s * s
    );
}

/// Classifier guidance with w = 1 and the exact classifier is the exact conditional score:
/// s + (a_k - s) = a_k. Sampled by a stochastic and a deterministic sampler, it gives the
/// component. Euler ancestral is first order in distribution: for a Gaussian its variance
/// follows v' = v (1 + (sigma_down - sigma) sigma / (s^2 + sigma^2))^2 + sigma_up^2 exactly,
/// which on this grid gives E|x - mu|^2 = 0.4595 at 150 points (-5 SE) and 0.4934 at 1,000
/// (-0.8 SE), hence 1,000. Mutation checked: a weight of 0.5 in place of w (the half-guided
/// mixture) fails.
#[test]
fn classifier_guidance_with_unit_weight_samples_the_component() {
    let vp = VpSde::default();
    let mix = GaussianMixture::ring8_weighted();
    let classes = MixtureClasses::new(mix.clone(), vp);
    let noise = &mut HostNoise::new(21);
    for k in [0, 5] {
        let y = one_hot(&[k], 8, &device(), DType::F64).unwrap();
        let guided = ClassifierGuidance::new(mix.perturbed(vp), &classes, y, 1.0).unwrap();
        let stochastic = EulerAncestral::new(vp, vp_grid(&vp, 1_000), 1.0, 1.0)
            .unwrap()
            .sample(
                &guided,
                component_start(&vp, k, noise),
                noise,
                &mut NoObserver,
            )
            .unwrap();
        check_component("guided Euler ancestral", stochastic.x, k);
        let deterministic = DpmSolverPp::new(vp, vp_grid(&vp, 40), 3)
            .unwrap()
            .sample(
                &guided,
                component_start(&vp, k, noise),
                noise,
                &mut NoObserver,
            )
            .unwrap();
        check_component("guided DPM-Solver++ 3M", deterministic.x, k);
    }
}

/// A conditional model with its label fixed is an ordinary score model for every sampler: the
/// PC sampler (reverse diffusion + Langevin) and EDM Heun sample the component. Mutation
/// checked: `Unconditional` in place of `Conditioned` fails (the mixture's mean is elsewhere).
#[test]
fn a_fixed_label_samples_the_component() {
    let vp = VpSde::default();
    let classes = MixtureClasses::new(GaussianMixture::ring8_weighted(), vp);
    let noise = &mut HostNoise::new(22);
    let k = 3;
    let model =
        Conditioned::new(&classes, one_hot(&[k], 8, &device(), DType::F64).unwrap()).unwrap();
    let pc = PcSampler::new(
        ReverseDiffusion::new(vp),
        LangevinCorrector::new(0.16, 1).unwrap().with_alpha(vp),
        TimeGrid::uniform(1.0, 1e-3, 300).unwrap(),
        FinalStep::tweedie(vp),
    )
    .unwrap();
    let out = pc
        .sample(
            &model,
            component_start(&vp, k, noise),
            noise,
            &mut NoObserver,
        )
        .unwrap();
    check_component("conditional PC", out.x, k);
    let heun = EdmSampler::new(vp, vp_grid(&vp, 30), EdmMethod::Heun)
        .unwrap()
        .sample(
            &model,
            component_start(&vp, k, noise),
            noise,
            &mut NoObserver,
        )
        .unwrap();
    check_component("conditional EDM Heun", heun.x, k);
}

/// Classifier-free guidance with w = 0 is conditional sampling exactly (same bits), and with
/// w = 2 its score is 3 a_k - 2 s at every point. Mutation checked: (1 - w) in place of (1 + w)
/// fails the second part.
#[test]
fn classifier_free_guidance_is_the_weighted_combination() {
    let vp = VpSde::default();
    let classes = MixtureClasses::new(GaussianMixture::ring8_weighted(), vp);
    let y = one_hot(&[6], 8, &device(), DType::F64).unwrap();
    let start = component_start(&vp, 6, &mut HostNoise::new(23)).slice(0..256);
    let solver = DpmSolverPp::new(vp, vp_grid(&vp, 20), 2).unwrap();
    let run = |model: &dyn ScoreModel| {
        to_f64(
            solver
                .sample(
                    model,
                    start.clone(),
                    &mut HostNoise::new(0),
                    &mut NoObserver,
                )
                .unwrap()
                .x,
        )
    };
    let cfg0 = ClassifierFreeGuidance::new(&classes, y.clone(), 0.0).unwrap();
    let conditional = Conditioned::new(&classes, y.clone()).unwrap();
    assert_eq!(run(&cfg0), run(&conditional));

    let cfg2 = ClassifierFreeGuidance::new(&classes, y.clone(), 2.0).unwrap();
    let x = start.clone() * 3.0;
    let t = Tensor::<1>::full([256], 0.4, (&device(), DType::F64));
    let got = to_f64(cfg2.score(x.clone(), t.clone()));
    let a_k = to_f64(classes.conditional_score(x.clone(), t.clone(), Some(y.repeat_dim(0, 256))));
    let s = to_f64(classes.conditional_score(x, t, None));
    for ((g, a), s) in got.iter().zip(&a_k).zip(&s) {
        assert!(
            (g - (3.0 * a - 2.0 * s)).abs() <= 1e-12 * (1.0 + g.abs()),
            "{g} vs {}",
            3.0 * a - 2.0 * s
        );
    }
}

/// Imputing x_1 of ring8_weighted given x_2 = 2 with the exact conditional score (the
/// conditional-score form) reproduces the exact conditional mixture: weights
/// pi_k ∝ w_k N(2; mu_k2, s^2), components N(mu_k1, s^2). Checked: the observed coordinate
/// returns exactly 2; the free coordinate's mean, second moment and P(x_1 > 1.4) within 4 SE
/// (each SE from the exact law: sd / sqrt(n), sd(x^2) / sqrt(n) by its fourth moment,
/// sqrt(p (1 - p) / n)). Mutation checked: the point-mass score without its 1 / std^2 (the
/// observed coordinate drifts) and the free score scattered into the observed column fail.
#[test]
fn imputation_reproduces_the_exact_conditional_mixture() {
    let vp = VpSde::default();
    let mix = GaussianMixture::ring8_weighted();
    let given = 2.0;
    let conditional = mix.conditional(&[None, Some(given)]).unwrap();
    let noise = &mut HostNoise::new(24);
    let values = from_f64(&[0.0, given], [1, 2], &device(), DType::F64);
    // The exact start: the conditional law at t = 1 on x_1, the forward-diffused observation on x_2.
    let start = |noise: &mut dyn NoiseSource| {
        let (m, std) = (vp.mean_coeff_at(1.0), vp.std_at(1.0));
        let free = conditional.sample(N, &device(), DType::F64, noise);
        let z = noise.normal_like(&Tensor::<2>::zeros([N, 2], (&device(), DType::F64)));
        let base = Tensor::cat(
            vec![
                free * m,
                Tensor::full([N, 1], given * m, (&device(), DType::F64)),
            ],
            1,
        );
        base + z * std
    };
    let weights = conditional.weights();
    let means: Vec<f64> = conditional.means().iter().map(|m| m[0]).collect();
    let s2 = 0.25;
    let mean: f64 = weights.iter().zip(&means).map(|(w, m)| w * m).sum();
    let second: f64 = weights
        .iter()
        .zip(&means)
        .map(|(w, m)| w * (m * m + s2))
        .sum();
    let fourth: f64 = weights
        .iter()
        .zip(&means)
        .map(|(w, m)| w * (m.powi(4) + 6.0 * m * m * s2 + 3.0 * s2 * s2))
        .sum();
    let tail: f64 = weights
        .iter()
        .zip(&means)
        .map(|(w, m)| w * log_normal_tail((1.4 - m) / 0.5).exp())
        .sum();
    let n = N as f64;
    for stochastic in [true, false] {
        let imputation = Imputation::new(vp, vec![false, true], values.clone(), N, noise).unwrap();
        let model = imputation.conditional(conditional.perturbed(vp));
        let out = if stochastic {
            EulerAncestral::new(vp, vp_grid(&vp, 1_000), 1.0, 1.0)
                .unwrap()
                .sample(&model, start(noise), noise, &mut NoObserver)
        } else {
            DpmSolverPp::new(vp, vp_grid(&vp, 40), 3).unwrap().sample(
                &model,
                start(noise),
                noise,
                &mut NoObserver,
            )
        }
        .unwrap();
        let v = to_f64(out.x);
        let free: Vec<f64> = v.iter().step_by(2).copied().collect();
        assert!(
            v.iter()
                .skip(1)
                .step_by(2)
                .all(|o| (o - given).abs() < 1e-9),
            "observed coordinate moved"
        );
        let got_mean = free.iter().sum::<f64>() / n;
        let got_second = free.iter().map(|x| x * x).sum::<f64>() / n;
        let got_tail = free.iter().filter(|&&x| x > 1.4).count() as f64 / n;
        let z_mean = (got_mean - mean) / ((second - mean * mean) / n).sqrt();
        let z_second = (got_second - second) / ((fourth - second * second) / n).sqrt();
        let z_tail = (got_tail - tail) / (tail * (1.0 - tail) / n).sqrt();
        for (what, z) in [
            ("mean", z_mean),
            ("second moment", z_second),
            ("P(x > 1.4)", z_tail),
        ] {
            assert!(
                z.abs() < 4.0,
                "stochastic = {stochastic}: {what} off by {z:.1} SE"
            );
        }
    }
}

/// score_sde's joint form (the free score from the unconditional model at the forward-diffused
/// observation) is exact when the coordinates are independent: N(1, 1.5) on x_1 whatever x_2 is
/// observed to be. Mutation checked: the model's score left on the observed column (no free
/// mask) moves the observed coordinate off its value.
#[test]
fn joint_imputation_is_exact_for_independent_coordinates() {
    let vp = VpSde::default();
    let data = Gaussian::new(vec![1.0, -0.5], vec![1.5, 0.0, 0.0, 0.09]).unwrap();
    let noise = &mut HostNoise::new(25);
    let values = from_f64(&[0.0, 0.3], [1, 2], &device(), DType::F64);
    let imputation = Imputation::new(vp, vec![false, true], values, N, noise).unwrap();
    let model = imputation.joint(data.perturbed(vp));
    let start = vp.prior_sample([N, 2], &device(), DType::F64, noise);
    let out = EulerAncestral::new(vp, vp_grid(&vp, 1_000), 1.0, 1.0)
        .unwrap()
        .sample(&model, start, noise, &mut NoObserver)
        .unwrap();
    let v = to_f64(out.x);
    assert!(v.iter().skip(1).step_by(2).all(|o| (o - 0.3).abs() < 1e-9));
    let free: Vec<f64> = v.iter().step_by(2).copied().collect();
    let n = N as f64;
    let mean = free.iter().sum::<f64>() / n;
    let var = free.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    // SEs: sqrt(1.5 / n) for the mean, sqrt(2 / (n - 1)) 1.5 for the variance of a normal.
    assert!(((mean - 1.0) / (1.5 / n).sqrt()).abs() < 4.0, "mean {mean}");
    assert!(
        ((var - 1.5) / (1.5 * (2.0 / (n - 1.0)).sqrt())).abs() < 4.0,
        "variance {var}"
    );
}

/// score_sde's PC inpainter (a `StepProjection` after every PC step) with the unconditional
/// exact score of N((1, -0.5), diag(1.5, 0.09)) given x_2 = 0.3: the coordinates are
/// independent, so x_1 must be N(1, 1.5) (mean SE sqrt(1.5 / n), variance SE
/// 1.5 sqrt(2 / (n - 1))); at the middle step the observed coordinate must follow the
/// forward-diffused observation N(m(t) 0.3, std(t)^2) (same SEs with std(t)^2), and the sample
/// must return 0.3 exactly. Mutation checked: dropping the projections during the steps (only
/// the start and the end projected) fails the middle-step law by 15 SE; where each projection
/// goes is checked exactly in crates/sgm-samplers/tests/pc.rs.
#[test]
fn pc_inpainter_is_exact_for_independent_coordinates() {
    struct Middle(Option<(f64, Vec<f64>)>);
    impl Observer for Middle {
        fn on_step(&mut self, info: &sgm::samplers::StepInfo<'_>) {
            if info.step == 150 {
                let v = to_f64(info.x.clone());
                self.0 = Some((info.t, v.iter().skip(1).step_by(2).copied().collect()));
            }
        }
    }
    fn mean_var(v: &[f64]) -> (f64, f64) {
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        (
            mean,
            v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0),
        )
    }
    fn check(what: &str, v: &[f64], mean: f64, var: f64) {
        let n = v.len() as f64;
        let (got_mean, got_var) = mean_var(v);
        let z_mean = (got_mean - mean) / (var / n).sqrt();
        let z_var = (got_var - var) / (var * (2.0 / (n - 1.0)).sqrt());
        assert!(
            z_mean.abs() < 4.0,
            "{what}: mean {got_mean} vs {mean} ({z_mean:.1} SE)"
        );
        assert!(
            z_var.abs() < 4.0,
            "{what}: variance {got_var} vs {var} ({z_var:.1} SE)"
        );
    }
    let vp = VpSde::default();
    let data = Gaussian::new(vec![1.0, -0.5], vec![1.5, 0.0, 0.0, 0.09]).unwrap();
    let noise = &mut HostNoise::new(26);
    let values = from_f64(&[0.0, 0.3], [1, 2], &device(), DType::F64);
    let imputation = Imputation::new(vp, vec![false, true], values, N, noise).unwrap();
    let pc = PcSampler::new(
        ReverseDiffusion::new(vp),
        LangevinCorrector::new(0.16, 1).unwrap().with_alpha(vp),
        TimeGrid::uniform(1.0, 1e-3, 300).unwrap(),
        FinalStep::Mean,
    )
    .unwrap();
    let start = vp.prior_sample([N, 2], &device(), DType::F64, noise);
    let mut middle = Middle(None);
    let model = data.perturbed(vp);
    let out = pc
        .sample_projected(&model, start, &imputation, noise, &mut middle)
        .unwrap();
    let v = to_f64(out.x);
    assert!(
        v.iter().skip(1).step_by(2).all(|o| *o == 0.3),
        "observed coordinate moved"
    );
    let free: Vec<f64> = v.iter().step_by(2).copied().collect();
    check("free coordinate", &free, 1.0, 1.5);
    let (t, observed) = middle.0.expect("the middle step was observed");
    let (m, std) = (vp.mean_coeff_at(t), vp.std_at(t));
    check("observed coordinate mid-way", &observed, m * 0.3, std * std);
    // A state of another batch size is a typed error, not a panic in a later step.
    let wrong = vp.prior_sample([N + 1, 2], &device(), DType::F64, noise);
    assert!(
        pc.sample_projected(&model, wrong, &imputation, noise, &mut NoObserver)
            .is_err()
    );
    // So is one of another dtype than the observation.
    let wrong = vp.prior_sample([N, 2], &device(), DType::F32, noise);
    assert!(
        pc.sample_projected(&model, wrong, &imputation, noise, &mut NoObserver)
            .is_err()
    );
}

/// Label dropout replaces each row by the null condition with probability p: of 20,000 rows
/// with p = 0.2 the zero rows are within 4 SE (sqrt(p (1 - p) / n) = 0.0028) of 0.2, the rest
/// unchanged. Mutation checked: keeping rows with u < p (dropping 80 %) fails.
#[test]
fn label_dropout_drops_its_fraction() {
    let vp = VpSde::default();
    let dsm = ContinuousDsm::new(vp, Weighting::StdSquared, 1e-3).unwrap();
    let conditional = ConditionalDsm::new(dsm, 0.2).unwrap();
    let n = 20_000;
    let y = Tensor::<2>::ones([n, 3], (&device(), DType::F64));
    let dropped = to_f64(conditional.drop_labels(y, &mut HostNoise::new(27)));
    let rows: Vec<&[f64]> = dropped.chunks(3).collect();
    assert!(rows.iter().all(|r| r == &[0.0; 3] || r == &[1.0; 3]));
    let share = rows.iter().filter(|r| r[0] == 0.0).count() as f64 / n as f64;
    let z = (share - 0.2) / (0.2 * 0.8 / n as f64).sqrt();
    assert!(z.abs() < 4.0, "dropped share {share} ({z:.1} SE)");
    assert!(ConditionalDsm::new(dsm, -0.1).is_err());
}

/// Conditional DSM with label dropout trains one MLP (label embedding at every layer) to both
/// scores of a two-class mixture (classes N((+-1.5, 0), 0.3^2 I), equal weights): at t = 0.3
/// under VP, its class-k score on draws of class k and its null-condition score on draws of the
/// mixture must each be closer to the exact score (MixtureClasses) than a fifth of what a
/// label-blind answer errs by (the unconditional score for a class, the class score for the
/// mixture), both measured on the same points. Mutation checked: no dropout (p ignored) fails
/// the null-condition check; the embedding left out of the layers fails the class check.
#[test]
fn conditional_dsm_learns_the_class_and_the_unconditional_score() {
    let vp = VpSde::default();
    let mix = GaussianMixture::new(
        vec![0.5, 0.5],
        vec![vec![-1.5, 0.0], vec![1.5, 0.0]],
        vec![0.3, 0.3],
    )
    .unwrap();
    let exact = MixtureClasses::new(mix.clone(), vp);
    let ad = device().autodiff();
    let net = ScoreMlpConfig::new(2)
        .with_hidden(64)
        .with_depth(2)
        .with_condition_dim(2)
        .init(&ad)
        .unwrap();
    let dsm = ConditionalDsm::new(
        ContinuousDsm::new(vp, Weighting::StdSquared, 1e-3).unwrap(),
        0.2,
    )
    .unwrap();
    let half = 256;
    let labels: Vec<usize> = (0..2 * half).map(|i| i / half).collect();
    let y = one_hot(&labels, 2, &ad, DType::F32).unwrap();
    let centres = from_f64(
        &labels
            .iter()
            .flat_map(|&k| [if k == 0 { -1.5 } else { 1.5 }, 0.0])
            .collect::<Vec<_>>(),
        [2 * half, 2],
        &ad,
        DType::F32,
    );
    let noise = &mut HostNoise::new(28);
    let mut trainer = Trainer::new(TrainerConfig::new(1_500).with_learning_rate(2e-3)).unwrap();
    let (net, _) = trainer
        .fit(net, |net: &ScoreMlp, _| {
            let x0 = noise.normal_like(&centres) * 0.3 + centres.clone();
            let model = Parameterized::with_sde(net, vp, Parameterization::NoisePrediction);
            dsm.loss(&model, x0, y.clone(), &mut *noise)
        })
        .unwrap();
    let net = net.valid();
    let model = Parameterized::with_sde(&net, vp, Parameterization::NoisePrediction);
    let t = 0.3;
    let (m, std) = (vp.mean_coeff_at(t), vp.std_at(t));
    let sd = (m * m * 0.09 + std * std).sqrt();
    let n = 2_000;
    let tt = Tensor::<1>::full([n], t, &device());
    let squared = |a: Tensor<2>, b: Tensor<2>| {
        let (a, b) = (to_f64(a), to_f64(b));
        a.iter().zip(&b).map(|(p, q)| (p - q).powi(2)).sum::<f64>() / n as f64
    };
    for k in 0..2 {
        let centre = if k == 0 { -1.5 } else { 1.5 };
        let x = noise.normal_like(&Tensor::<2>::zeros([n, 2], &device())) * sd
            + from_f64(&[m * centre, 0.0], [1, 2], &device(), DType::F32);
        let yk = one_hot(&[k], 2, &device(), DType::F32)
            .unwrap()
            .repeat_dim(0, n);
        let learned = model.conditional_score(x.clone(), tt.clone(), Some(yk.clone()));
        let class = exact.conditional_score(x.clone(), tt.clone(), Some(yk));
        let blind = exact.conditional_score(x, tt.clone(), None);
        let (error, blind_error) = (squared(learned, class.clone()), squared(blind, class));
        eprintln!("class {k}: error {error:.4}, label-blind {blind_error:.4}");
        assert!(
            error < 0.2 * blind_error,
            "class {k}: error {error} vs label-blind {blind_error}"
        );
    }
    let labels: Vec<usize> = (0..n).map(|i| i % 2).collect();
    let yk = one_hot(&labels, 2, &device(), DType::F32).unwrap();
    let x = mix.sample(n, &device(), DType::F32, noise) * m
        + noise.normal_like(&Tensor::<2>::zeros([n, 2], &device())) * std;
    let learned = model.conditional_score(x.clone(), tt.clone(), None);
    let marginal = exact.conditional_score(x.clone(), tt.clone(), None);
    let class = exact.conditional_score(x, tt, Some(yk));
    let (error, blind_error) = (squared(learned, marginal.clone()), squared(class, marginal));
    eprintln!("null condition: error {error:.4}, a class's score {blind_error:.4}");
    assert!(
        error < 0.2 * blind_error,
        "null condition: error {error} vs a class's score {blind_error}"
    );
}

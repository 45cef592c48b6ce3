//! Short run of the `digits_likelihood` example (an MLP of width 32 trained for 60 steps,
//! 12 test images, 2 dequantisation draws; ~10 s) against bounds derived here, and its histogram
//! baseline against an independent count.

use sgm::prelude::{Digits, Split};
use sgm_examples::digits_likelihood::{Args, histogram_bits_per_dim, run};

/// Bits/dim of the independent-pixel model with add-one smoothing, counted image by image:
/// P(pixel p = k) = (1 + #{train images with pixel p = k}) / (n_train + 17), and the mean over
/// the test pixels of -log2 P.
fn histogram_by_hand(train: &[u8], test: &[u8]) -> f64 {
    let train_images: Vec<&[u8]> = train.chunks(64).collect();
    let mut nll = 0.0;
    for image in test.chunks(64) {
        for (p, &k) in image.iter().enumerate() {
            let count = train_images.iter().filter(|img| img[p] == k).count();
            nll -= ((1 + count) as f64 / (train_images.len() + 17) as f64).log2();
        }
    }
    nll / test.len() as f64
}

// The README quotes the histogram baseline as 2.44 bits/dim on the whole test split.
// Mutation checked: dropping the add-one smoothing (`vec![1.0f64` -> `vec![0.0f64`) makes
// unseen levels infinitely unlikely and fails the comparison.
#[test]
fn histogram_baseline_matches_an_independent_count_and_the_readme() {
    let digits = Digits::load().unwrap();
    let (train, test) = (digits.levels(Split::Train), digits.levels(Split::Test));
    let got = histogram_bits_per_dim(&train, &test);
    let want = histogram_by_hand(&train, &test);
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    assert!(
        (want - 2.44).abs() < 0.005,
        "README says 2.44, counted {want}"
    );
}

// Bounds, for any score model however briefly trained:
// - the uniform model is log2 17 (17 grey levels), computed here;
// - the importance-weighted figure of an image, -log2((2^{-64 b_1} + 2^{-64 b_2}) / 2) / 64 for
//   its M = 2 single-draw figures b_m, is at most their mean (Jensen: log-mean-exp >= mean), so
//   the same holds for the means over images (f32 slack 1e-4);
// - an untrained BinnedDenoiser (near-equal level logits) is the Bayes denoiser of uniform data
//   on [-1, 1]^64, whose bound is log2 17; 60 Adam steps already learn that most pixels are
//   blank (the histogram baseline is 2.44), so a working pipeline is below the uniform model
//   by more than 4 SE of its mean over images.
// Mutation checked: no training (`.with_learning_rate(args.lr)` -> `.with_learning_rate(0.0)`)
// leaves the bits/dim at the uniform model's and fails the 4 SE bound.
#[test]
fn briefly_trained_model_beats_the_uniform_model_by_4_se() {
    let out = std::env::temp_dir().join(format!("sgm-digits-likelihood-{}", std::process::id()));
    let args = <Args as clap::Parser>::try_parse_from([
        "digits_likelihood",
        "--out",
        out.to_str().unwrap(),
        "--steps",
        "60",
        "--hidden",
        "32",
        "--batch",
        "64",
        "--lr",
        "3e-3",
        "--draws",
        "2",
        "--test-images",
        "12",
    ])
    .unwrap();
    let summary = run(&args).unwrap();
    eprintln!("{summary:?}");
    let uniform = 17f64.log2();
    assert!((summary.uniform_bits_per_dim - uniform).abs() < 1e-12);
    assert_eq!((summary.test_images, summary.draws), (12, 2));

    let digits = Digits::load().unwrap();
    let test = digits.levels(Split::Test);
    let want = histogram_by_hand(&digits.levels(Split::Train), &test[..12 * 64]);
    assert!((summary.histogram_bits_per_dim - want).abs() < 1e-12);

    let (bpd, se) = (summary.bits_per_dim, summary.std_error);
    assert!(bpd.is_finite() && se.is_finite() && se > 0.0, "{summary:?}");
    assert!(
        bpd + 4.0 * se < uniform,
        "{bpd} +- {se} bits/dim is not below the uniform model's {uniform}"
    );
    assert!(bpd > 0.0, "a bound on -log2 P(k) / 64 is positive: {bpd}");
    let iw = summary.importance_weighted_bits_per_dim;
    assert!(
        iw.is_finite() && iw <= bpd + 1e-4,
        "importance-weighted {iw} above the mean of the draws {bpd}"
    );
    for other in [
        summary.train_single_draw_bits_per_dim,
        summary.noisy_dequantization_bits_per_dim,
        summary.hutchinson_bias_bound,
    ] {
        assert!(other.is_finite(), "{summary:?}");
    }
    assert!(summary.nfe > 0);
    assert!(
        std::fs::metadata(out.join("digits_likelihood.png"))
            .unwrap()
            .len()
            > 1000
    );
    std::fs::remove_dir_all(&out).unwrap();
}

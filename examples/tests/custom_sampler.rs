//! Run of the `custom_sampler` example at its defaults (4,000 samples, 500 steps, ~3 s): a
//! user-written predictor (one probability-flow Euler step) with the library's Langevin
//! corrector, on the exact score of `ring8_weighted` under VP, must put each mode's share within
//! 4 binomial SE, 4 sqrt(w (1 - w) / 4000) (<= 0.026), of its weight, as the library's
//! Euler-Maruyama PC sampler does on the same prior draws. The discretisation bias at 500 steps
//! is below that (measured: the largest deviation is 2.7 SE for the user sampler, 1.3 for the
//! library's). The user code is under 60 lines (counted between its markers).
//!
//! Mutation checked: the sign of the score term in the user's predictor flipped
//! (`- score * g2 * 0.5` -> `+ score * g2 * 0.5`) fails the shares.

use sgm_examples::CommonArgs;
use sgm_examples::custom_sampler::{Args, run};

#[test]
fn a_user_predictor_with_the_library_corrector_samples_the_mode_weights() {
    let args = Args {
        common: CommonArgs {
            device: "flex".into(),
            out: std::env::temp_dir().join("sgm-custom-sampler-test"),
            seed: 0,
        },
        samples: 4000,
        steps: 500,
    };
    let s = run(&args).unwrap();
    let n = args.samples as f64;
    for (name, shares) in [("user", &s.user_shares), ("library", &s.library_shares)] {
        for (k, (share, w)) in shares.iter().zip(&s.weights).enumerate() {
            let se = (w * (1.0 - w) / n).sqrt();
            assert!(
                (share - w).abs() < 4.0 * se,
                "{name} share of mode {k}: {share} vs {w}"
            );
        }
    }
    assert_eq!(s.nfe, 2 * args.steps);
    assert!(std::fs::metadata(&s.plot).unwrap().len() > 10_000);

    let source = include_str!("../src/custom_sampler.rs");
    let user_lines = source
        .lines()
        .skip_while(|l| !l.contains("---- user code"))
        .take_while(|l| !l.contains("---- end of user code"))
        .count();
    assert!(user_lines < 60, "user code is {user_lines} lines");
}

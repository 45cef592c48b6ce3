//! Short run of the `controllable` example (an MLP of width 128 trained for 4,000 steps; ~25
//! s) against bounds derived here:
//! - the inpainted upper halves are the observation (the PC inpainter returns it exactly, the
//!   pinned score carries it to f32 rounding);
//! - both inpainters beat the lower half of a random train image (an unconditional sample, whose
//!   expected MSE is 2 Var(x_lower)) by 4 standard errors of the per-image paired difference: a
//!   sampler that ignored the observed half could not;
//! - the guided class-conditional samples are recognised by the nearest-class-mean classifier
//!   more often than chance (0.1) by 4 binomial SE at chance (sqrt(0.09 / n)): a sampler that
//!   ignored the label could not; the same for the trained digit classifier's accuracy.
//!
//! Mutation checked: the label embedding left out of the layers (`(Some(y), Some(embedding))`
//! arm skipped) fails the accuracy bound.

use sgm_examples::controllable::{Args, run};

#[test]
fn short_run_inpaints_and_generates_the_asked_class() {
    let out = std::env::temp_dir().join(format!("sgm-controllable-{}", std::process::id()));
    let args = <Args as clap::Parser>::try_parse_from([
        "controllable",
        "--out",
        out.to_str().unwrap(),
        "--steps",
        "4000",
        "--hidden",
        "128",
        "--lr",
        "2e-3",
        "--pc-steps",
        "100",
        "--inpaint",
        "100",
    ])
    .unwrap();
    let s = run(&args).unwrap();
    eprintln!("{s:?}");
    assert!(s.observed_deviation < 1e-4, "{s:?}");
    for (name, (gain, se)) in [
        ("PC", s.pc_gain_over_random),
        ("pinned", s.joint_gain_over_random),
    ] {
        assert!(
            gain > 4.0 * se,
            "{name}: gain over a random image {gain} +- {se}: {s:?}"
        );
    }
    let n = s.samples as f64;
    let chance = 0.1 + 4.0 * (0.09 / n).sqrt();
    assert!(s.guided_accuracy > chance, "{s:?}");
    assert!(s.classifier_accuracy[0] > chance, "{s:?}");
    for png in ["controllable_classes.png", "controllable_inpainting.png"] {
        assert!(
            std::fs::metadata(out.join(png)).unwrap().len() > 1000,
            "{png}"
        );
    }
    std::fs::remove_dir_all(&out).unwrap();
}

//! Short runs of the `digits` example (the reference U-Net, 60 Adam steps of 64 images, 40
//! samples; under a minute each on 2 cores). VP with the binned head: the test bits/dim of 30
//! images must lie below the uniform model's log2 17 = 4.09 by 4 standard errors (over
//! images); measured: 2.18 +- 0.04 (the full 1,500-step run gives 1.73 on 360 images). The
//! classifier distances are finite and the PNG is written.
//!
//! Mutation checked: the learning rate scaled by 1e-6 fails both tests (VP: 4.25 +- 0.01
//! bits/dim; NCSN: mean loss 32.66).

use sgm_examples::CommonArgs;
use sgm_examples::digits::{Args, Head, Method, run};

fn short(method: Method, out: &str) -> Args {
    Args {
        common: CommonArgs {
            device: "flex".into(),
            out: std::env::temp_dir().join(out),
            seed: 0,
        },
        steps: 60,
        batch: 64,
        lr: 1e-3,
        samples: 40,
        pc_steps: 30,
        test_images: 30,
        method,
        head: Head::Binned,
        steps_per_level: 2,
    }
}

#[test]
fn a_short_unet_run_beats_the_uniform_model_and_draws_its_samples() {
    let args = short(Method::Vp, "sgm-digits-test");
    let out = args.common.out.clone();
    let s = run(&args).unwrap();
    eprintln!("{s:?}");
    let (bpd, se) = s.bits_per_dim.unwrap();
    assert!(bpd + 4.0 * se < s.uniform_bits_per_dim, "{s:?}");
    for fd in [
        s.frechet_samples,
        s.frechet_train_floor,
        s.frechet_independent_pixels,
    ] {
        assert!(fd.is_finite() && fd > 0.0, "{s:?}");
    }
    assert!(std::fs::metadata(out.join("digits_vp.png")).unwrap().len() > 1000);
}

/// Short NCSN run (60 steps of 64 images, 40 samples by annealed Langevin at 2 steps per
/// level; under a minute): the mean training loss must lie below the zero network's
/// 1/2 E|z|^2 = d/2 = 32 by more than 4 standard errors of one step's loss (a step's loss is a
/// mean of 64 terms 1/2 |sigma s + z|^2, each of variance about d/2 for an untrained net, so
/// its SE is about sqrt(32 / 64) = 0.71; the bound is 32 - 4 x 0.71 = 29.2, and the mean over
/// the steps has a smaller error still). An untrained U-Net's loss is above 32 (its output
/// adds 1/2 E|h|^2); measured at 60 steps: 19.08. The samples' classifier distance is finite
/// and the PNG is written.
///
/// Mutation checked: the learning rate scaled by 1e-6 (mean loss 32.66).
#[test]
fn a_short_ncsn_run_learns_and_draws_its_samples() {
    let args = short(Method::Ncsn, "sgm-digits-ncsn-test");
    let s = run(&args).unwrap();
    eprintln!("{s:?}");
    assert!(s.bits_per_dim.is_none());
    assert!(s.final_loss < 32.0 - 4.0 * (32.0f64 / 64.0).sqrt(), "{s:?}");
    assert!(s.frechet_samples.is_finite() && s.frechet_samples > 0.0);
    assert!(
        std::fs::metadata(args.common.out.join("digits_ncsn.png"))
            .unwrap()
            .len()
            > 1000
    );
}

//! burn-train's `Learner` trains a score MLP (continuous DSM under VP on a weighted ring of 8
//! Gaussians) through `sgm::nn::learner`'s adapter, with burn-train's loss metric and
//! checkpoints; sgm's predictor-corrector sampler then draws from it.
//!
//! ```text
//! cargo run --example learner [-- --epochs 30 --rows 16384 --batch 512 --out out]
//! ```
//!
//! Prints one JSON line (mode shares against the weights, Adam steps, seconds), writes
//! out/learner_samples.png and burn-train's run directory out/learner_run. The pipeline is
//! [`sgm_examples::learner::run`]; `examples/tests/learner.rs` checks it.

use clap::Parser;
use sgm_examples::learner::{Args, run};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run(&Args::parse())?;
    Ok(())
}

//! The reference U-Net trained on the 8x8 digits under VP, sampled by the predictor-corrector
//! sampler, evaluated by test bits/dim (probability-flow ODE) and by a classifier-based
//! Frechet distance, each beside its baselines.
//!
//! ```text
//! cargo run --example digits [-- --steps 3000 --samples 360 --out out]
//! ```
//!
//! Prints one JSON line and writes out/digits_samples.png. The pipeline is
//! [`sgm_examples::digits::run`]; `examples/tests/digits.rs` checks it.

use clap::Parser;
use sgm_examples::digits::{Args, run};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run(&Args::parse())?;
    Ok(())
}

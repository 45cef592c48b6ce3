//! A predictor written outside the library, composed with the library's Langevin corrector in
//! its predictor-corrector sampler, on the exact score of a weighted ring of 8 Gaussians.
//!
//! ```text
//! cargo run --example custom_sampler [-- --samples 4000 --steps 500 --out out]
//! ```
//!
//! Prints one JSON line (mode shares of the user's and the library's sampler, the weights) and
//! writes out/custom_sampler.png. The user code (a `Predictor` implementation and the sampler
//! built from it, under 60 lines) is in [`sgm_examples::custom_sampler`];
//! `examples/tests/custom_sampler.rs` checks it.

use clap::Parser;
use sgm_examples::custom_sampler::{Args, run};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run(&Args::parse())?;
    Ok(())
}

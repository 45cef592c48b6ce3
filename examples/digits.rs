//! The reference U-Net trained on the 8x8 digits under VP (binned head), sampled by the
//! predictor-corrector sampler and evaluated by test bits/dim (probability-flow ODE) and by a
//! classifier-based Frechet distance, each beside its baselines; or, with `--method ncsn`,
//! trained by NCSN's multi-scale DSM and sampled by annealed Langevin dynamics.
//!
//! ```text
//! cargo run --example digits [-- --method vp|ncsn --steps 1500 --samples 360 --out out]
//! ```
//!
//! Prints one JSON line and writes out/digits_vp.png or out/digits_ncsn.png. The pipeline is
//! [`sgm_examples::digits::run`]; `examples/tests/digits.rs` checks it.

use clap::Parser;
use sgm_examples::digits::{Args, run};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run(&Args::parse())?;
    Ok(())
}

//! ISM, SSM, SSM-VR and DSM training the same MLP on a two-component Gaussian mixture in
//! d = 2, 8, 32, 64 dimensions (time per step, Fisher divergence to the exact score), and the
//! manifold experiment: SSM on data on a circle, clean against perturbed by N(0, 1e-4 I).
//!
//! ```text
//! cargo run --example score_matching_compare [-- --dims 2,8,32,64 --steps 800 --out out]
//! ```
//!
//! Prints a markdown table and the manifold losses, writes out/score_matching_compare.png and
//! out/score_matching_manifold.png. The pipeline is
//! [`sgm_examples::score_matching_compare::run`]; `examples/tests/score_matching_compare.rs`
//! checks it.

use clap::Parser;
use sgm_examples::score_matching_compare::{Args, run};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run(&Args::parse())?;
    Ok(())
}

//! The whole job in a few minutes: a score network trained on a weighted ring of 8 Gaussians by
//! continuous-time denoising score matching under the VP SDE, sampled by the predictor-corrector
//! sampler and the probability-flow ODE, and evaluated by KL(data || model) on held-out points
//! (the model's log-density from the probability-flow ODE).
//!
//! ```text
//! cargo run --example quickstart [-- --steps 6000 --device flex --out out]
//! ```
//!
//! Prints one JSON line (the KL estimate with its standard error, the samplers' mode shares
//! against the weights, NFE) and writes out/quickstart_samples.png, out/quickstart_score.png
//! and out/quickstart_trajectories.png. The pipeline is [`sgm_examples::quickstart::run`];
//! `examples/tests/quickstart.rs` checks it.

use clap::Parser;
use sgm_examples::quickstart::{Args, run};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run(&Args::parse())?;
    Ok(())
}

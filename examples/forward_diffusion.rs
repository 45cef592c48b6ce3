//! Diffuses the ring8 mixture under the VE, VP and sub-VP SDEs with Euler-Maruyama and compares
//! the simulated marginal mean and std with the exact ones, then draws the particle clouds.
//!
//! ```text
//! cargo run --example forward_diffusion [-- --device flex --out out --particles 4096]
//! ```
//!
//! For ring8 (means on a circle of radius 4, std 0.5), E[x0] = 0 and Var(x0) = 0.25 + 16/2 =
//! 8.25 per coordinate, so under a linear SDE the marginal at t has mean 0 and std
//! sqrt(m(t)^2 8.25 + std(t)^2) per coordinate. The pipeline is
//! [`sgm_examples::forward_diffusion::run`]; `examples/tests/forward_diffusion.rs` checks it.

use clap::Parser;
use sgm_examples::forward_diffusion::{Args, run};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run(&Args::parse())?;
    Ok(())
}

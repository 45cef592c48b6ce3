//! Song & Ermon's two-mode experiment (NeurIPS 2019, sec. 3.2, Fig. 3): Langevin dynamics with
//! the exact score of 0.2 N((-5, -5), I) + 0.8 N((5, 5), I) keeps the wrong mode weights,
//! annealed Langevin dynamics with the exact perturbed scores recovers them.
//!
//! ```text
//! cargo run --example ncsn_two_modes [-- --particles 1280 --out out]
//! ```
//!
//! Prints one JSON line {"langevin": [low, high], "annealed": [low, high]} (the share of
//! particles nearest each mode) and writes out/ncsn_two_modes.png. The pipeline is
//! [`sgm_examples::ncsn_two_modes::run`]; `examples/tests/ncsn_two_modes.rs` checks it.

use clap::Parser;
use sgm_examples::ncsn_two_modes::{Args, run};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run(&Args::parse())?;
    Ok(())
}

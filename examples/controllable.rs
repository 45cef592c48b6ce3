//! Controllable generation on the 8x8 digits: one class-conditional MLP trained by conditional
//! DSM with label dropout, sampled per class with classifier-free guidance, and used to inpaint
//! the lower half of test digits (score_sde's PC inpainter and the pinned-score form).
//!
//! ```text
//! cargo run --release --example controllable [-- --steps 4000 --guidance 1 --out out]
//! ```
//!
//! Prints one JSON line (nearest-class-mean accuracy of the samples beside that of real test
//! digits; inpainting MSE beside a random and a nearest-neighbour train image) and writes
//! out/controllable_classes.png and out/controllable_inpainting.png. The pipeline is
//! [`sgm_examples::controllable::run`]; `examples/tests/controllable.rs` checks it.

use clap::Parser;
use sgm_examples::controllable::{Args, run};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run(&Args::parse())?;
    Ok(())
}

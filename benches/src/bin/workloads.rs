//! Prints one JSON line per speed workload:
//!
//! ```text
//! cargo run --release -p sgm-benches --bin workloads -- [w1 w2 w3 w4 w4h w5 w6] [--device flex|wgpu|ndarray]
//! ```

use clap::Parser;
use sgm_benches::{Scale, WORKLOADS, run};

#[derive(Debug, Parser)]
struct Args {
    /// Workloads to run (all when none is named).
    workloads: Vec<String>,
    /// burn device: flex, ndarray, wgpu, vulkan or cuda.
    #[arg(long, default_value = "flex")]
    device: String,
    /// Multiplies every step count (1 = as specified; 0.05 for a smoke run).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let device = sgm::device::by_name(&args.device)?;
    let names: Vec<String> = if args.workloads.is_empty() {
        WORKLOADS.iter().map(|s| s.to_string()).collect()
    } else {
        args.workloads
    };
    for name in names {
        match run(&name, &device, &args.device, Scale(args.scale))? {
            serde_json::Value::Array(lines) => lines.iter().for_each(|line| println!("{line}")),
            line => println!("{line}"),
        }
    }
    Ok(())
}

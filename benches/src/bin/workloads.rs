//! Prints one JSON line per speed workload:
//!
//! ```text
//! cargo run --release -p sgm-benches --bin workloads -- [w1 w2 w3 w4 w4h w5 w6] [--device flex|wgpu|ndarray]
//! cargo run --release -p sgm-benches --bin workloads -- w6 --w6-prior draws.csv
//! ```
//!
//! `--w6-prior` runs w6 on the prior draws of another implementation (one `x,y` line per draw,
//! as `benches/reference/w6_kdiffusion.py --write-prior draws.csv` writes them).

use clap::Parser;
use serde_json::json;
use sgm::core::tensor::from_f64;
use sgm_benches::{Scale, WORKLOADS, run, w6_on};

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
    /// w6's prior draws from a file (`x,y` per line) instead of its own.
    #[arg(long)]
    w6_prior: Option<std::path::PathBuf>,
}

/// The `x,y` lines of `path`, flattened.
fn read_points(path: &std::path::Path) -> Result<Vec<f64>, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path)?;
    let mut values = Vec::new();
    for (number, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != 2 {
            return Err(format!(
                "{}:{}: expected `x,y`, got {line:?}",
                path.display(),
                number + 1
            )
            .into());
        }
        for field in fields {
            values.push(
                field
                    .parse::<f64>()
                    .map_err(|e| format!("{}:{}: {field:?}: {e}", path.display(), number + 1))?,
            );
        }
    }
    Ok(values)
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
        if let (Some(path), "w6") = (&args.w6_prior, name.as_str()) {
            let values = read_points(path)?;
            let x = from_f64(
                &values,
                [values.len() / 2, 2],
                &device,
                burn::tensor::DType::F64,
            );
            for mut line in w6_on(x) {
                line["device"] = json!(args.device);
                line["prior"] = json!(path.display().to_string());
                println!("{line}");
            }
            continue;
        }
        match run(&name, &device, &args.device, Scale(args.scale))? {
            serde_json::Value::Array(lines) => lines.iter().for_each(|line| println!("{line}")),
            line => println!("{line}"),
        }
    }
    Ok(())
}

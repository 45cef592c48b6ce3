//! The workloads run and report their fields (tiny scale: this checks the plumbing, not speed).

use sgm_benches::{Scale, WORKLOADS, run};

#[test]
fn every_workload_reports_its_fields() {
    let device = burn::prelude::Device::flex();
    for name in WORKLOADS {
        let line = run(name, &device, "flex", Scale(0.05)).unwrap();
        assert_eq!(line["workload"], *name);
        assert_eq!(line["device"], "flex");
        let seconds = line["seconds"].as_f64().unwrap();
        assert!(seconds > 0.0 && seconds.is_finite(), "{line}");
    }
    assert!(run("w9", &device, "flex", Scale(1.0)).is_err());
}

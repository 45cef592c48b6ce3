//! Helpers shared by the cross-crate tests (included with `mod common;`).
#![allow(dead_code)]

use sgm::prelude::*;

/// The devices to compare against flex: ndarray when compiled in (it is in `cargo test
/// --workspace`, whose examples enable it), wgpu when an adapter exists. With
/// `SGM_REQUIRE_WGPU=1` (set by CI) a missing wgpu adapter fails the test instead of skipping.
pub fn other_devices() -> Vec<(&'static str, Device)> {
    let mut devices = Vec::new();
    if let Ok(device) = sgm::device::by_name("ndarray") {
        devices.push(("ndarray", device));
    }
    if sgm::device::wgpu_available() {
        devices.push(("wgpu", sgm::device::by_name("wgpu").expect("an available adapter")));
    } else if std::env::var("SGM_REQUIRE_WGPU").as_deref() == Ok("1") {
        panic!("SGM_REQUIRE_WGPU=1 but no wgpu adapter: install mesa-vulkan-drivers (lavapipe)");
    } else {
        eprintln!("skipping wgpu: no adapter (install mesa-vulkan-drivers for lavapipe)");
    }
    devices
}

/// Largest |a - b| / max(|b|, floor) over two equally long slices.
pub fn max_relative_error(a: &[f64], b: &[f64], floor: f64) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / y.abs().max(floor))
        .fold(0.0, f64::max)
}

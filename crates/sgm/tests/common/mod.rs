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
        devices.push((
            "wgpu",
            sgm::device::by_name("wgpu").expect("an available adapter"),
        ));
    } else if std::env::var("SGM_REQUIRE_WGPU").as_deref() == Ok("1") {
        panic!("SGM_REQUIRE_WGPU=1 but no wgpu adapter: install mesa-vulkan-drivers (lavapipe)");
    } else {
        eprintln!("skipping wgpu: no adapter (install mesa-vulkan-drivers for lavapipe)");
    }
    devices
}

/// Largest |a - b| / max(|b|, floor) over two equally long slices; infinite as soon as any
/// element of either is not finite (`f64::max` would skip a NaN and let a backend that returns
/// NaN pass a comparison).
pub fn max_relative_error(a: &[f64], b: &[f64], floor: f64) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let e = (x - y).abs() / y.abs().max(floor);
            if e.is_finite() { e } else { f64::INFINITY }
        })
        .fold(0.0, f64::max)
}

use burn::module::{ModuleVisitor, Param};
use sgm::core::tensor::{from_f64, to_f64};

/// The affine score model s(x) = x A^T + b with exact Jacobian A, a burn module whose
/// parameters every score-matching loss can train.
#[derive(Module, Debug)]
pub struct LinearScore {
    /// A, `[d, d]`.
    pub a: Param<Tensor<2>>,
    /// b, `[d]`.
    pub b: Param<Tensor<1>>,
}

impl LinearScore {
    /// A = `a` (row-major), b = `b`.
    pub fn new(a: &[f64], b: &[f64], device: &Device) -> Self {
        let d = b.len();
        Self {
            a: Param::from_tensor(from_f64(a, [d, d], device, DType::F32)),
            b: Param::from_tensor(from_f64(b, [d], device, DType::F32)),
        }
    }

    /// (A row-major, b) read back.
    pub fn values(&self) -> (Vec<f64>, Vec<f64>) {
        (to_f64(self.a.val()), to_f64(self.b.val()))
    }
}

impl ScoreModel for LinearScore {
    fn score(&self, x: Tensor<2>, _t: Tensor<1>) -> Tensor<2> {
        x.matmul(self.a.val().transpose()) + self.b.val().unsqueeze_dim(0)
    }

    fn score_jvp(&self, x: Tensor<2>, t: Tensor<1>, v: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let jv = v.matmul(self.a.val().transpose());
        (self.score(x, t), jv)
    }
}

/// Every float parameter of `model`, flattened, in visiting order (f32 to f64 is exact, so
/// equal vectors mean bit-equal weights).
pub fn weights<M: Module>(model: &M) -> Vec<f64> {
    struct Collect(Vec<f64>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.extend(to_f64(param.val().flatten::<1>(0, D - 1)));
        }
    }
    let mut all = Collect(Vec::new());
    model.visit(&mut all);
    all.0
}

/// The gradient in `grads` of every float parameter of `model`, flattened, in visiting order
/// (zeros for a parameter without one).
pub fn parameter_gradients<M: Module>(model: &M, grads: &burn::tensor::Gradients) -> Vec<f64> {
    struct Collect<'a>(Vec<f64>, &'a burn::tensor::Gradients);
    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let value = param.val();
            let grad = value.grad(self.1).unwrap_or_else(|| value.zeros_like());
            self.0.extend(to_f64(grad.flatten::<1>(0, D - 1)));
        }
    }
    let mut all = Collect(Vec::new(), grads);
    model.visit(&mut all);
    all.0
}

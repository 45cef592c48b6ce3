//! The MLP energy's hand-written gradient, Hessian-vector product and Hessian trace against
//! central finite differences of E itself, in f64 (this binary sets flex's default float type
//! to f64; the setting is process-wide, so it keeps to itself).

use std::sync::OnceLock;

use burn::prelude::*;
use burn::tensor::{DType, DeviceConfig, FloatDType};
use sgm_core::ScoreModel;
use sgm_core::tensor::{from_f64, to_f64};
use sgm_energy::{EnergyMlp, EnergyMlpConfig, EnergyModel, EnergyScore};

fn device() -> Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE
        .get_or_init(|| {
            let mut d = Device::flex();
            d.configure(DeviceConfig::default().float_dtype(FloatDType::F64))
                .expect("configured before any tensor exists");
            d.seed(11);
            d
        })
        .clone()
}

fn tensor(values: &[f64], shape: [usize; 2]) -> Tensor<2> {
    from_f64(values, shape, &device(), DType::F64)
}

/// E at each row of `x` (host values), at times `t`.
fn energies(net: &EnergyMlp, x: &[f64], t: &[f64], dim: usize) -> Vec<f64> {
    let n = x.len() / dim;
    let tt = Tensor::<1>::from_data(TensorData::new(t.to_vec(), [n]), (&device(), DType::F64));
    to_f64(net.energy(tensor(x, [n, dim]), tt))
}

#[test]
fn gradient_hvp_and_trace_match_finite_differences_of_the_energy() {
    // Central differences with h = 1e-4 have error O(h^2 |E'''|) ~ 1e-8 here; the derivatives
    // are compared at 1e-6 relative to their scale. Both the unconditional and the
    // time-conditional energies, three layers so that the chain rule is exercised twice.
    // Mutation checked: dropping the curvature term g sigma'(a) a' of the backward tangent fails
    // the HVP; taking the wrong rows of W_1 for the tangent (`narrow(0, 1, d)`) fails too.
    let (dim, batch) = (3, 4);
    for time_input in [false, true] {
        let net = EnergyMlpConfig::new(dim)
            .with_hidden(16)
            .with_depth(3)
            .with_time_input(time_input)
            .init(&device())
            .unwrap();
        let xs: Vec<f64> = (0..batch * dim)
            .map(|i| ((i * 37) % 17) as f64 / 17.0 * 3.0 - 1.5)
            .collect();
        let ts: Vec<f64> = (0..batch).map(|i| 0.1 + 0.2 * i as f64).collect();
        let vs: Vec<f64> = (0..batch * dim)
            .map(|i| ((i * 13) % 7) as f64 / 7.0 - 0.4)
            .collect();
        let t = Tensor::<1>::from_data(
            TensorData::new(ts.clone(), [batch]),
            (&device(), DType::F64),
        );
        let x = tensor(&xs, [batch, dim]);
        let grad = to_f64(net.energy_grad(x.clone(), t.clone()));
        let (grad2, hv) = net.energy_hvp(x.clone(), t.clone(), tensor(&vs, [batch, dim]));
        let (grad2, hv) = (to_f64(grad2), to_f64(hv));
        let trace = to_f64(net.hessian_trace(x.clone(), t.clone()));
        let h = 1e-4;
        let shifted = |k: usize, by: f64| {
            let mut y = xs.clone();
            for i in 0..batch {
                y[i * dim + k] += by;
            }
            energies(&net, &y, &ts, dim)
        };
        let along = |by: f64| {
            let y: Vec<f64> = xs.iter().zip(&vs).map(|(a, v)| a + by * v).collect();
            energies(&net, &y, &ts, dim)
        };
        let e0 = energies(&net, &xs, &ts, dim);
        let scale = grad.iter().fold(0.0f64, |m, g| m.max(g.abs())).max(1e-3);
        let mut fd_trace = vec![0.0; batch];
        for k in 0..dim {
            let (plus, minus) = (shifted(k, h), shifted(k, -h));
            for i in 0..batch {
                let fd = (plus[i] - minus[i]) / (2.0 * h);
                assert!(
                    (grad[i * dim + k] - fd).abs() < 1e-6 * scale,
                    "grad {} vs {fd}",
                    grad[i * dim + k]
                );
                assert_eq!(grad[i * dim + k], grad2[i * dim + k]);
                fd_trace[i] += (plus[i] - 2.0 * e0[i] + minus[i]) / (h * h);
            }
        }
        // v^T H v from the second difference along v, and H v against the difference of the
        // gradient along v.
        let (plus, minus) = (along(h), along(-h));
        let x_plus: Vec<f64> = xs.iter().zip(&vs).map(|(a, v)| a + h * v).collect();
        let x_minus: Vec<f64> = xs.iter().zip(&vs).map(|(a, v)| a - h * v).collect();
        let g_plus = to_f64(net.energy_grad(tensor(&x_plus, [batch, dim]), t.clone()));
        let g_minus = to_f64(net.energy_grad(tensor(&x_minus, [batch, dim]), t.clone()));
        let hv_scale = hv.iter().fold(0.0f64, |m, g| m.max(g.abs())).max(1e-3);
        for i in 0..batch {
            let vhv: f64 = (0..dim).map(|k| vs[i * dim + k] * hv[i * dim + k]).sum();
            let fd_vhv = (plus[i] - 2.0 * e0[i] + minus[i]) / (h * h);
            assert!(
                (vhv - fd_vhv).abs() < 1e-4 * hv_scale,
                "v^T H v {vhv} vs {fd_vhv}"
            );
            for k in 0..dim {
                let fd = (g_plus[i * dim + k] - g_minus[i * dim + k]) / (2.0 * h);
                assert!(
                    (hv[i * dim + k] - fd).abs() < 1e-6 * hv_scale,
                    "Hv {} vs {fd}",
                    hv[i * dim + k]
                );
            }
            assert!(
                (trace[i] - fd_trace[i]).abs() < 1e-4 * hv_scale.max(1.0),
                "tr H {} vs {}",
                trace[i],
                fd_trace[i]
            );
        }
        // As a score model: s = -grad E, J s v = -H v.
        let model = EnergyScore(&net);
        let (s, js) = model.score_jvp(x, t, tensor(&vs, [batch, dim]));
        for (a, b) in to_f64(s).iter().zip(&grad) {
            assert_eq!(*a, -b);
        }
        for (a, b) in to_f64(js).iter().zip(&hv) {
            assert_eq!(*a, -b);
        }
    }
}

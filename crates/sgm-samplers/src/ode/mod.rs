//! The ODE layer, in diffrax's roles: a [`Tableau`] says how a step is taken, a
//! [`StepSizeController`] how long it is, a [`VectorField`](sgm_core::VectorField) what is
//! integrated, and [`solve_ode`] drives them.

mod controller;
mod solve;
mod tableau;

pub use controller::{ConstantSteps, PiController, StepDecision, StepSizeController};
pub use solve::{OdeSolution, solve_ode};
pub use tableau::Tableau;

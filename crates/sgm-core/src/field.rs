use burn::prelude::*;

/// A time-dependent vector field F(x, t) defining the ODE dx/dt = F(x, t).
///
/// The probability-flow ODE of an SDE, the augmented ODE of likelihood computation and any
/// user-written field implement this; ODE solvers take any `VectorField`. Closures
/// `Fn(Tensor<2>, f64) -> Tensor<2>` implement it.
///
/// # Shapes
/// - `x`: `[batch, dim]`, the state of every sample; `t` is shared by the batch.
/// - returns `[batch, dim]`.
pub trait VectorField {
    /// Evaluates F(x, t).
    fn eval(&self, x: Tensor<2>, t: f64) -> Tensor<2>;
}

impl<F> VectorField for F
where
    F: Fn(Tensor<2>, f64) -> Tensor<2>,
{
    fn eval(&self, x: Tensor<2>, t: f64) -> Tensor<2> {
        self(x, t)
    }
}

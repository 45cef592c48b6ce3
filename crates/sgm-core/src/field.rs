use burn::prelude::*;

use crate::Result;

/// A time-dependent vector field F(x, t) defining the ODE dx/dt = F(x, t).
///
/// The probability-flow ODE of an SDE, the augmented ODE of likelihood computation and any
/// user-written field implement this; ODE solvers take any `VectorField`. Evaluation may fail
/// (a score model of the wrong shape inside the probability-flow ODE): the solver stops and
/// returns that error. Closures `Fn(Tensor<2>, f64) -> Tensor<2>` implement it and never fail.
///
/// ```
/// use burn::prelude::*;
/// use sgm_core::VectorField;
///
/// let decay = |x: Tensor<2>, _t: f64| -x; // dx/dt = -x
/// let f = decay.eval(Tensor::<2>::ones([1, 1], &Device::flex()), 0.0)?;
/// assert_eq!(f.into_scalar::<f32>(), -1.0);
/// # Ok::<(), sgm_core::CoreError>(())
/// ```
///
/// # Shapes
/// - `x`: `[batch, dim]`, the state of every sample; `t` is shared by the batch.
/// - returns `[batch, dim]`.
pub trait VectorField {
    /// Evaluates F(x, t).
    ///
    /// # Errors
    /// Whatever the field's parts report, typically
    /// [`CoreError::ShapeMismatch`](crate::CoreError::ShapeMismatch) from a score model.
    fn eval(&self, x: Tensor<2>, t: f64) -> Result<Tensor<2>>;
}

impl<F> VectorField for F
where
    F: Fn(Tensor<2>, f64) -> Tensor<2>,
{
    fn eval(&self, x: Tensor<2>, t: f64) -> Result<Tensor<2>> {
        Ok(self(x, t))
    }
}

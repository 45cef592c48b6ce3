use burn::prelude::*;

/// A network h(x, t) with an exact Jacobian-vector product in x.
///
/// [`Parameterized`](crate::Parameterized) turns it into a score model. Implementations compute
/// `forward_jvp` by forward-mode differentiation written with ordinary tensor operations (for a
/// linear layer y = x W + b the tangent is v W; for an activation a(h) it is a'(h) * v), so the
/// result stays on burn's autodiff graph and is differentiable in the parameters.
///
/// # Shapes
/// `x`, `v`: `[batch, dim]`; `t`: `[batch]`; outputs `[batch, dim]`.
pub trait ScoreNetwork {
    /// h(x, t).
    fn forward(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2>;

    /// (h(x, t), J_x h(x, t) v).
    fn forward_jvp(&self, x: Tensor<2>, t: Tensor<1>, v: Tensor<2>) -> (Tensor<2>, Tensor<2>);
}

impl<N: ScoreNetwork + ?Sized> ScoreNetwork for &N {
    fn forward(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        (**self).forward(x, t)
    }

    fn forward_jvp(&self, x: Tensor<2>, t: Tensor<1>, v: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        (**self).forward_jvp(x, t, v)
    }
}

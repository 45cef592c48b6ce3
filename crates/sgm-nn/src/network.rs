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

/// A network h(x, t, y) conditioned on rows y (`[batch, c]`: one-hot classes or features),
/// with an exact JVP in x. `y = None` is the null condition, and must give what a batch of zero
/// rows gives: label dropout (`sgm_losses::ConditionalDsm`) trains the null condition as zero
/// rows, and classifier-free guidance asks for it as `None`.
/// [`Parameterized`](crate::Parameterized) turns it into a
/// [`ConditionalScoreModel`](sgm_core::ConditionalScoreModel).
pub trait ConditionalScoreNetwork {
    /// h(x, t, y).
    fn forward_conditional(&self, x: Tensor<2>, t: Tensor<1>, y: Option<Tensor<2>>) -> Tensor<2>;

    /// (h(x, t, y), J_x h(x, t, y) v).
    fn forward_conditional_jvp(
        &self,
        x: Tensor<2>,
        t: Tensor<1>,
        v: Tensor<2>,
        y: Option<Tensor<2>>,
    ) -> (Tensor<2>, Tensor<2>);

    /// The width c of the condition rows.
    fn condition_width(&self) -> usize;
}

impl<N: ConditionalScoreNetwork + ?Sized> ConditionalScoreNetwork for &N {
    fn forward_conditional(&self, x: Tensor<2>, t: Tensor<1>, y: Option<Tensor<2>>) -> Tensor<2> {
        (**self).forward_conditional(x, t, y)
    }

    fn forward_conditional_jvp(
        &self,
        x: Tensor<2>,
        t: Tensor<1>,
        v: Tensor<2>,
        y: Option<Tensor<2>>,
    ) -> (Tensor<2>, Tensor<2>) {
        (**self).forward_conditional_jvp(x, t, v, y)
    }

    fn condition_width(&self) -> usize {
        (**self).condition_width()
    }
}

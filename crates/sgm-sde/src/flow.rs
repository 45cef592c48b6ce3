use burn::prelude::*;
use sgm_core::tensor::{column, time_like};
use sgm_core::{CoreError, ScoreModel, VectorField};

use crate::Sde;

/// The probability-flow ODE of a forward [`Sde`] with a score model (Song et al., ICLR 2021,
/// eq. 13):
///
/// ```text
/// dx/dt = f~(x, t) = f(x, t) - 1/2 g(t)^2 s(x, t).
/// ```
///
/// With the true score its solutions have the marginals p_t of the SDE (by the Fokker-Planck
/// equation), so integrating from T to 0 samples the data and from 0 to T encodes it. It is a
/// [`VectorField`] for any ODE solver, and [`ProbabilityFlowOde::drift_jvp`] gives the JVP of
/// f~ that likelihood computations need.
///
/// ```
/// use burn::prelude::*;
/// use sgm_core::VectorField;
/// use sgm_sde::{ProbabilityFlowOde, VpSde};
///
/// let vp = VpSde::default();
/// let score = |x: Tensor<2>, _t: Tensor<1>| -x; // N(0, I) is stationary under VP
/// let flow = ProbabilityFlowOde::new(&vp, &score);
/// let v: Vec<f32> = flow.eval(Tensor::<2>::ones([1, 1], &Device::flex()), 0.3)?.into_data().try_to_vec().unwrap();
/// assert!(v[0].abs() < 1e-6); // -beta/2 x + beta/2 x = 0
/// # Ok::<(), sgm_core::CoreError>(())
/// ```
#[derive(Debug)]
pub struct ProbabilityFlowOde<'a, S: ?Sized, M: ?Sized> {
    sde: &'a S,
    model: &'a M,
}

impl<S: ?Sized, M: ?Sized> Clone for ProbabilityFlowOde<'_, S, M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S: ?Sized, M: ?Sized> Copy for ProbabilityFlowOde<'_, S, M> {}

impl<'a, S: Sde + ?Sized, M: ScoreModel + ?Sized> ProbabilityFlowOde<'a, S, M> {
    /// The probability-flow ODE of `sde` with scores from `model`.
    pub fn new(sde: &'a S, model: &'a M) -> Self {
        Self { sde, model }
    }

    /// The forward SDE.
    pub fn sde(&self) -> &'a S {
        self.sde
    }

    /// The score model.
    pub fn model(&self) -> &'a M {
        self.model
    }

    /// f~(x, t) with per-sample times `[batch]` (one model evaluation).
    ///
    /// # Errors
    /// [`CoreError::ShapeMismatch`] if the model's output does not match `x`.
    pub fn drift(&self, x: Tensor<2>, t: Tensor<1>) -> Result<Tensor<2>, CoreError> {
        let half_g2 = column(self.sde.diffusion(t.clone()).square() * 0.5);
        let score = self.model.checked_score(x.clone(), t.clone())?;
        Ok(self.sde.drift(x, t) - score * half_g2)
    }

    /// (f~(x, t), J_x f~(x, t) v) with per-sample times (one model JVP evaluation).
    ///
    /// # Errors
    /// [`CoreError::ShapeMismatch`] if the model's outputs do not match `x`.
    pub fn drift_jvp(
        &self,
        x: Tensor<2>,
        t: Tensor<1>,
        v: Tensor<2>,
    ) -> Result<(Tensor<2>, Tensor<2>), CoreError> {
        let half_g2 = column(self.sde.diffusion(t.clone()).square() * 0.5);
        let (score, score_jvp) = self
            .model
            .checked_score_jvp(x.clone(), t.clone(), v.clone())?;
        let drift = self.sde.drift(x.clone(), t.clone()) - score * half_g2.clone();
        let jvp = self.sde.drift_jvp(x, t, v) - score_jvp * half_g2;
        Ok((drift, jvp))
    }
}

/// As a vector field: the drift at a time shared by the batch (g(t) computed once on the host),
/// so a model whose output does not match `x` stops the solver with the shape error.
impl<S: Sde + ?Sized, M: ScoreModel + ?Sized> VectorField for ProbabilityFlowOde<'_, S, M> {
    fn eval(&self, x: Tensor<2>, t: f64) -> Result<Tensor<2>, CoreError> {
        let g = self.sde.diffusion_at(t);
        let tt = time_like(t, &x);
        let score = self.model.checked_score(x.clone(), tt.clone())?;
        Ok(self.sde.drift(x, tt) - score * (0.5 * g * g))
    }
}

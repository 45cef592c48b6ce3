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
/// It owns its SDE and model; pass references (`ProbabilityFlowOde::new(&sde, &model)`) to
/// borrow them, or `Arc`s to share them across threads.
///
/// ```
/// use burn::prelude::*;
/// use sgm_core::{VectorField, score_fn};
/// use sgm_sde::{ProbabilityFlowOde, VpSde};
///
/// let score = score_fn(|x: Tensor<2>, _t| -x); // N(0, I) is stationary under VP
/// let flow = ProbabilityFlowOde::new(VpSde::default(), &score);
/// let v: Vec<f32> = flow.eval(Tensor::<2>::ones([1, 1], &Device::flex()), 0.3)?.into_data().try_to_vec().unwrap();
/// assert!(v[0].abs() < 1e-6); // -beta/2 x + beta/2 x = 0
/// # Ok::<(), sgm_core::CoreError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ProbabilityFlowOde<S, M> {
    sde: S,
    model: M,
}

impl<S: Sde, M: ScoreModel> ProbabilityFlowOde<S, M> {
    /// The probability-flow ODE of `sde` with scores from `model`.
    pub fn new(sde: S, model: M) -> Self {
        Self { sde, model }
    }

    /// The forward SDE.
    pub fn sde(&self) -> &S {
        &self.sde
    }

    /// The score model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// f~(x, t) per sample (`t`: `[batch]`).
    ///
    /// # Errors
    /// [`CoreError::ShapeMismatch`] if the model's output does not match `x`.
    pub fn drift(&self, x: Tensor<2>, t: Tensor<1>) -> Result<Tensor<2>, CoreError> {
        let half_g2 = column(self.sde.diffusion(t.clone()).square() * 0.5);
        let score = self.model.checked_score(x.clone(), t.clone())?;
        Ok(self.sde.drift(x, t) - score * half_g2)
    }

    /// (f~(x, t), J_x f~(x, t) v) = (f - g^2 s / 2, J_f v - g^2 J_s v / 2), with the model's
    /// [`ScoreModel::score_jvp`] and the SDE's [`Sde::drift_jvp`].
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

impl<S: Sde, M: ScoreModel> VectorField for ProbabilityFlowOde<S, M> {
    fn eval(&self, x: Tensor<2>, t: f64) -> Result<Tensor<2>, CoreError> {
        self.drift(x.clone(), time_like(t, &x))
    }
}

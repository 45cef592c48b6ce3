use burn::prelude::*;
use sgm_core::ScoreModel;
use sgm_core::tensor::{column, time_like};

use crate::{Discretize, Result, Sde};

/// The reverse-time SDE of a forward [`Sde`] with a score model in place of the true score
/// (Anderson 1982; Song et al., ICLR 2021, eq. 6):
///
/// ```text
/// dx = [f(x, t) - g(t)^2 s(x, t)] dt + g(t) dW-bar,   t running from T down to 0.
/// ```
///
/// It owns its SDE (pass `&sde` to share one) and takes the model at every call, so one
/// reverse SDE serves the raw and the EMA weights alike.
///
/// ```
/// use burn::prelude::*;
/// use sgm_core::score_fn;
/// use sgm_sde::{ReverseSde, VpSde};
///
/// let reverse = ReverseSde::new(VpSde::default());
/// // N(0, I) data stays N(0, I) under the VP SDE: its score is -x at every t.
/// let score = score_fn(|x: Tensor<2>, _t| -x);
/// let x = Tensor::<2>::ones([1, 2], &Device::flex());
/// // f - g^2 s = -beta/2 x + beta x = beta/2 x, with beta(0.5) = 10.05.
/// let drift: Vec<f32> = reverse.drift(&score, x, 0.5)?.drift.into_data().try_to_vec().unwrap();
/// assert!((drift[0] - 5.025).abs() < 1e-5);
/// # Ok::<(), sgm_sde::SdeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReverseSde<S> {
    sde: S,
}

/// The reverse drift and the score it used.
#[derive(Debug, Clone)]
pub struct ReverseDrift {
    /// f(x, t) - g(t)^2 s(x, t), `[batch, dim]`.
    pub drift: Tensor<2>,
    /// s(x, t), `[batch, dim]`.
    pub score: Tensor<2>,
    /// g(t), `[batch]`.
    pub diffusion: Tensor<1>,
}

/// One reverse-diffusion step (Song et al. 2021, eq. 47): x_{i-1} = x_i - f_rev + G_i z with
/// f_rev = f_i - G_i^2 s(x_i, t_i).
#[derive(Debug, Clone)]
pub struct ReverseDiscretization {
    /// f_rev = f_i - G_i^2 s, `[batch, dim]`.
    pub f: Tensor<2>,
    /// G_i, `[batch]`.
    pub g: Tensor<1>,
    /// s(x_i, t_i), `[batch, dim]`.
    pub score: Tensor<2>,
}

impl<S: Sde> ReverseSde<S> {
    /// The reverse-time SDE of `sde`.
    pub fn new(sde: S) -> Self {
        Self { sde }
    }

    /// The forward SDE.
    pub fn sde(&self) -> &S {
        &self.sde
    }

    /// f(x, t) - g(t)^2 s(x, t), with the score (one model evaluation) and g(t), all on the
    /// device.
    ///
    /// # Errors
    /// [`SdeError::Core`](crate::SdeError::Core) if the model's output does not match `x`.
    pub fn drift<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x: Tensor<2>,
        t: f64,
    ) -> Result<ReverseDrift> {
        let tt = time_like(t, &x);
        let score = model.checked_score(x.clone(), tt.clone())?;
        let g = self.sde.diffusion(tt.clone());
        Ok(ReverseDrift {
            drift: self.sde.drift(x, tt) - score.clone() * column(g.clone().square()),
            score,
            diffusion: g,
        })
    }

    /// The reverse of the SDE's discretisation ([`Discretize::discretize`]) for a step of
    /// length `dt` from `t` down to `t - dt` (one model evaluation).
    ///
    /// # Errors
    /// Those of [`Discretize::discretize`], and [`SdeError::Core`](crate::SdeError::Core) if
    /// the model's output does not match `x`.
    pub fn discretize<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x: Tensor<2>,
        t: f64,
        dt: f64,
    ) -> Result<ReverseDiscretization>
    where
        S: Discretize,
    {
        let forward = self.sde.discretize(x.clone(), t, dt)?;
        let score = model.checked_score(x.clone(), time_like(t, &x))?;
        Ok(ReverseDiscretization {
            f: forward.f - score.clone() * column(forward.g.clone().square()),
            g: forward.g,
            score,
        })
    }
}

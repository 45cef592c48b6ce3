use burn::prelude::*;
use sgm_core::ScoreModel;
use sgm_core::tensor::time_like;

use crate::{Result, Sde};

/// The reverse-time SDE of a forward [`Sde`] with a score model in place of the true score
/// (Anderson 1982; Song et al., ICLR 2021, eq. 6):
///
/// ```text
/// dx = [f(x, t) - g(t)^2 s(x, t)] dt + g(t) dW-bar,   t running from T down to 0.
/// ```
///
/// It borrows its SDE and model, so one model serves several samplers.
///
/// ```
/// use burn::prelude::*;
/// use sgm_sde::{ReverseSde, VpSde};
///
/// let vp = VpSde::default();
/// // N(0, I) data stays N(0, I) under the VP SDE: its score is -x at every t.
/// let score = |x: Tensor<2>, _t: Tensor<1>| -x;
/// let reverse = ReverseSde::new(&vp, &score);
/// let x = Tensor::<2>::ones([1, 2], &Device::flex());
/// // f - g^2 s = -beta/2 x + beta x = beta/2 x, with beta(0.5) = 10.05.
/// let drift: Vec<f32> = reverse.drift(x, 0.5)?.drift.into_data().try_to_vec().unwrap();
/// assert!((drift[0] - 5.025).abs() < 1e-5);
/// # Ok::<(), sgm_sde::SdeError>(())
/// ```
#[derive(Debug)]
pub struct ReverseSde<'a, S: ?Sized, M: ?Sized> {
    sde: &'a S,
    model: &'a M,
}

impl<S: ?Sized, M: ?Sized> Clone for ReverseSde<'_, S, M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S: ?Sized, M: ?Sized> Copy for ReverseSde<'_, S, M> {}

/// The reverse drift and the score it used.
#[derive(Debug, Clone)]
pub struct ReverseDrift {
    /// f(x, t) - g(t)^2 s(x, t), `[batch, dim]`.
    pub drift: Tensor<2>,
    /// s(x, t), `[batch, dim]`.
    pub score: Tensor<2>,
}

/// One reverse-diffusion step (Song et al. 2021, eq. 47): x_{i-1} = x_i - f_rev + G_i z with
/// f_rev = f_i - G_i^2 s(x_i, t_i).
#[derive(Debug, Clone)]
pub struct ReverseDiscretization {
    /// f_rev = f_i - G_i^2 s, `[batch, dim]`.
    pub f: Tensor<2>,
    /// G_i.
    pub g: f64,
    /// s(x_i, t_i), `[batch, dim]`.
    pub score: Tensor<2>,
}

impl<'a, S: Sde + ?Sized, M: ScoreModel + ?Sized> ReverseSde<'a, S, M> {
    /// The reverse-time SDE of `sde` with scores from `model`.
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

    /// f(x, t) - g(t)^2 s(x, t), with the score (one model evaluation).
    ///
    /// # Errors
    /// [`SdeError::Core`](crate::SdeError::Core) if the model's output does not match `x`.
    pub fn drift(&self, x: Tensor<2>, t: f64) -> Result<ReverseDrift> {
        let tt = time_like(t, &x);
        let score = self.model.checked_score(x.clone(), tt.clone())?;
        let g = self.sde.diffusion_at(t);
        Ok(ReverseDrift {
            drift: self.sde.drift(x, tt) - score.clone() * (g * g),
            score,
        })
    }

    /// g(t).
    pub fn diffusion_at(&self, t: f64) -> f64 {
        self.sde.diffusion_at(t)
    }

    /// The reverse of the SDE's discretisation ([`Sde::discretize`]) for a step of length `dt`
    /// from `t` down to `t - dt` (one model evaluation).
    ///
    /// # Errors
    /// Those of [`Sde::discretize`], and [`SdeError::Core`](crate::SdeError::Core) if the
    /// model's output does not match `x`.
    pub fn discretize(&self, x: Tensor<2>, t: f64, dt: f64) -> Result<ReverseDiscretization> {
        let forward = self.sde.discretize(x.clone(), t, dt)?;
        let score = self.model.checked_score(x.clone(), time_like(t, &x))?;
        Ok(ReverseDiscretization {
            f: forward.f - score.clone() * (forward.g * forward.g),
            g: forward.g,
            score,
        })
    }
}

use burn::prelude::*;
use sgm_core::{NoiseSource, ScoreModel};
use sgm_sde::{LinearSde, Sde};

use crate::Result;
use crate::error::{nonzero, positive};
use crate::langevin::{langevin_moves, scalar_like};

/// Score-based MCMC at one time `t` that moves samples toward p_t without moving time: the "C"
/// of a predictor-corrector sampler (Song et al., ICLR 2021, sec. 4.2).
pub trait Corrector {
    /// Corrects `x` (`[batch, dim]`) at time `t`; `dt` is the length of the predictor step that
    /// follows (VP-type SDEs scale their step by alpha = 1 - beta(t) dt).
    ///
    /// # Errors
    /// Implementations may fail on out-of-range parameters.
    fn correct(
        &self,
        x: Tensor<2>,
        t: f64,
        dt: f64,
        noise: &mut dyn NoiseSource,
    ) -> Result<Tensor<2>>;

    /// Score evaluations per call (for the NFE count).
    fn evaluations(&self) -> usize;
}

impl<C: Corrector + ?Sized> Corrector for &C {
    fn correct(
        &self,
        x: Tensor<2>,
        t: f64,
        dt: f64,
        noise: &mut dyn NoiseSource,
    ) -> Result<Tensor<2>> {
        (**self).correct(x, t, dt, noise)
    }

    fn evaluations(&self) -> usize {
        (**self).evaluations()
    }
}

/// Batch mean of the per-sample Euclidean norms, as a `[1, 1]` tensor (score_sde's norms).
fn mean_norm(x: Tensor<2>) -> Tensor<2> {
    x.square().sum_dim(1).sqrt().mean().reshape([1, 1])
}

/// Langevin corrector with score_sde's signal-to-noise rule (Song et al. 2021, Algorithm 5),
/// in the spelling x' = x + e s + sqrt(2 e) z with
///
/// ```text
/// e = 2 alpha (snr |z| / |s|)^2,
/// ```
///
/// |z| and |s| being batch means of per-sample norms (as in score_sde) and alpha the SDE's
/// [`Sde::corrector_alpha`] (1 - beta(t) dt for VP-type SDEs, 1 otherwise). `steps` moves per
/// call.
///
/// ```
/// use burn::prelude::*;
/// use sgm_samplers::LangevinCorrector;
/// use sgm_sde::VeSde;
/// let ve = VeSde::default();
/// let score = |x: Tensor<2>, _t: Tensor<1>| -x;
/// assert!(LangevinCorrector::new(&ve, &score, 0.16, 1).is_ok());
/// assert!(LangevinCorrector::new(&ve, &score, -1.0, 1).is_err());
/// ```
#[derive(Debug)]
pub struct LangevinCorrector<'a, S: ?Sized, M: ?Sized> {
    sde: &'a S,
    model: &'a M,
    snr: f64,
    steps: usize,
}

impl<'a, S: Sde + ?Sized, M: ScoreModel + ?Sized> LangevinCorrector<'a, S, M> {
    /// `steps` Langevin moves per call at signal-to-noise ratio `snr`.
    ///
    /// # Errors
    /// [`SamplerError::InvalidParameter`](crate::SamplerError::InvalidParameter) unless snr is
    /// finite and > 0; [`SamplerError::Core`](crate::SamplerError::Core) for zero steps.
    pub fn new(sde: &'a S, model: &'a M, snr: f64, steps: usize) -> Result<Self> {
        Ok(Self {
            sde,
            model,
            snr: positive("snr", snr)?,
            steps: nonzero("steps", steps)?,
        })
    }
}

impl<S: Sde + ?Sized, M: ScoreModel + ?Sized> Corrector for LangevinCorrector<'_, S, M> {
    fn correct(
        &self,
        x: Tensor<2>,
        t: f64,
        dt: f64,
        noise: &mut dyn NoiseSource,
    ) -> Result<Tensor<2>> {
        let scale = 2.0 * self.sde.corrector_alpha(t, dt) * self.snr * self.snr;
        let step_size = |score: &Tensor<2>, z: &Tensor<2>| {
            (mean_norm(z.clone()) / mean_norm(score.clone())).square() * scale
        };
        langevin_moves(self.model, x, t, self.steps, noise, step_size, |_| Ok(()))
    }

    fn evaluations(&self) -> usize {
        self.steps
    }
}

/// score_sde's annealed-Langevin corrector: Langevin moves x' = x + e s + sqrt(2 e) z with the
/// step set by the marginal std instead of the score norm,
///
/// ```text
/// e = 2 alpha (snr std(t))^2,
/// ```
///
/// the continuous-time form of NCSN's alpha_i ~ sigma_i^2 (alpha as for
/// [`LangevinCorrector`]).
#[derive(Debug)]
pub struct AnnealedLangevinCorrector<'a, S: ?Sized, M: ?Sized> {
    sde: &'a S,
    model: &'a M,
    snr: f64,
    steps: usize,
}

impl<'a, S: LinearSde + ?Sized, M: ScoreModel + ?Sized> AnnealedLangevinCorrector<'a, S, M> {
    /// `steps` moves per call at signal-to-noise ratio `snr`.
    ///
    /// # Errors
    /// As [`LangevinCorrector::new`].
    pub fn new(sde: &'a S, model: &'a M, snr: f64, steps: usize) -> Result<Self> {
        Ok(Self {
            sde,
            model,
            snr: positive("snr", snr)?,
            steps: nonzero("steps", steps)?,
        })
    }
}

impl<S: LinearSde + ?Sized, M: ScoreModel + ?Sized> Corrector
    for AnnealedLangevinCorrector<'_, S, M>
{
    fn correct(
        &self,
        x: Tensor<2>,
        t: f64,
        dt: f64,
        noise: &mut dyn NoiseSource,
    ) -> Result<Tensor<2>> {
        let alpha = self.sde.corrector_alpha(t, dt);
        let e = scalar_like(2.0 * alpha * (self.snr * self.sde.std_at(t)).powi(2), &x);
        langevin_moves(
            self.model,
            x,
            t,
            self.steps,
            noise,
            |_, _| e.clone(),
            |_| Ok(()),
        )
    }

    fn evaluations(&self) -> usize {
        self.steps
    }
}

/// The corrector that does nothing: PC sampling with it is the predictor alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoneCorrector;

impl Corrector for NoneCorrector {
    fn correct(&self, x: Tensor<2>, _: f64, _: f64, _: &mut dyn NoiseSource) -> Result<Tensor<2>> {
        Ok(x)
    }

    fn evaluations(&self) -> usize {
        0
    }
}

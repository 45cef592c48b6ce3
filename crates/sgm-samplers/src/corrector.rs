use burn::prelude::*;
use sgm_core::validate::{nonzero, positive};
use sgm_core::{NoiseSource, ScoreModel};
use sgm_sde::{CorrectorAlpha, GaussianMarginals, UnitAlpha};

use crate::Result;
use crate::langevin::{langevin_moves, scalar_like};

/// Score-based MCMC at one time `t` that moves samples toward p_t without moving time: the "C"
/// of a predictor-corrector sampler (Song et al., ICLR 2021, sec. 4.2).
///
/// A corrector owns its settings and takes the model at every call.
pub trait Corrector {
    /// Corrects `x` (`[batch, dim]`) at time `t` with scores from `model`; `dt` is the length of
    /// the predictor step that follows (VP-type SDEs scale their step by alpha = 1 - beta(t) dt).
    ///
    /// # Errors
    /// A model output of the wrong shape ([`SamplerError::Core`](crate::SamplerError::Core)).
    fn correct<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x: Tensor<2>,
        t: f64,
        dt: f64,
        noise: &mut dyn NoiseSource,
    ) -> Result<Tensor<2>>;

    /// Score evaluations per call (for the NFE count).
    fn evaluations(&self) -> usize;
}

impl<C: Corrector + ?Sized> Corrector for &C {
    fn correct<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x: Tensor<2>,
        t: f64,
        dt: f64,
        noise: &mut dyn NoiseSource,
    ) -> Result<Tensor<2>> {
        (**self).correct(model, x, t, dt, noise)
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
/// |z| and |s| being batch means of per-sample norms (as in score_sde; computed on the device)
/// and alpha from a [`CorrectorAlpha`]: 1 ([`UnitAlpha`], the default, right for any SDE) or the
/// SDE's own ([`LangevinCorrector::with_alpha`]: 1 - beta(t) dt for VP and sub-VP, as
/// score_sde). `steps` moves per call.
///
/// ```
/// use sgm_samplers::LangevinCorrector;
/// use sgm_sde::VpSde;
/// let plain = LangevinCorrector::new(0.16, 1)?;
/// let vp = LangevinCorrector::new(0.16, 1)?.with_alpha(VpSde::default());
/// assert!(LangevinCorrector::new(-1.0, 1).is_err());
/// # Ok::<(), sgm_samplers::SamplerError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LangevinCorrector<A = UnitAlpha> {
    alpha: A,
    snr: f64,
    steps: usize,
}

impl LangevinCorrector {
    /// `steps` Langevin moves per call at signal-to-noise ratio `snr`, alpha = 1.
    ///
    /// # Errors
    /// [`SamplerError::Core`](crate::SamplerError::Core) (`CoreError::InvalidParameter`) unless
    /// snr is finite and > 0; (`CoreError::ZeroCount`) for zero steps.
    pub fn new(snr: f64, steps: usize) -> Result<Self> {
        Ok(Self {
            alpha: UnitAlpha,
            snr: positive("snr", snr)?,
            steps: nonzero("steps", steps)?,
        })
    }
}

impl<A: CorrectorAlpha> LangevinCorrector<A> {
    /// The same corrector with alpha from `alpha` (an SDE of the VP family, typically).
    pub fn with_alpha<B: CorrectorAlpha>(self, alpha: B) -> LangevinCorrector<B> {
        LangevinCorrector {
            alpha,
            snr: self.snr,
            steps: self.steps,
        }
    }
}

impl<A: CorrectorAlpha> Corrector for LangevinCorrector<A> {
    fn correct<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x: Tensor<2>,
        t: f64,
        dt: f64,
        noise: &mut dyn NoiseSource,
    ) -> Result<Tensor<2>> {
        let scale = 2.0 * self.alpha.corrector_alpha(t, dt) * self.snr * self.snr;
        let step_size = |score: &Tensor<2>, z: &Tensor<2>| {
            (mean_norm(z.clone()) / mean_norm(score.clone())).square() * scale
        };
        langevin_moves(model, x, t, self.steps, noise, step_size, |_| ())
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
/// [`LangevinCorrector`], from the SDE's [`CorrectorAlpha`]).
///
/// ```
/// use sgm_samplers::AnnealedLangevinCorrector;
/// use sgm_sde::VeSde;
/// assert!(AnnealedLangevinCorrector::new(VeSde::default(), 0.16, 1).is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnnealedLangevinCorrector<S> {
    sde: S,
    snr: f64,
    steps: usize,
}

impl<S: GaussianMarginals + CorrectorAlpha> AnnealedLangevinCorrector<S> {
    /// `steps` moves per call at signal-to-noise ratio `snr`.
    ///
    /// # Errors
    /// As [`LangevinCorrector::new`].
    pub fn new(sde: S, snr: f64, steps: usize) -> Result<Self> {
        Ok(Self {
            sde,
            snr: positive("snr", snr)?,
            steps: nonzero("steps", steps)?,
        })
    }
}

impl<S: GaussianMarginals + CorrectorAlpha> Corrector for AnnealedLangevinCorrector<S> {
    fn correct<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x: Tensor<2>,
        t: f64,
        dt: f64,
        noise: &mut dyn NoiseSource,
    ) -> Result<Tensor<2>> {
        let alpha = self.sde.corrector_alpha(t, dt);
        let e = scalar_like(2.0 * alpha * (self.snr * self.sde.std_at(t)).powi(2), &x);
        langevin_moves(model, x, t, self.steps, noise, |_, _| e.clone(), |_| ())
    }

    fn evaluations(&self) -> usize {
        self.steps
    }
}

/// The corrector that does nothing: PC sampling with it is the predictor alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoneCorrector;

impl Corrector for NoneCorrector {
    fn correct<M: ScoreModel + ?Sized>(
        &self,
        _model: &M,
        x: Tensor<2>,
        _: f64,
        _: f64,
        _: &mut dyn NoiseSource,
    ) -> Result<Tensor<2>> {
        Ok(x)
    }

    fn evaluations(&self) -> usize {
        0
    }
}

use burn::prelude::*;
use sgm_core::tensor::time_like;
use sgm_core::{NoiseSource, NoiseSourceExt, ScoreModel};
use sgm_sde::{ReverseSde, Sde};

use crate::{Result, SamplerError};

/// The result of one predictor step.
#[derive(Debug, Clone)]
pub struct PredictorStep {
    /// The new state.
    pub x: Tensor<2>,
    /// Its noise-free mean (what a sampler returns at the last step to drop the final noise).
    pub mean: Tensor<2>,
}

/// One step of a reverse-time integrator from `t` down to `t_next < t`: the "P" of a
/// predictor-corrector sampler (Song et al., ICLR 2021, sec. 4.2).
///
/// Write your own and combine it with any [`Corrector`](crate::Corrector) in a
/// [`PcSampler`](crate::PcSampler).
pub trait Predictor {
    /// Advances `x` (`[batch, dim]`) from `t` to `t_next`.
    ///
    /// # Errors
    /// A discretisation outside its range ([`SamplerError::Sde`]).
    fn step(
        &self,
        x: Tensor<2>,
        t: f64,
        t_next: f64,
        noise: &mut dyn NoiseSource,
    ) -> Result<PredictorStep>;

    /// Score evaluations per step (for the NFE count).
    fn evaluations(&self) -> usize {
        1
    }
}

impl<P: Predictor + ?Sized> Predictor for &P {
    fn step(
        &self,
        x: Tensor<2>,
        t: f64,
        t_next: f64,
        noise: &mut dyn NoiseSource,
    ) -> Result<PredictorStep> {
        (**self).step(x, t, t_next, noise)
    }

    fn evaluations(&self) -> usize {
        (**self).evaluations()
    }
}

/// Adds `scale z` to a mean, z standard normal.
fn add_noise(mean: Tensor<2>, scale: f64, noise: &mut dyn NoiseSource) -> PredictorStep {
    let z = noise.normal_like(&mean);
    PredictorStep {
        x: mean.clone() + z * scale,
        mean,
    }
}

/// Euler-Maruyama on the reverse-time SDE (Song et al. 2021, eq. 6): with dt = t - t_next,
///
/// ```text
/// x' = x - [f(x, t) - g(t)^2 s(x, t)] dt + g(t) sqrt(dt) z.
/// ```
///
/// ```
/// use burn::prelude::*;
/// use sgm_samplers::EulerMaruyama;
/// use sgm_sde::VpSde;
/// let vp = VpSde::default();
/// let score = |x: Tensor<2>, _t: Tensor<1>| -x;
/// let predictor = EulerMaruyama::new(&vp, &score);
/// ```
#[derive(Debug)]
pub struct EulerMaruyama<'a, S: ?Sized, M: ?Sized> {
    reverse: ReverseSde<'a, S, M>,
}

impl<'a, S: Sde + ?Sized, M: ScoreModel + ?Sized> EulerMaruyama<'a, S, M> {
    /// The predictor for `sde` with scores from `model`.
    pub fn new(sde: &'a S, model: &'a M) -> Self {
        Self {
            reverse: ReverseSde::new(sde, model),
        }
    }
}

impl<S: Sde + ?Sized, M: ScoreModel + ?Sized> Predictor for EulerMaruyama<'_, S, M> {
    fn step(
        &self,
        x: Tensor<2>,
        t: f64,
        t_next: f64,
        noise: &mut dyn NoiseSource,
    ) -> Result<PredictorStep> {
        let dt = t - t_next;
        let drift = self.reverse.drift(x.clone(), t)?.drift;
        Ok(add_noise(
            x - drift * dt,
            self.reverse.diffusion_at(t) * dt.sqrt(),
            noise,
        ))
    }
}

/// The reverse-diffusion predictor (Song et al. 2021, eq. 47): the forward discretisation
/// x_i = x_{i-1} + f_i + G_i z of the SDE ([`Sde::discretize`]: SMLD for VE, DDPM for VP,
/// Euler-Maruyama otherwise) run backwards,
///
/// ```text
/// x' = x - f_i(x) + G_i^2 s(x, t) + G_i z.
/// ```
#[derive(Debug)]
pub struct ReverseDiffusion<'a, S: ?Sized, M: ?Sized> {
    reverse: ReverseSde<'a, S, M>,
}

impl<'a, S: Sde + ?Sized, M: ScoreModel + ?Sized> ReverseDiffusion<'a, S, M> {
    /// The predictor for `sde` with scores from `model`.
    pub fn new(sde: &'a S, model: &'a M) -> Self {
        Self {
            reverse: ReverseSde::new(sde, model),
        }
    }
}

impl<S: Sde + ?Sized, M: ScoreModel + ?Sized> Predictor for ReverseDiffusion<'_, S, M> {
    fn step(
        &self,
        x: Tensor<2>,
        t: f64,
        t_next: f64,
        noise: &mut dyn NoiseSource,
    ) -> Result<PredictorStep> {
        let step = self.reverse.discretize(x.clone(), t, t - t_next)?;
        Ok(add_noise(x - step.f, step.g, noise))
    }
}

/// Ancestral sampling (Ho et al. 2020 for VP; Song et al. 2021, appendix F, for VE): the
/// posterior q(x_{i-1} | x_i, x_0) of the SDE's discretisation with Tweedie's estimate of x_0,
/// x' = a x + b s(x, t) + c z with the coefficients of [`Sde::ancestral_step`].
///
/// Only the VE and VP SDEs have such a step: [`AncestralSampling::new`] refuses others.
///
/// ```
/// use burn::prelude::*;
/// use sgm_samplers::{AncestralSampling, SamplerError};
/// use sgm_sde::{SubVpSde, VpSde};
/// let score = |x: Tensor<2>, _t: Tensor<1>| -x;
/// let vp = VpSde::default();
/// assert!(AncestralSampling::new(&vp, &score).is_ok());
/// let sub = SubVpSde::default();
/// assert!(matches!(
///     AncestralSampling::new(&sub, &score),
///     Err(SamplerError::AncestralUnsupported { sde: "sub-VP" })
/// ));
/// ```
#[derive(Debug)]
pub struct AncestralSampling<'a, S: ?Sized, M: ?Sized> {
    sde: &'a S,
    model: &'a M,
}

impl<'a, S: Sde + ?Sized, M: ScoreModel + ?Sized> AncestralSampling<'a, S, M> {
    /// The predictor for `sde` with scores from `model`.
    ///
    /// # Errors
    /// [`SamplerError::AncestralUnsupported`] for an SDE without an ancestral step.
    pub fn new(sde: &'a S, model: &'a M) -> Result<Self> {
        let probe = sde.t_end() * 1e-3;
        match sde.ancestral_step(probe, probe * 0.5)? {
            Some(_) => Ok(Self { sde, model }),
            None => Err(SamplerError::AncestralUnsupported { sde: sde.name() }),
        }
    }
}

impl<S: Sde + ?Sized, M: ScoreModel + ?Sized> Predictor for AncestralSampling<'_, S, M> {
    fn step(
        &self,
        x: Tensor<2>,
        t: f64,
        t_next: f64,
        noise: &mut dyn NoiseSource,
    ) -> Result<PredictorStep> {
        let coeffs =
            self.sde
                .ancestral_step(t, t - t_next)?
                .ok_or(SamplerError::AncestralUnsupported {
                    sde: self.sde.name(),
                })?;
        let score = self.model.checked_score(x.clone(), time_like(t, &x))?;
        Ok(add_noise(
            x * coeffs.x_coeff + score * coeffs.score_coeff,
            coeffs.noise_std,
            noise,
        ))
    }
}

/// The predictor that does nothing (x' = x): PC sampling with it runs the corrector alone at
/// each time of the grid, score_sde's corrector-only sampling.
#[derive(Debug, Clone, Copy, Default)]
pub struct NonePredictor;

impl Predictor for NonePredictor {
    fn step(
        &self,
        x: Tensor<2>,
        _t: f64,
        _t_next: f64,
        _: &mut dyn NoiseSource,
    ) -> Result<PredictorStep> {
        Ok(PredictorStep {
            x: x.clone(),
            mean: x,
        })
    }

    fn evaluations(&self) -> usize {
        0
    }
}

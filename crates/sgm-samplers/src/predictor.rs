use burn::prelude::*;
use sgm_core::tensor::{column, time_like};
use sgm_core::{NoiseSource, NoiseSourceExt, ScoreModel};
use sgm_sde::{Ancestral, Discretize, ReverseSde, Sde};

use crate::Result;

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
/// A predictor owns its configuration (its SDE) and takes the model at every call, so one
/// predictor serves any model. Write your own and combine it with any
/// [`Corrector`](crate::Corrector) in a [`PcSampler`](crate::PcSampler).
pub trait Predictor {
    /// Advances `x` (`[batch, dim]`) from `t` to `t_next` with scores from `model`.
    ///
    /// # Errors
    /// A discretisation outside its range ([`SamplerError::Sde`](crate::SamplerError::Sde)), a
    /// model output of the wrong shape ([`SamplerError::Core`](crate::SamplerError::Core)).
    fn step<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
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
    fn step<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x: Tensor<2>,
        t: f64,
        t_next: f64,
        noise: &mut dyn NoiseSource,
    ) -> Result<PredictorStep> {
        (**self).step(model, x, t, t_next, noise)
    }

    fn evaluations(&self) -> usize {
        (**self).evaluations()
    }
}

/// Adds `scale z` to a mean, z standard normal, with one scale per sample (`[batch]`).
fn add_noise(mean: Tensor<2>, scale: Tensor<1>, noise: &mut dyn NoiseSource) -> PredictorStep {
    let z = noise.normal_like(&mean);
    PredictorStep {
        x: mean.clone() + z * column(scale),
        mean,
    }
}

/// Euler-Maruyama on the reverse-time SDE (Song et al. 2021, eq. 6): with dt = t - t_next,
///
/// ```text
/// x' = x - [f(x, t) - g(t)^2 s(x, t)] dt + g(t) sqrt(dt) z.
/// ```
///
/// Works with any [`Sde`], a user's own included.
///
/// ```
/// use sgm_samplers::EulerMaruyama;
/// use sgm_sde::VpSde;
/// let predictor = EulerMaruyama::new(VpSde::default());
/// let shared = EulerMaruyama::new(std::sync::Arc::new(VpSde::default()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EulerMaruyama<S> {
    reverse: ReverseSde<S>,
}

impl<S: Sde> EulerMaruyama<S> {
    /// The predictor for `sde` (pass `&sde` or an `Arc` to share one).
    pub fn new(sde: S) -> Self {
        Self {
            reverse: ReverseSde::new(sde),
        }
    }
}

impl<S: Sde> Predictor for EulerMaruyama<S> {
    fn step<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x: Tensor<2>,
        t: f64,
        t_next: f64,
        noise: &mut dyn NoiseSource,
    ) -> Result<PredictorStep> {
        let dt = t - t_next;
        let reverse = self.reverse.drift(model, x.clone(), t)?;
        Ok(add_noise(
            x - reverse.drift * dt,
            reverse.diffusion * dt.sqrt(),
            noise,
        ))
    }
}

/// The reverse-diffusion predictor (Song et al. 2021, eq. 47): the forward discretisation
/// x_i = x_{i-1} + f_i + G_i z of the SDE ([`Discretize`]: SMLD for VE, DDPM for VP,
/// Euler-Maruyama otherwise) run backwards,
///
/// ```text
/// x' = x - f_i(x) + G_i^2 s(x, t) + G_i z.
/// ```
///
/// ```
/// use sgm_samplers::ReverseDiffusion;
/// use sgm_sde::VeSde;
/// let predictor = ReverseDiffusion::new(VeSde::default());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReverseDiffusion<S> {
    reverse: ReverseSde<S>,
}

impl<S: Discretize> ReverseDiffusion<S> {
    /// The predictor for `sde`.
    pub fn new(sde: S) -> Self {
        Self {
            reverse: ReverseSde::new(sde),
        }
    }
}

impl<S: Discretize> Predictor for ReverseDiffusion<S> {
    fn step<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x: Tensor<2>,
        t: f64,
        t_next: f64,
        noise: &mut dyn NoiseSource,
    ) -> Result<PredictorStep> {
        let step = self.reverse.discretize(model, x.clone(), t, t - t_next)?;
        Ok(add_noise(x - step.f, step.g, noise))
    }
}

/// Ancestral sampling (Ho et al. 2020 for VP; Song et al. 2021, appendix F, for VE): the
/// posterior q(x_{i-1} | x_i, x_0) of the SDE's discretisation with Tweedie's estimate of x_0,
/// x' = a x + b s(x, t) + c z with the coefficients of [`Ancestral::ancestral_step`].
///
/// Only the VE and VP SDEs have such a step, so only they implement [`Ancestral`]:
///
/// ```
/// use sgm_samplers::AncestralSampling;
/// use sgm_sde::VpSde;
/// let predictor = AncestralSampling::new(VpSde::default());
/// ```
///
/// and pairing it with another SDE does not compile:
///
/// ```compile_fail
/// use sgm_samplers::AncestralSampling;
/// use sgm_sde::SubVpSde;
/// let predictor = AncestralSampling::new(SubVpSde::default());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AncestralSampling<S> {
    sde: S,
}

impl<S: Ancestral> AncestralSampling<S> {
    /// The predictor for `sde`.
    pub fn new(sde: S) -> Self {
        Self { sde }
    }
}

impl<S: Ancestral> Predictor for AncestralSampling<S> {
    fn step<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x: Tensor<2>,
        t: f64,
        t_next: f64,
        noise: &mut dyn NoiseSource,
    ) -> Result<PredictorStep> {
        let coeffs = self.sde.ancestral_step(t, t - t_next)?;
        let score = model.checked_score(x.clone(), time_like(t, &x))?;
        let mean = x * coeffs.x_coeff + score * coeffs.score_coeff;
        let scale = time_like(coeffs.noise_std, &mean);
        Ok(add_noise(mean, scale, noise))
    }
}

/// The predictor that does nothing (x' = x): PC sampling with it runs the corrector alone at
/// each time of the grid, score_sde's corrector-only sampling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NonePredictor;

impl Predictor for NonePredictor {
    fn step<M: ScoreModel + ?Sized>(
        &self,
        _model: &M,
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

use burn::prelude::*;
use sgm_core::tensor::time_like;
use sgm_core::validate::{nonzero, positive};
use sgm_core::{NoiseSource, NoiseSourceExt, ScoreModel};
#[cfg(doc)]
use sgm_schedules::GeometricSigmas;
use sgm_schedules::SigmaLevels;

use crate::output::StepEnd;
use crate::{Observer, Result, SampleOutput};

/// One Langevin move in score_sde's spelling, x' = x + e s + sqrt(2 e) z, with the step e given
/// as a tensor broadcastable to `[batch, 1]` (a scalar step is `[1, 1]`) and z standard normal.
/// Returns (x', the noise-free mean x + e s).
pub(crate) fn langevin_move(
    x: Tensor<2>,
    score: Tensor<2>,
    e: Tensor<2>,
    z: Tensor<2>,
) -> (Tensor<2>, Tensor<2>) {
    let mean = x + score * e.clone();
    let next = mean.clone() + z * (e * 2.0).sqrt();
    (next, mean)
}

/// `steps` Langevin moves at time t, each x' = x + e s + sqrt(2 e) z with the step e computed
/// from that move's score and noise by `step_size`, and `after_move` called on each new state
/// (the samplers end their step there; correctors do nothing).
pub(crate) fn langevin_moves<M: ScoreModel + ?Sized>(
    model: &M,
    mut x: Tensor<2>,
    t: f64,
    steps: usize,
    noise: &mut dyn NoiseSource,
    step_size: impl Fn(&Tensor<2>, &Tensor<2>) -> Tensor<2>,
    mut after_move: impl FnMut(&Tensor<2>),
) -> Result<Tensor<2>> {
    let tt = time_like(t, &x);
    for _ in 0..steps {
        let score = model.checked_score(x.clone(), tt.clone())?;
        let z = noise.normal_like(&x);
        let e = step_size(&score, &z);
        x = langevin_move(x, score, e, z).0;
        after_move(&x);
    }
    Ok(x)
}

/// A `[1, 1]` tensor holding `value`, on the device and dtype of `like`.
pub(crate) fn scalar_like(value: f64, like: &Tensor<2>) -> Tensor<2> {
    Tensor::full([1, 1], value, (&like.device(), like.dtype()))
}

/// Unadjusted Langevin dynamics at one model time t, in the NCSN spelling
///
/// ```text
/// x_{k+1} = x_k + (eps / 2) s(x_k, t) + sqrt(eps) z_k,   z_k ~ N(0, I),
/// ```
///
/// which samples p as eps -> 0 and the number of steps grows (Roberts & Tweedie, Bernoulli
/// 1996). With well-separated modes it cannot move mass between them: the mode weights stay
/// those of the initial points' basins (Song & Ermon 2019, sec. 3.2).
///
/// ```
/// use sgm_samplers::LangevinDynamics;
/// assert!(LangevinDynamics::new(0.1, 1000).is_ok());
/// assert!(LangevinDynamics::new(0.0, 1000).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LangevinDynamics {
    step_size: f64,
    steps: usize,
}

impl LangevinDynamics {
    /// `steps` steps of size eps = `step_size`.
    ///
    /// # Errors
    /// [`SamplerError::Core`](crate::SamplerError::Core) (`CoreError::InvalidParameter`) unless eps is
    /// finite and > 0; [`SamplerError::Core`](crate::SamplerError::Core) for zero steps.
    pub fn new(step_size: f64, steps: usize) -> Result<Self> {
        Ok(Self {
            step_size: positive("step_size", step_size)?,
            steps: nonzero("steps", steps)?,
        })
    }

    /// The step size eps.
    pub fn step_size(&self) -> f64 {
        self.step_size
    }

    /// The number of steps.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Runs the chain from `x0` (`[batch, dim]`) with the model at time `t`; the NFE is the
    /// number of steps.
    ///
    /// # Errors
    /// [`SamplerError::NonFinite`](crate::SamplerError::NonFinite) if the state diverges (the
    /// first bad step named; checked on the device, read once at the end).
    pub fn sample<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x0: Tensor<2>,
        t: f64,
        noise: &mut dyn NoiseSource,
        observer: &mut dyn Observer,
    ) -> Result<SampleOutput> {
        let e = scalar_like(self.step_size / 2.0, &x0);
        let mut end = StepEnd::new(observer, Some(self.steps));
        let mut nfe = 0;
        let x = langevin_moves(
            model,
            x0,
            t,
            self.steps,
            noise,
            |_, _| e.clone(),
            |x| {
                nfe += 1;
                end.end(x, t, nfe);
            },
        )?;
        end.finish(x, self.steps)
    }
}

/// Annealed Langevin dynamics (Song & Ermon, NeurIPS 2019, Algorithm 1): Langevin steps over
/// noise levels sigma_1 > ... > sigma_L, warm-started from one level to the next,
///
/// ```text
/// alpha_i = eps sigma_i^2 / sigma_L^2,
/// x <- x + (alpha_i / 2) s(x, t_i) + sqrt(alpha_i) z,   T steps per level,
/// ```
///
/// with the model conditioned on the level's time t_i ([`SigmaLevels::time`]). The levels are
/// any decreasing sequence ([`SigmaLevels`]); a [`GeometricSigmas`] converts into one. The step
/// shrinks with the noise so that the signal-to-noise ratio of each step is the same at every
/// level. `denoise` adds the final Tweedie step x <- x + sigma_L^2 s(x, t_L) of NCSNv2 (Song &
/// Ermon 2020; Jolicoeur-Martineau et al. 2021), off by default as in Algorithm 1.
///
/// ```
/// use sgm_samplers::AnnealedLangevin;
/// use sgm_schedules::GeometricSigmas;
/// let sampler = AnnealedLangevin::new(GeometricSigmas::new(1.0, 20.0, 10)?, 100, 0.1)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct AnnealedLangevin {
    levels: SigmaLevels,
    steps_per_level: usize,
    step_size: f64,
    denoise: bool,
}

impl AnnealedLangevin {
    /// T = `steps_per_level` steps at each level with base step eps = `step_size`.
    ///
    /// # Errors
    /// As [`LangevinDynamics::new`].
    pub fn new(
        levels: impl Into<SigmaLevels>,
        steps_per_level: usize,
        step_size: f64,
    ) -> Result<Self> {
        Ok(Self {
            levels: levels.into(),
            steps_per_level: nonzero("steps_per_level", steps_per_level)?,
            step_size: positive("step_size", step_size)?,
            denoise: false,
        })
    }

    /// Adds (or removes) the final denoising step.
    pub fn with_denoising(mut self, denoise: bool) -> Self {
        self.denoise = denoise;
        self
    }

    /// The noise levels.
    pub fn levels(&self) -> &SigmaLevels {
        &self.levels
    }

    /// Runs the annealed chain from `x0` (`[batch, dim]`). The NFE is L T (+ 1 with denoising).
    ///
    /// # Errors
    /// [`SamplerError::NonFinite`](crate::SamplerError::NonFinite) if the state diverges.
    pub fn sample<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x0: Tensor<2>,
        noise: &mut dyn NoiseSource,
        observer: &mut dyn Observer,
    ) -> Result<SampleOutput> {
        let levels = self.levels.len();
        let total = levels * self.steps_per_level;
        let sigma_l = self.levels.sigma_min();
        let mut x = x0;
        let mut end = StepEnd::new(observer, Some(total));
        let mut nfe = 0;
        for (i, &sigma) in self.levels.sigmas().iter().enumerate() {
            let alpha = self.step_size * (sigma / sigma_l).powi(2);
            let e = scalar_like(alpha / 2.0, &x);
            let t = self.levels.time(i);
            x = langevin_moves(
                model,
                x,
                t,
                self.steps_per_level,
                noise,
                |_, _| e.clone(),
                |x| {
                    nfe += 1;
                    end.end(x, t, nfe);
                },
            )?;
        }
        if self.denoise {
            let t = self.levels.time(levels - 1);
            let score = model.checked_score(x.clone(), time_like(t, &x))?;
            x = x + score * (sigma_l * sigma_l);
            nfe += 1;
            end.check(&x, t);
        }
        end.finish(x, nfe)
    }
}

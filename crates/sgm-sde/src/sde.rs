use burn::prelude::*;
use burn::tensor::DType;
use sgm_core::tensor::{column, from_f64, to_f64};
use sgm_core::{NoiseSource, NoiseSourceExt, finite_difference_jvp};

use crate::Result;

/// One forward step of a discretised SDE in the form samplers use (Song et al. 2021, eq. 46):
/// x_{i+1} = x_i + f_i(x_i) + G_i z_i, z_i ~ N(0, I).
#[derive(Debug, Clone)]
pub struct Discretization {
    /// f_i(x), `[batch, dim]`.
    pub f: Tensor<2>,
    /// G_i, shared by the batch.
    pub g: f64,
}

/// One ancestral-sampling step x_{i-1} = a x_i + b s(x_i, t_i) + c z, the posterior
/// q(x_{i-1} | x_i, x_0) with the Tweedie estimate of x_0 plugged in (Ho et al. 2020 for VP,
/// Song et al. 2021 appendix F for VE).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AncestralStep {
    /// a, the coefficient of x_i.
    pub x_coeff: f64,
    /// b, the coefficient of the score.
    pub score_coeff: f64,
    /// c, the standard deviation of the added noise.
    pub noise_std: f64,
}

/// A forward SDE dx = f(x, t) dt + g(t) dW on [0, T], with a prior for x(T).
///
/// The diffusion coefficient g depends on time only. Implement [`Sde::drift`],
/// [`Sde::diffusion_at`], [`Sde::prior_sample`] and [`Sde::prior_log_prob`]; every other method
/// has a default (Euler-Maruyama discretisation, finite-difference drift JVP, Langevin corrector
/// alpha = 1, no ancestral step) that the built-in SDEs override with exact formulas. Samplers,
/// [`ReverseSde`](crate::ReverseSde) and [`ProbabilityFlowOde`](crate::ProbabilityFlowOde) work
/// with any `Sde`, and the trait is object safe.
///
/// # Shapes
/// `x`: `[batch, dim]`; per-sample times `t`: `[batch]`.
pub trait Sde {
    /// A short name for messages ("VE", "VP", ...).
    fn name(&self) -> &'static str;

    /// The terminal time T.
    fn t_end(&self) -> f64;

    /// The drift f(x, t), `[batch, dim]`.
    fn drift(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2>;

    /// The Jacobian-vector product J_x f(x, t) v. Default: central finite differences
    /// ([`finite_difference_jvp`]); linear SDEs return a(t) v exactly.
    fn drift_jvp(&self, x: Tensor<2>, t: Tensor<1>, v: Tensor<2>) -> Tensor<2> {
        finite_difference_jvp(&|x, t| self.drift(x, t), x, t, v).1
    }

    /// The diffusion coefficient g(t) at one time.
    fn diffusion_at(&self, t: f64) -> f64;

    /// g(t) per sample, `[batch]`. Default: [`Sde::diffusion_at`] on the host (one device
    /// synchronisation); the built-in SDEs compute it with tensor operations.
    fn diffusion(&self, t: Tensor<1>) -> Tensor<1> {
        let (device, dtype, n) = (t.device(), t.dtype(), t.dims()[0]);
        let g: Vec<f64> = to_f64(t)
            .into_iter()
            .map(|t| self.diffusion_at(t))
            .collect();
        from_f64(&g, [n], &device, dtype)
    }

    /// Draws `shape = [batch, dim]` samples of the prior p_T.
    fn prior_sample(
        &self,
        shape: [usize; 2],
        device: &Device,
        dtype: DType,
        noise: &mut dyn NoiseSource,
    ) -> Tensor<2>;

    /// log p_T(x) of the prior, `[batch]`.
    fn prior_log_prob(&self, x: Tensor<2>) -> Tensor<1>;

    /// The forward kernel of one step of length `dt` ending at time `t`,
    /// x_t = x_{t-dt} + f_i + G_i z, evaluated at `x` (the reverse-diffusion predictor uses it at
    /// the current state). Default: Euler-Maruyama, f_i = f(x, t) dt, G_i = g(t) sqrt(dt).
    ///
    /// # Errors
    /// Kernels with a validity range (DDPM's beta_i < 1) return
    /// [`SdeError::StepTooLarge`](crate::SdeError::StepTooLarge).
    fn discretize(&self, x: Tensor<2>, t: f64, dt: f64) -> Result<Discretization> {
        let f = self.drift(x.clone(), sgm_core::tensor::time_like(t, &x)) * dt;
        Ok(Discretization {
            f,
            g: self.diffusion_at(t) * dt.sqrt(),
        })
    }

    /// The alpha of the Langevin corrector's SNR rule e = 2 alpha (snr |z| / |s|)^2 (Song et
    /// al. 2021, Algorithm 5) for a step of length `dt` at time `t`: 1 - beta_i for VP-type SDEs
    /// (beta_i = beta(t) dt), 1 otherwise (the default).
    fn corrector_alpha(&self, t: f64, dt: f64) -> f64 {
        let _ = (t, dt);
        1.0
    }

    /// The ancestral-sampling step from `t` to `t - dt` for SDEs that have one (VE and VP);
    /// `Ok(None)` (the default) for SDEs without.
    ///
    /// # Errors
    /// [`SdeError::StepTooLarge`](crate::SdeError::StepTooLarge) when the step is outside the
    /// kernel's range (VP: beta(t) dt >= 1).
    fn ancestral_step(&self, t: f64, dt: f64) -> Result<Option<AncestralStep>> {
        let _ = (t, dt);
        Ok(None)
    }
}

impl<S: Sde + ?Sized> Sde for &S {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn t_end(&self) -> f64 {
        (**self).t_end()
    }
    fn drift(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        (**self).drift(x, t)
    }
    fn drift_jvp(&self, x: Tensor<2>, t: Tensor<1>, v: Tensor<2>) -> Tensor<2> {
        (**self).drift_jvp(x, t, v)
    }
    fn diffusion_at(&self, t: f64) -> f64 {
        (**self).diffusion_at(t)
    }
    fn diffusion(&self, t: Tensor<1>) -> Tensor<1> {
        (**self).diffusion(t)
    }
    fn prior_sample(
        &self,
        shape: [usize; 2],
        device: &Device,
        dtype: DType,
        noise: &mut dyn NoiseSource,
    ) -> Tensor<2> {
        (**self).prior_sample(shape, device, dtype, noise)
    }
    fn prior_log_prob(&self, x: Tensor<2>) -> Tensor<1> {
        (**self).prior_log_prob(x)
    }
    fn discretize(&self, x: Tensor<2>, t: f64, dt: f64) -> Result<Discretization> {
        (**self).discretize(x, t, dt)
    }
    fn corrector_alpha(&self, t: f64, dt: f64) -> f64 {
        (**self).corrector_alpha(t, dt)
    }
    fn ancestral_step(&self, t: f64, dt: f64) -> Result<Option<AncestralStep>> {
        (**self).ancestral_step(t, dt)
    }
}

/// Gaussian transition kernels p_t|0(x | x0) = N(m(t) x0, std(t)^2 I): what denoising score
/// matching, the exact oracles of `sgm-data` and the DDPM samplers need of a diffusion.
///
/// Every [`LinearSde`] has them; so has a discrete DDPM chain ([`DdpmMarginals`](crate::DdpmMarginals)).
/// Tensor methods take per-sample times `[batch]`; `_at` methods one time.
pub trait GaussianMarginals {
    /// log m(t), `[batch]`.
    fn log_mean_coeff(&self, t: Tensor<1>) -> Tensor<1>;
    /// std(t), `[batch]`.
    fn std(&self, t: Tensor<1>) -> Tensor<1>;
    /// log m(t) at one time.
    fn log_mean_coeff_at(&self, t: f64) -> f64;
    /// std(t) at one time.
    fn std_at(&self, t: f64) -> f64;

    /// m(t), `[batch]`.
    fn mean_coeff(&self, t: Tensor<1>) -> Tensor<1> {
        self.log_mean_coeff(t).exp()
    }

    /// m(t) at one time.
    fn mean_coeff_at(&self, t: f64) -> f64 {
        self.log_mean_coeff_at(t).exp()
    }

    /// x_t = m(t) x0 + std(t) z, a draw of p_t|0(. | x0) from standard normal `z`.
    fn perturb(&self, x0: Tensor<2>, t: Tensor<1>, z: Tensor<2>) -> Tensor<2> {
        x0 * column(self.mean_coeff(t.clone())) + z * column(self.std(t))
    }

    /// Draws x_t ~ p_t|0(. | x0) and returns (x_t, z) with z the standard normal noise used.
    fn sample_marginal(
        &self,
        x0: Tensor<2>,
        t: Tensor<1>,
        noise: &mut dyn NoiseSource,
    ) -> (Tensor<2>, Tensor<2>) {
        let z = noise.normal_like(&x0);
        (self.perturb(x0, t, z.clone()), z)
    }

    /// The log signal-to-noise ratio log(m(t)^2 / std(t)^2), `[batch]`; decreasing in t.
    fn log_snr(&self, t: Tensor<1>) -> Tensor<1> {
        (self.log_mean_coeff(t.clone()) - self.std(t).log()) * 2.0
    }

    /// log SNR at one time.
    fn log_snr_at(&self, t: f64) -> f64 {
        2.0 * (self.log_mean_coeff_at(t) - self.std_at(t).ln())
    }
}

impl<G: GaussianMarginals + ?Sized> GaussianMarginals for &G {
    fn log_mean_coeff(&self, t: Tensor<1>) -> Tensor<1> {
        (**self).log_mean_coeff(t)
    }
    fn std(&self, t: Tensor<1>) -> Tensor<1> {
        (**self).std(t)
    }
    fn log_mean_coeff_at(&self, t: f64) -> f64 {
        (**self).log_mean_coeff_at(t)
    }
    fn std_at(&self, t: f64) -> f64 {
        (**self).std_at(t)
    }
}

/// An SDE with linear drift f(x, t) = a(t) x and Gaussian transition kernels, so that
/// a(t) = d log m(t) / dt and d std(t)^2 / dt = 2 a(t) std(t)^2 + g(t)^2.
pub trait LinearSde: Sde + GaussianMarginals {
    /// a(t), `[batch]`.
    fn drift_coeff(&self, t: Tensor<1>) -> Tensor<1>;
    /// a(t) at one time.
    fn drift_coeff_at(&self, t: f64) -> f64;
}

impl<S: LinearSde + ?Sized> LinearSde for &S {
    fn drift_coeff(&self, t: Tensor<1>) -> Tensor<1> {
        (**self).drift_coeff(t)
    }
    fn drift_coeff_at(&self, t: f64) -> f64 {
        (**self).drift_coeff_at(t)
    }
}

/// log N(x; 0, std^2 I) per sample, `[batch]`: -d/2 log(2 pi std^2) - |x|^2 / (2 std^2).
pub fn isotropic_gaussian_log_prob(x: Tensor<2>, std: f64) -> Tensor<1> {
    let [_, dim] = x.dims();
    let var = std * std;
    let norm = -0.5 * dim as f64 * (2.0 * std::f64::consts::PI * var).ln();
    (x.square().sum_dim(1) * (-0.5 / var) + norm).squeeze_dim(1)
}

/// Draws N(0, std^2 I) samples; the prior of every built-in SDE.
pub(crate) fn isotropic_gaussian_sample(
    std: f64,
    shape: [usize; 2],
    device: &Device,
    dtype: DType,
    noise: &mut dyn NoiseSource,
) -> Tensor<2> {
    noise.sample(sgm_core::Noise::StandardNormal, shape, device, dtype) * std
}

/// f(x, t) = a(t) x for a linear SDE.
pub(crate) fn linear_drift<S: LinearSde + ?Sized>(
    sde: &S,
    x: Tensor<2>,
    t: Tensor<1>,
) -> Tensor<2> {
    x * column(sde.drift_coeff(t))
}

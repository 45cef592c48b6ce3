use burn::prelude::*;
use burn::tensor::DType;
use sgm_core::tensor::{column, time_like};
use sgm_core::{NoiseSource, NoiseSourceExt, ScoreFn, finite_difference_jvp};

use crate::Result;

/// One forward step of a discretised SDE in the form samplers use (Song et al. 2021, eq. 46):
/// x_{i+1} = x_i + f_i(x_i) + G_i z_i, z_i ~ N(0, I).
#[derive(Debug, Clone)]
pub struct Discretization {
    /// f_i(x), `[batch, dim]`.
    pub f: Tensor<2>,
    /// G_i per sample, `[batch]`.
    pub g: Tensor<1>,
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

/// A forward SDE dx = f(x, t) dt + g(t) dW on [0, T], with a prior for x(T): only what defines
/// the process.
///
/// Implement the five required methods (drift, diffusion, T, the prior's sampler and
/// log-density) and the SDE runs in the PC sampler with the Euler-Maruyama predictor and the
/// Langevin corrector, in [`ReverseSde`](crate::ReverseSde) and in the probability-flow ODE
/// ([`ProbabilityFlowOde`](crate::ProbabilityFlowOde)) and its likelihood. Discretisation
/// schemes are capabilities of their own, implemented only by the SDEs that have them:
/// [`Discretize`] (the reverse-diffusion predictor), [`Ancestral`] (ancestral sampling),
/// [`CorrectorAlpha`] (the VP corrector's alpha), [`LinearSde`] and [`GaussianMarginals`]
/// (denoising losses, Tweedie denoising, exact oracles); pairing a sampler with an SDE that
/// lacks its scheme fails to compile.
///
/// `&S`, `Box<S>` and `Arc<S>` of an SDE are SDEs, so an algorithm that owns its SDE can be
/// given a reference or a shared pointer.
///
/// ```
/// use burn::prelude::*;
/// use burn::tensor::DType;
/// use sgm_core::{Noise, NoiseSource, NoiseSourceExt};
/// use sgm_sde::{Sde, isotropic_gaussian_log_prob};
///
/// /// dx = -2 x dt + 0.5 dW on [0, 3], prior its stationary law N(0, 0.5^2 / 4 I) = N(0, 0.25^2 I).
/// struct Ou;
/// impl Sde for Ou {
///     fn t_end(&self) -> f64 { 3.0 }
///     fn drift(&self, x: Tensor<2>, _t: Tensor<1>) -> Tensor<2> { x * -2.0 }
///     fn diffusion(&self, t: Tensor<1>) -> Tensor<1> { t.ones_like() * 0.5 }
///     fn prior_sample(&self, shape: [usize; 2], device: &Device, dtype: DType,
///                     noise: &mut dyn NoiseSource) -> Tensor<2> {
///         noise.sample(Noise::StandardNormal, shape, device, dtype) * 0.25
///     }
///     fn prior_log_prob(&self, x: Tensor<2>) -> Tensor<1> {
///         isotropic_gaussian_log_prob(x, 0.25)
///     }
/// }
/// assert_eq!(Ou.name(), "custom");
/// ```
///
/// # Shapes
/// `x`: `[batch, dim]`; per-sample times `t`: `[batch]`.
pub trait Sde {
    /// The terminal time T.
    fn t_end(&self) -> f64;

    /// The drift f(x, t), `[batch, dim]`.
    fn drift(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2>;

    /// The diffusion coefficient g(t) per sample, `[batch]` (device work only: samplers call
    /// it every step).
    fn diffusion(&self, t: Tensor<1>) -> Tensor<1>;

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

    /// The Jacobian-vector product J_x f(x, t) v. Default: central finite differences
    /// ([`finite_difference_jvp`]); linear SDEs return a(t) v exactly.
    fn drift_jvp(&self, x: Tensor<2>, t: Tensor<1>, v: Tensor<2>) -> Tensor<2> {
        finite_difference_jvp(&ScoreFn(|x, t| self.drift(x, t)), x, t, v).1
    }

    /// A short name for messages ("VE", "VP", ...); "custom" by default.
    fn name(&self) -> &'static str {
        "custom"
    }
}

/// The forward kernel of one step of length `dt` ending at time `t`, x_t = x_{t-dt} + f_i +
/// G_i z, evaluated at `x`: the discretisation the reverse-diffusion predictor reverses (Song et
/// al. 2021, eq. 45-47). VP uses DDPM's kernel, VE SMLD's; the others Euler-Maruyama
/// ([`euler_maruyama_discretization`]).
pub trait Discretize: Sde {
    /// The kernel's f_i(x) and G_i.
    ///
    /// # Errors
    /// Kernels with a validity range (DDPM's beta_i < 1) return
    /// [`SdeError::StepTooLarge`](crate::SdeError::StepTooLarge).
    fn discretize(&self, x: Tensor<2>, t: f64, dt: f64) -> Result<Discretization>;
}

/// The Euler-Maruyama kernel of any SDE: f_i = f(x, t) dt, G_i = g(t) sqrt(dt).
pub fn euler_maruyama_discretization<S: Sde + ?Sized>(
    sde: &S,
    x: Tensor<2>,
    t: f64,
    dt: f64,
) -> Discretization {
    let tt = time_like(t, &x);
    Discretization {
        g: sde.diffusion(tt.clone()) * dt.sqrt(),
        f: sde.drift(x, tt) * dt,
    }
}

/// SDEs with an ancestral-sampling step (VE and VP): the posterior of the discrete chain their
/// [`Discretize`] kernel defines.
pub trait Ancestral: Sde {
    /// The ancestral step from `t` to `t - dt`.
    ///
    /// # Errors
    /// [`SdeError::StepTooLarge`](crate::SdeError::StepTooLarge) when the step is outside the
    /// kernel's range (VP: beta(t) dt >= 1).
    fn ancestral_step(&self, t: f64, dt: f64) -> Result<AncestralStep>;
}

/// The alpha of the Langevin corrector's SNR rule e = 2 alpha (snr |z| / |s|)^2 (Song et al.
/// 2021, Algorithm 5) for a step of length `dt` at time `t`: 1 - beta(t) dt for the VP family
/// (1 - 2 theta dt for Ornstein-Uhlenbeck), 1 for VE and Brownian motion.
pub trait CorrectorAlpha {
    /// alpha(t, dt).
    fn corrector_alpha(&self, t: f64, dt: f64) -> f64;
}

/// The unit alpha of the Langevin corrector, for any SDE (Song et al.'s choice outside the VP
/// family).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnitAlpha;

impl CorrectorAlpha for UnitAlpha {
    fn corrector_alpha(&self, _t: f64, _dt: f64) -> f64 {
        1.0
    }
}

/// Implements an SDE trait for `&T`, `Box<T>` and `Arc<T>` by forwarding to `T`.
macro_rules! forward {
    ($trait:ident { $($body:tt)* }) => {
        impl<T: $trait + ?Sized> $trait for &T { $($body)* }
        impl<T: $trait + ?Sized> $trait for Box<T> { $($body)* }
        impl<T: $trait + ?Sized> $trait for std::sync::Arc<T> { $($body)* }
    };
}

forward!(Sde {
    fn t_end(&self) -> f64 {
        (**self).t_end()
    }
    fn drift(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        (**self).drift(x, t)
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
    fn drift_jvp(&self, x: Tensor<2>, t: Tensor<1>, v: Tensor<2>) -> Tensor<2> {
        (**self).drift_jvp(x, t, v)
    }
    fn name(&self) -> &'static str {
        (**self).name()
    }
});

forward!(Discretize {
    fn discretize(&self, x: Tensor<2>, t: f64, dt: f64) -> Result<Discretization> {
        (**self).discretize(x, t, dt)
    }
});

forward!(Ancestral {
    fn ancestral_step(&self, t: f64, dt: f64) -> Result<AncestralStep> {
        (**self).ancestral_step(t, dt)
    }
});

forward!(CorrectorAlpha {
    fn corrector_alpha(&self, t: f64, dt: f64) -> f64 {
        (**self).corrector_alpha(t, dt)
    }
});

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

    /// (m(t), std(t)) as `[batch, 1]` columns, to scale `[batch, dim]` states per sample.
    fn kernel_columns(&self, t: Tensor<1>) -> (Tensor<2>, Tensor<2>) {
        (column(self.mean_coeff(t.clone())), column(self.std(t)))
    }

    /// x_t = m(t) x0 + std(t) z, a draw of p_t|0(. | x0) from standard normal `z`.
    fn perturb(&self, x0: Tensor<2>, t: Tensor<1>, z: Tensor<2>) -> Tensor<2> {
        let (m, std) = self.kernel_columns(t);
        x0 * m + z * std
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

    /// The noise level sigma-bar(t) = std(t) / m(t) of the rescaled state y = x / m(t) = x_0 +
    /// sigma-bar n: the variance-exploding form in which the samplers of Karras et al. (2022)
    /// and DPM-Solver (Lu et al. 2022) run on any SDE with Gaussian marginals. Increasing in t;
    /// exp(-log_snr / 2).
    fn noise_level_at(&self, t: f64) -> f64 {
        self.std_at(t) * (-self.log_mean_coeff_at(t)).exp()
    }

    /// The time t >= `lo` with [`GaussianMarginals::noise_level_at`](t) = `sigma`, by bisection
    /// to the last bit (sigma-bar is increasing in t); the upper end of the search starts at
    /// `hi` and its distance from `lo` doubles until it passes `sigma`. None when `sigma` is not finite and
    /// positive, lies below sigma-bar(lo), or is not reached by 64 doublings.
    ///
    /// ```
    /// use sgm_sde::{GaussianMarginals, VpSde};
    /// let vp = VpSde::default();
    /// let t = vp.time_at_noise_level(vp.noise_level_at(0.3), 0.0, 1.0).unwrap();
    /// assert!((t - 0.3).abs() < 1e-12);
    /// // A search that starts with hi = lo widens its bracket.
    /// let t = vp.time_at_noise_level(vp.noise_level_at(0.7), 0.3, 0.3).unwrap();
    /// assert!((t - 0.7).abs() < 1e-12);
    /// ```
    fn time_at_noise_level(&self, sigma: f64, lo: f64, hi: f64) -> Option<f64> {
        if !(sigma.is_finite() && sigma > 0.0) || self.noise_level_at(lo) > sigma {
            return None;
        }
        // The first bracket width: hi - lo, or a small fraction of the scale of t when hi = lo
        // (a fixed tiny width would be lost to rounding against lo).
        let mut width = if hi > lo {
            hi - lo
        } else {
            1e-6 * lo.abs().max(1.0)
        };
        let (mut a, mut b) = (lo, lo + width);
        let mut doublings = 0;
        while self.noise_level_at(b) < sigma {
            doublings += 1;
            if doublings > 64 {
                return None;
            }
            width *= 2.0;
            b = lo + width;
        }
        loop {
            let mid = 0.5 * (a + b);
            if mid <= a || mid >= b {
                return Some(
                    if sigma - self.noise_level_at(a) < self.noise_level_at(b) - sigma {
                        a
                    } else {
                        b
                    },
                );
            }
            if self.noise_level_at(mid) < sigma {
                a = mid;
            } else {
                b = mid;
            }
        }
    }
}

forward!(GaussianMarginals {
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
});

/// An SDE with linear drift f(x, t) = a(t) x and Gaussian transition kernels, so that
/// a(t) = d log m(t) / dt and d std(t)^2 / dt = 2 a(t) std(t)^2 + g(t)^2.
pub trait LinearSde: Sde + GaussianMarginals {
    /// a(t), `[batch]`.
    fn drift_coeff(&self, t: Tensor<1>) -> Tensor<1>;
    /// a(t) at one time.
    fn drift_coeff_at(&self, t: f64) -> f64;
}

forward!(LinearSde {
    fn drift_coeff(&self, t: Tensor<1>) -> Tensor<1> {
        (**self).drift_coeff(t)
    }
    fn drift_coeff_at(&self, t: f64) -> f64 {
        (**self).drift_coeff_at(t)
    }
});

/// log N(x; 0, std^2 I) per sample, `[batch]`: -d/2 log(2 pi std^2) - |x|^2 / (2 std^2).
pub fn isotropic_gaussian_log_prob(x: Tensor<2>, std: f64) -> Tensor<1> {
    let [_, dim] = x.dims();
    let var = std * std;
    let norm = -0.5 * dim as f64 * (2.0 * std::f64::consts::PI * var).ln();
    (x.square().sum_dim(1) * (-0.5 / var) + norm).squeeze_dim(1)
}

/// Draws N(0, std^2 I) samples of `shape` (`[batch, dim]`); the prior of every built-in SDE.
pub fn isotropic_gaussian_sample(
    std: f64,
    shape: [usize; 2],
    device: &Device,
    dtype: DType,
    noise: &mut dyn NoiseSource,
) -> Tensor<2> {
    noise.sample(sgm_core::Noise::StandardNormal, shape, device, dtype) * std
}

/// f(x, t) = a(t) x for a linear SDE: the drift (and, applied to v, the drift JVP) of every
/// [`LinearSde`].
pub fn linear_drift<S: LinearSde + ?Sized>(sde: &S, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
    x * column(sde.drift_coeff(t))
}

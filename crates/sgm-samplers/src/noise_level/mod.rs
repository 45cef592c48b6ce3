//! Samplers in the noise-level form of Karras et al. (2022): on any SDE with Gaussian marginals,
//! y = x / m(t) = x_0 + sigma-bar(t) n with sigma-bar = std / m, the denoiser
//! D(y, t) = E[x_0 | x_t = m y] = y + (std(t)^2 / m(t)) s(m y, t) (Tweedie), and the
//! probability-flow ODE dy / d sigma-bar = (y - D) / sigma-bar. Every sampler here ends with one
//! denoiser call at the last grid time (k-diffusion's step to sigma = 0), which its NFE counts.

mod dpm_solver;
mod dpm_solver_pp;
mod edm;
mod euler_ancestral;
mod exponential_multistep;
mod run;

pub use dpm_solver::DpmSolver;
pub use dpm_solver_pp::DpmSolverPp;
pub use edm::{Churn, EdmMethod, EdmSampler};
pub use euler_ancestral::EulerAncestral;
pub use exponential_multistep::{ExponentialMultistep, MAX_EXPONENTIAL_ORDER};

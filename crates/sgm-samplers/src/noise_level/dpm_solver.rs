//! DPM-Solver, single-step (Lu et al. 2022).

use burn::prelude::*;
use sgm_core::{NoiseSource, ScoreModel};
use sgm_schedules::TimeGrid;
use sgm_sde::GaussianMarginals;

use super::run::{check_order, drive, grid_levels};
use crate::{Observer, Result, SampleOutput};

/// DPM-Solver (Lu, Zhou, Bao, Chen, Li & Zhu, NeurIPS 2022, "DPM-Solver: a fast ODE solver for
/// diffusion probabilistic model sampling in around 10 steps", Algorithms 1 and 2): single-step
/// solvers of order 1, 2 and 3 for the probability-flow ODE in log-SNR time, with the noise
/// prediction eps(y, t) = (y - D(y, t)) / sigma-bar. With lambda = -ln sigma-bar,
/// h = lambda_{i+1} - lambda_i and y = x / m, sigma-bar = std / m (so one formula serves VP,
/// sub-VP, VE and the Karras SDE):
///
/// ```text
/// order 1 (DDIM): y' = y - sigma' expm1(h) eps(y, t)
/// order 2 (r1 = 1/2):
///   u  = y - sigma_s1 expm1(r1 h) eps(y, t),   s1 at lambda + r1 h
///   y' = y - sigma' expm1(h) eps - sigma' / (2 r1) expm1(h) (eps(u, s1) - eps)
/// order 3 (r1 = 1/3, r2 = 2/3):
///   u1 = y - sigma_s1 expm1(r1 h) eps
///   u2 = y - sigma_s2 expm1(r2 h) eps - sigma_s2 (r2 / r1) (expm1(r2 h) / (r2 h) - 1) (eps(u1, s1) - eps)
///   y' = y - sigma' expm1(h) eps - sigma' / r2 (expm1(h) / h - 1) (eps(u2, s2) - eps)
/// ```
///
/// The intermediate times s1, s2 invert sigma-bar(t). Then one final denoising. NFE:
/// order (N - 1) + 1 on a grid of N points.
///
/// ```
/// use sgm_samplers::DpmSolver;
/// use sgm_sde::{VpSde, log_snr_grid};
/// let vp = VpSde::default();
/// let solver = DpmSolver::new(vp, log_snr_grid(&vp, 1.0, 1e-3, 7)?, 3)?;
/// assert_eq!(solver.nfe(), 19);
/// assert!(DpmSolver::new(vp, log_snr_grid(&vp, 1.0, 1e-3, 7)?, 4).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DpmSolver<G> {
    marginals: G,
    grid: TimeGrid,
    levels: Vec<f64>,
    order: usize,
}

impl<G: GaussianMarginals> DpmSolver<G> {
    /// DPM-Solver of `order` (1, 2 or 3) over the decreasing `grid`.
    ///
    /// # Errors
    /// [`SamplerError::Core`] (`CoreError::InvalidParameter`) for another order, an increasing
    /// grid, or a grid time where sigma-bar is not finite and positive.
    pub fn new(marginals: G, grid: TimeGrid, order: usize) -> Result<Self> {
        check_order("DPM-Solver order", order, 3)?;
        let levels = grid_levels(&marginals, &grid)?;
        Ok(Self {
            marginals,
            grid,
            levels,
            order,
        })
    }

    /// Score evaluations of one run.
    pub fn nfe(&self) -> usize {
        self.order * self.grid.num_steps() + 1
    }

    /// Runs the solver from `x_t` (`[batch, dim]`, at the grid's first time). Deterministic:
    /// `noise` is not drawn from (it is taken for the common sampler signature).
    ///
    /// # Errors
    /// [`SamplerError::NonFinite`] if the state diverges (checked on the device, read once);
    /// [`SamplerError::Core`] for a model of the wrong shape.
    pub fn sample<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x_t: Tensor<2>,
        _noise: &mut dyn NoiseSource,
        observer: &mut dyn Observer,
    ) -> Result<SampleOutput> {
        let (grid, levels) = (&self.grid, &self.levels);
        drive(
            model,
            &self.marginals,
            grid,
            levels,
            x_t,
            observer,
            |run, at, y| {
                let (t, t_next, level, next) = (at.t, at.t_next, at.level, at.level_next);
                let h = (level / next).ln();
                let eps = run.noise(&y, t, level)?;
                // The state at the fraction r of the step in lambda, and its time.
                let at = |r: f64| level * (-r * h).exp();
                Ok(match self.order {
                    1 => y - eps * (next * h.exp_m1()),
                    2 => {
                        let r1 = 0.5;
                        let s1 = at(r1);
                        let u = y.clone() - eps.clone() * (s1 * (r1 * h).exp_m1());
                        let eps1 = run.noise(&u, run.time_at(s1, t_next, t)?, s1)?;
                        y - eps.clone() * (next * h.exp_m1())
                            - (eps1 - eps) * (next / (2.0 * r1) * h.exp_m1())
                    }
                    _ => {
                        let (r1, r2) = (1.0 / 3.0, 2.0 / 3.0);
                        let (s1, s2) = (at(r1), at(r2));
                        let u1 = y.clone() - eps.clone() * (s1 * (r1 * h).exp_m1());
                        let eps1 = run.noise(&u1, run.time_at(s1, t_next, t)?, s1)?;
                        let u2 = y.clone()
                            - eps.clone() * (s2 * (r2 * h).exp_m1())
                            - (eps1 - eps.clone())
                                * (s2 * (r2 / r1) * ((r2 * h).exp_m1() / (r2 * h) - 1.0));
                        let eps2 = run.noise(&u2, run.time_at(s2, t_next, t)?, s2)?;
                        y - eps.clone() * (next * h.exp_m1())
                            - (eps2 - eps) * (next / r2 * (h.exp_m1() / h - 1.0))
                    }
                })
            },
        )
    }
}

//! The exponential Adams-Bashforth multistep solver on the data prediction.

use burn::prelude::*;
use gauss_quad::GaussLegendre;
use sgm_core::{NoiseSource, ScoreModel};
use sgm_schedules::TimeGrid;
use sgm_sde::GaussianMarginals;

use super::run::{check_order, drive, grid_levels};
use crate::{Observer, Result, SampleOutput};

/// The highest order [`ExponentialMultistep`] takes.
pub const MAX_EXPONENTIAL_ORDER: usize = 6;

/// The exponential Adams-Bashforth method of order k on the data prediction (Hochbruck &
/// Ostermann 2010, "Exponential integrators", Acta Numerica, sec. 2.5; for diffusion models
/// Zhang & Chen 2023, DEIS, and Lu et al. 2022b, DPM-Solver++, of which it is the exact-
/// coefficient multistep form of any order). In log-SNR time lambda = -ln sigma-bar the
/// probability-flow ODE of y = x / m is dy / d lambda = D - y, whose solution over one step
/// h = lambda_{n+1} - lambda_n is
///
/// ```text
/// y_{n+1} = e^{-h} y_n + int_{lambda_n}^{lambda_{n+1}} e^{lambda - lambda_{n+1}} D(lambda) d lambda.
/// ```
///
/// The method replaces D by the polynomial through the last k denoisings (lambda_{n-j}, D_{n-j})
/// and integrates it exactly (Gauss-Legendre quadrature of e^s L_j(s), exact to rounding):
/// y_{n+1} = e^{-h} y_n + sum_j c_j D_{n-j}, c_j = int_{-h}^0 e^s L_j(s) ds with L_j the Lagrange
/// basis on the shifted nodes s_j = lambda_{n-j} - lambda_{n+1}. Order 1 is DDIM / DPM-Solver++ 1;
/// the first steps use the orders their history allows. Then one final denoising. NFE: N on a
/// grid of N points. On workload w6 order 4 on [`sgm_sde::log_snr_grid`] (few steps) or
/// [`sgm_sde::karras_grid`] (many) is sgm's most accurate sampler per evaluation.
///
/// ```
/// use sgm_samplers::ExponentialMultistep;
/// use sgm_sde::{VeSde, log_snr_grid};
/// let karras = VeSde::karras(80.0)?;
/// let solver = ExponentialMultistep::new(karras, log_snr_grid(&karras, 80.0, 0.002, 20)?, 4)?;
/// assert_eq!(solver.nfe(), 20);
/// assert!(ExponentialMultistep::new(karras, log_snr_grid(&karras, 80.0, 0.002, 20)?, 0).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ExponentialMultistep<G> {
    marginals: G,
    grid: TimeGrid,
    levels: Vec<f64>,
    order: usize,
}

impl<G: GaussianMarginals> ExponentialMultistep<G> {
    /// The method of `order` (1 to [`MAX_EXPONENTIAL_ORDER`]) over the decreasing `grid`.
    ///
    /// # Errors
    /// [`SamplerError::Core`] (`CoreError::InvalidParameter`) for another order, an increasing
    /// grid, or a grid time where sigma-bar is not finite and positive.
    pub fn new(marginals: G, grid: TimeGrid, order: usize) -> Result<Self> {
        check_order("exponential multistep order", order, MAX_EXPONENTIAL_ORDER)?;
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
        self.grid.len()
    }

    /// Runs the solver from `x_t` (`[batch, dim]`, at the grid's first time). Deterministic:
    /// `noise` is not drawn from.
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
        let lambda: Vec<f64> = self.levels.iter().map(|l| -l.ln()).collect();
        let mut history: Vec<Tensor<2>> = Vec::with_capacity(self.order);
        let (grid, levels) = (&self.grid, &self.levels);
        drive(
            model,
            &self.marginals,
            grid,
            levels,
            x_t,
            observer,
            |run, at, y| {
                let i = at.i;
                history.insert(0, run.denoise(&y, at.t)?);
                history.truncate(self.order);
                let nodes: Vec<f64> = (0..history.len())
                    .map(|j| lambda[i - j] - lambda[i + 1])
                    .collect();
                let h = lambda[i + 1] - lambda[i];
                Ok(history
                    .iter()
                    .zip(exponential_weights(&nodes, h))
                    .fold(y * (-h).exp(), |acc, (d, c)| acc + d.clone() * c))
            },
        )
    }
}

/// c_j = int_{-h}^0 e^s L_j(s) ds for the Lagrange basis L_j on `nodes` (all <= -h < 0), by
/// Gauss-Legendre quadrature with 16 nodes: exact for the polynomial part up to degree 31, and
/// e^s on an interval of length h <= 20 is resolved to rounding.
fn exponential_weights(nodes: &[f64], h: f64) -> Vec<f64> {
    let quad = GaussLegendre::new(16.try_into().expect("16 > 0"));
    (0..nodes.len())
        .map(|j| {
            quad.integrate(-h, 0.0, |s| {
                let basis: f64 = nodes
                    .iter()
                    .enumerate()
                    .filter(|&(i, _)| i != j)
                    .map(|(_, &node)| (s - node) / (nodes[j] - node))
                    .product();
                s.exp() * basis
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Order 1 is DDIM's weight 1 - e^{-h}; at order 4 the rule is exact for cubics:
    /// sum_j c_j p(s_j) = int_{-h}^0 e^s p(s) ds for p(s) = s^3 (closed form by parts).
    /// Mutation checked: dropping `s.exp()` fails both.
    #[test]
    fn weights_integrate_polynomials_exactly() {
        let h = 0.7;
        let w = exponential_weights(&[-h], h);
        assert!((w[0] - (1.0 - (-h).exp())).abs() < 1e-15);
        let nodes = [-h, -h - 0.4, -h - 1.1, -h - 1.5];
        let w = exponential_weights(&nodes, h);
        // int_{-h}^0 e^s s^3 ds = [e^s (s^3 - 3 s^2 + 6 s - 6)]_{-h}^0.
        let antiderivative = |s: f64| s.exp() * (s.powi(3) - 3.0 * s * s + 6.0 * s - 6.0);
        let want = antiderivative(0.0) - antiderivative(-h);
        let got: f64 = nodes.iter().zip(&w).map(|(s, c)| c * s.powi(3)).sum();
        assert!((got - want).abs() < 1e-13, "{got} vs {want}");
    }
}

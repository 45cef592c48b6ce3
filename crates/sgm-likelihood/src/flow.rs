use burn::prelude::*;
use sgm_core::divergence::{Projection, jvp_quadratic_forms, unit_directions};
use sgm_core::tensor::time_like;
use sgm_core::{CoreError, NoiseSource, ScoreModel, VectorField};
use sgm_samplers::{NoObserver, Observer, PiController, SamplerError, Tableau, solve_ode};
use sgm_sde::{ProbabilityFlowOde, Sde};

use crate::error::check_eps;
use crate::{LikelihoodError, Result};
use sgm_core::validate::at_least;

/// How the divergence of the probability-flow drift is computed along the solve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Divergence {
    /// tr J exactly, from d JVPs batched into one model call per evaluation (cost grows with d;
    /// the choice for small d and for tests).
    Exact,
    /// The Hutchinson-Skilling estimate v^T J v with `probes` vectors per sample drawn once and
    /// held fixed for the whole solve (so each probe's integral is an unbiased estimate of the
    /// exact one along the same trajectory). With two probes or more the result carries the
    /// standard error of their mean.
    Hutchinson {
        /// Distribution of the probes.
        projection: Projection,
        /// Probes per sample.
        probes: usize,
    },
}

/// The probability-flow log-likelihood and what came with it.
#[derive(Debug, Clone)]
pub struct LogLikelihood {
    /// log p(x) per sample, `[batch]` (nats, model space), averaged over probes.
    pub log_prob: Tensor<1>,
    /// log p(x) per sample and probe, `[batch, K]` (K = 1 for the exact divergence).
    pub per_probe: Tensor<2>,
    /// Standard error of `log_prob` over the probes (Hutchinson with K >= 2).
    pub std_error: Option<Tensor<1>>,
    /// The encoded point x(T), `[batch, dim]`.
    pub prior_point: Tensor<2>,
    /// log p_T(x(T)) under the SDE's prior, `[batch]`.
    pub prior_log_prob: Tensor<1>,
    /// Score-model evaluations (one per evaluation of the augmented vector field; each batches
    /// all JVP directions into one call).
    pub nfe: usize,
    /// Accepted solver steps.
    pub steps: usize,
}

/// The augmented ODE d/dt [x, l_1..l_K] = [f~(x, t), v_k^T J f~ v_k] (or [f~, tr J f~]).
struct Augmented<S, M> {
    flow: ProbabilityFlowOde<S, M>,
    directions: Tensor<3>,
    exact: bool,
    dim: usize,
}

impl<S: Sde, M: ScoreModel> VectorField for Augmented<S, M> {
    fn eval(&self, y: Tensor<2>, t: f64) -> Result<Tensor<2>, CoreError> {
        let x = y.narrow(1, 0, self.dim);
        let tt = time_like(t, &x);
        let q = jvp_quadratic_forms(
            |xr, tr, v| self.flow.drift_jvp(xr, tr, v),
            x,
            tt,
            self.directions.clone(),
        )?;
        let divergence = if self.exact {
            q.trace().unsqueeze_dim(1)
        } else {
            q.forms
        };
        Ok(Tensor::cat(vec![q.value, divergence], 1))
    }
}

/// Log-likelihoods by the probability-flow ODE (Song et al., ICLR 2021, sec. 4.3 and app. D.2):
/// along dx/dt = f~(x, t) = f - 1/2 g^2 s, the instantaneous change of variables (Chen et al.,
/// NeurIPS 2018) gives d log p_t(x_t)/dt = -div f~(x_t, t), so
///
/// ```text
/// log p_eps(x) = log p_T(x_T) + int_eps^T div f~(x_t, t) dt,
/// ```
///
/// solved from eps to T as one augmented ODE in (x, integral) with adaptive Dormand-Prince 5(4)
/// (rtol = atol = 1e-5 by default; the error norm covers the integrals too). The score model
/// is used through the generic [`ScoreModel`] interface (its `score_jvp`), so networks and exact
/// oracles alike work.
///
/// ```
/// use burn::prelude::*;
/// use sgm_core::{HostNoise, score_fn};
/// use sgm_likelihood::{Divergence, ProbabilityFlowLikelihood};
/// use sgm_sde::VpSde;
///
/// // N(0, I) data: the score is -x at every t, and log p(x) = -log(2 pi) - |x|^2 / 2 in 2-D.
/// let vp = VpSde::default();
/// let score = score_fn(|x: Tensor<2>, _t| -x);
/// let likelihood = ProbabilityFlowLikelihood::new(vp, Divergence::Exact, 1e-5)?;
/// let x = Tensor::<2>::from_data([[0.5, -1.0]], &Device::flex());
/// let out = likelihood.log_prob(&score, x, &mut HostNoise::new(0))?;
/// let lp: f32 = out.log_prob.into_scalar();
/// let want = -(2.0 * std::f32::consts::PI).ln() - 0.625;
/// assert!((lp - want).abs() < 1e-3);
/// # Ok::<(), sgm_likelihood::LikelihoodError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbabilityFlowLikelihood<S> {
    sde: S,
    divergence: Divergence,
    eps: f64,
    control: PiController,
}

impl<S: Sde> ProbabilityFlowLikelihood<S> {
    /// Likelihoods under `sde`, integrating from `eps` to T; the model comes with each call.
    ///
    /// # Errors
    /// [`LikelihoodError::InvalidEps`] unless 0 < eps < T; [`LikelihoodError::Core`]
    /// (`CoreError::ZeroCount`) for zero Hutchinson probes.
    pub fn new(sde: S, divergence: Divergence, eps: f64) -> Result<Self> {
        check_eps(eps, sde.t_end())?;
        if let Divergence::Hutchinson { probes, .. } = divergence {
            at_least("probes", probes, 1)?;
        }
        Ok(Self {
            sde,
            divergence,
            eps,
            control: PiController::new(1e-5, 1e-5)?,
        })
    }

    /// Sets the solver's tolerances.
    ///
    /// # Errors
    /// [`LikelihoodError::Core`] (`CoreError::InvalidParameter`) unless both are finite and > 0.
    pub fn with_tolerances(mut self, rtol: f64, atol: f64) -> Result<Self> {
        sgm_core::validate::positive("rtol", rtol)?;
        sgm_core::validate::positive("atol", atol)?;
        self.control = PiController::new(rtol, atol)?;
        Ok(self)
    }

    /// The forward SDE.
    pub fn sde(&self) -> &S {
        &self.sde
    }

    /// log p(x) per sample of `x` (`[batch, dim]`), with a progress observer.
    ///
    /// # Errors
    /// [`LikelihoodError::Core`] if the model's output does not match `x`; solver errors
    /// ([`LikelihoodError::Solver`]) if the solve diverges or cannot finish.
    pub fn log_prob_observed<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x: Tensor<2>,
        noise: &mut dyn NoiseSource,
        observer: &mut dyn Observer,
    ) -> Result<LogLikelihood> {
        let [batch, dim] = x.dims();
        let (directions, exact, k) = match self.divergence {
            Divergence::Exact => (unit_directions(&x), true, 1),
            Divergence::Hutchinson { projection, probes } => {
                (projection.sample(probes, &x, noise)?, false, probes)
            }
        };
        let field = Augmented {
            flow: ProbabilityFlowOde::new(&self.sde, model),
            directions,
            exact,
            dim,
        };
        let y0 = Tensor::cat(
            vec![
                x.clone(),
                Tensor::zeros([batch, k], (&x.device(), x.dtype())),
            ],
            1,
        );
        let t_end = self.sde.t_end();
        let solved = solve_ode(
            &field,
            &Tableau::dormand_prince(),
            y0,
            self.eps,
            t_end,
            self.control,
            observer,
        )
        .map_err(|e| match e {
            // The model's own errors (a wrong shape) are reported as such, not as the solver's.
            SamplerError::Core(core) => LikelihoodError::Core(core),
            other => LikelihoodError::Solver(other),
        });
        let solution = solved?;
        let prior_point = solution.x.clone().narrow(1, 0, dim);
        let integrals = solution.x.narrow(1, dim, k);
        let prior_log_prob = self.sde.prior_log_prob(prior_point.clone());
        let per_probe = integrals + prior_log_prob.clone().unsqueeze_dim(1);
        let log_prob = per_probe.clone().mean_dim(1).squeeze_dim(1);
        let std_error = (k >= 2).then(|| {
            let centred = per_probe.clone() - log_prob.clone().unsqueeze_dim(1);
            (centred.square().sum_dim(1).squeeze_dim(1) / ((k - 1) * k) as f64).sqrt()
        });
        Ok(LogLikelihood {
            log_prob,
            per_probe,
            std_error,
            prior_point,
            prior_log_prob,
            nfe: solution.nfe,
            steps: solution.accepted,
        })
    }

    /// log p(x) per sample of `x` (`[batch, dim]`).
    ///
    /// # Errors
    /// As [`ProbabilityFlowLikelihood::log_prob_observed`].
    pub fn log_prob<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x: Tensor<2>,
        noise: &mut dyn NoiseSource,
    ) -> Result<LogLikelihood> {
        self.log_prob_observed(model, x, noise, &mut NoObserver)
    }
}

use burn::prelude::*;
use sgm_core::tensor::{column, time_like};
use sgm_core::{NoiseSource, ScoreModel};
use sgm_sde::{LinearSde, SnrImportance};

use crate::Result;
use crate::error::{check_eps, ensure_finite};
use sgm_core::validate::at_least;

/// A Monte Carlo lower bound with its standard error.
#[derive(Debug, Clone)]
pub struct Bound {
    /// The bound per sample, `[batch]` (nats).
    pub value: Tensor<1>,
    /// Its standard error, `[batch]`.
    pub std_error: Tensor<1>,
    /// Score-model evaluations (one call on `samples` x batch points).
    pub nfe: usize,
}

/// The continuous-time variational bound of a score model under a linear SDE (Song, Durkan,
/// Murray & Ermon, NeurIPS 2021, Thm. 1 in its denoising form; Huang, Lim & Courville, NeurIPS
/// 2021), a lower bound on the log-density of the model defined by the reverse-time SDE:
///
/// ```text
/// log p(x) >= E[log pi(x_T)] - int_eps^T E[ 1/2 g^2 (|s(x_t, t) + z/std|^2 - |z|^2/std^2) - div f ] dt,
/// ```
///
/// with x_t = m(t) x + std(t) z. It is tight when s is the true score of the data's perturbations
/// and the prior pi is p_T. Each of the `samples` draws per data point takes one t from the
/// density (g^2 / std^2) / Z ([`SnrImportance`]), which turns the integrand into
/// Z/2 (|std s + z|^2 - |z|^2) - Z (std^2 / g^2) d a(t) (div f = d a(t) for f = a(t) x), and one
/// x_T ~ p_T|0(. | x) for the prior term; the bound is their mean and the standard error their
/// spread / sqrt(samples). The integral starts at eps > 0, where the importance density is
/// integrable; the neglected [0, eps] contributes O(eps beta(0) d).
///
/// ```
/// use burn::prelude::*;
/// use sgm_core::{HostNoise, score_fn};
/// use sgm_likelihood::ContinuousElbo;
/// use sgm_sde::VpSde;
///
/// // N(0, I) data has score -x at every t under VP: the bound is tight, log N(x; 0, I).
/// let vp = VpSde::default();
/// let score = score_fn(|x: Tensor<2>, _t| -x);
/// let elbo = ContinuousElbo::new(vp, 1e-5, 4096)?;
/// let x = Tensor::<2>::from_data([[0.3, -0.4]], &Device::flex());
/// let bound = elbo.evaluate(&score, x, &mut HostNoise::new(0))?;
/// let (b, se): (f32, f32) = (bound.value.into_scalar(), bound.std_error.into_scalar());
/// let exact = -(2.0 * std::f32::consts::PI).ln() - 0.125;
/// assert!((b - exact).abs() < 4.0 * se + 1e-4);
/// # Ok::<(), sgm_likelihood::LikelihoodError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContinuousElbo<S> {
    sde: S,
    eps: f64,
    samples: usize,
}

impl<S: LinearSde> ContinuousElbo<S> {
    /// The bound under `sde`, integrating from `eps` to T with
    /// `samples` draws per data point.
    ///
    /// # Errors
    /// [`LikelihoodError::InvalidEps`](crate::LikelihoodError::InvalidEps) unless 0 < eps < T;
    /// [`LikelihoodError::Core`](crate::LikelihoodError::Core) (`CoreError::TooFew`) for
    /// fewer than 2 samples.
    pub fn new(sde: S, eps: f64, samples: usize) -> Result<Self> {
        check_eps(eps, sde.t_end())?;
        at_least("samples", samples, 2)?;
        Ok(Self { sde, eps, samples })
    }

    /// The bound of `model` for every row of `x` (`[batch, dim]`).
    ///
    /// # Errors
    /// [`LikelihoodError::Core`](crate::LikelihoodError::Core) if the model's output does not
    /// match `x`; [`LikelihoodError::NonFinite`](crate::LikelihoodError::NonFinite) if the bound
    /// is NaN or infinite (a non-finite model).
    pub fn evaluate<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x: Tensor<2>,
        noise: &mut dyn NoiseSource,
    ) -> Result<Bound> {
        let [batch, dim] = x.dims();
        let r = self.samples;
        let t_end = self.sde.t_end();
        let importance = SnrImportance::new(&self.sde, self.eps, t_end)?;
        let z_norm = importance.normalizer();
        let x_rep = Tensor::cat(vec![x; r], 0);
        let t = importance.sample(r * batch, &x_rep, noise);
        let (xt, z) = self.sde.sample_marginal(x_rep.clone(), t.clone(), noise);
        let score = model.checked_score(xt.clone(), t.clone())?;
        let std = self.sde.std(t.clone());
        let matching = (score * column(std.clone()) + z.clone())
            .square()
            .sum_dim(1)
            - z.square().sum_dim(1);
        let ratio = std.square() / self.sde.diffusion(t.clone()).square();
        let divergence = ratio * self.sde.drift_coeff(t) * dim as f64;
        let integrand = matching.squeeze_dim(1) * (0.5 * z_norm) - divergence * z_norm;
        let (x_end, _) = self
            .sde
            .sample_marginal(x_rep.clone(), time_like(t_end, &x_rep), noise);
        let draws = (self.sde.prior_log_prob(x_end) - integrand).reshape([r, batch]);
        let value = draws.clone().mean_dim(0).squeeze_dim(0);
        ensure_finite("continuous-time ELBO", &value)?;
        let var = (draws - value.clone().unsqueeze_dim(0))
            .square()
            .sum_dim(0)
            .squeeze_dim(0)
            / (r - 1) as f64;
        Ok(Bound {
            value,
            std_error: (var / r as f64).sqrt(),
            nfe: 1,
        })
    }
}

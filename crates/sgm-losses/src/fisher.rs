use burn::prelude::*;
use sgm_core::tensor::to_f64;
use sgm_core::{NoiseSource, ScoreModel};
use sgm_sde::GaussianMarginals;

use crate::conditioning::perturb_uniform;
use crate::{LossError, Result};

/// A Monte Carlo estimate with its standard error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FisherDivergence {
    /// The estimate.
    pub mean: f64,
    /// Its standard error (sample standard deviation / sqrt(n)).
    pub std_error: f64,
}

/// The std^2-weighted Fisher divergence between a model and an exact score, per dimension,
///
/// ```text
/// F = E_{t ~ U[t_min, t_max]} E_{x ~ p_t} [ std(t)^2 |s(x, t) - grad log p_t(x)|^2 ] / d,
/// ```
///
/// estimated with one t and one x_t per row of `x0` (data samples), perturbed through
/// `marginals`. The std^2 weight makes every time's term dimensionless, so F compares across
/// noise levels; F = 0 for the exact score, and F = 1 for a model that is off by one standard
/// deviation of the noise everywhere.
///
/// # Errors
/// [`LossError::Core`](crate::LossError::Core) (`CoreError::InvalidParameter`) for a bad time range;
/// [`LossError::Core`](crate::LossError::Core) if the model's or the exact score's output does
/// not match `x0`; [`LossError::NonFinite`](crate::LossError::NonFinite) if either is NaN or
/// infinite somewhere.
pub fn fisher_divergence<M, T, K>(
    model: &M,
    exact: &T,
    marginals: &K,
    x0: Tensor<2>,
    t_min: f64,
    t_max: f64,
    noise: &mut dyn NoiseSource,
) -> Result<FisherDivergence>
where
    M: ScoreModel + ?Sized,
    T: ScoreModel + ?Sized,
    K: GaussianMarginals + ?Sized,
{
    let d = x0.dims()[1];
    crate::error::time_range(t_min, t_max)?;
    let c = perturb_uniform(marginals, x0, t_min, t_max, noise);
    let s = model.checked_score(c.x.clone(), c.t.clone())?;
    let target = exact.score(c.x.clone(), c.t);
    sgm_core::tensor::check_same_shape("exact score", &c.x, &target)?;
    let weight = c.weight.expect("perturbed conditioning has weights");
    let per_sample = to_f64((s - target).square().sum_dim(1).squeeze_dim(1) * weight / d as f64);
    estimate(&per_sample)
}

/// Mean and standard error of per-sample values, or `NonFinite`.
fn estimate(per_sample: &[f64]) -> Result<FisherDivergence> {
    let n = per_sample.len() as f64;
    let mean = per_sample.iter().sum::<f64>() / n;
    if !mean.is_finite() {
        return Err(LossError::NonFinite {
            what: "Fisher divergence (model or exact score)",
        });
    }
    let var = per_sample.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    Ok(FisherDivergence {
        mean,
        std_error: (var / n).sqrt(),
    })
}

/// The Fisher divergence at one noise level as the classic material defines it (Hyvarinen,
/// JMLR 2005; Song & Ermon, NeurIPS 2019, eq. 1), unweighted and summed over coordinates:
///
/// ```text
/// F(t) = 1/2 E_{x ~ p_t} |s(x, t) - grad log p_t(x)|^2,
/// ```
///
/// estimated on x_t = m(t) x0 + std(t) z, one draw per row of `x0` (data samples), with the
/// exact perturbed score `exact` (for example a mixture's `perturbed(sde)` from `sgm-data`). At
/// t = 0 with marginals that are the identity there it is the data-level Fisher divergence.
///
/// # Errors
/// [`LossError::Core`](crate::LossError::Core) (`CoreError::InvalidParameter`) for a negative or
/// non-finite t; as [`fisher_divergence`] for shapes and non-finite scores.
pub fn fisher_divergence_at<M, T, K>(
    model: &M,
    exact: &T,
    marginals: &K,
    x0: Tensor<2>,
    t: f64,
    noise: &mut dyn NoiseSource,
) -> Result<FisherDivergence>
where
    M: ScoreModel + ?Sized,
    T: ScoreModel + ?Sized,
    K: GaussianMarginals + ?Sized,
{
    sgm_core::validate::non_negative("t", t)?;
    let tt = sgm_core::tensor::time_like(t, &x0);
    let (xt, _) = marginals.sample_marginal(x0, tt.clone(), noise);
    let s = model.checked_score(xt.clone(), tt.clone())?;
    let target = exact.score(xt.clone(), tt);
    sgm_core::tensor::check_same_shape("exact score", &xt, &target)?;
    estimate(&to_f64(
        (s - target).square().sum_dim(1).squeeze_dim::<1>(1) * 0.5,
    ))
}

/// [`fisher_divergence_at`] at each of `times` (a profile over noise levels: where along the
/// diffusion a model is wrong), each from its own draws of x_t.
///
/// # Errors
/// As [`fisher_divergence_at`], for the first time that fails.
pub fn fisher_profile<M, T, K>(
    model: &M,
    exact: &T,
    marginals: &K,
    x0: Tensor<2>,
    times: &[f64],
    noise: &mut dyn NoiseSource,
) -> Result<Vec<FisherDivergence>>
where
    M: ScoreModel + ?Sized,
    T: ScoreModel + ?Sized,
    K: GaussianMarginals + ?Sized,
{
    times
        .iter()
        .map(|&t| fisher_divergence_at(model, exact, marginals, x0.clone(), t, noise))
        .collect()
}

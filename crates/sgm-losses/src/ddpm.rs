use burn::prelude::*;
use sgm_core::tensor::{column, from_f64};
use sgm_core::{NoiseSource, NoiseSourceExt, ScoreModel};
use sgm_schedules::DiscreteBetas;

use crate::Result;

/// The simplified DDPM objective (Ho, Jain & Abbeel, NeurIPS 2020, eq. 14):
///
/// ```text
/// L_simple = E_i E_x0 E_eps |eps - eps-hat(x_i, i)|^2,
/// x_i = sqrt(alpha-bar_i) x0 + sqrt(1 - alpha-bar_i) eps,  i ~ U{1, ..., N},
/// ```
///
/// for a score model read as a noise predictor, eps-hat = -sqrt(1 - alpha-bar_i) s(x_i, t_i)
/// with t_i = i / N; the term is |eps + sqrt(1 - alpha-bar_i) s|^2, the std^2-weighted DSM
/// objective of the discrete chain without its factor 1/2.
///
/// ```
/// use sgm_losses::DdpmEpsilonLoss;
/// use sgm_schedules::DiscreteBetas;
/// let loss = DdpmEpsilonLoss::new(DiscreteBetas::linear(1e-4, 0.02, 1000)?)?;
/// assert_eq!(loss.betas().len(), 1000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DdpmEpsilonLoss {
    betas: DiscreteBetas,
}

impl DdpmEpsilonLoss {
    /// L_simple for the chain with these betas.
    ///
    /// # Errors
    /// None today (its argument was validated when built); a `Result` like every other loss
    /// constructor, so that a check added later does not change the signature.
    pub fn new(betas: DiscreteBetas) -> Result<Self> {
        Ok(Self { betas })
    }

    /// The chain's betas.
    pub fn betas(&self) -> &DiscreteBetas {
        &self.betas
    }

    /// The loss on the batch `x0` (`[batch, dim]`), `[1]`.
    ///
    /// # Errors
    /// [`LossError::Core`](crate::LossError::Core) if the model output does not match `x0`.
    pub fn loss<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x0: Tensor<2>,
        noise: &mut dyn NoiseSource,
    ) -> Result<Tensor<1>> {
        let n = self.betas.len();
        let [batch, _] = x0.dims();
        let (device, dtype) = (x0.device(), x0.dtype());
        // Step i in 1..=N as an index 0..N into tables of steps 1..=N.
        let index = noise.uniform_indices(batch, n, &x0);
        let table = |f: &dyn Fn(usize) -> f64| {
            let values: Vec<f64> = (1..=n).map(f).collect();
            from_f64(&values, [n], &device, dtype).select(0, index.clone())
        };
        let mean = table(&|i| self.betas.alpha_bar(i).sqrt());
        let std = table(&|i| self.betas.one_minus_alpha_bar(i).sqrt());
        let t = table(&|i| self.betas.time(i));
        let eps = noise.normal_like(&x0);
        let xt = x0 * column(mean) + eps.clone() * column(std.clone());
        let s = model.checked_score(xt.clone(), t)?;
        Ok((eps + s * column(std)).square().sum_dim(1).mean())
    }
}

use burn::prelude::*;
use sgm_core::NoiseSource;
use sgm_core::tensor::time_like;
use sgm_samplers::{LangevinDynamics, NoObserver};

use crate::{EnergyModel, EnergyScore, MetropolisHastings, Result};

/// Where [`ContrastiveDivergence`] draws its negative samples: a few steps of an MCMC chain on
/// p = exp(-E) / Z, which needs no Z.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NegativeSampler {
    /// Unadjusted Langevin dynamics x' = x - (eps / 2) grad E + sqrt(eps) z on the score
    /// -grad E: one gradient of E per step, biased by O(eps).
    Langevin(LangevinDynamics),
    /// Random-walk Metropolis: one evaluation of E per step, and exp(-E) / Z exactly invariant.
    Metropolis(MetropolisHastings),
}

impl NegativeSampler {
    /// k, the chain steps per loss evaluation.
    pub fn steps(&self) -> usize {
        match self {
            Self::Langevin(langevin) => langevin.steps(),
            Self::Metropolis(mh) => mh.steps(),
        }
    }

    /// Runs the chain on `energy` from `x0`: (the final states, detached; energy evaluations).
    fn run<E: EnergyModel + ?Sized>(
        &self,
        energy: &E,
        x0: Tensor<2>,
        noise: &mut dyn NoiseSource,
    ) -> Result<(Tensor<2>, usize)> {
        let x0 = x0.detach();
        Ok(match self {
            Self::Langevin(langevin) => {
                let out = langevin.sample(&EnergyScore(energy), x0, 0.0, noise, &mut NoObserver)?;
                (out.x.detach(), out.nfe)
            }
            Self::Metropolis(mh) => {
                let out = mh.sample(energy, x0, 0.0, noise, &mut NoObserver)?;
                (out.x.detach(), out.nfe)
            }
        })
    }
}

/// What one [`ContrastiveDivergence::loss`] call returns.
#[derive(Debug, Clone)]
pub struct CdLoss {
    /// mean E(data) - mean E(negatives), `[1]`: its parameter gradient is the CD estimate of
    /// the negative log-likelihood's.
    pub loss: Tensor<1>,
    /// The negative samples (detached), `[chains, dim]`.
    pub negatives: Tensor<2>,
    /// Evaluations of E or grad E (batched calls) this call made: k for the chain (k + 1 for
    /// Metropolis, which evaluates the start) and 2 for the loss.
    pub nfe: usize,
}

/// Contrastive divergence (Hinton, Neural Computation 2002) and persistent contrastive
/// divergence (Tieleman, ICML 2008): maximum likelihood for p = exp(-E_theta) / Z(theta), whose
/// gradient
///
/// ```text
/// grad_theta E_data[-log p] = E_data[grad_theta E] - E_p_theta[grad_theta E]
/// ```
///
/// needs samples of the model itself. CD-k draws them by k MCMC steps started at the data batch;
/// PCD continues one set of chains from call to call (started at the first batch), which tracks
/// p_theta as theta moves slowly. The loss is mean E(x) - mean E(x_neg) with x_neg detached, so
/// one `backward` gives the estimate above.
///
/// Unlike score matching, CD pays k chain steps of E per parameter update, and its fixed point
/// is the maximum-likelihood one only as the chains mix (k large, or PCD with a small learning
/// rate).
///
/// ```
/// use sgm_energy::{ContrastiveDivergence, MetropolisHastings, NegativeSampler};
/// let cd = ContrastiveDivergence::new(NegativeSampler::Metropolis(MetropolisHastings::new(0.5, 10)?));
/// assert!(!cd.is_persistent());
/// let pcd = ContrastiveDivergence::persistent(NegativeSampler::Metropolis(MetropolisHastings::new(0.5, 1)?));
/// assert!(pcd.is_persistent() && pcd.chains().is_none()); // chains start at the first batch
/// # Ok::<(), sgm_energy::EnergyError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ContrastiveDivergence {
    sampler: NegativeSampler,
    persistent: bool,
    chains: Option<Tensor<2>>,
}

impl ContrastiveDivergence {
    /// CD-k: every call runs `sampler` (k = its steps) from the data batch.
    pub fn new(sampler: NegativeSampler) -> Self {
        Self {
            sampler,
            persistent: false,
            chains: None,
        }
    }

    /// Persistent CD: the chains start at the first data batch and every call continues them by
    /// `sampler`'s k steps.
    pub fn persistent(sampler: NegativeSampler) -> Self {
        Self {
            persistent: true,
            ..Self::new(sampler)
        }
    }

    /// Whether the chains persist across calls (PCD).
    pub fn is_persistent(&self) -> bool {
        self.persistent
    }

    /// The persistent chains' current states (`None` before the first call, and always for CD-k).
    pub fn chains(&self) -> Option<&Tensor<2>> {
        self.chains.as_ref()
    }

    /// The negative sampler.
    pub fn sampler(&self) -> &NegativeSampler {
        &self.sampler
    }

    /// The CD loss of `energy` on the data batch `x` (`[batch, dim]`, energy at t = 0).
    ///
    /// # Errors
    /// [`EnergyError::NonFinite`](crate::EnergyError::NonFinite) or
    /// [`EnergyError::Sampler`](crate::EnergyError::Sampler) when a chain diverges.
    pub fn loss<E: EnergyModel + ?Sized>(
        &mut self,
        energy: &E,
        x: Tensor<2>,
        noise: &mut dyn NoiseSource,
    ) -> Result<CdLoss> {
        let start = match (&self.chains, self.persistent) {
            (Some(chains), true) => chains.clone(),
            _ => x.clone(),
        };
        let (negatives, chain_nfe) = self.sampler.run(energy, start, noise)?;
        if self.persistent {
            self.chains = Some(negatives.clone());
        }
        let positive = energy.energy(x.clone(), time_like(0.0, &x)).mean();
        let negative = energy
            .energy(negatives.clone(), time_like(0.0, &negatives))
            .mean();
        Ok(CdLoss {
            loss: positive - negative,
            negatives,
            nfe: chain_nfe + 2,
        })
    }
}

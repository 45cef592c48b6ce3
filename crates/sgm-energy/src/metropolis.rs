use burn::prelude::*;
use burn::tensor::Bool;
use sgm_core::tensor::time_like;
use sgm_core::validate::{nonzero, positive};
use sgm_core::{NoiseSource, NoiseSourceExt, NonFiniteWatch};
use sgm_samplers::{Observer, StepInfo};

use crate::{EnergyError, EnergyModel, Result};

/// Random-walk Metropolis (Metropolis et al. 1953; Hastings 1970) on an energy: one chain per
/// row, each step proposes y = x + step_size z, z ~ N(0, I), and accepts with probability
/// min(1, exp(E(x) - E(y))), which leaves p = exp(-E) / Z invariant whatever Z is.
///
/// One energy evaluation per step (the current energy is carried along). The acceptance count
/// and the finiteness of the chains stay on the device and are read once at the end.
///
/// ```
/// use sgm_energy::MetropolisHastings;
/// assert!(MetropolisHastings::new(0.5, 100).is_ok());
/// assert!(MetropolisHastings::new(0.0, 100).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetropolisHastings {
    step_size: f64,
    steps: usize,
}

/// What [`MetropolisHastings::sample`] returns.
#[derive(Debug, Clone)]
pub struct MhOutput {
    /// The final states, `[chains, dim]`.
    pub x: Tensor<2>,
    /// Their energies, `[chains]`.
    pub energy: Tensor<1>,
    /// Accepted proposals over all proposals (chains x steps).
    pub acceptance_rate: f64,
    /// Energy evaluations (batched calls): steps + 1.
    pub nfe: usize,
}

/// The tempered energy U(x) = beta E(x) + (1 - beta) |x|^2 / (2 base_var) of annealed
/// importance sampling (beta = 1: E itself), from E(x).
pub(crate) fn tempered(e: Tensor<1>, x: &Tensor<2>, beta: f64, base_var: f64) -> Tensor<1> {
    if beta == 1.0 {
        return e;
    }
    let quad = x.clone().square().sum_dim(1).squeeze_dim(1) * ((1.0 - beta) / (2.0 * base_var));
    e * beta + quad
}

/// One random-walk Metropolis step on the tempered energy: (x', E(x'), accepted) with E the
/// untempered energy carried along.
pub(crate) fn mh_step<E: EnergyModel + ?Sized>(
    energy: &E,
    t: &Tensor<1>,
    (x, e_x): (Tensor<2>, Tensor<1>),
    (beta, base_var, step_size): (f64, f64, f64),
    noise: &mut dyn NoiseSource,
) -> (Tensor<2>, Tensor<1>, Tensor<1, Bool>) {
    let [batch, dim] = x.dims();
    let y = x.clone() + noise.normal_like(&x) * step_size;
    let e_y = energy.energy(y.clone(), t.clone());
    let delta =
        tempered(e_y.clone(), &y, beta, base_var) - tempered(e_x.clone(), &x, beta, base_var);
    let log_u = noise.uniform_like(batch, 0.0, 1.0, &x).log();
    // Accept iff log u < -(U(y) - U(x)); a NaN or +inf proposal energy is never accepted.
    let accept = log_u.lower(-delta);
    let accept_rows = accept.clone().unsqueeze_dim::<2>(1).repeat_dim(1, dim);
    (
        x.mask_where(accept_rows, y),
        e_x.mask_where(accept.clone(), e_y),
        accept,
    )
}

/// The fraction of `true` in the per-step acceptance flags summed on the device, one read.
pub(crate) fn acceptance_rate(accepted: Tensor<1>, proposals: usize) -> f64 {
    sgm_core::tensor::to_f64(accepted)[0] / proposals as f64
}

impl MetropolisHastings {
    /// `steps` proposals per chain of scale `step_size`.
    ///
    /// # Errors
    /// [`EnergyError::Core`]: `InvalidParameter` unless the step size is finite and > 0,
    /// `ZeroCount` for zero steps.
    pub fn new(step_size: f64, steps: usize) -> Result<Self> {
        Ok(Self {
            step_size: positive("step_size", step_size)?,
            steps: nonzero("steps", steps)?,
        })
    }

    /// The proposal scale.
    pub fn step_size(&self) -> f64 {
        self.step_size
    }

    /// Proposals per chain.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Runs one chain from each row of `x0` (`[chains, dim]`) on the energy at time `t`;
    /// `observer` sees every step.
    ///
    /// # Errors
    /// [`EnergyError::NonFinite`] naming the first step at which a state or its energy was not
    /// finite.
    pub fn sample<E: EnergyModel + ?Sized>(
        &self,
        energy: &E,
        x0: Tensor<2>,
        t: f64,
        noise: &mut dyn NoiseSource,
        observer: &mut dyn Observer,
    ) -> Result<MhOutput> {
        let [chains, _] = x0.dims();
        let tt = time_like(t, &x0);
        let mut e_x = energy.energy(x0.clone(), tt.clone());
        let mut x = x0;
        let mut watch = NonFiniteWatch::default();
        let mut accepted = Tensor::<1>::zeros([1], (&x.device(), x.dtype()));
        for step in 0..self.steps {
            let (x_new, e_new, accept) =
                mh_step(energy, &tt, (x, e_x), (1.0, 1.0, self.step_size), noise);
            (x, e_x) = (x_new, e_new);
            accepted = accepted + accept.float().cast(x.dtype()).sum();
            watch.record(
                &Tensor::cat(vec![x.clone(), e_x.clone().unsqueeze_dim(1)], 1),
                step,
                t,
            );
            observer.on_step(&StepInfo {
                step,
                steps: Some(self.steps),
                t,
                x: &x,
                nfe: step + 2,
            });
        }
        observer.on_finish();
        if let Some((step, _)) = watch.first_bad() {
            return Err(EnergyError::NonFinite { step });
        }
        Ok(MhOutput {
            x,
            energy: e_x,
            acceptance_rate: acceptance_rate(accepted, chains * self.steps),
            nfe: self.steps + 1,
        })
    }
}

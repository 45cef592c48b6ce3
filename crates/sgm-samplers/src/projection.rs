use burn::prelude::*;
use sgm_core::NoiseSource;

/// A map applied to the state of a [`PcSampler`](crate::PcSampler) after every step
/// ([`PcSampler::sample_projected`](crate::PcSampler::sample_projected)): the way score_sde
/// conditions its PC samplers (Song et al., ICLR 2021, App. I.2). [`Imputation`](crate::Imputation)
/// is one: it overwrites the observed coordinates with the forward-diffused observation.
pub trait StepProjection {
    /// The state `x` at time `t` (the start, and after each step), projected; `noise` for a
    /// projection that draws.
    fn project(&self, x: Tensor<2>, t: f64, noise: &mut dyn NoiseSource) -> Tensor<2>;

    /// The sample the sampler returns, projected onto the constraint itself (no noise).
    fn finish(&self, x: Tensor<2>) -> Tensor<2>;

    /// Checks that the start `x` fits the projection (the sampler calls this first, so a
    /// mismatch is a typed error instead of a panic in a later step). The default accepts all.
    ///
    /// # Errors
    /// [`CoreError::ShapeMismatch`](sgm_core::CoreError::ShapeMismatch) for a state the
    /// projection cannot take.
    fn check_state(&self, x: &Tensor<2>) -> sgm_core::Result<()> {
        let _ = x;
        Ok(())
    }
}

impl<P: StepProjection + ?Sized> StepProjection for &P {
    fn project(&self, x: Tensor<2>, t: f64, noise: &mut dyn NoiseSource) -> Tensor<2> {
        (**self).project(x, t, noise)
    }

    fn finish(&self, x: Tensor<2>) -> Tensor<2> {
        (**self).finish(x)
    }

    fn check_state(&self, x: &Tensor<2>) -> sgm_core::Result<()> {
        (**self).check_state(x)
    }
}

use burn::prelude::*;
use burn::tensor::DType;
use sgm_core::{NoiseSource, ScoreModel};
use sgm_sde::GaussianMarginals;

/// A distribution with closed-form log-density, score and score JVP under every Gaussian
/// perturbation x_t = m x0 + std z.
///
/// The perturbation is passed per sample as log m and std (`[batch]` each); m = 1, std = 0 is
/// the data distribution itself. [`ExactDensity::perturbed`] binds it to a
/// [`GaussianMarginals`] to get a [`ScoreModel`].
///
/// # Shapes
/// `x`, `v`: `[batch, dim]`; `log_m`, `std`: `[batch]`.
pub trait ExactDensity {
    /// The dimension d.
    fn dim(&self) -> usize;

    /// Draws `n` samples of the data distribution, `[n, dim]`.
    fn sample(
        &self,
        n: usize,
        device: &Device,
        dtype: DType,
        noise: &mut dyn NoiseSource,
    ) -> Tensor<2>;

    /// log p(x) of the perturbed distribution, `[batch]`.
    fn log_prob_perturbed(&self, x: Tensor<2>, log_m: Tensor<1>, std: Tensor<1>) -> Tensor<1>;

    /// grad_x log p(x) of the perturbed distribution and its Jacobian-vector product (the
    /// Hessian of log p times v), in closed form.
    fn score_jvp_perturbed(
        &self,
        x: Tensor<2>,
        log_m: Tensor<1>,
        std: Tensor<1>,
        v: Tensor<2>,
    ) -> (Tensor<2>, Tensor<2>);

    /// grad_x log p(x) of the perturbed distribution. Default: the first half of
    /// [`ExactDensity::score_jvp_perturbed`] with v = 0; implementations skip the JVP work.
    fn score_perturbed(&self, x: Tensor<2>, log_m: Tensor<1>, std: Tensor<1>) -> Tensor<2> {
        let v = x.zeros_like();
        self.score_jvp_perturbed(x, log_m, std, v).0
    }

    /// log p(x) of the data distribution, `[batch]`.
    fn log_prob(&self, x: Tensor<2>) -> Tensor<1> {
        let (log_m, std) = unperturbed(&x);
        self.log_prob_perturbed(x, log_m, std)
    }

    /// grad_x log p(x) of the data distribution.
    fn score(&self, x: Tensor<2>) -> Tensor<2> {
        let (log_m, std) = unperturbed(&x);
        self.score_perturbed(x, log_m, std)
    }

    /// The distribution perturbed by `marginals`, as a [`ScoreModel`] with exact JVP and a
    /// log-density at any time.
    fn perturbed<K>(&self, marginals: K) -> Perturbed<&Self, K>
    where
        Self: Sized,
        K: GaussianMarginals,
    {
        Perturbed::new(self, marginals)
    }
}

/// log m = 0 and std = 0 for every sample of `x`.
fn unperturbed(x: &Tensor<2>) -> (Tensor<1>, Tensor<1>) {
    let zeros = Tensor::<1>::zeros([x.dims()[0]], (&x.device(), x.dtype()));
    (zeros.clone(), zeros)
}

/// An [`ExactDensity`] perturbed by Gaussian kernels: the exact score
/// grad_x log p_t(x) as a [`ScoreModel`], with an exact JVP (Hessian-vector product, not finite
/// differences) and the exact log-density [`Perturbed::log_prob`].
#[derive(Debug, Clone, Copy)]
pub struct Perturbed<D, K> {
    density: D,
    marginals: K,
}

impl<D: ExactDensity, K: GaussianMarginals> Perturbed<D, K> {
    /// The exact score of `density` perturbed by `marginals`, owning both (pass references to
    /// borrow them, `Arc`s to share them).
    ///
    /// ```
    /// use sgm_data::{ExactDensity, GaussianMixture, Perturbed};
    /// use sgm_sde::VpSde;
    /// let oracle = Perturbed::new(GaussianMixture::ring8(), VpSde::default());
    /// assert_eq!(oracle.density().dim(), 2);
    /// ```
    pub fn new(density: D, marginals: K) -> Self {
        Self { density, marginals }
    }

    /// log p_t(x) per sample, `[batch]`, with per-sample times `t` (`[batch]`).
    pub fn log_prob(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<1> {
        let (log_m, std) = self.kernel(t);
        self.density.log_prob_perturbed(x, log_m, std)
    }

    /// The unperturbed distribution.
    pub fn density(&self) -> &D {
        &self.density
    }

    fn kernel(&self, t: Tensor<1>) -> (Tensor<1>, Tensor<1>) {
        (
            self.marginals.log_mean_coeff(t.clone()),
            self.marginals.std(t),
        )
    }
}

impl<D: ExactDensity, K: GaussianMarginals> ScoreModel for Perturbed<D, K> {
    fn score(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        let (log_m, std) = self.kernel(t);
        self.density.score_perturbed(x, log_m, std)
    }

    fn score_jvp(&self, x: Tensor<2>, t: Tensor<1>, v: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let (log_m, std) = self.kernel(t);
        self.density.score_jvp_perturbed(x, log_m, std, v)
    }
}

impl<T: ExactDensity + ?Sized> ExactDensity for &T {
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn sample(
        &self,
        n: usize,
        device: &Device,
        dtype: DType,
        noise: &mut dyn NoiseSource,
    ) -> Tensor<2> {
        (**self).sample(n, device, dtype, noise)
    }
    fn log_prob_perturbed(&self, x: Tensor<2>, log_m: Tensor<1>, std: Tensor<1>) -> Tensor<1> {
        (**self).log_prob_perturbed(x, log_m, std)
    }
    fn score_jvp_perturbed(
        &self,
        x: Tensor<2>,
        log_m: Tensor<1>,
        std: Tensor<1>,
        v: Tensor<2>,
    ) -> (Tensor<2>, Tensor<2>) {
        (**self).score_jvp_perturbed(x, log_m, std, v)
    }
    fn score_perturbed(&self, x: Tensor<2>, log_m: Tensor<1>, std: Tensor<1>) -> Tensor<2> {
        (**self).score_perturbed(x, log_m, std)
    }
}

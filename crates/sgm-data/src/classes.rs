//! A Gaussian mixture whose components are classes: the exact class-conditional score and the
//! exact noisy classifier, for testing conditional generation against closed forms.

use burn::prelude::*;
use sgm_core::{ConditionalScoreModel, NoisyClassifier};
use sgm_sde::GaussianMarginals;

use crate::{ExactDensity, GaussianMixture};

/// A [`GaussianMixture`] perturbed by `marginals`, with component k as class k. Everything is
/// closed form (Song et al., ICLR 2021, App. I): the class-conditional perturbed density is the
/// component's, N(m mu_k, v_k I), so
///
/// ```text
/// s(x, t, k)              = a_k(x) = -(x - m mu_k) / v_k,       v_k = m^2 s_k^2 + std^2,
/// p_t(k | x)              = r_k(x) (the responsibility),
/// grad_x log p_t(k | x)   = a_k(x) - s(x, t)                    (s the mixture's score).
/// ```
///
/// Condition rows y are one-hot `[batch, K]` ([`sgm_core::one_hot`]); for other rows the
/// formulas above are applied linearly in y (sum_k y_k a_k), which is not the score of a
/// density.
///
/// ```
/// use burn::prelude::*;
/// use burn::tensor::DType;
/// use sgm_core::{ConditionalScoreModel, one_hot};
/// use sgm_data::{GaussianMixture, MixtureClasses};
/// use sgm_sde::VpSde;
/// let classes = MixtureClasses::new(GaussianMixture::ring8(), VpSde::default());
/// let device = Device::flex();
/// let x = Tensor::<2>::zeros([1, 2], (&device, DType::F64));
/// let t = Tensor::<1>::full([1], 0.5, (&device, DType::F64));
/// let s = classes.conditional_score(x, t, Some(one_hot(&[0], 8, &device, DType::F64)?));
/// let v: Vec<f64> = s.into_data().try_to_vec().unwrap();
/// assert!(v[0] > 0.0 && v[1].abs() < 1e-12); // towards mode 0 at angle 0
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct MixtureClasses<K> {
    mixture: GaussianMixture,
    marginals: K,
}

impl<K: GaussianMarginals> MixtureClasses<K> {
    /// The classes of `mixture` under `marginals`.
    pub fn new(mixture: GaussianMixture, marginals: K) -> Self {
        Self { mixture, marginals }
    }

    /// The mixture.
    pub fn mixture(&self) -> &GaussianMixture {
        &self.mixture
    }

    /// (class-weighted component score, mixture score).
    fn scores(&self, x: Tensor<2>, t: Tensor<1>, y: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let log_m = self.marginals.log_mean_coeff(t.clone());
        let std = self.marginals.std(t);
        self.mixture
            .class_and_mixture_scores_perturbed(x, log_m, std, y)
    }
}

impl<K: GaussianMarginals> ConditionalScoreModel for MixtureClasses<K> {
    fn conditional_score(&self, x: Tensor<2>, t: Tensor<1>, y: Option<Tensor<2>>) -> Tensor<2> {
        match y {
            Some(y) => self.scores(x, t, y).0,
            None => {
                let log_m = self.marginals.log_mean_coeff(t.clone());
                let std = self.marginals.std(t);
                self.mixture.score_perturbed(x, log_m, std)
            }
        }
    }

    /// One column per component.
    fn condition_dim(&self) -> Option<usize> {
        Some(self.mixture.means().len())
    }
}

impl<K: GaussianMarginals> NoisyClassifier for MixtureClasses<K> {
    /// sum_k y_k a_k - (sum_k y_k) s: a_k - s for one-hot rows.
    fn log_prob_grad(&self, x: Tensor<2>, t: Tensor<1>, y: Tensor<2>) -> Tensor<2> {
        let mass = y.clone().sum_dim(1);
        let (class, mixture) = self.scores(x, t, y);
        class - mixture * mass
    }
}

use burn::prelude::*;

/// A map from samples to the features a metric compares, `[n, d]` -> `[n, k]`: the identity for
/// low-dimensional data, a trained classifier's penultimate layer for images (as Inception's is
/// for FID).
pub trait FeatureMap {
    /// The features of `x`, `[n, k]`.
    fn features(&self, x: Tensor<2>) -> Tensor<2>;
}

impl<F: FeatureMap + ?Sized> FeatureMap for &F {
    fn features(&self, x: Tensor<2>) -> Tensor<2> {
        (**self).features(x)
    }
}

impl<F: FeatureMap + ?Sized> FeatureMap for Box<F> {
    fn features(&self, x: Tensor<2>) -> Tensor<2> {
        (**self).features(x)
    }
}

impl<F: FeatureMap + ?Sized> FeatureMap for std::sync::Arc<F> {
    fn features(&self, x: Tensor<2>) -> Tensor<2> {
        (**self).features(x)
    }
}

/// The samples themselves as features.
///
/// ```
/// use burn::prelude::*;
/// use sgm_metrics::{FeatureMap, IdentityFeatures};
/// let x = Tensor::<2>::ones([3, 2], &Device::flex());
/// assert_eq!(IdentityFeatures.features(x).dims(), [3, 2]);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct IdentityFeatures;

impl FeatureMap for IdentityFeatures {
    fn features(&self, x: Tensor<2>) -> Tensor<2> {
        x
    }
}

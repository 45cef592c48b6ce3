//! Sample-quality metrics for `sgm`: how far generated samples are from data.
//!
//! | item | what | reference |
//! |---|---|---|
//! | [`frechet_distance`], [`FrechetDistance`] | squared 2-Wasserstein distance between Gaussian fits of features (FID when the features are Inception's) | Frechet 1957; Dowson & Landau 1982; Heusel et al., NeurIPS 2017 |
//! | [`mmd_squared`] | unbiased squared maximum mean discrepancy with a Gaussian kernel | Gretton et al., JMLR 2012 |
//! | [`FeatureClassifier`] | an MLP classifier trained on labelled data: its penultimate layer as the features of a classifier-based Frechet distance, its accuracy on class-conditional samples | the "FID with a domain classifier" of small-image work (e.g. Song & Ermon 2019 on MNIST) |
//! | [`energy_distance`] | unbiased energy distance 2 E\|X - Y\| - E\|X - X'\| - E\|Y - Y'\| | Szekely & Rizzo 2004 |
//!
//! Features come from a [`FeatureMap`] (the identity for low-dimensional data, a classifier's
//! penultimate layer for images). Sample inputs are `[n, d]` tensors; each metric reads its
//! result to the host once.

mod classifier;
mod discrepancy;
mod error;
mod feature;
mod frechet;

pub use classifier::{ClassifierConfig, FeatureClassifier};
pub use discrepancy::{GaussianKernel, energy_distance, mmd_squared};
pub use error::{MetricError, Result};
pub use feature::{FeatureMap, IdentityFeatures};
pub use frechet::{FrechetDistance, GaussianFit, frechet_distance};

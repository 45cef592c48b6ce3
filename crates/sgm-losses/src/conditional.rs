//! Conditional denoising score matching with label dropout (classifier-free guidance training).

use burn::prelude::*;
use sgm_core::tensor::column;
use sgm_core::{ConditionalScoreModel, Conditioned, NoiseSource, NoiseSourceExt};
use sgm_sde::LinearSde;

use crate::{ContinuousDsm, LossError, Result};

/// Continuous-time DSM of a conditional model s(x, t, y) on labelled data, with label dropout:
///
/// ```text
/// L = E_t E_(x0, y) E_b E_z [ lambda(t) 1/2 |s(x_t, t, b y) + z / std(t)|^2 ],   b ~ Bernoulli(1 - p),
/// ```
///
/// the objective of [`ContinuousDsm`] with the label of each sample replaced, with probability
/// p, by the null condition (a zero row). Its minimiser is the class-conditional score
/// grad log p_t(x | y) for kept labels and the unconditional score grad log p_t(x) for the null
/// condition, so one network serves conditional sampling and classifier-free guidance
/// ([`sgm_core::ClassifierFreeGuidance`]; Ho & Salimans 2022, who use p = 0.1 to 0.2). p = 0
/// is plain conditional DSM.
///
/// ```
/// use sgm_losses::{ConditionalDsm, ContinuousDsm, Weighting};
/// use sgm_sde::VpSde;
/// let dsm = ContinuousDsm::new(VpSde::default(), Weighting::StdSquared, 1e-5)?;
/// assert!(ConditionalDsm::new(dsm, 0.2).is_ok());
/// assert!(ConditionalDsm::new(dsm, 1.0).is_err());
/// # Ok::<(), sgm_losses::LossError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ConditionalDsm<S> {
    dsm: ContinuousDsm<S>,
    label_dropout: f64,
}

impl<S: LinearSde> ConditionalDsm<S> {
    /// `dsm` on conditional models, each label dropped with probability `label_dropout`.
    ///
    /// # Errors
    /// [`LossError::Core`] (`CoreError::InvalidParameter`) unless 0 <= `label_dropout` < 1.
    pub fn new(dsm: ContinuousDsm<S>, label_dropout: f64) -> Result<Self> {
        sgm_core::validate::require(
            (0.0..1.0).contains(&label_dropout),
            "label dropout",
            label_dropout,
            "in [0, 1)",
        )?;
        Ok(Self { dsm, label_dropout })
    }

    /// The dropout probability p.
    pub fn label_dropout(&self) -> f64 {
        self.label_dropout
    }

    /// `y` (`[batch, c]`) with each row replaced by zeros with probability p, one uniform draw
    /// per row from `noise`.
    pub fn drop_labels(&self, y: Tensor<2>, noise: &mut dyn NoiseSource) -> Tensor<2> {
        if self.label_dropout == 0.0 {
            return y;
        }
        let u = noise.uniform_like(y.dims()[0], 0.0, 1.0, &y);
        let keep = u
            .greater_equal_elem(self.label_dropout)
            .float()
            .cast(y.dtype());
        y * column(keep)
    }

    /// The loss on the batch `x0` (`[batch, dim]`) with labels `y` (`[batch, c]`), `[1]`.
    ///
    /// # Errors
    /// [`LossError::Core`]: `CoreError::ShapeMismatch` unless `y` has one row per sample (and
    /// the model's condition width, when the model reports one), or if the model output does
    /// not match `x0`.
    pub fn loss<M: ConditionalScoreModel + ?Sized>(
        &self,
        model: &M,
        x0: Tensor<2>,
        y: Tensor<2>,
        noise: &mut dyn NoiseSource,
    ) -> Result<Tensor<1>> {
        let (batch, rows) = (x0.dims()[0], y.dims()[0]);
        if rows != batch {
            return Err(LossError::from(sgm_core::CoreError::ShapeMismatch {
                what: "labels y ([batch, c], one row per sample)",
                expected: vec![batch, y.dims()[1]],
                found: y.dims().to_vec(),
            }));
        }
        let y = self.drop_labels(y, noise);
        self.dsm.loss(&Conditioned::new(model, y)?, x0, noise)
    }
}

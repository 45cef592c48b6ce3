//! Conditional score models and the ways to turn them into ordinary score models: a fixed
//! label, classifier guidance and classifier-free guidance (Song et al., ICLR 2021, sec. 5 and
//! App. I; Dhariwal & Nichol 2021; Ho & Salimans 2022).

use burn::prelude::*;
use burn::tensor::DType;

use crate::{CoreError, Result, ScoreModel};

/// A conditional score model s(x, t, y) ~ grad_x log p_t(x | y).
///
/// The condition y is a `[batch, c]` tensor, one row per sample: a one-hot class
/// ([`one_hot`]) or any feature vector. `None` asks for the unconditional score
/// grad_x log p_t(x) (a network trained with label dropout answers both).
/// [`Conditioned`] fixes y and gives an ordinary [`ScoreModel`] that every sampler takes.
///
/// The null condition: label dropout (`sgm_losses::ConditionalDsm`) marks a dropped label by
/// a zero row of y, so a network trained that way answers a zero row with the unconditional
/// score; `sgm_nn::ScoreMlp` takes `None` as zero rows (its label embedding is linear without
/// bias), which is what classifier-free guidance needs.
pub trait ConditionalScoreModel {
    /// Evaluates s(x, t, y), or s(x, t) for `y = None`. `x`: `[batch, dim]`, `t`: `[batch]`,
    /// `y`: `[batch, c]`; returns `[batch, dim]`.
    fn conditional_score(&self, x: Tensor<2>, t: Tensor<1>, y: Option<Tensor<2>>) -> Tensor<2>;

    /// The width c of the condition rows the model takes, when it knows it: [`Conditioned`] and
    /// [`ClassifierFreeGuidance`] then reject a condition of another width with a typed error
    /// instead of a panic inside the model. `None` (the default): not checked.
    fn condition_dim(&self) -> Option<usize> {
        None
    }
}

macro_rules! forward_conditional {
    ($($ptr:ty),*) => {$(
        impl<T: ConditionalScoreModel + ?Sized> ConditionalScoreModel for $ptr {
            fn conditional_score(&self, x: Tensor<2>, t: Tensor<1>, y: Option<Tensor<2>>) -> Tensor<2> {
                (**self).conditional_score(x, t, y)
            }

            fn condition_dim(&self) -> Option<usize> {
                (**self).condition_dim()
            }
        }
    )*};
}

forward_conditional!(&T, Box<T>, std::sync::Arc<T>);

/// One-hot rows `[labels.len(), classes]` for class indices.
///
/// ```
/// use burn::prelude::*;
/// use burn::tensor::DType;
/// let y = sgm_core::one_hot(&[2, 0], 3, &Device::flex(), DType::F32)?;
/// let v: Vec<f32> = y.into_data().try_to_vec().unwrap();
/// assert_eq!(v, vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
/// assert!(sgm_core::one_hot(&[3], 3, &Device::flex(), DType::F32).is_err());
/// # Ok::<(), sgm_core::CoreError>(())
/// ```
///
/// # Errors
/// [`CoreError::InvalidParameter`] for a label >= classes; [`CoreError::ZeroCount`] for no
/// classes.
pub fn one_hot(
    labels: &[usize],
    classes: usize,
    device: &Device,
    dtype: DType,
) -> Result<Tensor<2>> {
    crate::validate::nonzero("classes", classes)?;
    if let Some(&bad) = labels.iter().find(|&&k| k >= classes) {
        return Err(crate::validate::invalid(
            "class label",
            bad as f64,
            "below the number of classes",
        ));
    }
    let mut values = vec![0.0; labels.len() * classes];
    for (row, &k) in labels.iter().enumerate() {
        values[row * classes + k] = 1.0;
    }
    Ok(crate::tensor::from_f64(
        &values,
        [labels.len(), classes],
        device,
        dtype,
    ))
}

/// The condition rows for a batch of `batch`: a single row repeated, else `y` itself.
fn rows_for(y: &Tensor<2>, batch: usize) -> Tensor<2> {
    if y.dims()[0] == 1 && batch != 1 {
        y.clone().repeat_dim(0, batch)
    } else {
        y.clone()
    }
}

/// A condition must have at least one row and one column (one row, or one per sample: the
/// batch is known only at the call), and `width` columns when the model knows its width.
fn check_condition(y: &Tensor<2>, width: Option<usize>) -> Result<()> {
    let [rows, cols] = y.dims();
    if rows == 0 || cols == 0 || width.is_some_and(|c| c != cols) {
        return Err(CoreError::ShapeMismatch {
            what: "condition y ([rows, c], rows = 1 or the batch, c = the model's condition width)",
            expected: vec![rows.max(1), width.unwrap_or(cols.max(1))],
            found: vec![rows, cols],
        });
    }
    Ok(())
}

/// A conditional model with its condition fixed: s(x, t) = s(x, t, y). `y` is one row (the
/// same condition for the whole batch) or one row per sample.
///
/// ```
/// use burn::prelude::*;
/// use burn::tensor::DType;
/// use sgm_core::{ConditionalScoreModel, Conditioned, ScoreModel, one_hot};
/// /// s(x, t, y) = y - x: class k pulls towards the k-th unit vector.
/// struct Toward;
/// impl ConditionalScoreModel for Toward {
///     fn conditional_score(&self, x: Tensor<2>, _t: Tensor<1>, y: Option<Tensor<2>>) -> Tensor<2> {
///         y.map_or(-x.clone(), |y| y - x)
///     }
/// }
/// let device = Device::flex();
/// let model = Conditioned::new(Toward, one_hot(&[1], 2, &device, DType::F32)?)?;
/// let s: Vec<f32> = model.score(Tensor::zeros([3, 2], &device), Tensor::zeros([3], &device))
///     .into_data().try_to_vec().unwrap();
/// assert_eq!(s, vec![0.0, 1.0, 0.0, 1.0, 0.0, 1.0]);
/// # Ok::<(), sgm_core::CoreError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Conditioned<M> {
    model: M,
    y: Tensor<2>,
}

impl<M: ConditionalScoreModel> Conditioned<M> {
    /// `model` with the condition `y` (`[1, c]` or `[batch, c]`).
    ///
    /// # Errors
    /// [`CoreError::ShapeMismatch`] for an empty condition, or one whose width is not the
    /// model's [`ConditionalScoreModel::condition_dim`].
    pub fn new(model: M, y: Tensor<2>) -> Result<Self> {
        check_condition(&y, model.condition_dim())?;
        Ok(Self { model, y })
    }
}

impl<M: ConditionalScoreModel> ScoreModel for Conditioned<M> {
    fn score(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        let y = rows_for(&self.y, x.dims()[0]);
        self.model.conditional_score(x, t, Some(y))
    }
}

/// The unconditional score of a conditional model, s(x, t) = s(x, t, None).
#[derive(Debug, Clone)]
pub struct Unconditional<M>(pub M);

impl<M: ConditionalScoreModel> ScoreModel for Unconditional<M> {
    fn score(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        self.0.conditional_score(x, t, None)
    }
}

/// Classifier-free guidance (Ho & Salimans 2022): with guidance weight w >= 0,
///
/// ```text
/// s_w(x, t) = (1 + w) s(x, t, y) - w s(x, t),
/// ```
///
/// the score of p_t(x | y)^(1 + w) / p_t(x)^w ∝ p_t(x) p_t(y | x)^(1 + w) when both scores
/// are exact. w = 0 is conditional sampling (one evaluation; the unconditional score is not
/// computed), w > 0 sharpens the class. Two evaluations of the network per score for w > 0.
///
/// ```
/// use burn::prelude::*;
/// use burn::tensor::DType;
/// use sgm_core::{ClassifierFreeGuidance, ConditionalScoreModel, ScoreModel, one_hot};
/// struct Toward;
/// impl ConditionalScoreModel for Toward {
///     fn conditional_score(&self, x: Tensor<2>, _t: Tensor<1>, y: Option<Tensor<2>>) -> Tensor<2> {
///         y.map_or(-x.clone(), |y| y - x)
///     }
/// }
/// let device = Device::flex();
/// let cfg = ClassifierFreeGuidance::new(Toward, one_hot(&[0], 2, &device, DType::F32)?, 2.0)?;
/// let s: Vec<f32> = cfg.score(Tensor::zeros([1, 2], &device), Tensor::zeros([1], &device))
///     .into_data().try_to_vec().unwrap();
/// assert_eq!(s, vec![3.0, 0.0]); // 3 (y - x) - 2 (-x) at x = 0
/// assert!(ClassifierFreeGuidance::new(Toward, one_hot(&[0], 2, &device, DType::F32)?, -1.0).is_err());
/// # Ok::<(), sgm_core::CoreError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ClassifierFreeGuidance<M> {
    conditioned: Conditioned<M>,
    weight: f64,
}

impl<M: ConditionalScoreModel> ClassifierFreeGuidance<M> {
    /// Guidance of `model` towards `y` (`[1, c]` or `[batch, c]`) with weight `weight`.
    ///
    /// # Errors
    /// [`CoreError::InvalidParameter`] unless the weight is finite and >= 0;
    /// [`CoreError::ShapeMismatch`] for an empty condition or one of the wrong width.
    pub fn new(model: M, y: Tensor<2>, weight: f64) -> Result<Self> {
        crate::validate::non_negative("guidance weight", weight)?;
        Ok(Self {
            conditioned: Conditioned::new(model, y)?,
            weight,
        })
    }
}

impl<M: ConditionalScoreModel> ScoreModel for ClassifierFreeGuidance<M> {
    fn score(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        let conditional = self.conditioned.score(x.clone(), t.clone());
        if self.weight == 0.0 {
            return conditional;
        }
        let unconditional = self.conditioned.model.conditional_score(x, t, None);
        conditional * (1.0 + self.weight) - unconditional * self.weight
    }
}

/// A time-dependent classifier p_t(y | x) on noisy samples, through the gradient its guidance
/// needs: grad_x log p_t(y | x) for condition rows y (one-hot classes: sum_k y_k
/// grad_x log p_t(k | x)).
pub trait NoisyClassifier {
    /// grad_x log p_t(y | x), `[batch, dim]`; `y`: `[batch, c]`.
    fn log_prob_grad(&self, x: Tensor<2>, t: Tensor<1>, y: Tensor<2>) -> Tensor<2>;
}

macro_rules! forward_classifier {
    ($($ptr:ty),*) => {$(
        impl<T: NoisyClassifier + ?Sized> NoisyClassifier for $ptr {
            fn log_prob_grad(&self, x: Tensor<2>, t: Tensor<1>, y: Tensor<2>) -> Tensor<2> {
                (**self).log_prob_grad(x, t, y)
            }
        }
    )*};
}

forward_classifier!(&T, Box<T>, std::sync::Arc<T>);

/// Classifier guidance (Song et al., ICLR 2021, sec. 5 and eq. 48; Dhariwal & Nichol 2021):
///
/// ```text
/// s_w(x, t) = s(x, t) + w grad_x log p_t(y | x),
/// ```
///
/// the score of p_t(x) p_t(y | x)^w / Z. w = 1 with the exact score and classifier is the exact
/// conditional score grad_x log p_t(x | y) (Bayes).
#[derive(Debug, Clone)]
pub struct ClassifierGuidance<M, C> {
    model: M,
    classifier: C,
    y: Tensor<2>,
    weight: f64,
}

impl<M: ScoreModel, C: NoisyClassifier> ClassifierGuidance<M, C> {
    /// `model` guided by `classifier` towards `y` (`[1, c]` or `[batch, c]`) with weight
    /// `weight`.
    ///
    /// # Errors
    /// [`CoreError::InvalidParameter`] unless the weight is finite and >= 0;
    /// [`CoreError::ShapeMismatch`] for an empty condition.
    pub fn new(model: M, classifier: C, y: Tensor<2>, weight: f64) -> Result<Self> {
        crate::validate::non_negative("guidance weight", weight)?;
        check_condition(&y, None)?;
        Ok(Self {
            model,
            classifier,
            y,
            weight,
        })
    }
}

impl<M: ScoreModel, C: NoisyClassifier> ScoreModel for ClassifierGuidance<M, C> {
    fn score(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        let y = rows_for(&self.y, x.dims()[0]);
        let score = self.model.score(x.clone(), t.clone());
        score + self.classifier.log_prob_grad(x, t, y) * self.weight
    }
}

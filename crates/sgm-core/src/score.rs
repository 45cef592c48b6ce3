use std::sync::atomic::{AtomicUsize, Ordering};

use burn::prelude::*;
use burn::tensor::DType;

use crate::Result;
use crate::tensor::{check_same_shape, check_times};

/// A score model s_theta(x, t) ~ grad_x log p_t(x), the (Stein) score of the data distribution
/// perturbed to time t.
///
/// Everything in `sgm` that needs a score takes a `ScoreModel`: samplers, losses, likelihood.
/// A closure `Fn(Tensor<2>, Tensor<1>) -> Tensor<2>` becomes one through [`score_fn`], so an
/// analytic score is one line:
///
/// ```
/// use burn::prelude::*;
/// use sgm_core::{ScoreModel, score_fn};
///
/// // Score of N(0, I) at every t: s(x, t) = -x.
/// let standard_normal = score_fn(|x: Tensor<2>, _t| -x);
/// let device = Device::flex();
/// let x = Tensor::<2>::from_data([[1.0, -2.0]], &device);
/// let t = Tensor::<1>::from_data([0.5], &device);
/// let s: Vec<f32> = standard_normal.score(x, t).into_data().try_to_vec().unwrap();
/// assert_eq!(s, vec![-1.0, 2.0]);
/// ```
///
/// Algorithms take the model at the call as `&M` with `M: ScoreModel + ?Sized`, so one
/// configured sampler runs any model (`&dyn ScoreModel` too). `&T`, `Box<T>` and `Arc<T>` of a
/// score model are score models, so a wrapper that owns its model (the probability-flow ODE, a
/// parameterised network) can be given a reference or a shared pointer instead.
///
/// # Shapes
/// - `x`: `[batch, dim]`; `t`: `[batch]` (one time per sample); returns `[batch, dim]`.
pub trait ScoreModel {
    /// Evaluates s(x, t).
    fn score(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2>;

    /// Evaluates the score and its Jacobian-vector product (s(x, t), J_x s(x, t) v), one
    /// direction `v` per sample.
    ///
    /// Implicit and sliced score matching and the divergence of the probability-flow ODE need
    /// J v. burn 0.22 has no forward mode and no double backward, so models provide it
    /// themselves: the networks of `sgm-nn` and the exact oracles of `sgm-data` override this
    /// with an exact tangent computation that stays differentiable in the parameters. The
    /// default is [`finite_difference_jvp`] (FD-SSM, Pang et al., NeurIPS 2020), one call of
    /// [`ScoreModel::score`] on a batch three times as large.
    ///
    /// # Shapes
    /// - `x`, `v`: `[batch, dim]`; `t`: `[batch]`; returns two `[batch, dim]` tensors.
    fn score_jvp(&self, x: Tensor<2>, t: Tensor<1>, v: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        finite_difference_jvp(self, x, t, v)
    }

    /// [`ScoreModel::score`] with its shape contract checked: `t` must be `[batch]` and the
    /// output `[batch, dim]` like `x` (a shape check reads no data, so it costs nothing on any
    /// device). Samplers and likelihood computations call this, so a model of the wrong shape
    /// gives a typed error instead of a panic inside burn.
    ///
    /// # Errors
    /// [`CoreError::ShapeMismatch`](crate::CoreError::ShapeMismatch) naming the offending shapes.
    fn checked_score(&self, x: Tensor<2>, t: Tensor<1>) -> Result<Tensor<2>> {
        check_times("score model times", &x, &t)?;
        let s = self.score(x.clone(), t);
        check_same_shape("score model output", &x, &s)?;
        Ok(s)
    }

    /// [`ScoreModel::score_jvp`] with its shape contract checked (as
    /// [`ScoreModel::checked_score`], and `v` like `x`).
    ///
    /// # Errors
    /// [`CoreError::ShapeMismatch`](crate::CoreError::ShapeMismatch) naming the offending shapes.
    fn checked_score_jvp(
        &self,
        x: Tensor<2>,
        t: Tensor<1>,
        v: Tensor<2>,
    ) -> Result<(Tensor<2>, Tensor<2>)> {
        check_times("score model times", &x, &t)?;
        check_same_shape("JVP direction", &x, &v)?;
        let (s, jv) = self.score_jvp(x.clone(), t, v);
        check_same_shape("score model output", &x, &s)?;
        check_same_shape("score model JVP", &x, &jv)?;
        Ok((s, jv))
    }
}

/// A closure `Fn(x, t) -> s` as a [`ScoreModel`] (with the finite-difference JVP); see
/// [`score_fn`]. A newtype rather than a blanket impl on closures, so that `&T`, `Box<T>` and
/// `Arc<T>` of any score model are score models too (the two blanket impls would overlap).
#[derive(Debug, Clone, Copy, Default)]
pub struct ScoreFn<F>(pub F);

/// Wraps a closure `|x: Tensor<2>, t: Tensor<1>| -> Tensor<2>` as a [`ScoreModel`].
///
/// ```
/// use burn::prelude::*;
/// use sgm_core::{ScoreModel, score_fn};
/// let model = score_fn(|x: Tensor<2>, _t| x * 2.0);
/// let x = Tensor::<2>::ones([1, 2], &Device::flex());
/// let s: Vec<f32> = model.score(x.clone(), sgm_core::tensor::time_like(0.0, &x)).into_data().to_vec().unwrap();
/// assert_eq!(s, vec![2.0, 2.0]);
/// ```
pub fn score_fn<F>(f: F) -> ScoreFn<F>
where
    F: Fn(Tensor<2>, Tensor<1>) -> Tensor<2>,
{
    ScoreFn(f)
}

impl<F> ScoreModel for ScoreFn<F>
where
    F: Fn(Tensor<2>, Tensor<1>) -> Tensor<2>,
{
    fn score(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        (self.0)(x, t)
    }
}

macro_rules! forward_score_model {
    ($($ptr:ty),*) => {$(
        impl<T: ScoreModel + ?Sized> ScoreModel for $ptr {
            fn score(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
                (**self).score(x, t)
            }
            fn score_jvp(&self, x: Tensor<2>, t: Tensor<1>, v: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
                (**self).score_jvp(x, t, v)
            }
        }
    )*};
}

forward_score_model!(&T, Box<T>, std::sync::Arc<T>);

/// Central finite-difference Jacobian-vector product of a score model.
///
/// For each sample, with u = v / |v| and a step h = c max(1, rms(x)),
///
/// ```text
/// J v ~ |v| (s(x + h u, t) - s(x - h u, t)) / (2 h)
/// ```
///
/// The truncation error is O(h^2 s''') and the round-off error O(eps |s| / h); their sum is
/// smallest near h = eps^(1/3), so c = 4.9e-3 in f32 and 6.1e-6 in f64 (cube roots of the
/// machine epsilons). The relative error is then about 1e-5 in f32 for smooth scores. The
/// score itself is evaluated exactly at x; all three evaluations go through one call of
/// [`ScoreModel::score`] on a `[3 batch, dim]` batch.
///
/// # Shapes
/// - `x`, `v`: `[batch, dim]`; `t`: `[batch]`; returns (s, J v), both `[batch, dim]`.
/// - If the model answers the `[3 batch, dim]` stack with another shape, both outputs are that
///   answer unchanged (`[3 batch + 1, dim]` for a model that adds a row), so that
///   [`ScoreModel::checked_score_jvp`] reports a shape mismatch instead of the rows being split
///   silently.
pub fn finite_difference_jvp<M: ScoreModel + ?Sized>(
    model: &M,
    x: Tensor<2>,
    t: Tensor<1>,
    v: Tensor<2>,
) -> (Tensor<2>, Tensor<2>) {
    let [batch, _] = x.dims();
    let (rel_step, tiny) = match x.dtype() {
        DType::F64 => (6.1e-6, 1e-300),
        _ => (4.9e-3, 1e-30),
    };
    let v_norm = v.clone().square().sum_dim(1).sqrt(); // [batch, 1]
    let h = x.clone().square().mean_dim(1).sqrt().clamp_min(1.0) * rel_step; // [batch, 1]
    let step = v / v_norm.clone().clamp_min(tiny) * h.clone();
    let xs = Tensor::cat(vec![x.clone(), x.clone() + step.clone(), x - step], 0);
    let ts = Tensor::cat(vec![t.clone(), t.clone(), t], 0);
    let stacked = model.score(xs.clone(), ts);
    if stacked.dims() != xs.dims() {
        // The model broke its shape contract: hand its output back unsplit, so that every
        // shape check downstream ([`ScoreModel::checked_score_jvp`], the quadratic forms of
        // `divergence`) reports it instead of silently dropping or mixing rows.
        return (stacked.clone(), stacked);
    }
    let s = stacked.clone().narrow(0, 0, batch);
    let s_plus = stacked.clone().narrow(0, batch, batch);
    let s_minus = stacked.narrow(0, 2 * batch, batch);
    let jvp = (s_plus - s_minus) * (v_norm / (h * 2.0));
    (s, jvp)
}

/// Wraps a [`ScoreModel`] and counts its evaluations, to check the number of function
/// evaluations (NFE) that samplers and solvers report.
///
/// One call of [`ScoreModel::score`] or [`ScoreModel::score_jvp`] counts as one evaluation,
/// whatever its batch size; [`CountingScoreModel::rows`] sums the batch sizes, so a caller that
/// batches several JVP directions into one call can be checked too.
///
/// ```
/// use burn::prelude::*;
/// use sgm_core::{CountingScoreModel, ScoreModel, score_fn};
///
/// let model = CountingScoreModel::new(score_fn(|x: Tensor<2>, _t| -x));
/// let device = Device::flex();
/// let x = Tensor::<2>::zeros([4, 2], &device);
/// let t = Tensor::<1>::zeros([4], &device);
/// let _ = model.score(x.clone(), t.clone());
/// let _ = model.score_jvp(x.clone(), t, x);
/// assert_eq!((model.score_calls(), model.jvp_calls(), model.rows()), (1, 1, 8));
/// ```
#[derive(Debug, Default)]
pub struct CountingScoreModel<M> {
    inner: M,
    score_calls: AtomicUsize,
    jvp_calls: AtomicUsize,
    rows: AtomicUsize,
}

impl<M: ScoreModel> CountingScoreModel<M> {
    /// Wraps `inner` with all counters at zero.
    pub fn new(inner: M) -> Self {
        Self {
            inner,
            score_calls: AtomicUsize::new(0),
            jvp_calls: AtomicUsize::new(0),
            rows: AtomicUsize::new(0),
        }
    }

    /// Calls of [`ScoreModel::score`] so far.
    pub fn score_calls(&self) -> usize {
        self.score_calls.load(Ordering::Relaxed)
    }

    /// Calls of [`ScoreModel::score_jvp`] so far.
    pub fn jvp_calls(&self) -> usize {
        self.jvp_calls.load(Ordering::Relaxed)
    }

    /// All evaluations: `score_calls() + jvp_calls()`.
    pub fn evaluations(&self) -> usize {
        self.score_calls() + self.jvp_calls()
    }

    /// Sum of the batch sizes of all calls.
    pub fn rows(&self) -> usize {
        self.rows.load(Ordering::Relaxed)
    }

    /// Sets every counter back to zero.
    pub fn reset(&self) {
        self.score_calls.store(0, Ordering::Relaxed);
        self.jvp_calls.store(0, Ordering::Relaxed);
        self.rows.store(0, Ordering::Relaxed);
    }

    /// The wrapped model.
    pub fn inner(&self) -> &M {
        &self.inner
    }
}

impl<M: ScoreModel> ScoreModel for CountingScoreModel<M> {
    fn score(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        self.score_calls.fetch_add(1, Ordering::Relaxed);
        self.rows.fetch_add(x.dims()[0], Ordering::Relaxed);
        self.inner.score(x, t)
    }

    fn score_jvp(&self, x: Tensor<2>, t: Tensor<1>, v: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        self.jvp_calls.fetch_add(1, Ordering::Relaxed);
        self.rows.fetch_add(x.dims()[0], Ordering::Relaxed);
        self.inner.score_jvp(x, t, v)
    }
}

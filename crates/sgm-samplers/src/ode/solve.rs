//! The ODE driver: [`solve_ode`] and the small steps it is made of.

use burn::prelude::*;
use sgm_core::VectorField;

use crate::output::StepEnd;
use crate::{
    Observer, Result, SampleOutput, SamplerError, StepDecision, StepSizeController, Tableau,
};

/// What [`solve_ode`] returns: a [`SampleOutput`] (state and NFE) with the step counts.
#[derive(Debug, Clone)]
pub struct OdeSolution {
    /// The state at the end time, `[batch, dim]`.
    pub x: Tensor<2>,
    /// Evaluations of the vector field (calls of [`VectorField::eval`]).
    pub nfe: usize,
    /// Accepted steps.
    pub accepted: usize,
    /// Rejected steps (adaptive control only).
    pub rejected: usize,
}

impl From<OdeSolution> for SampleOutput {
    /// The state and the NFE, as every sampler returns them.
    fn from(solution: OdeSolution) -> Self {
        SampleOutput {
            x: solution.x,
            nfe: solution.nfe,
        }
    }
}

/// Counts evaluations of a vector field.
struct Counted<'a, F: ?Sized> {
    field: &'a F,
    nfe: usize,
}

impl<F: VectorField + ?Sized> Counted<'_, F> {
    fn eval(&mut self, x: Tensor<2>, t: f64) -> Result<Tensor<2>> {
        self.nfe += 1;
        Ok(self.field.eval(x, t)?)
    }
}

/// One attempted Runge-Kutta step.
struct Attempt {
    /// The new state.
    x: Tensor<2>,
    /// F at the new state, when the tableau is first-same-as-last.
    last: Option<Tensor<2>>,
    /// The embedded error estimate, when the tableau has one.
    error: Option<Tensor<2>>,
}

/// One Runge-Kutta step of length `h` (signed) from (x, t) with k1 = F(x, t); the embedded
/// error estimate only when `with_error` (and the tableau has one).
fn rk_step<F: VectorField + ?Sized>(
    field: &mut Counted<'_, F>,
    tableau: &Tableau,
    (x, k1): (&Tensor<2>, Tensor<2>),
    (t, h): (f64, f64),
    with_error: bool,
) -> Result<Attempt> {
    let mut k = vec![k1];
    for i in 1..tableau.stages() {
        let mut xi = x.clone();
        for (j, &a) in tableau.a()[i].iter().enumerate() {
            if a != 0.0 {
                xi = xi + k[j].clone() * (h * a);
            }
        }
        k.push(field.eval(xi, t + tableau.c()[i] * h)?);
    }
    let combine = |weights: &[f64]| {
        weights
            .iter()
            .zip(&k)
            .filter(|(w, _)| **w != 0.0)
            .fold(x.zeros_like(), |acc, (w, ki)| acc + ki.clone() * (h * w))
    };
    let x_new = x.clone() + combine(tableau.b());
    let error = tableau.b_low().filter(|_| with_error).map(|low| {
        let diff: Vec<f64> = tableau.b().iter().zip(low).map(|(b, l)| b - l).collect();
        combine(&diff)
    });
    let last = tableau.fsal().then(|| k[k.len() - 1].clone());
    Ok(Attempt {
        x: x_new,
        last,
        error,
    })
}

/// Checks the time span and that the controller has what it needs of the tableau.
fn check_setup<C: StepSizeController>(
    tableau: &Tableau,
    controller: &C,
    t0: f64,
    t1: f64,
) -> Result<()> {
    if !(t0.is_finite() && t1.is_finite()) || t0 == t1 {
        return Err(SamplerError::from(sgm_core::validate::invalid(
            "t1",
            t1,
            "finite and different from t0",
        )));
    }
    if controller.needs_error_estimate() && !tableau.has_error_estimate() {
        return Err(SamplerError::from(sgm_core::validate::invalid(
            "tableau stages with error estimate",
            0.0,
            "present for adaptive steps (use Tableau::dormand_prince)",
        )));
    }
    Ok(())
}

/// The controller's error norm of an attempt, read back together with whether the new state is
/// finite: one host read, or none when the attempt carries no error estimate (the controller
/// needs none) or the controller looks at none. `Ok(None)` for no norm;
/// [`SamplerError::NonFinite`] (at `step`, `t_new`) when either is not finite.
fn read_norm<C: StepSizeController>(
    controller: &C,
    x: &Tensor<2>,
    attempt: &Attempt,
    (step, t_new): (usize, f64),
) -> Result<Option<f64>> {
    let Some(error) = attempt.error.as_ref() else {
        return Ok(None);
    };
    let Some(norm) = controller.error_norm(x, &attempt.x, error) else {
        return Ok(None);
    };
    let finite = attempt
        .x
        .clone()
        .is_finite()
        .all()
        .float()
        .cast(norm.dtype());
    let read = sgm_core::tensor::to_f64(Tensor::cat(vec![norm, finite], 0));
    if read[0].is_finite() && read[1] == 1.0 {
        Ok(Some(read[0]))
    } else {
        Err(SamplerError::NonFinite { step, t: t_new })
    }
}

/// The next step from `t`: its length, its end time, and whether it is the last. With a fixed
/// number of steps `n`, step i (0-based) ends at t0 + (i + 1) (t1 - t0) / n exactly (no drift
/// from adding h up); otherwise the step is `h`, or the remainder when `h` reaches (within
/// rounding) past `t1`.
fn next_step(
    (t0, t1, span): (f64, f64, f64),
    (t, h): (f64, f64),
    (step, fixed): (usize, Option<usize>),
) -> Result<(f64, f64, bool)> {
    let (step_h, t_new, last) = match fixed {
        Some(n) => {
            let last = step + 1 >= n;
            let t_new = if last {
                t1
            } else {
                t0 + (t1 - t0) * ((step + 1) as f64 / n as f64)
            };
            ((t_new - t).abs(), t_new, last)
        }
        None => {
            let remaining = (t1 - t).abs();
            let last = h >= remaining * (1.0 - 1e-9);
            let step_h = if last { remaining } else { h };
            let t_new = if last {
                t1
            } else {
                t + (t1 - t).signum() * step_h
            };
            (step_h, t_new, last)
        }
    };
    // A NaN step from a user's controller is an error too (it is not greater than anything).
    let big_enough = step_h > 1e-14 * t.abs().max(span);
    if !big_enough {
        return Err(SamplerError::StepSizeUnderflow { h: step_h, t });
    }
    Ok((step_h, t_new, last))
}

/// Solves dx/dt = F(x, t) from `t0` to `t1` (either direction) with the given tableau and
/// step-size controller, starting from `x0` (`[batch, dim]`). The whole batch shares the steps;
/// with [`PiController`](crate::PiController) every sample's error is within tolerance (the
/// largest per-sample norm decides). `observer` sees every accepted step.
///
/// Host reads: none per step with [`ConstantSteps`](crate::ConstantSteps) (the state is checked
/// on the device and read once at the end); one scalar per attempted step with adaptive control
/// (plus two for Hairer's starting step unless an initial step is given).
///
/// ```
/// use burn::prelude::*;
/// use sgm_samplers::{NoObserver, PiController, Tableau, solve_ode};
///
/// // dx/dt = -x from x(0) = 1: x(1) = 1/e.
/// let decay = |x: Tensor<2>, _t: f64| -x;
/// let x0 = Tensor::<2>::ones([1, 1], &Device::flex());
/// let control = PiController::new(1e-6, 1e-6)?;
/// let sol = solve_ode(&decay, &Tableau::dormand_prince(), x0, 0.0, 1.0, control, &mut NoObserver)?;
/// let x: f32 = sol.x.into_scalar();
/// assert!((x - (-1.0f32).exp()).abs() < 1e-5);
/// # Ok::<(), sgm_samplers::SamplerError>(())
/// ```
///
/// # Errors
/// [`SamplerError::Core`] with the field's own error (a score model of the wrong shape);
/// [`SamplerError::NonFinite`] if the state diverges; [`SamplerError::Core`]
/// (`CoreError::InvalidParameter`) for adaptive control with a tableau without error estimate
/// or for t0 = t1; [`SamplerError::TooManySteps`] and [`SamplerError::StepSizeUnderflow`] when
/// the controller cannot reach `t1`.
pub fn solve_ode<F, C>(
    field: &F,
    tableau: &Tableau,
    x0: Tensor<2>,
    t0: f64,
    t1: f64,
    controller: C,
    observer: &mut dyn Observer,
) -> Result<OdeSolution>
where
    F: VectorField + ?Sized,
    C: StepSizeController,
{
    check_setup(tableau, &controller, t0, t1)?;
    let mut field = Counted { field, nfe: 0 };
    let (direction, span, order) = ((t1 - t0).signum(), (t1 - t0).abs(), tableau.order());
    let mut k1 = field.eval(x0.clone(), t0)?;
    let mut h = {
        let mut probe = |x: Tensor<2>, t: f64| field.eval(x, t);
        controller.initial_step(&mut probe, &x0, &k1, t0, direction, span, order)?
    };
    let (mut x, mut t) = (x0, t0);
    let (mut accepted, mut rejected, mut previous) = (0, 0, None);
    let fixed = controller.fixed_steps();
    let with_error = controller.needs_error_estimate();
    let mut end = StepEnd::new(observer, fixed);
    while (t1 - t) * direction > 0.0 {
        if accepted + rejected >= controller.max_steps() {
            return Err(SamplerError::TooManySteps {
                steps: accepted + rejected,
                t,
            });
        }
        let (step_h, t_new, last_step) = next_step((t0, t1, span), (t, h), (accepted, fixed))?;
        let attempt = rk_step(
            &mut field,
            tableau,
            (&x, k1.clone()),
            (t, direction * step_h),
            with_error,
        )?;
        let norm = read_norm(&controller, &x, &attempt, (accepted, t_new))?;
        match controller.decide(step_h, norm, previous, order) {
            StepDecision::Accept { next } => {
                (x, t, h, previous) = (attempt.x, t_new, next, norm);
                if norm.is_none() {
                    // Without a per-step read the state is checked on the device, read once.
                    end.end(&x, t, field.nfe);
                } else {
                    end.notify(&x, t, field.nfe);
                }
                accepted += 1;
                if !last_step {
                    k1 = match attempt.last {
                        Some(f) => f,
                        None => field.eval(x.clone(), t)?,
                    };
                }
            }
            StepDecision::Reject { next } => {
                rejected += 1;
                h = next;
            }
        }
    }
    let nfe = field.nfe;
    let SampleOutput { x, nfe } = end.finish(x, nfe)?;
    Ok(OdeSolution {
        x,
        nfe,
        accepted,
        rejected,
    })
}

use burn::prelude::*;
use sgm_core::VectorField;

use crate::error::{ensure_finite, nonzero, positive};
use crate::{Observer, Result, SamplerError, StepInfo};

/// An explicit Runge-Kutta method as a Butcher tableau, with an optional embedded
/// lower-order solution for error estimation:
///
/// ```text
/// k_i = F(x + h sum_{j<i} a_ij k_j, t + c_i h),   x' = x + h sum_i b_i k_i,
/// error estimate e = h sum_i (b_i - b*_i) k_i.
/// ```
///
/// The tableau only says how one step is taken; [`StepControl`] says how long the steps are
/// (diffrax's separation of solver and step-size controller).
#[derive(Debug, Clone, PartialEq)]
pub struct Tableau {
    name: &'static str,
    order: usize,
    a: Vec<Vec<f64>>,
    b: Vec<f64>,
    b_low: Option<Vec<f64>>,
    c: Vec<f64>,
}

impl Tableau {
    /// Forward Euler, order 1.
    pub fn euler() -> Self {
        Self {
            name: "Euler",
            order: 1,
            a: vec![vec![]],
            b: vec![1.0],
            b_low: None,
            c: vec![0.0],
        }
    }

    /// Heun's method (explicit trapezoidal rule), order 2.
    pub fn heun() -> Self {
        Self {
            name: "Heun",
            order: 2,
            a: vec![vec![], vec![1.0]],
            b: vec![0.5, 0.5],
            b_low: None,
            c: vec![0.0, 1.0],
        }
    }

    /// The classical Runge-Kutta method, order 4.
    pub fn rk4() -> Self {
        Self {
            name: "RK4",
            order: 4,
            a: vec![vec![], vec![0.5], vec![0.0, 0.5], vec![0.0, 0.0, 1.0]],
            b: vec![1.0 / 6.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0],
            b_low: None,
            c: vec![0.0, 0.5, 0.5, 1.0],
        }
    }

    /// Dormand-Prince 5(4) (Dormand & Prince, J. Comput. Appl. Math. 1980), the method of
    /// MATLAB's ode45 and SciPy's RK45: 7 stages, order 5, with an embedded order-4 solution
    /// for step-size control. Its last stage is F at the new point (first same as last), so an
    /// accepted step costs 6 evaluations.
    pub fn dormand_prince() -> Self {
        Self {
            name: "Dormand-Prince 5(4)",
            order: 5,
            a: vec![
                vec![],
                vec![1.0 / 5.0],
                vec![3.0 / 40.0, 9.0 / 40.0],
                vec![44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0],
                vec![
                    19372.0 / 6561.0,
                    -25360.0 / 2187.0,
                    64448.0 / 6561.0,
                    -212.0 / 729.0,
                ],
                vec![
                    9017.0 / 3168.0,
                    -355.0 / 33.0,
                    46732.0 / 5247.0,
                    49.0 / 176.0,
                    -5103.0 / 18656.0,
                ],
                vec![
                    35.0 / 384.0,
                    0.0,
                    500.0 / 1113.0,
                    125.0 / 192.0,
                    -2187.0 / 6784.0,
                    11.0 / 84.0,
                ],
            ],
            b: vec![
                35.0 / 384.0,
                0.0,
                500.0 / 1113.0,
                125.0 / 192.0,
                -2187.0 / 6784.0,
                11.0 / 84.0,
                0.0,
            ],
            b_low: Some(vec![
                5179.0 / 57600.0,
                0.0,
                7571.0 / 16695.0,
                393.0 / 640.0,
                -92097.0 / 339200.0,
                187.0 / 2100.0,
                1.0 / 40.0,
            ]),
            c: vec![0.0, 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0, 1.0, 1.0],
        }
    }

    /// The method's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Order of accuracy p (global error O(h^p)).
    pub fn order(&self) -> usize {
        self.order
    }

    /// Number of stages.
    pub fn stages(&self) -> usize {
        self.b.len()
    }

    /// Whether the tableau has an embedded error estimate (needed for adaptive steps).
    pub fn has_error_estimate(&self) -> bool {
        self.b_low.is_some()
    }

    /// Whether the last stage is F at the new point (first same as last), so that it can be
    /// reused as the next step's first stage.
    fn fsal(&self) -> bool {
        let last = self.stages() - 1;
        self.c[last] == 1.0
            && self.a[last].iter().zip(&self.b).all(|(a, b)| a == b)
            && self.b[last] == 0.0
    }
}

/// How [`solve_ode`] chooses its steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepControl {
    /// `steps` equal steps.
    Fixed {
        /// Number of steps.
        steps: usize,
    },
    /// Steps chosen from the embedded error estimate (Hairer, Norsett & Wanner, *Solving
    /// Ordinary Differential Equations I*, sec. II.4): with sc = atol + rtol max(|x|, |x'|),
    /// each sample's error norm is the RMS over dimensions of e / sc, a step is accepted when
    /// the largest norm over the batch is <= 1, and the next step is
    /// h min(5, max(0.2, 0.9 norm^(-1/(q+1)))) with q the lower of the two orders. The first
    /// step comes from Hairer's starting-step heuristic (one extra evaluation).
    Adaptive {
        /// Relative tolerance.
        rtol: f64,
        /// Absolute tolerance.
        atol: f64,
        /// Limit on accepted plus rejected steps.
        max_steps: usize,
    },
}

impl StepControl {
    /// Adaptive control with tolerances `rtol` and `atol` and at most 100,000 steps.
    ///
    /// ```
    /// use sgm_samplers::StepControl;
    /// assert!(StepControl::adaptive(1e-5, 1e-5).is_ok());
    /// assert!(StepControl::adaptive(0.0, 1e-5).is_err());
    /// ```
    ///
    /// # Errors
    /// [`SamplerError::InvalidParameter`] unless both tolerances are finite and > 0.
    pub fn adaptive(rtol: f64, atol: f64) -> Result<Self> {
        Ok(Self::Adaptive {
            rtol: positive("rtol", rtol)?,
            atol: positive("atol", atol)?,
            max_steps: 100_000,
        })
    }

    /// `steps` equal steps.
    ///
    /// # Errors
    /// [`SamplerError::Core`] for zero steps.
    pub fn fixed(steps: usize) -> Result<Self> {
        Ok(Self::Fixed {
            steps: nonzero("steps", steps)?,
        })
    }
}

/// What [`solve_ode`] returns.
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

/// One Runge-Kutta step: (x', F(x') if the tableau is FSAL, error estimate if it has one).
fn rk_step<F: VectorField + ?Sized>(
    field: &mut Counted<'_, F>,
    tableau: &Tableau,
    x: &Tensor<2>,
    k1: Tensor<2>,
    t: f64,
    h: f64,
) -> Result<(Tensor<2>, Option<Tensor<2>>, Option<Tensor<2>>)> {
    let mut k = vec![k1];
    for i in 1..tableau.stages() {
        let mut xi = x.clone();
        for (j, &a) in tableau.a[i].iter().enumerate() {
            if a != 0.0 {
                xi = xi + k[j].clone() * (h * a);
            }
        }
        k.push(field.eval(xi, t + tableau.c[i] * h)?);
    }
    let combine = |weights: &[f64]| {
        weights
            .iter()
            .zip(&k)
            .filter(|(w, _)| **w != 0.0)
            .fold(x.zeros_like(), |acc, (w, ki)| acc + ki.clone() * (h * w))
    };
    let x_new = x.clone() + combine(&tableau.b);
    let error = tableau.b_low.as_ref().map(|low| {
        let diff: Vec<f64> = tableau.b.iter().zip(low).map(|(b, l)| b - l).collect();
        combine(&diff)
    });
    let last = tableau.fsal().then(|| k[k.len() - 1].clone());
    Ok((x_new, last, error))
}

/// The largest per-sample RMS of `e / (atol + rtol * scale)` (read back to the host).
fn error_norm(e: Tensor<2>, scale: Tensor<2>, rtol: f64, atol: f64) -> f64 {
    let ratio = e / (scale * rtol + atol);
    sgm_core::tensor::to_f64(ratio.square().mean_dim(1).sqrt().max())[0]
}

/// Hairer's starting step (Hairer, Norsett & Wanner I, sec. II.4), with per-sample norms.
fn initial_step<F: VectorField + ?Sized>(
    field: &mut Counted<'_, F>,
    (x0, f0): (&Tensor<2>, &Tensor<2>),
    (t0, direction): (f64, f64),
    order: usize,
    (rtol, atol): (f64, f64),
) -> Result<f64> {
    let scale = x0.clone().abs();
    let d0 = error_norm(x0.clone(), scale.clone(), rtol, atol);
    let d1 = error_norm(f0.clone(), scale.clone(), rtol, atol);
    let h0 = if d0 < 1e-5 || d1 < 1e-5 {
        1e-6
    } else {
        0.01 * d0 / d1
    };
    let x1 = x0.clone() + f0.clone() * (direction * h0);
    let f1 = field.eval(x1, t0 + direction * h0)?;
    let d2 = error_norm(f1 - f0.clone(), scale, rtol, atol) / h0;
    let h1 = if d1.max(d2) <= 1e-15 {
        (h0 * 1e-3).max(1e-6)
    } else {
        (0.01 / d1.max(d2)).powf(1.0 / (order as f64 + 1.0))
    };
    Ok((100.0 * h0).min(h1))
}

/// Solves dx/dt = F(x, t) from `t0` to `t1` (either direction) with the given tableau and step
/// control, starting from `x0` (`[batch, dim]`). The whole batch shares the steps; with
/// adaptive control every sample's error is within tolerance (the largest per-sample norm
/// decides). `observer` sees every accepted step.
///
/// ```
/// use burn::prelude::*;
/// use sgm_samplers::{NoObserver, StepControl, Tableau, solve_ode};
///
/// // dx/dt = -x from x(0) = 1: x(1) = 1/e.
/// let decay = |x: Tensor<2>, _t: f64| -x;
/// let x0 = Tensor::<2>::ones([1, 1], &Device::flex());
/// let control = StepControl::adaptive(1e-6, 1e-6)?;
/// let sol = solve_ode(&decay, &Tableau::dormand_prince(), x0, 0.0, 1.0, control, &mut NoObserver)?;
/// let x: f32 = sol.x.into_scalar();
/// assert!((x - (-1.0f32).exp()).abs() < 1e-5);
/// # Ok::<(), sgm_samplers::SamplerError>(())
/// ```
///
/// # Errors
/// [`SamplerError::Core`] with the field's own error (a score model of the wrong shape);
/// [`SamplerError::NonFinite`] if the state diverges; [`SamplerError::InvalidParameter`] for
/// adaptive control with a tableau without error estimate or for t0 = t1;
/// [`SamplerError::TooManySteps`] and [`SamplerError::StepSizeUnderflow`] when adaptive
/// control cannot reach `t1`.
pub fn solve_ode<F: VectorField + ?Sized>(
    field: &F,
    tableau: &Tableau,
    x0: Tensor<2>,
    t0: f64,
    t1: f64,
    control: StepControl,
    observer: &mut dyn Observer,
) -> Result<OdeSolution> {
    if !(t0.is_finite() && t1.is_finite()) || t0 == t1 {
        return Err(SamplerError::InvalidParameter {
            name: "t1",
            value: t1,
            requirement: "finite and different from t0",
        });
    }
    let mut field = Counted { field, nfe: 0 };
    let direction = (t1 - t0).signum();
    let span = (t1 - t0).abs();
    let mut x = x0;
    let mut k1 = field.eval(x.clone(), t0)?;
    let (mut accepted, mut rejected) = (0, 0);
    match control {
        StepControl::Fixed { steps } => {
            let h = (t1 - t0) / steps as f64;
            for step in 0..steps {
                let t = t0 + step as f64 * h;
                let (x_new, last, _) = rk_step(&mut field, tableau, &x, k1.clone(), t, h)?;
                x = x_new;
                let t_new = if step + 1 == steps { t1 } else { t + h };
                ensure_finite(&x, step, t_new)?;
                accepted += 1;
                observer.on_step(&StepInfo {
                    step,
                    steps: Some(steps),
                    t: t_new,
                    x: &x,
                    nfe: field.nfe,
                });
                if step + 1 < steps {
                    k1 = match last {
                        Some(f) => f,
                        None => field.eval(x.clone(), t_new)?,
                    };
                }
            }
        }
        StepControl::Adaptive {
            rtol,
            atol,
            max_steps,
        } => {
            if !tableau.has_error_estimate() {
                return Err(SamplerError::InvalidParameter {
                    name: "tableau stages with error estimate",
                    value: 0.0,
                    requirement: "present for adaptive steps (use Tableau::dormand_prince)",
                });
            }
            let exponent = -1.0 / tableau.order() as f64; // 1/(q + 1) with q = order - 1
            let mut h = initial_step(
                &mut field,
                (&x, &k1),
                (t0, direction),
                tableau.order(),
                (rtol, atol),
            )?
            .min(span);
            let mut t = t0;
            while (t1 - t) * direction > 0.0 {
                if accepted + rejected >= max_steps {
                    return Err(SamplerError::TooManySteps {
                        steps: accepted + rejected,
                        t,
                    });
                }
                let remaining = (t1 - t).abs();
                let last_step = h >= remaining;
                let step_h = if last_step { remaining } else { h };
                if step_h <= 1e-14 * t.abs().max(span) {
                    return Err(SamplerError::StepSizeUnderflow { h: step_h, t });
                }
                let (x_new, last, error) =
                    rk_step(&mut field, tableau, &x, k1.clone(), t, direction * step_h)?;
                let scale = x.clone().abs().max_pair(x_new.clone().abs());
                let norm = error_norm(error.expect("adaptive tableau"), scale, rtol, atol);
                if !norm.is_finite() {
                    return Err(SamplerError::NonFinite {
                        step: accepted,
                        t: t + direction * step_h,
                    });
                }
                let factor = if norm == 0.0 {
                    5.0
                } else {
                    (0.9 * norm.powf(exponent)).clamp(0.2, 5.0)
                };
                if norm <= 1.0 {
                    t = if last_step {
                        t1
                    } else {
                        t + direction * step_h
                    };
                    x = x_new;
                    ensure_finite(&x, accepted, t)?;
                    observer.on_step(&StepInfo {
                        step: accepted,
                        steps: None,
                        t,
                        x: &x,
                        nfe: field.nfe,
                    });
                    accepted += 1;
                    k1 = match last {
                        Some(f) => f,
                        None => field.eval(x.clone(), t)?,
                    };
                    h = step_h * factor;
                } else {
                    rejected += 1;
                    h = step_h * factor.min(1.0);
                }
            }
        }
    }
    observer.on_finish();
    Ok(OdeSolution {
        x,
        nfe: field.nfe,
        accepted,
        rejected,
    })
}

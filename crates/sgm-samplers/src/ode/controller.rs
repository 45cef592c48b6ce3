//! Step-size controllers: how long the steps of [`solve_ode`](crate::solve_ode) are.

use burn::prelude::*;
use sgm_core::validate::{non_negative, nonzero, positive};

use crate::Result;

/// What a controller decides about an attempted step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepDecision {
    /// Keep the step; the next one has length `next`.
    Accept {
        /// The next step length (> 0; the driver applies the direction and stops at t1).
        next: f64,
    },
    /// Redo the step with length `next`.
    Reject {
        /// The retried step length.
        next: f64,
    },
}

/// A step-size controller in diffrax's role: it picks the first step, reduces an attempted
/// step's error estimate to one number on the device, and accepts or rejects the step from that
/// number read back (one scalar per attempted step, the only host read of an adaptive step).
///
/// [`ConstantSteps`] reads nothing; [`PiController`] is the usual adaptive control. A user's
/// own controller is these four methods.
pub trait StepSizeController {
    /// Whether the controller uses the tableau's embedded error estimate (adaptive control).
    fn needs_error_estimate(&self) -> bool;

    /// The first step length (> 0) over `span` = |t1 - t0|. `probe(x, t)` evaluates the vector
    /// field (each call counts towards the NFE) for heuristics that need it; `f0` is the field at
    /// (x0, t0); `order` the tableau's.
    ///
    /// # Errors
    /// The field's errors.
    #[allow(clippy::too_many_arguments)]
    fn initial_step(
        &self,
        probe: &mut dyn FnMut(Tensor<2>, f64) -> Result<Tensor<2>>,
        x0: &Tensor<2>,
        f0: &Tensor<2>,
        t0: f64,
        direction: f64,
        span: f64,
        order: usize,
    ) -> Result<f64>;

    /// The error of an attempted step from `x` to `x_new` with embedded estimate `error`,
    /// reduced on the device to a `[1]` tensor (None when the controller does not look at
    /// errors: then nothing is read back).
    fn error_norm(&self, x: &Tensor<2>, x_new: &Tensor<2>, error: &Tensor<2>) -> Option<Tensor<1>>;

    /// Accepts or rejects a step of length `h` given its error norm (None when
    /// [`StepSizeController::error_norm`] gave none) and the norm at the previous accepted step
    /// (None at the first).
    fn decide(
        &self,
        h: f64,
        norm: Option<f64>,
        previous: Option<f64>,
        order: usize,
    ) -> StepDecision;

    /// A limit on attempted (accepted plus rejected) steps.
    fn max_steps(&self) -> usize {
        usize::MAX
    }

    /// The number of steps when it is fixed in advance (then step i ends at t0 + i (t1 - t0) / n
    /// exactly, and observers are told the total); None for adaptive control.
    fn fixed_steps(&self) -> Option<usize> {
        None
    }
}

impl<C: StepSizeController + ?Sized> StepSizeController for &C {
    fn needs_error_estimate(&self) -> bool {
        (**self).needs_error_estimate()
    }
    fn initial_step(
        &self,
        probe: &mut dyn FnMut(Tensor<2>, f64) -> Result<Tensor<2>>,
        x0: &Tensor<2>,
        f0: &Tensor<2>,
        t0: f64,
        direction: f64,
        span: f64,
        order: usize,
    ) -> Result<f64> {
        (**self).initial_step(probe, x0, f0, t0, direction, span, order)
    }
    fn error_norm(&self, x: &Tensor<2>, x_new: &Tensor<2>, error: &Tensor<2>) -> Option<Tensor<1>> {
        (**self).error_norm(x, x_new, error)
    }
    fn decide(
        &self,
        h: f64,
        norm: Option<f64>,
        previous: Option<f64>,
        order: usize,
    ) -> StepDecision {
        (**self).decide(h, norm, previous, order)
    }
    fn max_steps(&self) -> usize {
        (**self).max_steps()
    }
    fn fixed_steps(&self) -> Option<usize> {
        (**self).fixed_steps()
    }
}

/// `steps` equal steps from t0 to t1; no error estimate, no host read.
///
/// ```
/// use sgm_samplers::ConstantSteps;
/// assert!(ConstantSteps::new(100).is_ok());
/// assert!(ConstantSteps::new(0).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConstantSteps {
    steps: usize,
}

impl ConstantSteps {
    /// `steps` equal steps.
    ///
    /// # Errors
    /// [`SamplerError::Core`](crate::SamplerError::Core) (`CoreError::ZeroCount`) for zero steps.
    pub fn new(steps: usize) -> Result<Self> {
        Ok(Self {
            steps: nonzero("steps", steps)?,
        })
    }

    /// The number of steps.
    pub fn steps(&self) -> usize {
        self.steps
    }
}

impl StepSizeController for ConstantSteps {
    fn needs_error_estimate(&self) -> bool {
        false
    }

    fn initial_step(
        &self,
        _probe: &mut dyn FnMut(Tensor<2>, f64) -> Result<Tensor<2>>,
        _x0: &Tensor<2>,
        _f0: &Tensor<2>,
        _t0: f64,
        _direction: f64,
        span: f64,
        _order: usize,
    ) -> Result<f64> {
        Ok(span / self.steps as f64)
    }

    fn error_norm(&self, _: &Tensor<2>, _: &Tensor<2>, _: &Tensor<2>) -> Option<Tensor<1>> {
        None
    }

    fn decide(&self, h: f64, _: Option<f64>, _: Option<f64>, _: usize) -> StepDecision {
        StepDecision::Accept { next: h }
    }

    fn max_steps(&self) -> usize {
        self.steps
    }

    fn fixed_steps(&self) -> Option<usize> {
        Some(self.steps)
    }
}

/// Adaptive steps from the embedded error estimate with proportional-integral control (Hairer,
/// Norsett & Wanner, *Solving Ordinary Differential Equations I*, sec. II.4; Gustafsson 1991;
/// diffrax's `PIDController` without the derivative term).
///
/// With sc = atol + rtol max(|x|, |x'|), each sample's error norm is the RMS over dimensions of
/// e / sc, and the batch's norm the largest of them (so every sample meets the tolerance). A
/// step is accepted when norm <= 1, and the next step is
///
/// ```text
/// h' = h clamp(0.9 norm^(-(icoeff + pcoeff) / k) previous^(pcoeff / k), 0.2, 5),
/// ```
///
/// k = the embedded order + 1 (= the tableau's order), `previous` the norm of the last accepted
/// step; a rejected step only shrinks (factor <= 1). The default icoeff = 1, pcoeff = 0 is the
/// classical integral (I) controller; [`PiController::with_pi`] sets a PI pair (pcoeff = 0.4,
/// icoeff = 0.3 is Gustafsson's choice, which diffrax suggests for ODEs). The first step comes from Hairer's starting-step heuristic
/// (one extra evaluation and two host reads) unless given by [`PiController::with_initial_step`].
///
/// ```
/// use sgm_samplers::PiController;
/// assert!(PiController::new(1e-5, 1e-5).is_ok());
/// assert!(PiController::new(0.0, 1e-5).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PiController {
    rtol: f64,
    atol: f64,
    pcoeff: f64,
    icoeff: f64,
    max_steps: usize,
    initial: Option<f64>,
}

impl PiController {
    /// Integral control with tolerances `rtol` and `atol`, at most 100,000 attempted steps.
    ///
    /// # Errors
    /// [`SamplerError::Core`](crate::SamplerError::Core) (`CoreError::InvalidParameter`) unless
    /// both tolerances are finite and > 0.
    pub fn new(rtol: f64, atol: f64) -> Result<Self> {
        Ok(Self {
            rtol: positive("rtol", rtol)?,
            atol: positive("atol", atol)?,
            pcoeff: 0.0,
            icoeff: 1.0,
            max_steps: 100_000,
            initial: None,
        })
    }

    /// The same controller with proportional and integral coefficients `pcoeff`, `icoeff`.
    ///
    /// ```
    /// use sgm_samplers::PiController;
    /// let pi = PiController::new(1e-6, 1e-6)?.with_pi(0.4, 0.3)?.with_max_steps(10_000)?;
    /// assert!(PiController::new(1e-6, 1e-6)?.with_initial_step(0.0).is_err());
    /// # Ok::<(), sgm_samplers::SamplerError>(())
    /// ```
    ///
    /// # Errors
    /// [`SamplerError::Core`](crate::SamplerError::Core) unless pcoeff >= 0 and icoeff > 0.
    pub fn with_pi(mut self, pcoeff: f64, icoeff: f64) -> Result<Self> {
        self.pcoeff = non_negative("pcoeff", pcoeff)?;
        self.icoeff = positive("icoeff", icoeff)?;
        Ok(self)
    }

    /// The same controller with at most `max_steps` attempted steps.
    ///
    /// # Errors
    /// [`SamplerError::Core`](crate::SamplerError::Core) for zero.
    pub fn with_max_steps(mut self, max_steps: usize) -> Result<Self> {
        self.max_steps = nonzero("max_steps", max_steps)?;
        Ok(self)
    }

    /// The same controller starting with a step of length `h` (no starting-step heuristic).
    ///
    /// # Errors
    /// [`SamplerError::Core`](crate::SamplerError::Core) unless h is finite and > 0.
    pub fn with_initial_step(mut self, h: f64) -> Result<Self> {
        self.initial = Some(positive("initial step", h)?);
        Ok(self)
    }

    /// The largest per-sample RMS of `e / (atol + rtol scale)`, `[1]`, on the device.
    fn norm(&self, e: Tensor<2>, scale: Tensor<2>) -> Tensor<1> {
        let ratio = e / (scale * self.rtol + self.atol);
        ratio.square().mean_dim(1).sqrt().max()
    }

    /// [`PiController::norm`] read back (the heuristic's reads).
    fn norm_on_host(&self, e: Tensor<2>, scale: Tensor<2>) -> f64 {
        sgm_core::tensor::to_f64(self.norm(e, scale))[0]
    }
}

impl StepSizeController for PiController {
    fn needs_error_estimate(&self) -> bool {
        true
    }

    /// Hairer's starting step (Hairer, Norsett & Wanner I, sec. II.4) with per-sample norms.
    fn initial_step(
        &self,
        probe: &mut dyn FnMut(Tensor<2>, f64) -> Result<Tensor<2>>,
        x0: &Tensor<2>,
        f0: &Tensor<2>,
        t0: f64,
        direction: f64,
        span: f64,
        order: usize,
    ) -> Result<f64> {
        if let Some(h) = self.initial {
            return Ok(h.min(span));
        }
        let scale = x0.clone().abs();
        let both = Tensor::cat(
            vec![
                self.norm(x0.clone(), scale.clone()),
                self.norm(f0.clone(), scale.clone()),
            ],
            0,
        );
        let d = sgm_core::tensor::to_f64(both);
        let (d0, d1) = (d[0], d[1]);
        let h0 = if d0 < 1e-5 || d1 < 1e-5 {
            1e-6
        } else {
            0.01 * d0 / d1
        }
        .min(span);
        let x1 = x0.clone() + f0.clone() * (direction * h0);
        let f1 = probe(x1, t0 + direction * h0)?;
        let d2 = self.norm_on_host(f1 - f0.clone(), scale) / h0;
        let h1 = if d1.max(d2) <= 1e-15 {
            (h0 * 1e-3).max(1e-6)
        } else {
            (0.01 / d1.max(d2)).powf(1.0 / (order as f64 + 1.0))
        };
        Ok((100.0 * h0).min(h1).min(span))
    }

    fn error_norm(&self, x: &Tensor<2>, x_new: &Tensor<2>, error: &Tensor<2>) -> Option<Tensor<1>> {
        let scale = x.clone().abs().max_pair(x_new.clone().abs());
        Some(self.norm(error.clone(), scale))
    }

    fn decide(
        &self,
        h: f64,
        norm: Option<f64>,
        previous: Option<f64>,
        order: usize,
    ) -> StepDecision {
        let norm = norm.expect("PiController::error_norm always gives a norm");
        let k = order as f64;
        let factor = if norm == 0.0 {
            5.0
        } else {
            let previous = previous.unwrap_or(1.0).max(1e-10);
            (0.9 * norm.powf(-(self.icoeff + self.pcoeff) / k) * previous.powf(self.pcoeff / k))
                .clamp(0.2, 5.0)
        };
        if norm <= 1.0 {
            StepDecision::Accept { next: h * factor }
        } else {
            StepDecision::Reject {
                next: h * factor.min(1.0),
            }
        }
    }

    fn max_steps(&self) -> usize {
        self.max_steps
    }
}

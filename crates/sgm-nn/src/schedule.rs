use burn::prelude::*;

use crate::Result;

/// The learning-rate schedule of a [`Trainer`](crate::Trainer) after its linear warm-up.
///
/// With base rate eta, `warmup` warm-up steps and `steps` steps in all, step k (0-based) runs at
///
/// ```text
/// eta_k = eta (k + 1) / warmup                                  k < warmup (linear warm-up)
/// eta_k = eta                                                   Constant
/// eta_k = eta (f + (1 - f) (1 + cos(pi p)) / 2),  p = (k - warmup) / (steps - warmup)   Cosine
/// ```
///
/// The cosine decay is SGDR's without restarts (Loshchilov & Hutter 2017), from eta at the end
/// of the warm-up to f eta at the last step's end; the warm-up is that of Goyal et al. (2017)
/// and of the DDPM and score_sde configs (`warmup = 5000`). The rate is a pure function of the
/// step, so a resumed run continues the schedule exactly.
///
/// ```
/// use sgm_nn::{LearningRateSchedule, TrainerConfig};
///
/// let config = TrainerConfig::new(110)
///     .with_learning_rate(1e-3)
///     .with_warmup_steps(10)
///     .with_schedule(LearningRateSchedule::Cosine { final_fraction: 0.0 });
/// assert!((config.learning_rate_at(4) - 5e-4).abs() < 1e-15); // half-way up the ramp
/// assert!((config.learning_rate_at(60) - 5e-4).abs() < 1e-15); // half-way down the cosine
/// ```
#[derive(Config, Debug, Copy, PartialEq)]
pub enum LearningRateSchedule {
    /// eta after the warm-up.
    Constant,
    /// Cosine decay from eta to `final_fraction * eta`.
    Cosine {
        /// f in [0, 1]: the last rate as a fraction of eta.
        final_fraction: f64,
    },
}

impl LearningRateSchedule {
    /// The rate at 0-based step `step` of `steps`, for base rate `base` and `warmup` warm-up
    /// steps (the formulas of [`LearningRateSchedule`]).
    pub fn rate(self, base: f64, step: usize, steps: usize, warmup: usize) -> f64 {
        if step < warmup {
            return base * (step + 1) as f64 / warmup as f64;
        }
        match self {
            LearningRateSchedule::Constant => base,
            LearningRateSchedule::Cosine { final_fraction } => {
                let progress = (step - warmup) as f64 / steps.saturating_sub(warmup).max(1) as f64;
                let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
                base * (final_fraction + (1.0 - final_fraction) * cosine)
            }
        }
    }

    /// Checks the schedule's own parameter.
    pub(crate) fn check(self) -> Result<()> {
        if let LearningRateSchedule::Cosine { final_fraction } = self {
            sgm_core::validate::require(
                (0.0..=1.0).contains(&final_fraction),
                "final_fraction",
                final_fraction,
                "0 <= final_fraction <= 1",
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rates against the formulas at hand-picked steps (warm-up 4 of 24 steps, f = 0.1).
    ///
    /// Mutations checked: `(step + 1)` -> `step` in the ramp, dropping `final_fraction`, or
    /// `+ cos` -> `- cos` each fail one of these.
    #[test]
    fn warm_up_then_cosine_hits_the_formula() {
        let schedule = LearningRateSchedule::Cosine {
            final_fraction: 0.1,
        };
        let rate = |k| schedule.rate(2.0, k, 24, 4);
        assert_eq!(rate(0), 0.5);
        assert_eq!(rate(3), 2.0);
        assert!((rate(4) - 2.0).abs() < 1e-15);
        // p = 10/20: cos = 0, eta (0.1 + 0.9 / 2).
        assert!((rate(14) - 2.0 * 0.55).abs() < 1e-15);
        // p = 19/20: close to f eta from above.
        let last = 2.0 * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * 0.95).cos()));
        assert!((rate(23) - last).abs() < 1e-15);
        assert!(rate(23) > 0.2 && rate(23) < 0.22); // 0.2111
        assert_eq!(LearningRateSchedule::Constant.rate(2.0, 23, 24, 4), 2.0);
        assert_eq!(LearningRateSchedule::Constant.rate(2.0, 1, 24, 4), 1.0);
    }

    #[test]
    fn rejects_a_final_fraction_outside_the_unit_interval() {
        for f in [-0.1, 1.5, f64::NAN] {
            let schedule = LearningRateSchedule::Cosine { final_fraction: f };
            assert!(schedule.check().is_err(), "{f}");
        }
        assert!(LearningRateSchedule::Constant.check().is_ok());
    }
}

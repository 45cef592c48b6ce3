use crate::{Result, ScheduleError, at_least, finite};

/// How the points of a [`TimeGrid`] are spaced between its two ends. Non-uniform spacings put
/// more points near the smaller end (the data end t ~ 0 of a diffusion), where the score changes
/// fastest.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Spacing {
    /// Equal steps.
    #[default]
    Uniform,
    /// t = lo + (hi - lo) u^2 for u uniform in [0, 1] (DDIM's quadratic skip, Song et al. 2021).
    Quadratic,
    /// t = (lo^(1/rho) + u (hi^(1/rho) - lo^(1/rho)))^rho (Karras et al. 2022, applied to time).
    /// Needs lo >= 0.
    Karras {
        /// Exponent, 7 in the paper.
        rho: f64,
    },
}

/// A grid of time points t_0, t_1, ..., t_n from `from` to `to` (both included), increasing or
/// decreasing. Samplers integrate from T down to eps over a decreasing grid; likelihood
/// computations go up.
///
/// ```
/// use sgm_schedules::{Spacing, TimeGrid};
/// let g = TimeGrid::new(1.0, 1e-3, 5, Spacing::Uniform)?;
/// assert_eq!(g.times().len(), 5);
/// assert_eq!((g.times()[0], g.times()[4]), (1.0, 1e-3));
/// assert_eq!(g.steps().count(), 4);
/// # Ok::<(), sgm_schedules::ScheduleError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TimeGrid {
    times: Vec<f64>,
}

impl TimeGrid {
    /// `points` time points from `from` to `to` with the given spacing.
    ///
    /// # Errors
    /// [`ScheduleError::Core`] (`CoreError::TooFew`) if `points < 2`; [`ScheduleError::Core`] (`CoreError::InvalidParameter`) for
    /// non-finite ends; [`ScheduleError::InvalidTimeRange`] if `from == to` or if Karras spacing
    /// gets a negative end; [`ScheduleError::Core`] (`CoreError::InvalidParameter`) for a non-positive rho.
    pub fn new(from: f64, to: f64, points: usize, spacing: Spacing) -> Result<Self> {
        at_least("time grid points", points, 2)?;
        finite("from", from)?;
        finite("to", to)?;
        if from == to {
            return Err(ScheduleError::InvalidTimeRange {
                from,
                to,
                reason: "the ends must differ",
            });
        }
        let (lo, hi) = (from.min(to), from.max(to));
        let map: Box<dyn Fn(f64) -> f64> = match spacing {
            Spacing::Uniform => Box::new(move |u| lo + (hi - lo) * u),
            Spacing::Quadratic => Box::new(move |u| lo + (hi - lo) * u * u),
            Spacing::Karras { rho } => {
                if !(rho.is_finite() && rho > 0.0) {
                    return Err(ScheduleError::from(sgm_core::validate::invalid(
                        "rho",
                        rho,
                        "finite and > 0",
                    )));
                }
                if lo < 0.0 {
                    return Err(ScheduleError::InvalidTimeRange {
                        from,
                        to,
                        reason: "Karras spacing needs times >= 0",
                    });
                }
                let (a, b) = (lo.powf(1.0 / rho), hi.powf(1.0 / rho));
                Box::new(move |u| (a + u * (b - a)).powf(rho))
            }
        };
        let mut times: Vec<f64> = (0..points)
            .map(|i| map(i as f64 / (points - 1) as f64))
            .collect();
        times[0] = lo;
        times[points - 1] = hi;
        if from > to {
            times.reverse();
        }
        Ok(Self { times })
    }

    /// A grid of given time points, strictly increasing or strictly decreasing (a grid built
    /// elsewhere, such as one uniform in a noise level: `sgm_sde::karras_grid`).
    ///
    /// ```
    /// use sgm_schedules::TimeGrid;
    /// assert_eq!(TimeGrid::from_times(vec![1.0, 0.5, 0.1])?.num_steps(), 2);
    /// assert!(TimeGrid::from_times(vec![1.0, 0.5, 0.7]).is_err());
    /// # Ok::<(), sgm_schedules::ScheduleError>(())
    /// ```
    ///
    /// # Errors
    /// [`ScheduleError::Core`] (`CoreError::TooFew`) for fewer than two points,
    /// (`CoreError::InvalidParameter`) for a non-finite point; [`ScheduleError::InvalidTimeRange`]
    /// for the first pair of neighbours that breaks strict monotonicity.
    pub fn from_times(times: Vec<f64>) -> Result<Self> {
        at_least("time grid points", times.len(), 2)?;
        for &t in &times {
            finite("time grid point", t)?;
        }
        let decreasing = times[0] > times[1];
        if let Some(w) = times
            .windows(2)
            .find(|w| (w[0] > w[1]) != decreasing || w[0] == w[1])
        {
            return Err(ScheduleError::InvalidTimeRange {
                from: w[0],
                to: w[1],
                reason: "time grid points must be strictly monotone",
            });
        }
        Ok(Self { times })
    }

    /// Uniform grid: `TimeGrid::new(from, to, points, Spacing::Uniform)`.
    pub fn uniform(from: f64, to: f64, points: usize) -> Result<Self> {
        Self::new(from, to, points, Spacing::Uniform)
    }

    /// The time points, `from` first.
    pub fn times(&self) -> &[f64] {
        &self.times
    }

    /// Number of points (steps + 1).
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// Always false: a grid has at least two points.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// Number of steps (points - 1).
    pub fn num_steps(&self) -> usize {
        self.times.len() - 1
    }

    /// The steps (t_i, t_{i+1}) in order.
    pub fn steps(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.times.windows(2).map(|w| (w[0], w[1]))
    }

    /// First point.
    pub fn start(&self) -> f64 {
        self.times[0]
    }

    /// Last point.
    pub fn end(&self) -> f64 {
        self.times[self.times.len() - 1]
    }

    /// Whether the grid runs from larger to smaller times.
    pub fn is_decreasing(&self) -> bool {
        self.start() > self.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn spacings_match_hand_values() {
        let u = TimeGrid::new(0.0, 1.0, 5, Spacing::Uniform).unwrap();
        assert_eq!(u.times(), &[0.0, 0.25, 0.5, 0.75, 1.0]);
        let q = TimeGrid::new(1.0, 0.0, 3, Spacing::Quadratic).unwrap();
        assert_eq!(q.times(), &[1.0, 0.25, 0.0]);
        let k = TimeGrid::new(0.0, 1.0, 3, Spacing::Karras { rho: 2.0 }).unwrap();
        assert_eq!(k.times(), &[0.0, 0.25, 1.0]);
        assert!(q.is_decreasing() && !u.is_decreasing());
        assert_eq!(
            q.steps().collect::<Vec<_>>(),
            vec![(1.0, 0.25), (0.25, 0.0)]
        );
    }

    #[test]
    fn bad_grids_are_rejected_with_their_values() {
        assert_eq!(
            TimeGrid::uniform(1.0, 1.0, 10),
            Err(ScheduleError::InvalidTimeRange {
                from: 1.0,
                to: 1.0,
                reason: "the ends must differ"
            })
        );
        assert_eq!(
            TimeGrid::uniform(1.0, 0.0, 1),
            Err(ScheduleError::Core(sgm_core::CoreError::TooFew {
                name: "time grid points",
                count: 1,
                min: 2
            }))
        );
        assert!(TimeGrid::new(-1.0, 1.0, 10, Spacing::Karras { rho: 7.0 }).is_err());
        assert!(TimeGrid::new(0.0, 1.0, 10, Spacing::Karras { rho: -7.0 }).is_err());
        assert!(TimeGrid::uniform(f64::NAN, 1.0, 10).is_err());
        // Mutation checked: accepting equal neighbours fails the second assertion.
        assert!(TimeGrid::from_times(vec![0.0, 0.5, 1.0]).is_ok());
        assert!(TimeGrid::from_times(vec![1.0, 1.0, 0.5]).is_err());
        assert!(TimeGrid::from_times(vec![1.0, 0.5, 0.7]).is_err());
        assert!(TimeGrid::from_times(vec![1.0]).is_err());
        assert!(TimeGrid::from_times(vec![1.0, f64::NAN]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn grids_are_monotone_with_exact_ends(
            a in 0.0f64..2.0, b in 0.0f64..2.0, n in 2usize..200, kind in 0u8..3
        ) {
            prop_assume!((a - b).abs() > 1e-6);
            let spacing = match kind { 0 => Spacing::Uniform, 1 => Spacing::Quadratic, _ => Spacing::Karras { rho: 7.0 } };
            let g = TimeGrid::new(a, b, n, spacing).unwrap();
            prop_assert_eq!(g.len(), n);
            prop_assert_eq!((g.start(), g.end()), (a, b));
            if a > b {
                prop_assert!(g.times().windows(2).all(|w| w[0] > w[1]));
            } else {
                prop_assert!(g.times().windows(2).all(|w| w[0] < w[1]));
            }
        }
    }
}

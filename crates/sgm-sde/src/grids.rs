//! Time grids placed by the noise level of an SDE's marginals.

use sgm_schedules::{ScheduleError, Spacing, TimeGrid};

use crate::{GaussianMarginals, Result};

/// The time grid whose noise levels sigma-bar(t_i) = std(t_i) / m(t_i) follow the schedule of
/// Karras et al. (2022, eq. 5): uniform in sigma-bar^(1/rho) from sigma-bar(from) to
/// sigma-bar(to), `points` points (rho = 7 in the paper; k-diffusion's `get_sigmas_karras`
/// without its appended zero). On the Karras SDE ([`VeSde::karras`](crate::VeSde::karras)),
/// where sigma-bar(t) = t, it is `TimeGrid::new(from, to, points, Spacing::Karras { rho })`.
///
/// ```
/// use sgm_sde::{GaussianMarginals, VeSde, VpSde, karras_grid};
/// let g = karras_grid(&VeSde::karras(80.0)?, 80.0, 0.002, 3, 7.0)?;
/// let mid = (0.5 * (80f64.powf(1.0 / 7.0) + 0.002f64.powf(1.0 / 7.0))).powi(7);
/// assert!((g.times()[1] - mid).abs() < 1e-12 * mid);
/// let vp = VpSde::default();
/// let g = karras_grid(&vp, 1.0, 1e-3, 10, 7.0)?;
/// assert_eq!((g.start(), g.end(), g.len()), (1.0, 1e-3, 10));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// Those of [`TimeGrid::new`] for the ends and the point count;
/// [`ScheduleError::InvalidTimeRange`] (in [`SdeError::Schedule`](crate::SdeError::Schedule))
/// if sigma-bar is not finite and positive at both ends.
pub fn karras_grid<M: GaussianMarginals + ?Sized>(
    marginals: &M,
    from: f64,
    to: f64,
    points: usize,
    rho: f64,
) -> Result<TimeGrid> {
    let (a, b) = level_range(marginals, from, to)?;
    let levels = TimeGrid::new(a, b, points, Spacing::Karras { rho })?;
    times_at_levels(marginals, from, to, levels.times().iter().copied())
}

/// The time grid uniform in log SNR = -2 ln sigma-bar(t) between `from` and `to` (Lu et al.
/// 2022, sec. 3.4: DPM-Solver's default for high-resolution data), `points` points.
///
/// ```
/// use sgm_sde::{GaussianMarginals, VpSde, log_snr_grid};
/// let vp = VpSde::default();
/// let g = log_snr_grid(&vp, 1.0, 1e-3, 5)?;
/// let lambda: Vec<f64> = g.times().iter().map(|&t| vp.log_snr_at(t)).collect();
/// for w in lambda.windows(3) {
///     assert!(((w[1] - w[0]) - (w[2] - w[1])).abs() < 1e-9);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`karras_grid`].
pub fn log_snr_grid<M: GaussianMarginals + ?Sized>(
    marginals: &M,
    from: f64,
    to: f64,
    points: usize,
) -> Result<TimeGrid> {
    let (a, b) = level_range(marginals, from, to)?;
    let logs = TimeGrid::new(a.ln(), b.ln(), points, Spacing::Uniform)?;
    times_at_levels(marginals, from, to, logs.times().iter().map(|l| l.exp()))
}

/// sigma-bar at both ends, checked finite and positive.
fn level_range<M: GaussianMarginals + ?Sized>(
    marginals: &M,
    from: f64,
    to: f64,
) -> Result<(f64, f64)> {
    let (a, b) = (marginals.noise_level_at(from), marginals.noise_level_at(to));
    if !(a.is_finite() && b.is_finite() && a > 0.0 && b > 0.0) || from == to {
        return Err(ScheduleError::InvalidTimeRange {
            from,
            to,
            reason: "the noise level std / m must be finite and > 0 at both ends, and the ends must differ",
        }
        .into());
    }
    Ok((a, b))
}

/// The times of the given noise levels, the ends exactly `from` and `to`.
fn times_at_levels<M: GaussianMarginals + ?Sized>(
    marginals: &M,
    from: f64,
    to: f64,
    levels: impl ExactSizeIterator<Item = f64>,
) -> Result<TimeGrid> {
    let (lo, hi) = (from.min(to), from.max(to));
    let last = levels.len() - 1;
    let times = levels
        .enumerate()
        .map(|(i, level)| match i {
            0 => from,
            i if i == last => to,
            _ => marginals
                .time_at_noise_level(level, lo, hi)
                .unwrap_or(f64::NAN),
        })
        .collect();
    Ok(TimeGrid::from_times(times)?)
}

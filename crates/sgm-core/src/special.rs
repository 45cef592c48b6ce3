//! Normal-distribution functions on the host, in f64 (`libm::erfc`), accurate in both tails:
//! for quantities that no gradient flows through (bin likelihoods of quantised data, the
//! dequantisation bounds), where f32 tensor `erf` would lose the tails.

use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// log phi(u), the standard normal log-density.
pub fn log_normal_pdf(u: f64) -> f64 {
    -0.5 * u * u - 0.5 * (2.0 * PI).ln()
}

/// log Q(u) = log(1 - Phi(u)), the log upper tail. Beyond u = 25 (Q = 3e-139) the asymptotic
/// series phi(u)/u (1 - 1/u^2 + 3/u^4 - 15/u^6), relative error below 105/u^8 = 7e-10.
pub fn log_normal_tail(u: f64) -> f64 {
    if u < 25.0 {
        (0.5 * libm::erfc(u * FRAC_1_SQRT_2)).ln()
    } else {
        let v = 1.0 / (u * u);
        log_normal_pdf(u) - u.ln() + (1.0 - v + 3.0 * v * v - 15.0 * v * v * v).ln()
    }
}

/// log(Phi(upper) - Phi(lower)) for lower < upper, from tail probabilities only (in log space
/// when the whole interval lies in one tail), so that neither a far-off interval nor a wide
/// one loses precision. Finite for every finite lower < upper.
///
/// ```
/// use sgm_core::special::log_normal_interval;
/// let p = log_normal_interval(-1.0, 1.0).exp();
/// assert!((p - 0.682_689_492_137_086).abs() < 1e-14);
/// assert!(log_normal_interval(40.0, 41.0).is_finite());
/// ```
pub fn log_normal_interval(lower: f64, upper: f64) -> f64 {
    // Q(lower) - Q(upper) = Q(lower) (1 - exp(log Q(upper) - log Q(lower))).
    let one_tail = |near: f64, far: f64| {
        let (log_near, log_far) = (log_normal_tail(near), log_normal_tail(far));
        log_near + (-(log_far - log_near).exp()).ln_1p()
    };
    if lower >= 0.0 {
        one_tail(lower, upper)
    } else if upper <= 0.0 {
        one_tail(-upper, -lower)
    } else {
        let tail = |u: f64| 0.5 * libm::erfc(u * FRAC_1_SQRT_2);
        (1.0 - tail(-lower) - tail(upper)).ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_interval_in_both_tails_and_the_middle() {
        // Phi(1) - Phi(-1) = erf(1/sqrt 2); far tails against the asymptotic Mills ratio
        // Q(u) ~ phi(u)/u (1 - 1/u^2 + 3/u^4 - 15/u^6), whose error is below the next term,
        // 105/u^8 = 4e-9 at u = 20.
        let middle = libm::erf(FRAC_1_SQRT_2).ln();
        assert!((log_normal_interval(-1.0, 1.0) - middle).abs() < 1e-14);
        let u: f64 = 20.0;
        let mills = log_normal_pdf(u) - u.ln()
            + (1.0 - 1.0 / (u * u) + 3.0 / u.powi(4) - 15.0 / u.powi(6)).ln();
        assert!((log_normal_interval(u, 60.0) - mills).abs() < 1e-8);
        assert!((log_normal_interval(-60.0, -u) - mills).abs() < 1e-8);
        // The two branches of log Q agree where they meet.
        let erfc_path = (0.5 * libm::erfc(25.0 * FRAC_1_SQRT_2)).ln();
        let asymptotic = log_normal_tail(25.0);
        assert!(
            (erfc_path - asymptotic).abs() < 1e-8,
            "{erfc_path} {asymptotic}"
        );
        // Far out the interval stays finite and ordered.
        assert!(log_normal_interval(100.0, 101.0) < log_normal_interval(50.0, 51.0));
    }
}

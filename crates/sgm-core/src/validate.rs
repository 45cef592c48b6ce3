//! Validation helpers shared by every crate of `sgm`: each returns the value it checked, or a
//! [`CoreError`] naming the parameter, its value and what it must satisfy. Crates wrap the error
//! in their own enum's `Core` variant, so one bad value reads the same wherever it is caught.
//!
//! ```
//! use sgm_core::{CoreError, validate};
//! assert_eq!(validate::positive("snr", 0.16), Ok(0.16));
//! assert!(matches!(
//!     validate::positive("snr", -1.0),
//!     Err(CoreError::InvalidParameter { name: "snr", .. })
//! ));
//! ```

use crate::{CoreError, Result};

/// A [`CoreError::InvalidParameter`] for `name = value`, which must satisfy `requirement`.
pub fn invalid(name: &'static str, value: f64, requirement: &'static str) -> CoreError {
    CoreError::InvalidParameter {
        name,
        value,
        requirement,
    }
}

/// `value` if `ok`, otherwise [`invalid`]`(name, value, requirement)`.
pub fn require(ok: bool, name: &'static str, value: f64, requirement: &'static str) -> Result<f64> {
    if ok {
        Ok(value)
    } else {
        Err(invalid(name, value, requirement))
    }
}

/// `value` if it is finite and > 0.
pub fn positive(name: &'static str, value: f64) -> Result<f64> {
    require(
        value.is_finite() && value > 0.0,
        name,
        value,
        "finite and > 0",
    )
}

/// `value` if it is finite and >= 0.
pub fn non_negative(name: &'static str, value: f64) -> Result<f64> {
    require(
        value.is_finite() && value >= 0.0,
        name,
        value,
        "finite and >= 0",
    )
}

/// `value` if it is finite.
pub fn finite(name: &'static str, value: f64) -> Result<f64> {
    require(value.is_finite(), name, value, "finite")
}

/// `count` if it is at least 1 ([`CoreError::ZeroCount`] otherwise).
pub fn nonzero(name: &'static str, count: usize) -> Result<usize> {
    if count > 0 {
        Ok(count)
    } else {
        Err(CoreError::ZeroCount { name })
    }
}

/// `count` if it is at least `min` ([`CoreError::ZeroCount`] for a zero count, else
/// [`CoreError::TooFew`]).
pub fn at_least(name: &'static str, count: usize, min: usize) -> Result<usize> {
    if count >= min {
        Ok(count)
    } else if count == 0 {
        Err(CoreError::ZeroCount { name })
    } else {
        Err(CoreError::TooFew { name, count, min })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_helper_rejects_exactly_its_bad_values() {
        assert!(positive("x", 0.0).is_err());
        assert!(positive("x", f64::NAN).is_err());
        assert!(positive("x", f64::INFINITY).is_err());
        assert_eq!(non_negative("x", 0.0), Ok(0.0));
        assert!(non_negative("x", -1e-300).is_err());
        assert!(finite("x", f64::NEG_INFINITY).is_err());
        assert_eq!(
            nonzero("steps", 0),
            Err(CoreError::ZeroCount { name: "steps" })
        );
        assert_eq!(at_least("probes", 2, 2), Ok(2));
        assert_eq!(
            at_least("samples", 1, 2),
            Err(CoreError::TooFew {
                name: "samples",
                count: 1,
                min: 2
            })
        );
        assert_eq!(
            at_least("probes", 0, 1),
            Err(CoreError::ZeroCount { name: "probes" })
        );
    }
}

//! Small helpers on burn tensors used across `sgm`.
//!
//! Every tensor these helpers create takes its device and dtype from a tensor the caller passes,
//! so computations stay in the caller's precision (f32 by default, f64 in solver-order tests).

use burn::prelude::*;
use burn::tensor::DType;

use crate::{CoreError, Result};

/// A `[batch]` tensor filled with the time `t`, on the device and with the dtype of `like`.
///
/// ```
/// use burn::prelude::*;
/// let x = Tensor::<2>::zeros([3, 2], &Device::flex());
/// let t = sgm_core::tensor::time_like(0.25, &x);
/// assert_eq!(t.dims(), [3]);
/// ```
pub fn time_like<const D: usize>(t: f64, like: &Tensor<D>) -> Tensor<1> {
    Tensor::full([like.dims()[0]], t, (&like.device(), like.dtype()))
}

/// The float dtype tensors get on `device` when none is given (f32 unless configured).
pub fn default_float_dtype(device: &Device) -> DType {
    device.settings().float_dtype.into()
}

/// A `[batch, 1]` column from a `[batch]` tensor, to scale each row of a `[batch, dim]` tensor.
pub fn column(v: Tensor<1>) -> Tensor<2> {
    v.unsqueeze_dim(1)
}

/// A tensor of `shape` holding `values` (row-major) on `device` with `dtype`.
///
/// # Panics
/// If `values.len()` is not the product of `shape`.
pub fn from_f64<const D: usize>(
    values: &[f64],
    shape: [usize; D],
    device: &Device,
    dtype: DType,
) -> Tensor<D> {
    assert_eq!(
        values.len(),
        shape.iter().product::<usize>(),
        "from_f64: {} values for shape {shape:?}",
        values.len()
    );
    Tensor::from_data(TensorData::new(values.to_vec(), shape), (device, dtype))
}

/// A tensor of `shape` holding `values` (row-major) in f64 on `device`.
///
/// burn creates f32 tensors unless a dtype is passed; solver-order and other precision tests
/// run in f64 from this helper, and everything `sgm` derives from such a tensor (times, noise,
/// coefficients) follows its dtype.
///
/// ```
/// use burn::prelude::*;
/// use burn::tensor::DType;
/// let x = sgm_core::tensor::f64_tensor(&[0.1, 0.2], [1, 2], &Device::flex());
/// assert_eq!(x.dtype(), DType::F64);
/// ```
pub fn f64_tensor<const D: usize>(values: &[f64], shape: [usize; D], device: &Device) -> Tensor<D> {
    from_f64(values, shape, device, DType::F64)
}

/// The values of `x` (row-major) as `f64`, read back to the host (one counted
/// [`host::read`](crate::host::read)).
pub fn to_f64<const D: usize>(x: Tensor<D>) -> Vec<f64> {
    crate::host::read(x)
        .convert::<f64>()
        .try_to_vec::<f64>()
        .expect("a converted tensor reads back as f64")
}

/// Whether every element of `x` is finite (neither NaN nor infinite). One counted host read;
/// inside a loop use [`NonFiniteWatch`](crate::NonFiniteWatch) instead.
pub fn all_finite<const D: usize>(x: &Tensor<D>) -> bool {
    crate::host::read(x.clone().is_finite().all())
        .convert::<bool>()
        .try_to_vec::<bool>()
        .expect("a boolean flag reads back as bool")[0]
}

/// exp(x) - 1, accurate for small |x| where `exp(x) - 1` cancels.
///
/// Kahan's trick: with u = exp(x) rounded, expm1(x) = (u - 1) x / ln(u), which has a relative
/// error of a few ulps for all x (Higham, *Accuracy and Stability of Numerical Algorithms*,
/// 2002, sec. 1.14.1). Where u rounds to exactly 1 the result is x itself; for |x| >= 0.5,
/// u - 1 is already accurate and used directly. At t = 1e-5 the VP variance 1 - m(t)^2 computed
/// as `1 - exp(2 log m)` in f32 is off by 2%; through this function it is exact to f32
/// precision.
///
/// The masked branches may produce NaN gradients under autodiff at u = 1; use it on tensors
/// that need no gradient (times, schedules).
pub fn expm1<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let u = x.clone().exp();
    let u_minus_one = u.clone() - 1.0;
    let kahan = u_minus_one.clone() * x.clone() / u.log();
    let small = x.clone().abs().lower_elem(0.5);
    let exactly_one = u_minus_one.clone().equal_elem(0.0);
    u_minus_one
        .mask_where(small, kahan)
        .mask_where(exactly_one, x)
}

/// log sum_j exp(x_ij) over the last axis of a `[batch, k]` tensor, `[batch]`, computed stably
/// as m + log sum exp(x - m) with m the row maximum.
pub fn log_sum_exp(x: Tensor<2>) -> Tensor<1> {
    let max = x.clone().max_dim(1).detach();
    ((x - max.clone()).exp().sum_dim(1).log() + max).squeeze_dim(1)
}

/// Checks that `x` is `[batch, dim]` with the given `dim`.
pub fn check_dim(what: &'static str, x: &Tensor<2>, dim: usize) -> Result<()> {
    let [batch, found] = x.dims();
    if found == dim {
        Ok(())
    } else {
        Err(CoreError::ShapeMismatch {
            what,
            expected: vec![batch, dim],
            found: vec![batch, found],
        })
    }
}

/// Checks that two tensors have the same shape.
pub fn check_same_shape<const D: usize>(
    what: &'static str,
    a: &Tensor<D>,
    b: &Tensor<D>,
) -> Result<()> {
    if a.dims() == b.dims() {
        Ok(())
    } else {
        Err(CoreError::ShapeMismatch {
            what,
            expected: a.dims().to_vec(),
            found: b.dims().to_vec(),
        })
    }
}

/// Checks that a `[batch]` time tensor matches a `[batch, dim]` sample tensor.
pub fn check_times(what: &'static str, x: &Tensor<2>, t: &Tensor<1>) -> Result<()> {
    let [batch, _] = x.dims();
    let [found] = t.dims();
    if found == batch {
        Ok(())
    } else {
        Err(CoreError::ShapeMismatch {
            what,
            expected: vec![batch],
            found: vec![found],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expm1_is_accurate_in_f32_for_small_and_large_arguments() {
        let device = Device::flex();
        let xs = [
            -30.0, -2.0, -0.6, -0.4, -1e-3, -2e-5, -1e-9, 0.0, 1e-9, 3e-6, 0.3, 0.7, 5.0,
        ];
        let x = from_f64(&xs, [xs.len()], &device, DType::F32);
        let got = to_f64(expm1(x));
        for (&xv, g) in xs.iter().zip(got) {
            let want = (xv as f32 as f64).exp_m1();
            // A few f32 ulps: relative 1e-6.
            assert!(
                (g - want).abs() <= 1e-6 * want.abs().max(1e-30),
                "expm1({xv}) = {g}, want {want}"
            );
        }
    }

    #[test]
    fn log_sum_exp_is_stable_for_large_arguments() {
        let device = Device::flex();
        let x = from_f64(&[1000.0, 1000.0, -1000.0, 0.0], [2, 2], &device, DType::F32);
        let got = to_f64(log_sum_exp(x));
        approx::assert_relative_eq!(got[0], 1000.0 + 2f64.ln(), max_relative = 1e-6);
        approx::assert_abs_diff_eq!(got[1], 0.0, epsilon = 1e-6);
    }

    #[test]
    fn shape_checks_name_the_offending_shapes() {
        let device = Device::flex();
        let x = Tensor::<2>::zeros([4, 3], &device);
        assert!(check_dim("x", &x, 3).is_ok());
        assert_eq!(
            check_dim("x", &x, 2),
            Err(CoreError::ShapeMismatch {
                what: "x",
                expected: vec![4, 2],
                found: vec![4, 3]
            })
        );
        let t = Tensor::<1>::zeros([5], &device);
        assert!(check_times("t", &x, &t).is_err());
        assert!(crate::validate::positive("sigma", 0.0).is_err());
        assert!(crate::validate::positive("sigma", f64::NAN).is_err());
    }
}

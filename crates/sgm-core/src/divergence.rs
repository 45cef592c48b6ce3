//! Divergences and Jacobian quadratic forms from Jacobian-vector products.
//!
//! For a vector field F: R^d -> R^d with Jacobian J, three quantities of score-based modelling
//! are quadratic forms v^T J v over a set of directions v:
//!
//! - the exact divergence div F = tr J = sum_i e_i^T J e_i over the d unit vectors (implicit
//!   score matching, exact likelihood for small d);
//! - the Hutchinson-Skilling estimate tr J ~ v^T J v with E[v v^T] = I (Hutchinson 1989,
//!   Skilling 1989; likelihood for large d);
//! - sliced score matching's v^T J v over random projections (Song et al., UAI 2019).
//!
//! [`jvp_quadratic_forms`] computes all of them with one batched JVP call: the `K` directions of
//! every sample are stacked into a `[batch K, dim]` batch (sample-major: row `i K + k` is sample `i`
//! with direction `k`). One layout holds throughout: directions are `[batch, K, dim]`, per-probe
//! results `[batch, K]`. Directions come from
//! [`unit_directions`] or [`Projection::sample`].

use burn::prelude::*;

use crate::{CoreError, NoiseSource, NoiseSourceExt, Result};

/// Distribution of random projection (probe) vectors v with E[v v^T] = I.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Projection {
    /// v ~ N(0, I).
    #[default]
    Gaussian,
    /// Each coordinate uniform on {-1, +1}: the Hutchinson estimator of smallest variance
    /// among vectors with independent coordinates.
    Rademacher,
    /// Uniform on the sphere of radius sqrt(d), so that E[v v^T] = I.
    Sphere,
}

impl Projection {
    /// Draws `k` directions per sample of `like` (`[batch, dim]`): returns `[batch, k, dim]`.
    ///
    /// # Errors
    /// [`CoreError::ZeroCount`] if `k == 0`.
    pub fn sample(
        self,
        k: usize,
        like: &Tensor<2>,
        noise: &mut dyn NoiseSource,
    ) -> Result<Tensor<3>> {
        if k == 0 {
            return Err(CoreError::ZeroCount {
                name: "projections",
            });
        }
        let [batch, dim] = like.dims();
        let template = Tensor::<3>::empty([batch, k, dim], (&like.device(), like.dtype()));
        Ok(match self {
            Projection::Gaussian => noise.normal_like(&template),
            Projection::Rademacher => noise.rademacher_like(&template),
            Projection::Sphere => {
                let z = noise.normal_like(&template);
                let norm = z.clone().square().sum_dim(2).sqrt();
                z / norm * (dim as f64).sqrt()
            }
        })
    }
}

/// The `dim` unit vectors for every sample of `like` (`[batch, dim]`): returns
/// `[batch, dim, dim]` with `out[b, i, :] = e_i`.
pub fn unit_directions(like: &Tensor<2>) -> Tensor<3> {
    let [batch, dim] = like.dims();
    let eye = Tensor::<2>::eye(dim, &like.device()).cast(like.dtype());
    eye.unsqueeze_dim::<3>(0).expand([batch, dim, dim])
}

/// What [`jvp_quadratic_forms`] returns.
#[derive(Debug, Clone)]
pub struct QuadraticForms {
    /// F(x), `[batch, dim]`.
    pub value: Tensor<2>,
    /// v_k^T J v_k for every sample and direction, `[batch, K]`.
    pub forms: Tensor<2>,
    /// v_k^T F(x) for every sample and direction, `[batch, K]`.
    pub projections: Tensor<2>,
}

impl QuadraticForms {
    /// sum_k v_k^T J v_k, `[batch]`: the exact divergence when the directions are
    /// [`unit_directions`].
    pub fn trace(&self) -> Tensor<1> {
        self.forms.clone().sum_dim(1).squeeze_dim(1)
    }

    /// mean_k v_k^T J v_k, `[batch]`: the Hutchinson estimate of the divergence.
    pub fn mean(&self) -> Tensor<1> {
        self.forms.clone().mean_dim(1).squeeze_dim(1)
    }
}

/// Computes F(x) and the quadratic forms v^T J v over `directions` with one call of `jvp`.
///
/// `jvp(x_rep, t_rep, v)` must return (F(x_rep, t_rep), J F(x_rep, t_rep) v) for a
/// `[batch K, dim]` batch whose row `i K + k` is sample `i` of `x` (at its time `t[i]`) with the
/// direction `directions[i, k]`, or the error that stopped it. A score model's
/// `checked_score_jvp` is such a closure.
///
/// # Shapes
/// - `x`: `[batch, dim]`; `t`: `[batch]`; `directions`: `[batch, K, dim]`.
///
/// # Errors
/// [`CoreError::ShapeMismatch`] if `directions` is not `[batch, K, dim]` for `x` of
/// `[batch, dim]`, if `t` is not `[batch]`, or if `jvp` returns tensors of another shape than
/// its input; the error of `jvp` itself.
pub fn jvp_quadratic_forms<F>(
    jvp: F,
    x: Tensor<2>,
    t: Tensor<1>,
    directions: Tensor<3>,
) -> Result<QuadraticForms>
where
    F: FnOnce(Tensor<2>, Tensor<1>, Tensor<2>) -> Result<(Tensor<2>, Tensor<2>)>,
{
    let [batch, k, dim] = directions.dims();
    if x.dims() != [batch, dim] {
        return Err(CoreError::ShapeMismatch {
            what: "JVP directions",
            expected: vec![x.dims()[0], k, x.dims()[1]],
            found: vec![batch, k, dim],
        });
    }
    crate::tensor::check_times("JVP times", &x, &t)?;
    let x_rep = x
        .unsqueeze_dim::<3>(1)
        .expand([batch, k, dim])
        .reshape([batch * k, dim]);
    let t_rep = t
        .unsqueeze_dim::<2>(1)
        .expand([batch, k])
        .reshape([batch * k]);
    let v = directions.reshape([batch * k, dim]);
    let (f_rep, jv) = jvp(x_rep, t_rep, v.clone())?;
    // The closure's outputs must have its input's shape (a score model's contract).
    for out in [&f_rep, &jv] {
        if out.dims() != [batch * k, dim] {
            return Err(CoreError::ShapeMismatch {
                what: "score model output",
                expected: vec![batch * k, dim],
                found: out.dims().to_vec(),
            });
        }
    }
    let per_row = |a: Tensor<2>| a.sum_dim(1).reshape([batch, k]);
    Ok(QuadraticForms {
        value: f_rep
            .clone()
            .reshape([batch, k, dim])
            .narrow(1, 0, 1)
            .reshape([batch, dim]),
        forms: per_row(jv * v.clone()),
        projections: per_row(f_rep * v),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HostNoise;
    use crate::tensor::{from_f64, to_f64};
    use burn::tensor::DType;

    /// F(x) = A x for a fixed A: J = A, so v^T J v and tr J are known in closed form.
    fn linear_jvp(
        a: Tensor<2>,
    ) -> impl Fn(Tensor<2>, Tensor<1>, Tensor<2>) -> Result<(Tensor<2>, Tensor<2>)> {
        move |x, _t, v| {
            Ok((
                x.matmul(a.clone().transpose()),
                v.matmul(a.clone().transpose()),
            ))
        }
    }

    #[test]
    fn exact_trace_of_a_linear_field_is_the_matrix_trace() {
        let device = Device::flex();
        let a = from_f64(
            &[1.0, 2.0, 0.5, -3.0, 0.25, 4.0, 1.5, 0.0, 2.0],
            [3, 3],
            &device,
            DType::F32,
        );
        let x = from_f64(
            &[0.1, 0.2, 0.3, -1.0, 0.0, 2.0],
            [2, 3],
            &device,
            DType::F32,
        );
        let t = crate::tensor::time_like(0.0, &x);
        let q = jvp_quadratic_forms(linear_jvp(a), x.clone(), t, unit_directions(&x)).unwrap();
        assert_eq!(to_f64(q.trace()), vec![3.25, 3.25]);
        assert_eq!(q.forms.dims(), [2, 3]);
        // The first block of values is F(x) itself: row 0 = A (0.1, 0.2, 0.3).
        let f = to_f64(q.value);
        approx::assert_abs_diff_eq!(f[0], 0.1 + 0.4 + 0.15, epsilon = 1e-6);
    }

    #[test]
    fn projections_have_identity_second_moment() {
        let device = Device::flex();
        let x = Tensor::<2>::zeros([2000, 3], &device);
        let mut noise = HostNoise::new(1);
        for kind in [
            Projection::Gaussian,
            Projection::Rademacher,
            Projection::Sphere,
        ] {
            let v = kind.sample(4, &x, &mut noise).unwrap().reshape([8000, 3]);
            let m = to_f64(v.clone().transpose().matmul(v) / 8000.0);
            // Entries of the sample second moment have std <= sqrt(2 / 8000) = 0.016 for
            // Gaussians (Var v_i^2 = 2) and less for the others: 4 standard errors = 0.063.
            for i in 0..3 {
                for j in 0..3 {
                    let want = if i == j { 1.0 } else { 0.0 };
                    assert!(
                        (m[3 * i + j] - want).abs() < 0.063,
                        "{kind:?} E[vv^T]_{i}{j} = {}",
                        m[3 * i + j]
                    );
                }
            }
        }
        assert_eq!(
            Projection::Gaussian.sample(0, &x, &mut noise).unwrap_err(),
            CoreError::ZeroCount {
                name: "projections"
            }
        );
    }

    #[test]
    fn rademacher_and_sphere_norms_are_exactly_sqrt_dim() {
        let device = Device::flex();
        let x = Tensor::<2>::zeros([10, 5], &device);
        let mut noise = HostNoise::new(2);
        for kind in [Projection::Rademacher, Projection::Sphere] {
            let v = kind.sample(3, &x, &mut noise).unwrap();
            for n in to_f64(v.square().sum_dim(2)) {
                approx::assert_relative_eq!(n, 5.0, max_relative = 1e-5);
            }
        }
    }
}

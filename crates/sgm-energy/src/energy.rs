use burn::prelude::*;
use sgm_core::ScoreModel;

/// An energy E(x, t) of an energy-based model p_t(x) = exp(-E(x, t)) / Z(t), with its
/// derivatives in closed form.
///
/// `t` conditions the energy on a noise level (for a noise-conditional energy trained by
/// denoising score matching); an unconditional energy ignores it. burn differentiates only once,
/// so an energy that is to be trained by score matching must give grad_x E and the
/// Hessian-vector product H v as ordinary tensor operations (its backward pass written out),
/// which one `backward` then differentiates in the parameters.
///
/// # Shapes
/// `x`, `v`: `[batch, dim]`; `t`: `[batch]`; energies and traces `[batch]`.
pub trait EnergyModel {
    /// E(x, t), `[batch]`.
    fn energy(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<1>;

    /// grad_x E(x, t), `[batch, dim]`.
    fn energy_grad(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2>;

    /// (grad_x E, H v) with H the Hessian of E in x.
    fn energy_hvp(&self, x: Tensor<2>, t: Tensor<1>, v: Tensor<2>) -> (Tensor<2>, Tensor<2>);

    /// tr H per sample, `[batch]` (the divergence of -s, which implicit score matching needs).
    /// Default: the d unit-vector Hessian-vector products in one batched call
    /// ([`jvp_quadratic_forms`](sgm_core::divergence::jvp_quadratic_forms)).
    ///
    /// # Panics
    /// In the default, if `t` is not `[batch]` or [`EnergyModel::energy_hvp`] returns tensors of
    /// another shape than its input (the trait's shape contract).
    fn hessian_trace(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<1> {
        let directions = sgm_core::divergence::unit_directions(&x);
        sgm_core::divergence::jvp_quadratic_forms(
            |x, t, v| Ok(self.energy_hvp(x, t, v)),
            x,
            t,
            directions,
        )
        .expect("an energy's HVP has the shape of its input")
        .trace()
    }
}

macro_rules! forward_energy {
    ($($ptr:ty),*) => {$(
        impl<T: EnergyModel + ?Sized> EnergyModel for $ptr {
            fn energy(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<1> {
                (**self).energy(x, t)
            }
            fn energy_grad(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
                (**self).energy_grad(x, t)
            }
            fn energy_hvp(&self, x: Tensor<2>, t: Tensor<1>, v: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
                (**self).energy_hvp(x, t, v)
            }
            fn hessian_trace(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<1> {
                (**self).hessian_trace(x, t)
            }
        }
    )*};
}

forward_energy!(&T, Box<T>, std::sync::Arc<T>);

/// The score model s = -grad_x E of an energy, with its exact JVP J s v = -H v: what lets every
/// loss, sampler and likelihood of `sgm` use an energy model.
///
/// ```
/// use burn::prelude::*;
/// use sgm_core::ScoreModel;
/// use sgm_energy::{EnergyScore, QuadraticEnergy};
/// let device = Device::flex();
/// // N((1, 0), I): s(x) = -(x - mu).
/// let energy = QuadraticEnergy::new(&[1.0, 0.0], &[1.0, 0.0, 0.0, 1.0], &device, burn::tensor::DType::F32)?;
/// let model = EnergyScore(energy);
/// let x = Tensor::<2>::zeros([1, 2], &device);
/// let s: Vec<f32> = model.score(x.clone(), sgm_core::tensor::time_like(0.0, &x)).into_data().to_vec().unwrap();
/// assert_eq!(s, vec![1.0, 0.0]);
/// # Ok::<(), sgm_energy::EnergyError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct EnergyScore<E>(pub E);

impl<E: EnergyModel> ScoreModel for EnergyScore<E> {
    fn score(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        -self.0.energy_grad(x, t)
    }

    fn score_jvp(&self, x: Tensor<2>, t: Tensor<1>, v: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let (grad, hv) = self.0.energy_hvp(x, t, v);
        (-grad, -hv)
    }
}

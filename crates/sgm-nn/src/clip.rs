use burn::module::{ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;

/// Clips the gradients of `model`'s float parameters by their global norm, as PyTorch's
/// `clip_grad_norm_` (Pascanu et al. 2013): with ||g|| the Euclidean norm of all gradients
/// together, every gradient is multiplied by
///
/// ```text
/// min(1, max_norm / (||g|| + 1e-6)).
/// ```
///
/// burn's own `GradientClipping::Norm` clips each parameter tensor by its own norm, which
/// changes the direction of the whole update; the global form keeps it. Everything stays on
/// the device (no read-back).
pub(crate) fn clip_global_norm<M: Module>(
    model: &M,
    grads: GradientsParams,
    max_norm: f64,
) -> GradientsParams {
    let mut norm = SquaredNorm {
        grads: &grads,
        total: None,
    };
    model.visit(&mut norm);
    let Some(total) = norm.total else {
        return grads;
    };
    let scale = (total.sqrt() + 1e-6)
        .recip()
        .mul_scalar(max_norm)
        .clamp_max(1.0);
    let mut scaler = Scale { grads, scale };
    model.visit(&mut scaler);
    scaler.grads
}

/// Sums the squares of every gradient (one `[1]` tensor).
struct SquaredNorm<'a> {
    grads: &'a GradientsParams,
    total: Option<Tensor<1>>,
}

impl ModuleVisitor for SquaredNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.get::<D>(param.id) {
            let squares = grad.square().sum();
            self.total = Some(match self.total.take() {
                Some(total) => total + squares,
                None => squares,
            });
        }
    }
}

/// Multiplies every gradient by `scale`.
struct Scale {
    grads: GradientsParams,
    scale: Tensor<1>,
}

impl ModuleVisitor for Scale {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.remove::<D>(param.id) {
            let scale = self.scale.clone().reshape([1; D]);
            self.grads.register(param.id, grad * scale);
        }
    }
}

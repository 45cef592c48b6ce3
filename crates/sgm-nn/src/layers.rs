//! Layers of the image networks, each evaluated with an optional tangent: `(y, Some(J v))`
//! for `(x, Some(v))`, the Jacobian-vector product carried by ordinary tensor operations (so it
//! stays on burn's autodiff graph and is differentiable in the parameters), or `(y, None)`.
//! One code path serves the forward pass and the JVP.

use burn::module::Param;
use burn::nn::conv::Conv2dConfig;
use burn::nn::{GroupNorm, GroupNormConfig, Linear};
use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

/// A value and its optional tangent.
pub(crate) type Dual<const D: usize> = (Tensor<D>, Option<Tensor<D>>);

/// sigmoid(h) = 1 / (1 + exp(-h)) from a single exponential: on flex, burn's `sigmoid` and
/// `silu` cost about twice as much (docs/PERFORMANCE.md), and the activation dominates the MLP
/// workloads there. h is clamped to [-80, 80] first, where sigmoid is within 2e-35 of its
/// limits: exp(-h) then stays finite in f32, so neither the value nor its gradient can become
/// inf * 0 = NaN.
pub(crate) fn sigmoid<const D: usize>(h: Tensor<D>) -> Tensor<D> {
    (h.clamp(-80.0, 80.0).neg().exp() + 1.0).recip()
}

/// SiLU(h) = h sigmoid(h), with tangent sigmoid(h) (1 + h (1 - sigmoid(h))) v.
pub(crate) fn silu<const D: usize>((h, v): Dual<D>) -> Dual<D> {
    let s = sigmoid(h.clone());
    let tangent = v.map(|v| s.clone() * (h.clone() * (-s.clone() + 1.0) + 1.0) * v);
    (h * s, tangent)
}

/// A 2-D convolution with square kernel, symmetric zero padding and a bias: y = W * x + b,
/// whose tangent is the same convolution without the bias, W * v. Initialised as PyTorch's
/// `Conv2d` (weights and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))).
#[derive(Module, Debug)]
pub(crate) struct Conv {
    weight: Param<Tensor<4>>,
    bias: Param<Tensor<1>>,
    stride: usize,
    padding: usize,
}

impl Conv {
    /// `channels_in -> channels_out`, `kernel x kernel`, padding (kernel - 1) / 2 ("same" at
    /// stride 1).
    pub fn new(
        channels_in: usize,
        channels_out: usize,
        kernel: usize,
        stride: usize,
        device: &Device,
    ) -> Self {
        let conv = Conv2dConfig::new([channels_in, channels_out], [kernel, kernel]).init(device);
        Self {
            weight: conv.weight,
            bias: conv.bias.expect("Conv2dConfig has a bias by default"),
            stride,
            padding: (kernel - 1) / 2,
        }
    }

    fn options(&self) -> ConvOptions<2> {
        ConvOptions::new([self.stride; 2], [self.padding; 2], [1, 1], 1)
    }

    pub fn run(&self, (x, v): Dual<4>) -> Dual<4> {
        let tangent = v.map(|v| conv2d(v, self.weight.val(), None, self.options()));
        let y = conv2d(x, self.weight.val(), Some(self.bias.val()), self.options());
        (y, tangent)
    }
}

/// The tangent of a linear layer on `[batch, n, d_in]` rows: v W (no bias).
pub(crate) fn linear_tangent(layer: &Linear, v: Tensor<3>) -> Tensor<3> {
    let [b, n, d] = v.dims();
    let w = layer.weight.val();
    let out = w.dims()[1];
    v.reshape([b * n, d]).matmul(w).reshape([b, n, out])
}

/// A linear layer with its tangent on `[batch, n, d]` rows.
pub(crate) fn linear(layer: &Linear, (x, v): Dual<3>) -> Dual<3> {
    let tangent = v.map(|v| linear_tangent(layer, v));
    (layer.forward(x), tangent)
}

/// A group norm with affine parameters (Wu & He 2018), PyTorch's defaults (eps = 1e-5).
pub(crate) fn group_norm(groups: usize, channels: usize, device: &Device) -> GroupNorm {
    GroupNormConfig::new(groups, channels).init(device)
}

/// Group normalisation y = gamma x_hat + beta, x_hat = (x - mu) / sigma over each group of
/// channels and all positions (biased variance, sigma = sqrt(var + eps)), with the tangent
///
/// ```text
/// J v = gamma (v - mean(v) - x_hat mean(x_hat v)) / sigma     (means over the group).
/// ```
pub(crate) fn group_norm_run(norm: &GroupNorm, (x, v): Dual<4>) -> Dual<4> {
    let [b, c, h, w] = x.dims();
    let g = norm.num_groups;
    let n = c / g * h * w;
    let xg = x.reshape([b, g, n]);
    let centered = xg.clone() - xg.mean_dim(2);
    let inv_sigma = (centered.clone().square().mean_dim(2) + norm.epsilon)
        .sqrt()
        .recip();
    let x_hat = centered * inv_sigma.clone();
    let gamma = norm
        .gamma
        .as_ref()
        .expect("an affine group norm")
        .val()
        .reshape([1, c, 1, 1]);
    let beta = norm
        .beta
        .as_ref()
        .expect("an affine group norm")
        .val()
        .reshape([1, c, 1, 1]);
    let tangent = v.map(|v| {
        let vg = v.reshape([b, g, n]);
        let projection = (x_hat.clone() * vg.clone()).mean_dim(2);
        let t = (vg.clone() - vg.mean_dim(2) - x_hat.clone() * projection) * inv_sigma;
        t.reshape([b, c, h, w]) * gamma.clone()
    });
    (x_hat.reshape([b, c, h, w]) * gamma + beta, tangent)
}

/// Nearest-neighbour upsampling by 2 in both spatial dimensions (linear: the tangent is
/// upsampled the same way).
pub(crate) fn upsample(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h, 1, w, 1])
        .repeat_dim(3, 2)
        .repeat_dim(5, 2)
        .reshape([b, c, 2 * h, 2 * w])
}

/// Concatenates two duals along the channels.
pub(crate) fn concat((a, va): Dual<4>, (b, vb): Dual<4>) -> Dual<4> {
    let tangent = va.zip(vb).map(|(va, vb)| Tensor::cat(vec![va, vb], 1));
    (Tensor::cat(vec![a, b], 1), tangent)
}

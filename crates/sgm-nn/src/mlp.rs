use burn::module::Param;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};
use sgm_core::ScoreModel;

use crate::{NnError, Result, ScoreNetwork};

/// The hidden-layer nonlinearity of [`ScoreMlp`].
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Activation {
    /// SiLU(h) = h sigmoid(h) (Hendrycks & Gimpel 2016; Elfwing et al. 2018), with derivative
    /// sigmoid(h) (1 + h (1 - sigmoid(h))).
    Silu,
    /// No nonlinearity: the network is affine in x (used to check JVPs against the product
    /// of the weight matrices).
    Identity,
}

/// sigmoid(h) = 1 / (1 + exp(-h)) from a single exponential: on flex, burn's `sigmoid` and
/// `silu` cost about twice as much (docs/PERFORMANCE.md), and the activation dominates the
/// MLP workloads there. h is clamped to [-80, 80] first, where sigmoid is within 2e-35 of its
/// limits: exp(-h) then stays finite in f32, so neither the value nor its gradient can become
/// inf * 0 = NaN.
fn sigmoid(h: Tensor<2>) -> Tensor<2> {
    (h.clamp(-80.0, 80.0).neg().exp() + 1.0).recip()
}

impl Activation {
    /// (a(h), a'(h) * th): the activation and its tangent.
    fn apply_jvp(self, h: Tensor<2>, th: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        match self {
            Activation::Silu => {
                let s = sigmoid(h.clone());
                let derivative = s.clone() * (h.clone() * (-s.clone() + 1.0) + 1.0);
                (h * s, derivative * th)
            }
            Activation::Identity => (h, th),
        }
    }

    fn apply(self, h: Tensor<2>) -> Tensor<2> {
        match self {
            Activation::Silu => h.clone() * sigmoid(h),
            Activation::Identity => h,
        }
    }
}

/// Configuration of a [`ScoreMlp`].
///
/// ```
/// use burn::prelude::*;
/// use sgm_nn::{ScoreMlpConfig, ScoreNetwork};
///
/// let device = Device::flex();
/// let net = ScoreMlpConfig::new(2).with_hidden(32).init(&device)?;
/// let h = net.forward(Tensor::zeros([5, 2], &device), Tensor::zeros([5], &device));
/// assert_eq!(h.dims(), [5, 2]);
/// # Ok::<(), sgm_nn::NnError>(())
/// ```
#[derive(Config, Debug)]
pub struct ScoreMlpConfig {
    /// Data dimension d (input and output width).
    pub dim: usize,
    /// Width of the hidden layers.
    #[config(default = 128)]
    pub hidden: usize,
    /// Number of hidden layers (each Linear then activation).
    #[config(default = 3)]
    pub depth: usize,
    /// Number F of random Fourier frequencies for the time features; 0 gives a network that
    /// ignores t.
    #[config(default = 8)]
    pub fourier_features: usize,
    /// Scale of the frequencies f ~ N(0, scale^2).
    #[config(default = 16.0)]
    pub fourier_scale: f64,
    /// Outputs per data dimension: the output layer has `dim * outputs_per_dim` units (1 for a
    /// score; K for the level logits of [`BinnedDenoiser`](crate::BinnedDenoiser)).
    #[config(default = 1)]
    pub outputs_per_dim: usize,
    /// Hidden-layer nonlinearity.
    #[config(default = "Activation::Silu")]
    pub activation: Activation,
    /// Seed of the host generator that draws the Fourier frequencies (the linear layers use
    /// burn's initialisers and the device's generator).
    #[config(default = 0)]
    pub seed: u64,
}

impl ScoreMlpConfig {
    /// Builds the network on `device`.
    ///
    /// # Errors
    /// [`NnError::Core`] (`CoreError::ZeroCount`) for a zero dimension, width or depth, (`InvalidParameter`) for a non-positive
    /// Fourier scale.
    pub fn init(&self, device: &Device) -> Result<ScoreMlp> {
        for (name, value) in [
            ("dim", self.dim),
            ("hidden", self.hidden),
            ("depth", self.depth),
            ("outputs_per_dim", self.outputs_per_dim),
        ] {
            sgm_core::validate::nonzero(name, value)?;
        }
        if !(self.fourier_scale.is_finite() && self.fourier_scale > 0.0) {
            return Err(NnError::from(sgm_core::validate::invalid(
                "fourier_scale",
                self.fourier_scale,
                "finite and > 0",
            )));
        }
        let mut rng = StdRng::seed_from_u64(self.seed);
        let frequencies: Vec<f32> = (0..self.fourier_features)
            .map(|_| {
                let z: f64 = StandardNormal.sample(&mut rng);
                (z * self.fourier_scale) as f32
            })
            .collect();
        let frequencies = Tensor::<1>::from_data(
            TensorData::new(frequencies, [self.fourier_features]),
            device,
        );
        let input = self.dim + 2 * self.fourier_features;
        let hidden = (0..self.depth)
            .map(|i| {
                let d_in = if i == 0 { input } else { self.hidden };
                LinearConfig::new(d_in, self.hidden).init(device)
            })
            .collect();
        Ok(ScoreMlp {
            frequencies: Param::from_tensor(frequencies).set_require_grad(false),
            hidden,
            output: LinearConfig::new(self.hidden, self.dim * self.outputs_per_dim).init(device),
            activation: self.activation,
            dim: self.dim,
        })
    }
}

/// An MLP score network (the toy-data network of score_sde and k-diffusion):
///
/// ```text
/// phi(t) = [sin(2 pi f t), cos(2 pi f t)],  f ~ N(0, scale^2) fixed (Tancik et al. 2020),
/// h_0 = [x, phi(t)],  h_l = a(h_{l-1} W_l + b_l),  l = 1..depth,  out = h_depth W + b.
/// ```
///
/// The Fourier frequencies are a parameter excluded from training (saved with the weights).
/// [`ScoreNetwork::forward_jvp`] is exact: the tangent of h_0 is [v, 0], and each layer maps it
/// by v W and a'(h) * v. As a [`ScoreModel`] the raw output is the score; use
/// [`Parameterized`](crate::Parameterized) for the other parameterisations.
#[derive(Module, Debug)]
pub struct ScoreMlp {
    frequencies: Param<Tensor<1>>,
    hidden: Vec<Linear>,
    output: Linear,
    #[module(skip)]
    activation: Activation,
    dim: usize,
}

impl ScoreMlp {
    /// The data dimension d.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The Fourier frequencies f.
    pub fn frequencies(&self) -> Tensor<1> {
        self.frequencies.val()
    }

    /// The hidden layers, first first.
    pub fn hidden_layers(&self) -> &[Linear] {
        &self.hidden
    }

    /// The hidden layers, mutably (for weight surgery in experiments and tests).
    pub fn hidden_layers_mut(&mut self) -> &mut [Linear] {
        &mut self.hidden
    }

    /// The output layer.
    pub fn output_layer(&self) -> &Linear {
        &self.output
    }

    /// [x, sin(2 pi f t), cos(2 pi f t)], `[batch, dim + 2 F]`.
    fn features(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        if self.frequencies.dims()[0] == 0 {
            return x;
        }
        let angles = t.unsqueeze_dim::<2>(1).cast(x.dtype())
            * self.frequencies.val().cast(x.dtype()).unsqueeze_dim::<2>(0)
            * (2.0 * std::f64::consts::PI);
        Tensor::cat(vec![x, angles.clone().sin(), angles.cos()], 1)
    }
}

impl ScoreNetwork for ScoreMlp {
    fn forward(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        let mut h = self.features(x, t);
        for layer in &self.hidden {
            h = self.activation.apply(layer.forward(h));
        }
        self.output.forward(h)
    }

    fn forward_jvp(&self, x: Tensor<2>, t: Tensor<1>, v: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let mut h = self.features(x, t);
        // The time features do not depend on x: the input tangent is [v, 0], so only the first
        // `dim` rows of the first weight matrix (stored [d_in, d_out]) act on it.
        let mut th = v;
        for (i, layer) in self.hidden.iter().enumerate() {
            let w = layer.weight.val();
            let w = if i == 0 { w.narrow(0, 0, self.dim) } else { w };
            (h, th) = self.activation.apply_jvp(layer.forward(h), th.matmul(w));
        }
        (self.output.forward(h), th.matmul(self.output.weight.val()))
    }
}

impl ScoreModel for ScoreMlp {
    fn score(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        self.forward(x, t)
    }

    fn score_jvp(&self, x: Tensor<2>, t: Tensor<1>, v: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        self.forward_jvp(x, t, v)
    }
}

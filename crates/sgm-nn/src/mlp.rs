use burn::module::Param;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};
use sgm_core::{ConditionalScoreModel, ScoreModel};

use crate::layers::silu;
use crate::{ConditionalScoreNetwork, NnError, Result, ScoreNetwork};

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

impl Activation {
    /// (a(h), a'(h) * th): the activation and its tangent.
    fn apply_jvp(self, h: Tensor<2>, th: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        match self {
            Activation::Silu => {
                let (y, tangent) = silu((h, Some(th)));
                (y, tangent.expect("a tangent was passed in"))
            }
            Activation::Identity => (h, th),
        }
    }

    fn apply(self, h: Tensor<2>) -> Tensor<2> {
        match self {
            Activation::Silu => silu((h, None)).0,
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
    /// Width c of the condition rows y (one-hot classes or features; 0: an unconditional
    /// network). Each hidden layer adds the label embedding y E_l (E_l a `[c, hidden]` linear
    /// map without bias) to its pre-activation.
    #[config(default = 0)]
    pub condition_dim: usize,
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
        let embeddings = if self.condition_dim == 0 {
            Vec::new()
        } else {
            (0..self.depth)
                .map(|_| {
                    LinearConfig::new(self.condition_dim, self.hidden)
                        .with_bias(false)
                        .init(device)
                })
                .collect()
        };
        Ok(ScoreMlp {
            frequencies: Param::from_tensor(frequencies).set_require_grad(false),
            hidden,
            embeddings,
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
/// h_0 = [x, phi(t)],  h_l = a(h_{l-1} W_l + b_l + y E_l),  l = 1..depth,  out = h_depth W + b.
/// ```
///
/// The term y E_l is there only for a conditional network (`condition_dim` > 0): the label
/// embedding of a class-conditional model, added at every layer as diffusion U-Nets add theirs
/// to the time embedding (Dhariwal & Nichol 2021). As a [`ConditionalScoreModel`] the network
/// evaluates s(x, t, y); `y = None` is the null condition y = 0 (no embedding), the label that
/// `sgm_losses::ConditionalDsm`'s label dropout trains for classifier-free guidance.
///
/// The Fourier frequencies are a parameter excluded from training (saved with the weights).
/// [`ScoreNetwork::forward_jvp`] is exact: the tangent of h_0 is [v, 0], and each layer maps it
/// by v W and a'(h) * v. As a [`ScoreModel`] the raw output is the score; use
/// [`Parameterized`](crate::Parameterized) for the other parameterisations.
#[derive(Module, Debug)]
pub struct ScoreMlp {
    frequencies: Param<Tensor<1>>,
    hidden: Vec<Linear>,
    /// The label embeddings E_l, one per hidden layer (empty for an unconditional network).
    embeddings: Vec<Linear>,
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

impl ScoreMlp {
    /// The width c of the condition rows (0 for an unconditional network).
    pub fn condition_dim(&self) -> usize {
        self.embeddings.first().map_or(0, |e| e.weight.dims()[0])
    }

    /// Layer `i`'s pre-activation h W_i + b_i (+ y E_i for a condition).
    fn pre_activation(&self, i: usize, h: Tensor<2>, y: Option<&Tensor<2>>) -> Tensor<2> {
        let pre = self.hidden[i].forward(h);
        match (y, self.embeddings.get(i)) {
            (Some(y), Some(embedding)) => pre + embedding.forward(y.clone()),
            _ => pre,
        }
    }

    /// The network output for the condition `y` (`None`: the null condition).
    fn forward_with(&self, x: Tensor<2>, t: Tensor<1>, y: Option<&Tensor<2>>) -> Tensor<2> {
        let mut h = self.features(x, t);
        for i in 0..self.hidden.len() {
            h = self.activation.apply(self.pre_activation(i, h, y));
        }
        self.output.forward(h)
    }

    /// (output, J_x output v) for the condition `y`.
    fn forward_jvp_with(
        &self,
        x: Tensor<2>,
        t: Tensor<1>,
        v: Tensor<2>,
        y: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<2>) {
        let mut h = self.features(x, t);
        // The time features and the label embeddings do not depend on x: the input tangent is
        // [v, 0], so only the first `dim` rows of the first weight matrix (stored
        // [d_in, d_out]) act on it.
        let mut th = v;
        for i in 0..self.hidden.len() {
            let w = self.hidden[i].weight.val();
            let w = if i == 0 { w.narrow(0, 0, self.dim) } else { w };
            (h, th) = self
                .activation
                .apply_jvp(self.pre_activation(i, h, y), th.matmul(w));
        }
        (self.output.forward(h), th.matmul(self.output.weight.val()))
    }
}

impl ScoreNetwork for ScoreMlp {
    fn forward(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        self.forward_with(x, t, None)
    }

    fn forward_jvp(&self, x: Tensor<2>, t: Tensor<1>, v: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        self.forward_jvp_with(x, t, v, None)
    }
}

impl ConditionalScoreNetwork for ScoreMlp {
    fn forward_conditional(&self, x: Tensor<2>, t: Tensor<1>, y: Option<Tensor<2>>) -> Tensor<2> {
        self.forward_with(x, t, y.as_ref())
    }

    fn forward_conditional_jvp(
        &self,
        x: Tensor<2>,
        t: Tensor<1>,
        v: Tensor<2>,
        y: Option<Tensor<2>>,
    ) -> (Tensor<2>, Tensor<2>) {
        self.forward_jvp_with(x, t, v, y.as_ref())
    }

    fn condition_width(&self) -> usize {
        self.condition_dim()
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

/// The raw output as the conditional score (as [`ScoreModel`] reads it as the score).
impl ConditionalScoreModel for ScoreMlp {
    fn conditional_score(&self, x: Tensor<2>, t: Tensor<1>, y: Option<Tensor<2>>) -> Tensor<2> {
        self.forward_conditional(x, t, y)
    }

    fn condition_dim(&self) -> Option<usize> {
        Some(ScoreMlp::condition_dim(self))
    }
}

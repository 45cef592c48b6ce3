use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;

use crate::{EnergyModel, Result};

/// Settings of an [`EnergyMlp`].
#[derive(Config, Debug)]
pub struct EnergyMlpConfig {
    /// Data dimension d.
    pub dim: usize,
    /// Width of the hidden layers.
    #[config(default = 64)]
    pub hidden: usize,
    /// Number of hidden layers.
    #[config(default = 2)]
    pub depth: usize,
    /// Whether t is an input (a noise-conditional energy E(x, t)).
    #[config(default = false)]
    pub time_input: bool,
}

impl EnergyMlpConfig {
    /// Builds the energy on `device` (burn's default initialisation).
    ///
    /// ```
    /// use burn::prelude::*;
    /// use sgm_energy::EnergyMlpConfig;
    /// let energy = EnergyMlpConfig::new(2).with_hidden(32).init(&Device::flex())?;
    /// assert!(EnergyMlpConfig::new(0).init(&Device::flex()).is_err());
    /// # Ok::<(), sgm_energy::EnergyError>(())
    /// ```
    ///
    /// # Errors
    /// [`EnergyError::Core`](crate::EnergyError::Core) (`CoreError::ZeroCount`) for a zero
    /// dimension, width or depth.
    pub fn init(&self, device: &Device) -> Result<EnergyMlp> {
        for (name, value) in [
            ("dim", self.dim),
            ("hidden", self.hidden),
            ("depth", self.depth),
        ] {
            sgm_core::validate::nonzero(name, value)?;
        }
        let input = self.dim + usize::from(self.time_input);
        let hidden = (0..self.depth)
            .map(|i| {
                let d_in = if i == 0 { input } else { self.hidden };
                LinearConfig::new(d_in, self.hidden).init(device)
            })
            .collect();
        Ok(EnergyMlp {
            hidden,
            output: LinearConfig::new(self.hidden, 1).init(device),
            dim: self.dim,
            time_input: self.time_input,
        })
    }
}

/// An MLP energy with softplus activations and its derivatives written out:
///
/// ```text
/// h_0 = x (or [x, t]),  a_l = h_{l-1} W_l + b_l,  h_l = softplus(a_l),  E = h_L w + c.
/// ```
///
/// grad_x E is the backward pass: g_L = w, delta_l = g_l * sigma(a_l), g_{l-1} = delta_l W_l^T
/// (sigma the logistic, softplus' derivative); the Hessian-vector product differentiates it
/// along v: the tangents a'_l of the forward pass (a'_1 = v W_1, a'_{l+1} = (sigma(a_l) a'_l)
/// W_{l+1}) and g'_{l-1} = (g'_l sigma(a_l) + g_l sigma(a_l)(1 - sigma(a_l)) a'_l) W_l^T from
/// g'_L = 0. Both are ordinary tensor operations, so one `backward` differentiates them in the
/// weights: score matching trains this energy through [`EnergyScore`](crate::EnergyScore).
/// softplus is smooth, so H exists everywhere (ReLU's would be 0 almost everywhere).
#[derive(Module, Debug)]
pub struct EnergyMlp {
    hidden: Vec<Linear>,
    output: Linear,
    #[module(skip)]
    dim: usize,
    #[module(skip)]
    time_input: bool,
}

/// The logistic 1 / (1 + exp(-a)) (softplus' derivative), from one exponential.
fn logistic(a: Tensor<2>) -> Tensor<2> {
    (a.neg().exp() + 1.0).recip()
}

/// softplus(a) = max(a, 0) + log(1 + exp(-|a|)), without overflow.
fn softplus(a: Tensor<2>) -> Tensor<2> {
    a.clone().clamp_min(0.0) + (a.abs().neg().exp() + 1.0).log()
}

impl EnergyMlp {
    /// The data dimension d.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// h_0: x, or [x, t] for a noise-conditional energy.
    fn input(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        if self.time_input {
            let t = t.cast(x.dtype()).unsqueeze_dim(1);
            Tensor::cat(vec![x, t], 1)
        } else {
            x
        }
    }

    /// The pre-activations a_1..a_L and the last hidden state h_L.
    fn forward_layers(&self, x: Tensor<2>, t: Tensor<1>) -> (Vec<Tensor<2>>, Tensor<2>) {
        let mut h = self.input(x, t);
        let mut pre = Vec::with_capacity(self.hidden.len());
        for layer in &self.hidden {
            let a = layer.forward(h);
            h = softplus(a.clone());
            pre.push(a);
        }
        (pre, h)
    }

    /// g_L = w as a `[batch, width]` tensor.
    fn output_row(&self, batch: usize) -> Tensor<2> {
        let w = self.output.weight.val(); // [width, 1]
        let [width, _] = w.dims();
        w.reshape([1, width]).expand([batch, width])
    }

    /// The first layer's weight rows for x (not t), `[d, width]`.
    fn first_weight_x(&self) -> Tensor<2> {
        self.hidden[0].weight.val().narrow(0, 0, self.dim)
    }
}

impl EnergyModel for EnergyMlp {
    fn energy(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<1> {
        let (_, h) = self.forward_layers(x, t);
        self.output.forward(h).squeeze_dim(1)
    }

    fn energy_grad(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        let batch = x.dims()[0];
        let (pre, _) = self.forward_layers(x, t);
        let mut g = self.output_row(batch);
        for (layer, a) in self.hidden.iter().zip(&pre).rev() {
            g = (g * logistic(a.clone())).matmul(layer.weight.val().transpose());
        }
        g.narrow(1, 0, self.dim)
    }

    fn energy_hvp(&self, x: Tensor<2>, t: Tensor<1>, v: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let batch = x.dims()[0];
        let (pre, _) = self.forward_layers(x, t);
        // Forward tangents a'_l (t has tangent 0, so only the x rows of W_1 act on v).
        let mut tangents = Vec::with_capacity(pre.len());
        let mut da = v.matmul(self.first_weight_x());
        for (l, a) in pre.iter().enumerate() {
            tangents.push(da.clone());
            if let Some(next) = self.hidden.get(l + 1) {
                da = (logistic(a.clone()) * da).matmul(next.weight.val());
            }
        }
        // Backward pass and its tangent.
        let mut g = self.output_row(batch);
        let mut dg = g.zeros_like();
        for ((layer, a), da) in self.hidden.iter().zip(&pre).zip(&tangents).rev() {
            let s = logistic(a.clone());
            let curvature = s.clone() * (s.clone().neg() + 1.0);
            let wt = layer.weight.val().transpose();
            let delta_dot = dg * s.clone() + g.clone() * curvature * da.clone();
            g = (g * s).matmul(wt.clone());
            dg = delta_dot.matmul(wt);
        }
        (g.narrow(1, 0, self.dim), dg.narrow(1, 0, self.dim))
    }
}

use burn::nn::{GroupNorm, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use sgm_core::ScoreModel;

use crate::layers::{Conv, Dual, concat, group_norm, group_norm_run, linear, silu, upsample};
use crate::{Result, ScoreNetwork};

/// Configuration of a [`UNet`]. The defaults are the reference U-Net of the w7 workload
/// (`../shared/BENCHMARKS.md`) for the 8x8 digits: 616,065 parameters.
///
/// ```
/// use burn::prelude::*;
/// use sgm_nn::{ScoreNetwork, UNetConfig};
///
/// let device = Device::flex();
/// let net = UNetConfig::new(1, 8, 8).init(&device)?;
/// assert_eq!(net.num_params(), 616_065);
/// let h = net.forward(Tensor::zeros([2, 64], &device), Tensor::full([2], 0.5, &device));
/// assert_eq!(h.dims(), [2, 64]);
/// // The config serialises (burn's `Config`: JSON).
/// let json = UNetConfig::new(3, 32, 32).with_widths(vec![64, 128, 256]).to_string();
/// assert!(json.contains("\"widths\""));
/// # Ok::<(), sgm_nn::NnError>(())
/// ```
#[derive(Config, Debug)]
pub struct UNetConfig {
    /// Image channels C.
    pub channels: usize,
    /// Image height H (divisible by 2^(levels - 1)).
    pub height: usize,
    /// Image width W (divisible by 2^(levels - 1)).
    pub width: usize,
    /// Channel widths per resolution, finest first; one resolution per entry, each halving the
    /// previous one. The first is also the width of the input convolution.
    #[config(default = "vec![32, 64]")]
    pub widths: Vec<usize>,
    /// Residual blocks per resolution (on the way down; as many on the way up).
    #[config(default = 2)]
    pub blocks_per_level: usize,
    /// Groups of every group norm (dividing every channel count it sees).
    #[config(default = 8)]
    pub groups: usize,
    /// Sinusoidal time features (even).
    #[config(default = 64)]
    pub time_features: usize,
    /// Width of the time embedding.
    #[config(default = 128)]
    pub time_dim: usize,
    /// The time input is multiplied by this before its sinusoidal features (1000: the DDPM
    /// and score_sde convention for t in [0, 1]; 1 for an input that already spans a wide
    /// range, such as EDM's c_noise).
    #[config(default = 1000.0)]
    pub time_scale: f64,
    /// Outputs per pixel: the output convolution has `channels * outputs_per_dim` channels,
    /// flattened pixel-major (column i K + k for pixel i = (c, y, x) and output k), so that
    /// K = 17 gives the level logits that [`BinnedDenoiser`](crate::BinnedDenoiser) reads; 1
    /// for a score, noise or data prediction.
    #[config(default = 1)]
    pub outputs_per_dim: usize,
}

impl UNetConfig {
    /// Builds the network on `device`.
    ///
    /// # Errors
    /// [`NnError::Core`](crate::NnError::Core): `ZeroCount` for a zero size, width or count;
    /// `InvalidParameter` for an image size not divisible by 2^(levels - 1), a channel count
    /// the groups do not divide, an odd number of time features or a non-positive time scale.
    pub fn init(&self, device: &Device) -> Result<UNet> {
        use sgm_core::validate::{invalid, nonzero, positive};
        for (name, value) in [
            ("channels", self.channels),
            ("height", self.height),
            ("width", self.width),
            ("widths", self.widths.len()),
            ("blocks_per_level", self.blocks_per_level),
            ("groups", self.groups),
            ("time_dim", self.time_dim),
            ("outputs_per_dim", self.outputs_per_dim),
        ] {
            nonzero(name, value)?;
        }
        positive("time_scale", self.time_scale)?;
        if self.time_features < 2 || !self.time_features.is_multiple_of(2) {
            return Err(
                invalid("time_features", self.time_features as f64, "even and >= 2").into(),
            );
        }
        let factor = 1 << (self.widths.len() - 1);
        for (name, size) in [("height", self.height), ("width", self.width)] {
            if !size.is_multiple_of(factor) {
                return Err(invalid(name, size as f64, "divisible by 2^(levels - 1)").into());
            }
        }
        let groups = self.groups;
        let norm = |channels: usize| -> Result<GroupNorm> {
            if channels == 0 || !channels.is_multiple_of(groups) {
                return Err(invalid(
                    "group norm channels",
                    channels as f64,
                    "a positive multiple of groups",
                )
                .into());
            }
            Ok(group_norm(groups, channels, device))
        };
        let block = |c_in: usize, c_out: usize| -> Result<ResBlock> {
            Ok(ResBlock {
                norm1: norm(c_in)?,
                conv1: Conv::new(c_in, c_out, 3, 1, device),
                time: LinearConfig::new(self.time_dim, c_out).init(device),
                norm2: norm(c_out)?,
                conv2: Conv::new(c_out, c_out, 3, 1, device),
                shortcut: (c_in != c_out).then(|| Conv::new(c_in, c_out, 1, 1, device)),
            })
        };
        let levels = self.widths.len();
        let mut ch = self.widths[0];
        let (mut down, mut downsample, mut skips) = (Vec::new(), Vec::new(), Vec::new());
        for (level, &width) in self.widths.iter().enumerate() {
            for _ in 0..self.blocks_per_level {
                down.push(block(ch, width)?);
                ch = width;
                skips.push(ch);
            }
            if level + 1 < levels {
                downsample.push(Conv::new(ch, ch, 3, 2, device));
            }
        }
        let middle = AttentionBlock {
            norm: norm(ch)?,
            query: LinearConfig::new(ch, ch).init(device),
            key: LinearConfig::new(ch, ch).init(device),
            value: LinearConfig::new(ch, ch).init(device),
            output: LinearConfig::new(ch, ch).init(device),
        };
        let (mut up, mut upsample_convs) = (Vec::new(), Vec::new());
        for (level, &width) in self.widths.iter().enumerate().rev() {
            for _ in 0..self.blocks_per_level {
                let skip = skips.pop().expect("one skip per down block");
                up.push(block(ch + skip, width)?);
                ch = width;
            }
            if level > 0 {
                upsample_convs.push(Conv::new(ch, ch, 3, 1, device));
            }
        }
        Ok(UNet {
            time_in: LinearConfig::new(self.time_features, self.time_dim).init(device),
            time_out: LinearConfig::new(self.time_dim, self.time_dim).init(device),
            conv_in: Conv::new(self.channels, self.widths[0], 3, 1, device),
            down,
            downsample,
            middle,
            up,
            upsample: upsample_convs,
            norm_out: norm(ch)?,
            conv_out: Conv::new(ch, self.channels * self.outputs_per_dim, 3, 1, device),
            channels: self.channels,
            outputs_per_dim: self.outputs_per_dim,
            height: self.height,
            width: self.width,
            blocks_per_level: self.blocks_per_level,
            time_features: self.time_features,
            time_scale: self.time_scale,
        })
    }
}

/// A residual block: GroupNorm, SiLU, 3x3 conv, plus the projected time embedding, GroupNorm,
/// SiLU, 3x3 conv, added to the input (through a 1x1 conv when the widths differ).
#[derive(Module, Debug)]
struct ResBlock {
    norm1: GroupNorm,
    conv1: Conv,
    time: Linear,
    norm2: GroupNorm,
    conv2: Conv,
    shortcut: Option<Conv>,
}

impl ResBlock {
    /// `temb` is SiLU of the time embedding, `[batch, time_dim]` (it does not depend on x).
    fn run(&self, x: Dual<4>, temb: &Tensor<2>) -> Dual<4> {
        let (h, dh) = self.conv1.run(silu(group_norm_run(&self.norm1, x.clone())));
        let [b, c, _, _] = h.dims();
        let h = h + self.time.forward(temb.clone()).reshape([b, c, 1, 1]);
        let (h, dh) = self.conv2.run(silu(group_norm_run(&self.norm2, (h, dh))));
        let (skip, dskip) = match &self.shortcut {
            Some(conv) => conv.run(x),
            None => x,
        };
        (skip + h, dskip.zip(dh).map(|(a, b)| a + b))
    }
}

/// Single-head self-attention over the positions (Vaswani et al. 2017, as in the DDPM U-Net):
/// y = x + O(softmax(Q K^T / sqrt(C)) V) with Q, K, V the linear maps of GroupNorm(x). The
/// tangent of A = softmax(S) is A (dS - rowsum(A dS)), with dS = (dQ K^T + Q dK^T) / sqrt(C),
/// and that of A V is dA V + A dV.
#[derive(Module, Debug)]
struct AttentionBlock {
    norm: GroupNorm,
    query: Linear,
    key: Linear,
    value: Linear,
    output: Linear,
}

impl AttentionBlock {
    fn run(&self, (x, v): Dual<4>) -> Dual<4> {
        let [b, c, h, w] = x.dims();
        let (hn, dhn) = group_norm_run(&self.norm, (x.clone(), v.clone()));
        let rows = |t: Tensor<4>| t.reshape([b, c, h * w]).swap_dims(1, 2);
        let seq = (rows(hn), dhn.map(rows));
        let (q, dq) = linear(&self.query, seq.clone());
        let (k, dk) = linear(&self.key, seq.clone());
        let (values, dvalues) = linear(&self.value, seq);
        let scale = 1.0 / (c as f64).sqrt();
        let attention = softmax(q.clone().matmul(k.clone().swap_dims(1, 2)) * scale, 2);
        let mixed = attention.clone().matmul(values.clone());
        let dmixed = match (dq, dk, dvalues) {
            (Some(dq), Some(dk), Some(dvalues)) => {
                let ds = (dq.matmul(k.swap_dims(1, 2)) + q.matmul(dk.swap_dims(1, 2))) * scale;
                let weighted = attention.clone() * ds;
                let da = weighted.clone() - attention.clone() * weighted.sum_dim(2);
                Some(da.matmul(values) + attention.matmul(dvalues))
            }
            _ => None,
        };
        let (out, dout) = linear(&self.output, (mixed, dmixed));
        let image = |t: Tensor<3>| t.swap_dims(1, 2).reshape([b, c, h, w]);
        (x + image(out), v.zip(dout).map(|(v, d)| v + image(d)))
    }
}

/// A U-Net score network for images (Ronneberger et al. 2015; the time-conditioned form of
/// Ho et al. 2020), on sgm's flat samples `[batch, C*H*W]` (channel first), with an exact JVP.
///
/// ```text
/// temb = Linear(SiLU(Linear(sinusoidal(time_scale t))))
/// h = conv_in(x)
/// down:   per resolution, blocks_per_level ResBlocks (each output kept as a skip), then a
///         stride-2 3x3 conv (not after the coarsest)
/// middle: self-attention at the coarsest resolution
/// up:     per resolution, coarsest first, blocks_per_level ResBlocks on [h, skip] (channels,
///         the skips in reverse order), then nearest-neighbour upsampling and a 3x3 conv
/// out = conv_out(SiLU(GroupNorm(h)))
/// ```
///
/// ResBlock: GroupNorm, SiLU, 3x3 conv, + Linear(SiLU(temb)), GroupNorm, SiLU, 3x3 conv, plus
/// the input (1x1 conv when the widths differ). The defaults of [`UNetConfig`] are the
/// reference network of the w7 workload. [`ScoreNetwork::forward_jvp`] carries the tangent
/// through every layer: a conv's tangent is the same conv without bias, GroupNorm's and
/// attention's their closed forms (see the layer docs), SiLU's s (1 + h (1 - s)) v; the time
/// embedding does not depend on x. The result is on the autodiff graph, so implicit and sliced
/// score matching and exact-divergence likelihoods train and evaluate it. As a
/// [`ScoreModel`] the raw output is the score; use [`Parameterized`](crate::Parameterized)
/// for epsilon, x0, v or EDM.
#[derive(Module, Debug)]
pub struct UNet {
    time_in: Linear,
    time_out: Linear,
    conv_in: Conv,
    down: Vec<ResBlock>,
    downsample: Vec<Conv>,
    middle: AttentionBlock,
    up: Vec<ResBlock>,
    upsample: Vec<Conv>,
    norm_out: GroupNorm,
    conv_out: Conv,
    channels: usize,
    outputs_per_dim: usize,
    height: usize,
    width: usize,
    blocks_per_level: usize,
    time_features: usize,
    #[module(skip)]
    time_scale: f64,
}

impl UNet {
    /// Outputs per data dimension K (the output width is K C H W).
    pub fn outputs_per_dim(&self) -> usize {
        self.outputs_per_dim
    }

    /// The flat data dimension C*H*W.
    pub fn dim(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// The image shape (C, H, W).
    pub fn image_shape(&self) -> [usize; 3] {
        [self.channels, self.height, self.width]
    }

    /// SiLU of the time embedding, `[batch, time_dim]`, from the sinusoidal features
    /// [sin(s t f_k), cos(s t f_k)], f_k = 10000^(-k / (F/2 - 1)), k < F/2 (Vaswani et al. 2017;
    /// the DDPM embedding), the frequencies made on the device.
    fn time_embedding(&self, t: Tensor<1>, dtype: burn::tensor::DType) -> Tensor<2> {
        let half = self.time_features / 2;
        let step = -(10_000f64.ln()) / (half - 1).max(1) as f64;
        let frequencies = (Tensor::<1, Int>::arange(0..half as i64, &t.device())
            .float()
            .cast(dtype)
            * step)
            .exp();
        let angles = t.cast(dtype).unsqueeze_dim::<2>(1)
            * frequencies.unsqueeze_dim::<2>(0)
            * self.time_scale;
        let features = Tensor::cat(vec![angles.clone().sin(), angles.cos()], 1);
        let hidden = silu((self.time_in.forward(features), None)).0;
        silu((self.time_out.forward(hidden), None)).0
    }

    fn run(&self, x: Tensor<2>, t: Tensor<1>, v: Option<Tensor<2>>) -> Dual<2> {
        let [b, _] = x.dims();
        let shape = [b, self.channels, self.height, self.width];
        let temb = self.time_embedding(t, x.dtype());
        let mut h = self
            .conv_in
            .run((x.reshape(shape), v.map(|v| v.reshape(shape))));
        let mut skips = Vec::with_capacity(self.down.len());
        for (i, block) in self.down.iter().enumerate() {
            h = block.run(h, &temb);
            skips.push(h.clone());
            if (i + 1).is_multiple_of(self.blocks_per_level)
                && let Some(conv) = self.downsample.get(i / self.blocks_per_level)
            {
                h = conv.run(h);
            }
        }
        h = self.middle.run(h);
        for (i, block) in self.up.iter().enumerate() {
            let skip = skips.pop().expect("one skip per up block");
            h = block.run(concat(h, skip), &temb);
            if (i + 1).is_multiple_of(self.blocks_per_level)
                && let Some(conv) = self.upsample.get(i / self.blocks_per_level)
            {
                h = conv.run((upsample(h.0), h.1.map(upsample)));
            }
        }
        let (out, dout) = self.conv_out.run(silu(group_norm_run(&self.norm_out, h)));
        // [b, C K, H, W] -> [b, C, K, H W] -> [b, C, H W, K]: pixel-major, as BinnedDenoiser reads.
        let k = self.outputs_per_dim;
        let pixels = self.height * self.width;
        let flat = |t: Tensor<4>| {
            t.reshape([b, self.channels, k, pixels])
                .swap_dims(2, 3)
                .reshape([b, self.dim() * k])
        };
        (flat(out), dout.map(flat))
    }
}

impl ScoreNetwork for UNet {
    fn forward(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        self.run(x, t, None).0
    }

    fn forward_jvp(&self, x: Tensor<2>, t: Tensor<1>, v: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let (h, jv) = self.run(x, t, Some(v));
        (h, jv.expect("a tangent was passed in"))
    }
}

impl ScoreModel for UNet {
    fn score(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        self.forward(x, t)
    }

    fn score_jvp(&self, x: Tensor<2>, t: Tensor<1>, v: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        self.forward_jvp(x, t, v)
    }
}

use burn::prelude::*;
use sgm_core::tensor::column;
use sgm_core::{ConditionalScoreModel, ScoreModel};
use sgm_sde::{GaussianMarginals, LinearSde};

use crate::{ConditionalScoreNetwork, NnError, Result, ScoreNetwork};

/// How a network output h(x, t) becomes a score s(x, t). With m(t), std(t) the transition
/// kernel of the diffusion, f(x, t) = a(t) x its drift and g(t) its diffusion:
///
/// | variant | score | J_x s v |
/// |---|---|---|
/// | `Raw` | h | J h v |
/// | `NoisePrediction` (h = eps-hat, Ho et al. 2020) | -h / std | -J h v / std |
/// | `StdNormalized` (Song et al. 2021) | h / std | J h v / std |
/// | `DriftCancelling` | h / std + 2 f / g^2 | J h v / std + 2 a v / g^2 |
/// | `DataPrediction` (h = x0-hat, Tweedie) | (m h - x) / std^2 | (m J h v - v) / std^2 |
/// | `VPrediction` (h = v-hat = m eps - std x0) | -(std x + m h) / (std (m^2 + std^2)) | -(std v + m J h v) / (std (m^2 + std^2)) |
/// | `Edm` (h = F(c_in x, c_noise), Karras et al. 2022) | ((c_skip - 1) x + m c_out h) / std^2 | ((c_skip - 1) v + m c_out J h v) / std^2 |
///
/// With `DriftCancelling`, h = 0 gives f - g^2 s = -f: the reverse-time SDE then runs the
/// forward dynamics, so an untrained network starts from a process that keeps the prior
/// instead of one that diverges. `DataPrediction` is Tweedie's formula
/// E[x0 | x_t] = (x_t + std^2 s) / m solved for s. `VPrediction` is the v of Salimans & Ho
/// (2022), v = m eps - std x0 for x_t = m x0 + std eps, which with (x_t, v) a rotation of
/// (x0, eps) gives eps = (std x_t + m v) / (m^2 + std^2) and s = -eps / std on any SDE (on VP,
/// m^2 + std^2 = 1). [`Parameterized::network_target`] inverts each row of the table: the
/// output a network must give for a score, i.e. its regression target.
///
/// `Edm` is the preconditioning of Karras et al. (2022, Table 1) on any SDE with Gaussian
/// marginals: with sigma = std / m the noise level of the rescaled state x / m = x0 + sigma eps
/// and sigma_data the data's standard deviation,
///
/// ```text
/// D(x) = c_skip x / m + c_out F(c_in x / m, c_noise),
/// c_skip = sigma_data^2 / (sigma^2 + sigma_data^2),  c_out = sigma sigma_data / sqrt(sigma^2 + sigma_data^2),
/// c_in = 1 / sqrt(sigma^2 + sigma_data^2),           c_noise = ln(sigma) / 4,
/// ```
///
/// and s = (m D - x) / std^2. Unlike the other rows it changes the network's inputs: F sees
/// unit-variance inputs and c_noise in place of t, and regresses a unit-variance target.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Parameterization {
    /// s = h.
    #[default]
    Raw,
    /// s = -h / std(t).
    NoisePrediction,
    /// s = h / std(t).
    StdNormalized,
    /// s = h / std(t) + 2 f(x, t) / g(t)^2.
    DriftCancelling,
    /// s = (m(t) h - x) / std(t)^2.
    DataPrediction,
    /// s = -(std(t) x + m(t) h) / (std(t) (m(t)^2 + std(t)^2)).
    VPrediction,
    /// EDM preconditioning: s = (m D - x) / std^2 with D = c_skip x / m + c_out h and h the
    /// network at (c_in x / m, c_noise). Build it with [`Parameterization::edm`].
    Edm {
        /// sigma_data > 0: the standard deviation of the data (0.5 for images in [-1, 1]).
        sigma_data: f64,
    },
}

impl Parameterization {
    /// Every parameterisation, in the order of the table above (`Edm` with sigma_data = 0.5).
    pub const ALL: [Parameterization; 7] = [
        Parameterization::Raw,
        Parameterization::NoisePrediction,
        Parameterization::StdNormalized,
        Parameterization::DriftCancelling,
        Parameterization::DataPrediction,
        Parameterization::VPrediction,
        Parameterization::Edm { sigma_data: 0.5 },
    ];

    /// The EDM preconditioning for data of standard deviation `sigma_data`.
    ///
    /// ```
    /// use sgm_nn::Parameterization;
    /// assert!(Parameterization::edm(0.5).is_ok());
    /// assert!(Parameterization::edm(0.0).is_err());
    /// ```
    ///
    /// # Errors
    /// [`NnError::Core`] (`InvalidParameter`) unless `sigma_data` is finite and > 0.
    pub fn edm(sigma_data: f64) -> Result<Self> {
        sgm_core::validate::positive("sigma_data", sigma_data)?;
        Ok(Parameterization::Edm { sigma_data })
    }
}

/// The EDM coefficients of one batch of times, as `[batch, 1]` columns (c_noise as `[batch]`).
struct EdmCoefficients {
    /// c_skip - 1.
    skip_minus_one: Tensor<2>,
    /// m c_out.
    out: Tensor<2>,
    /// c_in / m: what x is multiplied by on its way into the network.
    input: Tensor<2>,
    /// c_noise = ln(sigma) / 4, the network's time input.
    noise: Tensor<1>,
    /// 1 / std^2.
    inv_var: Tensor<2>,
}

impl EdmCoefficients {
    fn new<K: GaussianMarginals>(marginals: &K, t: Tensor<1>, sigma_data: f64) -> Self {
        let (m, std) = marginals.kernel_columns(t);
        let sigma = std.clone() / m.clone();
        let total = sigma.clone().square() + sigma_data * sigma_data;
        let root = total.clone().sqrt();
        let c_skip = total.recip() * (sigma_data * sigma_data);
        let c_out = sigma.clone() * sigma_data / root.clone();
        let noise = sigma.log().flatten::<1>(0, 1) * 0.25;
        Self {
            skip_minus_one: c_skip - 1.0,
            out: c_out * m.clone(),
            input: (root * m).recip(),
            noise,
            inv_var: std.square().recip(),
        }
    }
}

/// 2 a(t) / g(t)^2 of a linear SDE: the drift-cancelling term, kept as a function pointer
/// so that [`Parameterized`] stays generic in its kernels.
fn drift_cancel_coeff<S: LinearSde>(sde: &S, t: Tensor<1>) -> Tensor<1> {
    let g2 = sde.diffusion(t.clone()).square();
    sde.drift_coeff(t) * 2.0 / g2
}

/// A [`ScoreNetwork`] read as a score model through a [`Parameterization`], with exact JVP;
/// a [`ConditionalScoreNetwork`] read the same way is a [`ConditionalScoreModel`].
///
/// ```
/// use burn::prelude::*;
/// use sgm_core::{ConditionalScoreModel, ScoreModel};
/// use sgm_nn::{Parameterization, Parameterized, ScoreMlpConfig};
/// use sgm_sde::VpSde;
///
/// let device = Device::flex();
/// let net = ScoreMlpConfig::new(2).with_hidden(16).init(&device)?;
/// let vp = VpSde::default();
/// let model = Parameterized::with_sde(&net, &vp, Parameterization::NoisePrediction);
/// let s = model.score(Tensor::zeros([3, 2], &device), Tensor::full([3], 0.5, &device));
/// assert_eq!(s.dims(), [3, 2]);
///
/// // A class-conditional network: s(x, t, y) for one-hot rows y, and s(x, t) for None.
/// let net = ScoreMlpConfig::new(2).with_hidden(16).with_condition_dim(3).init(&device)?;
/// let model = Parameterized::with_sde(&net, &vp, Parameterization::NoisePrediction);
/// let y = sgm_core::one_hot(&[2, 0, 1], 3, &device, burn::tensor::DType::F32)?;
/// let (x, t) = (Tensor::zeros([3, 2], &device), Tensor::full([3], 0.5, &device));
/// assert_eq!(model.conditional_score(x, t, Some(y)).dims(), [3, 2]);
/// assert_eq!(model.condition_dim(), Some(3));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy)]
pub struct Parameterized<N, K> {
    net: N,
    marginals: K,
    drift_cancel: Option<fn(&K, Tensor<1>) -> Tensor<1>>,
    kind: Parameterization,
}

impl<N, K> std::fmt::Debug for Parameterized<N, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parameterized")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl<N, K: GaussianMarginals> Parameterized<N, K> {
    /// `net` read through `kind` with the transition kernels `marginals` (an SDE or a DDPM
    /// chain).
    ///
    /// # Errors
    /// [`NnError::DriftCancellingNeedsSde`] for [`Parameterization::DriftCancelling`], which
    /// needs the drift and diffusion of an SDE: use [`Parameterized::with_sde`].
    pub fn new(net: N, marginals: K, kind: Parameterization) -> Result<Self> {
        if kind == Parameterization::DriftCancelling {
            return Err(NnError::DriftCancellingNeedsSde);
        }
        Ok(Self {
            net,
            marginals,
            drift_cancel: None,
            kind,
        })
    }

    /// `net` read through `kind` under the linear SDE `sde` (every parameterisation).
    pub fn with_sde(net: N, sde: K, kind: Parameterization) -> Self
    where
        K: LinearSde,
    {
        Self {
            net,
            marginals: sde,
            drift_cancel: Some(drift_cancel_coeff::<K>),
            kind,
        }
    }

    /// The parameterisation.
    pub fn kind(&self) -> Parameterization {
        self.kind
    }

    /// The transition kernels.
    pub fn marginals(&self) -> &K {
        &self.marginals
    }

    /// The network.
    pub fn net(&self) -> &N {
        &self.net
    }

    /// The score at (x, t), and its JVP along `v` when given, from `net` (the network, called
    /// with its inputs: (x, t, v) or, for `Edm`, the preconditioned (c_in x / m, c_noise,
    /// c_in v / m)), per the table on [`Parameterization`].
    fn evaluate(
        &self,
        x: Tensor<2>,
        t: Tensor<1>,
        v: Option<Tensor<2>>,
        net: impl FnOnce(Tensor<2>, Tensor<1>, Option<Tensor<2>>) -> (Tensor<2>, Option<Tensor<2>>),
    ) -> (Tensor<2>, Option<Tensor<2>>) {
        if let Parameterization::Edm { sigma_data } = self.kind {
            let c = EdmCoefficients::new(&self.marginals, t, sigma_data);
            let v_in = v.clone().map(|v| v * c.input.clone());
            let (h, jh) = net(x.clone() * c.input.clone(), c.noise, v_in);
            let score = (x * c.skip_minus_one.clone() + h * c.out.clone()) * c.inv_var.clone();
            let jvp = v
                .zip(jh)
                .map(|(v, j)| (v * c.skip_minus_one + j * c.out) * c.inv_var);
            return (score, jvp);
        }
        let (h, jh) = net(x.clone(), t.clone(), v.clone());
        self.transform(x, t, h, v.zip(jh))
    }

    /// The score from h (and the JVP from J h v, when given), per the table on
    /// [`Parameterization`] (`Edm` is [`Parameterized::evaluate`]'s).
    fn transform(
        &self,
        x: Tensor<2>,
        t: Tensor<1>,
        h: Tensor<2>,
        jh: Option<(Tensor<2>, Tensor<2>)>,
    ) -> (Tensor<2>, Option<Tensor<2>>) {
        let marginals = &self.marginals;
        match self.kind {
            Parameterization::Raw => (h, jh.map(|(_, j)| j)),
            Parameterization::NoisePrediction | Parameterization::StdNormalized => {
                let sign = if self.kind == Parameterization::NoisePrediction {
                    -1.0
                } else {
                    1.0
                };
                let scale = column(marginals.std(t).recip() * sign);
                (h * scale.clone(), jh.map(|(_, j)| j * scale))
            }
            Parameterization::DriftCancelling => {
                let inv_std = column(marginals.std(t.clone()).recip());
                let cancel = self.cancel_column(t);
                let score = h * inv_std.clone() + x * cancel.clone();
                (score, jh.map(|(v, j)| j * inv_std + v * cancel))
            }
            Parameterization::DataPrediction => {
                let (m, std) = marginals.kernel_columns(t);
                let inv_var = std.square().recip();
                let score = (h * m.clone() - x) * inv_var.clone();
                (score, jh.map(|(v, j)| (j * m - v) * inv_var))
            }
            Parameterization::VPrediction => {
                let (m, std) = marginals.kernel_columns(t);
                let scale = ((m.clone().square() + std.clone().square()) * std.clone())
                    .recip()
                    .neg();
                let score = (x * std.clone() + h * m.clone()) * scale.clone();
                (score, jh.map(|(v, j)| (v * std + j * m) * scale))
            }
            Parameterization::Edm { .. } => unreachable!("evaluate handles the EDM inputs"),
        }
    }

    /// 2 a(t) / g(t)^2 as a `[batch, 1]` column (drift-cancelling only).
    fn cancel_column(&self, t: Tensor<1>) -> Tensor<2> {
        let coeff = self
            .drift_cancel
            .expect("Parameterized::new rejects DriftCancelling without an SDE");
        column(coeff(&self.marginals, t))
    }

    /// The output h the network must give at (x, t) for the score `score` to come out: each
    /// row of the table on [`Parameterization`] solved for h (eps = -std s for noise
    /// prediction, x0 = (x + std^2 s) / m for data prediction, v = m eps - std x0,
    /// F = (D - c_skip x / m) / c_out for EDM, whose network sees (c_in x / m, c_noise)), the
    /// regression target of the parameterisation. It is linear in (x, s) jointly, so the JVP
    /// of a network that outputs it is `network_target(v, t, J s v)`.
    pub fn network_target(&self, x: Tensor<2>, t: Tensor<1>, score: Tensor<2>) -> Tensor<2> {
        let (m, std) = self.marginals.kernel_columns(t.clone());
        match self.kind {
            Parameterization::Raw => score,
            Parameterization::NoisePrediction => -score * std,
            Parameterization::StdNormalized => score * std,
            Parameterization::DriftCancelling => (score - x * self.cancel_column(t)) * std,
            Parameterization::DataPrediction => (x + score * std.square()) / m,
            Parameterization::VPrediction => {
                let eps = -score.clone() * std.clone();
                let x0 = (x + score * std.clone().square()) / m.clone();
                eps * m - x0 * std
            }
            Parameterization::Edm { sigma_data } => {
                let c = EdmCoefficients::new(&self.marginals, t, sigma_data);
                (score / c.inv_var - x * c.skip_minus_one) / c.out
            }
        }
    }
}

impl<N: ConditionalScoreNetwork, K: GaussianMarginals> ConditionalScoreModel
    for Parameterized<N, K>
{
    fn conditional_score(&self, x: Tensor<2>, t: Tensor<1>, y: Option<Tensor<2>>) -> Tensor<2> {
        self.evaluate(x, t, None, |x, t, _| {
            (self.net.forward_conditional(x, t, y), None)
        })
        .0
    }

    fn condition_dim(&self) -> Option<usize> {
        Some(self.net.condition_width())
    }
}

impl<N: ScoreNetwork, K: GaussianMarginals> ScoreModel for Parameterized<N, K> {
    fn score(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        self.evaluate(x, t, None, |x, t, _| (self.net.forward(x, t), None))
            .0
    }

    fn score_jvp(&self, x: Tensor<2>, t: Tensor<1>, v: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let (score, jvp) = self.evaluate(x, t, Some(v), |x, t, v| {
            let (h, jh) = self
                .net
                .forward_jvp(x, t, v.expect("a tangent was passed in"));
            (h, Some(jh))
        });
        (score, jvp.expect("a JVP was passed in"))
    }
}

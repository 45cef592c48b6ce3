//! Imputation (inpainting): sampling the free coordinates of x given observed ones (Song et al.,
//! ICLR 2021, sec. 5 and App. I.2).

use burn::prelude::*;
use sgm_core::tensor::from_f64;
use sgm_core::{NoiseSource, NoiseSourceExt, ScoreModel};
use sgm_sde::GaussianMarginals;

use crate::{Result, SamplerError};

/// An observation for imputation: which coordinates are observed (`mask[i]`) and their values
/// (`values`, `[batch, dim]` or `[1, dim]`; entries at free coordinates are ignored).
///
/// It turns a score model into the score of the full state whose observed coordinates are
/// pinned: on them the score is that of a point mass at the observation,
/// -(x_o - m(t) y_o) / std(t)^2, so every sampler of sgm (PC, reverse SDE, probability-flow
/// ODE, the noise-level samplers) carries them along the exact forward-diffused path
/// m(t) y_o + std(t) z and a final denoising returns y_o exactly. On the free coordinates one
/// of two scores (and for the PC sampler a third way, score_sde's inpainter, through
/// [`StepProjection`](crate::StepProjection)):
///
/// - [`Imputation::joint`]: an unconditional model of the full x, evaluated with the observed
///   coordinates replaced by their forward-diffused value x-hat_o(t) = m(t) y_o + std(t) z_o
///   (one z_o per sample, fixed at construction so that ODE samplers see a smooth path): the
///   approximation grad log p_t(x_u | x-hat_o(t)) of score_sde's inpainting. It is exact when the
///   free and observed coordinates are independent, and biased otherwise (docs/DECISIONS.md
///   gives its measured size on a mixture).
/// - [`Imputation::conditional`]: a model of the free coordinates alone, conditional on the
///   observation, s(x_u, t) ~ grad log p_t(x_u | y_o) (a conditional network, or for a
///   Gaussian mixture the exact `sgm_data::GaussianMixture::conditional`
///   perturbed): exact when the model is.
///
/// ```
/// use burn::prelude::*;
/// use burn::tensor::DType;
/// use sgm_core::{HostNoise, ScoreModel, score_fn};
/// use sgm_samplers::Imputation;
/// use sgm_sde::VpSde;
/// let device = Device::flex();
/// let y = Tensor::<2>::from_data([[0.0, 1.5]], (&device, DType::F64));
/// let imputation = Imputation::new(VpSde::default(), vec![false, true], y, 4, &mut HostNoise::new(0))?;
/// let model = imputation.joint(score_fn(|x: Tensor<2>, _t| -x)); // N(0, I) data
/// let s = model.score(Tensor::zeros([4, 2], (&device, DType::F64)), Tensor::full([4], 0.5, (&device, DType::F64)));
/// assert_eq!(s.dims(), [4, 2]);
/// assert!(Imputation::new(VpSde::default(), vec![true, true], Tensor::zeros([1, 2], &device), 4, &mut HostNoise::new(0)).is_err());
/// # Ok::<(), sgm_samplers::SamplerError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Imputation<G> {
    marginals: G,
    mask: Vec<bool>,
    /// 1 at observed coordinates, `[1, dim]`.
    observed_mask: Tensor<2>,
    /// The observation, `[batch, dim]`, 0 at free coordinates.
    values: Tensor<2>,
    /// Fixed standard-normal draws for the observed coordinates, `[batch, dim]`.
    z: Tensor<2>,
    /// Selection of the free coordinates, `[dim, free]`.
    free: Tensor<2>,
}

impl<G: GaussianMarginals> Imputation<G> {
    /// The observation `values` at the coordinates where `mask` is true, for `batch` samples
    /// (`values` has `batch` rows or one row shared by all), under `marginals`; draws the fixed
    /// noise z_o from `noise`.
    ///
    /// # Errors
    /// [`SamplerError::Core`]: `CoreError::ShapeMismatch` unless `values` is `[batch, dim]` or
    /// `[1, dim]` with dim = mask.len(); `CoreError::InvalidParameter` if every coordinate is
    /// observed or none is.
    pub fn new(
        marginals: G,
        mask: Vec<bool>,
        values: Tensor<2>,
        batch: usize,
        noise: &mut dyn NoiseSource,
    ) -> Result<Self> {
        let dim = mask.len();
        let [rows, cols] = values.dims();
        if cols != dim || (rows != 1 && rows != batch) || batch == 0 {
            return Err(SamplerError::from(sgm_core::CoreError::ShapeMismatch {
                what: "imputation values ([batch or 1, dim of the mask])",
                expected: vec![batch, dim],
                found: vec![rows, cols],
            }));
        }
        let n_free = mask.iter().filter(|&&o| !o).count();
        if n_free == 0 || n_free == dim {
            return Err(SamplerError::from(sgm_core::validate::invalid(
                "free coordinates",
                n_free as f64,
                "at least one and not all",
            )));
        }
        let (device, dtype) = (values.device(), values.dtype());
        let ones: Vec<f64> = mask.iter().map(|&o| if o { 1.0 } else { 0.0 }).collect();
        let observed_mask = from_f64(&ones, [1, dim], &device, dtype);
        let values = if rows == 1 {
            values.repeat_dim(0, batch)
        } else {
            values
        } * observed_mask.clone();
        let z = noise.normal_like(&values) * observed_mask.clone();
        let mut selection = vec![0.0; dim * n_free];
        for (j, i) in mask
            .iter()
            .enumerate()
            .filter(|(_, o)| !**o)
            .map(|(i, _)| i)
            .enumerate()
        {
            selection[i * n_free + j] = 1.0;
        }
        let free = from_f64(&selection, [dim, n_free], &device, dtype);
        Ok(Self {
            marginals,
            mask,
            observed_mask,
            values,
            z,
            free,
        })
    }

    /// Which coordinates are observed.
    pub fn mask(&self) -> &[bool] {
        &self.mask
    }

    /// The free coordinates of `x` (`[batch, dim]` -> `[batch, free]`).
    pub fn free_part(&self, x: Tensor<2>) -> Tensor<2> {
        x.matmul(self.free.clone())
    }

    /// The score of the full state with the free coordinates' score from an unconditional
    /// model of the full x, evaluated at the forward-diffused observation (score_sde's
    /// inpainting approximation).
    pub fn joint<M: ScoreModel>(self, model: M) -> Imputed<G, M> {
        Imputed {
            imputation: self,
            model,
            joint: true,
        }
    }

    /// The score of the full state with the free coordinates' score from `model`, a score of
    /// the free coordinates alone (`[batch, free]`) conditional on the observation.
    pub fn conditional<M: ScoreModel>(self, model: M) -> Imputed<G, M> {
        Imputed {
            imputation: self,
            model,
            joint: false,
        }
    }
}

/// score_sde's PC inpainter (`get_pc_inpainter`): after every corrector and predictor step of
/// a [`PcSampler`](crate::PcSampler) the observed coordinates are replaced by a fresh draw of
/// the forward-diffused observation, x_o = m(t) y_o + std(t) z, and the returned sample carries
/// y_o itself. The free coordinates see the plain unconditional model, so this is the replacement
/// approximation of [`Imputation::joint`], exact for independent coordinates.
/// score_sde diffuses the observation to the time before the step and starts from the
/// undiffused y_o; this diffuses it to the time the state is at (docs/DECISIONS.md).
impl<G: GaussianMarginals> crate::StepProjection for Imputation<G> {
    fn project(&self, x: Tensor<2>, t: f64, noise: &mut dyn NoiseSource) -> Tensor<2> {
        let (m, std) = self
            .marginals
            .kernel_columns(sgm_core::tensor::time_like(t, &x));
        let z = noise.normal_like(&x);
        let diffused = self.values.clone() * m + z * std;
        self.merge(x, diffused)
    }

    fn finish(&self, x: Tensor<2>) -> Tensor<2> {
        self.merge(x, self.values.clone())
    }

    /// The state must be `[batch, dim]` as given at construction, with the observation's dtype
    /// and device.
    fn check_state(&self, x: &Tensor<2>) -> sgm_core::Result<()> {
        sgm_core::tensor::check_same_shape("imputation state", &self.values, x)?;
        if x.dtype() != self.values.dtype() || x.device() != self.values.device() {
            return Err(sgm_core::CoreError::Incompatible {
                what: "imputation state (dtype, device)",
                expected: format!("{:?} on {:?}", self.values.dtype(), self.values.device()),
                found: format!("{:?} on {:?}", x.dtype(), x.device()),
            });
        }
        Ok(())
    }
}

impl<G> Imputation<G> {
    /// 1 at free coordinates, `[1, dim]`.
    fn free_mask(&self) -> Tensor<2> {
        self.observed_mask.clone().neg() + 1.0
    }

    /// `x` on the free coordinates, `observed` on the observed ones.
    fn merge(&self, x: Tensor<2>, observed: Tensor<2>) -> Tensor<2> {
        x * self.free_mask() + observed * self.observed_mask.clone()
    }
}

/// A score model with imputation: see [`Imputation`].
#[derive(Debug, Clone)]
pub struct Imputed<G, M> {
    imputation: Imputation<G>,
    model: M,
    joint: bool,
}

impl<G: GaussianMarginals, M: ScoreModel> ScoreModel for Imputed<G, M> {
    fn score(&self, x: Tensor<2>, t: Tensor<1>) -> Tensor<2> {
        let imp = &self.imputation;
        let (m, std) = imp.marginals.kernel_columns(t.clone());
        let target = imp.values.clone() * m;
        let pinned =
            -(x.clone() - target.clone()) * imp.observed_mask.clone() / std.clone().square();
        let free_score = if self.joint {
            let diffused = target + imp.z.clone() * std;
            self.model.score(imp.merge(x, diffused), t) * imp.free_mask()
        } else {
            let s_u = self.model.score(imp.free_part(x), t);
            s_u.matmul(imp.free.clone().transpose())
        };
        free_score + pinned
    }
}

//! The pipeline of the `custom_sampler` example: a predictor written outside the library (one
//! Euler step of the probability-flow ODE) composed with the library's Langevin corrector in
//! its predictor-corrector sampler, run on the exact score of `ring8_weighted` under VP, next
//! to the library's own Euler-Maruyama predictor. The user code is the part between the
//! `user code` markers: under 60 lines.

use std::error::Error;
use std::path::PathBuf;

use clap::Parser;
use sgm::prelude::*;
use sgm::samplers::PredictorStep;

use crate::CommonArgs;
use crate::plot::{Panel, scatter_grid};

/// A user-defined predictor with the library's corrector (command line of the `custom_sampler`
/// example).
#[derive(Debug, Clone, Parser)]
pub struct Args {
    /// Device, output directory and seed.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Samples per sampler.
    #[arg(long, default_value_t = 4000)]
    pub samples: usize,
    /// Predictor-corrector steps.
    #[arg(long, default_value_t = 500)]
    pub steps: usize,
}

// ---- user code ----------------------------------------------------------------------------

/// One Euler step of the probability-flow ODE dx/dt = f(x, t) - g(t)^2 / 2 s(x, t), backwards
/// from t to t_next: deterministic, so the noise comes from the corrector. Any `Sde` works.
#[derive(Debug, Clone, Copy)]
pub struct FlowEuler<S>(pub S);

impl<S: Sde> Predictor for FlowEuler<S> {
    fn step<M: ScoreModel + ?Sized>(
        &self,
        model: &M,
        x: Tensor<2>,
        t: f64,
        t_next: f64,
        _noise: &mut dyn NoiseSource,
    ) -> sgm::samplers::Result<PredictorStep> {
        let tt = time_like(t, &x);
        let score = model.checked_score(x.clone(), tt.clone())?;
        let g2 = self.0.diffusion(tt.clone()).square().unsqueeze_dim::<2>(1);
        let velocity = self.0.drift(x.clone(), tt) - score * g2 * 0.5;
        let x = x - velocity * (t - t_next);
        Ok(PredictorStep { mean: x.clone(), x })
    }
}

/// The user's sampler: [`FlowEuler`] and one Langevin corrector step (score_sde's SNR 0.16)
/// on a uniform grid from 1 to 1e-3, returning the noise-free mean at the end.
pub fn user_sampler(
    vp: VpSde,
    steps: usize,
) -> sgm::samplers::Result<PcSampler<FlowEuler<VpSde>, LangevinCorrector<VpSde>>> {
    PcSampler::new(
        FlowEuler(vp),
        LangevinCorrector::new(0.16, 1)?.with_alpha(vp),
        TimeGrid::uniform(1.0, 1e-3, steps + 1)?,
        FinalStep::Mean,
    )
}

// ---- end of user code ---------------------------------------------------------------------

/// What a run prints and draws.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Mode shares of the user's sampler.
    pub user_shares: Vec<f64>,
    /// Mode shares of the library's Euler-Maruyama PC sampler.
    pub library_shares: Vec<f64>,
    /// The mixture weights.
    pub weights: Vec<f64>,
    /// NFE of the user's sampler.
    pub nfe: usize,
    /// The PNG written.
    pub plot: PathBuf,
}

/// Runs the example: prints one JSON line with both samplers' mode shares and the weights, and
/// writes `custom_sampler.png`.
///
/// # Errors
/// An unknown device, zero steps, a diverging sampler, or a PNG that cannot be written.
pub fn run(args: &Args) -> Result<Summary, Box<dyn Error>> {
    let device = args.common.setup()?;
    let ring = GaussianMixture::ring8_weighted();
    let vp = VpSde::default();
    let exact = ring.perturbed(vp);
    let mut noise = HostNoise::new(args.common.seed);
    let prior = vp.prior_sample([args.samples, 2], &device, DType::F32, &mut noise);
    let user =
        user_sampler(vp, args.steps)?.sample(&exact, prior.clone(), &mut noise, &mut NoObserver)?;
    let library = PcSampler::new(
        EulerMaruyama::new(vp),
        LangevinCorrector::new(0.16, 1)?.with_alpha(vp),
        TimeGrid::uniform(1.0, 1e-3, args.steps + 1)?,
        FinalStep::Mean,
    )?
    .sample(&exact, prior, &mut noise, &mut NoObserver)?;
    let (user_shares, library_shares) = (
        ring.component_shares(user.x.clone()),
        ring.component_shares(library.x.clone()),
    );
    println!(
        "{}",
        serde_json::json!({"user": user_shares, "library": library_shares, "weights": ring.weights(), "nfe": user.nfe})
    );
    let plot = args.common.out.join("custom_sampler.png");
    scatter_grid(
        &plot,
        "User vs library predictor, exact score",
        1,
        2,
        &[
            Panel::from_flat(
                format!("FlowEuler + Langevin ({} NFE)", user.nfe),
                &to_f64(user.x),
                6.0,
            ),
            Panel::from_flat(
                format!("EulerMaruyama + Langevin ({} NFE)", library.nfe),
                &to_f64(library.x),
                6.0,
            ),
        ],
    )?;
    Ok(Summary {
        user_shares,
        library_shares,
        weights: ring.weights().to_vec(),
        nfe: user.nfe,
        plot,
    })
}

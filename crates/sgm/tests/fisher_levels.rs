//! The Fisher divergence at one noise level, F(t) = 1/2 E_{p_t} |s - grad log p_t|^2, against
//! its closed form between two perturbed isotropic Gaussians.
//!
//! Under VP, N(m, s^2 I) becomes N(a m, v I) with a = m(t), v = a^2 s^2 + std(t)^2. With the
//! data p = N(m_1, s_1^2 I) and a model that is the exact perturbed score of N(m_2, s_2^2 I),
//! the error at x = a m_1 + e, e ~ N(0, v_1 I), is e (1/v_2 - 1/v_1) + a (m_1 - m_2) / v_2, so
//!
//! ```text
//! F(t) = 1/2 [ d v_1 (1/v_2 - 1/v_1)^2 + a^2 |m_1 - m_2|^2 / v_2^2 ].
//! ```
//!
//! The estimate from 20,000 draws must lie within 4 of its standard errors of that at every time
//! of the profile. Two sanity checks follow (not verification): the profile's closed form
//! varies, and a mixture's exact score against itself gives exactly 0 (no NaN, no offset).
//!
//! Mutation checked: dropping the 1/2 in `fisher_divergence_at` fails every level.

use sgm::prelude::*;

const M1: [f64; 2] = [1.0, -0.5];
const M2: [f64; 2] = [0.6, 0.0];
const S1: f64 = 0.4;
const S2: f64 = 0.7;

fn closed_form(vp: &VpSde, t: f64) -> f64 {
    let (a, std) = (vp.mean_coeff_at(t), vp.std_at(t));
    let (v1, v2) = (a * a * S1 * S1 + std * std, a * a * S2 * S2 + std * std);
    let dm: f64 = M1.iter().zip(&M2).map(|(x, y)| (x - y).powi(2)).sum();
    0.5 * (2.0 * v1 * (1.0 / v2 - 1.0 / v1).powi(2) + a * a * dm / (v2 * v2))
}

#[test]
fn fisher_divergence_at_each_level_matches_the_gaussian_closed_form() {
    let device = Device::flex();
    let vp = VpSde::default();
    let data = Gaussian::isotropic(M1.to_vec(), S1).unwrap();
    let other = Gaussian::isotropic(M2.to_vec(), S2).unwrap();
    let model = other.perturbed(vp);
    let exact = data.perturbed(vp);
    let mut noise = HostNoise::new(3);
    let x0 = data.sample(20_000, &device, DType::F32, &mut noise);
    let times = [0.0, 0.1, 0.3, 1.0];
    let profile = fisher_profile(&model, &exact, &vp, x0.clone(), &times, &mut noise).unwrap();
    for (&t, f) in times.iter().zip(&profile) {
        let want = closed_form(&vp, t);
        assert!(
            (f.mean - want).abs() < 4.0 * f.std_error,
            "t = {t}: F = {} +- {}, closed form {want}",
            f.mean,
            f.std_error
        );
    }
    assert!(
        closed_form(&vp, 0.0) > 10.0 * closed_form(&vp, 1.0),
        "the profile must vary"
    );

    let ring = GaussianMixture::ring8_weighted();
    let exact_ring = ring.perturbed(vp);
    let x0 = ring.sample(1000, &device, DType::F32, &mut noise);
    let f =
        fisher_divergence_at(&exact_ring, &exact_ring, &vp, x0.clone(), 0.2, &mut noise).unwrap();
    assert_eq!((f.mean, f.std_error), (0.0, 0.0));
    assert!(fisher_divergence_at(&exact_ring, &exact_ring, &vp, x0, -0.1, &mut noise).is_err());
}

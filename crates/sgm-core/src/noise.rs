use burn::prelude::*;
use burn::tensor::{DType, Distribution};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

/// A distribution of i.i.d. noise that samplers and losses draw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Noise {
    /// N(0, 1).
    StandardNormal,
    /// U[low, high).
    Uniform {
        /// Inclusive lower end.
        low: f64,
        /// Exclusive upper end.
        high: f64,
    },
    /// Uniform on {-1, +1}.
    Rademacher,
}

/// Where samplers and losses draw their randomness: never a hidden global.
///
/// Two implementations come with `sgm`:
/// - [`DeviceNoise`] draws with the device's own generator (fastest: nothing crosses to the
///   host), seeded through [`burn::tensor::Device::seed`], which may be global to the device.
/// - [`HostNoise`] draws with a seeded host generator and uploads the draws: the same seed gives
///   the same numbers on every device and in every test thread, and the generator can be cloned
///   to resume a stream.
///
/// The trait has one required method, [`NoiseSource::draw`], and stays object safe
/// (`&mut dyn NoiseSource` works); [`NoiseSourceExt`] adds shaped helpers to every source.
pub trait NoiseSource {
    /// Draws `n` i.i.d. values of `noise` as a flat `[n]` tensor on `device` with `dtype`.
    fn draw(&mut self, noise: Noise, n: usize, device: &Device, dtype: DType) -> Tensor<1>;
}

impl<N: NoiseSource + ?Sized> NoiseSource for &mut N {
    fn draw(&mut self, noise: Noise, n: usize, device: &Device, dtype: DType) -> Tensor<1> {
        (**self).draw(noise, n, device, dtype)
    }
}

impl<N: NoiseSource + ?Sized> NoiseSource for Box<N> {
    fn draw(&mut self, noise: Noise, n: usize, device: &Device, dtype: DType) -> Tensor<1> {
        (**self).draw(noise, n, device, dtype)
    }
}

/// Shaped draws for every [`NoiseSource`].
pub trait NoiseSourceExt: NoiseSource {
    /// Draws a tensor of `shape` on `device` with `dtype`.
    fn sample<const D: usize>(
        &mut self,
        noise: Noise,
        shape: [usize; D],
        device: &Device,
        dtype: DType,
    ) -> Tensor<D> {
        self.draw(noise, shape.iter().product(), device, dtype)
            .reshape(shape)
    }

    /// Standard normal noise with the shape, device and dtype of `x`.
    fn normal_like<const D: usize>(&mut self, x: &Tensor<D>) -> Tensor<D> {
        self.sample(Noise::StandardNormal, x.dims(), &x.device(), x.dtype())
    }

    /// Rademacher noise (+-1) with the shape, device and dtype of `x`.
    fn rademacher_like<const D: usize>(&mut self, x: &Tensor<D>) -> Tensor<D> {
        self.sample(Noise::Rademacher, x.dims(), &x.device(), x.dtype())
    }

    /// `n` draws of U[low, high) on the device and with the dtype of `like`.
    fn uniform_like<const D: usize>(
        &mut self,
        n: usize,
        low: f64,
        high: f64,
        like: &Tensor<D>,
    ) -> Tensor<1> {
        self.draw(
            Noise::Uniform { low, high },
            n,
            &like.device(),
            like.dtype(),
        )
    }

    /// `n` indices drawn uniformly from 0..count: floor(u count) for u ~ U[0, 1) in the dtype
    /// of `like`, clamped to count - 1 against u count rounding up to count (in f32), on the
    /// device of `like`. For picking levels, steps or rows of a data set.
    fn uniform_indices<const D: usize>(
        &mut self,
        n: usize,
        count: usize,
        like: &Tensor<D>,
    ) -> Tensor<1, Int> {
        self.uniform_like(n, 0.0, count as f64, like)
            .floor()
            .clamp(0.0, count.saturating_sub(1) as f64)
            .int()
    }
}

impl<N: NoiseSource + ?Sized> NoiseSourceExt for N {}

/// Noise from the device's own random generator.
///
/// Fastest on GPUs. Reproducible only as far as the backend's generator is: seed it with
/// [`burn::tensor::Device::seed`], which may be shared by every handle to the device in the
/// process (so tests running in parallel threads interleave their draws). Use [`HostNoise`]
/// where bit-for-bit reproducibility matters. It serialises (serde) as a unit: the generator's
/// state lives in the device and is not part of a checkpoint.
///
/// ```
/// use burn::prelude::*;
/// use sgm_core::{DeviceNoise, NoiseSourceExt};
///
/// let device = Device::flex();
/// let x = Tensor::<2>::zeros([3, 2], &device);
/// let z = DeviceNoise.normal_like(&x);
/// assert_eq!(z.dims(), [3, 2]);
/// ```
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct DeviceNoise;

impl NoiseSource for DeviceNoise {
    fn draw(&mut self, noise: Noise, n: usize, device: &Device, dtype: DType) -> Tensor<1> {
        let options = (device, dtype);
        match noise {
            Noise::StandardNormal => Tensor::random([n], Distribution::Normal(0.0, 1.0), options),
            Noise::Uniform { low, high } => {
                Tensor::random([n], Distribution::Uniform(low, high), options)
            }
            Noise::Rademacher => {
                Tensor::<1>::random([n], Distribution::Bernoulli(0.5), options) * 2.0 - 1.0
            }
        }
    }
}

/// Noise from a seeded host generator (xoshiro256++, Blackman & Vigna 2018), uploaded to the device.
///
/// The same seed gives the same sequence on every device and in every thread, which is what
/// fixed-seed statistical tests need. `Clone` the source to fork a stream; serialise it (serde)
/// to checkpoint and resume one: the generator's whole state is written, so a resumed stream
/// continues with the next number. Normals and signs are generated in f64 for f64 tensors and
/// in f32 otherwise; uniforms in f64, then rounded.
///
/// ```
/// use burn::prelude::*;
/// use sgm_core::{HostNoise, NoiseSourceExt};
///
/// let device = Device::flex();
/// let x = Tensor::<2>::zeros([2, 2], &device);
/// let a: Vec<f32> = HostNoise::new(7).normal_like(&x).into_data().try_to_vec().unwrap();
/// let b: Vec<f32> = HostNoise::new(7).normal_like(&x).into_data().try_to_vec().unwrap();
/// assert_eq!(a, b);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HostNoise {
    rng: Xoshiro256PlusPlus,
}

impl HostNoise {
    /// A source seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
        }
    }
}

impl HostNoise {
    fn values<T>(&mut self, noise: Noise, n: usize) -> Vec<T>
    where
        T: Copy + From<f32>,
        StandardNormal: rand_distr::Distribution<T>,
    {
        let rng = &mut self.rng;
        match noise {
            Noise::StandardNormal => (0..n).map(|_| rng.sample(StandardNormal)).collect(),
            Noise::Rademacher => {
                let (plus, minus) = (T::from(1.0), T::from(-1.0));
                (0..n)
                    .map(|_| if rng.random::<bool>() { plus } else { minus })
                    .collect()
            }
            Noise::Uniform { .. } => unreachable!("uniforms are drawn in f64"),
        }
    }
}

impl NoiseSource for HostNoise {
    fn draw(&mut self, noise: Noise, n: usize, device: &Device, dtype: DType) -> Tensor<1> {
        let data = match (noise, dtype) {
            // Uniform bounds keep f64 precision; the draws are rounded to the dtype.
            (Noise::Uniform { low, high }, _) => {
                let values: Vec<f64> = (0..n)
                    .map(|_| low + (high - low) * self.rng.random::<f64>())
                    .collect();
                TensorData::new(values, [n])
            }
            (_, DType::F64) => TensorData::new(self.values::<f64>(noise, n), [n]),
            // Normals and signs in f32 directly (ziggurat in f32): half the work of f64.
            _ => TensorData::new(self.values::<f32>(noise, n), [n]),
        };
        Tensor::from_data(data, (device, dtype))
    }
}

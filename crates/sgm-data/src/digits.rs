use std::io::Read;

use burn::prelude::*;
use flate2::read::GzDecoder;

use crate::{DataError, Result};

/// The gzip'd CSV embedded in the crate (see `data/README.md` for its provenance).
const DIGITS_CSV_GZ: &[u8] = include_bytes!("../data/digits.csv.gz");

/// Which part of the data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Every image whose 0-based index is not a multiple of 5 (1,437 images).
    Train,
    /// Every fifth image, indices 0, 5, 10, ... (360 images).
    Test,
    /// All 1,797 images.
    All,
}

impl Split {
    fn contains(self, index: usize) -> bool {
        match self {
            Split::Train => !index.is_multiple_of(5),
            Split::Test => index.is_multiple_of(5),
            Split::All => true,
        }
    }
}

/// How grey levels k in 0..=K map to model space (K = 16 for the digits, 255 for
/// [`ImageDataset`](crate::ImageDataset)'s MNIST and CIFAR-10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelScale {
    /// k / K in [0, 1].
    ZeroOne,
    /// 2 k / K - 1 in [-1, 1].
    MinusOneOne,
    /// k itself, 0..=K (for dequantisation and bits/dim).
    Levels,
}

impl PixelScale {
    /// The model-space value of the digits' grey level `k` (K = 16).
    pub fn apply(self, k: u8) -> f64 {
        self.apply_with_max(k, 16)
    }

    /// The model-space value of level `k` of 0..=`max`.
    ///
    /// ```
    /// use sgm_data::PixelScale;
    /// assert_eq!(PixelScale::MinusOneOne.apply_with_max(255, 255), 1.0);
    /// assert_eq!(PixelScale::ZeroOne.apply_with_max(4, 16), 0.25);
    /// ```
    pub fn apply_with_max(self, k: u8, max: u8) -> f64 {
        let (k, max) = (f64::from(k), f64::from(max));
        match self {
            PixelScale::ZeroOne => k / max,
            PixelScale::MinusOneOne => 2.0 * k / max - 1.0,
            PixelScale::Levels => k,
        }
    }
}

/// The 8x8 handwritten digits: 1,797 grey-level images with pixels in 0..=16 (17 levels) and
/// labels 0..=9, from the test set of the UCI "Optical Recognition of Handwritten Digits" data
/// set (Alpaydin & Kaynak 1998, CC BY 4.0), as redistributed with scikit-learn. The file is
/// embedded in the crate, so the loader needs no network or path.
///
/// The train/test split is fixed: every fifth image (index 0, 5, 10, ...) is a test image.
///
/// ```
/// use burn::prelude::*;
/// use sgm_data::{Digits, PixelScale, Split};
/// let digits = Digits::load()?;
/// assert_eq!((digits.len(Split::Train), digits.len(Split::Test)), (1437, 360));
/// let x = digits.to_tensor(Split::Test, PixelScale::MinusOneOne, &Device::flex());
/// assert_eq!(x.dims(), [360, 64]);
/// # Ok::<(), sgm_data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digits {
    /// Row-major pixels, 64 per image.
    pixels: Vec<u8>,
    labels: Vec<u8>,
}

impl Digits {
    /// Number of grey levels (0..=16).
    pub const LEVELS: usize = 17;
    /// Pixels per image.
    pub const PIXELS: usize = 64;
    /// Side of the square image.
    pub const SIDE: usize = 8;

    /// Decodes the embedded data set.
    ///
    /// # Errors
    /// [`DataError::Parse`] if the embedded file is corrupt (it is checked by the tests).
    pub fn load() -> Result<Self> {
        let mut text = String::new();
        GzDecoder::new(DIGITS_CSV_GZ)
            .read_to_string(&mut text)
            .map_err(|e| DataError::Parse {
                line: 0,
                reason: format!("gzip: {e}"),
            })?;
        let mut pixels = Vec::new();
        let mut labels = Vec::new();
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let parse_error = |reason: String| DataError::Parse {
                line: n + 1,
                reason,
            };
            let values: Vec<u8> = line
                .split(',')
                .map(|v| v.trim().parse::<u8>())
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| parse_error(e.to_string()))?;
            if values.len() != Self::PIXELS + 1 {
                return Err(parse_error(format!("{} fields, expected 65", values.len())));
            }
            if let Some(&p) = values[..Self::PIXELS].iter().find(|&&p| p > 16) {
                return Err(parse_error(format!("pixel {p} outside 0..=16")));
            }
            if values[Self::PIXELS] > 9 {
                return Err(parse_error(format!("label {}", values[Self::PIXELS])));
            }
            pixels.extend_from_slice(&values[..Self::PIXELS]);
            labels.push(values[Self::PIXELS]);
        }
        Ok(Self { pixels, labels })
    }

    fn indices(&self, split: Split) -> impl Iterator<Item = usize> + '_ {
        (0..self.labels.len()).filter(move |&i| split.contains(i))
    }

    /// Number of images in `split`.
    pub fn len(&self, split: Split) -> usize {
        self.indices(split).count()
    }

    /// Whether the data set is empty (never, once loaded).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The 64 grey levels of image `index` (0-based, over all images).
    ///
    /// # Panics
    /// If `index` is out of range.
    pub fn image(&self, index: usize) -> &[u8] {
        &self.pixels[index * Self::PIXELS..(index + 1) * Self::PIXELS]
    }

    /// The labels of `split`, in order.
    pub fn labels(&self, split: Split) -> Vec<u8> {
        self.indices(split).map(|i| self.labels[i]).collect()
    }

    /// The grey levels of `split`, row-major, 64 per image.
    pub fn levels(&self, split: Split) -> Vec<u8> {
        self.indices(split)
            .flat_map(|i| self.image(i).iter().copied())
            .collect()
    }

    /// The images of `split` as a `[n, 64]` float tensor on `device`, scaled by `scale`.
    pub fn to_tensor(&self, split: Split, scale: PixelScale, device: &Device) -> Tensor<2> {
        let values: Vec<f32> = self
            .levels(split)
            .into_iter()
            .map(|k| scale.apply(k) as f32)
            .collect();
        let n = values.len() / Self::PIXELS;
        Tensor::from_data(TensorData::new(values, [n, Self::PIXELS]), device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_digits_decode_with_expected_counts_and_values() {
        let d = Digits::load().unwrap();
        assert_eq!(d.len(Split::All), 1797);
        assert_eq!(d.len(Split::Train) + d.len(Split::Test), 1797);
        // First row of the file: 0,0,5,13,9,1,0,0,... label 0.
        assert_eq!(&d.image(0)[..6], &[0, 0, 5, 13, 9, 1]);
        assert_eq!(d.labels(Split::All)[0], 0);
        let levels = d.levels(Split::All);
        assert_eq!(levels.iter().copied().max(), Some(16));
        assert_eq!(levels.iter().copied().min(), Some(0));
        // All ten classes appear in both splits.
        for split in [Split::Train, Split::Test] {
            let mut seen = [false; 10];
            for l in d.labels(split) {
                seen[l as usize] = true;
            }
            assert!(seen.iter().all(|&s| s));
        }
    }

    #[test]
    fn scales_map_the_grey_levels_to_their_ranges() {
        assert_eq!(PixelScale::MinusOneOne.apply(0), -1.0);
        assert_eq!(PixelScale::MinusOneOne.apply(16), 1.0);
        assert_eq!(PixelScale::ZeroOne.apply(8), 0.5);
        let d = Digits::load().unwrap();
        let x = d.to_tensor(Split::Train, PixelScale::ZeroOne, &Device::flex());
        assert_eq!(x.dims(), [1437, 64]);
        let max: f32 = x.max().into_scalar();
        assert_eq!(max, 1.0);
    }
}

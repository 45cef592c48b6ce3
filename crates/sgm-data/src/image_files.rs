use std::io::Read;
use std::path::Path;

use burn::prelude::*;
use flate2::read::GzDecoder;

use crate::{DataError, PixelScale, Result};

/// A labelled image data set read from the files of a standard distribution: MNIST's IDX
/// files ([`ImageDataset::read_mnist`]) or CIFAR-10's binary batches
/// ([`ImageDataset::read_cifar10`]), from paths the user gives (nothing is downloaded).
///
/// Images are stored channel first (C, H, W), one byte per pixel value 0..=255, which is also
/// the order of the flat rows [`ImageDataset::to_tensor`] gives: `[n, C*H*W]`, the layout of
/// sgm's flat samples and of a channel-first U-Net.
///
/// ```no_run
/// use burn::prelude::*;
/// use sgm_data::{ImageDataset, PixelScale};
///
/// let mnist = ImageDataset::read_mnist(
///     "data/train-images-idx3-ubyte.gz",
///     "data/train-labels-idx1-ubyte.gz",
/// )?;
/// assert_eq!(mnist.shape(), [1, 28, 28]);
/// let x = mnist.to_tensor(PixelScale::MinusOneOne, &Device::flex());
/// # Ok::<(), sgm_data::DataError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ImageDataset {
    pixels: Vec<u8>,
    labels: Vec<u8>,
    shape: [usize; 3],
}

/// The IDX type code of unsigned bytes.
const IDX_UBYTE: u8 = 0x08;
/// CIFAR-10 images: 3 channels of 32 x 32.
const CIFAR_SHAPE: [usize; 3] = [3, 32, 32];

fn format_error(path: &Path, reason: impl Into<String>) -> DataError {
    DataError::Format {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// The bytes of `path`, gunzipped when they start with gzip's magic bytes.
fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    let io = |e: std::io::Error| DataError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let raw = std::fs::read(path).map_err(io)?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(io)?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// An IDX file of unsigned bytes (LeCun et al.'s format: two zero bytes, the type code, the
/// number of dimensions, each dimension as a big-endian u32, then the data): its dimensions
/// and data.
fn read_idx(path: &Path, rank: usize) -> Result<(Vec<usize>, Vec<u8>)> {
    let bytes = read_bytes(path)?;
    let header = 4 + 4 * rank;
    if bytes.len() < header {
        return Err(format_error(
            path,
            format!("{} bytes, shorter than an IDX header", bytes.len()),
        ));
    }
    if bytes[..2] != [0, 0] || bytes[2] != IDX_UBYTE || usize::from(bytes[3]) != rank {
        return Err(format_error(
            path,
            format!(
                "magic {:02x?}, expected [00, 00, 08, {rank:02x}] (IDX unsigned bytes of rank {rank})",
                &bytes[..4]
            ),
        ));
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes(c.try_into().expect("4 bytes")) as usize)
        .collect();
    let expected = dims.iter().product::<usize>();
    let data = bytes[header..].to_vec();
    if data.len() != expected {
        return Err(format_error(
            path,
            format!(
                "{} data bytes, the header's {dims:?} needs {expected}",
                data.len()
            ),
        ));
    }
    Ok((dims, data))
}

impl ImageDataset {
    /// Reads MNIST (LeCun et al. 1998) or any IDX pair of the same kind (Fashion-MNIST, KMNIST):
    /// an images file of rank 3 (n, rows, cols) and a labels file of rank 1 (n), each raw or
    /// gzip'd (`train-images-idx3-ubyte.gz`, `train-labels-idx1-ubyte.gz`).
    ///
    /// # Errors
    /// [`DataError::Io`] for a file that cannot be read, [`DataError::Format`] (naming the file)
    /// for a wrong magic number, a data length that disagrees with the header, or label and
    /// image counts that differ.
    pub fn read_mnist(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<Self> {
        let (images, labels) = (images.as_ref(), labels.as_ref());
        let (dims, pixels) = read_idx(images, 3)?;
        let (label_dims, labels_data) = read_idx(labels, 1)?;
        if label_dims[0] != dims[0] {
            return Err(format_error(
                labels,
                format!("{} labels for {} images", label_dims[0], dims[0]),
            ));
        }
        Ok(Self {
            pixels,
            labels: labels_data,
            shape: [1, dims[1], dims[2]],
        })
    }

    /// Reads CIFAR-10's binary batches (Krizhevsky 2009; `data_batch_1.bin` ...
    /// `test_batch.bin`), in the order given: records of one label byte (0..=9) then 3,072
    /// pixel bytes, the red, green and blue 32 x 32 planes row-major.
    ///
    /// # Errors
    /// [`DataError::Io`] for a file that cannot be read, [`DataError::Format`] for a length that
    /// is not a whole number of records, or a label above 9.
    pub fn read_cifar10<P: AsRef<Path>>(batches: &[P]) -> Result<Self> {
        let pixels_per_image: usize = CIFAR_SHAPE.iter().product();
        let record = 1 + pixels_per_image;
        let (mut pixels, mut labels) = (Vec::new(), Vec::new());
        for path in batches {
            let path = path.as_ref();
            let bytes = read_bytes(path)?;
            if bytes.is_empty() || !bytes.len().is_multiple_of(record) {
                return Err(format_error(
                    path,
                    format!(
                        "{} bytes, not a whole number of {record}-byte records",
                        bytes.len()
                    ),
                ));
            }
            for (i, chunk) in bytes.chunks_exact(record).enumerate() {
                if chunk[0] > 9 {
                    return Err(format_error(
                        path,
                        format!("record {i} has label {}, expected 0..=9", chunk[0]),
                    ));
                }
                labels.push(chunk[0]);
                pixels.extend_from_slice(&chunk[1..]);
            }
        }
        Ok(Self {
            pixels,
            labels,
            shape: CIFAR_SHAPE,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The image shape (channels, height, width).
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// The labels, in order.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The C*H*W pixel values 0..=255 of image `index`, channel first.
    ///
    /// # Panics
    /// If `index >= len()`.
    pub fn image(&self, index: usize) -> &[u8] {
        let size: usize = self.shape.iter().product();
        &self.pixels[index * size..(index + 1) * size]
    }

    /// The images as a `[n, C*H*W]` float tensor on `device`, values k in 0..=255 mapped by
    /// `scale` (k / 255, 2 k / 255 - 1, or k).
    pub fn to_tensor(&self, scale: PixelScale, device: &Device) -> Tensor<2> {
        let values: Vec<f32> = self
            .pixels
            .iter()
            .map(|&k| scale.apply_with_max(k, 255) as f32)
            .collect();
        let size = self.shape.iter().product();
        Tensor::from_data(TensorData::new(values, [self.len(), size]), device)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn idx(rank: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0, 0, IDX_UBYTE, rank];
        for d in dims {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        bytes.extend_from_slice(data);
        bytes
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("sgm-data-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Three 2 x 3 images written as IDX (raw and gzip'd) read back pixel for pixel, with their
    /// labels and scaling; a wrong magic, a short file and a label count that differs each
    /// give a `Format` error naming the file.
    ///
    /// Mutations checked: reading the dimensions little-endian, or skipping the gzip branch,
    /// fail the round trip.
    #[test]
    fn mnist_idx_files_round_trip_and_bad_files_are_named() {
        let dir = scratch("mnist");
        let pixels: Vec<u8> = (0..18).map(|k| (k * 15) as u8).collect();
        let images = dir.join("images");
        let labels = dir.join("labels.gz");
        std::fs::write(&images, idx(3, &[3, 2, 3], &pixels)).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&idx(1, &[3], &[7, 0, 9])).unwrap();
        std::fs::write(&labels, gz.finish().unwrap()).unwrap();

        let data = ImageDataset::read_mnist(&images, &labels).unwrap();
        assert_eq!((data.len(), data.shape()), (3, [1, 2, 3]));
        assert_eq!(data.labels(), &[7, 0, 9]);
        assert_eq!(data.image(1), &pixels[6..12]);
        let x: Vec<f32> = data
            .to_tensor(PixelScale::ZeroOne, &Device::flex())
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(x.len(), 18);
        assert_eq!(x[17], 255.0 / 255.0);
        assert!((x[1] - 15.0 / 255.0).abs() < 1e-7);

        let bad_magic = dir.join("bad");
        std::fs::write(&bad_magic, idx(1, &[3, 2, 3], &pixels)).unwrap();
        let short = dir.join("short");
        std::fs::write(&short, &idx(3, &[3, 2, 3], &pixels)[..20]).unwrap();
        let few_labels = dir.join("few");
        std::fs::write(&few_labels, idx(1, &[2], &[1, 2])).unwrap();
        for (images, labels, named) in [
            (&bad_magic, &labels, &bad_magic),
            (&short, &labels, &short),
            (&images, &few_labels, &few_labels),
        ] {
            match ImageDataset::read_mnist(images, labels) {
                Err(DataError::Format { path, .. }) => assert_eq!(&path, named),
                other => panic!("expected a Format error for {named:?}, got {other:?}"),
            }
        }
        assert!(matches!(
            ImageDataset::read_mnist(dir.join("missing"), &labels),
            Err(DataError::Io { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Two CIFAR-10 records in two batch files read back in order, channel planes kept; a
    /// partial record and a label of 10 are `Format` errors.
    ///
    /// Mutations checked: dropping the label byte from the record length (3072) or taking the
    /// label from the last byte fail this.
    #[test]
    fn cifar10_batches_round_trip_and_bad_files_are_named() {
        let dir = scratch("cifar");
        let record = |label: u8, base: u8| {
            let mut r = vec![label];
            r.extend((0..3072).map(|i| base.wrapping_add((i / 1024) as u8 * 100)));
            r
        };
        let (a, b) = (dir.join("a.bin"), dir.join("b.bin"));
        std::fs::write(&a, record(3, 1)).unwrap();
        std::fs::write(&b, record(9, 2)).unwrap();
        let data = ImageDataset::read_cifar10(&[&a, &b]).unwrap();
        assert_eq!((data.len(), data.shape()), (2, [3, 32, 32]));
        assert_eq!(data.labels(), &[3, 9]);
        // Channel planes: red 2, green 102, blue 202 for the second image.
        let image = data.image(1);
        assert_eq!(
            (image[0], image[1024], image[2048], image[3071]),
            (2, 102, 202, 202)
        );

        let partial = dir.join("partial.bin");
        std::fs::write(&partial, &record(3, 1)[..3000]).unwrap();
        let bad_label = dir.join("label.bin");
        std::fs::write(&bad_label, record(10, 1)).unwrap();
        for path in [&partial, &bad_label] {
            match ImageDataset::read_cifar10(&[&a, path]) {
                Err(DataError::Format { path: p, .. }) => assert_eq!(&p, path),
                other => panic!("expected a Format error for {path:?}, got {other:?}"),
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! Non-finite detection on the device, read back once.

use burn::prelude::*;
use burn::tensor::Bool;

use crate::host;

/// Records, step by step, whether a state is finite, without reading the device; [`first_bad`]
/// reads all the flags back at once and names the first step whose state held a NaN or an
/// infinity.
///
/// Samplers and the trainer use it so that a step loop makes no host read: a GPU keeps its
/// queue full, and the error still says where the run went wrong.
///
/// ```
/// use burn::prelude::*;
/// use sgm_core::NonFiniteWatch;
/// let device = Device::flex();
/// let mut watch = NonFiniteWatch::default();
/// watch.record(&Tensor::<2>::ones([2, 2], &device), 0, 0.5);
/// watch.record(&(Tensor::<2>::ones([2, 2], &device) / 0.0), 1, 0.25);
/// watch.record(&Tensor::<2>::zeros([2, 2], &device), 2, 0.0);
/// assert_eq!(watch.first_bad(), Some((1, 0.25)));
/// ```
///
/// [`first_bad`]: NonFiniteWatch::first_bad
#[derive(Debug, Clone, Default)]
pub struct NonFiniteWatch {
    flags: Vec<Tensor<1, Bool>>,
    labels: Vec<(usize, f64)>,
}

impl NonFiniteWatch {
    /// Records whether every element of `x` is finite, labelled by its step and time (device
    /// work only).
    pub fn record<const D: usize>(&mut self, x: &Tensor<D>, step: usize, t: f64) {
        self.flags.push(x.clone().is_finite().all());
        self.labels.push((step, t));
    }

    /// How many states were recorded.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The (step, time) of the first recorded state that was not finite, or `None`; one host
    /// read ([`host::read`]) when anything was recorded, none otherwise.
    pub fn first_bad(self) -> Option<(usize, f64)> {
        if self.flags.is_empty() {
            return None;
        }
        let flags = host::read(Tensor::cat(self.flags, 0))
            .convert::<bool>()
            .try_to_vec::<bool>()
            .expect("boolean flags read back as bool");
        flags.iter().position(|ok| !ok).map(|i| self.labels[i])
    }
}

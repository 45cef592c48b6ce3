//! The one way `sgm` reads tensors back from the device, and a count of those reads.
//!
//! On a GPU every device-to-host read waits for all queued work to finish, so a read inside a
//! step loop stalls the pipeline once per step. Every read in the library goes through
//! [`read`], which counts it per thread, so a test (or a user profiling a sampler) can check how
//! many reads a run made with [`host_reads`]: a fixed-step sampler makes one (its final
//! non-finite check), an adaptive ODE solve one per attempted step (the error norm) plus two for
//! Hairer's starting-step heuristic unless the first step is given.

use std::cell::Cell;

use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::kind::Basic;

thread_local! {
    static HOST_READS: Cell<usize> = const { Cell::new(0) };
}

/// Reads `x` back to the host, synchronising with its device, and counts the read.
///
/// ```
/// use burn::prelude::*;
/// use sgm_core::host;
/// let before = host::host_reads();
/// let data = host::read(Tensor::<1>::ones([3], &Device::flex()));
/// assert_eq!(data.to_vec::<f32>().unwrap(), vec![1.0; 3]);
/// assert_eq!(host::host_reads(), before + 1);
/// ```
pub fn read<const D: usize, K: Basic>(x: Tensor<D, K>) -> TensorData {
    HOST_READS.with(|n| n.set(n.get() + 1));
    x.into_data()
}

/// How many times the calling thread has called [`read`] (directly or through the library).
///
/// The count is per thread, so tests running in parallel do not disturb each other; take the
/// difference of two calls around the code to measure.
pub fn host_reads() -> usize {
    HOST_READS.with(Cell::get)
}

//! Choosing a burn device by name, as examples and benchmarks do from the command line.
//!
//! Names follow burn's `BURN_DEVICE` convention: `flex` (the default CPU backend), `ndarray`,
//! `wgpu`, `vulkan`, `cuda`. A name whose Cargo feature is not compiled in is an error, not a
//! panic.

use std::str::FromStr;

use burn::prelude::*;
use thiserror::Error;

/// Device selection errors.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// The name is not a known backend.
    #[error("unknown device '{0}': expected flex, ndarray, wgpu, vulkan or cuda")]
    Unknown(String),
    /// The backend exists but this build does not include it.
    #[error(
        "device '{name}' needs sgm's Cargo feature '{feature}' (build with --features sgm/{feature})"
    )]
    NotCompiled {
        /// The requested name.
        name: &'static str,
        /// The feature to enable.
        feature: &'static str,
    },
}

/// A burn backend that `sgm` can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// burn's pure-Rust CPU backend (feature `flex`, on by default).
    Flex,
    /// burn's ndarray CPU backend (feature `ndarray`).
    NdArray,
    /// wgpu on any graphics API (feature `wgpu`).
    Wgpu,
    /// wgpu pinned to Vulkan (feature `vulkan`).
    Vulkan,
    /// CUDA (feature `cuda`).
    Cuda,
}

impl Backend {
    /// The name used on command lines and in `BURN_DEVICE`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::NdArray => "ndarray",
            Backend::Wgpu => "wgpu",
            Backend::Vulkan => "vulkan",
            Backend::Cuda => "cuda",
        }
    }

    /// Whether this build includes the backend.
    pub fn is_compiled(self) -> bool {
        match self {
            Backend::Flex => cfg!(feature = "flex"),
            Backend::NdArray => cfg!(feature = "ndarray"),
            Backend::Wgpu => cfg!(feature = "wgpu"),
            Backend::Vulkan => cfg!(feature = "vulkan"),
            Backend::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// The device of this backend (the first GPU for GPU backends).
    ///
    /// # Errors
    /// [`DeviceError::NotCompiled`] if the backend's feature is off.
    #[allow(unreachable_code, deprecated)]
    pub fn device(self) -> Result<Device, DeviceError> {
        let missing = Err(DeviceError::NotCompiled {
            name: self.name(),
            feature: self.name(),
        });
        match self {
            Backend::Flex => {
                #[cfg(feature = "flex")]
                return Ok(Device::flex());
                missing
            }
            Backend::NdArray => {
                #[cfg(feature = "ndarray")]
                return Ok(Device::ndarray());
                missing
            }
            Backend::Wgpu => {
                #[cfg(feature = "wgpu")]
                return Ok(Device::wgpu(Default::default()));
                missing
            }
            Backend::Vulkan => {
                #[cfg(feature = "vulkan")]
                return Ok(Device::vulkan(Default::default()));
                missing
            }
            Backend::Cuda => {
                #[cfg(feature = "cuda")]
                return Ok(Device::cuda(0));
                missing
            }
        }
    }
}

impl FromStr for Backend {
    type Err = DeviceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "flex" => Ok(Backend::Flex),
            "ndarray" => Ok(Backend::NdArray),
            "wgpu" => Ok(Backend::Wgpu),
            "vulkan" => Ok(Backend::Vulkan),
            "cuda" => Ok(Backend::Cuda),
            _ => Err(DeviceError::Unknown(s.to_string())),
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The device named by `name` (`flex`, `ndarray`, `wgpu`, `vulkan`, `cuda`).
///
/// ```
/// let device = sgm::device::by_name("flex")?;
/// assert!(sgm::device::by_name("tpu").is_err());
/// # Ok::<(), sgm::device::DeviceError>(())
/// ```
///
/// # Errors
/// [`DeviceError::Unknown`] for other names, [`DeviceError::NotCompiled`] when the backend's
/// feature is off.
pub fn by_name(name: &str) -> Result<Device, DeviceError> {
    name.parse::<Backend>()?.device()
}

/// The device named by the `BURN_DEVICE` environment variable, or flex when it is unset.
///
/// # Errors
/// As [`by_name`].
pub fn from_env() -> Result<Device, DeviceError> {
    by_name(&std::env::var("BURN_DEVICE").unwrap_or_else(|_| "flex".to_string()))
}

/// Whether a wgpu adapter can run a tensor operation in this process (false when the `wgpu`
/// feature is off, or when no GPU or software Vulkan driver such as Mesa's lavapipe is
/// installed). The probe runs one small reduction and catches the panic wgpu raises when it
/// finds no adapter.
pub fn wgpu_available() -> bool {
    let Ok(device) = Backend::Wgpu.device() else {
        return false;
    };
    std::panic::catch_unwind(move || {
        let x = Tensor::<1>::ones([4], &device);
        sgm_core::tensor::to_f64(x.sum()) == [4.0]
    })
    .unwrap_or(false)
}

//! The checkpoint file of a [`Trainer`](crate::Trainer) run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::module::{ModuleVisitor, Param};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{NnError, Result};

/// The first bytes of every checkpoint: a name and the format version (1).
pub(crate) const MAGIC: &[u8; 8] = b"SGMCKPT\x01";

/// The length of the fixed prefix: the magic, then the header's length (u64, little endian).
const PREFIX: usize = MAGIC.len() + 8;

/// What a checkpoint holds besides its binary sections.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Header {
    /// The trainer config as JSON, with the settings that do not change the numbers
    /// (`progress`, `loss_every`) set to their defaults.
    pub config: serde_json::Value,
    /// Steps completed.
    pub step: usize,
    /// Updates folded into the EMA, if the run keeps one.
    pub ema_updates: Option<usize>,
    /// Shapes of the model's float parameters, in visiting order.
    pub parameters: Vec<Vec<usize>>,
    /// `std::any::type_name` of the run's state (the noise source, say).
    pub state_type: String,
    /// The run's state, serialised.
    pub state: serde_json::Value,
    /// Byte lengths of the sections that follow the header: model, optimizer, EMA, losses.
    pub sections: [u64; 4],
}

/// A checkpoint in memory: its header and its four sections (burnpack records of the model,
/// the optimizer and the EMA; the losses as little-endian f64).
#[derive(Debug, Clone)]
pub(crate) struct Checkpoint {
    pub header: Header,
    pub model: Vec<u8>,
    pub optimizer: Vec<u8>,
    pub ema: Vec<u8>,
    pub losses: Vec<f64>,
}

pub(crate) fn io_error(path: &Path, source: std::io::Error) -> NnError {
    NnError::Io {
        path: path.to_path_buf(),
        source: Arc::new(source),
    }
}

impl Checkpoint {
    /// Writes the checkpoint atomically: to a temporary file in the same folder, flushed to
    /// disk, then renamed over `path`, so a crash leaves the previous checkpoint or the new
    /// one, never a part of one.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut header = self.header.clone();
        header.sections = [
            self.model.len() as u64,
            self.optimizer.len() as u64,
            self.ema.len() as u64,
            (self.losses.len() * 8) as u64,
        ];
        let header = serde_json::to_vec(&header).expect("a header serialises");
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut file = tempfile::NamedTempFile::new_in(folder).map_err(|e| io_error(path, e))?;
        let losses: Vec<u8> = self.losses.iter().flat_map(|l| l.to_le_bytes()).collect();
        let write = |file: &mut tempfile::NamedTempFile| -> std::io::Result<()> {
            let out = file.as_file_mut();
            out.write_all(MAGIC)?;
            out.write_all(&(header.len() as u64).to_le_bytes())?;
            for part in [&header, &self.model, &self.optimizer, &self.ema, &losses] {
                out.write_all(part)?;
            }
            out.sync_all()
        };
        write(&mut file).map_err(|e| io_error(path, e))?;
        file.persist(path).map_err(|e| io_error(path, e.error))?;
        Ok(())
    }

    /// Reads a checkpoint, telling a file that is not one ([`NnError::CheckpointForeign`]) from
    /// one cut short ([`NnError::CheckpointTruncated`]).
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
        let foreign = |found: String| NnError::CheckpointForeign {
            path: path.to_path_buf(),
            expected: format!("a file starting with {:?}", String::from_utf8_lossy(MAGIC)),
            found,
        };
        let truncated = |expected: u64| NnError::CheckpointTruncated {
            path: path.to_path_buf(),
            expected,
            found: bytes.len() as u64,
        };
        let head = &bytes[..bytes.len().min(MAGIC.len())];
        if head != &MAGIC[..head.len()] {
            return Err(foreign(format!(
                "first bytes {:?}",
                String::from_utf8_lossy(head)
            )));
        }
        if bytes.len() < PREFIX {
            return Err(truncated(PREFIX as u64));
        }
        let header_len = u64::from_le_bytes(bytes[MAGIC.len()..PREFIX].try_into().expect("8"));
        let header_end = (PREFIX as u64).saturating_add(header_len);
        if (bytes.len() as u64) < header_end {
            return Err(truncated(header_end));
        }
        let header: Header = serde_json::from_slice(&bytes[PREFIX..header_end as usize])
            .map_err(|e| foreign(format!("an unreadable header ({e})")))?;
        let total = header
            .sections
            .iter()
            .fold(header_end, |end, len| end.saturating_add(*len));
        if (bytes.len() as u64) != total {
            return Err(if (bytes.len() as u64) < total {
                truncated(total)
            } else {
                foreign(format!(
                    "{} bytes where the header promises {total}",
                    bytes.len()
                ))
            });
        }
        let mut at = header_end as usize;
        let mut section = |len: u64| {
            let part = bytes[at..at + len as usize].to_vec();
            at += len as usize;
            part
        };
        let [model, optimizer, ema, losses] = header.sections.map(&mut section);
        if losses.len() % 8 != 0 || losses.len() / 8 != header.step {
            return Err(foreign(format!(
                "{} loss bytes for {} steps",
                losses.len(),
                header.step
            )));
        }
        let losses = losses
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8")))
            .collect();
        Ok(Self {
            header,
            model,
            optimizer,
            ema,
            losses,
        })
    }
}

/// The checkpoint does not match the run that resumes it: `what` differs.
pub(crate) fn mismatch(
    path: &Path,
    what: impl Into<String>,
    expected: impl ToString,
    found: impl ToString,
) -> NnError {
    NnError::CheckpointMismatch {
        path: path.to_path_buf(),
        what: what.into(),
        expected: expected.to_string(),
        found: found.to_string(),
    }
}

/// The first field in which two JSON objects differ, as (name, expected, found).
pub(crate) fn first_difference(
    expected: &serde_json::Value,
    found: &serde_json::Value,
) -> Option<(String, String, String)> {
    let (Some(a), Some(b)) = (expected.as_object(), found.as_object()) else {
        return (expected != found)
            .then(|| (String::new(), expected.to_string(), found.to_string()));
    };
    let missing = serde_json::Value::Null;
    a.keys()
        .chain(b.keys().filter(|k| !a.contains_key(*k)))
        .find_map(|key| {
            let (x, y) = (
                a.get(key).unwrap_or(&missing),
                b.get(key).unwrap_or(&missing),
            );
            (x != y).then(|| (key.clone(), x.to_string(), y.to_string()))
        })
}

/// The shapes of a module's float parameters, in visiting order.
pub(crate) fn parameter_shapes<M: Module>(model: &M) -> Vec<Vec<usize>> {
    struct Shapes(Vec<Vec<usize>>);
    impl ModuleVisitor for Shapes {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.val().dims().to_vec());
        }
    }
    let mut shapes = Shapes(Vec::new());
    model.visit(&mut shapes);
    shapes.0
}

/// A module's record as burnpack bytes.
pub(crate) fn module_bytes<M: Module>(model: &M, path: &Path) -> Result<Vec<u8>> {
    let bytes = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| record_error(path, "the model record", e))?;
    Ok(bytes.to_vec())
}

/// Loads burnpack bytes into `model`.
pub(crate) fn load_module<M: Module>(model: M, bytes: Vec<u8>, path: &Path) -> Result<M> {
    let record = burn::store::ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
        .map_err(|e| record_error(path, "the model record", e))?;
    model
        .try_load_record(record)
        .map_err(|e| mismatch(path, "model record", "the model's parameters", e))
}

/// A burnpack section that burn cannot read.
pub(crate) fn record_error(path: &Path, what: &str, error: impl std::fmt::Display) -> NnError {
    NnError::CheckpointForeign {
        path: path.to_path_buf(),
        expected: format!("{what} in burnpack format"),
        found: error.to_string(),
    }
}

/// Where a checkpoint goes: `path`, every `every` steps and after the last.
#[derive(Debug, Clone)]
pub(crate) struct CheckpointPlan {
    pub path: PathBuf,
    pub every: usize,
}

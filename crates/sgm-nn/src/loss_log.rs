use std::fs::File;
use std::path::{Path, PathBuf};

use crate::Result;
use crate::checkpoint::io_error;

/// One row of a [`Trainer`](crate::Trainer)'s loss log.
#[derive(Debug, serde::Serialize)]
struct Row {
    step: usize,
    loss: f64,
    learning_rate: f64,
}

/// The CSV loss log of a training run: a header `step,loss,learning_rate`, then one row per
/// step, written at every read-back of the losses (so a plot of a running job is at most
/// `loss_every` steps behind).
pub(crate) struct LossLog {
    path: PathBuf,
    writer: csv::Writer<File>,
}

impl LossLog {
    /// Starts the log at `path` (replacing any file there) with the rows of the steps already
    /// done (`losses`, from a checkpoint when resuming; the rates from `rate`): a log resumed
    /// after a crash holds each step once, whatever the crashed run had written past its
    /// checkpoint.
    pub fn create(path: &Path, losses: &[f64], rate: impl Fn(usize) -> f64) -> Result<Self> {
        let file = File::create(path).map_err(|e| io_error(path, e))?;
        let mut log = Self {
            path: path.to_path_buf(),
            writer: csv::Writer::from_writer(file),
        };
        for (step, &loss) in losses.iter().enumerate() {
            log.push(step, loss, rate(step))?;
        }
        log.flush()?;
        Ok(log)
    }

    /// Appends the row of `step`.
    pub fn push(&mut self, step: usize, loss: f64, learning_rate: f64) -> Result<()> {
        self.writer
            .serialize(Row {
                step,
                loss,
                learning_rate,
            })
            .map_err(|e| io_error(&self.path, e.into()))
    }

    /// Writes the buffered rows to the file.
    pub fn flush(&mut self) -> Result<()> {
        self.writer.flush().map_err(|e| io_error(&self.path, e))
    }
}

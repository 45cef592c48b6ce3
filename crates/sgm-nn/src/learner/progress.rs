//! [`ProgressRenderer`]: burn-train's metrics and progress as one indicatif bar.

use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{MetricDefinition, NumericEntry};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};
use indicatif::{ProgressBar, ProgressStyle};

/// A burn-train renderer (`SupervisedTraining::renderer`) that shows the run as one indicatif
/// bar over the epochs, with the split in progress, its items and the latest training and
/// validation values of the numeric metrics (the loss). burn-train's own renderer without its
/// `tui` feature prints a line per batch.
///
/// ```
/// use sgm_nn::learner::ProgressRenderer;
///
/// let renderer: Box<dyn burn::train::renderer::MetricsRenderer> = Box::new(ProgressRenderer::new());
/// # drop(renderer);
/// ```
#[derive(Debug)]
pub struct ProgressRenderer {
    bar: ProgressBar,
    split: String,
    split_items: usize,
    train: Option<f64>,
    valid: Option<f64>,
}

impl Default for ProgressRenderer {
    fn default() -> Self {
        Self::new()
    }
}

impl ProgressRenderer {
    /// A renderer whose bar appears when training starts.
    pub fn new() -> Self {
        Self {
            bar: ProgressBar::hidden(),
            split: String::new(),
            split_items: 0,
            train: None,
            valid: None,
        }
    }

    fn numeric(state: &MetricState) -> Option<f64> {
        match state {
            MetricState::Numeric(_, Some(entry)) => Some(NumericEntry::current(entry)),
            _ => None,
        }
    }

    fn refresh(&self, items: usize) {
        let show = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
        self.bar.set_message(format!(
            "{} {items}/{}, loss train {} valid {}",
            self.split,
            self.split_items,
            show(self.train),
            show(self.valid)
        ));
    }
}

impl MetricsRendererTraining for ProgressRenderer {
    fn update_train(&mut self, state: MetricState) {
        if let Some(value) = Self::numeric(&state) {
            self.train = Some(value);
        }
    }

    fn update_valid(&mut self, state: MetricState) {
        if let Some(value) = Self::numeric(&state) {
            self.valid = Some(value);
        }
    }
}

impl TrainingProgressLogger for ProgressRenderer {
    fn start(
        &mut self,
        total_epochs: usize,
        starting_epoch: usize,
        _total_items: Option<usize>,
        _label: Option<&str>,
    ) {
        self.bar = ProgressBar::new(total_epochs as u64)
            .with_position(starting_epoch as u64)
            .with_style(
                ProgressStyle::with_template("{bar:30} epoch {pos}/{len}, {msg} ({elapsed})")
                    .expect("valid template"),
            );
    }

    fn update_epoch(&mut self, epoch: usize) {
        self.bar.set_position(epoch as u64);
    }

    fn start_split(&mut self, split: &str, total_items: usize) {
        self.split = split.to_string();
        self.split_items = total_items;
        self.refresh(0);
    }

    fn update_split(&mut self, items_processed: usize) {
        self.refresh(items_processed);
    }

    fn end_split(&mut self) {}

    fn end(&mut self) {
        self.bar.finish();
    }

    fn log_event_training(&mut self, _event: String) {}
}

impl EvaluationProgressLogger for ProgressRenderer {
    fn start_global_progress(&mut self, _total_tests: usize) {}

    fn start_test(&mut self, _name: &str, _total_items: usize) {}

    fn update_test_progress(&mut self, _items_processed: usize) {}

    fn end_test(&mut self) {}

    fn end_global_progress(&mut self) {}

    fn log_event_evaluation(&mut self, _event: String) {}
}

impl MetricsRendererEvaluation for ProgressRenderer {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}
}

impl MetricsRenderer for ProgressRenderer {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, _definition: MetricDefinition) {}
}

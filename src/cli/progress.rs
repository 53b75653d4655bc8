//! Progress on stderr with indicatif; hidden when stderr is not a terminal.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use osmigrate::migrate::Progress;

/// One line of progress: the step (or table) and its rows; a step that runs beside the others
/// gets a line of its own below.
pub struct Bar {
    lines: MultiProgress,
    bar: ProgressBar,
}

impl Bar {
    pub fn new(service: &str) -> Self {
        Bar::line(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()), service)
    }

    fn line(lines: MultiProgress, prefix: &str) -> Self {
        let bar = lines.add(ProgressBar::no_length());
        bar.set_style(ProgressStyle::with_template("{spinner} {prefix} {msg}: {pos} rows ({per_sec})").expect("valid template"));
        bar.set_prefix(prefix.to_string());
        Bar { lines, bar }
    }
}

impl Progress for Bar {
    fn step(&self, name: &str) {
        self.bar.set_message(name.to_string());
        self.bar.set_position(0);
    }

    fn rows(&self, n: u64) {
        self.bar.inc(n);
    }

    fn done(&self) {}

    fn beside(&self, step: &str) -> Box<dyn Progress + Send + Sync + '_> {
        let line = Bar::line(self.lines.clone(), &format!("{} {step}", self.bar.prefix()));
        line.step(step);
        Box::new(line)
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

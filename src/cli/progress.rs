//! Progress on stderr with indicatif; hidden when stderr is not a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use osmigrate::migrate::Progress;

pub struct Bar {
    bar: ProgressBar,
}

impl Bar {
    pub fn new(service: &str) -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(ProgressStyle::with_template("{spinner} {prefix} {msg}: {pos} rows ({per_sec})").expect("valid template"));
        bar.set_prefix(service.to_string());
        Bar { bar }
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
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

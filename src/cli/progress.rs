//! Progress bars for `apply` on a terminal: one per platform, "operations sent of total", drawn
//! on stderr from the engine's [`ProgressEvent`]s. Nothing is drawn when stderr is not a terminal.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::{Engine, Progress, ProgressEvent};

/// Shows the engine's progress when stderr is a terminal.
pub fn attach(engine: &Engine) {
    if std::io::stderr().is_terminal() {
        engine.report_progress(Arc::new(Bars::new(ProgressDrawTarget::stderr())));
    }
}

/// One bar per platform.
struct Bars {
    multi: MultiProgress,
    bars: Mutex<BTreeMap<String, ProgressBar>>,
}

impl Bars {
    fn new(target: ProgressDrawTarget) -> Self {
        Self {
            multi: MultiProgress::with_draw_target(target),
            bars: Mutex::new(BTreeMap::new()),
        }
    }

    fn bar(&self, platform: String) -> ProgressBar {
        let mut bars = self.bars.lock().expect("never poisoned");
        bars.entry(platform.clone())
            .or_insert_with(|| {
                let style = ProgressStyle::with_template(
                    "{prefix}: {pos}/{len} operations sent {wide_bar}",
                )
                .expect("a valid template");
                self.multi
                    .add(ProgressBar::new(0).with_style(style).with_prefix(platform))
            })
            .clone()
    }
}

impl Progress for Bars {
    fn event(&self, event: ProgressEvent) {
        match event {
            ProgressEvent::Sending {
                platform,
                operations,
            } => {
                let bar = self.bar(platform);
                bar.set_length(operations as u64);
                bar.set_position(0);
            }
            ProgressEvent::Sent { platform } => self.bar(platform).inc(1),
            ProgressEvent::Finished { platform } => {
                if let Some(bar) = self.bars.lock().expect("never poisoned").remove(&platform) {
                    bar.finish_and_clear();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_per_platform_counts_what_was_sent() {
        let bars = Bars::new(ProgressDrawTarget::hidden());
        bars.event(ProgressEvent::Sending {
            platform: "juzi".into(),
            operations: 3,
        });
        bars.event(ProgressEvent::Sent {
            platform: "juzi".into(),
        });
        bars.event(ProgressEvent::Sent {
            platform: "juzi".into(),
        });
        let bar = bars.bar("juzi".into());
        assert_eq!((bar.position(), bar.length()), (2, Some(3)));
        bars.event(ProgressEvent::Finished {
            platform: "juzi".into(),
        });
        assert!(bar.is_finished());
        assert!(bars.bars.lock().unwrap().is_empty());
    }
}

//! Progress on a terminal, drawn on stderr from the engine's [`ProgressEvent`]s with indicatif,
//! one line per platform: while a platform is read, a spinner with the requests made so far (a
//! large account's paged list takes minutes at its rate limit); while a plan is sent, "operations
//! sent of total". Nothing is drawn when stderr is not a terminal, nor for machine-read output
//! (`--format json`/`markdown`), so that a script sees only its output.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::{Engine, Progress, ProgressEvent};

/// Shows the engine's progress when stderr is a terminal and the output is for a person.
pub fn attach(engine: &Engine, for_a_person: bool) {
    if shown(std::io::stderr().is_terminal(), for_a_person) {
        engine.report_progress(Arc::new(Bars::new(ProgressDrawTarget::stderr())));
    }
}

/// Whether progress is drawn: on a terminal, for output a person reads.
fn shown(stderr_is_terminal: bool, for_a_person: bool) -> bool {
    stderr_is_terminal && for_a_person
}

/// One line per platform.
struct Bars {
    multi: MultiProgress,
    bars: Mutex<BTreeMap<String, ProgressBar>>,
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).expect("a valid template")
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
            .or_insert_with(|| self.multi.add(ProgressBar::new(0).with_prefix(platform)))
            .clone()
    }
}

impl Progress for Bars {
    fn event(&self, event: ProgressEvent) {
        match event {
            ProgressEvent::Pulling { platform, requests } => {
                let bar = self.bar(platform);
                if requests == 0 {
                    bar.set_style(style(
                        "{prefix}: {spinner} reading the platform: {pos} requests ({elapsed})",
                    ));
                    bar.unset_length();
                    bar.reset();
                    bar.enable_steady_tick(Duration::from_millis(120));
                }
                bar.set_position(requests);
            }
            ProgressEvent::Pulled {
                platform,
                groups,
                tags,
            } => {
                let bar = self.bar(platform);
                bar.disable_steady_tick();
                bar.set_style(style("{prefix}: {msg}"));
                bar.set_message(format!("read {groups} groups, {tags} tags"));
            }
            ProgressEvent::Sending {
                platform,
                operations,
            } => {
                let bar = self.bar(platform);
                bar.set_style(style("{prefix}: {pos}/{len} operations sent {wide_bar}"));
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

    #[test]
    fn a_pull_counts_its_requests_then_says_what_it_read() {
        let bars = Bars::new(ProgressDrawTarget::hidden());
        let pulling = |requests| ProgressEvent::Pulling {
            platform: "wecom".into(),
            requests,
        };
        bars.event(pulling(0));
        bars.event(pulling(7));
        let bar = bars.bar("wecom".into());
        assert_eq!(
            (bar.position(), bar.length()),
            (7, None),
            "no total to show"
        );
        bars.event(ProgressEvent::Pulled {
            platform: "wecom".into(),
            groups: 100,
            tags: 10_000,
        });
        assert_eq!(bar.message(), "read 100 groups, 10000 tags");
        // The same line then counts the round's operations.
        bars.event(ProgressEvent::Sending {
            platform: "wecom".into(),
            operations: 4,
        });
        assert_eq!((bar.position(), bar.length()), (0, Some(4)));
        // A round's re-read starts from nothing again.
        bars.event(pulling(0));
        assert_eq!((bar.position(), bar.length()), (0, None));
        bars.event(ProgressEvent::Finished {
            platform: "wecom".into(),
        });
        assert!(bar.is_finished());
    }

    #[test]
    fn drawn_only_on_a_terminal_for_a_person() {
        assert!(shown(true, true));
        assert!(!shown(false, true), "redirected stderr: quiet");
        assert!(!shown(true, false), "--format json or markdown: quiet");
    }
}

//! What a soak did and found (see `soak_driver.rs`), and the table docs/BENCHMARKS.md shows.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// What a soak did and found.
#[derive(Debug, Default)]
pub struct Report {
    pub backend: &'static str,
    pub wall: Duration,
    pub cycles: u64,
    pub kills: u64,
    pub tag_file_changes: u64,
    pub marks: u64,
    /// Calls answered with a random or scripted framework fault, by kind.
    pub faults: BTreeMap<String, u64>,
    /// Calls refused by a simulator's rate limit.
    pub rate_limited: u64,
    /// Platform error codes scripted (WeCom 45033/6000, Dustess 10001-after-applying) and tokens revoked.
    pub platform_codes: u64,
    pub calls: u64,
    /// Daemon cycles finished, all lives, by outcome.
    pub daemon_cycles: BTreeMap<String, u64>,
    /// (soak cycle, life, RSS KiB).
    pub rss: Vec<(u64, u64, u64)>,
    /// Per platform: "equal" or what differed.
    pub equality: Vec<(String, String)>,
    pub duplicates: u64,
    pub marks_checked_contacts: u64,
    pub settle_time: Duration,
    /// Everything that is wrong; empty is a pass.
    pub problems: Vec<String>,
    pub work_dir: PathBuf,
}

impl Report {
    /// RSS growth within one daemon life, pooled over lives (KiB per soak cycle): the slope of a
    /// regression with one intercept per life, so restarts do not hide a leak.
    pub fn rss_slope_within_lives(&self) -> f64 {
        let mut lives: BTreeMap<u64, Vec<(f64, f64)>> = BTreeMap::new();
        for &(c, life, kib) in &self.rss {
            lives.entry(life).or_default().push((c as f64, kib as f64));
        }
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for points in lives.values() {
            let n = points.len() as f64;
            let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
            let my = points.iter().map(|p| p.1).sum::<f64>() / n;
            for (x, y) in points {
                sxy += (x - mx) * (y - my);
                sxx += (x - mx) * (x - mx);
            }
        }
        if sxx == 0.0 { 0.0 } else { sxy / sxx }
    }

    /// RSS growth of the last life (the quiet part, when there is one), its first two samples
    /// (warm-up) left out (KiB per soak cycle), and how many samples it rests on.
    pub fn rss_slope_last_life(&self) -> (f64, usize) {
        let Some(last) = self.rss.last().map(|r| r.1) else {
            return (0.0, 0);
        };
        let points: Vec<(f64, f64)> = self
            .rss
            .iter()
            .filter(|r| r.1 == last)
            .skip(2)
            .map(|r| (r.0 as f64, r.2 as f64))
            .collect();
        (slope(&points), points.len())
    }

    /// RSS over the whole run (KiB per soak cycle), restarts included.
    pub fn rss_slope_overall(&self) -> f64 {
        let points: Vec<(f64, f64)> = self.rss.iter().map(|r| (r.0 as f64, r.2 as f64)).collect();
        slope(&points)
    }

    /// A Markdown table for docs/BENCHMARKS.md.
    pub fn markdown(&self) -> String {
        let faults: u64 = self.faults.values().sum();
        let kinds: Vec<String> = self
            .faults
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let outcomes: Vec<String> = self
            .daemon_cycles
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let (lo, hi) = self
            .rss
            .iter()
            .fold((u64::MAX, 0), |(lo, hi), r| (lo.min(r.2), hi.max(r.2)));
        let mut out = String::new();
        let mut row = |k: &str, v: String| out.push_str(&format!("| {k} | {v} |\n"));
        row("mirror", self.backend.to_owned());
        row(
            "wall time",
            format!(
                "{:.1} min (final convergence {:.1} s)",
                self.wall.as_secs_f64() / 60.0,
                self.settle_time.as_secs_f64()
            ),
        );
        row("soak cycles", self.cycles.to_string());
        row("daemon cycles (all platforms)", outcomes.join(", "));
        row("kill -9 and restart", self.kills.to_string());
        row("tag-file changes", self.tag_file_changes.to_string());
        row("marks inserted by SQL", self.marks.to_string());
        row("simulator calls", self.calls.to_string());
        row(
            "faults injected",
            format!(
                "{faults} ({}); rate-limited {}; platform codes and token revocations {}",
                kinds.join(", "),
                self.rate_limited,
                self.platform_codes
            ),
        );
        for (p, verdict) in &self.equality {
            row(&format!("final state {p}"), verdict.clone());
        }
        row("duplicate objects", self.duplicates.to_string());
        row(
            "marks: customers whose set equals the in-order replay",
            self.marks_checked_contacts.to_string(),
        );
        row(
            "RSS (KiB) min / max / samples",
            format!("{lo} / {hi} / {}", self.rss.len()),
        );
        let (last, n) = self.rss_slope_last_life();
        row(
            "RSS slope of the last life (no kills), warm-up left out",
            format!("{last:+.1} KiB per soak cycle over {n} samples"),
        );
        row(
            "RSS slope within a life (pooled) / overall",
            format!(
                "{:+.1} / {:+.1} KiB per soak cycle",
                self.rss_slope_within_lives(),
                self.rss_slope_overall()
            ),
        );
        row(
            "problems",
            if self.problems.is_empty() {
                "none".to_owned()
            } else {
                self.problems.join("; ")
            },
        );
        out
    }
}

/// The least-squares slope of `points`.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 { 0.0 } else { sxy / sxx }
}

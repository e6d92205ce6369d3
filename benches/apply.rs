//! End-to-end apply benchmark: the real engine, clients and a SQLite mirror against the built-in
//! simulators over loopback HTTP, with the simulator's rate limit and tagsync's own `rate_limit`
//! at the same rate. Reports, per scenario, the calls made against the minimum the API needs and
//! the wall time against the floor that minimum allows at the rate limit, plus where the time of
//! the cycle went (span totals).
//!
//! ```sh
//! cargo bench --bench apply                 # everything: 20 × 20 at 50/s, 100 × 100 at 100/s
//! cargo bench --bench apply -- juzibot 20   # filters: platform and/or size
//! ```
//!
//! Numbers go to docs/BENCHMARKS.md.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tagsync::engine::{CycleRequest, Engine, Policy, RunMode, Target, Trigger};
use tagsync::model::Desired;
use tagsync::model::tagfile::{Context, Source, parse};
use tagsync::platforms::{self, RetryPolicy};
use tagsync::settings::{KindSettings, Mode, PlatformSettings, RateLimit, SecretSource};
use tagsync::sim::{self, FaultSpec, Fixture, SimOptions, SimPlatform};
use tagsync::store::Store;
use tracing::span;
use tracing_subscriber::layer::{Context as LayerCtx, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

const NAME: &str = "bench";
const SECRET: &str = "bench-secret-0001";

/// Wall time per span name (from creation to close), summed.
#[derive(Default, Clone)]
struct Spans(Arc<Mutex<BTreeMap<&'static str, (u64, Duration)>>>);

struct Started(Instant);

impl<S> tracing_subscriber::Layer<S> for Spans
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, _: &span::Attributes<'_>, id: &span::Id, ctx: LayerCtx<'_, S>) {
        if let Some(s) = ctx.span(id) {
            s.extensions_mut().insert(Started(Instant::now()));
        }
    }

    fn on_close(&self, id: span::Id, ctx: LayerCtx<'_, S>) {
        let Some(s) = ctx.span(&id) else { return };
        let Some(started) = s.extensions().get::<Started>().map(|s| s.0) else {
            return;
        };
        let mut m = self.0.lock().unwrap();
        let e = m.entry(s.metadata().name()).or_default();
        e.0 += 1;
        e.1 += started.elapsed();
    }
}

impl Spans {
    fn take(&self) -> BTreeMap<&'static str, (u64, Duration)> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

#[derive(Clone, Copy)]
struct Size {
    groups: usize,
    tags: usize,
    rps: u32,
}

/// The tag file: `groups` × `tags`, every group pruned; `renamed` renames every 10th group and
/// every 10th tag (by `was`), `pruned` also drops every 10th tag (a different one).
fn tag_file(size: Size, renamed: bool, pruned: bool) -> String {
    let mut out = String::from("groups:\n");
    let mut n = 0;
    for g in 0..size.groups {
        let old = format!("组{g:03}");
        if renamed && g % 10 == 0 {
            out.push_str(&format!("  - name: 新组{g:03}\n    was: [{old}]\n"));
        } else {
            out.push_str(&format!("  - name: {old}\n"));
        }
        out.push_str("    prune: true\n    tags:\n");
        for t in 0..size.tags {
            n += 1;
            let old = format!("标签{g:03}-{t:03}");
            if pruned && n % 10 == 5 {
                continue;
            }
            if renamed && n % 10 == 0 {
                out.push_str(&format!(
                    "      - name: 新标签{g:03}-{t:03}\n        was: [{old}]\n"
                ));
            } else {
                out.push_str(&format!("      - {old}\n"));
            }
        }
    }
    out
}

fn desired(text: String) -> Desired {
    let ctx = Context {
        known_platforms: [NAME.to_string()].into(),
        default_platforms: [NAME.to_string()].into(),
        prune_default: false,
    };
    parse(
        &[Source {
            name: "tags.yaml".into(),
            text,
        }],
        &ctx,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

struct Row {
    platform: SimPlatform,
    size: Size,
    scenario: &'static str,
    calls: u64,
    minimum: u64,
    wall: Duration,
    spans: BTreeMap<&'static str, (u64, Duration)>,
}

impl Row {
    fn floor(&self) -> Duration {
        Duration::from_secs_f64(self.minimum as f64 / f64::from(self.size.rps))
    }
}

/// The fewest calls the API allows for each scenario (see docs/BENCHMARKS.md for the formulas).
fn minimum(platform: SimPlatform, scenario: &str, s: Size, delete_chunk: usize) -> u64 {
    let (g, t) = (s.groups as u64, s.tags as u64);
    let renamed = g.div_ceil(10) + (g * t) / 10;
    let deleted = (g * t) / 10;
    let list = 1;
    match (platform, scenario) {
        // A create takes no order: every group and every tag gets one order edit.
        (SimPlatform::Juzibot, "bootstrap") => list + g + g + g * t,
        // A create carries the group's and its tags' orders; the token is fetched once.
        (SimPlatform::Wecom, "bootstrap") => 1 + list + g,
        (_, "rename") => list + renamed,
        (_, "prune") => list + deleted.div_ceil(delete_chunk as u64),
        _ => list,
    }
}

async fn run(platform: SimPlatform, size: Size, spans: &Spans) -> Vec<Row> {
    let fixture = Fixture {
        token: SECRET.into(),
        ..Fixture::default()
    };
    let sim = sim::start(
        platform,
        SimOptions {
            fixture,
            faults: FaultSpec {
                rps: Some(size.rps),
                ..FaultSpec::default()
            },
            ..SimOptions::default()
        },
    )
    .await
    .unwrap();
    let config = match platform {
        SimPlatform::Juzibot => KindSettings::Juzibot(Default::default()),
        SimPlatform::Wecom => KindSettings::Wecom(platforms::wecom::Config {
            corp_id: sim::wecom::DEFAULT_CORP_ID.into(),
            strategy_id: None,
        }),
        _ => unreachable!(),
    };
    let settings = PlatformSettings {
        name: NAME.into(),
        kind: config.kind(),
        base_url: sim.base_url().parse().unwrap(),
        mode: Mode::Enforce,
        rate_limit: Some(RateLimit {
            per_second: size.rps,
            burst: 1,
            concurrency: None,
        }),
        schedule: None,
        secret: SecretSource::Env("UNUSED".into()),
        config,
        timeout: Duration::from_secs(15),
    };
    let client =
        platforms::connect(&settings, SECRET.to_string().into(), RetryPolicy::default()).unwrap();
    let delete_chunk = client.capabilities().delete_tags.chunk();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("m.db").display());
    let store = Store::open(&url).await.unwrap();
    store
        .upsert_platform(NAME, settings.kind.as_str(), "enforce", chrono::Utc::now())
        .await
        .unwrap();
    let engine = Engine::with(store, tagsync::clock::system(), Policy::default());
    let target = Target::new(NAME, client);
    let request = CycleRequest {
        trigger: Trigger::Apply,
        mode: RunMode::Enforce,
        max_deletes: usize::MAX,
    };
    let steps = [
        ("bootstrap", tag_file(size, false, false)),
        ("no-op", tag_file(size, false, false)),
        ("rename", tag_file(size, true, false)),
        ("prune", tag_file(size, true, true)),
    ];
    let mut rows = Vec::new();
    for (scenario, text) in steps {
        let d = desired(text);
        // A fresh second of the simulator's window for every scenario.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        spans.take();
        let started = Instant::now();
        let report = engine.cycle(&target, &d, &request).await.unwrap();
        let wall = started.elapsed();
        assert!(
            !report.remaining.has_changes() && report.errors.is_empty(),
            "{platform} {scenario}: not converged: {:?}",
            report.errors
        );
        rows.push(Row {
            platform,
            size,
            scenario,
            calls: report.api_calls,
            minimum: minimum(platform, scenario, size, delete_chunk),
            wall,
            spans: spans.take(),
        });
    }
    let refused = sim.calls().iter().filter(|c| c.rate_limited).count();
    if refused > 0 {
        println!(
            "  ({platform} {}×{}: {refused} calls refused by the simulator's rate limit)",
            size.groups, size.tags
        );
    }
    rows
}

fn main() {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let spans = Spans::default();
    let subscriber = tracing_subscriber::registry().with(spans.clone());
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let sizes = [
        Size {
            groups: 20,
            tags: 20,
            rps: 50,
        },
        // WeCom publishes about 10,000 calls/min per API per corp (≈166/s); 100/s is tagsync's
        // WeCom default, below it with room for the corp's other clients. Juzibot publishes
        // none: the same rate, for comparison.
        Size {
            groups: 100,
            tags: 100,
            rps: 100,
        },
    ];
    println!(
        "| platform | size | rate | scenario | calls (minimum) | calls ÷ minimum | wall | floor | wall ÷ floor |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut all = Vec::new();
    for platform in [SimPlatform::Juzibot, SimPlatform::Wecom] {
        for size in sizes {
            let label = format!("{}x{}", size.groups, size.tags);
            let wanted = filters
                .iter()
                .all(|f| platform.name().contains(f.as_str()) || label.starts_with(f.as_str()));
            if !wanted {
                continue;
            }
            for r in rt.block_on(run(platform, size, &spans)) {
                println!(
                    "| {} | {}×{} | {}/s | {} | {} ({}) | {:.2} | {:.2} s | {:.2} s | {:.2} |",
                    r.platform,
                    r.size.groups,
                    r.size.tags,
                    r.size.rps,
                    r.scenario,
                    r.calls,
                    r.minimum,
                    r.calls as f64 / r.minimum as f64,
                    r.wall.as_secs_f64(),
                    r.floor().as_secs_f64(),
                    r.wall.as_secs_f64() / r.floor().as_secs_f64(),
                );
                all.push(r);
            }
        }
    }
    println!("\nWhere the time went (span wall time, summed; concurrent spans overlap):");
    for r in &all {
        let mut spans: Vec<_> = r.spans.iter().collect();
        spans.sort_by_key(|(_, (_, d))| std::cmp::Reverse(*d));
        let parts: Vec<String> = spans
            .iter()
            .take(10)
            .map(|(name, (n, d))| format!("{name} {n}× {:.1} ms", d.as_secs_f64() * 1000.0))
            .collect();
        println!(
            "- {} {}×{} {} ({:.2} s): {}",
            r.platform,
            r.size.groups,
            r.size.tags,
            r.scenario,
            r.wall.as_secs_f64(),
            parts.join(", ")
        );
    }
}

//! Planner and validation benchmarks at the largest size a platform allows (WeCom: 10,000 tags per
//! corp). Run with `cargo bench --bench planner`; numbers go to docs/BENCHMARKS.md.
//!
//! A plain harness (median of repeated runs) keeps the dependency tree lean; every measured
//! function is pure, so the numbers are stable on an idle machine.

use std::collections::BTreeSet;
use std::hint::black_box;
use std::time::{Duration, Instant};

use tagsync::model::tagfile::{Context, Source, parse};
use tagsync::model::{Bindings, RemoteGroup, RemoteTag, Snapshot};
use tagsync::planner::{self, PlanInput, order};
use tagsync::platforms::juzibot::CAPABILITIES;

const GROUPS: usize = 200;
const TAGS_PER_GROUP: usize = 50;

fn tag_file() -> String {
    let mut out = String::from("groups:\n");
    for g in 0..GROUPS {
        out.push_str(&format!(
            "  - name: 分组{g:03}\n    prune: true\n    tags:\n"
        ));
        for t in 0..TAGS_PER_GROUP {
            out.push_str(&format!("      - 标签{g:03}-{t:02}\n"));
        }
    }
    out
}

/// What the platform holds: everything in step, then `drift` of every 10 tags renamed in the
/// console and reversed in order.
fn remote(drift: bool) -> Snapshot {
    let mut n = 0;
    let groups = (0..GROUPS)
        .map(|g| RemoteGroup {
            id: format!("g{g}"),
            name: format!("分组{g:03}"),
            order: Some(((GROUPS - g) * 100) as u32),
            created_at: None,
            tags: (0..TAGS_PER_GROUP)
                .map(|t| {
                    n += 1;
                    let renamed = drift && n % 10 == 0;
                    RemoteTag {
                        id: format!("t{n}"),
                        name: if renamed {
                            format!("旧{g:03}-{t:02}")
                        } else {
                            format!("标签{g:03}-{t:02}")
                        },
                        order: Some(if drift && g % 10 == 0 {
                            (t * 100) as u32
                        } else {
                            ((TAGS_PER_GROUP - t) * 100) as u32
                        }),
                        created_at: None,
                    }
                })
                .collect(),
        })
        .collect();
    Snapshot { groups }
}

fn measure<T>(name: &str, runs: usize, mut f: impl FnMut() -> T) {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            black_box(f());
            start.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "{name:<48} median {:>10.3} ms   (min {:.3} ms, {runs} runs)",
        times[runs / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3
    );
}

fn main() {
    let text = tag_file();
    let ctx = Context {
        known_platforms: ["p".to_string()].into(),
        default_platforms: ["p".to_string()].into(),
        prune_default: false,
    };
    let sources = [Source {
        name: "tags.yaml".into(),
        text,
    }];
    let desired = parse(&sources, &ctx).expect("valid");
    println!(
        "{} groups, {} tags",
        desired.groups().len(),
        desired.tag_count()
    );
    measure("parse + validate 10,000 tags", 20, || {
        parse(&sources, &ctx).unwrap()
    });

    let none = BTreeSet::new();
    let bindings = Bindings::default();
    for (label, snapshot) in [
        ("plan, in step (no-op)", remote(false)),
        ("plan, 10% renamed + 10% groups reordered", remote(true)),
        ("plan, bootstrap (empty platform)", Snapshot::default()),
    ] {
        let input = PlanInput {
            platform: "p",
            desired: &desired,
            snapshot: &snapshot,
            bindings: &bindings,
            caps: &CAPABILITIES,
            not_ours: &none,
        };
        let p = planner::plan(&input);
        measure(&format!("{label}: {} ops", p.ops.len()), 20, || {
            planner::plan(&input)
        });
    }
    let reversed: Vec<Option<u32>> = (0..10_000u32).map(Some).collect();
    measure("order::relative, 10,000 items reversed", 20, || {
        order::relative(&reversed)
    });
    let shuffled: Vec<Option<u32>> = (0..10_000u32)
        .map(|i| Some(i.wrapping_mul(2_654_435_761) % 1_000_000))
        .collect();
    measure("order::relative, 10,000 items scrambled", 20, || {
        order::relative(&shuffled)
    });
}

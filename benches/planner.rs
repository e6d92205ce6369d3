//! Planner and validation benchmarks: the largest account a platform allows (WeCom: 10,000 tags
//! per corp), and issue 14's goals, 50,000 tags planned for each of the five platforms (under
//! 50 ms) and 10,000-tag files validated (under 20 ms). Run with `cargo bench --bench planner`;
//! numbers go to docs/BENCHMARKS.md.
//!
//! A plain harness (median of repeated runs) instead of criterion keeps the dependency tree lean
//! and needs no crate the offline build machines lack; every measured function is pure, so the
//! median of 20 runs is stable on an idle machine.

use std::collections::BTreeSet;
use std::hint::black_box;
use std::time::{Duration, Instant};

use tagsync::model::Capabilities;
use tagsync::model::tagfile::{Context, Source, parse};
use tagsync::model::{Bindings, RemoteGroup, RemoteTag, Snapshot};
use tagsync::planner::{self, PlanInput, order};
use tagsync::platforms::juzibot::CAPABILITIES;

const GROUPS: usize = 200;
const TAGS_PER_GROUP: usize = 50;

/// Issue 14's fleet-size desired state: 1,000 groups × 50 tags, every group on all five kinds.
const BIG_GROUPS: usize = 1_000;

const KINDS: [(&str, Capabilities); 5] = [
    ("wecom", tagsync::platforms::wecom::CAPABILITIES),
    ("juzibot", tagsync::platforms::juzibot::CAPABILITIES),
    ("yzj", tagsync::platforms::yzj::CAPABILITIES),
    ("dustess", tagsync::platforms::dustess::CAPABILITIES),
    ("crm", tagsync::platforms::crm::CAPABILITIES),
];

fn tag_file() -> String {
    tag_file_of(0..GROUPS)
}

/// Groups `range` (200 × 50 tags is WeCom's limit of 10,000).
fn tag_file_of(range: std::ops::Range<usize>) -> String {
    let mut out = String::from("groups:\n");
    for g in range {
        out.push_str(&format!(
            "  - name: 分组{g:04}\n    prune: true\n    tags:\n"
        ));
        for t in 0..TAGS_PER_GROUP {
            out.push_str(&format!("      - 标签{g:04}-{t:02}\n"));
        }
    }
    out
}

/// What the platform holds: everything in step, then `drift` of every 10 tags renamed in the
/// console and reversed in order.
fn remote(drift: bool) -> Snapshot {
    remote_of(GROUPS, drift)
}

fn remote_of(count: usize, drift: bool) -> Snapshot {
    let mut n = 0;
    let groups = (0..count)
        .map(|g| RemoteGroup {
            id: format!("g{g}"),
            name: format!("分组{g:04}"),
            order: Some(((count - g) * 100) as u32),
            created_at: None,
            tags: (0..TAGS_PER_GROUP)
                .map(|t| {
                    n += 1;
                    let renamed = drift && n % 10 == 0;
                    RemoteTag {
                        id: format!("t{n}"),
                        name: if renamed {
                            format!("旧{g:04}-{t:02}")
                        } else {
                            format!("标签{g:04}-{t:02}")
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
    // The same 10,000 tags in ten files, as a tag directory holds them.
    let files: Vec<Source> = (0..10)
        .map(|i| Source {
            name: format!("tags/{i:02}.yaml"),
            text: tag_file_of(i * GROUPS / 10..(i + 1) * GROUPS / 10),
        })
        .collect();
    measure("parse + validate 10,000 tags (10 files)", 20, || {
        parse(&files, &ctx).unwrap()
    });

    plan_fleet_size();

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

/// Issue 14: 50,000 tags planned for each of the five kinds (each with its own capabilities), one
/// iteration being the five plans.
fn plan_fleet_size() {
    let names: BTreeSet<String> = KINDS.iter().map(|(n, _)| n.to_string()).collect();
    let ctx = Context {
        known_platforms: names.clone(),
        default_platforms: names,
        prune_default: false,
    };
    let sources = [Source {
        name: "tags.yaml".into(),
        text: tag_file_of(0..BIG_GROUPS),
    }];
    let desired = parse(&sources, &ctx).expect("valid");
    assert_eq!(desired.tag_count(), 50_000);
    measure("parse + validate 50,000 tags", 10, || {
        parse(&sources, &ctx).unwrap()
    });
    let none = BTreeSet::new();
    let bindings = Bindings::default();
    for (label, snapshot) in [
        ("in step (no-op)", remote_of(BIG_GROUPS, false)),
        (
            "10% renamed + 10% groups reordered",
            remote_of(BIG_GROUPS, true),
        ),
        ("bootstrap", Snapshot::default()),
    ] {
        let inputs: Vec<PlanInput> = KINDS
            .iter()
            .map(|(name, caps)| PlanInput {
                platform: name,
                desired: &desired,
                snapshot: &snapshot,
                bindings: &bindings,
                caps,
                not_ours: &none,
            })
            .collect();
        let ops: usize = inputs.iter().map(|i| planner::plan(i).ops.len()).sum();
        measure(
            &format!("plan 50,000 tags x 5 platforms, {label}: {ops} ops"),
            10,
            || inputs.iter().map(planner::plan).collect::<Vec<_>>(),
        );
    }
}

//! The soak driver: `tagsync run` (the real binary, a child process) against all five simulators
//! (in this process) for a bounded time, with mixed faults, SIGKILL and restart every few cycles,
//! tag files changing under it and marks streaming in through plain SQL. Shared by the CI test
//! (`tests/it/soak.rs`, two minutes) and the long run (`cargo bench --bench soak -- --minutes N`),
//! which includes this file with `#[path]`.
//!
//! One soak *cycle*: change the tag files (renames by `was`, reorders, prunes, new groups and tags),
//! insert marks with the README's `INSERT INTO mark_requests`, script faults (HTTP 500/429,
//! the platforms' busy codes, WeCom's 45033/6000 and a revoked token, lost answers, delays,
//! Dustess's "unknown error after applying"), possibly SIGKILL the daemon and start it again,
//! then wait until every platform has finished a cycle that started after the change, and sample
//! the daemon's RSS. At the end (the daemon still running, faults still on): every simulator equals
//! the desired state, no duplicate object, every mark delivered with each customer's set equal to
//! the in-order replay of its requests, no panic in any log, and the RSS slope.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tagsync::sim::{self, FaultKind, FaultSpec, Fixture, SimHandle, SimOptions, SimPlatform};

const SECRET: &str = "soak-secret-7f3a";
const SECRET_VAR: &str = "SOAK_PLATFORM_SECRET";
const STAFF: &str = "staff-1";
/// The group marks use: never renamed, reordered or pruned, so that a mark always resolves.
const MARK_GROUP: &str = "客户级别";
/// Its tags, with the fixture's ids (string platforms, then Miaokol's numbers).
const MARK_TAGS: [(&str, &str, u64); 5] = [
    ("重要客户", "t-1", 2),
    ("普通客户", "t-2", 3),
    ("潜在客户", "t-3", 4),
    ("官网咨询", "t-4", 5),
    ("线下活动", "t-5", 6),
];
/// A group no tag file declares: it must stay as it is.
const OTHERS_GROUP: &str = "别人的";

/// The configured platforms: name, simulator, kind, extra configuration lines.
const PLATFORMS: [(&str, SimPlatform, &str, &str); 5] = [
    (
        "wecom",
        SimPlatform::Wecom,
        "wecom",
        "    corp_id: wwsimcorp0000000001\n    strategy_id: 1\n",
    ),
    ("juzi", SimPlatform::Juzibot, "juzibot", ""),
    ("yzj", SimPlatform::Yzj, "yzj", "    app_id: sim-app-id\n"),
    ("dustess", SimPlatform::Dustess, "dustess", ""),
    ("crm", SimPlatform::WechatCrm, "wechat_crm", ""),
];
/// Platforms that take marks.
const MARKING: [&str; 3] = ["wecom", "juzi", "yzj"];
/// Platforms that rename, reorder and prune (groups declared `platforms: [..]` with these).
const EDITING: [&str; 3] = ["wecom", "juzi", "yzj"];

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long to change things; the final convergence wait comes on top.
    pub duration: Duration,
    pub seed: u64,
    /// PostgreSQL URL (a fresh schema is made in it); SQLite in the work directory when `None`.
    pub postgres: Option<String>,
    /// The `tagsync` binary.
    pub binary: PathBuf,
    /// SIGKILL and restart after a number of soak cycles drawn from this range.
    pub kill_every: (u64, u64),
    /// The last part of `duration` runs without kills: one long life, whose RSS slope says
    /// whether memory stays flat.
    pub quiet: Duration,
    /// Mark requests inserted per marking platform per soak cycle.
    pub marks_per_cycle: usize,
    /// Customers per marking platform.
    pub contacts: usize,
    /// Share of calls with a random fault on every simulator.
    pub fault_rate: f64,
    /// How long the end may take to converge.
    pub settle: Duration,
    /// Progress lines on standard error.
    pub verbose: bool,
}

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

/// SplitMix64: the same seed gives the same soak (up to timing).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() % 10_000) as f64 / 10_000.0 < p
    }
}

#[derive(Debug, Clone)]
struct Tag {
    name: String,
    was: Vec<String>,
}

#[derive(Debug, Clone)]
struct Group {
    name: String,
    was: Vec<String>,
    tags: Vec<Tag>,
    /// Declared on every platform that can write, Dustess included: then only tags are added
    /// (Dustess has no rename, reorder or delete). Otherwise on [`EDITING`] only.
    everywhere: bool,
    /// The marks' group: never changed.
    fixed: bool,
}

/// The desired taxonomy as the tag files say it.
struct Desired {
    groups: Vec<Group>,
    next: u64,
}

impl Desired {
    fn new() -> Self {
        let tags = MARK_TAGS
            .iter()
            .map(|(n, _, _)| Tag {
                name: (*n).to_owned(),
                was: Vec::new(),
            })
            .collect();
        Desired {
            groups: vec![Group {
                name: MARK_GROUP.into(),
                was: Vec::new(),
                tags,
                everywhere: true,
                fixed: true,
            }],
            next: 0,
        }
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{:05}", self.next)
    }

    fn tag_count(&self) -> usize {
        self.groups.iter().map(|g| g.tags.len()).sum()
    }

    fn yaml(&self) -> String {
        let q = |s: &str| format!("\"{s}\"");
        let list = |v: &[String]| v.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ");
        let mut out = String::from("groups:\n");
        for g in &self.groups {
            out += &format!("  - name: {}\n    prune: true\n", q(&g.name));
            if !g.was.is_empty() {
                out += &format!("    was: [{}]\n", list(&g.was));
            }
            if !g.everywhere {
                out += &format!("    platforms: [{}]\n", EDITING.join(", "));
            }
            out += "    tags:\n";
            for t in &g.tags {
                if t.was.is_empty() {
                    out += &format!("      - {}\n", q(&t.name));
                } else {
                    out += &format!(
                        "      - name: {}\n        was: [{}]\n",
                        q(&t.name),
                        list(&t.was)
                    );
                }
            }
        }
        out
    }

    /// One random change; returns its description.
    fn change(&mut self, rng: &mut Rng) -> String {
        let editable: Vec<usize> = (0..self.groups.len())
            .filter(|&i| !self.groups[i].everywhere)
            .collect();
        let growable: Vec<usize> = (0..self.groups.len())
            .filter(|&i| !self.groups[i].fixed)
            .collect();
        let big = self.tag_count() > 600 || self.groups.len() > 40;
        for _ in 0..1000 {
            match rng.below(8) {
                0 | 1 if !big => {
                    let name = self.fresh("组");
                    let tags = (0..1 + rng.below(4))
                        .map(|_| Tag {
                            name: self.fresh("签"),
                            was: Vec::new(),
                        })
                        .collect();
                    let at = rng.below(self.groups.len() + 1);
                    let everywhere = rng.chance(0.3);
                    self.groups.insert(
                        at,
                        Group {
                            name: name.clone(),
                            was: Vec::new(),
                            tags,
                            everywhere,
                            fixed: false,
                        },
                    );
                    return format!("new group {name} at {at}");
                }
                2 if !big && !growable.is_empty() => {
                    let g = growable[rng.below(growable.len())];
                    let name = self.fresh("签");
                    let at = rng.below(self.groups[g].tags.len() + 1);
                    self.groups[g].tags.insert(
                        at,
                        Tag {
                            name: name.clone(),
                            was: Vec::new(),
                        },
                    );
                    return format!("new tag {name} in {}", self.groups[g].name);
                }
                3 if !editable.is_empty() => {
                    let g = editable[rng.below(editable.len())];
                    let name = self.fresh("组");
                    let group = &mut self.groups[g];
                    let old = std::mem::replace(&mut group.name, name.clone());
                    group.was.push(old.clone());
                    return format!("rename group {old} -> {name}");
                }
                4 if !editable.is_empty() => {
                    let g = editable[rng.below(editable.len())];
                    let name = self.fresh("签");
                    let group = &mut self.groups[g];
                    let t = rng.below(group.tags.len());
                    let old = std::mem::replace(&mut group.tags[t].name, name.clone());
                    group.tags[t].was.push(old.clone());
                    return format!("rename tag {old} -> {name}");
                }
                5 if !editable.is_empty() => {
                    let g = editable[rng.below(editable.len())];
                    let group = &mut self.groups[g];
                    let n = group.tags.len();
                    for i in (1..n).rev() {
                        group.tags.swap(i, rng.below(i + 1));
                    }
                    return format!("reorder the tags of {}", group.name);
                }
                6 if !editable.is_empty() => {
                    let g = editable[rng.below(editable.len())];
                    let group = self.groups.remove(g);
                    let at = rng.below(self.groups.len() + 1);
                    let name = group.name.clone();
                    self.groups.insert(at, group);
                    return format!("move group {name} to {at}");
                }
                7 => {
                    let prunable: Vec<usize> = editable
                        .iter()
                        .copied()
                        .filter(|&g| self.groups[g].tags.len() > 1)
                        .collect();
                    if prunable.is_empty() {
                        continue;
                    }
                    let g = prunable[rng.below(prunable.len())];
                    let group = &mut self.groups[g];
                    let t = group.tags.remove(rng.below(group.tags.len()));
                    return format!("prune {} from {}", t.name, group.name);
                }
                _ => continue,
            }
        }
        "no change".into()
    }

    /// The groups `platform` should hold, in the files' order.
    fn for_platform(&self, platform: &str) -> Vec<&Group> {
        self.groups
            .iter()
            .filter(|g| g.everywhere || EDITING.contains(&platform))
            .collect()
    }
}

/// A group as a simulator holds it: name, order (where the platform has one), tags with orders.
#[derive(Debug)]
struct Held {
    name: String,
    order: Option<u32>,
    tags: Vec<(String, u32)>,
}

fn held(platform: SimPlatform, sim: &SimHandle) -> Vec<Held> {
    match platform {
        SimPlatform::Wecom => sim
            .with_state(|c: &mut sim::wecom::Corp| {
                c.groups()
                    .iter()
                    .map(|g| Held {
                        name: g.name.clone(),
                        order: Some(g.order),
                        tags: g.tags.iter().map(|t| (t.name.clone(), t.order)).collect(),
                    })
                    .collect()
            })
            .unwrap(),
        SimPlatform::Juzibot => sim
            .with_state(|a: &mut sim::juzibot::Account| {
                a.groups()
                    .iter()
                    .map(|g| Held {
                        name: g.name.clone(),
                        order: Some(g.order),
                        tags: g.tags.iter().map(|t| (t.name.clone(), t.order)).collect(),
                    })
                    .collect()
            })
            .unwrap(),
        SimPlatform::Yzj => sim
            .with_state(|a: &mut sim::yzj::Account| {
                a.groups()
                    .iter()
                    .map(|g| Held {
                        name: g.name.clone(),
                        order: None,
                        tags: g.tags.iter().map(|t| (t.name.clone(), t.sort)).collect(),
                    })
                    .collect()
            })
            .unwrap(),
        SimPlatform::Dustess => sim
            .with_state(|a: &mut sim::dustess::Account| {
                a.live_groups()
                    .iter()
                    .map(|g| Held {
                        name: g.name.clone(),
                        order: None,
                        tags: g
                            .tags
                            .iter()
                            .filter(|t| !t.deleted)
                            .map(|t| (t.name.clone(), t.order))
                            .collect(),
                    })
                    .collect()
            })
            .unwrap(),
        SimPlatform::WechatCrm => sim
            .with_state(|a: &mut sim::crm::Account| {
                a.categories()
                    .iter()
                    .map(|c| Held {
                        name: c.name.clone(),
                        order: None,
                        tags: a
                            .labels()
                            .iter()
                            .filter(|l| l.category_id == c.id)
                            .map(|l| (l.name.clone(), 0))
                            .collect(),
                    })
                    .collect()
            })
            .unwrap(),
    }
}

/// Duplicate objects: a group name twice, or a tag name twice in one group.
fn duplicates(held: &[Held]) -> Vec<String> {
    let mut out = Vec::new();
    let mut groups = BTreeSet::new();
    for g in held {
        if !groups.insert(&g.name) {
            out.push(format!("group {} twice", g.name));
        }
        let mut tags = BTreeSet::new();
        for (t, _) in &g.tags {
            if !tags.insert(t) {
                out.push(format!("tag {}/{t} twice", g.name));
            }
        }
    }
    out
}

/// What differs between the simulator and the desired state; empty when equal. Orders are
/// compared where the platform writes them (WeCom, Juzibot): the files' order must be
/// non-increasing in the platform's `order` (bigger sorts first).
fn differences(platform: &str, kind: SimPlatform, held: &[Held], desired: &Desired) -> Vec<String> {
    let ordered = matches!(kind, SimPlatform::Wecom | SimPlatform::Juzibot);
    let mut out = Vec::new();
    if kind == SimPlatform::WechatCrm {
        return out;
    }
    let want = desired.for_platform(platform);
    let managed: Vec<&Held> = held.iter().filter(|h| h.name != OTHERS_GROUP).collect();
    if !held.iter().any(|h| h.name == OTHERS_GROUP) && kind != SimPlatform::Dustess {
        out.push(format!("the undeclared group {OTHERS_GROUP} is gone"));
    }
    let want_names: BTreeSet<&str> = want.iter().map(|g| g.name.as_str()).collect();
    let have_names: BTreeSet<&str> = managed.iter().map(|g| g.name.as_str()).collect();
    for missing in want_names.difference(&have_names) {
        out.push(format!("missing group {missing}"));
    }
    for extra in have_names.difference(&want_names) {
        out.push(format!("extra group {extra}"));
    }
    let mut last_order: Option<u32> = None;
    for g in &want {
        let Some(h) = managed.iter().find(|h| h.name == g.name) else {
            continue;
        };
        let want_tags: BTreeSet<&str> = g.tags.iter().map(|t| t.name.as_str()).collect();
        let have_tags: BTreeSet<&str> = h.tags.iter().map(|t| t.0.as_str()).collect();
        if want_tags != have_tags {
            out.push(format!(
                "{}: tags {:?}, want {:?}",
                g.name, have_tags, want_tags
            ));
            continue;
        }
        if ordered {
            if let (Some(prev), Some(o)) = (last_order, h.order) {
                if o > prev {
                    out.push(format!("group {} out of order", g.name));
                }
            }
            last_order = h.order;
            let orders: Vec<u32> = g
                .tags
                .iter()
                .map(|t| h.tags.iter().find(|x| x.0 == t.name).unwrap().1)
                .collect();
            if orders.windows(2).any(|w| w[1] > w[0]) {
                out.push(format!("tags of {} out of order: {orders:?}", g.name));
            }
        }
    }
    out
}

fn fixture(kind: SimPlatform, contacts: usize) -> Fixture {
    let numeric = kind == SimPlatform::Yzj;
    let strategy = if kind == SimPlatform::Wecom {
        "\n    strategyId: 1"
    } else {
        ""
    };
    let id = |s: &str, n: u64| {
        if numeric {
            format!("\"{n}\"")
        } else {
            s.to_owned()
        }
    };
    let mut text = String::from("groups:\n");
    match kind {
        SimPlatform::Dustess => text = "groups: []\n".into(),
        SimPlatform::WechatCrm => {
            text += "  - { id: \"1\", name: 渠道, tags: [{ id: \"11\", name: 线上 }, { id: \"12\", name: 线下 }] }\n";
        }
        _ => {
            // The marks' group in an order the files do not want: the first cycles reorder it.
            text += &format!(
                "  - id: {}\n    name: {MARK_GROUP}{strategy}\n    order: 10\n    tags:\n",
                id("g-level", 1)
            );
            for (i, (name, s, n)) in MARK_TAGS.iter().enumerate() {
                text += &format!(
                    "      - {{ id: {}, name: {name}, order: {} }}\n",
                    id(s, *n),
                    i + 1
                );
            }
            text += &format!(
                "  - id: {}\n    name: {OTHERS_GROUP}{strategy}\n    order: 1\n    tags:\n      - {{ id: {}, name: 别人的标签 }}\n",
                id("g-other", 8),
                id("t-other", 9)
            );
            text += "customers:\n";
            for c in 0..contacts {
                text += &format!("  - {{ unionId: c{c}, userId: {STAFF}, tags: [] }}\n");
            }
        }
    }
    let mut f = Fixture::from_yaml(&text).unwrap();
    f.token = SECRET.into();
    f
}

/// The tags a simulator holds on customer `c{contact}`, as mark-tag names (others ignored).
fn marked(kind: SimPlatform, sim: &SimHandle, contact: usize) -> BTreeSet<String> {
    let c = format!("c{contact}");
    let ids: Vec<String> = match kind {
        SimPlatform::Juzibot => sim
            .with_state(|a: &mut sim::juzibot::Account| {
                a.customer_tags(&c, STAFF)
                    .map(|s| s.iter().cloned().collect())
            })
            .unwrap()
            .unwrap_or_default(),
        SimPlatform::Wecom => sim
            .with_state(|a: &mut sim::wecom::Corp| {
                a.customer_tags(&c, STAFF)
                    .map(|s| s.iter().cloned().collect())
            })
            .unwrap()
            .unwrap_or_default(),
        SimPlatform::Yzj => sim
            .with_state(|a: &mut sim::yzj::Account| {
                a.customer_tags(STAFF, &c)
                    .map(|s| s.iter().map(u64::to_string).collect())
            })
            .unwrap()
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    ids.iter()
        .map(|id| {
            MARK_TAGS
                .iter()
                .find(|(_, s, n)| s == id || n.to_string() == *id)
                .map_or_else(|| format!("?{id}"), |t| t.0.to_owned())
        })
        .collect()
}

/// The mirror, as the test drives it: plain SQL.
enum Db {
    Sqlite(sqlx::SqlitePool),
    Pg(sqlx::PgPool),
}

impl Db {
    async fn execute(&self, sql: &str) -> Result<(), sqlx::Error> {
        match self {
            Db::Sqlite(p) => sqlx::raw_sql(sql).execute(p).await.map(drop),
            Db::Pg(p) => sqlx::raw_sql(sql).execute(p).await.map(drop),
        }
    }
    async fn count(&self, sql: &str) -> Result<i64, sqlx::Error> {
        match self {
            Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await,
            Db::Pg(p) => sqlx::query_scalar(sql).fetch_one(p).await,
        }
    }
}

struct Daemon {
    child: Child,
    port: u16,
    life: u64,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn write_config(dir: &Path, url: &str, sims: &[SimHandle], port: u16) -> PathBuf {
    let mut text = format!(
        "database_url: \"{url}\"\ntags: {}/tags\nschedule: \"*/2 * * * * *\"\nlisten: 127.0.0.1:{port}\nmax_deletes: 1000\nlease_ttl_seconds: 15\nplatforms:\n",
        dir.display()
    );
    for ((name, _, kind, extra), sim) in PLATFORMS.iter().zip(sims) {
        text += &format!(
            "  {name}:\n    kind: {kind}\n    base_url: {}\n    secret_env: {SECRET_VAR}\n    timeout_seconds: 2\n    rate_limit: {{ per_second: 60, burst: 20 }}\n{extra}",
            sim.base_url()
        );
    }
    let path = dir.join("tagsync.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn start_daemon(binary: &Path, dir: &Path, url: &str, sims: &[SimHandle], life: u64) -> Daemon {
    let port = free_port();
    let config = write_config(dir, url, sims, port);
    let log = std::fs::File::create(dir.join(format!("daemon-{life:04}.log"))).unwrap();
    let child = Command::new(binary)
        .args(["--config", config.to_str().unwrap(), "run"])
        .current_dir(dir)
        .env(SECRET_VAR, SECRET)
        .env("TAGSYNC_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Daemon { child, port, life }
}

/// `tagsync_cycles_total` by platform and outcome; `None` while the daemon does not answer.
async fn cycles(http: &reqwest::Client, port: u16) -> Option<BTreeMap<(String, String), u64>> {
    let text = http
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("tagsync_cycles_total{") else {
            continue;
        };
        let label = |k: &str| {
            rest.split(&format!("{k}=\""))
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or_default()
                .to_owned()
        };
        let value: f64 = line.rsplit(' ').next()?.parse().ok()?;
        out.insert((label("platform"), label("outcome")), value as u64);
    }
    Some(out)
}

/// Finished cycles (any outcome but a skip) per platform.
fn finished(c: &BTreeMap<(String, String), u64>) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for ((p, o), n) in c {
        if o != "elsewhere" {
            *out.entry(p.clone()).or_default() += n;
        }
    }
    out
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// One mark request: contact, added names, removed names (tag names of [`MARK_GROUP`]).
type Req = (usize, Vec<&'static str>, Vec<&'static str>);

fn mark_request(rng: &mut Rng, contacts: usize) -> Req {
    let contact = rng.below(contacts);
    let mut add = Vec::new();
    let mut remove = Vec::new();
    for (name, _, _) in MARK_TAGS {
        match rng.below(5) {
            0 => add.push(name),
            1 => remove.push(name),
            _ => {}
        }
    }
    if add.is_empty() && remove.is_empty() {
        add.push(MARK_TAGS[rng.below(5)].0);
    }
    (contact, add, remove)
}

fn json(names: &[&str]) -> String {
    let full: Vec<String> = names.iter().map(|n| format!("{MARK_GROUP}/{n}")).collect();
    serde_json::to_string(&full).unwrap()
}

/// Runs the soak.
pub async fn run(opts: Options) -> Report {
    let started = Instant::now();
    let work = tempfile::Builder::new()
        .prefix("tagsync-soak-")
        .tempdir()
        .unwrap()
        .keep();
    let mut report = Report {
        work_dir: work.clone(),
        ..Report::default()
    };
    let say = |msg: String| {
        if opts.verbose {
            eprintln!("[soak {:>7.1}s] {msg}", started.elapsed().as_secs_f64());
        }
    };
    say(format!("work directory {}", work.display()));

    // The mirror.
    let (url, pg_schema) = match &opts.postgres {
        Some(base) => {
            let admin = sqlx::PgPool::connect(base).await.unwrap();
            let schema = format!("soak_{}_{}", std::process::id(), opts.seed);
            sqlx::raw_sql(&format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
            ))
            .execute(&admin)
            .await
            .unwrap();
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
            report.backend = "postgres";
            (url, Some((admin, schema)))
        }
        None => {
            report.backend = "sqlite";
            let url = format!("sqlite://{}/mirror.db?mode=rwc", work.display());
            (url, None)
        }
    };

    // The simulators, each with its own fault sequence.
    let mut sims = Vec::new();
    for (i, (_, kind, _, _)) in PLATFORMS.iter().enumerate() {
        let spec: FaultSpec = format!(
            "seed={},rate={},kinds=http500+http429+busy+delay+timeout+reset+lost,delay=300ms,hang=3s,rps=80",
            opts.seed.wrapping_add(i as u64),
            opts.fault_rate
        )
        .parse()
        .unwrap();
        let handle = sim::start(
            *kind,
            SimOptions {
                fixture: fixture(*kind, opts.contacts),
                faults: spec,
                ..SimOptions::default()
            },
        )
        .await
        .unwrap();
        sims.push(handle);
    }
    // WeCom tokens expire within the run and are refreshed inside the 5-minute window.
    sims[0].with_state(|c: &mut sim::wecom::Corp| c.set_token_ttl(400));

    let mut rng = Rng(opts.seed);
    let mut desired = Desired::new();
    let tags_dir = work.join("tags");
    std::fs::create_dir_all(&tags_dir).unwrap();
    let write_tags = |d: &Desired| {
        let tmp = tags_dir.join(".tags.tmp");
        std::fs::write(&tmp, d.yaml()).unwrap();
        std::fs::rename(&tmp, tags_dir.join("tags.yaml")).unwrap();
    };
    for _ in 0..3 {
        desired.change(&mut rng);
    }
    write_tags(&desired);

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut life = 0;
    let mut daemon = start_daemon(&opts.binary, &work, &url, &sims, life);
    let mut daemon_totals: BTreeMap<String, u64> = BTreeMap::new();
    let mut last_counts: BTreeMap<(String, String), u64> = BTreeMap::new();

    // The mirror exists once the daemon has started; connect for the marks.
    let db = loop {
        let connected = match &pg_schema {
            Some(_) => sqlx::PgPool::connect(&url).await.map(Db::Pg),
            None => {
                use std::str::FromStr;
                match sqlx::sqlite::SqliteConnectOptions::from_str(&url) {
                    Ok(o) => {
                        sqlx::SqlitePool::connect_with(o.busy_timeout(Duration::from_secs(30)))
                            .await
                            .map(Db::Sqlite)
                    }
                    Err(e) => Err(e),
                }
            }
        };
        if let Ok(db) = connected {
            if db
                .count("SELECT COUNT(*) FROM platforms")
                .await
                .unwrap_or(0)
                >= 5
            {
                break db;
            }
        }
        if let Ok(Some(status)) = daemon.child.try_wait() {
            panic!("the daemon exited ({status}); see {}", work.display());
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the daemon did not create the mirror; see {}",
            work.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // Marks name tags that the first cycle binds (or creates): a request for a tag not yet
    // created goes dead by design (README, "Enqueueing marks"), so marks start after it.
    loop {
        let c = cycles(&http, daemon.port).await.unwrap_or_default();
        let ok: BTreeMap<&str, u64> = c
            .iter()
            .filter(|((_, o), _)| o == "ok")
            .map(|((p, _), n)| (p.as_str(), *n))
            .collect();
        if PLATFORMS
            .iter()
            .all(|(p, ..)| ok.get(p).copied().unwrap_or(0) >= 1)
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no first cycle; see {}",
            work.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut requests: BTreeMap<&str, Vec<Req>> = BTreeMap::new();
    let mut until_kill =
        opts.kill_every.0 + rng.next() % (opts.kill_every.1 - opts.kill_every.0 + 1);
    let tally = |report: &mut Report, sims: &[SimHandle]| {
        for s in sims {
            for c in s.calls() {
                report.calls += 1;
                if let Some(f) = c.fault {
                    *report.faults.entry(f.to_string()).or_default() += 1;
                }
                if c.rate_limited {
                    report.rate_limited += 1;
                }
                if s.platform() == SimPlatform::WechatCrm && c.write {
                    report
                        .problems
                        .push(format!("a write to the read-only CRM: {}", c.path));
                }
            }
            s.clear_log();
        }
    };

    while started.elapsed() < opts.duration {
        report.cycles += 1;
        let cycle = report.cycles;
        // Tag files.
        let mut changes = Vec::new();
        for _ in 0..1 + rng.below(3) {
            changes.push(desired.change(&mut rng));
        }
        write_tags(&desired);
        report.tag_file_changes += changes.len() as u64;
        // Marks, by plain SQL.
        for platform in MARKING {
            let batch: Vec<Req> = (0..opts.marks_per_cycle)
                .map(|_| mark_request(&mut rng, opts.contacts))
                .collect();
            let rows: Vec<String> = batch
                .iter()
                .map(|(c, add, remove)| {
                    format!(
                        "('{platform}', 'c{c}', '{STAFF}', '{}', '{}')",
                        json(add),
                        json(remove)
                    )
                })
                .collect();
            if !rows.is_empty() {
                let sql = format!(
                    "INSERT INTO mark_requests (platform, contact, user_id, add_tags, remove_tags) VALUES {}",
                    rows.join(", ")
                );
                if let Err(e) = db.execute(&sql).await {
                    report
                        .problems
                        .push(format!("INSERT INTO mark_requests failed: {e}"));
                    continue;
                }
                report.marks += batch.len() as u64;
                requests.entry(platform).or_default().extend(batch);
            }
        }
        // Scripted faults on top of the random ones.
        for s in &sims {
            if rng.chance(0.5) {
                let kind = FaultKind::ALL[rng.below(FaultKind::ALL.len())];
                s.fail_next("*", kind, 1 + rng.below(2));
            }
        }
        if rng.chance(0.3) {
            let code = [45033, 6000, -1][rng.below(3)];
            let api = [
                "get_strategy_tag_list",
                "add_strategy_tag",
                "edit_strategy_tag",
                "del_strategy_tag",
                "mark_tag",
            ][rng.below(5)];
            sims[0].with_state(|c: &mut sim::wecom::Corp| c.fail_next(api, code, 1));
            report.platform_codes += 1;
        }
        if rng.chance(0.15) {
            sims[0].with_state(|c: &mut sim::wecom::Corp| c.revoke_tokens());
            report.platform_codes += 1;
        }
        if rng.chance(0.2) {
            sims[3].with_state(|a: &mut sim::dustess::Account| a.answer_unknown_after_applying(1));
            report.platform_codes += 1;
        }
        // Kill -9 now and then, at a random moment of whatever the daemon is doing.
        let baseline: BTreeMap<String, u64>;
        until_kill -= 1;
        let quiet = started.elapsed() + opts.quiet >= opts.duration;
        if until_kill == 0 && !quiet {
            until_kill =
                opts.kill_every.0 + rng.next() % (opts.kill_every.1 - opts.kill_every.0 + 1);
            tokio::time::sleep(Duration::from_millis(rng.next() % 2500)).await;
            if let Some(c) = cycles(&http, daemon.port).await {
                last_counts = c;
            }
            let _ = daemon.child.kill(); // SIGKILL
            let _ = daemon.child.wait();
            for ((p, o), n) in &last_counts {
                *daemon_totals.entry(format!("{p}:{o}")).or_default() += n;
            }
            last_counts.clear();
            report.kills += 1;
            life += 1;
            daemon = start_daemon(&opts.binary, &work, &url, &sims, life);
            baseline = BTreeMap::new();
        } else {
            baseline = finished(&cycles(&http, daemon.port).await.unwrap_or_default());
        }
        // Wait for a cycle of every platform that started after the change.
        let wait_from = Instant::now();
        loop {
            if let Ok(Some(status)) = daemon.child.try_wait() {
                report.problems.push(format!(
                    "the daemon exited by itself ({status}) in life {}",
                    daemon.life
                ));
                daemon = {
                    life += 1;
                    start_daemon(&opts.binary, &work, &url, &sims, life)
                };
            }
            if let Some(c) = cycles(&http, daemon.port).await {
                let now = finished(&c);
                last_counts = c;
                let done = PLATFORMS.iter().all(|(p, ..)| {
                    now.get(*p).copied().unwrap_or(0) >= baseline.get(*p).copied().unwrap_or(0) + 2
                });
                if done {
                    break;
                }
            }
            if wait_from.elapsed() > Duration::from_secs(90) {
                say(format!("cycle {cycle}: no full daemon cycle within 90 s"));
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if let Some(kib) = rss_kib(daemon.child.id()) {
            report.rss.push((cycle, daemon.life, kib));
        }
        tally(&mut report, &sims);
        say(format!(
            "cycle {cycle} life {} rss {} KiB tags {} marks {}: {}",
            daemon.life,
            report.rss.last().map_or(0, |r| r.2),
            desired.tag_count(),
            report.marks,
            changes.join("; ")
        ));
    }

    // The end: faults stay on; wait for the simulators to equal the files and the queue to drain.
    let settle_from = Instant::now();
    let mut verdicts;
    loop {
        verdicts = Vec::new();
        let mut all_equal = true;
        for ((name, kind, _, _), s) in PLATFORMS.iter().zip(&sims) {
            let h = held(*kind, s);
            let d = differences(name, *kind, &h, &desired);
            all_equal &= d.is_empty();
            verdicts.push((name.to_string(), d));
        }
        let open = db
            .count("SELECT COUNT(*) FROM mark_requests WHERE status IN ('queued', 'claimed')")
            .await
            .unwrap_or(-1);
        if all_equal && open == 0 {
            break;
        }
        if settle_from.elapsed() > opts.settle {
            report.problems.push(format!(
                "not converged {:.0} s after the last change ({open} marks still open)",
                opts.settle.as_secs_f64()
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    report.settle_time = settle_from.elapsed();
    for (name, d) in verdicts {
        if d.is_empty() {
            report.equality.push((name, "equal".into()));
        } else {
            report.problems.push(format!(
                "{name} differs from the tag files: {}",
                d.join("; ")
            ));
            report.equality.push((name, d.join("; ")));
        }
    }
    for ((name, kind, _, _), s) in PLATFORMS.iter().zip(&sims) {
        for d in duplicates(&held(*kind, s)) {
            report.duplicates += 1;
            report.problems.push(format!("{name}: {d}"));
        }
    }

    // Marks: none dead, every customer's set the in-order replay of its requests.
    let failed = db
        .count("SELECT COUNT(*) FROM mark_requests WHERE status = 'failed'")
        .await
        .unwrap_or(-1);
    if failed != 0 {
        report.problems.push(format!("{failed} marks dead"));
    }
    for ((name, kind, _, _), s) in PLATFORMS.iter().zip(&sims) {
        let Some(reqs) = requests.get(name) else {
            continue;
        };
        let mut replay: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
        for (c, add, remove) in reqs {
            let set = replay.entry(*c).or_default();
            set.extend(add.iter().map(|n| n.to_string()));
            for r in remove {
                set.remove(*r);
            }
        }
        for (c, want) in replay {
            let have = marked(*kind, s, c);
            if have == want {
                report.marks_checked_contacts += 1;
            } else {
                report.problems.push(format!(
                    "{name} c{c}: holds {have:?}, the requests replay to {want:?}"
                ));
            }
        }
    }

    // Stop the daemon (SIGTERM: exit 0 expected) and read every log for panics.
    if let Some(c) = cycles(&http, daemon.port).await {
        last_counts = c;
    }
    for ((p, o), n) in &last_counts {
        *daemon_totals.entry(format!("{p}:{o}")).or_default() += n;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &daemon.child.id().to_string()])
        .status();
    let stop_from = Instant::now();
    loop {
        match daemon.child.try_wait() {
            Ok(Some(status)) => {
                if !status.success() {
                    report
                        .problems
                        .push(format!("the daemon stopped with {status} on SIGTERM"));
                }
                break;
            }
            _ if stop_from.elapsed() > Duration::from_secs(45) => {
                report
                    .problems
                    .push("the daemon did not stop on SIGTERM".into());
                let _ = daemon.child.kill();
                let _ = daemon.child.wait();
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    for entry in std::fs::read_dir(&work).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "log") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if text.contains("panicked") {
                report
                    .problems
                    .push(format!("a panic in {}", path.display()));
            }
        }
    }
    tally(&mut report, &sims);
    for (key, n) in daemon_totals {
        let outcome = key.split(':').nth(1).unwrap_or_default().to_owned();
        *report.daemon_cycles.entry(outcome).or_default() += n;
    }
    for s in sims {
        let _ = s.shutdown().await;
    }
    match db {
        Db::Sqlite(p) => p.close().await,
        Db::Pg(p) => p.close().await,
    }
    if let Some((admin, schema)) = pg_schema {
        if report.problems.is_empty() {
            let _ = sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&admin)
                .await;
        }
    }
    report.wall = started.elapsed();
    if report.problems.is_empty() && opts.postgres.is_some() {
        let _ = std::fs::remove_dir_all(&work);
    }
    report
}

//! Shared by the process-level tests (`crash`, `concurrency`): one console state and one desired
//! taxonomy per platform, a configuration that points the real binary at a simulator, the binary
//! run as a child process, and a canonical view of what a simulator holds.
//!
//! Each scenario asks for every kind of write its platform can make: a group renamed by `was` and
//! reordered, a tag renamed by `was`, tags added to existing groups, a pruned tag, tags reordered,
//! and two new groups; an undeclared group stays untouched.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use tagsync::model::Bindings;
use tagsync::sim::{self, FaultSpec, Fixture, SimHandle, SimOptions, SimPlatform};
use tagsync::store::Store;

/// One platform's starting console and desired taxonomy.
pub struct Scenario {
    pub platform: SimPlatform,
    /// The platform's name in the configuration.
    pub name: &'static str,
    kind: &'static str,
    /// Kind-specific configuration lines (indented under the platform).
    extra: &'static str,
    fixture: &'static str,
    pub tags: &'static str,
    /// Tag files applied (uninterrupted) before the trial, where the console state cannot be seeded
    /// (Dustess: tagsync knows only what it created itself).
    pub setup_tags: Option<&'static str>,
    /// [`state`] once the desired taxonomy is applied.
    pub expected: &'static [&'static str],
    /// Whether the platform can write orders (then [`state`] shows group orders and tag order).
    pub ordered: bool,
}

/// The secret every scenario's simulator accepts, handed to the binary through `SECRET_VAR`.
pub const SECRET: &str = "crash-secret-token-5d1e";
pub const SECRET_VAR: &str = "CRASH_IT_SECRET";

pub const JUZIBOT: Scenario = Scenario {
    platform: SimPlatform::Juzibot,
    name: "juzi",
    kind: "juzibot",
    extra: "",
    fixture: r#"
groups:
  - id: g-level
    name: 客户等级
    order: 300
    tags:
      - { id: t-vip, name: 重要客户, order: 300 }
      - { id: t-normal, name: 一般客户, order: 200 }
      - { id: t-gone, name: 已注销, order: 100 }
  - id: g-source
    name: 客户来源
    order: 200
    tags:
      - { id: t-offline, name: 线下活动, order: 2 }
      - { id: t-web, name: 官网咨询, order: 1 }
  - id: g-test
    name: 内部测试
    order: 1
    tags:
      - { id: t-test, name: 测试客户, order: 0 }
"#,
    tags: ORDERED_TAGS,
    setup_tags: None,
    expected: &[
        "客户级别 (400): 重要客户, 普通客户, 潜在客户",
        "客户来源 (300): 官网咨询, 线下活动, 电话咨询",
        "购买意向 (200): 高意向, 中意向, 低意向",
        "所属行业 (100): 教育, 金融, 零售",
        "内部测试 (1): 测试客户",
    ],
    ordered: true,
};

pub const WECOM: Scenario = Scenario {
    platform: SimPlatform::Wecom,
    name: "wecom",
    kind: "wecom",
    extra: "corp_id: wwsimcorp0000000001\n    strategy_id: 1\n",
    fixture: r#"
groups:
  - id: g-level
    name: 客户等级
    strategyId: 1
    order: 300
    tags:
      - { id: t-vip, name: 重要客户, order: 300 }
      - { id: t-normal, name: 一般客户, order: 200 }
      - { id: t-gone, name: 已注销, order: 100 }
  - id: g-source
    name: 客户来源
    strategyId: 1
    order: 200
    tags:
      - { id: t-offline, name: 线下活动, order: 2 }
      - { id: t-web, name: 官网咨询, order: 1 }
  - id: g-test
    name: 内部测试
    strategyId: 1
    order: 1
    tags:
      - { id: t-test, name: 测试客户, order: 0 }
"#,
    tags: ORDERED_TAGS,
    setup_tags: None,
    expected: &[
        "客户级别 (400): 重要客户, 普通客户, 潜在客户",
        "客户来源 (300): 官网咨询, 线下活动, 电话咨询",
        "购买意向 (200): 高意向, 中意向, 低意向",
        "所属行业 (100): 教育, 金融, 零售",
        "内部测试 (1): 测试客户",
    ],
    ordered: true,
};

/// Miaokol cannot write orders: its view is groups and tags by name.
pub const YZJ: Scenario = Scenario {
    platform: SimPlatform::Yzj,
    name: "yzj",
    kind: "yzj",
    extra: "app_id: sim-app-id\n",
    fixture: r#"
groups:
  - id: "1"
    name: 客户等级
    tags:
      - { id: "2", name: 重要客户 }
      - { id: "3", name: 一般客户 }
      - { id: "4", name: 已注销 }
  - id: "5"
    name: 客户来源
    tags:
      - { id: "6", name: 官网咨询 }
      - { id: "7", name: 线下活动 }
  - id: "8"
    name: 内部测试
    tags:
      - { id: "9", name: 测试客户 }
"#,
    setup_tags: None,
    tags: r#"
groups:
  - name: 客户级别
    was: [客户等级]
    prune: true
    tags:
      - 重要客户
      - { name: 普通客户, was: [一般客户] }
      - 潜在客户
  - name: 客户来源
    tags: [官网咨询, 线下活动, 电话咨询]
  - name: 购买意向
    tags: [高意向, 中意向, 低意向]
  - name: 所属行业
    tags: [教育, 金融, 零售]
"#,
    expected: &[
        "内部测试: 测试客户",
        "客户来源: 官网咨询, 电话咨询, 线下活动",
        "客户级别: 普通客户, 潜在客户, 重要客户",
        "所属行业: 教育, 金融, 零售",
        "购买意向: 中意向, 低意向, 高意向",
    ],
    ordered: false,
};

/// Dustess has no list call: the "console" is what an earlier run created (`setup_tags`), and the
/// trial adds tags to both groups and creates two more. Names are unique in a Dustess account (an
/// `add` naming an existing group or tag answers that one), so "no duplicate" means: each declared
/// object exists once, and its binding points at it (a repeated create must answer the existing id).
pub const DUSTESS: Scenario = Scenario {
    platform: SimPlatform::Dustess,
    name: "dustess",
    kind: "dustess",
    extra: "",
    fixture: "groups: []\n",
    setup_tags: Some(
        r#"
groups:
  - name: 客户级别
    order: 400
    tags: [重要客户, 普通客户]
  - name: 客户来源
    order: 300
    tags: [官网咨询, 线下活动]
"#,
    ),
    tags: r#"
groups:
  - name: 客户级别
    order: 400
    tags: [重要客户, 普通客户, 潜在客户]
  - name: 客户来源
    order: 300
    tags: [官网咨询, 线下活动, 电话咨询]
  - name: 购买意向
    order: 200
    tags: [高意向, 中意向, 低意向]
  - name: 所属行业
    order: 100
    tags: [教育, 金融, 零售]
"#,
    expected: &[
        "客户级别 (400): 重要客户, 普通客户, 潜在客户",
        "客户来源 (300): 官网咨询, 线下活动, 电话咨询",
        "购买意向 (200): 高意向, 中意向, 低意向",
        "所属行业 (100): 教育, 金融, 零售",
    ],
    ordered: true,
};

/// The desired taxonomy of the platforms with writable orders: explicit group orders (so the
/// unmanaged group's place is known), tags ordered by position.
const ORDERED_TAGS: &str = r#"
groups:
  - name: 客户级别
    was: [客户等级]
    order: 400
    prune: true
    tags:
      - 重要客户
      - { name: 普通客户, was: [一般客户] }
      - 潜在客户
  - name: 客户来源
    order: 300
    tags: [官网咨询, 线下活动, 电话咨询]
  - name: 购买意向
    order: 200
    tags: [高意向, 中意向, 低意向]
  - name: 所属行业
    order: 100
    tags: [教育, 金融, 零售]
"#;

/// The declared keys: (group, its tags). Keys default to the names.
pub const DECLARED: &[(&str, &[&str])] = &[
    ("客户级别", &["重要客户", "普通客户", "潜在客户"]),
    ("客户来源", &["官网咨询", "线下活动", "电话咨询"]),
    ("购买意向", &["高意向", "中意向", "低意向"]),
    ("所属行业", &["教育", "金融", "零售"]),
];

/// Objects each scenario creates: two groups and eight tags.
pub const CREATES: usize = 10;

/// A group as a simulator holds it: id, name, order (where the platform has a group order), and
/// its tags as (id, name, order).
#[derive(Debug, Clone)]
pub struct Held {
    pub id: String,
    pub name: String,
    pub order: Option<u32>,
    pub tags: Vec<(String, String, u32)>,
}

impl Scenario {
    /// Starts the scenario's simulator on its console state.
    pub async fn start(&self, faults: FaultSpec) -> SimHandle {
        let mut fixture = Fixture::from_yaml(self.fixture).unwrap();
        fixture.token = SECRET.into();
        sim::start(
            self.platform,
            SimOptions {
                fixture,
                faults,
                ..SimOptions::default()
            },
        )
        .await
        .unwrap()
    }

    /// Writes `tags/` and `tagsync.yaml` into `dir`, the mirror at `database_url`; returns the
    /// configuration's path.
    pub fn write_config(&self, dir: &Path, sim: &SimHandle, database_url: &str) -> PathBuf {
        self.write_tags(dir, self.tags);
        let config = format!(
            "database_url: \"{database_url}\"\ntags: {}/tags\nplatforms:\n  {}:\n    kind: {}\n    base_url: {}\n    secret_env: {SECRET_VAR}\n    timeout_seconds: 5\n    {}",
            dir.display(),
            self.name,
            self.kind,
            sim.base_url(),
            self.extra,
        );
        let path = dir.join("tagsync.yaml");
        std::fs::write(&path, config).unwrap();
        path
    }

    /// Replaces the tag files in `dir`.
    pub fn write_tags(&self, dir: &Path, text: &str) {
        std::fs::create_dir_all(dir.join("tags")).unwrap();
        std::fs::write(dir.join("tags/tags.yaml"), text).unwrap();
    }

    /// Writes the configuration and, when the scenario has them, applies its `setup_tags` to
    /// completion; then writes the scenario's tag files. Returns the configuration's path.
    pub async fn prepare(&self, dir: &Path, sim: &SimHandle, database_url: &str) -> PathBuf {
        let config = self.write_config(dir, sim, database_url);
        if let Some(setup) = self.setup_tags {
            self.write_tags(dir, setup);
            let out = output(tagsync(&config, &["apply", "--yes"])).await;
            assert_eq!(out.status.code(), Some(0), "setup: {}", describe(&out));
            self.write_tags(dir, self.tags);
            sim.clear_log();
        }
        config
    }

    /// What the simulator holds, groups in the platform's list order.
    pub fn held(&self, sim: &SimHandle) -> Vec<Held> {
        match self.platform {
            SimPlatform::Juzibot => sim
                .with_state(|a: &mut sim::juzibot::Account| {
                    a.groups()
                        .iter()
                        .map(|g| Held {
                            id: g.id.clone(),
                            name: g.name.clone(),
                            order: Some(g.order),
                            tags: g
                                .tags
                                .iter()
                                .map(|t| (t.id.clone(), t.name.clone(), t.order))
                                .collect(),
                        })
                        .collect()
                })
                .unwrap(),
            SimPlatform::Wecom => sim
                .with_state(|c: &mut sim::wecom::Corp| {
                    c.groups()
                        .iter()
                        .map(|g| Held {
                            id: g.id.clone(),
                            name: g.name.clone(),
                            order: Some(g.order),
                            tags: g
                                .tags
                                .iter()
                                .map(|t| (t.id.clone(), t.name.clone(), t.order))
                                .collect(),
                        })
                        .collect()
                })
                .unwrap(),
            SimPlatform::Yzj => sim
                .with_state(|a: &mut sim::yzj::Account| {
                    a.groups()
                        .iter()
                        .map(|g| Held {
                            id: g.id.to_string(),
                            name: g.name.clone(),
                            order: None,
                            tags: g
                                .tags
                                .iter()
                                .map(|t| (t.id.to_string(), t.name.clone(), t.sort))
                                .collect(),
                        })
                        .collect()
                })
                .unwrap(),
            SimPlatform::Dustess => sim
                .with_state(|a: &mut sim::dustess::Account| {
                    a.live_groups()
                        .iter()
                        .map(|g| Held {
                            id: g.id.clone(),
                            name: g.name.clone(),
                            order: Some(g.order),
                            tags: g
                                .tags
                                .iter()
                                .map(|t| (t.id.clone(), t.name.clone(), t.order))
                                .collect(),
                        })
                        .collect()
                })
                .unwrap(),
            other => panic!("no scenario for {other}"),
        }
    }

    /// The simulator's state as comparable lines. With orders: `name (order): tag, …`, groups by
    /// order and tags by order, biggest first; ties are reported as a failure (the view would be
    /// ambiguous). Without: `name: tag, …`, both by name.
    pub fn state(&self, sim: &SimHandle) -> Vec<String> {
        let mut held = self.held(sim);
        if self.ordered {
            held.sort_by_key(|g| std::cmp::Reverse(g.order));
            held.iter()
                .map(|g| {
                    let mut tags = g.tags.clone();
                    tags.sort_by_key(|t| std::cmp::Reverse(t.2));
                    let orders: std::collections::BTreeSet<u32> =
                        tags.iter().map(|t| t.2).collect();
                    assert_eq!(orders.len(), tags.len(), "tie in tag orders: {g:?}");
                    let names: Vec<&str> = tags.iter().map(|t| t.1.as_str()).collect();
                    format!("{} ({}): {}", g.name, g.order.unwrap(), names.join(", "))
                })
                .collect()
        } else {
            held.sort_by(|a, b| a.name.cmp(&b.name));
            held.iter()
                .map(|g| {
                    let mut names: Vec<&str> = g.tags.iter().map(|t| t.1.as_str()).collect();
                    names.sort();
                    format!("{}: {}", g.name, names.join(", "))
                })
                .collect()
        }
    }

    /// The group and tag names that the platform's applied writes asked it to create, one entry
    /// per request (every declared name is unique across groups, so a name is an object). `None`
    /// on Dustess, whose documented recovery from an unknown outcome is to send the create again.
    pub fn creates_sent(&self, sim: &SimHandle) -> Option<Vec<String>> {
        let names = |v: Option<&serde_json::Value>, field: Option<&str>| -> Vec<String> {
            v.and_then(|v| v.as_array())
                .into_iter()
                .flatten()
                .filter_map(|t| match field {
                    Some(f) => t.get(f)?.as_str().map(str::to_owned),
                    None => t.as_str().map(str::to_owned),
                })
                .collect()
        };
        let absent =
            |v: Option<&serde_json::Value>| v.is_none_or(|v| v.is_null() || v == 0 || v == "");
        let mut out = Vec::new();
        for call in sim.writes().into_iter().filter(|c| c.applied) {
            let body = call.body.unwrap_or_default();
            let (group_id, group_name, tags) = match (self.platform, call.path.as_str()) {
                (SimPlatform::Juzibot, "/api/v1/tag/create") => {
                    ("groupId", "groupName", names(body.get("tag"), Some("name")))
                }
                (SimPlatform::Wecom, "/cgi-bin/externalcontact/add_strategy_tag") => (
                    "group_id",
                    "group_name",
                    names(body.get("tag"), Some("name")),
                ),
                (SimPlatform::Yzj, "/smart-tag/batchAddTag") => {
                    ("group_id", "group_name", names(body.get("tag_names"), None))
                }
                (SimPlatform::Yzj, "/smart-tag/add") if absent(body.get("id")) => {
                    let name = body["name"].as_str().unwrap_or_default();
                    let kind = if body.get("type").is_some_and(|t| t == 1) {
                        "tag"
                    } else {
                        "group"
                    };
                    out.push(format!("{kind} {name}"));
                    continue;
                }
                (SimPlatform::Dustess, _) => return None,
                _ => continue,
            };
            if absent(body.get(group_id)) {
                out.push(format!(
                    "group {}",
                    body[group_name].as_str().unwrap_or_default()
                ));
            }
            out.extend(tags.into_iter().map(|t| format!("tag {t}")));
        }
        Some(out)
    }

    /// (groups, tags) the simulator holds.
    pub fn counts(&self, sim: &SimHandle) -> (usize, usize) {
        let held = self.held(sim);
        (held.len(), held.iter().map(|g| g.tags.len()).sum())
    }

    /// (groups, tags) the converged state holds.
    pub fn expected_counts(&self) -> (usize, usize) {
        let tags = self
            .expected
            .iter()
            .map(|l| l.split_once(": ").unwrap().1.split(", ").count())
            .sum();
        (self.expected.len(), tags)
    }

    /// Every declared object is bound in the mirror, to the remote object that now carries its
    /// name. Returns a description of each problem.
    pub fn binding_problems(&self, sim: &SimHandle, bindings: &Bindings) -> Vec<String> {
        let held = self.held(sim);
        let mut problems = Vec::new();
        for (group, tags) in DECLARED {
            let Some(g) = held.iter().find(|g| g.name == *group) else {
                problems.push(format!("group {group} is not on the platform"));
                continue;
            };
            match bindings.groups.get(*group) {
                Some(id) if *id == g.id => {}
                other => problems.push(format!("group {group} ({}) bound to {other:?}", g.id)),
            }
            for tag in *tags {
                let Some(t) = g.tags.iter().find(|t| t.1 == *tag) else {
                    problems.push(format!("tag {group}/{tag} is not on the platform"));
                    continue;
                };
                match bindings.tags.get(&(group.to_string(), tag.to_string())) {
                    Some(id) if *id == t.0 => {}
                    other => {
                        problems.push(format!("tag {group}/{tag} ({}) bound to {other:?}", t.0))
                    }
                }
            }
        }
        problems
    }
}

/// `tagsync --config CONFIG ARGS…` as a child process with a clean environment: no inherited
/// `TAGSYNC_` variable, no colours, the scenario's secret, logs at WARN (the default).
pub fn tagsync(config: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("tagsync"));
    cmd.arg("--config").arg(config).args(args);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("TAGSYNC_")) {
        cmd.env_remove(k);
    }
    cmd.env("NO_COLOR", "1").env(SECRET_VAR, SECRET);
    cmd.stdin(Stdio::null());
    cmd
}

/// Runs `cmd` to its end off the async runtime (the simulator serves on it meanwhile).
pub async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// Opens the mirror the way the binary does (migrations included).
pub async fn open(database_url: &str) -> Store {
    Store::open(database_url).await.unwrap()
}

/// A short pause on the async runtime.
pub async fn sleep_ms(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// SplitMix64: the trials' random choices, reproducible from their seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// stdout and stderr of a finished run, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

//! The soak's world (see `soak_driver.rs`): the simulators' starting state, the desired taxonomy
//! and its random changes, what a simulator holds and how it differs from the tag files, and the
//! generated mark requests.

use std::collections::BTreeSet;

use tagsync::sim::{self, Fixture, SimHandle, SimPlatform};

pub const SECRET: &str = "soak-secret-7f3a";
pub const SECRET_VAR: &str = "SOAK_PLATFORM_SECRET";
pub const STAFF: &str = "staff-1";
/// The group marks use: never renamed, reordered or pruned, so that a mark always resolves.
pub const MARK_GROUP: &str = "客户级别";
/// Its tags, with the fixture's ids (string platforms, then Miaokol's numbers).
pub const MARK_TAGS: [(&str, &str, u64); 5] = [
    ("重要客户", "t-1", 2),
    ("普通客户", "t-2", 3),
    ("潜在客户", "t-3", 4),
    ("官网咨询", "t-4", 5),
    ("线下活动", "t-5", 6),
];
/// A group no tag file declares: it must stay as it is.
pub const OTHERS_GROUP: &str = "别人的";

/// The configured platforms: name, simulator, kind, extra configuration lines.
pub const PLATFORMS: [(&str, SimPlatform, &str, &str); 5] = [
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
pub const MARKING: [&str; 3] = ["wecom", "juzi", "yzj"];
/// Platforms that rename, reorder and prune (groups declared `platforms: [..]` with these).
pub const EDITING: [&str; 3] = ["wecom", "juzi", "yzj"];

/// SplitMix64: the same seed gives the same soak (up to timing).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next() % 10_000) as f64 / 10_000.0 < p
    }
}

#[derive(Debug, Clone)]
pub struct Tag {
    name: String,
    was: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Group {
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
pub struct Desired {
    groups: Vec<Group>,
    next: u64,
}

impl Desired {
    pub fn new() -> Self {
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

    pub fn fresh(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{:05}", self.next)
    }

    pub fn tag_count(&self) -> usize {
        self.groups.iter().map(|g| g.tags.len()).sum()
    }

    pub fn yaml(&self) -> String {
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
    pub fn change(&mut self, rng: &mut Rng) -> String {
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
    pub fn for_platform(&self, platform: &str) -> Vec<&Group> {
        self.groups
            .iter()
            .filter(|g| g.everywhere || EDITING.contains(&platform))
            .collect()
    }
}

/// A group as a simulator holds it: name, order (where the platform has one), tags with orders.
#[derive(Debug)]
pub struct Held {
    name: String,
    order: Option<u32>,
    tags: Vec<(String, u32)>,
}

pub fn held(platform: SimPlatform, sim: &SimHandle) -> Vec<Held> {
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
pub fn duplicates(held: &[Held]) -> Vec<String> {
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
pub fn differences(
    platform: &str,
    kind: SimPlatform,
    held: &[Held],
    desired: &Desired,
) -> Vec<String> {
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

pub fn fixture(kind: SimPlatform, contacts: usize) -> Fixture {
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
pub fn marked(kind: SimPlatform, sim: &SimHandle, contact: usize) -> BTreeSet<String> {
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

/// One mark request: contact, added names, removed names (tag names of [`MARK_GROUP`]).
pub type Req = (usize, Vec<&'static str>, Vec<&'static str>);

pub fn mark_request(rng: &mut Rng, contacts: usize) -> Req {
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

pub fn json(names: &[&str]) -> String {
    let full: Vec<String> = names.iter().map(|n| format!("{MARK_GROUP}/{n}")).collect();
    serde_json::to_string(&full).unwrap()
}

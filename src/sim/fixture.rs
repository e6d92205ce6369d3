//! Seeding a simulator: one [`Fixture`] per platform account, and the [`SeedFile`] that `tagsync
//! sim --seed FILE` reads (a map from platform name to fixture, in YAML or JSON).
//!
//! A fixture is platform-neutral: groups, their tags, customers' tag sets, "created in the console"
//! flags and the token the simulator accepts. The framework checks what holds on every platform (ids
//! unique, customers' tags exist); each platform checks its own rules (name lengths, no empty groups)
//! when it builds its state.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{SimError, SimPlatform};

/// The token a fixture accepts when it names none.
pub const DEFAULT_TOKEN: &str = "sim-token";

/// One platform account's starting state.
///
/// ```yaml
/// token: demo-token
/// groups:
///   - id: et1LpcCQAAGLd4xufTKt4l9ERbTTQQQQ   # optional: generated when absent
///     name: 标签组名
///     order: 0                               # optional, default 0
///     createTimestamp: 1601274190000         # optional, default: the clock at start; 0 = not synced
///     console: true                          # optional: created in the console, read-only to the API
///     multiSelect: true                      # optional: 个微 CRM `ad_choose: 1` (default 0)
///     tags:
///       - { id: etrRhyBgAAwVm8uMyEc0EMZI1HwmHwmw, name: 标签名, order: 0, createTimestamp: 1601274190000 }
/// customers:
///   - { unionId: ozynqsulJFCZ2z1aYeS8h-nuasdAAA, userId: rocky, tags: [etrRhyBgAAwVm8uMyEc0EMZI1HwmHwmw] }
/// ```
///
/// WeCom reads `token` as the corp secret, takes an optional `corpId`, puts a group with
/// `strategyId: N` in that strategy (without it, among the corp tags), and reads a customer's
/// `unionId` as the `external_userid` of the member `userId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fixture {
    /// The credential the simulator accepts (Juzibot's `token`, Miaokol's `access_token`,
    /// Dustess's `accessToken`, WeCom's `corpsecret`).
    #[serde(default = "default_token")]
    pub token: String,
    /// The app id the simulator accepts, on platforms that take one besides the token (Miaokol's
    /// `app_id`); `None` means that platform's default (`sim::yzj::DEFAULT_APP_ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// The corp ID a WeCom simulator accepts in `gettoken` (`corpid`); ignored elsewhere. Absent:
    /// `sim::wecom::DEFAULT_CORP_ID`.
    #[serde(default)]
    pub corp_id: Option<String>,
    #[serde(default)]
    pub groups: Vec<FixtureGroup>,
    #[serde(default)]
    pub customers: Vec<FixtureCustomer>,
    /// Which reading the simulator takes where its seed leaves an outcome open.
    #[serde(default, skip_serializing_if = "Readings::is_default")]
    pub readings: Readings,
}

/// The readings of what a seed leaves open; each switch picks one, so that the end-to-end tests
/// can run tagsync against every reading. A platform without the question ignores the switch.
///
/// ```yaml
/// readings: { duplicateAdd: refuse, traceId: both }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Readings {
    /// WeCom (002) and Dustess (003): what an add answers for a tag name its group already has.
    /// Absent: the platform's own default (WeCom refuses with 40071, Dustess answers the tag).
    #[serde(default)]
    pub duplicate_add: Option<DuplicateAdd>,
    /// Dustess (003): how an answer spells its trace id (the table says `traceId`, the example
    /// `trace_id`). Absent: the example's.
    #[serde(default)]
    pub trace_id: Option<TraceId>,
    /// Juzibot (001): how a group's tags are spelled in answers (the examples say `tags`, the list
    /// and detail tables `tag`). Absent: the examples'.
    #[serde(default)]
    pub tags_key: Option<TagsKey>,
    /// Miaokol (000) and the 个微 CRM (004): the JSON type of ids and numbers in answers (both
    /// documents mix them between example and table). Absent: the examples'.
    #[serde(default)]
    pub numbers: Option<Numbers>,
}

impl Readings {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// An add of a tag name the group already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DuplicateAdd {
    /// No new tag: the answer names the existing tag (a repeated add returns what the first made).
    Existing,
    /// The call is refused with the duplicate-name code (WeCom's 40071), nothing changed.
    Refuse,
}

/// The spelling of Dustess's trace id in an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TraceId {
    /// `trace_id`, as the example.
    Example,
    /// `traceId`, as the table.
    Table,
    /// Both at once.
    Both,
}

/// The JSON type of ids and numbers in answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Numbers {
    /// As the examples show them (Miaokol: a group's `id` an int, a tag's `id`, `parent_id` and
    /// `sort` strings; the CRM: ints).
    Example,
    /// Every one a JSON number.
    Ints,
    /// Every one a JSON string.
    Strings,
}

impl Numbers {
    /// `n` as a JSON number, or as a string where this reading (or, for [`Numbers::Example`],
    /// the example: `example_is_string`) spells it so.
    pub(crate) fn value(self, n: i64, example_is_string: bool) -> serde_json::Value {
        let string = match self {
            Numbers::Example => example_is_string,
            Numbers::Ints => false,
            Numbers::Strings => true,
        };
        if string {
            serde_json::Value::String(n.to_string())
        } else {
            serde_json::Value::from(n)
        }
    }
}

/// The key of a Juzibot group's tags in answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TagsKey {
    /// `tags`, as the examples.
    Tags,
    /// `tag`, as the list and detail tables (`data.tag.id`).
    Tag,
    /// Both at once, the same list under each.
    Both,
}

/// A tag group of a [`Fixture`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FixtureGroup {
    /// The remote id; a deterministic one is generated when absent.
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub order: u32,
    /// Milliseconds since the epoch; absent means "the simulator's clock at start".
    #[serde(default)]
    pub create_timestamp: Option<i64>,
    /// Created in the platform's console: the API may read it but not change it.
    #[serde(default)]
    pub console: bool,
    /// Customers may carry several tags of this group (the 个微 CRM's `ad_choose: 1`; `false` is
    /// its `ad_choose: 0`, single choice). Platforms without the notion ignore it.
    #[serde(default)]
    pub multi_select: bool,
    /// WeCom: the strategy (规则组) the group belongs to; absent for a corp tag group. Ignored
    /// elsewhere.
    #[serde(default)]
    pub strategy_id: Option<u64>,
    #[serde(default)]
    pub tags: Vec<FixtureTag>,
}

/// A tag of a [`FixtureGroup`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FixtureTag {
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub order: u32,
    #[serde(default)]
    pub create_timestamp: Option<i64>,
}

/// A customer (an external contact `unionId` of the member `userId`) and the tag ids on them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FixtureCustomer {
    pub union_id: String,
    pub user_id: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

fn default_token() -> String {
    DEFAULT_TOKEN.to_owned()
}

impl Default for Fixture {
    /// An empty account that accepts [`DEFAULT_TOKEN`].
    fn default() -> Self {
        Self {
            token: default_token(),
            app_id: None,
            corp_id: None,
            groups: Vec::new(),
            customers: Vec::new(),
            readings: Readings::default(),
        }
    }
}

impl Fixture {
    /// Parses one fixture from YAML text.
    ///
    /// # Errors
    /// [`SimError::Seed`] when the text is not a fixture.
    pub fn from_yaml(text: &str) -> Result<Self, SimError> {
        serde_saphyr::from_str(text).map_err(|e| SimError::Seed {
            origin: "YAML fixture".into(),
            message: e.to_string(),
        })
    }

    /// Parses one fixture from JSON text.
    ///
    /// # Errors
    /// [`SimError::Seed`] when the text is not a fixture.
    pub fn from_json(text: &str) -> Result<Self, SimError> {
        serde_json::from_str(text).map_err(|e| SimError::Seed {
            origin: "JSON fixture".into(),
            message: e.to_string(),
        })
    }

    /// Checks what must hold on every platform: ids are unique across groups and tags, no id is
    /// empty, customers are listed once and carry only tags of this fixture.
    pub(crate) fn check_common(&self, platform: SimPlatform) -> Result<(), SimError> {
        let fail = |message: String| Err(SimError::Fixture { platform, message });
        let mut ids = BTreeSet::new();
        let given = self.groups.iter().flat_map(|g| {
            std::iter::once(g.id.as_deref()).chain(g.tags.iter().map(|t| t.id.as_deref()))
        });
        for id in given.flatten() {
            if id.is_empty() {
                return fail("an id is empty; leave it out to have one generated".into());
            }
            if !ids.insert(id) {
                return fail(format!("id `{id}` is used twice"));
            }
        }
        let tag_ids: BTreeSet<&str> = self
            .groups
            .iter()
            .flat_map(|g| g.tags.iter().filter_map(|t| t.id.as_deref()))
            .collect();
        let mut customers = BTreeSet::new();
        for c in &self.customers {
            if !customers.insert((&c.union_id, &c.user_id)) {
                return fail(format!(
                    "customer {} of {} is listed twice",
                    c.union_id, c.user_id
                ));
            }
            if let Some(unknown) = c.tags.iter().find(|t| !tag_ids.contains(t.as_str())) {
                return fail(format!(
                    "customer {} of {} has tag `{unknown}`, which no group of the fixture holds",
                    c.union_id, c.user_id
                ));
            }
        }
        Ok(())
    }
}

/// The naming rules of one simulator's document, applied to a fixture by
/// [`Fixture::check_names`]: each simulator states its own (from its own seed); the walk over
/// groups and tags is shared.
pub(crate) struct NameRules<'a> {
    pub platform: SimPlatform,
    /// Why a group (`"group"`) or tag (`"tag"`) name is refused, if it is.
    pub check: &'a dyn Fn(&str, &str) -> Result<(), String>,
    /// Why a group may not be empty (`None`: it may, as on Miaokol).
    pub no_empty_groups: Option<&'a str>,
    /// The namespace a group's name is unique in (WeCom: its strategy; elsewhere one per account).
    pub namespace: &'a dyn Fn(&FixtureGroup) -> Option<u64>,
}

impl Fixture {
    /// Checks names as `rules` say: each name valid, group names unique per namespace, tag names
    /// unique per group, groups not empty unless allowed.
    pub(crate) fn check_names(&self, rules: &NameRules<'_>) -> Result<(), SimError> {
        let fail = |message: String| SimError::Fixture {
            platform: rules.platform,
            message,
        };
        let mut names = BTreeSet::new();
        for g in &self.groups {
            (rules.check)("group", &g.name)
                .map_err(|e| fail(format!("group `{}`: {e}", g.name)))?;
            if !names.insert(((rules.namespace)(g), g.name.as_str())) {
                return Err(fail(format!("two groups are named `{}`", g.name)));
            }
            if let Some(why) = rules.no_empty_groups
                && g.tags.is_empty()
            {
                return Err(fail(format!("group `{}` has no tags ({why})", g.name)));
            }
            let mut tag_names = BTreeSet::new();
            for t in &g.tags {
                (rules.check)("tag", &t.name)
                    .map_err(|e| fail(format!("tag `{}`: {e}", t.name)))?;
                if !tag_names.insert(t.name.as_str()) {
                    return Err(fail(format!(
                        "group `{}` has two tags named `{}`",
                        g.name, t.name
                    )));
                }
            }
        }
        Ok(())
    }

    /// The ids the fixture's groups and tags give: generated ids avoid them.
    pub(crate) fn given_ids(&self) -> BTreeSet<&str> {
        self.groups
            .iter()
            .flat_map(|g| {
                std::iter::once(g.id.as_deref()).chain(g.tags.iter().map(|t| t.id.as_deref()))
            })
            .flatten()
            .collect()
    }

    /// The customers as a map from (customer, member) to their tag ids.
    pub(crate) fn customer_map<T: Ord + Clone>(
        &self,
        tag: impl Fn(&str) -> T,
    ) -> BTreeMap<(String, String), BTreeSet<T>> {
        self.customers
            .iter()
            .map(|c| {
                let key = (c.union_id.clone(), c.user_id.clone());
                (key, c.tags.iter().map(|t| tag(t)).collect())
            })
            .collect()
    }
}

/// The file behind `tagsync sim --seed FILE`: one [`Fixture`] per platform, keyed by
/// [`SimPlatform::name`]. A platform the file leaves out starts from [`Fixture::default`].
///
/// ```yaml
/// juzibot:
///   token: demo-token
///   groups: [...]
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedFile {
    fixtures: BTreeMap<SimPlatform, Fixture>,
}

impl SeedFile {
    /// Reads a seed file: JSON when the name ends in `.json`, YAML otherwise.
    ///
    /// # Errors
    /// [`SimError::ReadSeed`] when the file cannot be read, [`SimError::Seed`] when it is not a
    /// seed file (including an unknown platform name).
    pub fn load(path: &Path) -> Result<Self, SimError> {
        let text = std::fs::read_to_string(path).map_err(|source| SimError::ReadSeed {
            path: path.to_owned(),
            source,
        })?;
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let origin = path.display().to_string();
        let raw: BTreeMap<String, Fixture> = if is_json {
            serde_json::from_str(&text).map_err(|e| SimError::Seed {
                origin: origin.clone(),
                message: e.to_string(),
            })?
        } else {
            return Self::parse_yaml(&text, origin);
        };
        Self::from_named(raw).map_err(|message| SimError::Seed { origin, message })
    }

    /// Parses seed-file YAML text (the demo embeds its own).
    ///
    /// # Errors
    /// [`SimError::Seed`] when the text is not a seed file.
    pub fn from_yaml(text: &str) -> Result<Self, SimError> {
        Self::parse_yaml(text, "YAML seed".into())
    }

    fn parse_yaml(text: &str, origin: String) -> Result<Self, SimError> {
        let raw: BTreeMap<String, Fixture> =
            serde_saphyr::from_str(text).map_err(|e| SimError::Seed {
                origin: origin.clone(),
                message: e.to_string(),
            })?;
        Self::from_named(raw).map_err(|message| SimError::Seed { origin, message })
    }

    /// A seed file holding the given fixtures.
    pub fn new(fixtures: impl IntoIterator<Item = (SimPlatform, Fixture)>) -> Self {
        Self {
            fixtures: fixtures.into_iter().collect(),
        }
    }

    /// The fixture for `platform`, if the file has one.
    pub fn fixture(&self, platform: SimPlatform) -> Option<&Fixture> {
        self.fixtures.get(&platform)
    }

    fn from_named(raw: BTreeMap<String, Fixture>) -> Result<Self, String> {
        let mut fixtures = BTreeMap::new();
        for (name, fixture) in raw {
            let platform: SimPlatform = name.parse()?;
            fixtures.insert(platform, fixture);
        }
        Ok(Self { fixtures })
    }
}

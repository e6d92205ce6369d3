//! `tagsync mark` and the mark queue, end to end: the real binary against the simulators, the
//! mirror on SQLite and (with `TAGSYNC_TEST_DATABASE_URL`) PostgreSQL. Every refusal at enqueue is
//! asserted word for word with nothing queued and nothing sent; delivery per platform; the plain
//! SQL `INSERT` of the README on both backends. `marks_chaos.rs` has the 10,000-mark test.

use std::path::{Path, PathBuf};

use tagsync::sim::{self, FaultSpec, Fixture, SimHandle, SimOptions, SimPlatform};

use super::scenario::{self, SECRET, SECRET_VAR, describe, output, tagsync};

/// The tags every mark test declares (keys are the names).
pub const TAGS: &str = r#"
groups:
  - name: 客户级别
    tags: [重要客户, 普通客户, 潜在客户]
  - name: 客户来源
    tags: [官网咨询, 线下活动]
"#;

/// Declared names, and the ids the fixtures give them (Miaokol's are numbers).
pub const DECLARED: [(&str, &str, &str); 5] = [
    ("客户级别/重要客户", "t-vip", "2"),
    ("客户级别/普通客户", "t-normal", "3"),
    ("客户级别/潜在客户", "t-lead", "4"),
    ("客户来源/官网咨询", "t-web", "6"),
    ("客户来源/线下活动", "t-offline", "7"),
];
/// A tag of an undeclared group that "someone else" put on every customer.
pub const OTHERS: (&str, &str) = ("t-other", "9");
pub const STAFF: &str = "staff-1";

/// A platform under test: simulator, kind and configuration lines.
#[derive(Clone, Copy)]
pub struct Kind {
    pub platform: SimPlatform,
    pub name: &'static str,
    pub kind: &'static str,
    pub extra: &'static str,
}

pub const JUZIBOT: Kind = Kind {
    platform: SimPlatform::Juzibot,
    name: "juzi",
    kind: "juzibot",
    extra: "",
};
pub const WECOM: Kind = Kind {
    platform: SimPlatform::Wecom,
    name: "wecom",
    kind: "wecom",
    extra: "    corp_id: wwsimcorp0000000001\n    strategy_id: 1\n",
};
pub const YZJ: Kind = Kind {
    platform: SimPlatform::Yzj,
    name: "yzj",
    kind: "yzj",
    extra: "    app_id: sim-app-id\n",
};

impl Kind {
    /// The simulator's id of a declared tag (or of [`OTHERS`]).
    pub fn id(self, name: &str) -> String {
        let yzj = self.platform == SimPlatform::Yzj;
        if name == "others" {
            return if yzj { OTHERS.1 } else { OTHERS.0 }.to_owned();
        }
        let (_, s, n) = DECLARED.iter().find(|(d, _, _)| *d == name).unwrap();
        if yzj { n } else { s }.to_string()
    }

    /// Groups as declared plus an undeclared one, and `contacts` customers `c0…` of [`STAFF`],
    /// each carrying the undeclared tag.
    pub fn fixture(self, contacts: usize) -> Fixture {
        let yzj = self.platform == SimPlatform::Yzj;
        let strategy = if self.platform == SimPlatform::Wecom {
            "\n    strategyId: 1"
        } else {
            ""
        };
        let id = |s: &str, n: &str| {
            if yzj {
                format!("\"{n}\"")
            } else {
                s.to_owned()
            }
        };
        let mut text = format!(
            "groups:\n  - id: {}\n    name: 客户级别{strategy}\n    tags:\n",
            id("g-level", "1")
        );
        for (name, s, n) in &DECLARED[..3] {
            let tag = name.split('/').nth(1).unwrap();
            text += &format!("      - {{ id: {}, name: {tag} }}\n", id(s, n));
        }
        text += &format!(
            "  - id: {}\n    name: 客户来源{strategy}\n    tags:\n",
            id("g-source", "5")
        );
        for (name, s, n) in &DECLARED[3..] {
            let tag = name.split('/').nth(1).unwrap();
            text += &format!("      - {{ id: {}, name: {tag} }}\n", id(s, n));
        }
        text += &format!(
            "  - id: {}\n    name: 别人的{strategy}\n    tags:\n      - {{ id: {}, name: 别人的标签 }}\n",
            id("g-other", "8"),
            id(OTHERS.0, OTHERS.1)
        );
        text += "customers:\n";
        for c in 0..contacts {
            text += &format!(
                "  - {{ unionId: c{c}, userId: {STAFF}, tags: [{}] }}\n",
                id(OTHERS.0, OTHERS.1)
            );
        }
        let mut f = Fixture::from_yaml(&text).unwrap();
        f.token = SECRET.into();
        f
    }

    pub async fn start(self, contacts: usize, faults: FaultSpec) -> SimHandle {
        sim::start(
            self.platform,
            SimOptions {
                fixture: self.fixture(contacts),
                faults,
                ..SimOptions::default()
            },
        )
        .await
        .unwrap()
    }

    /// The tags the simulator holds on customer `contact` of [`STAFF`], as fixture ids.
    pub fn held(self, sim: &SimHandle, contact: &str) -> Option<Vec<String>> {
        match self.platform {
            SimPlatform::Juzibot => sim
                .with_state(|a: &mut sim::juzibot::Account| {
                    a.customer_tags(contact, STAFF)
                        .map(|s| s.iter().cloned().collect())
                })
                .unwrap(),
            SimPlatform::Wecom => sim
                .with_state(|a: &mut sim::wecom::Corp| {
                    a.customer_tags(contact, STAFF)
                        .map(|s| s.iter().cloned().collect())
                })
                .unwrap(),
            SimPlatform::Yzj => sim
                .with_state(|a: &mut sim::yzj::Account| {
                    a.customer_tags(STAFF, contact)
                        .map(|s| s.iter().map(u64::to_string).collect())
                })
                .unwrap(),
            _ => unreachable!("cannot mark"),
        }
    }

    /// The simulator's ids of `names` (declared names, or `"others"`), sorted as [`Kind::held`]
    /// answers.
    pub fn ids(self, names: &[&str]) -> Option<Vec<String>> {
        let mut v: Vec<String> = names.iter().map(|n| self.id(n)).collect();
        v.sort();
        Some(v)
    }

    /// Mark calls the simulator answered.
    pub fn mark_calls(self, sim: &SimHandle) -> usize {
        let path = match self.platform {
            SimPlatform::Juzibot => "/api/v1/tag/mark",
            SimPlatform::Wecom => "/cgi-bin/externalcontact/mark_tag",
            SimPlatform::Yzj => "/smart-tag/updateContact",
            _ => unreachable!(),
        };
        sim.count(path)
    }
}

/// Platform configuration lines for a simulator.
pub fn platform_config(k: Kind, sim_url: &str) -> String {
    format!(
        "  {}:\n    kind: {}\n    base_url: {sim_url}\n    secret_env: {SECRET_VAR}\n    timeout_seconds: 5\n{}",
        k.name, k.kind, k.extra
    )
}

/// Writes the tag files and a configuration with `platforms` (configuration lines) into `dir`.
pub fn write_config(dir: &Path, database_url: &str, platforms: &[String]) -> PathBuf {
    std::fs::create_dir_all(dir.join("tags")).unwrap();
    std::fs::write(dir.join("tags/tags.yaml"), TAGS).unwrap();
    let config = format!(
        "database_url: \"{database_url}\"\ntags: {}/tags\nplatforms:\n{}",
        dir.display(),
        platforms.concat()
    );
    let path = dir.join("tagsync.yaml");
    std::fs::write(&path, config).unwrap();
    path
}

/// `tagsync apply --yes --platform NAME`: binds the declared tags to the fixture's (matched by
/// name).
pub async fn apply(config: &Path, platform: &str) {
    let out = output(tagsync(config, &["apply", "--yes", "--platform", platform])).await;
    assert_eq!(out.status.code(), Some(0), "apply: {}", describe(&out));
}

/// A mirror for one test: SQLite in a temp dir, or a fresh PostgreSQL schema.
pub struct Db {
    pub url: String,
    pub dir: tempfile::TempDir,
    schema: Option<(sqlx::PgPool, String)>,
}

impl Db {
    pub fn sqlite() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/m.db?mode=rwc", dir.path().display());
        Db {
            url,
            dir,
            schema: None,
        }
    }

    /// `None` (saying why) when no PostgreSQL is configured outside CI.
    pub async fn postgres(test: &str) -> Option<Db> {
        let base = crate::support::postgres_url(&format!("marks::{test}"))?;
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let schema = format!(
            "mk_{test}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let admin = sqlx::PgPool::connect(&base).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        Some(Db {
            url: format!("{base}{sep}options=-c%20search_path%3D{schema}"),
            dir: tempfile::tempdir().unwrap(),
            schema: Some((admin, schema)),
        })
    }

    /// SQLite, then PostgreSQL when configured.
    pub async fn all(test: &str) -> Vec<Db> {
        let mut dbs = vec![Db::sqlite()];
        dbs.extend(Db::postgres(test).await);
        dbs
    }

    pub fn backend(&self) -> &'static str {
        if self.schema.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    }

    /// Runs one statement of plain SQL, as another system would.
    pub async fn execute(&self, sql: &str) {
        if self.schema.is_some() {
            let pool = sqlx::PgPool::connect(&self.url).await.unwrap();
            sqlx::raw_sql(sql).execute(&pool).await.unwrap();
            pool.close().await;
        } else {
            let pool = sqlx::SqlitePool::connect(&self.url).await.unwrap();
            sqlx::raw_sql(sql).execute(&pool).await.unwrap();
            pool.close().await;
        }
    }

    pub async fn finish(self) {
        if let Some((admin, schema)) = self.schema {
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&admin)
                .await
                .unwrap();
        }
    }
}

/// Every request of the mirror: (id, contact, status, attempts, last_error).
pub async fn requests(url: &str) -> Vec<(i64, String, String, i64, Option<String>)> {
    // Read through the SQL contract, as analysts do (the mirror is migrated by the binary).
    let sql = "SELECT id, contact, status, attempts, last_error FROM mark_requests ORDER BY id";
    if url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query_as(sql).fetch_all(&pool).await.unwrap()
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query_as(sql).fetch_all(&pool).await.unwrap()
    }
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every refusal at enqueue: exit 2, the exact words, nothing queued, nothing sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_marks_are_refused_before_anything_is_queued_or_sent() {
    let sim = JUZIBOT.start(3, FaultSpec::default()).await;
    let db = Db::sqlite();
    let dustess = format!(
        "  dustess:\n    kind: dustess\n    base_url: {}\n    secret_env: {SECRET_VAR}\n",
        sim.base_url()
    );
    let config = write_config(
        db.dir.path(),
        &db.url,
        &[platform_config(JUZIBOT, &sim.base_url()), dustess],
    );
    apply(&config, "juzi").await;
    // A tag declared after apply: not yet on the platform.
    std::fs::write(
        db.dir.path().join("tags/tags.yaml"),
        TAGS.replace("[官网咨询, 线下活动]", "[官网咨询, 线下活动, 电话咨询]"),
    )
    .unwrap();
    sim.clear_log();
    let base = [
        "mark",
        "--platform",
        "juzi",
        "--contact",
        "c1",
        "--user",
        STAFF,
    ];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        base.iter().chain(extra).copied().collect()
    };
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "mark",
                "--platform",
                "dustess",
                "--contact",
                "c1",
                "--user",
                STAFF,
                "--add",
                "客户级别/重要客户",
            ],
            "error: platform \"dustess\" (dustess) cannot mark customers: its API has no mark call\n  hint: marks go to WeCom, Juzibot or Miaokol platforms (PLATFORMS.md, capability table)\n",
        ),
        (
            with(&[]),
            "error: nothing to mark: no --add and no --remove\n  hint: give at least one --add GROUP/TAG or --remove GROUP/TAG\n",
        ),
        (
            vec![
                "mark",
                "--platform",
                "juzi",
                "--contact",
                "c1",
                "--add",
                "客户级别/重要客户",
            ],
            "error: platform \"juzi\" (juzibot) needs the staff member who owns the customer (--user)\n  hint: pass --user ID (WeCom `userid`, Juzibot `userId`, Miaokol `rel_wxid`)\n",
        ),
        (
            vec![
                "mark",
                "--platform",
                "juzi",
                "--contact",
                "c 1",
                "--user",
                STAFF,
                "--add",
                "客户级别/重要客户",
            ],
            "error: --contact \"c 1\" cannot be an id on platform \"juzi\": it contains blanks or control characters\n  hint: pass the id exactly as the platform gives it\n",
        ),
        (
            vec![
                "mark",
                "--platform",
                "juzi",
                "--contact",
                "",
                "--user",
                STAFF,
                "--add",
                "客户级别/重要客户",
            ],
            "error: --contact \"\" cannot be an id on platform \"juzi\": it is empty\n  hint: pass the id exactly as the platform gives it\n",
        ),
        (
            with(&[
                "--add",
                "客户级别/重要客户",
                "--remove",
                "客户级别/重要客户",
            ]),
            "error: `客户级别/重要客户` is both added and removed\n  hint: name each tag once: --add or --remove\n",
        ),
        (
            with(&["--add", "重要客户"]),
            "error: `重要客户` is not a tag name: write GROUP/TAG\n  hint: name tags by their declared group and tag names, e.g. 客户等级/重要客户\n",
        ),
        (
            with(&["--add", "客户等级/重要客户"]),
            "error: `客户等级/重要客户` is not a declared tag of platform \"juzi\"\n  hint: did you mean `客户级别/重要客户`? names are the tag files' names\n",
        ),
        (
            with(&["--remove", "别人的/别人的标签"]),
            "error: `别人的/别人的标签` is not a declared tag of platform \"juzi\"\n  hint: names are the tag files' group and tag names, for a group synced to this platform\n",
        ),
        (
            with(&["--add", "客户来源/电话咨询"]),
            "error: `客户来源/电话咨询` is declared but not yet on platform \"juzi\" (it has no binding)\n  hint: run `tagsync apply` so that the tag exists on the platform, then mark\n",
        ),
        (
            vec![
                "mark",
                "--platform",
                "nope",
                "--contact",
                "c1",
                "--user",
                STAFF,
                "--add",
                "客户级别/重要客户",
            ],
            "error: --platform \"nope\" is not configured\n  hint: configured platforms: dustess, juzi\n",
        ),
    ];
    for (args, expected) in cases {
        for queue in [false, true] {
            let mut args = args.clone();
            if queue {
                args.push("--queue");
            }
            let out = output(tagsync(&config, &args)).await;
            assert_eq!(out.status.code(), Some(2), "{args:?}: {}", describe(&out));
            assert_eq!(stderr(&out), expected, "{args:?}");
            assert_eq!(stdout(&out), "", "{args:?}");
        }
    }
    // Several problems at once are all reported, under the first one's hint.
    let out = output(tagsync(
        &config,
        &[
            "mark",
            "--platform",
            "juzi",
            "--contact",
            "c 1",
            "--add",
            "x",
        ],
    ))
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "error: platform \"juzi\" (juzibot) needs the staff member who owns the customer (--user)\nerror: --contact \"c 1\" cannot be an id on platform \"juzi\": it contains blanks or control characters\nerror: `x` is not a tag name: write GROUP/TAG\n  hint: pass --user ID (WeCom `userid`, Juzibot `userId`, Miaokol `rel_wxid`)\n"
    );
    // Arguments clap refuses: exit 2 as well.
    let out = output(tagsync(&config, &["mark", "--platform", "juzi"])).await;
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(stderr(&out).contains("--contact <ID>"), "{}", stderr(&out));

    assert!(requests(&db.url).await.is_empty(), "nothing queued");
    assert!(sim.writes().is_empty(), "nothing sent: {:?}", sim.writes());
    db.finish().await;
}

/// `tagsync mark` delivers at once on each platform that can mark, in one call; a tag someone
/// else put on the customer stays on Juzibot and WeCom; Miaokol gets the whole set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mark_delivers_at_once_on_each_platform() {
    for k in [JUZIBOT, WECOM, YZJ] {
        let sim = k.start(3, FaultSpec::default()).await;
        let db = Db::sqlite();
        let config = write_config(
            db.dir.path(),
            &db.url,
            &[platform_config(k, &sim.base_url())],
        );
        apply(&config, k.name).await;
        let mark = |extra: &[&str]| {
            let mut args = vec![
                "mark",
                "--platform",
                k.name,
                "--contact",
                "c1",
                "--user",
                STAFF,
            ];
            args.extend_from_slice(extra);
            tagsync(&config, &args)
        };
        let out = output(mark(&[
            "--add",
            "客户级别/重要客户",
            "--add",
            "客户来源/官网咨询",
        ]))
        .await;
        assert_eq!(out.status.code(), Some(0), "{}: {}", k.name, describe(&out));
        assert_eq!(
            stdout(&out),
            format!(
                "Mark request 1 for c1 on {}: delivered: the platform has it.\n",
                k.name
            )
        );
        let mut expected = vec![k.id("客户级别/重要客户"), k.id("客户来源/官网咨询")];
        if k.platform != SimPlatform::Yzj {
            // Marks name only their tags: someone else's stays.
            expected.push(k.id("others"));
        }
        expected.sort();
        assert_eq!(k.held(&sim, "c1"), Some(expected), "{}", k.name);
        assert_eq!(k.mark_calls(&sim), 1, "{}", k.name);

        let out = output(mark(&["--remove", "客户级别/重要客户", "--format", "json"])).await;
        assert_eq!(out.status.code(), Some(0), "{}: {}", k.name, describe(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            (json["id"].as_i64(), json["status"].as_str()),
            (Some(2), Some("succeeded"))
        );
        let mut expected = vec![k.id("客户来源/官网咨询")];
        if k.platform != SimPlatform::Yzj {
            expected.push(k.id("others"));
        }
        expected.sort();
        assert_eq!(k.held(&sim, "c1"), Some(expected), "{}", k.name);

        // A customer the platform does not know: refused, dead, exit 1.
        let out = output(tagsync(
            &config,
            &[
                "mark",
                "--platform",
                k.name,
                "--contact",
                "nobody",
                "--user",
                STAFF,
                "--add",
                "客户级别/重要客户",
            ],
        ))
        .await;
        assert_eq!(out.status.code(), Some(1), "{}: {}", k.name, describe(&out));
        let err = stderr(&out);
        assert!(
            err.starts_with(&format!(
                "error: mark request 3 was refused by {}: ",
                k.name
            )) && err
                .ends_with("; the request is dead (`tagsync mark --retry-dead` requeues it)\n"),
            "{}: {err}",
            k.name
        );
        sim.shutdown().await.unwrap();
        db.finish().await;
    }
}

/// A transient failure: exit 1, the request stays queued (and says so); the daemon's drain (here
/// `mark --drain`) delivers it later. `--queue` only queues.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_delivery_stays_queued_and_is_delivered_later() {
    let k = JUZIBOT;
    let sim = k.start(3, FaultSpec::default()).await;
    let db = Db::sqlite();
    let config = write_config(
        db.dir.path(),
        &db.url,
        &[platform_config(k, &sim.base_url())],
    );
    apply(&config, k.name).await;
    // Every attempt the HTTP layer makes (1 + 6 retries) fails.
    sim.fail_next("/api/v1/tag/mark", sim::FaultKind::Http500, 7);
    let out = output(tagsync(
        &config,
        &[
            "mark",
            "--platform",
            "juzi",
            "--contact",
            "c1",
            "--user",
            STAFF,
            "--add",
            "客户级别/重要客户",
        ],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    // Retries are logged at info by default: the error is the last line.
    let err = stderr(&out);
    let err = err.lines().last().unwrap_or_default();
    assert!(
        err.starts_with("error: mark request 1 was not delivered: tag/mark: still failing after ")
            && err.contains(
                "; it stays queued and the daemon (`tagsync run`) delivers it (next attempt at "
            ),
        "{err}"
    );
    // Queued behind it: the same customer's next request waits (order), and says so.
    let out = output(tagsync(
        &config,
        &[
            "mark",
            "--platform",
            "juzi",
            "--contact",
            "c1",
            "--user",
            STAFF,
            "--remove",
            "客户级别/重要客户",
            "--add",
            "客户级别/普通客户",
        ],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stderr(&out).starts_with("error: mark request 2 waits behind an earlier request of this customer that is not yet delivered; it stays queued"),
        "{}",
        stderr(&out)
    );
    let out = output(tagsync(
        &config,
        &[
            "mark",
            "--platform",
            "juzi",
            "--contact",
            "c2",
            "--user",
            STAFF,
            "--add",
            "客户级别/潜在客户",
            "--queue",
        ],
    ))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        stdout(&out),
        "Mark request 3 for c2 on juzi: queued; the daemon (`tagsync run`) delivers it.\n"
    );
    assert_eq!(k.held(&sim, "c2"), k.ids(&["others"]), "only queued");

    let rows = requests(&db.url).await;
    assert_eq!(
        rows.iter().map(|r| r.2.as_str()).collect::<Vec<_>>(),
        ["queued"; 3]
    );
    let out = output(tagsync(&config, &["mark", "--drain", "--format", "json"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    // c1's two requests folded into one call with c2's: one `tag/mark` for both customers.
    assert_eq!(k.held(&sim, "c1"), k.ids(&["others", "客户级别/普通客户"]));
    assert_eq!(k.held(&sim, "c2"), k.ids(&["客户级别/潜在客户", "others"]));
    let rows = requests(&db.url).await;
    assert_eq!(
        rows.iter().map(|r| r.2.as_str()).collect::<Vec<_>>(),
        ["succeeded"; 3]
    );
    db.finish().await;
}

/// The README's plain `INSERT` works the same on SQLite and PostgreSQL; a request whose tags do
/// not resolve goes dead with the reason and does not hold up the customer's next one; dead
/// requests come back with `--retry-dead`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_insert_enqueues_on_both_backends() {
    for db in Db::all("readme_insert").await {
        let k = JUZIBOT;
        let sim = k.start(3, FaultSpec::default()).await;
        let config = write_config(
            db.dir.path(),
            &db.url,
            &[platform_config(k, &sim.base_url())],
        );
        apply(&config, k.name).await;
        let insert = |contact: &str, add: &str, remove: &str| {
            format!(
                "INSERT INTO mark_requests (platform, contact, user_id, add_tags, remove_tags)\nVALUES ('juzi', '{contact}', '{STAFF}', '{add}', '{remove}');"
            )
        };
        // The README's statement (its example values aside).
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        assert!(readme.contains("INSERT INTO mark_requests (platform, contact, user_id, add_tags, remove_tags)\nVALUES ('juzi-main', "));
        db.execute(&insert(
            "c1",
            r#"["客户级别/重要客户", "客户来源/官网咨询"]"#,
            "[]",
        ))
        .await;
        db.execute(&insert("c1", "[]", r#"["客户级别/不存在"]"#))
            .await;
        db.execute(&insert("c1", "[]", r#"["客户来源/官网咨询"]"#))
            .await;
        db.execute(&insert("c2", "[]", "[]")).await;
        let out = output(tagsync(&config, &["mark", "--drain"])).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            db.backend(),
            describe(&out)
        );
        assert_eq!(
            stdout(&out),
            "juzi: 2 delivered, 0 retried, 2 dead, 1 call(s).\n",
            "{}",
            db.backend()
        );
        assert_eq!(
            k.held(&sim, "c1"),
            k.ids(&["others", "客户级别/重要客户"]),
            "{}",
            db.backend()
        );
        let rows = requests(&db.url).await;
        let view: Vec<(&str, Option<&str>)> = rows
            .iter()
            .map(|r| (r.2.as_str(), r.4.as_deref()))
            .collect();
        assert_eq!(
            view,
            [
                ("succeeded", None),
                (
                    "dead",
                    Some(
                        "`客户级别/不存在` is not a declared tag (GROUP/TAG) of platform \"juzi\""
                    )
                ),
                ("succeeded", None),
                (
                    "dead",
                    Some("nothing to mark: add_tags and remove_tags are both empty")
                ),
            ],
            "{}",
            db.backend()
        );
        let out = output(tagsync(
            &config,
            &["mark", "--retry-dead", "--platform", "juzi"],
        ))
        .await;
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        assert_eq!(stdout(&out), "Requeued 2 dead mark request(s).\n");
        let store = scenario::open(&db.url).await;
        let stats = store.mark_queue_stats("juzi").await.unwrap();
        assert_eq!((stats.queued, stats.dead, stats.succeeded), (2, 0, 2));
        assert!(stats.oldest_created_at.is_some());
        store.close().await;
        sim.shutdown().await.unwrap();
        db.finish().await;
    }
}

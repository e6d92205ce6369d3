//! `tagsync import` as a process against every readable simulator: the file it writes, planned
//! right after, sends nothing (`plan --detailed-exitcode` exits 0 with no write call), on a fresh
//! setup without tag files; bad input exits 2 with nothing written. And `tagsync status` reads
//! the mirror it left.

use std::path::Path;

use tagsync::sim::{self, Fixture, FixtureGroup, FixtureTag, SimOptions, SimPlatform};

use crate::cli::tagsync;

const TOKEN: &str = "import-token";

/// Names YAML must quote, each of them a tag; plus ordinary ones.
const TRICKY: [&str; 8] = [
    "123",
    "true",
    "#话题",
    "a: b",
    "- 列表",
    "\"引号\"",
    "it's",
    "null",
];

fn group(name: &str, order: u32, tags: &[&str]) -> FixtureGroup {
    let mut g: FixtureGroup = serde_json::from_value(serde_json::json!({"name": name})).unwrap();
    g.order = order;
    g.tags = tags
        .iter()
        .enumerate()
        .map(|(i, t)| FixtureTag {
            id: None,
            name: (*t).into(),
            order: (tags.len() - i) as u32,
            create_timestamp: None,
        })
        .collect();
    g
}

fn fixture(groups: Vec<FixtureGroup>) -> Fixture {
    Fixture {
        token: TOKEN.into(),
        groups,
        ..Fixture::default()
    }
}

async fn start(platform: SimPlatform, fixture: Fixture) -> sim::SimHandle {
    sim::start(
        platform,
        SimOptions {
            fixture,
            ..SimOptions::default()
        },
    )
    .await
    .unwrap()
}

/// A configuration with one platform `p` and a `tags` directory that does not exist yet.
fn config(dir: &Path, sim: &sim::SimHandle, fixture: &Fixture) {
    let mut text = format!(
        "database_url: sqlite://{0}/m.db?mode=rwc\ntags: {0}/tags\nplatforms:\n  p:\n    kind: {1}\n    base_url: {2}\n    secret_env: IMPORT_TOKEN\n",
        dir.display(),
        sim.platform().name(),
        sim.base_url()
    );
    for (key, value) in sim.platform().account(fixture) {
        text.push_str(&format!("    {key}: {value}\n"));
    }
    std::fs::write(dir.join("tagsync.yaml"), text).unwrap();
}

const ENV: [(&str, &str); 1] = [("IMPORT_TOKEN", TOKEN)];

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Import on a fresh setup, then plan: exit 0 and no write call.
async fn import_then_plan_is_empty(platform: SimPlatform, fixture: Fixture) -> String {
    let sim = start(platform, fixture.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), &sim, &fixture);
    assert!(!dir.path().join("tags").exists());

    // `-` writes to standard output; no file is made.
    let out = tagsync(
        dir.path(),
        &["import", "--platform", "p", "--out", "-"],
        &ENV,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout_import = text(&out.stdout);
    assert!(!dir.path().join("tags").exists());

    let out = tagsync(dir.path(), &["import", "--platform", "p"], &ENV).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let file = dir.path().join("tags/p.yaml");
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(
        written.starts_with("# yaml-language-server: $schema="),
        "{written}"
    );
    assert!(
        text(&out.stderr).contains("Imported "),
        "{}",
        text(&out.stderr)
    );

    let out = tagsync(dir.path(), &["plan", "--detailed-exitcode"], &ENV).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{platform:?}: {}\n{}\n{written}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(
        sim.writes(),
        [],
        "{platform:?}: import and plan write nothing"
    );

    // A second import refuses to overwrite, and with --force writes the same file again.
    let out = tagsync(dir.path(), &["import", "--platform", "p"], &ENV).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("exists; import writes a new file"),
        "{}",
        text(&out.stderr)
    );
    let out = tagsync(dir.path(), &["import", "--platform", "p", "--force"], &ENV).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), written);

    // Once a tag file declares the groups, importing again to standard output leaves them out.
    let out = tagsync(
        dir.path(),
        &["import", "--platform", "p", "--out", "-"],
        &ENV,
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("a tag file already declares it"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(sim.writes(), []);
    // The same but for the `$schema` path, which is relative to where the file is.
    let body = |t: &str| t.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert!(
        body(&stdout_import) == body(&written),
        "`-` writes what the file gets"
    );
    written
}

fn tricky_groups() -> Vec<FixtureGroup> {
    vec![
        group("客户级别", 300, &["重要客户", "普通客户"]),
        group("yes", 200, &TRICKY),
        group("[来源]", 100, &["官网", "{展会}"]),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wecom_import_then_plan_is_empty() {
    let written = import_then_plan_is_empty(SimPlatform::Wecom, fixture(tricky_groups())).await;
    for name in [
        "\"123\"",
        "\"true\"",
        "\"#话题\"",
        "\"a: b\"",
        "\"- 列表\"",
        "\"\\\"引号\\\"\"",
    ] {
        assert!(written.contains(name), "{name} quoted in\n{written}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn juzibot_import_then_plan_is_empty() {
    import_then_plan_is_empty(SimPlatform::Juzibot, fixture(tricky_groups())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miaokol_import_then_plan_is_empty() {
    import_then_plan_is_empty(SimPlatform::Yzj, fixture(tricky_groups())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_import_then_plan_is_empty() {
    import_then_plan_is_empty(SimPlatform::WechatCrm, fixture(tricky_groups())).await;
}

/// WeCom's per-corp maximum, on Juzibot: 100 groups of 100 tags.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn juzibot_with_10000_tags_import_then_plan_is_empty() {
    let names: Vec<Vec<String>> = (0..100)
        .map(|g| (0..100).map(|t| format!("标签{g:03}-{t:03}")).collect())
        .collect();
    let groups = names
        .iter()
        .enumerate()
        .map(|(g, tags)| {
            let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
            group(&format!("分组{g:03}"), 1000 - g as u32, &tags)
        })
        .collect();
    let written = import_then_plan_is_empty(SimPlatform::Juzibot, fixture(groups)).await;
    assert_eq!(written.matches("标签").count(), 10_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_exits_2_and_writes_nothing() {
    let fx = fixture(tricky_groups());
    let sim = start(SimPlatform::Dustess, fx.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), &sim, &fx);
    let cases: [(&[&str], &str); 4] = [
        (
            &["import", "--platform", "p"],
            "error: --platform: \"p\" (dustess) has no list call, so tagsync cannot see what it holds: there is nothing to import\n  hint: import from a platform that can list its tags, and declare this one in its groups' `platforms:`\n",
        ),
        (
            &["import", "--platform", "nope"],
            "error: --platform: no platform \"nope\" in CONFIG\n  hint: configured platforms: p\n",
        ),
        (
            &["import", "--platform", "p", "--out", "missing/dir/p.yaml"],
            "",
        ),
        (&["import", "--platform", "p", "--out", "-"], ""),
    ];
    let shown = dir.path().join("tagsync.yaml").display().to_string();
    for (args, expected) in &cases[..2] {
        let out = tagsync(dir.path(), args, &ENV).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(
            text(&out.stderr),
            expected.replace("CONFIG", &shown),
            "{args:?}"
        );
        assert!(out.stdout.is_empty());
    }
    assert_eq!(sim.calls(), [], "no call to the platform");
    assert!(!dir.path().join("m.db").exists(), "no mirror written");
    assert!(!dir.path().join("tags").exists(), "no file written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_into_a_missing_directory_exits_2() {
    let fx = fixture(tricky_groups());
    let sim = start(SimPlatform::Juzibot, fx.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), &sim, &fx);
    let missing = dir.path().join("missing/p.yaml");
    let args = [
        "import",
        "--platform",
        "p",
        "--out",
        missing.to_str().unwrap(),
    ];
    let out = tagsync(dir.path(), &args, &ENV).await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        format!(
            "error: --out: cannot write {}: the directory {} does not exist\n  hint: create the directory first, or choose another --out\n",
            missing.display(),
            dir.path().join("missing").display()
        )
    );
    assert_eq!(sim.calls(), []);
    assert!(!dir.path().join("m.db").exists());
    assert!(!dir.path().join("missing").exists());
}

/// `status` after an import: the mirror alone, no call; JSON one document, text aligned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reads_the_mirror_only() {
    let fx = fixture(tricky_groups());
    let sim = start(SimPlatform::Juzibot, fx.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), &sim, &fx);
    let out = tagsync(
        dir.path(),
        &["import", "--platform", "p", "--out", "-"],
        &ENV,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let calls = sim.calls().len();

    // No secret needed: status reads no credential.
    let out = tagsync(dir.path(), &["status", "--format", "json"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = &doc["platforms"][0];
    assert_eq!(p["name"], "p");
    assert_eq!(p["last_run"]["trigger"], "import");
    assert_eq!(p["last_run"]["status"], "succeeded");
    assert_eq!(p["mark_queue"], 0);
    assert!(p["last_pull_at"].is_string(), "{doc}");

    let out = tagsync(dir.path(), &["status"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.starts_with("p (juzibot, enforce)\n  last pull   "),
        "{shown}"
    );
    assert!(shown.contains("\n  last run    succeeded, "), "{shown}");
    assert!(!shown.contains('\x1b'), "no colour off a terminal: {shown}");
    assert_eq!(sim.calls().len(), calls, "status calls no platform");
}

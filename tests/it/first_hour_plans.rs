//! The first hour, continued (issue 16 items 2, 3, 5, 7, 8, 13): `plan` and `apply` with saved
//! plans, repeated or unknown `--platform`s, the delete guard shown before any question, and an
//! `--out` path checked before the first call.

use std::path::Path;

use crate::cli::{juzibot, tagsync, write_config};

const ENV: [(&str, &str); 1] = [("CLI_JUZI_TOKEN", "cli-token")];

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

async fn ok(dir: &Path, args: &[&str]) -> String {
    let out = tagsync(dir, args, &ENV).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_or_repeated_platform_with_a_saved_plan() {
    let sim = juzibot().await;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &sim.base_url(), "secret_env: CLI_JUZI_TOKEN");
    let plan = dir.path().join("plan.json");
    let p = plan.to_str().unwrap();

    // A repeated name is pulled and shown once.
    let shown = ok(
        dir.path(),
        &[
            "plan",
            "--platform",
            "juzi",
            "--platform",
            "juzi",
            "--out",
            p,
        ],
    )
    .await;
    assert_eq!(shown.matches("juzi: 4 write calls").count(), 1, "{shown}");
    assert_eq!(sim.count("/api/v1/tag/list"), 1);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    assert_eq!(saved["platforms"].as_array().unwrap().len(), 1);

    // An unknown name is exit 2 with a plan file as without one, and nothing is called.
    sim.clear_log();
    for args in [
        vec!["apply", p, "--platform", "nosuch", "--yes"],
        vec!["apply", "--platform", "nosuch", "--yes"],
    ] {
        let out = tagsync(dir.path(), &args, &ENV).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(
            text(&out.stderr),
            "error: unknown platform \"nosuch\"; configured: juzi\n  hint: pass a name configured under `platforms:`\n",
            "{args:?}"
        );
    }
    assert!(sim.calls().is_empty());

    // Applied once, however often it is named.
    let out = ok(
        dir.path(),
        &[
            "apply",
            p,
            "--platform",
            "juzi",
            "--platform",
            "juzi",
            "--yes",
        ],
    )
    .await;
    assert_eq!(
        out.matches("juzi: 4 of 4 operations applied").count(),
        1,
        "{out}"
    );
    assert_eq!(sim.writes().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_is_refused_for_another_account() {
    let made_for = juzibot().await;
    let other = juzibot().await;
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &made_for.base_url(),
        "secret_env: CLI_JUZI_TOKEN",
    );
    let plan = dir.path().join("plan.json");
    let p = plan.to_str().unwrap();
    ok(dir.path(), &["plan", "--out", p]).await;
    let saved = std::fs::read_to_string(&plan).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(
        doc["platforms"][0]["account"],
        serde_json::json!({"kind": "juzibot", "base_url": format!("{}/", made_for.base_url()), "settings": {}})
    );
    assert!(!saved.contains("cli-token"), "never the secret");

    // The same platform name, configured for another account.
    write_config(dir.path(), &other.base_url(), "secret_env: CLI_JUZI_TOKEN");
    let out = tagsync(dir.path(), &["apply", p, "--yes"], &ENV).await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        format!(
            "error: juzi: the saved plan was made for another account; nothing was sent. What differs:\n  - base_url: \"{}/\" in the plan, \"{}/\" in the configuration\n  hint: make a new plan for this account with `tagsync plan --out {p}`\n",
            made_for.base_url(),
            other.base_url()
        )
    );
    assert!(other.calls().is_empty(), "{:?}", other.calls());
    assert!(made_for.writes().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_out_path_that_cannot_be_written_stops_before_any_call() {
    let sim = juzibot().await;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &sim.base_url(), "secret_env: CLI_JUZI_TOKEN");
    let out = tagsync(
        dir.path(),
        &["plan", "--out", "/nonexistent-dir/plan.json"],
        &ENV,
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: cannot write the plan to /nonexistent-dir/plan.json: the directory /nonexistent-dir does not exist\n  hint: pass --out a writable path in an existing directory; nothing was read or sent\n"
    );
    let is_dir = dir.path().join("tags");
    let out = tagsync(
        dir.path(),
        &["plan", "--out", is_dir.to_str().unwrap()],
        &ENV,
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("tags: it is a directory"),
        "{}",
        text(&out.stderr)
    );
    assert!(sim.calls().is_empty(), "no call, reads included");
    assert!(
        !dir.path().join("m.db").exists(),
        "the mirror is not written"
    );
}

/// Three tags declared and applied, then two dropped from a pruning group: a plan of 2 deletes
/// against `max_deletes: 1`.
async fn two_deletes_over_a_limit_of_one(dir: &Path, base_url: &str) {
    write_config(dir, base_url, "secret_env: CLI_JUZI_TOKEN");
    std::fs::write(
        dir.join("tags/a.yaml"),
        "groups:\n  - name: 客户级别\n    prune: true\n    tags: [重要客户, 普通客户, 潜在客户]\n",
    )
    .unwrap();
    ok(dir, &["apply", "--yes"]).await;
    std::fs::write(
        dir.join("tags/a.yaml"),
        "groups:\n  - name: 客户级别\n    prune: true\n    tags: [重要客户]\n",
    )
    .unwrap();
    let config = dir.join("tagsync.yaml");
    let mut c = std::fs::read_to_string(&config).unwrap();
    c.push_str("max_deletes: 1\n");
    std::fs::write(&config, c).unwrap();
}

const VERDICT: &str =
    "refused by the delete guard: 2 deletes > max_deletes 1; pass --allow-deletes 2";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delete_guard_is_shown_with_the_plan_and_never_asked_about() {
    let sim = juzibot().await;
    let dir = tempfile::tempdir().unwrap();
    two_deletes_over_a_limit_of_one(dir.path(), &sim.base_url()).await;
    sim.clear_log();

    let shown = ok(dir.path(), &["plan"]).await;
    assert!(
        shown.contains(&format!(
            "juzi: 1 write call: 0 to create, 0 to change, 2 to delete; 0 drift\n  {VERDICT}\n  - tags \"客户级别/普通客户\", \"客户级别/潜在客户\""
        )),
        "{shown}"
    );
    let json = ok(dir.path(), &["plan", "--format", "json"]).await;
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    crate::schema::check_against_schema(&doc);
    assert_eq!(
        doc["platforms"][0]["delete_guard"],
        serde_json::json!({"deletes": 2, "limit": 1, "refused": true})
    );

    // Without a terminal, apply would ask: the guard refuses first, so it does not.
    for args in [vec!["apply"], vec!["apply", "--yes"]] {
        let out = tagsync(dir.path(), &args, &ENV).await;
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(stdout.contains("2 to delete"), "{args:?}: {stdout}");
        assert!(stdout.contains(VERDICT), "{args:?}: {stdout}");
        assert!(!stderr.contains("confirmation"), "{args:?}: {stderr}");
        assert!(stderr.contains("juzi: "), "{args:?}: {stderr}");
    }
    assert!(sim.writes().is_empty());

    // A saved plan: judged with the limit of the apply, before the question.
    let plan = dir.path().join("plan.json");
    let p = plan.to_str().unwrap();
    ok(dir.path(), &["plan", "--out", p]).await;
    let out = tagsync(dir.path(), &["apply", p], &ENV).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains(VERDICT), "{}", text(&out.stdout));
    assert_eq!(
        text(&out.stderr),
        format!("error: juzi: {VERDICT}; nothing was sent\n")
    );
    assert!(sim.writes().is_empty());
    // Allowed, the verdict is no longer a refusal, and apply asks (here: no terminal).
    let out = tagsync(dir.path(), &["apply", p, "--allow-deletes", "2"], &ENV).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(!text(&out.stdout).contains("refused by"));
    assert_eq!(
        text(&out.stderr),
        format!(
            "error: apply needs confirmation, and standard input is not a terminal\n  hint: review the plan above, then run `tagsync apply {p} --yes`\n"
        )
    );
    let out = ok(dir.path(), &["apply", p, "--allow-deletes", "2", "--yes"]).await;
    assert!(out.contains("juzi: 1 of 1 operations applied"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_terminal_apply_names_the_command_that_applies() {
    let sim = juzibot().await;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &sim.base_url(), "secret_env: CLI_JUZI_TOKEN");
    let out = tagsync(dir.path(), &["apply"], &ENV).await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: apply needs confirmation, and standard input is not a terminal\n  hint: review the plan above, then run `tagsync apply --yes`\n"
    );
    assert!(sim.writes().is_empty());
}

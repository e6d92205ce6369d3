//! The binary against the Juzibot simulator: exit codes (SPEC §3), JSON output, secrets checked
//! before any call.

use std::path::Path;

use assert_cmd::Command;
use tagsync::sim::{self, Fixture, SimOptions, SimPlatform};

const TAGS: &str = "groups:\n  - name: 客户级别\n    tags: [重要客户, 普通客户]\n";

pub fn write_config(dir: &Path, base_url: &str, secret_line: &str) {
    std::fs::create_dir_all(dir.join("tags")).unwrap();
    std::fs::write(dir.join("tags/a.yaml"), TAGS).unwrap();
    let config = format!(
        "database_url: sqlite://{}/m.db?mode=rwc\ntags: {}/tags\nplatforms:\n  juzi:\n    kind: juzibot\n    base_url: {base_url}\n    {secret_line}\n",
        dir.display(),
        dir.display()
    );
    std::fs::write(dir.join("tagsync.yaml"), config).unwrap();
}

/// Runs the binary off the async runtime (the simulator serves on it meanwhile).
pub async fn tagsync(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::cargo_bin("tagsync").unwrap();
    cmd.arg("--config").arg(dir.join("tagsync.yaml")).args(args);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("TAGSYNC_")) {
        cmd.env_remove(k);
    }
    cmd.env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// `tagsync sim ARGS`, which refuses `--config`.
async fn sim_without_config(args: &[&str]) -> std::process::Output {
    let mut cmd = Command::cargo_bin("tagsync").unwrap();
    cmd.arg("sim").args(args).env_remove("TAGSYNC_CONFIG");
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

pub async fn juzibot() -> sim::SimHandle {
    let fixture = Fixture {
        token: "cli-token".into(),
        ..Fixture::default()
    };
    sim::start(
        SimPlatform::Juzibot,
        SimOptions {
            fixture,
            ..SimOptions::default()
        },
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_apply_plan_exit_codes() {
    let sim = juzibot().await;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &sim.base_url(), "secret_env: CLI_JUZI_TOKEN");
    let env = [("CLI_JUZI_TOKEN", "cli-token")];

    let out = tagsync(dir.path(), &["plan", "--detailed-exitcode"], &env).await;
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("+ group \"客户级别\" with 2 tags: 重要客户, 普通客户"),
        "{text}"
    );
    assert_eq!(sim.writes().len(), 0, "plan sends nothing");

    let out = tagsync(dir.path(), &["plan", "--format", "json"], &env).await;
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["summary"]["calls"], 4, "{doc}");
    assert_eq!(
        doc["platforms"][0]["ops"][0]["action"]["kind"],
        "create_group"
    );

    let out = tagsync(dir.path(), &["apply"], &env).await;
    assert_eq!(out.status.code(), Some(2), "no TTY and no --yes");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pass --yes")
            || String::from_utf8_lossy(&out.stderr).contains("apply --yes")
    );
    assert_eq!(sim.writes().len(), 0);

    let out = tagsync(dir.path(), &["apply", "--yes"], &env).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(
        "juzi: 4 operations applied, 0 failed, 0 refused as not ours; 6 HTTP requests (reads and retries included); in step"
    ));

    let out = tagsync(dir.path(), &["plan", "--detailed-exitcode"], &env).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_stops_before_any_call() {
    let sim = juzibot().await;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &sim.base_url(), "secret_env: CLI_UNSET_TOKEN");
    let out = tagsync(dir.path(), &["plan"], &[]).await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: platform \"juzi\": environment variable CLI_UNSET_TOKEN is not set\n  hint: secrets come only from the variable or file named by `secret_env` / `secret_file`\n"
    );
    write_config(
        dir.path(),
        &sim.base_url(),
        "secret_file: /nonexistent/tagsync/juzi",
    );
    let out = tagsync(dir.path(), &["apply", "--yes"], &[]).await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: platform \"juzi\": cannot read secret_file /nonexistent/tagsync/juzi: no such file\n  hint: secrets come only from the variable or file named by `secret_env` / `secret_file`\n"
    );
    assert!(
        sim.calls().is_empty(),
        "no call before the secrets are all there"
    );
    // validate needs no secret.
    let out = tagsync(dir.path(), &["validate"], &[]).await;
    assert_eq!(out.status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_platform_and_unreachable_platform() {
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        "http://127.0.0.1:9",
        "secret_env: CLI_JUZI_TOKEN",
    );
    let env = [("CLI_JUZI_TOKEN", "x")];
    let out = tagsync(dir.path(), &["plan", "--platform", "nope"], &env).await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: unknown platform \"nope\"; configured: juzi\n  hint: pass a name configured under `platforms:`\n"
    );
    // Nothing listens on port 9: a platform failure, exit 1, and the token never printed.
    let out = tagsync(dir.path(), &["plan"], &env).await;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("juzi: tag/list"), "{err}");
    // Each retry is shown as it happens, with its cause; the final error names the cause too.
    for attempt in 1..=6 {
        assert!(
            err.contains(&format!("attempt={attempt} ")),
            "retry {attempt} is logged: {err}"
        );
    }
    assert!(
        err.contains("INFO") && err.contains("tagsync::retry: Retrying after a transient failure. platform=juzi endpoint=\"tag/list\" cause=\"cannot connect: Connection refused"),
        "{err}"
    );
    assert!(
        err.contains("error: juzi: tag/list: still failing after 7 attempts: cannot connect: Connection refused"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_refuses_bad_seeds_and_fault_specs_before_serving() {
    let dir = tempfile::tempdir().unwrap();
    let out = sim_without_config(&["--faults", "rate=2"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("error: invalid fault spec item `rate=2`")
    );
    let out = sim_without_config(&["--seed", "/nonexistent/seed.yaml"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: cannot read the seed file /nonexistent/seed.yaml: no such file\n"
    );
    std::fs::write(dir.path().join("seed.yaml"), "nosuchplatform: {}\n").unwrap();
    let seed = dir.path().join("seed.yaml");
    let out = sim_without_config(&["--seed", seed.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown platform `nosuchplatform`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "nothing was served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_as_a_pull_request_comment() {
    let sim = juzibot().await;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &sim.base_url(), "secret_env: CLI_JUZI_TOKEN");
    let env = [("CLI_JUZI_TOKEN", "cli-token")];
    let args = ["plan", "--format", "markdown", "--detailed-exitcode"];
    let out = tagsync(dir.path(), &args, &env).await;
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    expect_test::expect![[r#"
        ### tagsync plan

        | Platform | Create | Change | Delete | Write calls | Drift `!` |
        |---|--:|--:|--:|--:|--:|
        | juzi | 3 | 3 | 0 | 4 | 0 |

        **4 write calls**: 3 to create, 3 to change, 0 to delete; 0 drift that no call can fix.

        #### juzi

        - `+` create group **客户级别** with 2 tags: **重要客户**, **普通客户** — _declared, missing here_
        - `~` group **客户级别**: order → 100 — _order of a new object (the create call cannot set it)_
        - `~` tag **客户级别** / **重要客户**: order → 200 — _order of a new object (the create call cannot set it)_
        - `~` tag **客户级别** / **普通客户**: order → 100 — _order of a new object (the create call cannot set it)_
    "#]].assert_eq(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(sim.writes().len(), 0, "plan sends nothing");
}

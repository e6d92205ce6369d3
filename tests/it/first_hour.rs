//! The first hour of a new user (issue 16): the binary as a newcomer meets it, from the README's
//! quick start to the mistakes it should explain.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::Duration;

use assert_cmd::Command;

use crate::cli::{juzibot, tagsync, write_config};

/// The binary with a clean `TAGSYNC_…` environment, run in the repository (as the README is).
fn bin() -> Command {
    let mut cmd = Command::cargo_bin("tagsync").unwrap();
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.to_ascii_uppercase().starts_with("TAGSYNC_")) {
        cmd.env_remove(k);
    }
    cmd.env("NO_COLOR", "1");
    cmd
}

fn run(cmd: &mut Command) -> (Option<i32>, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `tagsync sim --write-config FILE` as a process; stopped (by its id) when dropped.
struct Sim(Child);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_sim(config: &Path) -> (Sim, Vec<String>) {
    let child = StdCommand::new(assert_cmd::cargo::cargo_bin("tagsync"))
        .args(["sim", "--write-config"])
        .arg(config)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("TAGSYNC_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut sim = Sim(child);
    let stdout = sim.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("sim printed its configuration's path");
        let done = line.starts_with("Configuration written to ");
        lines.push(line);
        if done {
            break;
        }
    }
    (sim, lines)
}

/// The commands of the README's "Try `plan` and `apply` by hand" block, comments dropped.
fn readme_by_hand() -> Vec<Vec<String>> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("**Try `plan` and `apply` by hand")
        .expect("the README's by-hand section");
    let block = readme[start..]
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .unwrap();
    block
        .lines()
        .map(|l| {
            l.split('#')
                .next()
                .unwrap()
                .split_whitespace()
                .map(String::from)
                .collect()
        })
        .collect()
}

/// The README's "try it by hand" block, followed line by line: `sim --write-config`, `validate`,
/// `plan`, `apply --yes`, and `plan --detailed-exitcode` exits 0 once in step.
#[test]
fn sim_write_config_then_validate_plan_apply_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let commands = readme_by_hand();
    let readme_config = "/tmp/try/tagsync.yaml";
    let config = dir.path().join("try/tagsync.yaml");
    let c = config.to_str().unwrap();
    // `cargo run -- ARGS` with the test's directory for the README's.
    let args = |words: &[String]| -> Vec<String> {
        assert_eq!(words[..2], ["cargo", "run"], "{words:?}");
        assert_eq!(words[2], "--");
        words[3..]
            .iter()
            .map(|w| w.replace(readme_config, c))
            .collect()
    };
    assert_eq!(
        args(&commands[0]),
        ["sim", "--write-config", c],
        "the block starts the simulators"
    );
    let (_sim, lines) = start_sim(&config);
    // Each simulator's URL and what it accepts.
    assert_eq!(lines.len(), 5 + 1, "{lines:#?}");
    let wecom: Vec<&str> = lines[0].split(' ').collect();
    assert_eq!(wecom[0], "wecom");
    assert!(wecom[1].starts_with("http://127.0.0.1:"), "{lines:#?}");
    assert_eq!(
        wecom[2..],
        ["secret=sim-token", "corp_id=wwsimcorp0000000001"]
    );
    assert!(
        lines[2].ends_with(" secret=sim-token app_id=sim-app-id"),
        "{lines:#?}"
    );
    // Secrets beside the configuration, readable by their owner only.
    for name in ["wecom-hq", "juzi-main", "yzj", "dustess", "crm"] {
        use std::os::unix::fs::PermissionsExt;
        let secret = config.with_file_name(format!("{name}.secret"));
        let mode = std::fs::metadata(&secret).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
        assert_eq!(std::fs::read_to_string(&secret).unwrap(), "sim-token\n");
    }

    let rest: Vec<Vec<String>> = commands[1..].iter().map(|w| args(w)).collect();
    let expected: Vec<Vec<String>> = [
        &["validate"][..],
        &["plan"],
        &["apply", "--yes"],
        &["plan", "--detailed-exitcode"],
    ]
    .iter()
    .map(|a| {
        ["--config", c]
            .iter()
            .chain(a.iter())
            .map(|s| s.to_string())
            .collect()
    })
    .collect();
    assert_eq!(rest, expected);
    for (i, a) in rest.iter().enumerate() {
        let (code, out, err) = run(bin().args(a));
        assert_eq!(code, Some(0), "{a:?}: {out}{err}");
        if i == 1 {
            assert!(out.contains("to create"), "{out}");
        }
    }

    // The file is not overwritten by a second simulator set.
    let (code, _, err) = run(bin().args(["sim", "--write-config", c]));
    assert_eq!(code, Some(2));
    assert_eq!(
        err,
        format!("error: cannot write {c}: it exists; --write-config writes a new file\n")
    );
}

#[test]
fn commands_without_a_configuration_refuse_config() {
    for (args, hint) in [
        (
            &["demo"][..],
            "drop --config: the demo writes its own for the simulators (see it with --keep DIR)",
        ),
        (&["schema"][..], "drop --config"),
        (
            &["sim"][..],
            "drop --config; `tagsync sim --write-config FILE` writes a configuration for the simulators",
        ),
    ] {
        let (code, out, err) = run(bin().args(["--config", "my.yaml"]).args(args));
        assert_eq!(code, Some(2), "{args:?}");
        assert_eq!(out, "");
        assert_eq!(
            err,
            format!(
                "error: `tagsync {}` reads no configuration, but --config my.yaml was given\n  hint: {hint}\n",
                args[0]
            )
        );
    }
    // TAGSYNC_CONFIG set for the other commands is no reason to refuse.
    let (code, out, _) = run(bin().env("TAGSYNC_CONFIG", "elsewhere.yaml").arg("schema"));
    assert_eq!(code, Some(0));
    assert!(out.contains("tagsync tag file"));
}

#[test]
fn demo_keep_leaves_a_mirror_to_query() {
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("demo");
    let (code, out, err) = run(bin().args(["demo", "--keep", keep.to_str().unwrap()]));
    assert_eq!(code, Some(0), "{out}{err}");
    let db = std::fs::canonicalize(&keep).unwrap().join("tagsync.db");
    assert!(
        out.contains(&format!("The mirror is kept: sqlite3 {}", db.display())),
        "{out}"
    );
    assert!(keep.join("tagsync.yaml").exists());
    // The README's query runs on the kept mirror.
    let url = format!("sqlite://{}?mode=ro", db.display());
    let drift: i64 = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query_scalar("select count(*) from v_drift")
            .fetch_one(&pool)
            .await
            .unwrap()
    });
    assert!(drift > 0, "the demo's consoles hold drift to query");
    // A second run would mix two demos in one mirror.
    let (code, _, err) = run(bin().args(["demo", "--keep", keep.to_str().unwrap()]));
    assert_eq!(code, Some(2));
    assert_eq!(
        err,
        format!(
            "error: {} is not empty\n  hint: `demo --keep` needs a new or empty directory, so that the mirror holds this run alone\n",
            keep.display()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_line_or_empty_secret_stops_before_any_call() {
    let sim = juzibot().await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("juzi.secret");
    let line = format!("secret_file: {}", secret.display());
    write_config(dir.path(), &sim.base_url(), &line);
    std::fs::write(&secret, "cli-token\nsecond-line\n").unwrap();
    let out = tagsync(dir.path(), &["plan"], &[]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        err,
        format!(
            "error: platform \"juzi\": the secret in secret_file {} has 2 lines; a secret is one line\n  hint: secrets come only from the variable or file named by `secret_env` / `secret_file`\n",
            secret.display()
        )
    );
    assert!(!err.contains("cli-token") && !err.contains("second-line"));
    assert!(sim.calls().is_empty());

    // One trailing newline is what an editor leaves: accepted.
    std::fs::write(&secret, "cli-token\n").unwrap();
    let out = tagsync(dir.path(), &["plan"], &[]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    write_config(dir.path(), &sim.base_url(), "secret_env: CLI_EMPTY_TOKEN");
    let out = tagsync(dir.path(), &["plan"], &[("CLI_EMPTY_TOKEN", "")]).await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: platform \"juzi\": environment variable CLI_EMPTY_TOKEN is empty\n  hint: secrets come only from the variable or file named by `secret_env` / `secret_file`\n"
    );
}

#[test]
fn environment_mistakes_name_the_variable() {
    let example = "config/tagsync.example.yaml";
    let cases: [(&str, &str, &str); 5] = [
        (
            "TAGSYNC_PLATFORMS__CRM__KIND",
            "yzj",
            "error: environment variable TAGSYNC_PLATFORMS__CRM__KIND: platform \"crm\" of kind yzj needs `app_id`\n  hint: add `app_id:`, the app ID the Miaokol (yzj) open platform issued\n1 error\n",
        ),
        (
            "tagsync_max_deletes",
            "abc",
            "error: environment variable tagsync_max_deletes: `max_deletes` has the wrong type: found string \"abc\", expected a whole number from 0 to 4294967295\n  hint: set the variable to a whole number from 0 to 4294967295, or unset it\n1 error\n",
        ),
        (
            "TAGSYNC_PLATFORMS__CRM__CORP_ID",
            "ww1",
            "error: environment variable TAGSYNC_PLATFORMS__CRM__CORP_ID: `corp_id` does not apply to kind wechat_crm\n  hint: unset it; corp_id is a setting of wecom\n1 error\n",
        ),
        (
            "TAGSYNC_PLATFORMS__JUZI_MAIN__BASE_URL",
            "https://example.com",
            "error: environment variable TAGSYNC_PLATFORMS__JUZI_MAIN__BASE_URL: missing key `platforms.juzi_main.kind`\n  hint: the file has no platform \"juzi_main\", so the variable declares a new one; a variable cannot name a platform whose name has `-`: set its keys in the file\n1 error\n",
        ),
        (
            "TAGSYNC_LOG_FORMAT",
            "xml",
            "error: environment variable TAGSYNC_LOG_FORMAT: \"xml\" is not a log format\n  hint: `json` for one JSON object per line, `text` (the default), or unset TAGSYNC_LOG_FORMAT\n",
        ),
    ];
    for (var, value, expected) in cases {
        let (code, out, err) = run(bin()
            .env(var, value)
            .args(["--config", example, "validate"]));
        assert_eq!(code, Some(2), "{var}: {out}");
        assert_eq!(err, expected, "{var}");
    }
    let (code, _, err) = run(bin()
        .env("TAGSYNC_LOG", "bogus=[[")
        .args(["--config", example, "validate"]));
    assert_eq!(code, Some(2));
    assert!(
        err.starts_with(
            "error: environment variable TAGSYNC_LOG: \"bogus=[[\" is not a log filter: "
        ),
        "{err}"
    );
}

/// Logs redirected to a file carry no colour codes, even without `NO_COLOR`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirected_logs_have_no_colour() {
    let sim = juzibot().await;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &sim.base_url(), "secret_env: CLI_JUZI_TOKEN");
    let log = std::fs::File::create(dir.path().join("log.txt")).unwrap();
    let config = dir.path().join("tagsync.yaml");
    let status = tokio::task::spawn_blocking(move || {
        StdCommand::new(assert_cmd::cargo::cargo_bin("tagsync"))
            .arg("--config")
            .arg(config)
            .arg("plan")
            .env_remove("NO_COLOR")
            .env("TAGSYNC_LOG", "debug")
            .env("CLI_JUZI_TOKEN", "cli-token")
            .stdout(Stdio::null())
            .stderr(log)
            .status()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(status.code(), Some(0));
    let text = std::fs::read_to_string(dir.path().join("log.txt")).unwrap();
    assert!(text.contains("DEBUG"), "debug logs were written: {text}");
    assert!(!text.contains("\x1b["), "{text}");
}

#[test]
fn a_configuration_that_is_not_utf8_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tagsync.yaml");
    std::fs::write(&config, b"tags: config/tags\nmax_deletes: 5 # caf\xe9\n").unwrap();
    let (code, _, err) = run(bin().args(["--config", config.to_str().unwrap(), "validate"]));
    assert_eq!(code, Some(2));
    assert_eq!(
        err,
        format!(
            "error: {}:2:21: not UTF-8 at line 2, column 21: save the file as UTF-8\n1 error\n",
            config.display()
        )
    );
}

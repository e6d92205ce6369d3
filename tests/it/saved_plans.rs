//! Saved plans through the binary: `plan --out FILE`, then `apply FILE` sends exactly what was
//! reviewed, or refuses when the platform changed.

use crate::cli::{juzibot, tagsync, write_config};

fn writes(sim: &tagsync::sim::SimHandle) -> Vec<String> {
    sim.writes()
        .iter()
        .map(|c| c.path.trim_start_matches("/api/v1/").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_applied_unchanged_makes_exactly_its_calls() {
    let sim = juzibot().await;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &sim.base_url(), "secret_env: CLI_JUZI_TOKEN");
    let env = [("CLI_JUZI_TOKEN", "cli-token")];
    let plan = dir.path().join("plan.json");
    let out = tagsync(dir.path(), &["plan", "--out", plan.to_str().unwrap()], &env).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    assert_eq!(saved["format"], "tagsync-plan/2");
    let listed: Vec<String> = saved["platforms"][0]["plan"]["ops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| op["action"]["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        listed,
        ["create_group", "edit_group", "edit_tag", "edit_tag"]
    );

    sim.clear_log();
    let out = tagsync(
        dir.path(),
        &["apply", plan.to_str().unwrap(), "--yes"],
        &env,
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The create first; its order edits go at once (independent), in any order.
    let mut sent = writes(&sim);
    sent[1..].sort();
    assert_eq!(
        sent,
        ["tag/create", "tag/edit", "tag/edit", "tagGroup/edit"]
    );
    let all: Vec<String> = sim
        .calls()
        .iter()
        .map(|c| c.path.trim_start_matches("/api/v1/").to_owned())
        .collect();
    assert_eq!(
        all.first().map(String::as_str),
        Some("tag/list"),
        "the state is checked before sending"
    );
    assert_eq!(
        all.len(),
        6,
        "one list to check, the 4 listed writes, one list to record: {all:?}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "juzi: 4 of 4 operations applied, 0 failed, 0 refused as not ours; 6 HTTP requests (reads and retries included)"
        ),
        "{stdout}"
    );

    // The same file again: the platform has changed (by the plan itself), so it is refused.
    sim.clear_log();
    let out = tagsync(
        dir.path(),
        &["apply", plan.to_str().unwrap(), "--yes"],
        &env,
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(writes(&sim).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_is_refused_after_a_console_change() {
    let sim = juzibot().await;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &sim.base_url(), "secret_env: CLI_JUZI_TOKEN");
    let env = [("CLI_JUZI_TOKEN", "cli-token")];
    // Bring the platform in step, then change the tag file so that there is something to plan.
    assert_eq!(
        tagsync(dir.path(), &["apply", "--yes"], &env)
            .await
            .status
            .code(),
        Some(0)
    );
    std::fs::write(
        dir.path().join("tags/a.yaml"),
        "groups:\n  - name: 客户级别\n    tags: [重要客户, 普通客户, 潜在客户]\n",
    )
    .unwrap();
    let plan = dir.path().join("plan.json");
    assert_eq!(
        tagsync(dir.path(), &["plan", "--out", plan.to_str().unwrap()], &env)
            .await
            .status
            .code(),
        Some(0)
    );

    // Someone renames a tag in the console.
    let (id, group) = sim
        .with_state(|a: &mut tagsync::sim::juzibot::Account| {
            let g = a.group_by_name("客户级别").unwrap();
            (
                g.tags
                    .iter()
                    .find(|t| t.name == "普通客户")
                    .unwrap()
                    .id
                    .clone(),
                g.name.clone(),
            )
        })
        .unwrap();
    let http = reqwest::Client::new();
    let body: serde_json::Value = http
        .post(format!(
            "{}/api/v1/tag/edit?token=cli-token",
            sim.base_url()
        ))
        .json(&serde_json::json!({"id": id, "name": "一般客户"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["errcode"], 0);
    sim.clear_log();

    let out = tagsync(
        dir.path(),
        &["apply", plan.to_str().unwrap(), "--yes"],
        &env,
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "juzi: the platform changed since the saved plan was made; nothing was sent. Make a new plan. What changed:\n  - tag \"{group}\"/\"普通客户\" ({id}) was renamed to \"一般客户\""
        )),
        "{stderr}"
    );
    assert!(
        writes(&sim).is_empty(),
        "nothing is sent: {:?}",
        writes(&sim)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_is_not_a_saved_plan_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        "http://127.0.0.1:9",
        "secret_env: CLI_JUZI_TOKEN",
    );
    let plan = dir.path().join("plan.json");
    std::fs::write(
        &plan,
        "{\"format\": \"tagsync-plan/1\",\n \"platforms\": 3}\n",
    )
    .unwrap();
    let out = tagsync(
        dir.path(),
        &["apply", plan.to_str().unwrap(), "--yes"],
        &[("CLI_JUZI_TOKEN", "x")],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!("error: {}:2:", plan.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: make one with `tagsync plan --out"),
        "{stderr}"
    );
    std::fs::write(&plan, "{\"format\": \"tagsync-plan/9\", \"created_at\": \"2026-01-01T00:00:00Z\", \"platforms\": []}").unwrap();
    let out = tagsync(
        dir.path(),
        &["apply", plan.to_str().unwrap(), "--yes"],
        &[("CLI_JUZI_TOKEN", "x")],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("a saved plan of format \"tagsync-plan/9\"")
    );
}

/// `apply` on a terminal: the binary under `script` (a pseudo-terminal), answering the prompt.
/// `between` runs once the prompt shows, before the answer is typed.
async fn apply_on_a_terminal(
    dir: &std::path::Path,
    answer: &str,
    between: impl std::future::Future<Output = ()>,
) -> (Option<i32>, String) {
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    let bin = assert_cmd::cargo::cargo_bin("tagsync");
    let cmd = format!(
        "{} --config {} apply",
        bin.display(),
        dir.join("tagsync.yaml").display()
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("CLI_JUZI_TOKEN", "cli-token")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux runs the binary on a pseudo-terminal");
    let seen = Arc::new(Mutex::new(String::new()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn({
        let seen = seen.clone();
        move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !seen.lock().unwrap().contains("Only 'yes' is accepted") {
        assert!(
            std::time::Instant::now() < deadline && !reader.is_finished(),
            "no prompt: {}",
            seen.lock().unwrap()
        );
        // The simulator serves on this runtime while the binary pulls: yield, do not block.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    between.await;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{answer}\n").as_bytes()).unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    drop(stdin);
    reader.join().unwrap();
    let out = seen.lock().unwrap().clone();
    (status.code(), out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_on_a_terminal_sends_what_was_confirmed_or_nothing() {
    let sim = juzibot().await;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &sim.base_url(), "secret_env: CLI_JUZI_TOKEN");

    // "no": nothing is sent.
    let (code, out) = apply_on_a_terminal(dir.path(), "no", async {}).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("Apply cancelled; nothing was sent."), "{out}");
    assert!(writes(&sim).is_empty());

    // "yes": exactly the previewed plan.
    let (code, out) = apply_on_a_terminal(dir.path(), "yes", async {}).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("juzi: 4 of 4 operations applied"), "{out}");
    assert_eq!(
        writes(&sim),
        ["tag/create", "tagGroup/edit", "tag/edit", "tag/edit"]
    );

    // A console change while the prompt waits: what was confirmed no longer fits; nothing is sent.
    std::fs::write(
        dir.path().join("tags/a.yaml"),
        "groups:\n  - name: 客户级别\n    tags: [重要客户, 普通客户, 潜在客户]\n",
    )
    .unwrap();
    sim.clear_log();
    let url = format!("{}/api/v1/tag/create?token=cli-token", sim.base_url());
    let console_change = async move {
        let body = serde_json::json!({"groupName": "客户级别", "tag": [{"name": "手工标签"}]});
        let resp: serde_json::Value = reqwest::Client::new()
            .post(url)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(resp["errcode"], 0, "{resp}");
    };
    let (code, out) = apply_on_a_terminal(dir.path(), "yes", console_change).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("the platform changed since the saved plan was made"),
        "{out}"
    );
    assert!(out.contains("was added"), "{out}");
    assert_eq!(
        writes(&sim),
        ["tag/create"],
        "only the console's own change"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_plan_file_and_an_unwritable_out_path() {
    let sim = juzibot().await;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &sim.base_url(), "secret_env: CLI_JUZI_TOKEN");
    let env = [("CLI_JUZI_TOKEN", "cli-token")];
    let missing = dir.path().join("no-such-plan.json");
    let out = tagsync(
        dir.path(),
        &["apply", missing.to_str().unwrap(), "--yes"],
        &env,
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: cannot read the saved plan {}: no such file\n",
            missing.display()
        )
    );
    // An --out path that cannot be written: see first_hour_plans.rs.
    assert!(sim.writes().is_empty());
}

//! The daemon: its settings, its HTTP routes over loopback, and `tagsync run` as a real process
//! against the simulators with a one-second schedule.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use tagsync::clock::SystemClock;
use tagsync::daemon::health::{Health, Probe, ReadinessPolicy};
use tagsync::daemon::http::{AppState, Auth, router};
use tagsync::daemon::scheduler::Schedule;
use tagsync::sim::{self, Fixture, SimHandle, SimOptions, SimPlatform};

// ---- settings ---------------------------------------------------------------------------------

const PLATFORM: &str = "platforms:\n  d:\n    kind: dustess\n    base_url: http://127.0.0.1:1\n    secret_env: D_SECRET\n";

fn settings_error(yaml: &str) -> String {
    match tagsync::settings::load_str("config.yaml", yaml) {
        Ok(_) => panic!("accepted:\n{yaml}"),
        Err(d) => d.to_string(),
    }
}

#[test]
fn a_schedule_that_never_fires_is_refused_at_its_key() {
    assert_eq!(
        settings_error(&format!("schedule: \"0 0 0 30 2 *\"\n{PLATFORM}")),
        "error: config.yaml:1:11: schedule \"0 0 0 30 2 *\" never fires\n  hint: check the day of month against the month (there is no February 30th)"
    );
    assert_eq!(
        settings_error(&format!("{PLATFORM}    schedule: \"0 0 0 31 4 *\"\n")),
        "error: config.yaml:6:15: schedule \"0 0 0 31 4 *\" never fires\n  hint: check the day of month against the month (there is no February 30th)"
    );
}

#[test]
fn off_loopback_the_http_token_is_required() {
    assert_eq!(
        settings_error(&format!("listen: 0.0.0.0:9187\n{PLATFORM}")),
        "error: config.yaml:1:9: `listen` 0.0.0.0:9187 is not a loopback address, and no HTTP token is set\n  hint: set `http_token_env: VARIABLE` or `http_token_file: /path`: off loopback, /metrics and the status page need `Authorization: Bearer <token>`"
    );
    assert_eq!(
        settings_error(&format!(
            "http_token_env: T\nhttp_token_file: /run/t\n{PLATFORM}"
        )),
        "error: config.yaml:2:1: both `http_token_env` and `http_token_file` are set\n  hint: keep one"
    );
    let s = tagsync::settings::load_str(
        "config.yaml",
        &format!("listen: 0.0.0.0:9187\nhttp_token_env: TAGSYNC_HTTP_TOKEN\n{PLATFORM}"),
    )
    .unwrap();
    assert_eq!(
        s.http_token,
        Some(tagsync::settings::SecretSource::Env(
            "TAGSYNC_HTTP_TOKEN".into()
        ))
    );
}

// ---- HTTP over loopback ----------------------------------------------------------------------

struct FakeDb(Result<(), String>);

#[async_trait::async_trait]
impl Probe for FakeDb {
    async fn check(&self) -> Result<(), String> {
        self.0.clone()
    }
}

/// A status page source with no platform.
struct NoStatus;

#[async_trait::async_trait]
impl tagsync::daemon::page::StatusSource for NoStatus {
    async fn report(&self) -> Result<tagsync::engine::StatusReport, String> {
        Err("no mirror in this test".into())
    }
}

async fn serve(health: Arc<Health>, db: Result<(), String>, auth: Auth) -> SocketAddr {
    let app = router(AppState {
        health,
        probe: Arc::new(FakeDb(db)),
        metrics: tagsync::daemon::metrics::install(),
        auth,
        status: Arc::new(NoStatus),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn health(platforms: &[&str]) -> Arc<Health> {
    Arc::new(Health::new(
        Arc::new(SystemClock),
        ReadinessPolicy::default(),
        platforms
            .iter()
            .map(|p| (p.to_string(), Schedule::parse("0 */5 * * * *").unwrap())),
    ))
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

async fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let mut req = client().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    match req.send().await {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
        Err(e) => (0, e.to_string()),
    }
}

#[tokio::test]
async fn healthz_and_readyz_answer_with_the_failing_checks() {
    let h = health(&["wecom-hq"]);
    let addr = serve(h.clone(), Ok(()), Auth::open()).await;
    let (code, body) = get(&format!("http://{addr}/healthz"), None).await;
    assert_eq!(
        (code, body.as_str()),
        (
            200,
            r#"{"ok":true,"failing":[],"checks":[{"name":"scheduler","ok":true}]}"#
        )
    );
    let (code, body) = get(&format!("http://{addr}/readyz"), None).await;
    assert_eq!(code, 200, "{body}");

    h.set_desired_invalid(Some(
        "tags/a.yaml:4:7: duplicate tag \"新标签\" in group \"客户级别\"".into(),
    ));
    let (code, body) = get(&format!("http://{addr}/readyz"), None).await;
    assert_eq!(code, 503);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["failing"],
        serde_json::json!([{
            "name": "desired_state",
            "ok": false,
            "detail": "desired state invalid: tags/a.yaml:4:7: duplicate tag \"新标签\" in group \"客户级别\""
        }])
    );
    h.set_desired_invalid(None);
    h.cycle_finished(
        "wecom-hq",
        tagsync::daemon::CycleStatus::Failed,
        Some("wecom-hq: HTTP 502".into()),
    );
    let (code, body) = get(&format!("http://{addr}/readyz"), None).await;
    assert_eq!(code, 503);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["failing"][0]["name"], "platform:wecom-hq");
    assert_eq!(
        v["failing"][0]["detail"],
        "the last cycle failed: wecom-hq: HTTP 502"
    );
    // The status page is served; a mirror it cannot read is a 503 page, not a crash.
    let (code, body) = get(&format!("http://{addr}/"), None).await;
    assert_eq!(code, 503);
    assert!(
        body.contains("The mirror cannot be read right now."),
        "{body}"
    );
}

#[tokio::test]
async fn readyz_fails_when_the_database_does_not_answer() {
    let addr = serve(health(&[]), Err("connection refused".into()), Auth::open()).await;
    let (code, body) = get(&format!("http://{addr}/readyz"), None).await;
    assert_eq!(code, 503);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["failing"],
        serde_json::json!([{"name": "database", "ok": false, "detail": "connection refused"}])
    );
}

#[tokio::test]
async fn off_loopback_metrics_need_the_bearer_token_and_probes_stay_open() {
    // Bound on loopback, with the policy `listen` gets off loopback.
    let auth = Auth::bearer(&SecretString::from("s3cret-token".to_owned()));
    let addr = serve(health(&[]), Ok(()), auth).await;
    let url = format!("http://{addr}/metrics");
    assert_eq!(get(&url, None).await.0, 401);
    assert_eq!(get(&url, Some("wrong")).await.0, 401);
    assert_eq!(get(&url, Some("s3cret-token-and-more")).await.0, 401);
    let r = client()
        .get(&url)
        .header("Authorization", "Basic s3cret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(
        r.headers()["www-authenticate"].to_str().unwrap(),
        "Bearer realm=\"tagsync\""
    );
    let (code, body) = get(&url, Some("s3cret-token")).await;
    assert_eq!(code, 200);
    parse_metrics(&body);
    assert_eq!(get(&format!("http://{addr}/healthz"), None).await.0, 200);
    assert_eq!(get(&format!("http://{addr}/readyz"), None).await.0, 200);
}

fn parse_metrics(text: &str) -> prometheus_parse::Scrape {
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .unwrap_or_else(|e| panic!("not Prometheus text ({e}):\n{text}"))
}

fn value(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(k).is_some_and(|x| x == *v))
        })
        .and_then(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => Some(v),
            _ => None,
        })
}

// ---- `tagsync run` as a process --------------------------------------------------------------

const TAGS: &str = "groups:\n  - name: 客户级别\n    tags: [重要客户, 普通客户]\n";

/// The daemon process; killed if the test ends early.
struct Daemon {
    child: Child,
    log: PathBuf,
    base: String,
}

impl Daemon {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_sim(platform: SimPlatform) -> SimHandle {
    sim::start(
        platform,
        SimOptions {
            fixture: Fixture {
                token: format!("daemon-{}", platform.name()),
                ..Fixture::default()
            },
            ..SimOptions::default()
        },
    )
    .await
    .unwrap()
}

fn write_config(dir: &Path, sims: &[(&str, &str, &SimHandle)], listen: &str, schedule: &str) {
    std::fs::create_dir_all(dir.join("tags")).unwrap();
    std::fs::write(dir.join("tags/a.yaml"), TAGS).unwrap();
    let mut config = format!(
        "database_url: sqlite://{}/m.db?mode=rwc\ntags: {}/tags\nschedule: \"{schedule}\"\nlisten: {listen}\nplatforms:\n",
        dir.display(),
        dir.display()
    );
    for (name, kind, h) in sims {
        let secret = dir.join(format!("secret-{name}"));
        std::fs::write(&secret, h.token()).unwrap();
        config.push_str(&format!(
            "  {name}:\n    kind: {kind}\n    base_url: {}\n    secret_file: {}\n",
            h.base_url(),
            secret.display()
        ));
    }
    std::fs::write(dir.join("tagsync.yaml"), config).unwrap();
}

fn spawn_daemon(dir: &Path, port: u16, env: &[(&str, String)]) -> Daemon {
    let log = dir.join("daemon.log");
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("tagsync"));
    cmd.arg("--config").arg(dir.join("tagsync.yaml")).arg("run");
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("TAGSYNC_")) {
        cmd.env_remove(k);
    }
    cmd.env("TAGSYNC_LOG", "info")
        .env("NO_COLOR", "1")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    Daemon {
        child: cmd.spawn().unwrap(),
        log,
        base: format!("http://127.0.0.1:{port}"),
    }
}

/// Polls `check` every 50 ms until it answers `Some`, for at most `limit`.
async fn until<T, F, Fut>(d: &Daemon, limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if start.elapsed() > limit {
            panic!("{what}: not within {limit:?}. Daemon log:\n{}", d.log());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn scrape(d: &Daemon) -> Option<prometheus_parse::Scrape> {
    let (code, body) = get(&format!("{}/metrics", d.base), None).await;
    (code == 200).then(|| parse_metrics(&body))
}

/// Ticks of `platform` that ran a cycle on some replica: this one's `ok` cycles, and its
/// `elsewhere` ones (another replica held the platform). Which replica wins a tick is a race.
async fn cycles(d: &Daemon, platform: &str) -> f64 {
    let Some(s) = scrape(d).await else { return 0.0 };
    ["ok", "elsewhere"]
        .iter()
        .map(|outcome| {
            value(
                &s,
                "tagsync_cycles_total",
                &[("platform", platform), ("outcome", outcome)],
            )
            .unwrap_or(0.0)
        })
        .sum()
}

fn wrote(h: &SimHandle, name: &str) -> bool {
    h.writes().iter().any(|c| {
        c.body
            .as_ref()
            .is_some_and(|b| b.to_string().contains(name))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tagsync_run_converges_follows_edits_refuses_invalid_ones_and_stops_on_sigterm() {
    let juzi = start_sim(SimPlatform::Juzibot).await;
    let dustess = start_sim(SimPlatform::Dustess).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    write_config(
        dir.path(),
        &[("juzi", "juzibot", &juzi), ("dustess", "dustess", &dustess)],
        &format!("127.0.0.1:{port}"),
        "* * * * * *",
    );
    // systemd's notification socket, with a watchdog of 400 ms; a thread collects what comes.
    let notify = std::os::unix::net::UnixDatagram::bind(dir.path().join("notify.sock")).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let notes = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (notes, done) = (notes.clone(), done.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 256];
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(n) = notify.recv(&mut buf) {
                    let note = String::from_utf8_lossy(&buf[..n]).trim().to_owned();
                    notes.lock().unwrap().push(note);
                }
            }
        })
    };
    let notify_env = [
        (
            "NOTIFY_SOCKET",
            dir.path().join("notify.sock").display().to_string(),
        ),
        ("WATCHDOG_USEC", "400000".to_string()),
    ];
    let mut d = spawn_daemon(dir.path(), port, &notify_env);
    let sims = [("juzi", &juzi), ("dustess", &dustess)];

    // It converges: both platforms hold the tag files' tags, and nothing is left to send.
    until(&d, Duration::from_secs(20), "convergence", || async {
        let s = scrape(&d).await?;
        sims.iter()
            .all(|(p, h)| {
                wrote(h, "普通客户") && value(&s, "tagsync_drift", &[("platform", p)]) == Some(0.0)
            })
            .then_some(())
    })
    .await;
    let (code, body) = get(&format!("{}/readyz", d.base), None).await;
    assert_eq!(code, 200, "{body}");
    // READY=1 once it serves and schedules; WATCHDOG=1 at half the 400 ms interval meanwhile.
    until(&d, Duration::from_secs(5), "READY=1 and WATCHDOG=1", || {
        let notes = notes.lock().unwrap();
        let seen = notes.first().map(String::as_str) == Some("READY=1")
            && notes.iter().filter(|n| *n == "WATCHDOG=1").count() >= 2;
        async move { seen.then_some(()) }
    })
    .await;

    // An edit is applied within two ticks (plus the cycle's own time).
    std::fs::write(
        dir.path().join("tags/a.yaml"),
        "groups:\n  - name: 客户级别\n    tags: [重要客户, 普通客户, 潜在客户]\n",
    )
    .unwrap();
    until(&d, Duration::from_secs(4), "the edit applied", || async {
        sims.iter().all(|(_, h)| wrote(h, "潜在客户")).then_some(())
    })
    .await;

    // An invalid edit (a duplicate tag, plus a new one) keeps the process up, turns /readyz red
    // with the file and line, and sends nothing.
    quiesce(&d, &sims).await;
    let writes_before: Vec<usize> = sims.iter().map(|(_, h)| h.writes().len()).collect();
    std::fs::write(
        dir.path().join("tags/a.yaml"),
        "groups:\n  - name: 客户级别\n    tags: [重要客户, 普通客户, 潜在客户, 流失客户, 流失客户]\n",
    )
    .unwrap();
    let body = until(&d, Duration::from_secs(5), "/readyz red", || async {
        let (code, body) = get(&format!("{}/readyz", d.base), None).await;
        (code == 503).then_some(body)
    })
    .await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["failing"][0]["name"], "desired_state", "{body}");
    let detail = v["failing"][0]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with(&format!(
            "desired state invalid: error: {}:3:",
            dir.path().join("tags/a.yaml").display()
        )),
        "{detail}"
    );
    // …and in the mirror, with the same located message.
    let mirror = tagsync::store::Store::open(&format!("sqlite://{}/m.db", dir.path().display()))
        .await
        .unwrap();
    let refused = until(
        &d,
        Duration::from_secs(5),
        "the error in the mirror",
        || async { mirror.tag_file_errors().await.unwrap().pop() },
    )
    .await;
    assert_eq!(
        refused.source,
        dir.path().join("tags").display().to_string()
    );
    assert_eq!(format!("desired state invalid: {}", refused.error), detail);
    // Two more cycles on each platform with the last valid state: no write.
    let seen: Vec<f64> = futures_cycles(&d, &sims).await;
    until(
        &d,
        Duration::from_secs(10),
        "two cycles during the invalid edit",
        || async {
            let now = futures_cycles(&d, &sims).await;
            now.iter()
                .zip(&seen)
                .all(|(n, s)| *n >= s + 2.0)
                .then_some(())
        },
    )
    .await;
    for ((p, h), before) in sims.iter().zip(&writes_before) {
        assert_eq!(
            h.writes()[*before..],
            [],
            "{p}: writes during an invalid edit\n{}",
            d.log()
        );
    }
    assert!(d.child.try_wait().unwrap().is_none(), "the daemon stays up");

    // A fix recovers by itself.
    std::fs::write(
        dir.path().join("tags/a.yaml"),
        "groups:\n  - name: 客户级别\n    tags: [重要客户, 普通客户, 潜在客户, 流失客户]\n",
    )
    .unwrap();
    until(&d, Duration::from_secs(5), "recovery", || async {
        let (code, _) = get(&format!("{}/readyz", d.base), None).await;
        (code == 200 && sims.iter().all(|(_, h)| wrote(h, "流失客户"))).then_some(())
    })
    .await;
    until(
        &d,
        Duration::from_secs(5),
        "the mirror's error cleared",
        || async {
            mirror
                .tag_file_errors()
                .await
                .unwrap()
                .is_empty()
                .then_some(())
        },
    )
    .await;

    // A refused call is retried and counted by platform and class.
    juzi.fail_next("/api/v1/tag/list", sim::FaultKind::Http429, 1);
    until(&d, Duration::from_secs(5), "a retry counted", || async {
        let s = scrape(&d).await?;
        let n = value(
            &s,
            "tagsync_api_retries_total",
            &[("platform", "juzi"), ("error_class", "refused")],
        )?;
        (n >= 1.0).then_some(())
    })
    .await;

    // /metrics parses, with every family described.
    let s = scrape(&d).await.expect("/metrics answers");
    // Operations by kind and outcome: the creates above, on both platforms.
    for (p, _) in &sims {
        let created: f64 = s
            .samples
            .iter()
            .filter(|x| {
                x.metric == "tagsync_operations_total"
                    && x.labels.get("platform") == Some(*p)
                    && x.labels.get("outcome") == Some("succeeded")
                    && x.labels.get("kind").is_some()
            })
            .map(|x| match x.value {
                prometheus_parse::Value::Counter(v) => v,
                _ => 0.0,
            })
            .sum();
        assert!(created >= 2.0, "{p}: {created} operations succeeded");
    }
    assert_eq!(
        value(&s, "tagsync_lease_holder", &[("platform", "juzi")]),
        Some(1.0),
        "the lease holder is this replica"
    );
    for family in [
        "tagsync_cycles_total",
        "tagsync_api_calls_total",
        "tagsync_drift",
        "tagsync_last_success_timestamp_seconds",
        "tagsync_lease_holder",
        "tagsync_desired_state_valid",
        "tagsync_api_retries_total",
        "tagsync_operations_total",
        "tagsync_skipped_ticks_total",
        "tagsync_cycle_duration_seconds",
    ] {
        assert!(s.docs.contains_key(family), "no HELP for {family}");
    }
    assert!(value(&s, "tagsync_api_calls_total", &[("platform", "juzi")]).unwrap() > 0.0);
    assert_eq!(value(&s, "tagsync_desired_state_valid", &[]), Some(1.0));
    // One line per cycle, with its fields.
    let log = d.log();
    assert!(
        log.contains("Cycle finished. platform=\"juzi\" trigger=\"daemon-start\" outcome=\"ok\" ops_succeeded=")
            && log.contains(" api_calls=")
            && log.contains(" duration_ms="),
        "{log}"
    );
    assert!(
        log.contains("Cycle finished.") && log.contains("platform=\"dustess\"")
            || log.contains("platform=dustess"),
        "{log}"
    );

    // SIGHUP with an invalid configuration: refused with its location, the old one keeps running.
    let config_path = dir.path().join("tagsync.yaml");
    let config = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(&config_path, format!("bogus_key: 1\n{config}")).unwrap();
    let hup = |d: &Daemon| {
        let pid = d.child.id().to_string();
        let status = std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap();
        assert!(status.success());
    };
    hup(&d);
    until(
        &d,
        Duration::from_secs(5),
        "the bad configuration refused",
        || async {
            d.log()
                .contains("The configuration is invalid; the running one stays in force.")
                .then_some(())
        },
    )
    .await;
    assert!(
        d.log().contains(&format!("{}:1:1", config_path.display())),
        "{}",
        d.log()
    );
    let seen = futures_cycles(&d, &sims).await;
    until(&d, Duration::from_secs(5), "cycles go on", || async {
        let now = futures_cycles(&d, &sims).await;
        now.iter().zip(&seen).all(|(n, s)| *n > *s).then_some(())
    })
    .await;
    assert!(d.child.try_wait().unwrap().is_none(), "the daemon stays up");

    // SIGHUP with a valid change: dustess removed, a new platform added and connected (its tags
    // created at once), juzi kept with its client (not connected again).
    let juzi2 = start_sim(SimPlatform::Juzibot).await;
    let secret = dir.path().join("secret-juzi2");
    std::fs::write(&secret, juzi2.token()).unwrap();
    let kept = &config[..config
        .find("  dustess:\n")
        .expect("dustess is the last platform")];
    std::fs::write(
        &config_path,
        format!(
            "{kept}  juzi2:\n    kind: juzibot\n    base_url: {}\n    secret_file: {}\n",
            juzi2.base_url(),
            secret.display()
        ),
    )
    .unwrap();
    hup(&d);
    until(
        &d,
        Duration::from_secs(10),
        "the new platform converges",
        || async {
            (wrote(&juzi2, "流失客户") && cycles(&d, "juzi2").await >= 1.0).then_some(())
        },
    )
    .await;
    let log = d.log();
    assert!(
        log.contains("The configuration changed. connected=juzi2 removed=dustess"),
        "{log}"
    );
    let dustess_calls = dustess.calls().len();
    let seen = cycles(&d, "juzi").await;
    until(&d, Duration::from_secs(5), "juzi cycles on", || async {
        (cycles(&d, "juzi").await >= seen + 2.0).then_some(())
    })
    .await;
    assert_eq!(dustess.calls().len(), dustess_calls, "dustess was dropped");
    let (code, body) = get(&format!("{}/readyz", d.base), None).await;
    assert_eq!(code, 200, "{body}");
    assert!(!body.contains("dustess"), "{body}");

    // The container probe.
    let out = crate::cli::tagsync(dir.path(), &["healthcheck"], &[]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // SIGTERM: exit 0 within 10 s.
    let pid = d.child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let start = Instant::now();
    let exit = loop {
        if let Some(s) = d.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no exit within 10 s:\n{}",
            d.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(exit.code(), Some(0), "{}", d.log());
    assert!(d.log().contains("Stopped."), "{}", d.log());
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    reader.join().unwrap();
    let notes = notes.lock().unwrap().clone();
    assert_eq!(
        notes.last().map(String::as_str),
        Some("STOPPING=1"),
        "{notes:?}"
    );
    let out = crate::cli::tagsync(dir.path(), &["healthcheck"], &[]).await;
    assert_eq!(out.status.code(), Some(1));
}

/// Waits until a whole cycle of every platform sent nothing: the edits so far are all applied.
async fn quiesce(d: &Daemon, sims: &[(&str, &SimHandle)]) {
    let start = Instant::now();
    loop {
        let writes: Vec<usize> = sims.iter().map(|(_, h)| h.writes().len()).collect();
        let seen = futures_cycles(d, sims).await;
        // Two more cycles: the first may have been under way already.
        until(d, Duration::from_secs(10), "two more cycles", || async {
            let now = futures_cycles(d, sims).await;
            now.iter()
                .zip(&seen)
                .all(|(n, s)| *n >= s + 2.0)
                .then_some(())
        })
        .await;
        let now: Vec<usize> = sims.iter().map(|(_, h)| h.writes().len()).collect();
        if now == writes {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never quiet:\n{}",
            d.log()
        );
    }
}

async fn futures_cycles(d: &Daemon, sims: &[(&str, &SimHandle)]) -> Vec<f64> {
    let mut out = Vec::new();
    for (p, _) in sims {
        out.push(cycles(d, p).await);
    }
    out
}

/// `tagsync run` under a systemd notification socket: its output, and every notification sent.
/// A start that fails must send none (no `READY=1`: nothing half-started).
async fn run_notified(dir: &Path) -> (std::process::Output, Vec<String>) {
    let socket = dir.join("notify.sock");
    let notify = std::os::unix::net::UnixDatagram::bind(&socket).unwrap();
    notify.set_nonblocking(true).unwrap();
    let path = socket.display().to_string();
    let out = crate::cli::tagsync(dir, &["run"], &[("NOTIFY_SOCKET", path.as_str())]).await;
    let mut notes = Vec::new();
    let mut buf = [0u8; 256];
    while let Ok(n) = notify.recv(&mut buf) {
        notes.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    (out, notes)
}

#[tokio::test]
async fn a_listen_address_in_use_is_exit_1_before_any_cycle() {
    let juzi = start_sim(SimPlatform::Juzibot).await;
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    write_config(
        dir.path(),
        &[("juzi", "juzibot", &juzi)],
        &format!("127.0.0.1:{port}"),
        "* * * * * *",
    );
    let (out, notes) = run_notified(dir.path()).await;
    assert_eq!(notes, Vec::<String>::new(), "nothing half-started");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: cannot listen on 127.0.0.1:{port}: Address already in use"
        )) && stderr.contains(
            "hint: another process listens there (another tagsync?); stop it or change `listen`"
        ),
        "{stderr}"
    );
    assert_eq!(stderr.matches("error:").count(), 1, "said once: {stderr}");
    assert!(juzi.calls().is_empty(), "no call before the daemon is up");
}

#[tokio::test]
async fn a_listen_address_not_on_this_host_is_exit_2() {
    let juzi = start_sim(SimPlatform::Juzibot).await;
    let dir = tempfile::tempdir().unwrap();
    // 192.0.2.1 is TEST-NET-1: never an address of this host.
    write_config(
        dir.path(),
        &[("juzi", "juzibot", &juzi)],
        "192.0.2.1:9187\nhttp_token_env: TAGSYNC_HTTP_TOKEN",
        "* * * * * *",
    );
    let out = crate::cli::tagsync(dir.path(), &["run"], &[("TAGSYNC_HTTP_TOKEN", "t0ken")]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr,
        "error: cannot listen on 192.0.2.1:9187: Cannot assign requested address (os error 99)\n  hint: the address is not one of this host's; use 127.0.0.1, 0.0.0.0 or an address of this host\n"
    );
    assert!(juzi.calls().is_empty());
}

#[tokio::test]
async fn a_mirror_that_cannot_be_opened_is_exit_1_before_any_call() {
    let juzi = start_sim(SimPlatform::Juzibot).await;
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &[("juzi", "juzibot", &juzi)],
        "127.0.0.1:0",
        "* * * * * *",
    );
    let config = std::fs::read_to_string(dir.path().join("tagsync.yaml")).unwrap();
    let config = config.replace(
        &format!("sqlite://{}/m.db", dir.path().display()),
        &format!("sqlite://{}/missing/m.db", dir.path().display()),
    );
    std::fs::write(dir.path().join("tagsync.yaml"), config).unwrap();
    let (out, notes) = run_notified(dir.path()).await;
    assert_eq!(notes, Vec::<String>::new(), "nothing half-started");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: cannot open the mirror"),
        "{stderr}"
    );
    assert!(juzi.calls().is_empty());
}

/// A PostgreSQL server that does not answer at start: exit 1, before any call or notification.
#[tokio::test]
async fn an_unreachable_postgresql_is_exit_1_before_any_call() {
    let juzi = start_sim(SimPlatform::Juzibot).await;
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &[("juzi", "juzibot", &juzi)],
        "127.0.0.1:0",
        "* * * * * *",
    );
    let config = std::fs::read_to_string(dir.path().join("tagsync.yaml")).unwrap();
    // Nothing listens on port 1.
    let config = config.replace(
        &format!("sqlite://{}/m.db?mode=rwc", dir.path().display()),
        "postgres://tagsync@127.0.0.1:1/tagsync",
    );
    std::fs::write(dir.path().join("tagsync.yaml"), config).unwrap();
    let (out, notes) = run_notified(dir.path()).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: cannot open the mirror"),
        "{stderr}"
    );
    assert_eq!(notes, Vec::<String>::new(), "nothing half-started");
    assert!(juzi.calls().is_empty());
}

#[tokio::test]
async fn a_never_firing_schedule_is_exit_2_before_any_call() {
    let juzi = start_sim(SimPlatform::Juzibot).await;
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &[("juzi", "juzibot", &juzi)],
        "127.0.0.1:0",
        "0 0 0 30 2 *",
    );
    let out = crate::cli::tagsync(dir.path(), &["run"], &[]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("tagsync.yaml:3:11: schedule \"0 0 0 30 2 *\" never fires"),
        "{stderr}"
    );
    assert!(juzi.calls().is_empty());
}

#[tokio::test]
async fn a_missing_http_token_variable_is_exit_2() {
    let juzi = start_sim(SimPlatform::Juzibot).await;
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &[("juzi", "juzibot", &juzi)],
        "0.0.0.0:0\nhttp_token_env: TAGSYNC_HTTP_TOKEN",
        "* * * * * *",
    );
    let out = crate::cli::tagsync(dir.path(), &["run"], &[]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr,
        "error: `http_token_env` names TAGSYNC_HTTP_TOKEN, which is not set\n  hint: the token guards /metrics off loopback; set it, or listen on 127.0.0.1\n"
    );
    assert!(juzi.calls().is_empty());
}

// ---- deployment files -------------------------------------------------------------------------

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_deployment_configurations_are_valid() {
    let compose = tagsync::settings::load_str(
        "deploy/compose/tagsync.yaml",
        &repo_file("deploy/compose/tagsync.yaml"),
    )
    .unwrap_or_else(|d| panic!("{d}"));
    assert!(compose.http_token.is_some());

    let map: serde_json::Value =
        serde_saphyr::from_str(&repo_file("deploy/kubernetes/configmap.yaml")).unwrap();
    let config = map["data"]["tagsync.yaml"].as_str().unwrap();
    let settings = tagsync::settings::load_str("configmap tagsync.yaml", config)
        .unwrap_or_else(|d| panic!("{d}"));
    let tags = map["data"]["10-customer.yaml"].as_str().unwrap();
    tagsync::model::tagfile::parse(
        &[tagsync::model::tagfile::Source {
            name: "10-customer.yaml".into(),
            text: tags.into(),
        }],
        &settings.tag_context(),
    )
    .unwrap_or_else(|d| panic!("{d}"));
    // Every secret_file of the configuration is a key of the Secret, mounted where it says.
    let secret: serde_json::Value =
        serde_saphyr::from_str(&repo_file("deploy/kubernetes/secret.yaml")).unwrap();
    for p in settings.platforms.values() {
        let tagsync::settings::SecretSource::File(path) = &p.secret else {
            panic!("{}: secret_env in the ConfigMap", p.name)
        };
        let key = path.strip_prefix("/run/secrets/tagsync/").unwrap();
        assert!(
            secret["stringData"][key.to_str().unwrap()].is_string(),
            "{key:?}"
        );
    }
}

#[test]
fn every_metric_is_documented_and_on_the_dashboard() {
    let readme = repo_file("README.md");
    let dashboard = repo_file("deploy/grafana/tagsync.json");
    let _: serde_json::Value = serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    for name in tagsync::daemon::metrics::ALL {
        assert!(
            readme.contains(&format!("`{name}`")),
            "{name} is not in the README"
        );
        assert!(dashboard.contains(name), "{name} is not on the dashboard");
    }
}

// ---- two replicas on one mirror ---------------------------------------------------------------

/// A fresh schema of the test database for one test, or `None` when none is configured.
pub(crate) async fn pg_schema(test: &str) -> Option<(sqlx::PgPool, String, String)> {
    let base = crate::support::postgres_url(&format!("daemon::{test}"))?;
    let schema = format!("d_{test}_{}", std::process::id());
    let admin = sqlx::PgPool::connect(&base).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    Some((admin, schema, url))
}

/// The mirror's runs of `platform` that ended, as (start, end), in start order; asserts that no
/// two overlap (a writing run's row lies inside its writer lease, so overlapping rows would be two
/// writers at once).
async fn assert_runs_never_overlap(store: &tagsync::store::Store, platform: &str) -> usize {
    let mut runs: Vec<_> = store
        .runs(platform, 10_000)
        .await
        .unwrap()
        .into_iter()
        // A run closed by the next writer after its process died ended when it was closed, not
        // when it stopped.
        .filter(|r| {
            !r.error
                .as_deref()
                .is_some_and(|e| e.starts_with("interrupted:"))
        })
        .filter_map(|r| r.finished_at.map(|end| (r.started_at, end, r.id)))
        .collect();
    runs.sort();
    for pair in runs.windows(2) {
        assert!(
            pair[1].0 >= pair[0].1,
            "{platform}: runs {:?} and {:?} overlap",
            pair[0],
            pair[1]
        );
    }
    runs.len()
}

/// How long the killed replica's stuck call lasts: longer than the lease TTL, so that only a
/// takeover (not the call ending) can let the survivor in.
const STUCK: Duration = Duration::from_secs(12);
/// The replicas' `lease_ttl_seconds`.
const TTL_S: u64 = 3;

/// Two daemons on one mirror and the same simulators: both cycle, every create is sent once, and
/// the mirror's runs of each platform never overlap. Then the replica holding juzi's lease in the
/// middle of a (delayed) cycle is killed with SIGKILL: the survivor takes juzi over within the
/// lease TTL and applies the next edit, once.
async fn two_replicas(mirror_url: Option<String>) {
    let juzi = sim::start(
        SimPlatform::Juzibot,
        SimOptions {
            fixture: Fixture {
                token: "daemon-juzibot".into(),
                ..Fixture::default()
            },
            faults: sim::FaultSpec {
                delay: STUCK,
                ..sim::FaultSpec::default()
            },
            ..SimOptions::default()
        },
    )
    .await
    .unwrap();
    let dustess = start_sim(SimPlatform::Dustess).await;
    let sims = [("juzi", &juzi), ("dustess", &dustess)];
    let dir = tempfile::tempdir().unwrap();
    let (port_a, port_b) = (free_port(), free_port());
    write_config(
        dir.path(),
        &[("juzi", "juzibot", &juzi), ("dustess", "dustess", &dustess)],
        &format!("127.0.0.1:{port_a}"),
        "* * * * * *",
    );
    let sqlite = format!("sqlite://{}/m.db?mode=rwc", dir.path().display());
    let url = mirror_url.unwrap_or_else(|| sqlite.clone());
    let config = std::fs::read_to_string(dir.path().join("tagsync.yaml"))
        .unwrap()
        .replace(&sqlite, &url)
        .replace(
            "platforms:\n",
            &format!("lease_ttl_seconds: {TTL_S}\nplatforms:\n"),
        );
    std::fs::write(dir.path().join("tagsync.yaml"), &config).unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    std::fs::write(
        dir_b.path().join("tagsync.yaml"),
        config.replace(&format!(":{port_a}"), &format!(":{port_b}")),
    )
    .unwrap();
    let a = spawn_daemon(dir.path(), port_a, &[]);
    let b = spawn_daemon(dir_b.path(), port_b, &[]);
    let store = tagsync::store::Store::open(&url).await.unwrap();

    for d in [&a, &b] {
        until(
            d,
            Duration::from_secs(30),
            "both replicas cycle",
            || async {
                let ok = futures_cycles(d, &sims).await;
                ok.iter().all(|n| *n >= 2.0).then_some(())
            },
        )
        .await;
    }
    quiesce(&b, &sims).await;
    let creates = |h: &SimHandle, name: &str| {
        h.writes()
            .iter()
            .filter(|c| {
                c.body
                    .as_ref()
                    .is_some_and(|b| b.to_string().contains(name))
            })
            .count()
    };
    for (p, h) in &sims {
        assert_eq!(creates(h, "普通客户"), 1, "{p}: {:#?}", h.writes());
        // Both replicas ticked it (above), and no two of its runs overlap.
        assert!(assert_runs_never_overlap(&store, p).await >= 2);
    }

    // The next juzi list hangs for STUCK: whichever replica's cycle meets it holds juzi's lease
    // for that long. Kill that replica in the middle of it.
    juzi.fail_next("/api/v1/tag/list", sim::FaultKind::Delay, 1);
    let (pids, mut daemons) = ([a.child.id(), b.child.id()], [Some(a), Some(b)]);
    let holder = until(
        daemons[1].as_ref().unwrap(),
        Duration::from_secs(10),
        "a replica stuck holding juzi's lease",
        || async {
            let (holder, _) = store.lease_holder("writer:juzi").await.unwrap()?;
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let (still, _) = store.lease_holder("writer:juzi").await.unwrap()?;
            // Leases of ordinary cycles last milliseconds; 1.5 s is the stuck one.
            (still == holder).then_some(holder)
        },
    )
    .await;
    // The stuck cycle outlives its lease's TTL and keeps the lease: it is renewed while held.
    tokio::time::sleep(Duration::from_secs(TTL_S)).await;
    let (still, expires) = store
        .lease_holder("writer:juzi")
        .await
        .unwrap()
        .expect("still held");
    assert_eq!(still, holder, "renewed, not taken over");
    assert!(
        expires > chrono::Utc::now(),
        "renewed: expires at {expires}"
    );
    let pid: u32 = holder.rsplit(':').nth(1).unwrap().parse().unwrap();
    let dead = pids
        .iter()
        .position(|p| *p == pid)
        .expect("a replica's pid");
    let mut victim = daemons[dead].take().unwrap();
    let survivor = daemons[1 - dead].take().unwrap();
    victim.child.kill().unwrap();
    let killed_at = chrono::Utc::now();
    victim.child.wait().unwrap();
    std::fs::write(
        dir.path().join("tags/a.yaml"),
        "groups:\n  - name: 客户级别\n    tags: [重要客户, 普通客户, 潜在客户]\n",
    )
    .unwrap();
    // Taken over within the TTL (plus a tick): by the lease's expiry, or at once when the dead
    // holder is known gone (same host). Never only when the stuck call ends (STUCK > TTL).
    let taken = until(
        &survivor,
        Duration::from_secs(TTL_S + 3),
        "the survivor runs juzi",
        || async {
            let runs = store.runs("juzi", 5).await.unwrap();
            runs.into_iter()
                .find(|r| r.started_at > killed_at && r.finished_at.is_some())
                .map(|r| r.started_at)
        },
    )
    .await;
    let after = (taken - killed_at).to_std().unwrap();
    assert!(
        after <= Duration::from_secs(TTL_S + 1),
        "taken over {after:?} after the kill"
    );
    let (holder, _) = store
        .lease_holder("writer:juzi")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        holder.is_empty() || !holder.contains(&format!(":{pid}:")),
        "{holder}"
    );
    until(
        &survivor,
        Duration::from_secs(20),
        "the survivor applies the edit",
        || async { sims.iter().all(|(_, h)| wrote(h, "潜在客户")).then_some(()) },
    )
    .await;
    quiesce(&survivor, &sims).await;
    for (p, h) in &sims {
        assert_eq!(creates(h, "潜在客户"), 1, "{p}: {:#?}", h.writes());
        assert_runs_never_overlap(&store, p).await;
    }
    let (code, body) = get(&format!("{}/readyz", survivor.base), None).await;
    assert_eq!(code, 200, "{body}\n{}", survivor.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_sqlite_mirror_send_each_create_once_and_survive_a_kill() {
    two_replicas(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_postgresql_send_each_create_once_and_survive_a_kill() {
    let Some((admin, schema, url)) = pg_schema("two_replicas").await else {
        return;
    };
    two_replicas(Some(url)).await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&admin)
        .await
        .unwrap();
}

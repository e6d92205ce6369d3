//! The mark workers inside `tagsync run`, as a real process: a mark enqueued by another system
//! with the README's plain `INSERT` while the daemon runs is delivered to the simulator and shows
//! in `/metrics`; a SIGHUP that adds a platform starts its worker, one that removes a platform
//! stops its worker (its requests stay queued). SQLite, and PostgreSQL when configured.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use tagsync::sim::{FaultSpec, SimHandle};

use super::marks::{Db, JUZIBOT, Kind, STAFF, WECOM, platform_config, requests, write_config};
use super::scenario::{SECRET, SECRET_VAR};

/// The daemon process; killed if the test ends early.
struct Daemon {
    child: Child,
    log: std::path::PathBuf,
    base: String,
}

impl Daemon {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// One sample of `/metrics` (`None` until it answers).
    async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let body = reqwest::get(format!("{}/metrics", self.base))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        let lines = body.lines().map(|l| Ok(l.to_owned()));
        let scrape = prometheus_parse::Scrape::parse(lines).ok()?;
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .and_then(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => Some(v),
                _ => None,
            })
    }

    /// Polls `check` every 50 ms until it is true, for at most `limit`.
    async fn until<F, Fut>(&self, limit: Duration, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let start = Instant::now();
        while !check().await {
            assert!(
                start.elapsed() < limit,
                "{what}: not within {limit:?}. Daemon log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Until `platform`'s first cycle succeeded (its tags are bound, so marks resolve).
    async fn cycled(&self, platform: &str) {
        self.until(Duration::from_secs(60), "a cycle", || async {
            self.metric(
                "tagsync_cycles_total",
                &[("platform", platform), ("outcome", "ok")],
            )
            .await
            .unwrap_or(0.0)
                >= 1.0
        })
        .await;
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(dir: &Path, db: &Db, port: u16, platforms: &[(Kind, &SimHandle)]) {
    let lines: Vec<String> = platforms
        .iter()
        .map(|(k, sim)| platform_config(*k, &sim.base_url()))
        .collect();
    let path = write_config(dir, &db.url, &lines);
    // Hourly cycles: the first cycle of each platform runs at start (or at the SIGHUP that adds it).
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "\nplatforms:",
        &format!("\nschedule: \"0 0 * * * *\"\nlisten: 127.0.0.1:{port}\nplatforms:"),
        1,
    );
    std::fs::write(path, text).unwrap();
}

fn insert(platform: &str, contact: &str, add: &str) -> String {
    format!(
        "INSERT INTO mark_requests (platform, contact, user_id, add_tags, remove_tags)\nVALUES ('{platform}', '{contact}', '{STAFF}', '[\"{add}\"]', '[]');"
    )
}

fn holds(k: Kind, sim: &SimHandle, contact: &str, name: &str) -> bool {
    k.held(sim, contact)
        .unwrap_or_default()
        .contains(&k.id(name))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_delivers_marks_enqueued_with_sql_and_follows_sighup() {
    for db in Db::all("marks_daemon").await {
        let backend = db.backend();
        let juzi = JUZIBOT.start(3, FaultSpec::default()).await;
        let wecom = WECOM.start(3, FaultSpec::default()).await;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = db.dir.path().to_owned();
        config(&dir, &db, port, &[(JUZIBOT, &juzi)]);
        let log = dir.join("daemon.log");
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("tagsync"));
        cmd.arg("--config").arg(dir.join("tagsync.yaml")).arg("run");
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("TAGSYNC_")) {
            cmd.env_remove(k);
        }
        cmd.env("TAGSYNC_LOG", "info")
            .env("NO_COLOR", "1")
            .env(SECRET_VAR, SECRET)
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let d = Daemon {
            child: cmd.spawn().unwrap(),
            log,
            base: format!("http://127.0.0.1:{port}"),
        };
        d.cycled("juzi").await;

        // Another system enqueues with plain SQL while the daemon runs.
        db.execute(&insert("juzi", "c0", "客户级别/重要客户")).await;
        d.until(Duration::from_secs(30), "delivered to juzi", || async {
            holds(JUZIBOT, &juzi, "c0", "客户级别/重要客户")
        })
        .await;
        assert!(
            holds(JUZIBOT, &juzi, "c0", "others"),
            "{backend}: the tag someone else put on c0 survives"
        );
        d.until(Duration::from_secs(30), "/metrics shows it", || async {
            let ok = [("platform", "juzi"), ("outcome", "succeeded")];
            d.metric("tagsync_marks_total", &ok).await == Some(1.0)
                && d.metric("tagsync_mark_queue_depth", &[("platform", "juzi")])
                    .await
                    == Some(0.0)
                && d.metric("tagsync_mark_dead", &[("platform", "juzi")]).await == Some(0.0)
        })
        .await;

        // SIGHUP: wecom added (its worker starts), juzi removed (its worker stops).
        config(&dir, &db, port, &[(WECOM, &wecom)]);
        d.signal("HUP");
        d.cycled("wecom").await;
        d.until(Duration::from_secs(30), "juzi's worker stopped", || async {
            d.log().contains("Mark worker stopped.")
        })
        .await;
        let juzi_calls = JUZIBOT.mark_calls(&juzi);
        db.execute(&insert("juzi", "c1", "客户级别/重要客户")).await;
        db.execute(&insert("wecom", "c1", "客户来源/官网咨询"))
            .await;
        d.until(Duration::from_secs(30), "delivered to wecom", || async {
            holds(WECOM, &wecom, "c1", "客户来源/官网咨询")
        })
        .await;
        d.until(
            Duration::from_secs(30),
            "/metrics shows wecom's",
            || async {
                let ok = [("platform", "wecom"), ("outcome", "succeeded")];
                d.metric("tagsync_marks_total", &ok).await == Some(1.0)
            },
        )
        .await;
        // The removed platform's request waits for a worker; nothing went to juzi.
        let rows = requests(&db.url).await;
        let statuses: Vec<(&str, &str)> =
            rows.iter().map(|r| (r.1.as_str(), r.2.as_str())).collect();
        assert_eq!(
            statuses,
            [("c0", "succeeded"), ("c1", "queued"), ("c1", "succeeded")],
            "{backend}"
        );
        assert_eq!(JUZIBOT.mark_calls(&juzi), juzi_calls, "{backend}");
        let log = d.log();
        assert!(
            log.contains("Mark worker started.") && log.contains("platform=wecom"),
            "{backend}: {log}"
        );
        drop(d);
        db.finish().await;
    }
}

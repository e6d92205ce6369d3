//! Helpers shared by several test modules.

use std::sync::{Arc, Mutex};

/// Captures every TRACE-level event and span of the current thread while it lives.
pub struct LogCapture {
    buf: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
    _second: tracing::Dispatch,
}

#[derive(Clone)]
struct Writer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Writer {
    type Writer = Writer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl LogCapture {
    /// Starts capturing on this thread (use a current-thread runtime).
    pub fn start() -> Self {
        // tracing-core caches whether a callsite is enabled when it is first hit. While only one
        // dispatcher is registered it asks the hitting thread's own default, so a callsite first hit
        // by another test's thread would stay disabled here. A second registered dispatcher (never
        // anyone's default) makes it ask every live dispatcher; the rebuild drops stale answers.
        let second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
        let buf = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(Writer(buf.clone()))
            .with_ansi(false)
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        tracing::callsite::rebuild_interest_cache();
        Self {
            buf,
            _guard: guard,
            _second: second,
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().unwrap()).into_owned()
    }
}

/// A platform's settings for tests: enforce mode, a rate limit far above what the simulators
/// answer (so the kind's default rate does not slow tests) with the kind's default concurrency
/// (apply pipelines as it does for users), a 400 ms request timeout (the simulators answer in
/// microseconds; timeouts must trip fast). Override fields with `..`.
pub fn settings(
    name: &str,
    config: tagsync::settings::KindSettings,
    base_url: &str,
) -> tagsync::settings::PlatformSettings {
    tagsync::settings::PlatformSettings {
        name: name.into(),
        kind: config.kind(),
        base_url: base_url.parse().expect("a simulator URL"),
        mode: tagsync::settings::Mode::Enforce,
        rate_limit: Some(UNTHROTTLED),
        schedule: None,
        // Tests hand the secret to `platforms::connect` directly.
        secret: tagsync::settings::SecretSource::Env("UNUSED".into()),
        config,
        timeout: std::time::Duration::from_millis(400),
    }
}

/// A rate limit the simulators never reach, with the kind's default concurrency.
pub const UNTHROTTLED: tagsync::settings::RateLimit = tagsync::settings::RateLimit {
    per_second: 100_000,
    burst: 1_000,
    concurrency: None,
};

/// A fresh SQLite mirror in `dir` with `platform` (of `kind`) recorded, as apply expects.
pub async fn mirror(dir: &std::path::Path, platform: &str, kind: &str) -> tagsync::store::Store {
    let url = format!("sqlite://{}?mode=rwc", dir.join("m.db").display());
    let store = tagsync::store::Store::open(&url)
        .await
        .expect("the mirror opens");
    store
        .upsert_platform(platform, kind, "enforce", chrono::Utc::now())
        .await
        .expect("platform recorded");
    store
}

/// How a test runs one cycle through the engine.
pub struct Cycle {
    pub dry_run: bool,
    pub max_rounds: usize,
    pub max_deletes: usize,
    pub lease_wait: std::time::Duration,
}

/// One cycle of the platform `name` through the engine, as `tagsync plan` (dry run) or
/// `tagsync apply` would run it.
pub async fn cycle(
    store: &tagsync::store::Store,
    name: &str,
    client: Arc<dyn tagsync::platforms::Platform>,
    desired: &tagsync::model::Desired,
    c: Cycle,
) -> Result<tagsync::engine::CycleReport, tagsync::engine::Error> {
    use tagsync::engine::{CycleRequest, Engine, Policy, RunMode, Target, Trigger};
    let engine = Engine::with(
        store.clone(),
        tagsync::clock::system(),
        Policy {
            max_rounds: c.max_rounds,
            lease_wait: c.lease_wait,
            ..Policy::default()
        },
    );
    let (trigger, mode) = if c.dry_run {
        (Trigger::Plan, RunMode::DryRun)
    } else {
        (Trigger::Apply, RunMode::Enforce)
    };
    let request = CycleRequest {
        trigger,
        mode,
        max_deletes: c.max_deletes,
    };
    engine
        .cycle(&Target::new(name, client), desired, &request)
        .await
}

/// The test database's URL (`TAGSYNC_TEST_DATABASE_URL`), or `None` after saying on stderr that
/// `what` skips its PostgreSQL run. Under CI the variable must be set: PostgreSQL tests never
/// skip there.
pub fn postgres_url(what: &str) -> Option<String> {
    const PG_VAR: &str = "TAGSYNC_TEST_DATABASE_URL";
    match std::env::var(PG_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI is set but {PG_VAR} is not: source .ci/postgres.sh before the tests")
        }
        _ => {
            eprintln!("skipping the PostgreSQL run of {what}: {PG_VAR} is not set");
            None
        }
    }
}

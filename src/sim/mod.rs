//! The platform simulators: real HTTP servers (axum on tokio) on a loopback port that follow the
//! seed documents, so that tests, `tagsync sim` and `tagsync demo` run against something that
//! behaves like the platform, quirks and failures included.
//!
//! # Shape
//! - This module and its helpers are platform-independent: [`start`] a [`SimPlatform`] with
//!   [`SimOptions`] (listen address, [`Fixture`], [`FaultSpec`], [`Clock`]) and get a [`SimHandle`]
//!   (base URL, state, call log, scripted faults, shutdown). [`run_cli`] is `tagsync sim`.
//! - A platform module (`juzibot`) holds only its state machine, its wire types (declared from its
//!   seed document, never shared with the client) and its handlers, and plugs into the framework
//!   through the crate-private `server::Platform` trait.
//! - Every request passes one layer that applies the rate limit, injects faults
//!   ([`FaultKind`]) and records a [`CallRecord`] with secrets removed.
//!
//! # Invariants
//! - Simulators know nothing of `platforms/`, the planner or the store: a client and its simulator
//!   are each written from the seed document, so a misread field fails a test.
//! - Determinism: new ids come from counters, timestamps from the injected [`Clock`], faults from a
//!   seeded generator drawn the same way for every call.
//! - Faults never change state, except a lost response, which applies the write and then resets
//!   the connection.

mod calls;
mod clock;
pub mod crm;
pub mod dustess;
mod faults;
mod fixture;
pub mod juzibot;
mod server;
pub mod wecom;
pub mod yzj;

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use thiserror::Error;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use calls::{CallRecord, REDACTED};
pub use clock::{Clock, ManualClock, SystemClock};
pub use faults::{FaultKind, FaultSpec, FaultSpecError};
pub use fixture::{
    DEFAULT_TOKEN, DuplicateAdd, Fixture, FixtureCustomer, FixtureGroup, FixtureTag, Numbers,
    Readings, SeedFile, TagsKey, TraceId,
};

use server::{Core, lock};

/// The platforms that have a simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SimPlatform {
    /// Juzibot 句子互动 hub, seed 001.
    Juzibot,
    /// Dustess 尘锋 friend tags, seed 003.
    Dustess,
    /// 个微 WeChat CRM, seed 004 (read only).
    WechatCrm,
    /// Miaokol 云真机 smart tags, seed 000.
    Yzj,
    /// WeCom 企业微信 strategy and corp tags, seed 002.
    Wecom,
}

impl SimPlatform {
    /// Every simulated platform, in the order `tagsync sim` serves them.
    pub const ALL: [SimPlatform; 5] = [
        SimPlatform::Wecom,
        SimPlatform::Juzibot,
        SimPlatform::Yzj,
        SimPlatform::Dustess,
        SimPlatform::WechatCrm,
    ];

    /// The name used on the command line, in seed files and in `tagsync sim`'s output.
    pub fn name(self) -> &'static str {
        match self {
            SimPlatform::Juzibot => "juzibot",
            SimPlatform::Dustess => "dustess",
            SimPlatform::WechatCrm => "wechat_crm",
            SimPlatform::Yzj => "yzj",
            SimPlatform::Wecom => "wecom",
        }
    }
}

impl SimPlatform {
    /// What a client must present besides the secret to the simulator started with `fixture`,
    /// as configuration keys: WeCom's `corp_id` (and the strategy its fixture's groups are in),
    /// Miaokol's `app_id`.
    pub fn account(self, fixture: &Fixture) -> Vec<(&'static str, String)> {
        match self {
            SimPlatform::Wecom => {
                let corp = fixture
                    .corp_id
                    .clone()
                    .unwrap_or_else(|| wecom::DEFAULT_CORP_ID.to_owned());
                let mut out = vec![("corp_id", corp)];
                if let Some(s) = fixture.groups.iter().find_map(|g| g.strategy_id) {
                    out.push(("strategy_id", s.to_string()));
                }
                out
            }
            SimPlatform::Yzj => vec![(
                "app_id",
                fixture
                    .app_id
                    .clone()
                    .unwrap_or_else(|| yzj::DEFAULT_APP_ID.to_owned()),
            )],
            SimPlatform::Juzibot | SimPlatform::Dustess | SimPlatform::WechatCrm => Vec::new(),
        }
    }
}

impl fmt::Display for SimPlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SimPlatform {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SimPlatform::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = SimPlatform::ALL.iter().map(|p| p.name()).collect();
                format!("unknown platform `{s}` (known: {})", known.join(", "))
            })
    }
}

/// How to start a simulator. `SimOptions::default()` is an empty account accepting
/// [`DEFAULT_TOKEN`], on `127.0.0.1:0`, without faults, on the real clock.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Where to listen; `None` is an ephemeral loopback port.
    pub listen: Option<SocketAddr>,
    /// The starting state.
    pub fixture: Fixture,
    /// Random faults and the rate limit.
    pub faults: FaultSpec,
    /// Stamps new objects.
    pub clock: Arc<dyn Clock>,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            listen: None,
            fixture: Fixture::default(),
            faults: FaultSpec::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

/// What can go wrong when starting or running a simulator.
#[derive(Debug, Error)]
pub enum SimError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    /// The seed file could not be read.
    #[error("cannot read the seed file {}", path.display())]
    ReadSeed {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The seed file or fixture text does not parse.
    #[error("invalid seed ({origin}): {message}")]
    Seed { origin: String, message: String },
    /// The fixture parses but breaks a rule of the platform (duplicate id, name too long, …).
    #[error("invalid {platform} fixture: {message}")]
    Fixture {
        platform: SimPlatform,
        message: String,
    },
    /// The `--faults` spec does not parse.
    #[error(transparent)]
    FaultSpec(#[from] FaultSpecError),
    /// The server stopped with an I/O error.
    #[error("the {platform} simulator stopped with an error")]
    Serve {
        platform: SimPlatform,
        #[source]
        source: io::Error,
    },
    /// Ctrl-C could not be awaited.
    #[error("cannot wait for Ctrl-C")]
    Signal(#[source] io::Error),
    /// The base URLs could not be printed.
    #[error("cannot write to standard output")]
    Output(#[source] io::Error),
    /// `tagsync sim --write-config`: the configuration or a secret beside it.
    #[error("cannot write {}", path.display())]
    WriteConfig {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Starts `platform`'s simulator and returns once it accepts connections.
///
/// # Errors
/// [`SimError::Fixture`] when the fixture breaks a rule of the platform, [`SimError::Bind`] when
/// the address cannot be bound.
pub async fn start(platform: SimPlatform, opts: SimOptions) -> Result<SimHandle, SimError> {
    match platform {
        SimPlatform::Juzibot => server::start::<juzibot::Juzibot>(opts).await,
        SimPlatform::Dustess => server::start::<dustess::Dustess>(opts).await,
        SimPlatform::WechatCrm => server::start::<crm::Crm>(opts).await,
        SimPlatform::Yzj => server::start::<yzj::Yzj>(opts).await,
        SimPlatform::Wecom => server::start::<wecom::Wecom>(opts).await,
    }
}

/// Starts every simulator in [`SimPlatform::ALL`], each with its fixture from `seed` (or an empty
/// one) and the same fault spec. With `listen`, the i-th platform gets its port + i (port 0 stays
/// ephemeral for all).
///
/// # Errors
/// As [`start`]; simulators already started are stopped when their handles drop.
pub async fn start_all(
    listen: Option<SocketAddr>,
    seed: &SeedFile,
    faults: &FaultSpec,
) -> Result<Vec<SimHandle>, SimError> {
    let mut handles = Vec::new();
    for (i, platform) in SimPlatform::ALL.into_iter().enumerate() {
        let listen = listen.map(|mut addr| {
            if addr.port() != 0 {
                addr.set_port(addr.port().saturating_add(i as u16));
            }
            addr
        });
        let opts = SimOptions {
            listen,
            fixture: seed.fixture(platform).cloned().unwrap_or_default(),
            faults: faults.clone(),
            ..SimOptions::default()
        };
        handles.push(start(platform, opts).await?);
    }
    Ok(handles)
}

/// `tagsync sim [--listen ADDR] [--seed FILE] [--faults SPEC]`: validates the arguments, serves
/// every simulator, prints one line per platform with what it accepts
/// (`yzj http://127.0.0.1:PORT secret=sim-token app_id=sim-app-id`) to standard output, calls
/// `on_ready` (where `--write-config` writes its file), and stops cleanly on Ctrl-C.
///
/// # Errors
/// A bad spec or seed file before anything is bound; then as [`start_all`] and
/// [`SimHandle::shutdown`].
pub async fn run_cli(
    listen: Option<SocketAddr>,
    seed_file: Option<PathBuf>,
    faults: Option<String>,
    on_ready: impl FnOnce(&[SimHandle], &SeedFile) -> Result<(), SimError>,
) -> Result<(), SimError> {
    let faults: FaultSpec = faults.as_deref().unwrap_or("none").parse()?;
    let seed = match seed_file {
        Some(path) => SeedFile::load(&path)?,
        None => SeedFile::default(),
    };
    let handles = start_all(listen, &seed, &faults).await?;
    {
        let mut out = io::stdout().lock();
        for h in &handles {
            let fixture = seed.fixture(h.platform()).cloned().unwrap_or_default();
            write!(
                out,
                "{} {} secret={}",
                h.platform(),
                h.base_url(),
                h.token()
            )
            .map_err(SimError::Output)?;
            for (key, value) in h.platform().account(&fixture) {
                write!(out, " {key}={value}").map_err(SimError::Output)?;
            }
            writeln!(out).map_err(SimError::Output)?;
        }
        out.flush().map_err(SimError::Output)?;
    }
    on_ready(&handles, &seed)?;
    tokio::signal::ctrl_c().await.map_err(SimError::Signal)?;
    for h in handles {
        h.shutdown().await?;
    }
    Ok(())
}

/// A running simulator. Dropping it stops the server (in the background); [`SimHandle::shutdown`]
/// stops it and waits.
pub struct SimHandle {
    platform: SimPlatform,
    addr: SocketAddr,
    token: String,
    core: Arc<Core>,
    /// An `Arc<Mutex<P::State>>`, typed again by [`SimHandle::with_state`].
    state: Arc<dyn Any + Send + Sync>,
    /// Runs a function on the state's view (`server::Platform::view`), under its lock.
    view: server::ViewFn,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token stays out of `Debug`.
        f.debug_struct("SimHandle")
            .field("platform", &self.platform)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl SimHandle {
    /// Which platform this simulates.
    pub fn platform(&self) -> SimPlatform {
        self.platform
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash; clients append the platform's paths
    /// (for Juzibot `/api/v1/...`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The token the simulator accepts (from the fixture).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Runs `f` on the platform's state (e.g. [`juzibot::Account`]) under its lock. `None` when `S`
    /// is not this simulator's state type.
    ///
    /// The WeCom simulator's state is [`wecom::Corps`], every corp it serves; `S` = [`wecom::Corp`]
    /// is its fixture's corp.
    pub fn with_state<S: Send + 'static, R>(&self, f: impl FnOnce(&mut S) -> R) -> Option<R> {
        if let Some(state) = self.state.downcast_ref::<Mutex<S>>() {
            return Some(f(&mut lock(state)));
        }
        let mut f = Some(f);
        let mut out = None;
        (self.view)(&*self.state, &mut |view| {
            if let (Some(view), Some(f)) = (view.downcast_mut::<S>(), f.take()) {
                out = Some(f(view));
            }
        });
        out
    }

    /// Every call so far, in arrival order.
    pub fn calls(&self) -> Vec<CallRecord> {
        let mut calls = lock(&self.core.log).clone();
        calls.sort_by_key(|c| c.seq);
        calls
    }

    /// How many calls were made to `path` (e.g. `/api/v1/tag/list`).
    pub fn count(&self, path: &str) -> usize {
        lock(&self.core.log)
            .iter()
            .filter(|c| c.path == path)
            .count()
    }

    /// The calls that were writes, in arrival order.
    pub fn writes(&self) -> Vec<CallRecord> {
        self.calls().into_iter().filter(|c| c.write).collect()
    }

    /// Forgets the calls so far (e.g. after a test's setup).
    pub fn clear_log(&self) {
        lock(&self.core.log).clear();
    }

    /// Gives the next `times` calls to `path` the fault `kind`, ahead of random faults and whatever
    /// the spec says. `path` `"*"` matches every path. A scripted [`FaultKind::Lost`] skips reads
    /// and waits for a write.
    pub fn fail_next(&self, path: &str, kind: FaultKind, times: usize) {
        let path = (path != "*").then(|| path.to_owned());
        lock(&self.core.faults).script(path, kind, times);
    }

    /// The fault spec in force.
    pub fn fault_spec(&self) -> FaultSpec {
        lock(&self.core.faults).spec().clone()
    }

    /// Stops accepting connections, lets calls in flight finish (a hanging [`FaultKind::Timeout`]
    /// ends at once), and waits up to 5 s for the server to stop.
    ///
    /// # Errors
    /// [`SimError::Serve`] when the server had failed.
    pub async fn shutdown(mut self) -> Result<(), SimError> {
        let _ = self.stop.send(true);
        let Some(mut task) = self.task.take() else {
            return Ok(());
        };
        let result = match tokio::time::timeout(Duration::from_secs(5), &mut task).await {
            // A panicked server task is an error too.
            Ok(joined) => joined.unwrap_or_else(|e| Err(io::Error::other(e))),
            Err(_) => {
                task.abort();
                Ok(())
            }
        };
        result.map_err(|source| SimError::Serve {
            platform: self.platform,
            source,
        })
    }

    /// Serves until `signal` completes, then shuts down as [`SimHandle::shutdown`].
    ///
    /// # Errors
    /// As [`SimHandle::shutdown`].
    pub async fn stop_on(self, signal: impl Future<Output = ()>) -> Result<(), SimError> {
        signal.await;
        self.shutdown().await
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

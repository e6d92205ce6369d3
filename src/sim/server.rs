//! The platform-independent server: binds the listener, wraps a platform's router in the layer that
//! logs calls and injects faults, and serves it until shutdown.
//!
//! A platform plugs in through [`Platform`]; nothing here knows any platform's wire format beyond
//! the hooks it gives (secret keys, which calls are writes, where the errcode is, how it refuses).

use std::any::Any;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{Query, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::serve::{IncomingStream, Listener};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::{Instant, sleep};

use super::calls::{CallRecord, redact_body, redact_query};
use super::faults::{Decision, FaultKind, Faults};
use super::{Clock, Fixture, SimError, SimHandle, SimOptions, SimPlatform};

/// The largest request or response body a simulator reads.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// How a platform refuses a call without applying it, in its own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The platform's "busy, try later" answer ([`FaultKind::Busy`]).
    Busy,
    /// The platform's frequency error (the rate limit was exceeded).
    RateLimited,
}

/// What a platform module gives the framework: its state machine, its routes and a few hooks.
pub(crate) trait Platform {
    /// The account's state, shared by the handlers and readable through [`SimHandle::with_state`].
    type State: Send + 'static;
    const PLATFORM: SimPlatform;
    /// Query and body keys whose values are secrets, removed from the call log.
    const SECRET_KEYS: &'static [&'static str];
    /// The envelope's success code, as [`Platform::errcode`] reads it (most platforms: 0).
    const SUCCESS_CODE: i64 = 0;

    /// Builds the state from a fixture that passed [`Fixture::check_common`].
    fn build(fixture: &Fixture, clock: Arc<dyn Clock>) -> Result<Self::State, SimError>;
    /// The platform's routes, with full paths. The framework adds the fallback and its layer.
    fn router(state: Arc<Mutex<Self::State>>) -> Router;
    /// Whether a call changes state (only writes can have lost responses).
    fn is_write(method: &Method, path: &str) -> bool;
    /// The errcode of a JSON answer, if it has an envelope: its `errcode` field unless the
    /// platform's envelope says otherwise.
    fn errcode(body: &Value) -> Option<i64> {
        body.get("errcode").and_then(Value::as_i64)
    }
    /// The answer for a refused call.
    fn refusal(kind: Refusal) -> Response;
    /// What `SimHandle::with_state` offers besides the whole state: by default the state
    /// itself; a simulator of many accounts gives its primary one.
    fn view(state: &mut Self::State) -> &mut dyn Any {
        state
    }
    /// Which of the simulator's accounts a call is for, when each has its own rate limit;
    /// `None` (the default) is the simulator's one limit.
    fn tenant(_state: &Self::State, _path: &str, _query: &[(String, String)]) -> Option<String> {
        None
    }
}

/// Locks a mutex, ignoring poisoning: a panicking handler must not take the simulator down.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `Platform::tenant` over a simulator's state: (path, query) → the account's rate-limit key.
type TenantOf = Box<dyn Fn(&str, &[(String, String)]) -> Option<String> + Send + Sync>;

/// Runs a function on `Platform::view` of a type-erased state, under its lock.
pub(crate) type ViewFn = fn(&(dyn Any + Send + Sync), &mut dyn FnMut(&mut dyn Any));

/// Everything the layer needs, shared with the [`SimHandle`].
pub(crate) struct Core {
    pub(crate) platform: SimPlatform,
    secret_keys: &'static [&'static str],
    is_write: fn(&Method, &str) -> bool,
    errcode: fn(&Value) -> Option<i64>,
    success_code: i64,
    refusal: fn(Refusal) -> Response,
    /// `Platform::tenant` over the simulator's state.
    tenant: TenantOf,
    pub(crate) faults: Mutex<Faults>,
    pub(crate) log: Mutex<Vec<CallRecord>>,
    stop: watch::Receiver<bool>,
}

/// Starts `P`'s simulator; see [`super::start`].
pub(crate) async fn start<P: Platform>(opts: SimOptions) -> Result<SimHandle, SimError> {
    opts.fixture.check_common(P::PLATFORM)?;
    let state = Arc::new(Mutex::new(P::build(&opts.fixture, opts.clock.clone())?));
    let addr = opts
        .listen
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let bind = |source| SimError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(bind)?;
    let local = listener.local_addr().map_err(bind)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let core = Arc::new(Core {
        platform: P::PLATFORM,
        secret_keys: P::SECRET_KEYS,
        is_write: P::is_write,
        errcode: P::errcode,
        success_code: P::SUCCESS_CODE,
        refusal: P::refusal,
        tenant: {
            let state = state.clone();
            Box::new(move |path: &str, query: &[(String, String)]| {
                P::tenant(&lock(&state), path, query)
            })
        },
        faults: Mutex::new(Faults::new(opts.faults)),
        log: Mutex::new(Vec::new()),
        stop: stop_rx.clone(),
    });
    let app = P::router(state.clone())
        .fallback(|| async { (StatusCode::NOT_FOUND, "no such endpoint") })
        .layer(middleware::from_fn_with_state(core.clone(), intercept));
    let mut stop = stop_rx;
    let server = axum::serve(
        ResettableListener(listener),
        app.into_make_service_with_connect_info::<ResetSwitch>(),
    )
    .with_graceful_shutdown(async move {
        // A dropped handle closes the channel, which also means "stop".
        let _ = stop.wait_for(|stopping| *stopping).await;
    });
    let task = tokio::spawn(async move { server.await });
    tracing::debug!(message = "Simulator started.", platform = %P::PLATFORM, addr = %local);
    Ok(SimHandle {
        platform: P::PLATFORM,
        addr: local,
        token: opts.fixture.token.clone(),
        core,
        state: state as Arc<dyn Any + Send + Sync>,
        view: view::<P>,
        stop: stop_tx,
        task: Some(task),
    })
}

/// Runs `f` on `P::view` of the state (see `SimHandle::with_state`).
fn view<P: Platform>(state: &(dyn Any + Send + Sync), f: &mut dyn FnMut(&mut dyn Any)) {
    if let Some(state) = state.downcast_ref::<Mutex<P::State>>() {
        f(P::view(&mut lock(state)));
    }
}

/// The layer around every route: rate limit, faults, and the call log.
async fn intercept(State(core): State<Arc<Core>>, req: Request, next: Next) -> Response {
    let switch = req
        .extensions()
        .get::<ConnectInfo<ResetSwitch>>()
        .map(|c| c.0.clone());
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    };
    let path = parts.uri.path().to_owned();
    let write = (core.is_write)(&parts.method, &path);
    let query = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let tenant = (core.tenant)(&path, &query);
    let Decision {
        seq,
        rate_limited,
        fault,
    } = lock(&core.faults).decide(&path, write, tenant.as_deref(), Instant::now());
    let mut log = LogOnDrop {
        core: core.clone(),
        record: Some(CallRecord {
            seq,
            method: parts.method.to_string(),
            path,
            query: redact_query(query, core.secret_keys),
            body: redact_body(&bytes, core.secret_keys),
            write,
            status: None,
            errcode: None,
            fault,
            rate_limited,
            applied: false,
        }),
    };
    let reset = || {
        if let Some(switch) = &switch {
            switch.trip();
        }
        // Never sent: the tripped switch makes the connection fail before the first byte.
        StatusCode::GATEWAY_TIMEOUT.into_response()
    };

    let early = if rate_limited {
        Some((core.refusal)(Refusal::RateLimited))
    } else {
        match fault {
            Some(FaultKind::Http500) => {
                Some((StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response())
            }
            Some(FaultKind::Http429) => {
                Some((StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response())
            }
            Some(FaultKind::Busy) => Some((core.refusal)(Refusal::Busy)),
            Some(FaultKind::Reset) => return reset(),
            Some(FaultKind::Timeout) => {
                // Log now, so that a test sees the call while the client is still waiting.
                drop(log);
                let hang = lock(&core.faults).spec().hang;
                core.pause(hang).await;
                return reset();
            }
            Some(FaultKind::Delay) => {
                let delay = lock(&core.faults).spec().delay;
                core.pause(delay).await;
                None
            }
            Some(FaultKind::Lost) | None => None,
        }
    };
    let reached = early.is_none();
    let response = match early {
        Some(response) => response,
        None => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
    };
    let (head, body) = response.into_parts();
    let body = to_bytes(body, MAX_BODY).await.unwrap_or_default();
    let record = log.record.as_mut().expect("logged only on drop");
    record.errcode = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| (core.errcode)(&v));
    record.applied = reached
        && head.status.is_success()
        && record.errcode.is_none_or(|c| c == core.success_code);
    if fault == Some(FaultKind::Lost) && !rate_limited {
        return reset();
    }
    record.status = Some(head.status.as_u16());
    Response::from_parts(head, Body::from(body))
}

/// Logs its call when dropped: at the end of [`intercept`], and also when hyper drops the call
/// half-way because the client went away, so that no call is missing from the log.
struct LogOnDrop {
    core: Arc<Core>,
    record: Option<CallRecord>,
}

impl Drop for LogOnDrop {
    fn drop(&mut self) {
        if let Some(record) = self.record.take() {
            self.core.finish(record);
        }
    }
}

impl Core {
    fn finish(&self, record: CallRecord) {
        tracing::debug!(
            message = "Simulated call.",
            platform = %self.platform,
            method = %record.method,
            path = %record.path,
            status = ?record.status,
            errcode = ?record.errcode,
            fault = ?record.fault,
            rate_limited = record.rate_limited,
        );
        lock(&self.log).push(record);
    }

    /// Sleeps for `d`, or until the simulator stops.
    async fn pause(&self, d: std::time::Duration) {
        let mut stop = self.stop.clone();
        tokio::select! {
            () = sleep(d) => {}
            _ = stop.wait_for(|stopping| *stopping) => {}
        }
    }
}

/// A TCP listener whose connections a handler can reset (for [`FaultKind::Reset`] and
/// [`FaultKind::Lost`]): axum offers no way to drop a connection without answering, so each
/// connection carries a [`ResetSwitch`] that the handler finds in its request's connect info.
struct ResettableListener(TcpListener);

impl Listener for ResettableListener {
    type Io = ResettableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = Listener::accept(&mut self.0).await;
        let stream = ResettableStream {
            inner: stream,
            switch: ResetSwitch(Arc::new(AtomicBool::new(false))),
        };
        (stream, addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// Once tripped, the connection fails every read and write, and closes with a TCP RST.
#[derive(Debug, Clone)]
struct ResetSwitch(Arc<AtomicBool>);

impl ResetSwitch {
    fn trip(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn tripped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl Connected<IncomingStream<'_, ResettableListener>> for ResetSwitch {
    fn connect_info(stream: IncomingStream<'_, ResettableListener>) -> Self {
        stream.io().switch.clone()
    }
}

struct ResettableStream {
    inner: TcpStream,
    switch: ResetSwitch,
}

impl ResettableStream {
    fn check(&self) -> io::Result<()> {
        if self.switch.tripped() {
            // An abortive close: the peer sees "connection reset", not a clean end of stream.
            let _ = self.inner.set_zero_linger();
            return Err(io::ErrorKind::ConnectionReset.into());
        }
        Ok(())
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// An `order` as a request sends it: absent or `null` is `None`; otherwise an integer in
/// `[0, 2^32)` (every seed with an order states that range), else the message each simulator
/// wraps in its own error code.
pub(crate) fn order_in_range(v: Option<&serde_json::Value>) -> Result<Option<u32>, String> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| format!("order {v} is outside [0, 2^32)")),
    }
}

/// A simulator's group with its tags: the state accessors every simulator offers its tests
/// (`group`, `tag`, `tag_count`, …) are written once, over this.
pub(crate) trait TreeGroup {
    /// `str` where ids are strings, `u64` on Miaokol.
    type Id: PartialEq + ?Sized;
    type Tag;
    fn id(&self) -> &Self::Id;
    fn name(&self) -> &str;
    fn tags(&self) -> &[Self::Tag];
    fn tag_id(tag: &Self::Tag) -> &Self::Id;
}

/// `impl TreeGroup for $group` where both structs have `id`, `name` and (the group) `tags` fields.
macro_rules! tree_group {
    ($group:ty, $tag:ty, $id:ty) => {
        impl $crate::sim::server::TreeGroup for $group {
            type Id = $id;
            type Tag = $tag;
            fn id(&self) -> &$id {
                &self.id
            }
            fn name(&self) -> &str {
                &self.name
            }
            fn tags(&self) -> &[$tag] {
                &self.tags
            }
            fn tag_id(tag: &$tag) -> &$id {
                &tag.id
            }
        }
    };
}
pub(crate) use tree_group;

/// The group `id`.
pub(crate) fn find_group<'a, G: TreeGroup>(groups: &'a [G], id: &G::Id) -> Option<&'a G> {
    groups.iter().find(|g| g.id() == id)
}

/// The first group named `name` that `live` accepts.
pub(crate) fn find_group_named<'a, G: TreeGroup>(
    groups: &'a [G],
    name: &str,
    live: impl Fn(&G) -> bool,
) -> Option<&'a G> {
    groups.iter().find(|g| live(g) && g.name() == name)
}

/// The tag `id` and its group.
pub(crate) fn find_tag<'a, G: TreeGroup>(
    groups: &'a [G],
    id: &G::Id,
) -> Option<(&'a G, &'a G::Tag)> {
    groups
        .iter()
        .find_map(|g| g.tags().iter().find(|t| G::tag_id(t) == id).map(|t| (g, t)))
}

/// How many tags the groups hold.
pub(crate) fn count_tags<G: TreeGroup>(groups: &[G]) -> usize {
    groups.iter().map(|g| g.tags().len()).sum()
}

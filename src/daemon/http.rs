//! HTTP on `listen`: `/healthz`, `/readyz`, `/metrics` and the status page `/` (`page.rs`). Off
//! loopback, `/metrics` and `/` need `Authorization: Bearer <token>`; the probes stay open so
//! that orchestrators can reach them without a secret.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::health::{Health, Probe, Verdict};

/// How long `/readyz` waits for the database.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Who may read `/metrics`.
#[derive(Clone)]
pub struct Auth {
    /// The token's digest: compared in constant time, and the token itself is not kept around.
    digest: Option<[u8; 32]>,
}

impl Auth {
    /// Everyone (a loopback `listen`).
    pub fn open() -> Self {
        Self { digest: None }
    }

    /// Only requests bearing `token`.
    pub fn bearer(token: &SecretString) -> Self {
        Self {
            digest: Some(Sha256::digest(token.expose_secret().as_bytes()).into()),
        }
    }

    /// The policy for `listen`: a token off loopback (the settings require one there), open on
    /// loopback unless a token is configured anyway.
    pub fn for_listen(listen: SocketAddr, token: Option<&SecretString>) -> Self {
        match token {
            Some(t) => Self::bearer(t),
            None => {
                debug_assert!(
                    listen.ip().is_loopback(),
                    "settings require a token off loopback"
                );
                Self::open()
            }
        }
    }

    /// Whether the request's headers satisfy the policy.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = &self.digest else {
            return true;
        };
        let Some(given) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        let given: [u8; 32] = Sha256::digest(given.trim().as_bytes()).into();
        given.ct_eq(expected).into()
    }
}

/// What the routes read.
#[derive(Clone)]
pub struct AppState {
    pub health: Arc<Health>,
    pub probe: Arc<dyn Probe>,
    pub metrics: PrometheusHandle,
    pub auth: Auth,
    /// The status page's report.
    pub status: Arc<dyn super::page::StatusSource>,
}

/// The daemon's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/", get(super::page::page))
        .with_state(state)
}

/// Why `listen` could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct BindError {
    pub addr: SocketAddr,
    #[source]
    pub source: std::io::Error,
}

impl BindError {
    /// Whether the address itself is wrong (not on this host): an input error, not the
    /// environment's (in use, no permission).
    pub fn is_input(&self) -> bool {
        self.source.kind() == std::io::ErrorKind::AddrNotAvailable
    }

    pub fn hint(&self) -> &'static str {
        match self.source.kind() {
            std::io::ErrorKind::AddrInUse => {
                "another process listens there (another tagsync?); stop it or change `listen`"
            }
            std::io::ErrorKind::PermissionDenied => {
                "ports below 1024 need privileges; choose another port in `listen`"
            }
            std::io::ErrorKind::AddrNotAvailable => {
                "the address is not one of this host's; use 127.0.0.1, 0.0.0.0 or an address of this host"
            }
            _ => "check `listen`",
        }
    }
}

/// Binds `listen` before anything else starts, so that a failure leaves nothing half-started.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, BindError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| BindError { addr, source })
}

fn json(ok: bool, verdict: &Verdict) -> Response {
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(verdict)).into_response()
}

async fn healthz(State(s): State<AppState>) -> Response {
    let v = s.health.liveness();
    json(v.ok, &v)
}

async fn readyz(State(s): State<AppState>) -> Response {
    let database = match tokio::time::timeout(PROBE_TIMEOUT, s.probe.check()).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "the database did not answer within {}s",
            PROBE_TIMEOUT.as_secs()
        )),
    };
    let v = s.health.readiness(database);
    json(v.ok, &v)
}

async fn metrics(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if !s.auth.allows(&headers) {
        return unauthorized();
    }
    let mut response = s.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

fn unauthorized() -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        "a bearer token is required: Authorization: Bearer <token>\n",
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"tagsync\""),
    );
    response
}

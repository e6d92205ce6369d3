//! The HTTP layer every platform shares: one reqwest client with timeouts, a per-platform rate
//! limiter (governor), retries with exponential backoff and jitter for transient outcomes only
//! (backon), call counting, and a tracing span per request with the credential redacted.
//!
//! Each adapter classifies its own responses ([`Verdict`]); this layer decides what a verdict means
//! for a retry, which depends on whether the request is idempotent:
//! - the platform said it did not process the request (rate limited, busy): retry any request;
//! - the outcome is unknown (timeout after sending, 5xx, reset): retry only idempotent requests; a
//!   create gets [`Error::Indeterminate`] and the caller re-reads the platform instead.

/// The retries counter, counted here where each retry happens (the daemon exports it).
pub const API_RETRIES: &str = "tagsync_api_retries_total";

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use super::Error;
use super::limit::Limiter;
use crate::settings::PlatformSettings;

/// The log target of retry events, which the command line shows at `info` by default.
pub const RETRY_TARGET: &str = "tagsync::retry";

/// Retry budget for transient failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// A cap on the whole call, retries and waits included.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 6,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Short waits, for tests and the demo against local simulators.
    pub fn fast() -> Self {
        Self {
            max_retries: 8,
            min_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
            max_elapsed: Duration::from_secs(20),
        }
    }
}

/// What an adapter makes of one HTTP response.
#[derive(Debug)]
pub enum Verdict<T> {
    Ok(T),
    /// The platform did not process the request: safe to repeat.
    Refused(String),
    /// The platform did not process the request because calls come too fast (a frequency
    /// error, a documented busy code): safe to repeat, and the limiter slows down.
    Throttled(String),
    /// The request may have been processed (5xx and the like).
    Unknown(String),
    /// The credential is expired or invalid: refresh it, then retry once.
    CredentialExpired(String),
    NotOurs {
        errcode: i64,
        message: String,
    },
    Rejected {
        errcode: i64,
        message: String,
    },
    Protocol(String),
}

impl<T> Verdict<T> {
    fn label(&self) -> &'static str {
        match self {
            Verdict::Ok(_) => "ok",
            Verdict::Refused(_) | Verdict::Throttled(_) => "refused",
            Verdict::Unknown(_) => "unknown",
            Verdict::CredentialExpired(_) => "credential expired",
            Verdict::NotOurs { .. } => "not ours",
            Verdict::Rejected { .. } => "rejected",
            Verdict::Protocol(_) => "protocol",
        }
    }
}

/// An answer's body as the adapter's wire type `W`; the error names the field that failed.
fn decode<W: serde::de::DeserializeOwned>(
    status: reqwest::StatusCode,
    bytes: &[u8],
) -> Result<W, String> {
    serde_json::from_slice(bytes)
        .map_err(|e| format!("HTTP {status}, body does not match the document: {e}"))
}

/// What a client makes of one answer, for the conformance corpus and fuzzing: the verdict's
/// label (`ok`, `refused`, `unknown`, `credential expired`, `not ours`, `rejected`, `protocol`)
/// and, on `ok`, the canonical value; otherwise the message (with the errcode where there is one).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub verdict: &'static str,
    pub value: serde_json::Value,
}

/// Decodes and classifies `body` exactly as [`Http::send`] does, without the HTTP; `ok` turns
/// the adapter's answer into the canonical value the caller compares.
pub fn outcome<W, T>(
    status: u16,
    body: &[u8],
    classify: impl FnOnce(reqwest::StatusCode, W) -> Verdict<T>,
    ok: impl FnOnce(T) -> serde_json::Value,
) -> Outcome
where
    W: serde::de::DeserializeOwned,
{
    let status = reqwest::StatusCode::from_u16(status).unwrap_or(reqwest::StatusCode::OK);
    let verdict = match decode::<W>(status, body) {
        Ok(wire) => classify(status, wire),
        Err(detail) => Verdict::Protocol(detail),
    };
    let label = verdict.label();
    let value = match verdict {
        Verdict::Ok(v) => ok(v),
        Verdict::NotOurs { errcode, message } | Verdict::Rejected { errcode, message } => {
            serde_json::Value::String(format!("errcode {errcode}: {message}"))
        }
        Verdict::Refused(m)
        | Verdict::Throttled(m)
        | Verdict::Unknown(m)
        | Verdict::CredentialExpired(m)
        | Verdict::Protocol(m) => serde_json::Value::String(m),
    };
    Outcome {
        verdict: label,
        value,
    }
}

/// A request, without its credential (which the adapter adds where its document puts it).
#[derive(Debug, Clone)]
pub struct Request {
    pub endpoint: &'static str,
    pub method: Method,
    pub url: reqwest::Url,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<serde_json::Value>,
    /// Safe to send twice (reads, edits to a value, deletes).
    pub idempotent: bool,
}

/// Where the credential goes on the wire.
#[derive(Clone)]
pub enum Credential {
    Query(&'static str, SecretString),
    Header(&'static str, SecretString),
    /// A top-level field of the JSON object body (Miaokol's POST calls), added at send time so
    /// that a [`Request`] never holds the secret.
    Body(&'static str, SecretString),
    /// Already part of the body (the adapter put it there; it is redacted from logs by construction).
    None,
}

/// The shared client of one platform.
pub struct Http {
    client: reqwest::Client,
    limiter: Arc<Limiter>,
    /// How many requests of this platform may be in flight at once.
    concurrency: usize,
    calls: AtomicU64,
    platform: String,
    retry: RetryPolicy,
}

enum Attempt {
    Refused(String),
    Unknown(String),
    Final(Error),
}

impl Http {
    pub fn new(settings: &PlatformSettings, retry: RetryPolicy) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("tagsync/", env!("CARGO_PKG_VERSION")))
            .build()?;
        // The kind's defaults where the platform's `rate_limit` does not say.
        let limits = settings.kind.descriptor().limits;
        let (per_second, burst) = settings
            .rate_limit
            .map_or((limits.per_second, limits.burst), |rl| {
                (rl.per_second, rl.burst)
            });
        let concurrency = settings
            .rate_limit
            .and_then(|rl| rl.concurrency)
            .unwrap_or(limits.concurrency);
        Ok(Self {
            client,
            limiter: Arc::new(Limiter::new(per_second, burst)),
            concurrency: usize::try_from(concurrency).unwrap_or(1).max(1),
            calls: AtomicU64::new(0),
            platform: settings.name.clone(),
            retry,
        })
    }

    pub fn api_calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    pub fn platform(&self) -> &str {
        &self.platform
    }

    /// How many requests may be in flight at once (the limiter still paces them).
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// The rate in force now, per second: lower than configured after frequency errors.
    pub fn per_second_now(&self) -> u32 {
        self.limiter.per_second_now()
    }

    /// Sends `req` (adding `cred`), classifies each response with `classify`, and retries as the
    /// module docs describe.
    pub async fn send<T, W>(
        &self,
        req: &Request,
        cred: &Credential,
        classify: impl Fn(reqwest::StatusCode, W) -> Verdict<T>,
    ) -> Result<T, Error>
    where
        W: DeserializeOwned,
    {
        let attempts = AtomicU32::new(0);
        // The first transient cause: when the time budget runs out, it says more than "gave up".
        let first_cause = std::sync::Mutex::new(None::<String>);
        // Set once an attempt's outcome is unknown: a later rejection may then be the platform's
        // answer to a repeat of a request that was applied (a repeated delete finds nothing).
        let maybe_applied = std::sync::atomic::AtomicBool::new(false);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.retry.min_delay)
            .with_max_delay(self.retry.max_delay)
            .with_max_times(self.retry.max_retries)
            .with_jitter();
        let once = || async {
            let attempt = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            match self.attempt(req, cred, attempt, &classify).await {
                Ok(v) => Ok(v),
                Err(Attempt::Unknown(detail)) if !req.idempotent => {
                    Err(Attempt::Final(Error::Indeterminate {
                        endpoint: req.endpoint,
                        detail,
                    }))
                }
                Err(Attempt::Unknown(detail)) => {
                    maybe_applied.store(true, Ordering::Relaxed);
                    Err(Attempt::Unknown(detail))
                }
                Err(Attempt::Final(Error::Rejected {
                    errcode, message, ..
                })) if maybe_applied.load(Ordering::Relaxed) => {
                    Err(Attempt::Final(Error::Indeterminate {
                        endpoint: req.endpoint,
                        detail: format!(
                            "an earlier attempt may have been applied; the repeat was rejected: {message} (errcode {errcode})"
                        ),
                    }))
                }
                Err(e) => Err(e),
            }
        };
        let retried = once
            .retry(backoff)
            .when(|e| matches!(e, Attempt::Refused(_) | Attempt::Unknown(_)))
            .notify(|e, wait| {
                let (why, class) = match e {
                    Attempt::Refused(s) => (s.as_str(), "refused"),
                    Attempt::Unknown(s) => (s.as_str(), "unknown"),
                    Attempt::Final(_) => ("", "final"),
                };
                metrics::counter!(API_RETRIES, "platform" => self.platform.clone(), "error_class" => class).increment(1);
                first_cause
                    .lock()
                    .expect("never poisoned")
                    .get_or_insert_with(|| why.to_owned());
                // Shown by default (see `cli::logging`): a user waiting on retries sees why.
                tracing::info!(
                    target: RETRY_TARGET,
                    message = "Retrying after a transient failure.",
                    platform = %self.platform,
                    endpoint = req.endpoint,
                    cause = why,
                    attempt = attempts.load(Ordering::Relaxed),
                    next_delay_ms = wait.as_millis() as u64
                );
            });
        let result = match tokio::time::timeout(self.retry.max_elapsed, retried).await {
            Ok(r) => r,
            Err(_) => Err(Attempt::Unknown(format!(
                "gave up after {:?}{}",
                self.retry.max_elapsed,
                first_cause
                    .lock()
                    .expect("never poisoned")
                    .as_ref()
                    .map(|c| format!("; first: {c}"))
                    .unwrap_or_default()
            ))),
        };
        result.map_err(|e| match e {
            Attempt::Final(e) => e,
            Attempt::Refused(last) => Error::Exhausted {
                endpoint: req.endpoint,
                attempts: attempts.load(Ordering::Relaxed),
                last,
            },
            Attempt::Unknown(last) if req.idempotent => Error::Exhausted {
                endpoint: req.endpoint,
                attempts: attempts.load(Ordering::Relaxed),
                last,
            },
            Attempt::Unknown(detail) => Error::Indeterminate {
                endpoint: req.endpoint,
                detail,
            },
        })
    }

    async fn attempt<T, W>(
        &self,
        req: &Request,
        cred: &Credential,
        attempt: u32,
        classify: &impl Fn(reqwest::StatusCode, W) -> Verdict<T>,
    ) -> Result<T, Attempt>
    where
        W: DeserializeOwned,
    {
        self.limiter
            .until_ready()
            .instrument(tracing::debug_span!("limiter", platform = %self.platform))
            .await;
        let span = tracing::debug_span!(
            "request",
            platform = %self.platform,
            endpoint = req.endpoint,
            attempt,
            status = tracing::field::Empty,
            errcode = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        async {
            let mut url = req.url.clone();
            {
                let mut pairs = url.query_pairs_mut();
                for (k, v) in &req.query {
                    pairs.append_pair(k, v);
                }
                if let Credential::Query(k, secret) = cred {
                    pairs.append_pair(k, secret.expose_secret());
                }
            }
            let mut builder = self.client.request(req.method.clone(), url);
            if let Credential::Header(name, secret) = cred {
                builder = builder.header(*name, secret.expose_secret());
            }
            match (cred, &req.body) {
                (Credential::Body(key, secret), body) => {
                    let mut body = match body {
                        Some(serde_json::Value::Object(map)) => map.clone(),
                        _ => serde_json::Map::new(),
                    };
                    body.insert(
                        (*key).to_owned(),
                        serde_json::Value::String(secret.expose_secret().to_owned()),
                    );
                    builder = builder.json(&body);
                }
                (_, Some(body)) => builder = builder.json(body),
                (_, None) => {}
            }
            self.calls.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let sent = builder.send().await;
            let span = tracing::Span::current();
            span.record("latency_ms", started.elapsed().as_millis() as u64);
            let response = match sent {
                Ok(r) => r,
                // Nothing reached the platform: any request may be repeated.
                Err(e) if e.is_connect() => {
                    return Err(Attempt::Refused(format!(
                        "cannot connect: {}",
                        without_url(&e)
                    )));
                }
                Err(e) if e.is_timeout() => return Err(Attempt::Unknown("timed out".into())),
                Err(e) => {
                    return Err(Attempt::Unknown(format!(
                        "connection failed: {}",
                        without_url(&e)
                    )));
                }
            };
            let status = response.status();
            span.record("status", status.as_u16());
            if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                self.limiter.slow_down();
                return Err(Attempt::Refused("HTTP 429 Too Many Requests".into()));
            }
            if status.is_server_error() {
                return Err(Attempt::Unknown(format!("HTTP {status}")));
            }
            let bytes = match response.bytes().await {
                Ok(b) => b,
                Err(e) if e.is_timeout() => {
                    return Err(Attempt::Unknown("timed out reading the response".into()));
                }
                Err(e) => {
                    return Err(Attempt::Unknown(format!(
                        "response cut off: {}",
                        without_url(&e)
                    )));
                }
            };
            let wire: W = match decode(status, &bytes) {
                Ok(w) => w,
                Err(detail) => {
                    return Err(Attempt::Final(Error::Protocol {
                        endpoint: req.endpoint,
                        detail,
                    }));
                }
            };
            let verdict = classify(status, wire);
            match &verdict {
                Verdict::NotOurs { errcode, .. } | Verdict::Rejected { errcode, .. } => {
                    span.record("errcode", errcode);
                }
                Verdict::Ok(_) => {
                    span.record("errcode", 0);
                }
                _ => {}
            }
            tracing::trace!(message = "Response classified.", outcome = verdict.label());
            match verdict {
                Verdict::Ok(v) => Ok(v),
                Verdict::Refused(why) => Err(Attempt::Refused(why)),
                Verdict::Throttled(why) => {
                    self.limiter.slow_down();
                    Err(Attempt::Refused(why))
                }
                Verdict::Unknown(why) => Err(Attempt::Unknown(why)),
                Verdict::CredentialExpired(message) => Err(Attempt::Final(Error::Credential {
                    endpoint: req.endpoint,
                    message,
                })),
                Verdict::NotOurs { errcode, message } => Err(Attempt::Final(Error::NotOurs {
                    endpoint: req.endpoint,
                    errcode,
                    message,
                })),
                Verdict::Rejected { errcode, message } => Err(Attempt::Final(Error::Rejected {
                    endpoint: req.endpoint,
                    errcode,
                    message,
                })),
                Verdict::Protocol(detail) => Err(Attempt::Final(Error::Protocol {
                    endpoint: req.endpoint,
                    detail,
                })),
            }
        }
        .instrument(span)
        .await
    }
}

/// A reqwest error's text without its URL, which carries the credential on some platforms.
fn without_url(e: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut last = None;
    while let Some(s) = source {
        last = Some(s.to_string());
        source = s.source();
    }
    last.unwrap_or_else(|| "transport error".into())
}

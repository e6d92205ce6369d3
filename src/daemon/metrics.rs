//! Every metric the daemon exports, in one place (README "Metrics" documents each one). Names
//! start with `tagsync_`; the Prometheus text is rendered by our own `/metrics` route from the
//! [`PrometheusHandle`] installed here.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::cycle::CycleOutcome;

/// Cycles run, by `platform` and `outcome` (`ok`, `failed`).
pub const CYCLES: &str = "tagsync_cycles_total";
/// How long each cycle took, by `platform`.
pub const CYCLE_DURATION: &str = "tagsync_cycle_duration_seconds";
/// Operations sent, by `platform`, `kind` and `outcome` (`succeeded`, `failed`).
pub const OPERATIONS: &str = "tagsync_operations_total";
/// Platform API calls, by `platform`.
pub const API_CALLS: &str = "tagsync_api_calls_total";
/// Retried API calls, by `platform` and `error_class`: `refused` (the platform did not process
/// the call: rate limited, busy) or `unknown` (5xx, timeout, reset: an idempotent call repeated).
/// Counted by the HTTP layer (`platforms/http.rs`) at each retry, whoever runs the client.
pub use crate::platforms::http::API_RETRIES;
/// Differences left after the last cycle, by `platform`.
pub const DRIFT: &str = "tagsync_drift";
/// When the platform's last successful cycle ended (Unix seconds), by `platform`.
pub const LAST_SUCCESS: &str = "tagsync_last_success_timestamp_seconds";
/// 1 for the replica holding the platform's writer lease, by `platform` and `holder`.
pub const LEASE_HOLDER: &str = "tagsync_lease_holder";
/// Ticks skipped because the platform's previous cycle was still running, by `platform`.
pub const SKIPPED_TICKS: &str = "tagsync_skipped_ticks_total";
/// 1 while the tag files are valid, 0 while an invalid edit is refused.
pub const DESIRED_VALID: &str = "tagsync_desired_state_valid";

/// Unfinished customer mark requests (queued or being sent), by `platform`.
pub const MARK_QUEUE: &str = "tagsync_mark_queue_depth";
/// Age of the oldest unfinished mark request in seconds (0 when none), by `platform`.
pub const MARK_OLDEST: &str = "tagsync_mark_oldest_age_seconds";
/// Mark requests given up on (dead), by `platform`.
pub const MARK_DEAD: &str = "tagsync_mark_dead";
/// Mark request outcomes recorded by this process, by `platform` and `outcome` (`succeeded`,
/// `retried`, `dead`): `rate(…{outcome="succeeded"}[5m])` is the delivery rate.
pub const MARKS: &str = "tagsync_marks_total";
/// Mark calls sent to the platform by this process, by `platform`.
pub const MARK_CALLS: &str = "tagsync_mark_calls_total";

/// Every metric above (the README and the Grafana dashboard are checked against this list).
pub const ALL: [&str; 15] = [
    CYCLES,
    CYCLE_DURATION,
    OPERATIONS,
    API_CALLS,
    API_RETRIES,
    DRIFT,
    LAST_SUCCESS,
    LEASE_HOLDER,
    SKIPPED_TICKS,
    DESIRED_VALID,
    MARK_QUEUE,
    MARK_OLDEST,
    MARK_DEAD,
    MARKS,
    MARK_CALLS,
];

/// Cycle-duration buckets, in seconds: a cycle takes from a fraction of a second (nothing to do)
/// to minutes (thousands of tags behind a rate limit).
const DURATION_BUCKETS: [f64; 12] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
];

/// Installs the process-wide recorder once and returns its handle (later calls return the same).
pub fn install() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(CYCLE_DURATION.into()), &DURATION_BUCKETS)
                .expect("the buckets are not empty")
                .install_recorder()
                // Only another recorder installed earlier in this process can make this fail;
                // then the daemon's metrics would silently go nowhere, so fail loudly.
                .expect("no other metrics recorder is installed");
            describe();
            handle
        })
        .clone()
}

fn describe() {
    describe_counter!(CYCLES, "Cycles run, by platform and outcome (ok, failed).");
    describe_histogram!(
        CYCLE_DURATION,
        Unit::Seconds,
        "Duration of each cycle, by platform."
    );
    describe_counter!(
        OPERATIONS,
        "Operations sent, by platform, kind and outcome (succeeded, failed)."
    );
    describe_counter!(API_CALLS, "Platform API calls, by platform.");
    describe_counter!(
        API_RETRIES,
        "Retried platform API calls, by platform and error class."
    );
    describe_gauge!(DRIFT, "Differences left after the last cycle, by platform.");
    describe_gauge!(
        LAST_SUCCESS,
        Unit::Seconds,
        "Unix time the last successful cycle ended, by platform."
    );
    describe_gauge!(
        LEASE_HOLDER,
        "1 for the replica holding the platform's writer lease, by platform and holder."
    );
    describe_counter!(
        SKIPPED_TICKS,
        "Ticks skipped because the platform's previous cycle was still running."
    );
    describe_gauge!(
        DESIRED_VALID,
        "1 while the tag files are valid, 0 while an invalid edit is refused."
    );
    describe_gauge!(
        MARK_QUEUE,
        "Unfinished customer mark requests (queued or being sent), by platform."
    );
    describe_gauge!(
        MARK_OLDEST,
        Unit::Seconds,
        "Age of the oldest unfinished mark request, by platform."
    );
    describe_gauge!(MARK_DEAD, "Mark requests given up on (dead), by platform.");
    describe_counter!(
        MARKS,
        "Mark request outcomes, by platform and outcome (succeeded, retried, dead)."
    );
    describe_counter!(MARK_CALLS, "Mark calls sent, by platform.");
}

/// Records one drain of a platform's mark queue and the queue it left.
pub fn record_marks(
    platform: &str,
    report: &crate::engine::DrainReport,
    queue: &crate::store::MarkQueueStats,
    now: chrono::DateTime<chrono::Utc>,
) {
    let p = platform.to_owned();
    for (outcome, n) in [
        ("succeeded", report.succeeded),
        ("retried", report.retried),
        ("dead", report.dead),
    ] {
        counter!(MARKS, "platform" => p.clone(), "outcome" => outcome).increment(n as u64);
    }
    counter!(MARK_CALLS, "platform" => p.clone()).increment(report.calls as u64);
    gauge!(MARK_QUEUE, "platform" => p.clone()).set(queue.queued as f64);
    gauge!(MARK_DEAD, "platform" => p.clone()).set(queue.dead as f64);
    let age = queue
        .oldest_created_at
        .map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1000.0);
    gauge!(MARK_OLDEST, "platform" => p).set(age);
}

/// Records a finished cycle.
pub fn record_cycle(
    platform: &str,
    outcome: &CycleOutcome,
    seconds: f64,
    finished: chrono::DateTime<chrono::Utc>,
) {
    let p = platform.to_owned();
    counter!(CYCLES, "platform" => p.clone(), "outcome" => outcome.status.as_str()).increment(1);
    histogram!(CYCLE_DURATION, "platform" => p.clone()).record(seconds);
    for (kind, tally) in &outcome.operations {
        for (result, n) in [("succeeded", tally.succeeded), ("failed", tally.failed)] {
            counter!(OPERATIONS, "platform" => p.clone(), "kind" => kind.clone(), "outcome" => result)
                .increment(n);
        }
    }
    counter!(API_CALLS, "platform" => p.clone()).increment(outcome.api_calls);
    if let Some(drift) = outcome.drift {
        gauge!(DRIFT, "platform" => p.clone()).set(drift as f64);
    }
    if outcome.status == super::cycle::CycleStatus::Ok {
        gauge!(LAST_SUCCESS, "platform" => p.clone()).set(finished.timestamp() as f64);
    }
    if let Some(holder) = &outcome.lease_holder {
        set_lease_holder(&p, holder);
    }
}

/// Moves the platform's lease-holder series to `holder`: the previous holder's series drops to 0,
/// so that a sum over holders stays 1.
fn set_lease_holder(platform: &str, holder: &str) {
    static HOLDERS: std::sync::Mutex<BTreeMap<String, String>> =
        std::sync::Mutex::new(BTreeMap::new());
    let mut holders = HOLDERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(previous) = holders.insert(platform.to_owned(), holder.to_owned())
        && previous != holder
    {
        gauge!(LEASE_HOLDER, "platform" => platform.to_owned(), "holder" => previous).set(0.0);
    }
    gauge!(LEASE_HOLDER, "platform" => platform.to_owned(), "holder" => holder.to_owned()).set(1.0);
}

/// Starts the platform's counters at zero, so that a dashboard's rate over them shows 0 instead
/// of no data until the first skip or retry.
pub fn register_platform(platform: &str) {
    counter!(SKIPPED_TICKS, "platform" => platform.to_owned()).increment(0);
    for class in ["refused", "unknown"] {
        counter!(API_RETRIES, "platform" => platform.to_owned(), "error_class" => class)
            .increment(0);
    }
}

/// Counts a tick skipped because the platform's previous cycle still runs.
pub fn record_skipped(platform: &str) {
    counter!(SKIPPED_TICKS, "platform" => platform.to_owned()).increment(1);
}

/// Records whether the tag files are valid.
pub fn record_desired_valid(valid: bool) {
    gauge!(DESIRED_VALID).set(if valid { 1.0 } else { 0.0 });
}

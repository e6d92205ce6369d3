//! The mirror: one [`Store`] over SQLite and PostgreSQL that records what every platform holds,
//! what tagsync did to it, and how the desired state stands (the tables of SPEC §4).
//!
//! Architecture invariant: nothing but `store/` knows SQL. Callers see [`Snapshot`], [`Bindings`]
//! and the plain types of this module; the row structs sqlx decodes into stay private here.
//!
//! # Guarantees
//! - The schema is created and upgraded by [`Store::open`] from migrations embedded in the binary
//!   (`migrations/{sqlite,postgres}`), one folder per backend with the same tables, columns and
//!   constraints. Opening an up-to-date database changes nothing; a database migrated by a newer
//!   tagsync is refused rather than misread.
//! - Every method that writes more than one row does so in one transaction: a crash or a cancelled
//!   future leaves either all of it or none of it. SQLite transactions take the write lock up front
//!   (`BEGIN IMMEDIATE`), so concurrent writers wait (busy timeout) instead of failing.
//! - Nothing is ever hard-deleted from `tag_groups` or `tags`: a vanished object gets `deleted_at`,
//!   which goes back to NULL if it reappears. Every object that appears, is renamed, is reordered,
//!   vanishes or comes back gets a `tag_events` row: 'pull' when a listing showed it
//!   ([`Store::record_snapshot`]), 'apply' when tagsync did it ([`Store::record_applied`], which
//!   also updates the mirror at once, so the next listing does not report it again). A tag seen
//!   in another group than before gets a 'moved' event. A listing is written in multi-row
//!   statements inside one transaction, never row by row.
//! - Times are UTC, stored to the microsecond (PostgreSQL's precision; SQLite gets the same values,
//!   as RFC 3339 text, so both backends return what they were given).
//! - Errors never hold the database URL itself (it may carry a password): only its scheme and host.
//!
//! Files: `mod.rs` the [`Store`], its backends and the macros the other files share (the largest,
//! writing a listing, in `listing.rs`); one file per concern, each with its own `impl Store`
//! block: `platforms.rs`, `mirror.rs` (listings and events), `applied.rs` (what an apply did), `bindings.rs`, `not_ours.rs`, `leases.rs` (one writer per platform:
//! [`Store::try_lease`]), `runs.rs` (runs and the operations journal), `desired.rs`, `reports.rs`
//! (read-only views), `status.rs` (one platform's standing, for `status` and the page),
//! `marks.rs`. Besides: `types.rs` the values it takes and returns, `rows.rs`
//! the private row structs, `diff.rs` the pure comparison of a listing with the mirror, `url.rs`
//! naming a database without its credentials, `error.rs` [`Error`]. No method reads the clock:
//! every time is a parameter.
//!
//! # Assumptions
//! [`Store::upsert_platform`] has recorded a platform before anything else is written for it; writes
//! for an unknown platform fail with [`Error::UnknownPlatform`].

mod diff;
mod error;
mod rows;
mod types;
mod url;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::model::{Bindings, RemoteGroup, RemoteTag, Snapshot};

pub use daemon::TagFileError;
use error::Context;
pub use error::Error;
pub use status::{
    ConsoleChange, DriftItem, FailedOperation, LIST_LIMIT, NotOursGroup, PlatformStatus, RunBrief,
};
pub use types::{
    Applied, ClaimedContact, DesiredStateRow, EventKind, EventRow, EventSource, MarkId,
    MarkOutcome, MarkQueueStats, MarkRow, MarkStatus, NewEvent, NewMark, Object, OpStatus,
    OperationId, OperationRow, PlatformRow, PullSummary, RunId, RunOutcome, RunRow, RunStatus,
};

/// The mirror database. Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    /// SQLite has one writer at a time, and its busy handler is not a queue: a writer that keeps
    /// losing the race to others (five platforms' first cycles at once) fails after the busy
    /// timeout although the lock was free many times meanwhile. In one process, write
    /// transactions on SQLite therefore wait their turn here, first come first served; the busy
    /// timeout only arbitrates between processes. Unused on PostgreSQL.
    writers: std::sync::Arc<tokio::sync::Mutex<()>>,
}

#[derive(Clone)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Connects, retrying while the file is busy: switching a new database to WAL needs an exclusive
/// lock that SQLite's busy timeout does not wait for, so a process that opens a new mirror while
/// another one is creating it gets "database is locked" at once.
async fn connect_sqlite(
    pool: SqlitePoolOptions,
    options: SqliteConnectOptions,
) -> Result<SqlitePool, sqlx::Error> {
    let started = std::time::Instant::now();
    loop {
        match pool.clone().connect_with(options.clone()).await {
            Err(e) if is_busy(&e) && started.elapsed() < SQLITE_BUSY_TIMEOUT => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            result => return result,
        }
    }
}

/// SQLITE_BUSY, extended codes included.
fn is_busy(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|c| c & 0xff == 5)
}

/// Runs the SQLite migrations inside one `BEGIN IMMEDIATE` transaction. sqlx's migrator locks
/// PostgreSQL (an advisory lock) but not SQLite, so two processes opening a new mirror at once both
/// applied migration 1 and the second failed ("table platforms already exists"). Holding SQLite's
/// write lock serialises them: the second waits (busy timeout), finds every migration applied, and
/// does nothing.
async fn migrate_sqlite(pool: &SqlitePool) -> Result<(), sqlx::migrate::MigrateError> {
    use sqlx::Connection as _;
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    SQLITE_MIGRATIONS.run_direct(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// How long a SQLite connection waits for another writer before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long any call waits for a free connection (or a PostgreSQL server) before giving up.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `$body` with `$pool` bound to whichever concrete pool the store has. The body is compiled
/// once per backend, so the same query text and binds serve both.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.backend {
            Backend::Sqlite($pool) => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}

/// [`on_pool!`] for a single statement that writes: on SQLite it takes its turn among the
/// process's writers ([`Store::writers`]) first, like [`in_tx!`].
macro_rules! write_on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.backend {
            Backend::Sqlite($pool) => {
                let _turn = $store.writers.lock().await;
                $body
            }
            Backend::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` inside a transaction `$tx` on either backend and commits it; an early return (`?`)
/// drops the transaction, which rolls it back.
macro_rules! in_tx {
    ($store:expr, $what:expr, |$tx:ident| $body:expr) => {
        match &$store.backend {
            Backend::Sqlite(pool) => {
                let _turn = $store.writers.lock().await;
                // IMMEDIATE takes the write lock now, so a transaction that reads before it writes
                // waits on the busy timeout instead of failing when another writer got in first.
                let mut $tx = pool.begin_with("BEGIN IMMEDIATE").await.ctx($what)?;
                #[allow(clippy::let_unit_value)]
                let out = $body;
                $tx.commit().await.ctx($what)?;
                out
            }
            Backend::Postgres(pool) => {
                let mut $tx = pool.begin().await.ctx($what)?;
                #[allow(clippy::let_unit_value)]
                let out = $body;
                $tx.commit().await.ctx($what)?;
                out
            }
        }
    };
}

/// Fails with [`Error::UnknownPlatform`] unless `platforms` has the platform.
macro_rules! ensure_platform {
    ($tx:ident, $platform:expr, $what:expr) => {
        let found: Option<String> =
            sqlx::query_scalar("SELECT name FROM platforms WHERE name = $1")
                .bind($platform)
                .fetch_optional(&mut *$tx)
                .await
                .ctx($what)?;
        if found.is_none() {
            return Err(Error::UnknownPlatform {
                platform: $platform.to_owned(),
            });
        }
    };
}

/// Fails with [`Error::UnknownRun`] unless the run exists and belongs to the platform.
macro_rules! ensure_run {
    ($tx:ident, $run:expr, $platform:expr, $what:expr) => {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT id FROM sync_runs WHERE id = $1 AND platform = $2")
                .bind($run)
                .bind($platform)
                .fetch_optional(&mut *$tx)
                .await
                .ctx($what)?;
        if found.is_none() {
            return Err(Error::UnknownRun { run: $run });
        }
    };
}

/// The shared start of every query that reads `operations` rows.
macro_rules! select_operations {
    () => {
        "SELECT id, run_id, platform, seq, kind, target, request, status, attempts, error,
                created_at, started_at, finished_at
         FROM operations"
    };
}

/// The columns `record_snapshot` compares ([`rows::Known`]), without FROM.
macro_rules! select_known {
    () => {
        "SELECT remote_id, name, sort_order, deleted_at"
    };
}

/// One object of one platform.
macro_rules! by_id {
    () => {
        "WHERE platform = $1 AND remote_id = $2"
    };
}

/// Writes one `tag_events` row in transaction `$tx`.
macro_rules! insert_event {
    ($tx:ident, $platform:expr, $event:expr, $source:expr, $run:expr, $now:expr, $what:expr) => {
        sqlx::query(
            "INSERT INTO tag_events (platform, object, remote_id, kind, old_value, new_value,
                 source, run_id, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind($platform)
        .bind($event.object.as_str())
        .bind(&$event.remote_id)
        .bind($event.kind.as_str())
        .bind(&$event.old_value)
        .bind(&$event.new_value)
        .bind($source.as_str())
        .bind($run)
        .bind($now)
        .execute(&mut *$tx)
        .await
        .ctx($what)?
    };
}

// The listing writer, shared by `mirror.rs` and `applied.rs`, and its SQL-building helpers.
#[macro_use]
mod listing;
use listing::{BATCH, id_list, last_by_id, placeholders};

// After the macros, which they use.
mod applied;
mod bindings;
mod daemon;
mod desired;
mod leases;
mod marks;
mod mirror;
mod not_ours;
mod platforms;
mod reports;
mod runs;
mod status;
pub use runs::{Intent, OutcomeRow};

impl fmt::Debug for Store {
    /// Names the backend only: pool options are nobody's business in a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend_name())
            .finish()
    }
}

impl Store {
    /// Opens (and for `sqlite:…?mode=rwc`, creates) the mirror and applies the embedded migrations.
    ///
    /// The backend follows the URL scheme: `sqlite:` or `postgres:`/`postgresql:`. SQLite runs in
    /// WAL mode with foreign keys on and a busy timeout.
    ///
    /// # Errors
    /// [`Error::UnsupportedUrl`] for another scheme, [`Error::Open`] when the URL is malformed or
    /// the database cannot be reached, [`Error::Migrate`] when the schema cannot be brought up to
    /// date. None of them holds the URL's credentials.
    #[tracing::instrument(skip_all, fields(database = %url::describe(database_url)))]
    pub async fn open(database_url: &str) -> Result<Store, Error> {
        let target = url::describe(database_url);
        let open = |source| Error::Open {
            target: target.clone(),
            source,
        };
        let migrate = |source| Error::Migrate {
            target: target.clone(),
            source,
        };
        let backend = match url::scheme(database_url) {
            "sqlite" => {
                let options = SqliteConnectOptions::from_str(database_url)
                    .map_err(open)?
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT);
                let mut pool = SqlitePoolOptions::new().acquire_timeout(ACQUIRE_TIMEOUT);
                if database_url.contains(":memory:") || database_url.contains("mode=memory") {
                    // An in-memory database lives as long as one of its connections: keep one.
                    pool = pool
                        .min_connections(1)
                        .idle_timeout(None)
                        .max_lifetime(None);
                }
                let pool = connect_sqlite(pool, options).await.map_err(open)?;
                migrate_sqlite(&pool).await.map_err(migrate)?;
                Backend::Sqlite(pool)
            }
            "postgres" | "postgresql" => {
                let options = PgConnectOptions::from_str(database_url).map_err(open)?;
                // One connection first, outside the pool: the pool retries a refused connection
                // until its acquire timeout and then reports only "pool timed out", hiding the
                // cause ("Connection refused", a bad password) that the user needs.
                {
                    use sqlx::{ConnectOptions as _, Connection as _};
                    let first = tokio::time::timeout(ACQUIRE_TIMEOUT, options.connect())
                        .await
                        .map_err(|_| open(sqlx::Error::PoolTimedOut))?
                        .map_err(open)?;
                    let _ = first.close().await;
                }
                let pool = PgPoolOptions::new()
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(options)
                    .await
                    .map_err(open)?;
                POSTGRES_MIGRATIONS.run(&pool).await.map_err(migrate)?;
                Backend::Postgres(pool)
            }
            scheme => {
                return Err(Error::UnsupportedUrl {
                    scheme: scheme.to_owned(),
                });
            }
        };
        let store = Store {
            backend,
            writers: Default::default(),
        };
        tracing::debug!(
            message = "Opened the mirror.",
            backend = store.backend_name()
        );
        Ok(store)
    }

    /// "sqlite" or "postgres".
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Checks that the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), Error> {
        on_pool!(self, |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(drop))
        .ctx("ping")
    }

    /// Closes every connection, waiting for calls in flight. Later calls fail.
    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await)
    }
}

/// A time as the store keeps it: UTC to the microsecond, PostgreSQL's precision, so both backends
/// give back exactly what they were given.
fn ts(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).expect("a list of strings always serialises")
}

fn order_from_column(column: &'static str, order: Option<i64>) -> Result<Option<u32>, Error> {
    order
        .map(|o| {
            u32::try_from(o).map_err(|_| Error::Corrupt {
                column,
                value: o.to_string(),
            })
        })
        .transpose()
}

/// Highest order first, objects without an order last, then by id.
fn display_order(a: Option<u32>, a_id: &str, b: Option<u32>, b_id: &str) -> std::cmp::Ordering {
    b.cmp(&a).then_with(|| a_id.cmp(b_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_keep_microseconds() {
        let t = DateTime::parse_from_rfc3339("2025-01-02T03:04:05.123456789Z").unwrap();
        assert_eq!(
            ts(t.to_utc()).to_rfc3339(),
            "2025-01-02T03:04:05.123456+00:00"
        );
    }

    #[test]
    fn id_list_numbers_from_first() {
        assert_eq!(id_list(3, 2), "$2, $3, $4");
    }

    #[test]
    fn placeholders_number_every_row() {
        assert_eq!(placeholders(2, 3), "($1, $2, $3), ($4, $5, $6)");
    }

    #[test]
    fn an_id_listed_twice_keeps_its_last_values_at_its_first_place() {
        let items = [("a", 1), ("b", 2), ("a", 3)];
        assert_eq!(last_by_id(items.into_iter()), [3, 2]);
    }

    #[test]
    fn display_order_puts_unordered_last() {
        let mut v = [(None, "a"), (Some(1), "b"), (Some(9), "c"), (Some(1), "a")];
        v.sort_by(|x, y| display_order(x.0, x.1, y.0, y.1));
        assert_eq!(
            v,
            [(Some(9), "c"), (Some(1), "a"), (Some(1), "b"), (None, "a")]
        );
    }
}

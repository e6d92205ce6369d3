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
//!   also updates the mirror at once, so the next listing does not report it again). A tag moving
//!   to another group is recorded without an event.
//! - Times are UTC, stored to the microsecond (PostgreSQL's precision; SQLite gets the same values,
//!   as RFC 3339 text, so both backends return what they were given).
//! - Errors never hold the database URL itself (it may carry a password): only its scheme and host.
//!
//! Files: `mod.rs` the [`Store`] and its SQL, `types.rs` the values it takes and returns, `rows.rs`
//! the private row structs, `diff.rs` the pure comparison of a listing with the mirror, `url.rs`
//! naming a database without its credentials, `error.rs` [`Error`]. Besides the SPEC §4 tables the
//! schema has `leases` (one writer per platform: [`Store::try_lease`]) and `not_ours` (groups that refused tagsync).
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

use error::Context;
pub use error::Error;
pub use types::{
    Applied, DesiredStateRow, EventKind, EventRow, EventSource, MarkId, MarkRow, MarkStatus,
    NewEvent, NewMark, Object, OpStatus, OperationId, OperationRow, PlatformRow, PullSummary,
    RunId, RunOutcome, RunRow, RunStatus,
};

/// The mirror database. Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
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

/// Runs `$body` inside a transaction `$tx` on either backend and commits it; an early return (`?`)
/// drops the transaction, which rolls it back.
macro_rules! in_tx {
    ($store:expr, $what:expr, |$tx:ident| $body:expr) => {
        match &$store.backend {
            Backend::Sqlite(pool) => {
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

/// Records a listing of (some of) a platform's objects in transaction `$tx`: the shared body of
/// [`Store::record_snapshot`] and [`Store::record_applied`]. Evaluates to the [`PullSummary`].
macro_rules! record_listing {
    (
        $tx:ident, $platform:expr, $snapshot:expr, $complete:expr, $source:expr, $run:expr,
        $now:expr, $what:expr
    ) => {{
        let mut known = [BTreeMap::new(), BTreeMap::new()];
        for (table, known) in ["tag_groups", "tags"].into_iter().zip(&mut known) {
            let sql = format!(concat!(select_known!(), " FROM {} WHERE platform = $1"), table);
            let rows: Vec<rows::Known> = sqlx::query_as(&sql)
                .bind($platform)
                .fetch_all(&mut *$tx)
                .await
                .ctx($what)?;
            known.extend(rows.into_iter().map(|r| {
                let k = diff::Known {
                    name: r.name,
                    order: r.sort_order,
                    live: r.deleted_at.is_none(),
                };
                (r.remote_id, k)
            }));
        }
        let [groups, tags] = &known;
        let diff = diff::diff(groups, tags, $snapshot, $complete);

        for group in &$snapshot.groups {
            sqlx::query(
                "INSERT INTO tag_groups (platform, remote_id, name, sort_order,
                     remote_created_at, first_seen_at, last_seen_at, deleted_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6, NULL)
                 ON CONFLICT (platform, remote_id) DO UPDATE
                 SET name = excluded.name, sort_order = excluded.sort_order,
                     remote_created_at =
                         COALESCE(excluded.remote_created_at, tag_groups.remote_created_at),
                     last_seen_at = excluded.last_seen_at, deleted_at = NULL",
            )
            .bind($platform)
            .bind(&group.id)
            .bind(&group.name)
            .bind(group.order.map(i64::from))
            .bind(group.created_at.map(ts))
            .bind($now)
            .execute(&mut *$tx)
            .await
            .ctx($what)?;
        }
        // Tags after every group: a tag's group must exist (foreign key).
        for group in &$snapshot.groups {
            for tag in &group.tags {
                sqlx::query(
                    "INSERT INTO tags (platform, remote_id, group_remote_id, name, sort_order,
                         remote_created_at, first_seen_at, last_seen_at, deleted_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7, NULL)
                     ON CONFLICT (platform, remote_id) DO UPDATE
                     SET group_remote_id = excluded.group_remote_id, name = excluded.name,
                         sort_order = excluded.sort_order,
                         remote_created_at =
                             COALESCE(excluded.remote_created_at, tags.remote_created_at),
                         last_seen_at = excluded.last_seen_at, deleted_at = NULL",
                )
                .bind($platform)
                .bind(&tag.id)
                .bind(&group.id)
                .bind(&tag.name)
                .bind(tag.order.map(i64::from))
                .bind(tag.created_at.map(ts))
                .bind($now)
                .execute(&mut *$tx)
                .await
                .ctx($what)?;
            }
        }
        for event in &diff.events {
            if event.kind == EventKind::Deleted {
                let sql = match event.object {
                    Object::Group => {
                        "UPDATE tag_groups SET deleted_at = $3 WHERE platform = $1 AND remote_id = $2"
                    }
                    Object::Tag => {
                        "UPDATE tags SET deleted_at = $3 WHERE platform = $1 AND remote_id = $2"
                    }
                };
                let query = sqlx::query(sql)
                    .bind($platform)
                    .bind(&event.remote_id)
                    .bind($now);
                query.execute(&mut *$tx).await.ctx($what)?;
            }
            insert_event!($tx, $platform, event, $source, $run, $now, $what);
        }
        diff.summary
    }};
}

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
        let store = Store { backend };
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

    /// Records a configured platform, or updates its kind and mode.
    #[tracing::instrument(skip_all, fields(platform = %name))]
    pub async fn upsert_platform(&self, name: &str, kind: &str, mode: &str) -> Result<(), Error> {
        let sql = "INSERT INTO platforms (name, kind, mode, updated_at) VALUES ($1, $2, $3, $4)
                   ON CONFLICT (name) DO UPDATE
                   SET kind = excluded.kind, mode = excluded.mode, updated_at = excluded.updated_at";
        let now = ts(Utc::now());
        on_pool!(self, |pool| {
            let query = sqlx::query(sql).bind(name).bind(kind).bind(mode).bind(now);
            query.execute(pool).await.map(drop)
        })
        .ctx("record a platform")
    }

    /// Sets (or with `None`, clears) the platform's last error.
    ///
    /// # Errors
    /// [`Error::UnknownPlatform`] if the platform was never recorded.
    #[tracing::instrument(skip_all, fields(platform = %name))]
    pub async fn set_platform_error(&self, name: &str, error: Option<&str>) -> Result<(), Error> {
        let sql = "UPDATE platforms SET last_error = $2, updated_at = $3 WHERE name = $1";
        let now = ts(Utc::now());
        let updated = on_pool!(self, |pool| {
            let query = sqlx::query(sql).bind(name).bind(error).bind(now);
            query.execute(pool).await.map(|r| r.rows_affected())
        })
        .ctx("record a platform error")?;
        if updated == 0 {
            return Err(Error::UnknownPlatform {
                platform: name.to_owned(),
            });
        }
        Ok(())
    }

    /// Records one full listing of a platform.
    ///
    /// Upserts every group and tag (name, order, created time, `last_seen_at = now`,
    /// `deleted_at = NULL`) and writes a 'pull' event for each object that is new, renamed,
    /// reordered or back after it vanished (a comeback is 'created', plus 'renamed'/'reordered' if
    /// it changed meanwhile). When `complete` is true, every object of this platform that is live in
    /// the mirror but absent from the listing is marked deleted (`deleted_at = now`, a 'deleted'
    /// event); when false (a partial listing), nothing is marked deleted. Sets
    /// `platforms.last_pull_at`.
    ///
    /// # Guarantees
    /// One transaction: all of it or none of it. Recording the same listing twice writes no new
    /// events. Events are written in listing order (each group followed by its tags), deletions last.
    ///
    /// # Errors
    /// [`Error::UnknownPlatform`], [`Error::UnknownRun`] if `run` is not a run of this platform.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn record_snapshot(
        &self,
        platform: &str,
        snapshot: &Snapshot,
        complete: bool,
        run: Option<RunId>,
        now: DateTime<Utc>,
    ) -> Result<PullSummary, Error> {
        const WHAT: &str = "record a snapshot";
        let now = ts(now);
        let summary = in_tx!(self, WHAT, |tx| {
            // A write first, so that on PostgreSQL two pulls of one platform queue up here.
            let updated = sqlx::query(
                "UPDATE platforms SET last_pull_at = $2, updated_at = $2 WHERE name = $1",
            )
            .bind(platform)
            .bind(now)
            .execute(&mut *tx)
            .await
            .ctx(WHAT)?
            .rows_affected();
            if updated == 0 {
                return Err(Error::UnknownPlatform {
                    platform: platform.to_owned(),
                });
            }
            if let Some(run) = run {
                ensure_run!(tx, run, platform, WHAT);
            }
            record_listing!(
                tx,
                platform,
                snapshot,
                complete,
                EventSource::Pull,
                run,
                now,
                WHAT
            )
        });
        tracing::debug!(message = "Recorded a snapshot.", ?summary);
        Ok(summary)
    }

    /// The live objects the mirror holds for a platform (for platforms without a list API).
    ///
    /// Groups and tags come highest order first (objects without an order last), then by remote
    /// id. A live tag of a deleted group is left out with its group. An unknown platform has an
    /// empty mirror.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn mirror_snapshot(&self, platform: &str) -> Result<Snapshot, Error> {
        const WHAT: &str = "read the mirror";
        let (groups, tags) = on_pool!(self, |pool| {
            let groups: Vec<rows::MirrorGroup> = sqlx::query_as(
                "SELECT remote_id, name, sort_order, remote_created_at FROM tag_groups
                 WHERE platform = $1 AND deleted_at IS NULL",
            )
            .bind(platform)
            .fetch_all(pool)
            .await
            .ctx(WHAT)?;
            let tags: Vec<rows::MirrorTag> = sqlx::query_as(
                "SELECT remote_id, group_remote_id, name, sort_order, remote_created_at FROM tags
                 WHERE platform = $1 AND deleted_at IS NULL",
            )
            .bind(platform)
            .fetch_all(pool)
            .await
            .ctx(WHAT)?;
            (groups, tags)
        });

        let mut by_group: BTreeMap<String, Vec<RemoteTag>> = BTreeMap::new();
        for t in tags {
            let tag = RemoteTag {
                order: order_from_column("tags.sort_order", t.sort_order)?,
                id: t.remote_id,
                name: t.name,
                created_at: t.remote_created_at,
            };
            by_group.entry(t.group_remote_id).or_default().push(tag);
        }
        let mut snapshot = Snapshot::default();
        for g in groups {
            let mut tags = by_group.remove(&g.remote_id).unwrap_or_default();
            tags.sort_by(|a, b| display_order(a.order, &a.id, b.order, &b.id));
            snapshot.groups.push(RemoteGroup {
                order: order_from_column("tag_groups.sort_order", g.sort_order)?,
                id: g.remote_id,
                name: g.name,
                created_at: g.remote_created_at,
                tags,
            });
        }
        snapshot
            .groups
            .sort_by(|a, b| display_order(a.order, &a.id, b.order, &b.id));
        Ok(snapshot)
    }

    /// Which remote object each declared key is bound to on the platform.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn bindings(&self, platform: &str) -> Result<Bindings, Error> {
        let sql = "SELECT object, group_key, tag_key, remote_id FROM bindings WHERE platform = $1";
        let rows: Vec<rows::Binding> = on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(platform)
            .fetch_all(pool)
            .await)
        .ctx("read bindings")?;
        let mut bindings = Bindings::default();
        for r in rows {
            match Object::from_column("bindings.object", &r.object)? {
                Object::Group => {
                    bindings.groups.insert(r.group_key, r.remote_id);
                }
                Object::Tag => {
                    bindings.tags.insert((r.group_key, r.tag_key), r.remote_id);
                }
            }
        }
        Ok(bindings)
    }

    /// Binds a group key to a remote group id, replacing the key's earlier binding.
    ///
    /// A remote object is bound to at most one key: binding `remote_id` to this key unbinds it from
    /// any other. `bound_at` only changes when the id does.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn bind_group(
        &self,
        platform: &str,
        group_key: &str,
        remote_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        self.bind(platform, Object::Group, group_key, "", remote_id, ts(now))
            .await
    }

    /// Binds a tag key (within its group key) to a remote tag id, replacing the key's earlier
    /// binding; like [`Store::bind_group`], a remote tag is bound to at most one key.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn bind_tag(
        &self,
        platform: &str,
        group_key: &str,
        tag_key: &str,
        remote_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        self.bind(
            platform,
            Object::Tag,
            group_key,
            tag_key,
            remote_id,
            ts(now),
        )
        .await
    }

    async fn bind(
        &self,
        platform: &str,
        object: Object,
        group_key: &str,
        tag_key: &str,
        remote_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        const WHAT: &str = "record a binding";
        in_tx!(self, WHAT, |tx| {
            ensure_platform!(tx, platform, WHAT);
            sqlx::query(
                "DELETE FROM bindings
                 WHERE platform = $1 AND object = $2 AND remote_id = $3
                   AND NOT (group_key = $4 AND tag_key = $5)",
            )
            .bind(platform)
            .bind(object.as_str())
            .bind(remote_id)
            .bind(group_key)
            .bind(tag_key)
            .execute(&mut *tx)
            .await
            .ctx(WHAT)?;
            sqlx::query(
                "INSERT INTO bindings (platform, object, group_key, tag_key, remote_id, bound_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (platform, object, group_key, tag_key) DO UPDATE
                 SET remote_id = excluded.remote_id,
                     bound_at = CASE WHEN bindings.remote_id = excluded.remote_id
                                     THEN bindings.bound_at ELSE excluded.bound_at END",
            )
            .bind(platform)
            .bind(object.as_str())
            .bind(group_key)
            .bind(tag_key)
            .bind(remote_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .ctx(WHAT)?;
        });
        Ok(())
    }

    /// Forgets a tag key's binding (nothing happens if there is none).
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn unbind_tag(
        &self,
        platform: &str,
        group_key: &str,
        tag_key: &str,
    ) -> Result<(), Error> {
        let sql = "DELETE FROM bindings
                   WHERE platform = $1 AND object = 'tag' AND group_key = $2 AND tag_key = $3";
        on_pool!(self, |pool| {
            let query = sqlx::query(sql)
                .bind(platform)
                .bind(group_key)
                .bind(tag_key);
            query.execute(pool).await.map(drop)
        })
        .ctx("remove a binding")
    }

    /// Forgets a group key's binding and those of every tag key in it.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn unbind_group(&self, platform: &str, group_key: &str) -> Result<(), Error> {
        let sql = "DELETE FROM bindings WHERE platform = $1 AND group_key = $2";
        on_pool!(self, |pool| {
            let query = sqlx::query(sql).bind(platform).bind(group_key);
            query.execute(pool).await.map(drop)
        })
        .ctx("remove a binding")
    }

    /// Records an event tagsync made itself (source 'apply') without touching `tag_groups`/`tags`.
    /// For a change the platform confirmed, [`Store::record_applied`] is usually what you want: it
    /// also updates the mirror.
    ///
    /// # Errors
    /// [`Error::UnknownPlatform`], [`Error::UnknownRun`] if `run` is not a run of this platform.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn record_event(
        &self,
        platform: &str,
        event: &NewEvent,
        run: Option<RunId>,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        const WHAT: &str = "record an event";
        let now = ts(now);
        in_tx!(self, WHAT, |tx| {
            ensure_platform!(tx, platform, WHAT);
            if let Some(run) = run {
                ensure_run!(tx, run, platform, WHAT);
            }
            insert_event!(tx, platform, event, EventSource::Apply, run, now, WHAT);
        });
        Ok(())
    }

    /// Records a change tagsync made and the platform confirmed, with 'apply' events. The mirror's
    /// `tag_groups`/`tags` rows follow at once, so a platform without a list call still has a
    /// current mirror, and the next pull of one with a list call finds nothing new to report.
    ///
    /// Created objects are recorded as a partial listing would record them: 'created', or
    /// 'renamed'/'reordered' if the mirror already held them (say, after a lost response). An edit
    /// changes only the fields it names. Deleted tags get `deleted_at`. An edit or deletion of an
    /// object the mirror does not hold writes its event all the same (old value NULL); one the
    /// mirror already shows as done writes nothing.
    ///
    /// # Errors
    /// [`Error::UnknownPlatform`], [`Error::UnknownRun`] if `run` is not a run of this platform,
    /// [`Error::UnknownObject`] for tags added to a group the mirror does not hold.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn record_applied(
        &self,
        platform: &str,
        change: &Applied,
        run: Option<RunId>,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        const WHAT: &str = "record an applied change";
        let now = ts(now);
        in_tx!(self, WHAT, |tx| {
            ensure_platform!(tx, platform, WHAT);
            if let Some(run) = run {
                ensure_run!(tx, run, platform, WHAT);
            }
            match change {
                Applied::GroupCreated(_) | Applied::TagsCreated { .. } => {
                    let group = match change {
                        Applied::GroupCreated(group) => group.clone(),
                        Applied::TagsCreated { group_id, tags } => {
                            let sql = concat!(select_known!(), " FROM tag_groups ", by_id!());
                            let known: Option<rows::Known> = sqlx::query_as(sql)
                                .bind(platform)
                                .bind(group_id)
                                .fetch_optional(&mut *tx)
                                .await
                                .ctx(WHAT)?;
                            let Some(known) = known else {
                                return Err(Error::UnknownObject {
                                    object: Object::Group,
                                    remote_id: group_id.clone(),
                                });
                            };
                            RemoteGroup {
                                id: known.remote_id,
                                name: known.name,
                                order: order_from_column(
                                    "tag_groups.sort_order",
                                    known.sort_order,
                                )?,
                                created_at: None,
                                tags: tags.clone(),
                            }
                        }
                        _ => unreachable!("matched above"),
                    };
                    let listing = Snapshot {
                        groups: vec![group],
                    };
                    record_listing!(
                        tx,
                        platform,
                        &listing,
                        false,
                        EventSource::Apply,
                        run,
                        now,
                        WHAT
                    );
                }
                Applied::GroupEdited { id, name, order }
                | Applied::TagEdited { id, name, order } => {
                    let (object, table) = match change {
                        Applied::GroupEdited { .. } => (Object::Group, "tag_groups"),
                        _ => (Object::Tag, "tags"),
                    };
                    let sql = format!(concat!(select_known!(), " FROM {} ", by_id!()), table);
                    let known: Option<rows::Known> = sqlx::query_as(&sql)
                        .bind(platform)
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await
                        .ctx(WHAT)?;
                    for event in edit_events(object, id, known.as_ref(), name.as_deref(), *order) {
                        insert_event!(tx, platform, event, EventSource::Apply, run, now, WHAT);
                    }
                    if known.is_some() {
                        let sql = format!(
                            "UPDATE {table} SET name = COALESCE($3, name),
                                 sort_order = COALESCE($4, sort_order)
                             WHERE platform = $1 AND remote_id = $2"
                        );
                        sqlx::query(&sql)
                            .bind(platform)
                            .bind(id)
                            .bind(name)
                            .bind(order.map(i64::from))
                            .execute(&mut *tx)
                            .await
                            .ctx(WHAT)?;
                    }
                }
                Applied::TagsDeleted { ids } => {
                    for id in ids {
                        let sql = concat!(select_known!(), " FROM tags ", by_id!());
                        let known: Option<rows::Known> = sqlx::query_as(sql)
                            .bind(platform)
                            .bind(id)
                            .fetch_optional(&mut *tx)
                            .await
                            .ctx(WHAT)?;
                        if known.as_ref().is_some_and(|k| k.deleted_at.is_some()) {
                            continue;
                        }
                        sqlx::query(
                            "UPDATE tags SET deleted_at = $3 WHERE platform = $1 AND remote_id = $2",
                        )
                        .bind(platform)
                        .bind(id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .ctx(WHAT)?;
                        let event = NewEvent {
                            object: Object::Tag,
                            remote_id: id.clone(),
                            kind: EventKind::Deleted,
                            old_value: known.map(|k| k.name),
                            new_value: None,
                        };
                        insert_event!(tx, platform, event, EventSource::Apply, run, now, WHAT);
                    }
                }
            }
        });
        Ok(())
    }

    /// Remembers that a remote group refused tagsync because someone else owns it. Marking it again
    /// keeps the first time.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn mark_not_ours(
        &self,
        platform: &str,
        group_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        const WHAT: &str = "mark a group as not ours";
        let now = ts(now);
        in_tx!(self, WHAT, |tx| {
            ensure_platform!(tx, platform, WHAT);
            sqlx::query(
                "INSERT INTO not_ours (platform, remote_id, marked_at) VALUES ($1, $2, $3)
                 ON CONFLICT (platform, remote_id) DO NOTHING",
            )
            .bind(platform)
            .bind(group_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .ctx(WHAT)?;
        });
        Ok(())
    }

    /// Takes or renews the lease `name` for `holder` until `now + ttl`, unless another holder's
    /// lease is still running. Returns `None` when taken, or the current holder and its expiry.
    ///
    /// One statement decides, so two processes racing for a free lease cannot both get it (SQLite
    /// serialises writers; PostgreSQL's `ON CONFLICT` locks the row).
    #[tracing::instrument(skip_all, fields(lease = %name))]
    pub async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<(String, DateTime<Utc>)>, Error> {
        const WHAT: &str = "take a lease";
        let until = ts(now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX));
        let now = ts(now);
        let taken: Option<String> = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                 WHERE leases.expires_at < $4 OR leases.holder = $2
                 RETURNING holder",
            )
            .bind(name)
            .bind(holder)
            .bind(until)
            .bind(now)
            .fetch_optional(pool)
            .await
            .ctx(WHAT)?
        });
        if taken.is_some() {
            return Ok(None);
        }
        let current: Option<(String, DateTime<Utc>)> = on_pool!(self, |pool| {
            sqlx::query_as("SELECT holder, expires_at FROM leases WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await
                .ctx(WHAT)?
        });
        // Released between the two statements: report it free-but-missed; the caller tries again.
        Ok(Some(current.unwrap_or_else(|| (String::new(), now))))
    }

    /// Gives the lease up, if `holder` still has it.
    #[tracing::instrument(skip_all, fields(lease = %name))]
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<(), Error> {
        const WHAT: &str = "release a lease";
        on_pool!(self, |pool| {
            sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
                .bind(name)
                .bind(holder)
                .execute(pool)
                .await
                .ctx(WHAT)?;
        });
        Ok(())
    }

    /// The remote group ids of the platform that [`Store::mark_not_ours`] recorded.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn not_ours(&self, platform: &str) -> Result<BTreeSet<String>, Error> {
        let sql = "SELECT remote_id FROM not_ours WHERE platform = $1";
        let ids: Vec<String> = on_pool!(self, |pool| sqlx::query_scalar(sql)
            .bind(platform)
            .fetch_all(pool)
            .await)
        .ctx("read groups not ours")?;
        Ok(ids.into_iter().collect())
    }

    /// Starts a run (status 'running') and returns its id.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn start_run(
        &self,
        platform: &str,
        trigger: &str,
        now: DateTime<Utc>,
    ) -> Result<RunId, Error> {
        const WHAT: &str = "start a run";
        let now = ts(now);
        let run = in_tx!(self, WHAT, |tx| {
            ensure_platform!(tx, platform, WHAT);
            let id: i64 = sqlx::query_scalar(
                r#"INSERT INTO sync_runs (platform, "trigger", started_at, status)
                   VALUES ($1, $2, $3, 'running') RETURNING id"#,
            )
            .bind(platform)
            .bind(trigger)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .ctx(WHAT)?;
            id
        });
        Ok(run)
    }

    /// Finishes a run with its outcome. Also sets the platform's `last_error` to the outcome's
    /// error (clearing it on success), and its `last_apply_at` when an operation was applied.
    ///
    /// # Errors
    /// [`Error::UnknownRun`].
    #[tracing::instrument(skip_all, fields(run = run))]
    pub async fn finish_run(
        &self,
        run: RunId,
        outcome: &RunOutcome,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        const WHAT: &str = "finish a run";
        let now = ts(now);
        in_tx!(self, WHAT, |tx| {
            let platform: Option<String> = sqlx::query_scalar(
                "UPDATE sync_runs
                 SET finished_at = $2, status = $3, planned = $4, applied = $5, failed = $6,
                     api_calls = $7, error = $8
                 WHERE id = $1 RETURNING platform",
            )
            .bind(run)
            .bind(now)
            .bind(outcome.status.as_str())
            .bind(outcome.planned)
            .bind(outcome.applied)
            .bind(outcome.failed)
            .bind(outcome.api_calls)
            .bind(&outcome.error)
            .fetch_optional(&mut *tx)
            .await
            .ctx(WHAT)?;
            let Some(platform) = platform else {
                return Err(Error::UnknownRun { run });
            };
            sqlx::query(
                "UPDATE platforms
                 SET last_error = $2, updated_at = $3,
                     last_apply_at = CASE WHEN $4 THEN $3 ELSE last_apply_at END
                 WHERE name = $1",
            )
            .bind(&platform)
            .bind(&outcome.error)
            .bind(now)
            .bind(outcome.applied > 0)
            .execute(&mut *tx)
            .await
            .ctx(WHAT)?;
        });
        Ok(())
    }

    /// Journals an operation as an intent, before it is sent, and returns its id. `request` is a
    /// summary for people: it must never hold a secret. `seq` is unique within the run.
    ///
    /// # Errors
    /// [`Error::UnknownRun`] if `run` is not a run of this platform; a [`Error::Query`] if `seq`
    /// is taken.
    #[allow(clippy::too_many_arguments)] // The operation's columns, each one meaningful.
    #[tracing::instrument(skip_all, fields(platform = %platform, run = run, seq = seq))]
    pub async fn record_intent(
        &self,
        run: RunId,
        platform: &str,
        seq: i64,
        kind: &str,
        target: &str,
        request: &str,
        now: DateTime<Utc>,
    ) -> Result<OperationId, Error> {
        const WHAT: &str = "record an operation";
        let now = ts(now);
        let id = in_tx!(self, WHAT, |tx| {
            ensure_run!(tx, run, platform, WHAT);
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO operations (run_id, platform, seq, kind, target, request, status,
                     attempts, created_at, started_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 'intent', 0, $7, $7) RETURNING id",
            )
            .bind(run)
            .bind(platform)
            .bind(seq)
            .bind(kind)
            .bind(target)
            .bind(request)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .ctx(WHAT)?;
            id
        });
        Ok(id)
    }

    /// Records what became of an operation.
    ///
    /// # Errors
    /// [`Error::UnknownOperation`].
    #[tracing::instrument(skip_all, fields(operation = op, status = %status))]
    pub async fn record_outcome(
        &self,
        op: OperationId,
        status: OpStatus,
        attempts: i64,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let sql = "UPDATE operations SET status = $2, attempts = $3, error = $4, finished_at = $5
                   WHERE id = $1";
        let now = ts(now);
        let updated = on_pool!(self, |pool| {
            let query = sqlx::query(sql)
                .bind(op)
                .bind(status.as_str())
                .bind(attempts);
            query
                .bind(error)
                .bind(now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .ctx("record an operation's outcome")?;
        if updated == 0 {
            return Err(Error::UnknownOperation { operation: op });
        }
        Ok(())
    }

    /// Operations of this platform still in status 'intent' (no outcome recorded), oldest first:
    /// each may or may not have reached the platform.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn pending_intents(&self, platform: &str) -> Result<Vec<OperationRow>, Error> {
        let sql = concat!(
            select_operations!(),
            " WHERE platform = $1 AND status = 'intent' ORDER BY id"
        );
        let rows: Vec<rows::Operation> = on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(platform)
            .fetch_all(pool)
            .await)
        .ctx("read pending operations")?;
        rows.into_iter().map(OperationRow::try_from).collect()
    }

    /// The operations of a run, in `seq` order.
    #[tracing::instrument(skip_all, fields(run = run))]
    pub async fn operations(&self, run: RunId) -> Result<Vec<OperationRow>, Error> {
        let sql = concat!(select_operations!(), " WHERE run_id = $1 ORDER BY seq, id");
        let rows: Vec<rows::Operation> = on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(run)
            .fetch_all(pool)
            .await)
        .ctx("read operations")?;
        rows.into_iter().map(OperationRow::try_from).collect()
    }

    /// The platform's latest `limit` runs, newest first.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn runs(&self, platform: &str, limit: i64) -> Result<Vec<RunRow>, Error> {
        let sql = r#"SELECT id, platform, "trigger", started_at, finished_at, status, planned,
                            applied, failed, api_calls, error
                     FROM sync_runs WHERE platform = $1 ORDER BY id DESC LIMIT $2"#;
        let rows: Vec<rows::Run> = on_pool!(self, |pool| {
            sqlx::query_as(sql)
                .bind(platform)
                .bind(limit)
                .fetch_all(pool)
                .await
        })
        .ctx("read runs")?;
        rows.into_iter().map(RunRow::try_from).collect()
    }

    /// Replaces the platform's rows of `desired_state` (what `v_drift` shows) with `rows`.
    ///
    /// # Errors
    /// [`Error::UnknownPlatform`]; a [`Error::Query`] if a status is not one the schema knows or
    /// two rows share a key.
    #[tracing::instrument(skip_all, fields(platform = %platform, rows = rows.len()))]
    pub async fn replace_desired_state(
        &self,
        platform: &str,
        rows: &[DesiredStateRow],
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        const WHAT: &str = "record the desired state";
        let now = ts(now);
        in_tx!(self, WHAT, |tx| {
            ensure_platform!(tx, platform, WHAT);
            sqlx::query("DELETE FROM desired_state WHERE platform = $1")
                .bind(platform)
                .execute(&mut *tx)
                .await
                .ctx(WHAT)?;
            for row in rows {
                sqlx::query(
                    "INSERT INTO desired_state (platform, group_key, tag_key, group_name, tag_name,
                         status, detail, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(platform)
                .bind(&row.group_key)
                .bind(row.tag_key.as_deref().unwrap_or(""))
                .bind(&row.group_name)
                .bind(&row.tag_name)
                .bind(&row.status)
                .bind(&row.detail)
                .bind(now)
                .execute(&mut *tx)
                .await
                .ctx(WHAT)?;
            }
        });
        Ok(())
    }

    /// The platform's desired state as the last plan judged it (the `v_drift` view), by key.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn drift(&self, platform: &str) -> Result<Vec<DesiredStateRow>, Error> {
        let sql = "SELECT group_key, tag_key, group_name, tag_name, status, detail FROM v_drift
                   WHERE platform = $1 ORDER BY group_key, tag_key";
        let rows: Vec<rows::Drift> = on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(platform)
            .fetch_all(pool)
            .await)
        .ctx("read the drift")?;
        Ok(rows
            .into_iter()
            .map(|r| DesiredStateRow {
                group_key: r.group_key,
                tag_key: Some(r.tag_key).filter(|k| !k.is_empty()),
                group_name: r.group_name,
                tag_name: r.tag_name,
                status: r.status,
                detail: r.detail,
            })
            .collect())
    }

    /// Every event of the platform, oldest first.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn events(&self, platform: &str) -> Result<Vec<EventRow>, Error> {
        let sql = "SELECT id, platform, object, remote_id, kind, old_value, new_value, source,
                          run_id, at
                   FROM tag_events WHERE platform = $1 ORDER BY id";
        let rows: Vec<rows::Event> = on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(platform)
            .fetch_all(pool)
            .await)
        .ctx("read events")?;
        rows.into_iter().map(EventRow::try_from).collect()
    }

    /// Every recorded platform, by name.
    pub async fn platform_rows(&self) -> Result<Vec<PlatformRow>, Error> {
        let sql = "SELECT name, kind, mode, last_pull_at, last_apply_at, last_error, updated_at
                   FROM platforms ORDER BY name";
        let rows: Vec<rows::Platform> =
            on_pool!(self, |pool| sqlx::query_as(sql).fetch_all(pool).await)
                .ctx("read platforms")?;
        Ok(rows.into_iter().map(PlatformRow::from).collect())
    }

    /// Queues a customer mark, due at once, and returns its id.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn queue_mark(
        &self,
        platform: &str,
        mark: &NewMark,
        now: DateTime<Utc>,
    ) -> Result<MarkId, Error> {
        const WHAT: &str = "queue a mark";
        let now = ts(now);
        let add = json_list(&mark.add_tags);
        let remove = json_list(&mark.remove_tags);
        let id = in_tx!(self, WHAT, |tx| {
            ensure_platform!(tx, platform, WHAT);
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO mark_requests (platform, contact, user_id, add_tags, remove_tags,
                     status, attempts, next_attempt_at, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $6, $6) RETURNING id",
            )
            .bind(platform)
            .bind(&mark.contact)
            .bind(&mark.user_id)
            .bind(&add)
            .bind(&remove)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .ctx(WHAT)?;
            id
        });
        Ok(id)
    }

    /// The platform's queued marks due at `now`, oldest due first, at most `limit`.
    #[tracing::instrument(skip_all, fields(platform = %platform))]
    pub async fn due_marks(
        &self,
        platform: &str,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<MarkRow>, Error> {
        let sql = "SELECT id, platform, contact, user_id, add_tags, remove_tags, status, attempts,
                          next_attempt_at, last_error, created_at, updated_at
                   FROM mark_requests
                   WHERE platform = $1 AND status = 'queued' AND next_attempt_at <= $2
                   ORDER BY next_attempt_at, id LIMIT $3";
        let now = ts(now);
        let rows: Vec<rows::Mark> = on_pool!(self, |pool| {
            sqlx::query_as(sql)
                .bind(platform)
                .bind(now)
                .bind(limit)
                .fetch_all(pool)
                .await
        })
        .ctx("read due marks")?;
        rows.into_iter().map(MarkRow::try_from).collect()
    }

    /// Records one attempt at a mark: its new status and error, one more attempt, and (while it
    /// stays queued) when to try again.
    ///
    /// # Errors
    /// [`Error::UnknownMark`].
    #[tracing::instrument(skip_all, fields(mark = mark, status = %status))]
    pub async fn record_mark_attempt(
        &self,
        mark: MarkId,
        status: MarkStatus,
        error: Option<&str>,
        next_attempt_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let sql = "UPDATE mark_requests
                   SET status = $2, last_error = $3, attempts = attempts + 1,
                       next_attempt_at = COALESCE($4, next_attempt_at), updated_at = $5
                   WHERE id = $1";
        let (next, now) = (next_attempt_at.map(ts), ts(now));
        let updated = on_pool!(self, |pool| {
            let query = sqlx::query(sql)
                .bind(mark)
                .bind(status.as_str())
                .bind(error);
            query
                .bind(next)
                .bind(now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .ctx("record a mark attempt")?;
        if updated == 0 {
            return Err(Error::UnknownMark { mark });
        }
        Ok(())
    }
}

/// The events of an edit: 'renamed' and/or 'reordered' for each field it names that differs from
/// what the mirror holds (everything differs from an object the mirror does not hold).
fn edit_events(
    object: Object,
    id: &str,
    known: Option<&rows::Known>,
    name: Option<&str>,
    order: Option<u32>,
) -> Vec<NewEvent> {
    let event = |kind, old_value, new_value| NewEvent {
        object,
        remote_id: id.to_owned(),
        kind,
        old_value,
        new_value,
    };
    let mut events = Vec::new();
    if let Some(new) = name {
        let old = known.map(|k| k.name.clone());
        if old.as_deref() != Some(new) {
            events.push(event(EventKind::Renamed, old, Some(new.to_owned())));
        }
    }
    if let Some(new) = order.map(i64::from) {
        let old = known.and_then(|k| k.sort_order);
        if known.is_none() || old != Some(new) {
            let old = old.map(|o| o.to_string());
            events.push(event(EventKind::Reordered, old, Some(new.to_string())));
        }
    }
    events
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
    fn display_order_puts_unordered_last() {
        let mut v = [(None, "a"), (Some(1), "b"), (Some(9), "c"), (Some(1), "a")];
        v.sort_by(|x, y| display_order(x.0, x.1, y.0, y.1));
        assert_eq!(
            v,
            [(Some(9), "c"), (Some(1), "a"), (Some(1), "b"), (None, "a")]
        );
    }
}

//! The store's one error type.

use super::{MarkId, Object, OperationId, RunId};

/// Why a store call failed.
///
/// Nothing here ever holds a full database URL: a URL may carry a password, so errors name only its
/// scheme and host (or, for SQLite, its file).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database URL names no backend the store speaks (only `sqlite:`, `postgres:` and
    /// `postgresql:` are known).
    #[error(
        "unsupported database URL scheme {scheme:?}: expected sqlite:, postgres: or postgresql:"
    )]
    UnsupportedUrl { scheme: String },

    /// The URL could not be parsed, or the database could not be reached or created.
    #[error("cannot open the database at {target}")]
    Open {
        /// The URL's scheme and host (or SQLite file), never its credentials.
        target: String,
        #[source]
        source: sqlx::Error,
    },

    /// The embedded migrations could not be applied (or the database holds migrations this build
    /// does not know, i.e. a newer tagsync wrote it).
    #[error("cannot migrate the database at {target}")]
    Migrate {
        target: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },

    /// A statement failed: lost connection, lock timeout, constraint violation.
    #[error("the mirror database failed while trying to {what}")]
    Query {
        /// What the store was doing, e.g. "record a snapshot".
        what: &'static str,
        #[source]
        source: sqlx::Error,
    },

    /// A write named a platform that `upsert_platform` has not recorded.
    #[error("platform {platform:?} is not in the mirror (upsert_platform first)")]
    UnknownPlatform { platform: String },

    /// A write named a run that `start_run` did not return.
    #[error("run {run} is not in the mirror")]
    UnknownRun { run: RunId },

    /// A write named an operation that `record_intent` did not return.
    #[error("operation {operation} is not in the mirror")]
    UnknownOperation { operation: OperationId },

    /// A change named a remote object the mirror has never seen where it needs one (tags added to
    /// a group it does not hold).
    #[error("the mirror holds no {object} with id {remote_id:?} on this platform")]
    UnknownObject { object: Object, remote_id: String },

    /// A write named a mark that `queue_mark` did not return.
    #[error("mark request {mark} is not in the mirror")]
    UnknownMark { mark: MarkId },

    /// A row holds a value this build does not understand (written by a newer tagsync or by hand).
    #[error("the mirror holds {value:?} in {column}, which this version of tagsync does not know")]
    Corrupt { column: &'static str, value: String },
}

/// Attaches what the store was doing to a failed sqlx call.
pub(super) trait Context<T> {
    fn ctx(self, what: &'static str) -> Result<T, Error>;
}

impl<T> Context<T> for Result<T, sqlx::Error> {
    fn ctx(self, what: &'static str) -> Result<T, Error> {
        self.map_err(|source| Error::Query { what, source })
    }
}

-- The mirror (SPEC §4). Table, view and column names are a contract analysts query: keep them.
-- PostgreSQL flavour: times are TIMESTAMPTZ, integers are BIGINT, ids of remote objects are text.
-- The SQLite flavour (migrations/sqlite) has the same tables, columns and constraints.

-- One row per configured platform.
CREATE TABLE platforms (
    name          TEXT PRIMARY KEY NOT NULL,
    kind          TEXT NOT NULL,
    mode          TEXT NOT NULL,
    last_pull_at  TIMESTAMPTZ,
    last_apply_at TIMESTAMPTZ,
    last_error    TEXT,
    updated_at    TIMESTAMPTZ NOT NULL
);

-- One row per pull/plan/apply cycle of one platform.
CREATE TABLE sync_runs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform    TEXT NOT NULL REFERENCES platforms (name),
    "trigger"   TEXT NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    status      TEXT NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'succeeded', 'failed', 'partial')),
    planned     BIGINT NOT NULL DEFAULT 0,
    applied     BIGINT NOT NULL DEFAULT 0,
    failed      BIGINT NOT NULL DEFAULT 0,
    api_calls   BIGINT NOT NULL DEFAULT 0,
    error       TEXT
);
CREATE INDEX sync_runs_platform ON sync_runs (platform, id);

-- One row per operation of a run: written as an intent before it is sent, then given its outcome.
CREATE TABLE operations (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      BIGINT NOT NULL REFERENCES sync_runs (id),
    platform    TEXT NOT NULL REFERENCES platforms (name),
    seq         BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    target      TEXT NOT NULL,
    request     TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'intent'
                CHECK (status IN ('intent', 'succeeded', 'failed', 'not_ours', 'skipped')),
    attempts    BIGINT NOT NULL DEFAULT 0,
    error       TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    started_at  TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    UNIQUE (run_id, seq)
);
CREATE INDEX operations_status ON operations (status, platform, id);

-- One row per remote group ever seen. Never hard-deleted: a vanished group gets deleted_at.
CREATE TABLE tag_groups (
    platform          TEXT NOT NULL REFERENCES platforms (name),
    remote_id         TEXT NOT NULL,
    name              TEXT NOT NULL,
    sort_order        BIGINT,
    remote_created_at TIMESTAMPTZ,
    first_seen_at     TIMESTAMPTZ NOT NULL,
    last_seen_at      TIMESTAMPTZ NOT NULL,
    deleted_at        TIMESTAMPTZ,
    PRIMARY KEY (platform, remote_id)
);

-- One row per remote tag ever seen. Never hard-deleted: a vanished tag gets deleted_at.
CREATE TABLE tags (
    platform          TEXT NOT NULL REFERENCES platforms (name),
    remote_id         TEXT NOT NULL,
    group_remote_id   TEXT NOT NULL,
    name              TEXT NOT NULL,
    sort_order        BIGINT,
    remote_created_at TIMESTAMPTZ,
    first_seen_at     TIMESTAMPTZ NOT NULL,
    last_seen_at      TIMESTAMPTZ NOT NULL,
    deleted_at        TIMESTAMPTZ,
    PRIMARY KEY (platform, remote_id),
    FOREIGN KEY (platform, group_remote_id) REFERENCES tag_groups (platform, remote_id)
);
CREATE INDEX tags_group ON tags (platform, group_remote_id);

-- One row per change seen in a platform ('pull') or made by tagsync ('apply').
CREATE TABLE tag_events (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform  TEXT NOT NULL REFERENCES platforms (name),
    object    TEXT NOT NULL CHECK (object IN ('group', 'tag')),
    remote_id TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('created', 'renamed', 'reordered', 'deleted')),
    old_value TEXT,
    new_value TEXT,
    source    TEXT NOT NULL CHECK (source IN ('pull', 'apply')),
    run_id    BIGINT REFERENCES sync_runs (id),
    at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX tag_events_platform_at ON tag_events (platform, at);

-- Which remote object each declared key is bound to; tag_key is '' for a group.
CREATE TABLE bindings (
    platform  TEXT NOT NULL REFERENCES platforms (name),
    object    TEXT NOT NULL CHECK (object IN ('group', 'tag')),
    group_key TEXT NOT NULL,
    tag_key   TEXT NOT NULL DEFAULT '',
    remote_id TEXT NOT NULL,
    bound_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (platform, object, group_key, tag_key),
    CHECK ((object = 'group') = (tag_key = ''))
);
-- A remote object is bound to at most one key.
CREATE UNIQUE INDEX bindings_remote ON bindings (platform, object, remote_id);

-- Customer marks queued by `tagsync mark`; add_tags and remove_tags are JSON arrays of "GROUP/TAG".
CREATE TABLE mark_requests (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform        TEXT NOT NULL REFERENCES platforms (name),
    contact         TEXT NOT NULL,
    user_id         TEXT,
    add_tags        TEXT NOT NULL DEFAULT '[]',
    remove_tags     TEXT NOT NULL DEFAULT '[]',
    status          TEXT NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'succeeded', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX mark_requests_due ON mark_requests (status, next_attempt_at);

-- The desired state of each platform as the last plan saw it; tag_key is '' for a group row.
CREATE TABLE desired_state (
    platform   TEXT NOT NULL REFERENCES platforms (name),
    group_key  TEXT NOT NULL,
    tag_key    TEXT NOT NULL DEFAULT '',
    group_name TEXT NOT NULL,
    tag_name   TEXT,
    status     TEXT NOT NULL
               CHECK (status IN ('present', 'missing', 'renamed', 'reordered', 'extra', 'not_supported')),
    detail     TEXT,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (platform, group_key, tag_key)
);

-- Named leases ("one writer per platform"); not used yet.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY NOT NULL,
    holder     TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

-- Live tags with their live group.
CREATE VIEW v_current_tags AS
SELECT t.platform,
       t.group_remote_id,
       g.name          AS group_name,
       g.sort_order    AS group_order,
       t.remote_id     AS tag_remote_id,
       t.name          AS tag_name,
       t.sort_order    AS tag_order,
       t.remote_created_at,
       t.first_seen_at,
       t.last_seen_at
FROM tags t
JOIN tag_groups g ON g.platform = t.platform AND g.remote_id = t.group_remote_id
WHERE t.deleted_at IS NULL AND g.deleted_at IS NULL;

-- Desired tags per platform and how each stands.
CREATE VIEW v_drift AS
SELECT platform, group_key, tag_key, group_name, tag_name, status, detail, updated_at
FROM desired_state;

-- Dead letters by name (issue 12): a mark request given up on (retries exhausted, or refused for
-- good) has status 'dead', no longer 'failed', the reason still in last_error.
-- SQLite cannot change a CHECK in place: the table is rebuilt (ids kept), its indexes with it.
CREATE TABLE mark_requests_new (
    id              INTEGER PRIMARY KEY,
    platform        TEXT NOT NULL REFERENCES platforms (name),
    contact         TEXT NOT NULL,
    user_id         TEXT,
    add_tags        TEXT NOT NULL DEFAULT '[]',
    remove_tags     TEXT NOT NULL DEFAULT '[]',
    status          TEXT NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'claimed', 'succeeded', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    last_error      TEXT,
    claimed_by      TEXT,
    claimed_until   TEXT,
    finished_at     TEXT,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
);
INSERT INTO mark_requests_new (id, platform, contact, user_id, add_tags, remove_tags, status,
    attempts, next_attempt_at, last_error, claimed_by, claimed_until, finished_at, created_at,
    updated_at)
SELECT id, platform, contact, user_id, add_tags, remove_tags,
    CASE status WHEN 'failed' THEN 'dead' ELSE status END,
    attempts, next_attempt_at, last_error, claimed_by, claimed_until, finished_at, created_at,
    updated_at
FROM mark_requests;
DROP TABLE mark_requests;
ALTER TABLE mark_requests_new RENAME TO mark_requests;
CREATE INDEX mark_requests_pending ON mark_requests (platform, status, next_attempt_at);
CREATE INDEX mark_requests_contact ON mark_requests (platform, contact, user_id, id);
CREATE INDEX mark_requests_platform_status ON mark_requests (platform, status, created_at);
-- The delivery rate of `status` (delivered in the last hour).
CREATE INDEX mark_requests_finished ON mark_requests (platform, status, finished_at);

-- The mark queue as an outbox (issue 12): a request is claimed (holder, lease) before it is sent
-- and gets its outcome after; 'failed' is dead: given up on, with the reason in last_error (the
-- spelling docs/REPORTING.md already queries). Times have
-- defaults so that another system enqueues with a plain INSERT naming only platform, contact,
-- user_id, add_tags and remove_tags (README, "Enqueueing marks from other systems").
-- SQLite cannot change a CHECK or a default in place: the table is rebuilt (ids kept).
CREATE TABLE mark_requests_new (
    id              INTEGER PRIMARY KEY,
    platform        TEXT NOT NULL REFERENCES platforms (name),
    contact         TEXT NOT NULL,
    user_id         TEXT,
    add_tags        TEXT NOT NULL DEFAULT '[]',
    remove_tags     TEXT NOT NULL DEFAULT '[]',
    status          TEXT NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'claimed', 'succeeded', 'failed')),
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
    attempts, next_attempt_at, last_error, created_at, updated_at)
SELECT id, platform, contact, user_id, add_tags, remove_tags,
    status,
    attempts, next_attempt_at, last_error, created_at, updated_at
FROM mark_requests;
DROP TABLE mark_requests;
ALTER TABLE mark_requests_new RENAME TO mark_requests;
-- What a drain looks for: the platform's unfinished requests, and each customer's in id order.
CREATE INDEX mark_requests_pending ON mark_requests (platform, status, next_attempt_at);
CREATE INDEX mark_requests_contact ON mark_requests (platform, contact, user_id, id);

-- Each customer's tag set as tagsync last set it, for platforms whose mark call replaces the
-- whole set (Miaokol `updateContact`): tag_ids is a JSON array of the platform's tag ids.
CREATE TABLE mark_contacts (
    platform   TEXT NOT NULL REFERENCES platforms (name),
    contact    TEXT NOT NULL,
    user_id    TEXT NOT NULL DEFAULT '',
    tag_ids    TEXT NOT NULL DEFAULT '[]',
    updated_at TEXT NOT NULL,
    PRIMARY KEY (platform, contact, user_id)
);

-- The mark queue as an outbox (issue 12): a request is claimed (holder, lease) before it is sent
-- and gets its outcome after; 'failed' is dead: given up on, with the reason in last_error (the
-- spelling docs/REPORTING.md already queries). Times have
-- defaults so that another system enqueues with a plain INSERT naming only platform, contact,
-- user_id, add_tags and remove_tags (README, "Enqueueing marks from other systems").
ALTER TABLE mark_requests DROP CONSTRAINT mark_requests_status_check;
ALTER TABLE mark_requests ADD CONSTRAINT mark_requests_status_check
    CHECK (status IN ('queued', 'claimed', 'succeeded', 'failed'));
ALTER TABLE mark_requests
    ALTER COLUMN next_attempt_at SET DEFAULT now(),
    ALTER COLUMN created_at SET DEFAULT now(),
    ALTER COLUMN updated_at SET DEFAULT now(),
    ADD COLUMN claimed_by TEXT,
    ADD COLUMN claimed_until TIMESTAMPTZ,
    ADD COLUMN finished_at TIMESTAMPTZ;
DROP INDEX mark_requests_due;
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
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (platform, contact, user_id)
);

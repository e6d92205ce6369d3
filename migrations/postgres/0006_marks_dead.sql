-- Dead letters by name (issue 12): a mark request given up on (retries exhausted, or refused for
-- good) has status 'dead', no longer 'failed', the reason still in last_error.
ALTER TABLE mark_requests DROP CONSTRAINT mark_requests_status_check;
UPDATE mark_requests SET status = 'dead' WHERE status = 'failed';
ALTER TABLE mark_requests ADD CONSTRAINT mark_requests_status_check
    CHECK (status IN ('queued', 'claimed', 'succeeded', 'dead'));
-- The delivery rate of `status` (delivered in the last hour).
CREATE INDEX mark_requests_finished ON mark_requests (platform, status, finished_at);

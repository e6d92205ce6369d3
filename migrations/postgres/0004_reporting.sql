-- The mirror as a reporting database (issue 13): tag moves and who made each change in
-- `tag_events`, a 'not_ours' state for declared objects, and views for coverage, run history and
-- failed operations. The SQLite flavour (migrations/sqlite) has the same columns and views.

ALTER TABLE tag_events DROP CONSTRAINT tag_events_kind_check;
ALTER TABLE tag_events ADD CONSTRAINT tag_events_kind_check
    CHECK (kind IN ('created', 'renamed', 'reordered', 'moved', 'deleted'));
-- Who made the change: tagsync (applied it), or someone in the console (seen in a pull).
ALTER TABLE tag_events ADD COLUMN "by" TEXT
    GENERATED ALWAYS AS (CASE source WHEN 'apply' THEN 'tagsync' ELSE 'console' END) STORED;
CREATE INDEX tag_events_object ON tag_events (platform, object, remote_id);

ALTER TABLE desired_state DROP CONSTRAINT desired_state_status_check;
ALTER TABLE desired_state ADD CONSTRAINT desired_state_status_check
    CHECK (status IN ('present', 'missing', 'renamed', 'reordered', 'extra', 'not_supported',
                      'not_ours'));

-- Status and operations pages read the latest run of a platform and its failures by platform.
CREATE INDEX operations_platform ON operations (platform, status, id);

-- Desired tags per platform and how each stands. A declared object that cannot be fixed because
-- its group belongs to a console (a bound group in not_ours, or the plan said so) is 'not_ours'.
DROP VIEW v_drift;
CREATE VIEW v_drift AS
SELECT d.platform, d.group_key, d.tag_key, d.group_name, d.tag_name,
       CASE
           WHEN d.status = 'not_supported'
                AND (d.detail LIKE '%not ours%'
                     OR EXISTS (SELECT 1
                                FROM bindings b
                                JOIN not_ours n ON n.platform = b.platform
                                               AND n.remote_id = b.remote_id
                                WHERE b.platform = d.platform AND b.object = 'group'
                                  AND b.group_key = d.group_key))
           THEN 'not_ours'
           ELSE d.status
       END AS status,
       d.detail, d.updated_at
FROM desired_state d;

-- Each declared tag: on how many of the platforms it is declared for it exists (under its name
-- or another, in its order or not), and where.
CREATE VIEW v_coverage AS
SELECT group_key,
       tag_key,
       MIN(group_name) AS group_name,
       MIN(tag_name)   AS tag_name,
       COUNT(*)        AS declared_on,
       COUNT(CASE WHEN status IN ('present', 'renamed', 'reordered') THEN 1 END) AS exists_on,
       string_agg(CASE WHEN status IN ('present', 'renamed', 'reordered') THEN platform END,
                  ', ' ORDER BY platform) AS exists_on_platforms,
       string_agg(CASE WHEN status NOT IN ('present', 'renamed', 'reordered') THEN platform END,
                  ', ' ORDER BY platform) AS missing_on_platforms
FROM v_drift
WHERE tag_key <> ''
GROUP BY group_key, tag_key;

-- Every run with its duration in milliseconds (NULL while it runs).
CREATE VIEW v_runs AS
SELECT id, platform, "trigger", started_at, finished_at, status, planned, applied, failed,
       api_calls, error,
       CAST(ROUND(EXTRACT(EPOCH FROM finished_at - started_at) * 1000) AS BIGINT) AS duration_ms
FROM sync_runs;

-- Every operation that failed or was refused, with the class of its error. The class is read from
-- the error text, which names the API call first, then the outcome.
CREATE VIEW v_failed_operations AS
SELECT id, platform, run_id, seq, kind, target, request, status, attempts, error,
       CASE
           WHEN status = 'not_ours' OR error LIKE '%: not ours:%' THEN 'not_ours'
           WHEN error LIKE '%: rejected:%' THEN 'rejected'
           WHEN error LIKE '%still failing after%' THEN 'gave_up'
           WHEN error LIKE '%credential was refused%' THEN 'credential'
           WHEN error LIKE '%unexpected response%' THEN 'unexpected_response'
           ELSE 'other'
       END AS error_class,
       created_at, finished_at
FROM operations
WHERE status IN ('failed', 'not_ours');

-- The mark backlog per platform (status report, status page).
CREATE INDEX mark_requests_platform_status ON mark_requests (platform, status, created_at);

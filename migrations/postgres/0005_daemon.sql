-- Tag files the daemon found invalid: one row per tag source (the configured `tags` path) while
-- an invalid edit is refused and the last valid state stays in force; deleted when an edit makes
-- the files valid again.
CREATE TABLE tag_file_errors (
    source      TEXT PRIMARY KEY NOT NULL,
    error       TEXT NOT NULL,
    reported_by TEXT NOT NULL,
    since       TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

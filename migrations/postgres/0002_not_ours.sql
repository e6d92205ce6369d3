-- Remote groups that refused tagsync because someone else owns them (e.g. made in the WeCom
-- console). Plans show them as drift instead of calling again. Kept until removed by hand.
CREATE TABLE not_ours (
    platform  TEXT NOT NULL REFERENCES platforms (name),
    remote_id TEXT NOT NULL,
    marked_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (platform, remote_id)
);

-- One row that the readiness probe rewrites: /readyz answers 200 only when a write can commit
-- and the file has room for one (a full disk, a size cap or a read-only file make it fail), not
-- merely when the file can be read. `pad` briefly holds a few pages during the probe.
CREATE TABLE readiness_probe (
    id         INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    checked_at TEXT    NOT NULL,
    pad        BLOB
) STRICT;

-- One row that the readiness probe rewrites: /readyz answers 200 only when a write can commit
-- (a full disk or a read-only file makes it fail), not merely when the file can be read.
CREATE TABLE readiness_probe (
    id         INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    checked_at TEXT    NOT NULL
) STRICT;

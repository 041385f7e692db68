-- The last event of each workspace's chain, so an append reads one row instead of searching
-- audit_logs. Moved in the same transaction as every append; it always names a stored event.
CREATE TABLE audit_chain_heads (
    workspace_id INTEGER NOT NULL PRIMARY KEY CHECK (workspace_id > 0),
    seq          INTEGER NOT NULL CHECK (seq >= 1),
    hash         TEXT    NOT NULL CHECK (length(hash) = 64 AND hash NOT GLOB '*[^0-9a-f]*'),
    CONSTRAINT audit_chain_heads_event_fkey
        FOREIGN KEY (workspace_id, seq) REFERENCES audit_logs (workspace_id, seq)
) STRICT;

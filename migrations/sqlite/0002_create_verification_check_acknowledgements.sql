-- Acknowledgements of failing or warning checks (SPEC §3, §6): one per (run, check), immutable.
CREATE TABLE verification_check_acknowledgements (
    id                      TEXT    NOT NULL PRIMARY KEY
        CHECK (length(id) = 36 AND id GLOB '????????-????-????-????-????????????'
               AND id NOT GLOB '*[^0-9a-f-]*'),
    workspace_id            INTEGER NOT NULL CHECK (workspace_id > 0),
    tenant_id               INTEGER NOT NULL CHECK (tenant_id > 0),
    operation_run_id        TEXT    NOT NULL,
    check_key               TEXT    NOT NULL
        CHECK (length(check_key) BETWEEN 1 AND 128 AND check_key GLOB '[a-z0-9]*' AND check_key NOT GLOB '*[^a-z0-9_.-]*'),
    -- length() counts the characters of TEXT, as the 160-character limit does.
    ack_reason              TEXT    NOT NULL CHECK (length(ack_reason) BETWEEN 1 AND 160),
    expires_at              TEXT
        CHECK (expires_at IS NULL OR expires_at GLOB
               '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    acknowledged_at         TEXT    NOT NULL
        CHECK (acknowledged_at GLOB
               '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    acknowledged_by_user_id TEXT    NOT NULL CHECK (length(acknowledged_by_user_id) BETWEEN 1 AND 255),
    created_at              TEXT    NOT NULL
        CHECK (created_at GLOB
               '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    updated_at              TEXT    NOT NULL
        CHECK (updated_at GLOB
               '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),

    -- The run, in the same workspace and tenant.
    CONSTRAINT verification_check_acknowledgements_run_fkey
        FOREIGN KEY (operation_run_id, workspace_id, tenant_id)
        REFERENCES operation_runs (id, workspace_id, tenant_id),
    CONSTRAINT verification_check_acknowledgements_run_check_key
        UNIQUE (operation_run_id, check_key)
) STRICT;

CREATE INDEX verification_check_acknowledgements_scope_idx
    ON verification_check_acknowledgements (workspace_id, tenant_id, operation_run_id);

-- Rows are immutable: no update, no delete, no un-acknowledge.
CREATE TRIGGER verification_check_acknowledgements_no_update
    BEFORE UPDATE ON verification_check_acknowledgements
BEGIN
    SELECT RAISE(ABORT, 'rows of verification_check_acknowledgements are immutable');
END;

CREATE TRIGGER verification_check_acknowledgements_no_delete
    BEFORE DELETE ON verification_check_acknowledgements
BEGIN
    SELECT RAISE(ABORT, 'rows of verification_check_acknowledgements are immutable');
END;

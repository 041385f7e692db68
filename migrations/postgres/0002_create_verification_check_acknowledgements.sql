-- Acknowledgements: one immutable row per (run, check) (SPEC §6).
CREATE TABLE verification_check_acknowledgements (
    id                      uuid        PRIMARY KEY,
    workspace_id            bigint      NOT NULL CHECK (workspace_id > 0),
    tenant_id               bigint      NOT NULL CHECK (tenant_id > 0),
    operation_run_id        uuid        NOT NULL,
    check_key               text        NOT NULL CHECK (check_key ~ '^[a-z0-9][a-z0-9_.-]{0,127}$'),
    ack_reason              text        NOT NULL CHECK (char_length(ack_reason) BETWEEN 1 AND 160),
    expires_at              timestamptz NULL,
    acknowledged_at         timestamptz NOT NULL,
    acknowledged_by_user_id text        NOT NULL CHECK (char_length(acknowledged_by_user_id) BETWEEN 1 AND 255),
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,

    CONSTRAINT verification_check_acknowledgements_run_fkey
        FOREIGN KEY (operation_run_id, workspace_id, tenant_id)
        REFERENCES operation_runs (id, workspace_id, tenant_id),
    CONSTRAINT verification_check_acknowledgements_run_check_key
        UNIQUE (operation_run_id, check_key)
);

CREATE INDEX verification_check_acknowledgements_scope_idx
    ON verification_check_acknowledgements (workspace_id, tenant_id, operation_run_id);

-- Rows are immutable: no update, no delete, no un-acknowledge.
CREATE FUNCTION verdict_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'rows of % are immutable', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;

CREATE TRIGGER verification_check_acknowledgements_immutable
    BEFORE UPDATE OR DELETE ON verification_check_acknowledgements
    FOR EACH ROW EXECUTE FUNCTION verdict_reject_change();

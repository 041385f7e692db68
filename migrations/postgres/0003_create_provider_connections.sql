-- Provider connections: the Entra app registration Verdict uses to reach a tenant (SPEC §3).
-- The client secret exists here only as AES-256-GCM ciphertext.
CREATE TABLE provider_connections (
    id                       uuid        PRIMARY KEY,
    workspace_id             bigint      NOT NULL CHECK (workspace_id > 0),
    tenant_id                bigint      NOT NULL CHECK (tenant_id > 0),
    display_name             text        NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 120),
    entra_tenant_id          text        NOT NULL
        CHECK (entra_tenant_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
    client_id                text        NOT NULL
        CHECK (client_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
    client_secret_ciphertext bytea       NULL,
    secret_updated_at        timestamptz NULL,
    created_at               timestamptz NOT NULL,
    updated_at               timestamptz NOT NULL,
    disabled_at              timestamptz NULL
);

CREATE INDEX provider_connections_scope_idx
    ON provider_connections (workspace_id, tenant_id, created_at, id);

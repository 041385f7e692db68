-- Provider connections (SPEC §3): the Entra app registration Verdict uses to reach a tenant.
-- The client secret is stored only as AES-256-GCM ciphertext.
CREATE TABLE provider_connections (
    id                       TEXT    NOT NULL PRIMARY KEY
        CHECK (length(id) = 36 AND id GLOB '????????-????-????-????-????????????'
               AND id NOT GLOB '*[^0-9a-f-]*'),
    workspace_id             INTEGER NOT NULL CHECK (workspace_id > 0),
    tenant_id                INTEGER NOT NULL CHECK (tenant_id > 0),
    display_name             TEXT    NOT NULL CHECK (length(display_name) BETWEEN 1 AND 120),
    entra_tenant_id          TEXT    NOT NULL
        CHECK (length(entra_tenant_id) = 36 AND entra_tenant_id GLOB '????????-????-????-????-????????????'
               AND entra_tenant_id NOT GLOB '*[^0-9a-f-]*'),
    client_id                TEXT    NOT NULL
        CHECK (length(client_id) = 36 AND client_id GLOB '????????-????-????-????-????????????'
               AND client_id NOT GLOB '*[^0-9a-f-]*'),
    client_secret_ciphertext BLOB,
    secret_updated_at        TEXT
        CHECK (secret_updated_at IS NULL OR secret_updated_at GLOB
               '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    created_at               TEXT    NOT NULL
        CHECK (created_at GLOB
               '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    updated_at               TEXT    NOT NULL
        CHECK (updated_at GLOB
               '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    disabled_at              TEXT
        CHECK (disabled_at IS NULL OR disabled_at GLOB
               '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z')
) STRICT;

-- A tenant's connections, oldest first.
CREATE INDEX provider_connections_scope_idx
    ON provider_connections (workspace_id, tenant_id, created_at, id);

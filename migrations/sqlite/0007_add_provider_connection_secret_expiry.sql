-- When the stored client secret expires, if the host said so when it set the secret (docs/contract.md#provider-flow).
-- Replaced on every rotation; NULL when unknown (the flow then asks Microsoft Graph).
ALTER TABLE provider_connections ADD COLUMN client_secret_expires_at TEXT
    CHECK (client_secret_expires_at IS NULL OR client_secret_expires_at GLOB
           '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z');

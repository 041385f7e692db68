-- Continuous verification (docs/contract.md#continuous-verification): connection schedules, webhook subscriptions and the
-- delivery outbox. Conventions as in 0001 (STRICT, UUIDs as lowercase TEXT, instants as
-- fixed-width RFC 3339 TEXT, JSON as valid TEXT).

-- One schedule per provider connection. A scheduler claims a due schedule (claimed_by,
-- claim_expires_at) while it starts the run, then re-arms next_run_at and clears the claim.
CREATE TABLE verification_schedules (
    provider_connection_id TEXT    NOT NULL PRIMARY KEY REFERENCES provider_connections (id),
    workspace_id           INTEGER NOT NULL CHECK (workspace_id > 0),
    tenant_id              INTEGER NOT NULL CHECK (tenant_id > 0),
    flow                   TEXT    NOT NULL
        CHECK (length(flow) BETWEEN 1 AND 128 AND flow GLOB '[a-z0-9]*' AND flow NOT GLOB '*[^a-z0-9_.-]*'),
    -- The ISO 8601 duration as Verdict writes it, and its length in seconds (PT5M..P30D).
    schedule_interval      TEXT    NOT NULL CHECK (length(schedule_interval) BETWEEN 2 AND 64),
    interval_seconds       INTEGER NOT NULL CHECK (interval_seconds BETWEEN 300 AND 2592000),
    next_run_at            TEXT    NOT NULL
        CHECK (next_run_at GLOB
               '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    claimed_by             TEXT    CHECK (claimed_by IS NULL OR length(claimed_by) BETWEEN 1 AND 200),
    claim_expires_at       TEXT
        CHECK (claim_expires_at IS NULL OR claim_expires_at GLOB
               '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    created_at             TEXT    NOT NULL
        CHECK (created_at GLOB
               '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    updated_at             TEXT    NOT NULL
        CHECK (updated_at GLOB
               '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    CONSTRAINT verification_schedules_claim_is_whole CHECK ((claimed_by IS NULL) = (claim_expires_at IS NULL))
) STRICT;

-- Due schedules, earliest first.
CREATE INDEX verification_schedules_due_idx ON verification_schedules (next_run_at, provider_connection_id);

-- Webhook subscriptions of a workspace. The signing secret exists here only as AES-256-GCM
-- ciphertext bound to the webhook id.
CREATE TABLE webhooks (
    id                TEXT    NOT NULL PRIMARY KEY
        CHECK (length(id) = 36 AND id GLOB '????????-????-????-????-????????????' AND id NOT GLOB '*[^0-9a-f-]*'),
    workspace_id      INTEGER NOT NULL CHECK (workspace_id > 0),
    url               TEXT    NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    -- A JSON array of event type names.
    events            TEXT    NOT NULL
        CHECK (json_valid(events) AND json_type(events) = 'array' AND json_array_length(events) >= 1),
    description       TEXT    NOT NULL CHECK (length(description) <= 200),
    secret_ciphertext BLOB    NOT NULL,
    created_at        TEXT    NOT NULL
        CHECK (created_at GLOB
               '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    updated_at        TEXT    NOT NULL
        CHECK (updated_at GLOB
               '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    secret_rotated_at TEXT    NOT NULL
        CHECK (secret_rotated_at GLOB
               '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z')
) STRICT;

CREATE INDEX webhooks_workspace_idx ON webhooks (workspace_id, created_at, id);

-- The outbox: one row per (subscription, event), written in the transaction that completes the
-- run. A dispatcher's claim counts the attempt and pushes next_attempt_at to the claim's end, so
-- a delivery whose dispatcher died is due again then.
CREATE TABLE webhook_deliveries (
    webhook_id       TEXT    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         TEXT    NOT NULL
        CHECK (length(event_id) = 36 AND event_id GLOB '????????-????-????-????-????????????'
               AND event_id NOT GLOB '*[^0-9a-f-]*'),
    workspace_id     INTEGER NOT NULL CHECK (workspace_id > 0),
    event_type       TEXT    NOT NULL CHECK (event_type IN (
                         'verification.completed',
                         'verification.changed',
                         'verification.regressed',
                         'verification.recovered')),
    run_id           TEXT    NOT NULL REFERENCES operation_runs (id),
    -- The exact body sent on every attempt.
    payload          TEXT    NOT NULL CHECK (json_valid(payload) AND json_type(payload) = 'object'),
    state            TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  TEXT
        CHECK (next_attempt_at IS NULL OR next_attempt_at GLOB
               '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    claimed_by       TEXT    CHECK (claimed_by IS NULL OR length(claimed_by) BETWEEN 1 AND 200),
    last_status_code INTEGER CHECK (last_status_code IS NULL OR last_status_code BETWEEN 100 AND 599),
    last_error       TEXT    CHECK (last_error IS NULL OR last_error IN
                         ('timeout', 'dns', 'blocked_address', 'connect', 'tls', 'secret', 'other')),
    created_at       TEXT    NOT NULL
        CHECK (created_at GLOB
               '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    last_attempt_at  TEXT
        CHECK (last_attempt_at IS NULL OR last_attempt_at GLOB
               '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
    PRIMARY KEY (webhook_id, event_id),
    -- Only a pending delivery has a next attempt.
    CONSTRAINT webhook_deliveries_next_matches_state CHECK ((state = 'pending') = (next_attempt_at IS NOT NULL))
) STRICT;

-- Due deliveries, earliest first; its size is the outbox depth.
CREATE INDEX webhook_deliveries_due_idx
    ON webhook_deliveries (next_attempt_at, event_id)
    WHERE state = 'pending';

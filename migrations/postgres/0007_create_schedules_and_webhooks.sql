-- Continuous verification (docs/contract.md#continuous-verification): connection schedules, webhook subscriptions and the
-- delivery outbox, plus the audit actions and subject types that record changes to them.

-- One schedule per provider connection. A scheduler claims a due schedule (claimed_by,
-- claim_expires_at; FOR UPDATE SKIP LOCKED) while it starts the run, then re-arms next_run_at.
CREATE TABLE verification_schedules (
    provider_connection_id uuid        PRIMARY KEY REFERENCES provider_connections (id),
    workspace_id           bigint      NOT NULL CHECK (workspace_id > 0),
    tenant_id              bigint      NOT NULL CHECK (tenant_id > 0),
    flow                   text        NOT NULL CHECK (flow ~ '^[a-z0-9][a-z0-9_.-]{0,127}$'),
    -- The ISO 8601 duration as Verdict writes it, and its length in seconds (PT5M..P30D).
    schedule_interval      text        NOT NULL CHECK (char_length(schedule_interval) BETWEEN 2 AND 64),
    interval_seconds       bigint      NOT NULL CHECK (interval_seconds BETWEEN 300 AND 2592000),
    next_run_at            timestamptz NOT NULL,
    claimed_by             text        NULL CHECK (char_length(claimed_by) BETWEEN 1 AND 200),
    claim_expires_at       timestamptz NULL,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL,
    CONSTRAINT verification_schedules_claim_is_whole CHECK ((claimed_by IS NULL) = (claim_expires_at IS NULL))
);

-- Due schedules, earliest first.
CREATE INDEX verification_schedules_due_idx ON verification_schedules (next_run_at, provider_connection_id);

-- Webhook subscriptions of a workspace. The signing secret exists here only as AES-256-GCM
-- ciphertext bound to the webhook id.
CREATE TABLE webhooks (
    id                uuid        PRIMARY KEY,
    workspace_id      bigint      NOT NULL CHECK (workspace_id > 0),
    url               text        NOT NULL CHECK (char_length(url) BETWEEN 1 AND 2048),
    -- A JSON array of event type names.
    events            jsonb       NOT NULL CHECK (jsonb_typeof(events) = 'array' AND jsonb_array_length(events) >= 1),
    description       text        NOT NULL CHECK (char_length(description) <= 200),
    secret_ciphertext bytea       NOT NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    secret_rotated_at timestamptz NOT NULL
);

CREATE INDEX webhooks_workspace_idx ON webhooks (workspace_id, created_at, id);

-- The outbox: one row per (subscription, event), written in the transaction that completes the
-- run. A dispatcher's claim counts the attempt and pushes next_attempt_at to the claim's end, so
-- a delivery whose dispatcher died is due again then. The payload is text: the exact bytes that
-- are signed and sent on every attempt.
CREATE TABLE webhook_deliveries (
    webhook_id       uuid        NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         uuid        NOT NULL,
    workspace_id     bigint      NOT NULL CHECK (workspace_id > 0),
    event_type       text        NOT NULL CHECK (event_type IN (
        'verification.completed',
        'verification.changed',
        'verification.regressed',
        'verification.recovered'
    )),
    run_id           uuid        NOT NULL REFERENCES operation_runs (id),
    payload          text        NOT NULL CHECK (jsonb_typeof(payload::jsonb) = 'object'),
    state            text        NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  timestamptz NULL,
    claimed_by       text        NULL CHECK (char_length(claimed_by) BETWEEN 1 AND 200),
    last_status_code integer     NULL CHECK (last_status_code BETWEEN 100 AND 599),
    last_error       text        NULL CHECK (last_error IN
        ('timeout', 'dns', 'blocked_address', 'connect', 'tls', 'secret', 'other')),
    created_at       timestamptz NOT NULL,
    last_attempt_at  timestamptz NULL,
    PRIMARY KEY (webhook_id, event_id),
    -- Only a pending delivery has a next attempt.
    CONSTRAINT webhook_deliveries_next_matches_state CHECK ((state = 'pending') = (next_attempt_at IS NOT NULL))
);

-- Due deliveries, earliest first; its size is the outbox depth.
CREATE INDEX webhook_deliveries_due_idx
    ON webhook_deliveries (next_attempt_at, event_id)
    WHERE state = 'pending';

-- The deliveries of a run (the foreign key's look-up when runs are ever removed).
CREATE INDEX webhook_deliveries_run_idx ON webhook_deliveries (run_id);

-- Audit: schedule.set, schedule.removed, webhook.created, webhook.deleted, webhook.secret_rotated;
-- subjects schedule and webhook. Existing rows keep satisfying the wider checks.
ALTER TABLE audit_logs
    DROP CONSTRAINT audit_logs_action_check,
    ADD CONSTRAINT audit_logs_action_check CHECK (action IN (
        'verification.started',
        'verification.completed',
        'verification.check_acknowledged',
        'provider_connection.created',
        'provider_connection.secret_rotated',
        'provider_connection.disabled',
        'schedule.set',
        'schedule.removed',
        'webhook.created',
        'webhook.deleted',
        'webhook.secret_rotated'
    )),
    DROP CONSTRAINT audit_logs_subject_type_check,
    ADD CONSTRAINT audit_logs_subject_type_check
        CHECK (subject_type IN ('operation_run', 'provider_connection', 'acknowledgement', 'schedule', 'webhook'));

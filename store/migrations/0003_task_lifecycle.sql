-- The lifecycle's projection: every event once, each task's current state, and the outbox
-- of notifications. Events are keyed by workflow id and the sequence number the workflow
-- keeps (run ids change on continue-as-new), so a retried activity never double-counts.
CREATE TABLE task_events (
    workflow_id   text NOT NULL,
    seq           integer NOT NULL,
    plan_id       text NOT NULL,
    task_id       text NOT NULL,
    kind          text NOT NULL,
    at            timestamptz NOT NULL,
    actor_role    text,
    actor_unit    text,
    unit          text,
    stage_before  text,
    stage_after   text,
    milestone     integer,
    level         integer,
    recipients    text[] NOT NULL DEFAULT '{}',
    detail        jsonb NOT NULL DEFAULT '{}',
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workflow_id, seq)
);
CREATE INDEX task_events_plan_at ON task_events (plan_id, at);
CREATE INDEX task_events_unit_kind ON task_events (unit, kind);

CREATE TABLE task_states (
    workflow_id            text PRIMARY KEY,
    plan_id                text NOT NULL,
    task_id                text NOT NULL,
    stage                  text NOT NULL,
    lead_unit              text,
    cooperating_units      text[] NOT NULL,
    next_due               date,
    next_due_at            timestamptz,
    escalation_level       integer NOT NULL,
    extensions_granted     integer NOT NULL,
    progress_percent       integer NOT NULL,
    awaiting_reassignment  boolean NOT NULL,
    closed_at              timestamptz,
    -- The projection only moves forward: an older retried write never overwrites a newer.
    seq                    integer NOT NULL,
    updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX task_states_plan_stage ON task_states (plan_id, stage);
CREATE INDEX task_states_lead_unit ON task_states (lead_unit);

-- One row per notification and channel, written in the same transaction as its event,
-- delivered by the worker's dispatcher with retries; a failing channel never blocks the
-- lifecycle, and the unique key means a retried activity never notifies twice.
CREATE TABLE notification_outbox (
    id               bigserial PRIMARY KEY,
    workflow_id      text NOT NULL,
    seq              integer NOT NULL,
    channel          text NOT NULL,
    payload          jsonb NOT NULL,
    status           text NOT NULL DEFAULT 'pending',  -- pending, delivered, failed
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workflow_id, seq, channel)
);
CREATE INDEX notification_outbox_due ON notification_outbox (next_attempt_at)
    WHERE status = 'pending';

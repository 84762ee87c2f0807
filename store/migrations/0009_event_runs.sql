-- A workflow reset (`temporal workflow reset`) starts a new run that keeps the first run id,
-- so it stays in its lineage, and numbers its new events from the reset point on: the same
-- (workflow id, lineage, seq) as events of the run it replaced, with other content. Those
-- were dropped as duplicates while the workflow believed them recorded. Now every row says
-- which run wrote it and when (the workflow's clock as it sent the batch), and a run that
-- writes over another run's rows moves them to task_events_superseded: task_events holds
-- the live history only, so every count over it (completions, 督办, the monthly notice)
-- counts live events, and what was undone stays on record beside it.
ALTER TABLE task_events ADD COLUMN run_id text NOT NULL DEFAULT '';
ALTER TABLE task_events ADD COLUMN sent_at timestamptz;

CREATE TABLE task_events_superseded (
    workflow_id        text NOT NULL,
    lineage            text NOT NULL,
    seq                integer NOT NULL,
    run_id             text NOT NULL,
    sent_at            timestamptz,
    plan_id            text NOT NULL,
    task_id            text NOT NULL,
    kind               text NOT NULL,
    at                 timestamptz NOT NULL,
    actor_role         text,
    actor_unit         text,
    unit               text,
    stage_before       text,
    stage_after        text,
    milestone          integer,
    level              integer,
    recipients         text[] NOT NULL DEFAULT '{}',
    detail             jsonb NOT NULL DEFAULT '{}',
    recorded_at        timestamptz NOT NULL,
    superseded_at      timestamptz NOT NULL DEFAULT now(),
    -- The run whose history replaced this event (the reset run).
    superseded_by_run  text NOT NULL,
    -- A run writes each of its events once, superseded or not.
    PRIMARY KEY (workflow_id, lineage, seq, run_id)
);

-- The projection's order: the newest run's write wins, then within a run the higher seq;
-- see activities/task_events.py.
ALTER TABLE task_states ADD COLUMN run_id text NOT NULL DEFAULT '';
ALTER TABLE task_states ADD COLUMN sent_at timestamptz;

-- A superseded event's notification is not sent if it is still pending, and its row no
-- longer holds the event's key, so the live event with that seq gets its own.
ALTER TABLE notification_outbox ADD COLUMN superseded_at timestamptz;
ALTER TABLE notification_outbox DROP CONSTRAINT notification_outbox_once;
CREATE UNIQUE INDEX notification_outbox_once ON notification_outbox
    (workflow_id, lineage, seq, channel) WHERE superseded_at IS NULL;

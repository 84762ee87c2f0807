-- Imported plans and their tasks. One row per task, keyed by plan and the task's stable id;
-- its workflow id is derived from both, so importing the same document twice starts nothing.
CREATE TABLE plans (
    plan_id          text PRIMARY KEY,
    title            text NOT NULL,
    issuer           text,
    -- 文号: the same document imported under two plan ids is refused.
    document_number  text UNIQUE,
    issue_date       date,
    period_start     integer NOT NULL,
    period_end       integer NOT NULL,
    source_file      text NOT NULL,
    format           text NOT NULL,
    fingerprint      text NOT NULL,
    imported_at      timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE plan_tasks (
    plan_id             text NOT NULL REFERENCES plans (plan_id) ON DELETE CASCADE,
    task_id             text NOT NULL,
    workflow_id         text NOT NULL UNIQUE,
    seq                 integer NOT NULL,
    part                integer,
    category            text[] NOT NULL,
    text                text NOT NULL,
    lead_units          text[] NOT NULL,
    cooperating_units   text[] NOT NULL,
    milestones          jsonb NOT NULL,
    recurrence          jsonb,
    ongoing             boolean NOT NULL,
    starts              date,
    due                 date,
    source              jsonb NOT NULL,
    flags               text[] NOT NULL,
    fingerprint         text NOT NULL,
    -- What the task's workflow has been told, so an import interrupted after its commit
    -- (Temporal down, no worker, Ctrl-C) is finished by running it again:
    -- started once its workflow exists, holding the fingerprint it was last given,
    -- and told of a withdrawal once withdrawal_sent_at is set.
    workflow_started_at timestamptz,
    workflow_fingerprint text,
    -- Set when an --update import no longer finds the task in the document.
    withdrawn_at        timestamptz,
    withdrawal_sent_at  timestamptz,
    PRIMARY KEY (plan_id, task_id)
);

CREATE INDEX plan_tasks_workflow_behind ON plan_tasks (plan_id)
    WHERE workflow_fingerprint IS DISTINCT FROM fingerprint OR withdrawal_sent_at IS NULL;
CREATE INDEX plan_tasks_lead_units ON plan_tasks USING gin (lead_units);
CREATE INDEX plan_tasks_due ON plan_tasks (due) WHERE withdrawn_at IS NULL;

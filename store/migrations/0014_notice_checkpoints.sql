-- The monthly notice's checkpoint: each task's facts at a closed month's end (and the few
-- the notice reads of the month before), folded from the event log once and read back by
-- every later notice of that month, whatever its scope, unit or settings (store/
-- notice_checkpoints.py). One checkpoint per month and plan; a notice over every plan reads
-- every plan's.
--
-- A checkpoint is only ever a copy of what the fold gives: whatever could change the fold
-- removes it. An event recorded (or superseded) at or before a checkpoint's month end, late
-- from a worker that was down, deletes that plan's checkpoints from that month on, and a
-- re-import that changes a task's units or dates deletes its plan's. The next notice folds
-- again. The builder claims a checkpoint under a SHARE lock on both tables (see the module)
-- so that no write can slip between its claim and its read unseen.
CREATE TABLE notice_checkpoints (
    month        text NOT NULL CHECK (month ~ '^\d{4}-(0[1-9]|1[0-2])$'),
    plan_id      text NOT NULL REFERENCES plans (plan_id) ON DELETE CASCADE,
    as_of        timestamptz NOT NULL,
    -- The builder's claim: its facts are written under this token, then ready is set.
    token        text NOT NULL,
    claimed_at   timestamptz NOT NULL DEFAULT now(),
    ready        boolean NOT NULL DEFAULT false,
    PRIMARY KEY (month, plan_id)
);
CREATE INDEX notice_checkpoints_plan_as_of ON notice_checkpoints (plan_id, as_of);

-- The notice's tasks at the month end in its order (position, within the plan), each with
-- its number and text and domain.notice_state.StandingFacts; read by one index range scan,
-- without a join or a sort. An empty list is NULL, which costs nothing to read back. The
-- task's previous standing: before NULL when it had none (not yet handed out at the month
-- end before), else 0 open, 1 completed, 2 overdue; before_cooperating_units NULL when its
-- units then were its units now (nearly always), else they and before_lead_unit say them.
CREATE TABLE notice_facts (
    month                    text NOT NULL,
    plan_id                  text NOT NULL,
    position                 integer NOT NULL,
    workflow_id              text NOT NULL,
    task_id                  text NOT NULL,
    text                     text NOT NULL,
    stage                    text NOT NULL,
    lead_unit                text,
    cooperating_units        text[],
    awaiting_reassignment    boolean NOT NULL,
    progress_percent         integer NOT NULL,
    escalation_level         integer NOT NULL,
    due                      date,
    first_at                 timestamptz NOT NULL,
    completed_at             timestamptz,
    late                     boolean NOT NULL,
    last_progress_text       text,
    escalations              integer NOT NULL,
    refusals_by              text[],
    deemed_by                text[],
    reporters_this_month     text[],
    extension_this_month     boolean NOT NULL,
    before                   smallint CHECK (before IN (0, 1, 2)),
    before_lead_unit         text,
    before_cooperating_units text[],
    PRIMARY KEY (month, plan_id, position),
    FOREIGN KEY (month, plan_id) REFERENCES notice_checkpoints (month, plan_id)
        ON DELETE CASCADE
);

-- Statement-level, over the rows the statement touched: one DELETE per batch of events
-- recorded, which finds nothing unless a batch reaches back into a checkpointed month.
CREATE FUNCTION notice_checkpoints_forget_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM notice_checkpoints AS c
    USING (SELECT plan_id, min(at) AS earliest FROM changed_events GROUP BY plan_id) AS e
    WHERE c.plan_id = e.plan_id AND c.as_of >= e.earliest;
    RETURN NULL;
END $$;

CREATE TRIGGER task_events_inserted_forget_checkpoints
    AFTER INSERT ON task_events REFERENCING NEW TABLE AS changed_events
    FOR EACH STATEMENT EXECUTE FUNCTION notice_checkpoints_forget_events();
CREATE TRIGGER task_events_deleted_forget_checkpoints
    AFTER DELETE ON task_events REFERENCING OLD TABLE AS changed_events
    FOR EACH STATEMENT EXECUTE FUNCTION notice_checkpoints_forget_events();
-- An update (none today) may move an event either way: its old instant and its new one.
CREATE TRIGGER task_events_updated_from_forget_checkpoints
    AFTER UPDATE ON task_events REFERENCING OLD TABLE AS changed_events
    FOR EACH STATEMENT EXECUTE FUNCTION notice_checkpoints_forget_events();
CREATE TRIGGER task_events_updated_to_forget_checkpoints
    AFTER UPDATE ON task_events REFERENCING NEW TABLE AS changed_events
    FOR EACH STATEMENT EXECUTE FUNCTION notice_checkpoints_forget_events();

-- What a checkpoint holds of a plan's tasks besides their events: which tasks are the
-- plan's (a task added back brings its old run chain's events along), their units and
-- milestones at 交办 (what the fold starts from), their numbers, order and texts.
CREATE FUNCTION notice_checkpoints_forget_plans() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM notice_checkpoints WHERE plan_id IN (SELECT plan_id FROM changed_tasks);
    RETURN NULL;
END $$;

CREATE TRIGGER plan_tasks_inserted_forget_checkpoints
    AFTER INSERT ON plan_tasks REFERENCING NEW TABLE AS changed_tasks
    FOR EACH STATEMENT EXECUTE FUNCTION notice_checkpoints_forget_plans();
CREATE TRIGGER plan_tasks_deleted_forget_checkpoints
    AFTER DELETE ON plan_tasks REFERENCING OLD TABLE AS changed_tasks
    FOR EACH STATEMENT EXECUTE FUNCTION notice_checkpoints_forget_plans();

CREATE FUNCTION notice_checkpoints_forget_plan() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM notice_checkpoints WHERE plan_id = OLD.plan_id;
    RETURN NULL;
END $$;

CREATE TRIGGER plan_tasks_changed_forget_checkpoints
    AFTER UPDATE OF task_id, seq, part, text, lead_units, cooperating_units, milestones,
        withdrawn_at ON plan_tasks FOR EACH ROW
    WHEN (OLD.task_id IS DISTINCT FROM NEW.task_id
        OR OLD.seq IS DISTINCT FROM NEW.seq
        OR OLD.part IS DISTINCT FROM NEW.part
        OR OLD.text IS DISTINCT FROM NEW.text
        OR OLD.lead_units IS DISTINCT FROM NEW.lead_units
        OR OLD.cooperating_units IS DISTINCT FROM NEW.cooperating_units
        OR OLD.milestones IS DISTINCT FROM NEW.milestones
        OR OLD.withdrawn_at IS DISTINCT FROM NEW.withdrawn_at)
    EXECUTE FUNCTION notice_checkpoints_forget_plan();

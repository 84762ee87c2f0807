-- The coordinator API: who may call it (tokens), what they did (the audit log), what a
-- retried request already got (idempotency keys), and indexes for the task list.

-- A token's secret is shown once, when it is issued; only its SHA-256 is kept. Secrets are
-- 256 random bits, so a plain hash is as strong as a slow one and lets a request find its
-- token by an index lookup.
CREATE TABLE api_tokens (
    token_id     text PRIMARY KEY,
    secret_hash  text NOT NULL UNIQUE,
    role         text NOT NULL CHECK (role IN ('unit', 'coordinator', 'admin')),
    unit         text,
    -- A coordinator's plans; NULL means every plan.
    plans        text[],
    name         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    CHECK ((role = 'unit') = (unit IS NOT NULL)),
    CHECK (role = 'coordinator' OR plans IS NULL)
);

-- One row per mutation, accepted or refused. Append-only: the trigger below refuses every
-- UPDATE, DELETE and TRUNCATE, whoever sends it.
CREATE TABLE audit_log (
    id              bigserial PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    request_id      text NOT NULL,
    token_id        text,
    role            text,
    unit            text,
    method          text NOT NULL,
    route           text NOT NULL,
    plan_id         text,
    task_id         text,
    action          text,
    idempotency_key text,
    payload_digest  text,
    status          integer NOT NULL,
    error_code      text
);
CREATE INDEX audit_log_plan ON audit_log (plan_id, id);
CREATE INDEX audit_log_token ON audit_log (token_id, id);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();

-- What a mutation answered under a caller's Idempotency-Key, so a retry gets the same
-- answer and changes nothing, and the same key with another request is refused. Keys are
-- the caller's own: two tokens never share one.
CREATE TABLE idempotency_keys (
    token_id     text NOT NULL,
    key          text NOT NULL,
    fingerprint  text NOT NULL,
    -- Which try holds the reservation: only it may answer or give the key back.
    owner        text NOT NULL,
    status       integer,
    response     jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (token_id, key)
);

-- The task list: sorted by least time left (closed and undated tasks last), one index per
-- filter with the sort key behind it, so keyset pages stay fast at 100,000 tasks.
ALTER TABLE task_states ADD COLUMN sort_due timestamptz GENERATED ALWAYS AS (
    CASE WHEN closed_at IS NULL THEN COALESCE(next_due_at, 'infinity') ELSE 'infinity' END
) STORED;
CREATE INDEX task_states_sorted ON task_states (sort_due, workflow_id);
CREATE INDEX task_states_plan_sorted ON task_states (plan_id, sort_due, workflow_id);
CREATE INDEX task_states_lead_sorted ON task_states (lead_unit, sort_due, workflow_id);
CREATE INDEX task_states_stage_sorted ON task_states (stage, sort_due, workflow_id);
CREATE INDEX task_states_cooperating ON task_states USING gin (cooperating_units);
CREATE INDEX task_states_plan_task ON task_states (plan_id, task_id);
DROP INDEX task_states_plan_stage;
DROP INDEX task_states_lead_unit;

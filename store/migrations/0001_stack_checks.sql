-- End-to-end checks of the running stack (`duban check`): a workflow asks a worker to
-- record one row here, proving API host -> Temporal -> worker -> PostgreSQL all connect.
CREATE TABLE stack_checks (
    check_id        text PRIMARY KEY,
    requested_at    timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    worker_identity text NOT NULL,
    attempt         integer NOT NULL
);

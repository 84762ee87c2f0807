-- The monthly notice (一月一通报), stored once per month and scope with the as-of data it
-- was computed from, a digest of that data, and every rendered file. Regenerating a past
-- month from the event log gives the same JSON and so the same digest; the unique scope
-- key is what makes the Schedule's firing, its retries and a catch-up store it only once.
CREATE TABLE notices (
    id           bigserial PRIMARY KEY,
    month        text NOT NULL CHECK (month ~ '^\d{4}-(0[1-9]|1[0-2])$'),
    -- NULL: the notice across every plan; '' is never stored (the key below maps NULL).
    plan_id      text CHECK (plan_id <> ''),
    -- NULL: the whole notice; a unit's name: the notice restricted to its tasks.
    unit         text CHECK (unit <> ''),
    notice       jsonb NOT NULL,
    digest       text NOT NULL CHECK (digest ~ '^[0-9a-f]{64}$'),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX notices_once ON notices
    (month, coalesce(plan_id, ''), coalesce(unit, ''));

-- One rendered file per notice and format.
CREATE TABLE notice_files (
    notice_id    bigint NOT NULL REFERENCES notices (id) ON DELETE CASCADE,
    format       text NOT NULL CHECK (format IN ('docx', 'xlsx', 'html', 'md', 'csv', 'png')),
    content      bytea NOT NULL,
    PRIMARY KEY (notice_id, format)
);

-- One document, one plan. The import checks that a document is not already imported under
-- another plan id, but two imports of it at the same moment under two plan ids both passed
-- that check; the constraint makes the second commit fail, and the import reports it.
-- A database written before the constraint may hold such twins already: say which, and
-- what to do, rather than fail on the index with no name to go by.
DO $$
DECLARE
    twins text;
BEGIN
    SELECT string_agg(ids, '; ') INTO twins FROM (
        SELECT string_agg(quote_literal(plan_id), ' and ' ORDER BY imported_at, plan_id) AS ids
        FROM plans GROUP BY fingerprint HAVING count(*) > 1
    ) AS groups;
    IF twins IS NOT NULL THEN
        RAISE EXCEPTION 'plans % hold the same document, imported twice by a race this '
            'release prevents; cancel the tasks of all but one (duban task show PLAN/TASK '
            'lists them), delete those plans'' rows, then run duban migrate again', twins;
    END IF;
END
$$;
ALTER TABLE plans ADD CONSTRAINT plans_one_per_document UNIQUE (fingerprint);

-- A task whose workflow an import found closed by itself: completed (办结), cancelled (撤销)
-- by a coordinator, or ended by an operator. Such a task stays closed: a re-import neither
-- withdraws, revises nor starts it again, so its 办结 is counted once.
ALTER TABLE plan_tasks ADD COLUMN closed_stage text;

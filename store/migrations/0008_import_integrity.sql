-- One document, one plan. The import checks that a document is not already imported under
-- another plan id, but two imports of it at the same moment under two plan ids both passed
-- that check; the constraint makes the second commit fail, and the import reports it.
ALTER TABLE plans ADD CONSTRAINT plans_one_per_document UNIQUE (fingerprint);

-- A task whose workflow an import found closed by itself: completed (办结), cancelled (撤销)
-- by a coordinator, or ended by an operator. Such a task stays closed: a re-import neither
-- withdraws, revises nor starts it again, so its 办结 is counted once.
ALTER TABLE plan_tasks ADD COLUMN closed_stage text;

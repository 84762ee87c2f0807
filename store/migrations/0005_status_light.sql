-- The status light turns yellow three working days before the current milestone's due
-- date, counted over the holiday calendar. The workflow knows that instant and records it
-- here, so a reader of task_states need not count working days itself. NULL when there is
-- no current milestone (none at all, all done) or the task is closed.
ALTER TABLE task_states ADD COLUMN yellow_from timestamptz;

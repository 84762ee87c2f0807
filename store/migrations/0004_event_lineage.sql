-- A task withdrawn by a re-import and later added back gets a new workflow run under the
-- same workflow id, whose sequence numbers start again at 1. The lineage (the first run id
-- of a continue-as-new chain) keeps its events apart from the old run's, instead of being
-- dropped as duplicates; a retry within one lineage is still a duplicate.
ALTER TABLE task_events ADD COLUMN lineage text NOT NULL DEFAULT '';
ALTER TABLE task_events DROP CONSTRAINT task_events_pkey;
ALTER TABLE task_events ADD PRIMARY KEY (workflow_id, lineage, seq);

ALTER TABLE task_states ADD COLUMN lineage text NOT NULL DEFAULT '';

ALTER TABLE notification_outbox ADD COLUMN lineage text NOT NULL DEFAULT '';
ALTER TABLE notification_outbox DROP CONSTRAINT notification_outbox_workflow_id_seq_channel_key;
ALTER TABLE notification_outbox ADD CONSTRAINT notification_outbox_once
    UNIQUE (workflow_id, lineage, seq, channel);
-- Claimed rows are leased: a dispatcher that dies mid-delivery gives them back when the
-- lease runs out, and no transaction stays open across an HTTP call.
ALTER TABLE notification_outbox ADD COLUMN leased_until timestamptz;

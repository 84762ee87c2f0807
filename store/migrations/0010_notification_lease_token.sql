-- Who holds a notification's lease. Each claim writes a fresh token, and a dispatcher's
-- "delivered" or "failed" write counts only while its token is still the row's: a
-- dispatcher that stalled past its lease and lost the row to another changes nothing.
-- leased_by names the holder (process@host) for an operator looking at a stuck row.
ALTER TABLE notification_outbox ADD COLUMN lease_token uuid;
ALTER TABLE notification_outbox ADD COLUMN leased_by text;

"""Notifications (reminders, 催办, 督办, sign-off requests) delivered from the outbox."""

"""Pure domain: plans, tasks, the deadline grammar, units. No I/O, no Temporal imports."""

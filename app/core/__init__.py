"""The pure core: webhook signatures, event parsing and the facts an event asserts, Flexport's
type reference, alert rules, ops-alert texts, preferences, schedules and digests, as plain
functions over plain data. Standard library only; it imports nothing else of the project."""

"""Temporal activities: all of flexhook's I/O on the processing side, each asking the core what
to decide and the store what to write."""

"""Temporal activities: all of flexhook's I/O on the processing side."""

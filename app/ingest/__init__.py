"""Getting verified events into Temporal: start or spool (`intake`), the spool relay, redrive,
reconcile's compare-and-start, and the spool watch. Imports workflows, the store and the core;
never the web."""

"""Deterministic Temporal workflows and the worker that runs them."""

"""Chaos tests: the real processes (Temporal dev server, worker, web) broken on purpose."""

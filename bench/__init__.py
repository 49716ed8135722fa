"""flexhook's benchmark: `python -m bench` (not a test; see the README's Benchmark section)."""

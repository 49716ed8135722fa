"""The `flexhook` commands beyond the processes: subscriptions, redrive, reconciliation."""

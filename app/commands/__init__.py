"""The `flexhook` commands beyond the processes: recipients and subscriptions, redrive,
reconciliation."""

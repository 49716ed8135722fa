"""The ops dashboard: server-rendered pages over the records and the event log
(`app.dashboard.app.create_dashboard`)."""

"""The database: engine, models and migrations, the projection that writes records, the read
side, the spool, subscriptions, recipients, ops incidents and reconcile runs. Imports the core
(and Apprise's URL check); decides no alert."""

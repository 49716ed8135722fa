"""`flexhook dev` and `flexhook send`.

`supervisor` runs the stack (Temporal from `temporal_dev`, a worker and the web process, each a
`process.ChildProcess`), with its `config`, the `secrets` it runs with, the `banner` it prints and
the `state` file (`dev.json`) through which `sender` finds it. `errors` holds what can go wrong.
"""

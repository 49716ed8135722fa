"""The web process's HTTP adapter: the route tables (`application`, `api_routes`), one module
per resource, the error table, middleware, health and metrics. Thin: it calls down into ingest
and the store."""

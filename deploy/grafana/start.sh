#!/bin/sh
# Grafana's entrypoint in docker-compose.yml: refuse to start without an admin password of the
# operator's own. Compose cannot require it with ${GRAFANA_ADMIN_PASSWORD:?...}: that would stop
# every `docker compose up`, profile or not; and Grafana given an empty one keeps its `admin`.
set -eu
case "${GF_SECURITY_ADMIN_PASSWORD:-}" in
  "" | admin)
    echo "grafana: set GRAFANA_ADMIN_PASSWORD (not empty, not 'admin'), see docs/deployment.md" >&2
    exit 1
    ;;
esac
exec "$@"

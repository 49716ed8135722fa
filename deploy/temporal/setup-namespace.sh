#!/bin/sh
# The `temporal-namespace` job of docker-compose.yml, run by temporalio/admin-tools once the server
# is healthy: creates flexhook's namespace if it is missing and registers flexhook's custom search
# attributes on it (the list comes from SEARCH_ATTRIBUTES, "Name=Type" words, which the compose test
# holds to workflows/search_attributes.py). Safe to repeat: an existing namespace is kept as it is,
# and the CLI accepts an attribute that is already registered with the same type (it fails on one
# registered with another type, which is a real conflict to resolve by hand).
set -euf  # -f: SEARCH_ATTRIBUTES is split into words, never globbed

: "${TEMPORAL_ADDRESS:?}" "${TEMPORAL_NAMESPACE:?}" "${SEARCH_ATTRIBUTES:?}"
RETENTION=${NAMESPACE_RETENTION:-72h}
ATTEMPTS=${SETUP_ATTEMPTS:-60}
PAUSE=${SETUP_PAUSE_SECONDS:-2}

retry() { # command...: run it until it succeeds, $ATTEMPTS times at most
    attempt=1
    until "$@"; do
        if [ "$attempt" -ge "$ATTEMPTS" ]; then
            echo "temporal-namespace: gave up after $attempt attempts: $*" >&2
            return 1
        fi
        attempt=$((attempt + 1))
        sleep "$PAUSE"
    done
}

operator() { temporal operator "$@" --address "$TEMPORAL_ADDRESS"; }

namespace_ready() {
    operator namespace describe --namespace "$TEMPORAL_NAMESPACE" >/dev/null 2>&1 && return 0
    operator namespace create --namespace "$TEMPORAL_NAMESPACE" --retention "$RETENTION"
}

for pair in $SEARCH_ATTRIBUTES; do # checked before anything is changed
    name=${pair%%=*}
    type=${pair#*=}
    if [ -z "$name" ] || [ "$name" = "$pair" ] || [ -z "$type" ]; then
        echo "temporal-namespace: SEARCH_ATTRIBUTES entry '$pair' is not Name=Type" >&2
        exit 2
    fi
done

echo "temporal-namespace: waiting for $TEMPORAL_ADDRESS"
retry operator cluster health
retry namespace_ready
echo "temporal-namespace: namespace $TEMPORAL_NAMESPACE is there"

for pair in $SEARCH_ATTRIBUTES; do
    name=${pair%%=*}
    type=${pair#*=}
    # Retried: a namespace created a moment ago reaches the frontend's cache a few seconds later.
    retry operator search-attribute create --namespace "$TEMPORAL_NAMESPACE" --name "$name" --type "$type"
    echo "temporal-namespace: search attribute $name ($type)"
done
echo "temporal-namespace: done"

#!/bin/sh
# The `temporal-schema` job of docker-compose.yml, run by temporalio/admin-tools before the server
# starts: creates Temporal's two PostgreSQL databases if missing and brings both schemas up to the
# version this admin-tools image ships (the steps of Temporal's own compose/scripts/setup-postgres.sh
# in temporalio/samples-server). Every step is safe to repeat: `create` skips a database that
# exists, `setup-schema -v 0.0` only writes the version tables of an empty database, and
# `update-schema` applies just the versions not yet applied, so the same job upgrades the schemas
# when the images are bumped.
#
# temporal-sql-tool reads its connection from SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER and
# SQL_PASSWORD, so the password never appears on a command line. DBNAME and VISIBILITY_DBNAME are the
# variables the server itself reads for the same two databases.
set -eu

: "${SQL_PLUGIN:?}" "${SQL_HOST:?}" "${SQL_PORT:?}" "${SQL_USER:?}" "${SQL_PASSWORD:?}"
: "${DBNAME:?}" "${VISIBILITY_DBNAME:?}"
SCHEMA_DIR=${SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}

migrate() { # database, schema directory under $SCHEMA_DIR
    echo "temporal-schema: $1 ($2)"
    temporal-sql-tool --db "$1" create
    temporal-sql-tool --db "$1" setup-schema -v 0.0
    temporal-sql-tool --db "$1" update-schema -d "$SCHEMA_DIR/$2/versioned"
}

migrate "$DBNAME" temporal
migrate "$VISIBILITY_DBNAME" visibility
echo "temporal-schema: done"

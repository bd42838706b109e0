#!/usr/bin/env bash
# Restore planmap's Postgres database from a dump made by pg-backup.sh. Existing planmap
# tables are replaced. Stop the planmap replicas first (scale to 0) so no worker writes
# while the restore runs; start them after: jobs that were running resume from their
# checkpoints.
#
#   DATABASE_URL=postgres://… deploy/backup/pg-restore.sh /backups/planmap-….dump --yes
set -euo pipefail
: "${DATABASE_URL:?DATABASE_URL is required}"
dump="${1:?usage: pg-restore.sh DUMP --yes}"
[ -r "$dump" ] || { echo "cannot read $dump" >&2; exit 1; }
if [ "${2:-}" != "--yes" ]; then
  echo "this replaces the planmap tables of the database in DATABASE_URL; add --yes to proceed" >&2
  exit 2
fi
pg_restore --list "$dump" >/dev/null
pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction --exit-on-error --dbname="$DATABASE_URL" "$dump"
echo "restored $dump"

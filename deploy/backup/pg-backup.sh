#!/usr/bin/env bash
# Back up planmap's Postgres database (jobs, events, checkpoints, mappings, feedback)
# to a custom-format dump, verify the dump is readable, and prune old ones.
#
#   DATABASE_URL=postgres://… BACKUP_DIR=/backups deploy/backup/pg-backup.sh
#
# Env: DATABASE_URL (required), BACKUP_DIR (default ./backups), BACKUP_KEEP_DAYS
# (default 14). Prints the path of the new dump. Run it from cron or the Kubernetes
# CronJob in deploy/k8s/backup-cronjob.yaml.
set -euo pipefail
: "${DATABASE_URL:?DATABASE_URL is required}"
BACKUP_DIR="${BACKUP_DIR:-./backups}"
KEEP_DAYS="${BACKUP_KEEP_DAYS:-14}"
mkdir -p "$BACKUP_DIR"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="$BACKUP_DIR/planmap-$stamp.dump"
tmp="$out.partial"
# Custom format: compressed, restorable table by table, consistent (one snapshot).
pg_dump --format=custom --no-owner --no-privileges --file="$tmp" "$DATABASE_URL"
# A dump that cannot be listed is not a backup.
pg_restore --list "$tmp" >/dev/null
mv "$tmp" "$out"
find "$BACKUP_DIR" -maxdepth 1 -name 'planmap-*.dump' -mtime +"$KEEP_DAYS" -print -delete >&2
echo "$out"

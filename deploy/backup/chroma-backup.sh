#!/usr/bin/env bash
# Back up Chroma's data folder (the vector collections planmap builds per repository
# and commit). Vectors are derived data: losing them costs re-embedding, not results,
# so this shortens recovery rather than guarding the only copy.
#
#   CHROMA_DATA_DIR=/var/lib/docker/volumes/planmap_chroma-data/_data BACKUP_DIR=/backups deploy/backup/chroma-backup.sh
#
# For a consistent copy, stop Chroma (or snapshot its volume) first; planmap falls back
# to lexical retrieval while Chroma is down.
set -euo pipefail
: "${CHROMA_DATA_DIR:?CHROMA_DATA_DIR is required (the Chroma persist directory)}"
BACKUP_DIR="${BACKUP_DIR:-./backups}"
mkdir -p "$BACKUP_DIR"
out="$BACKUP_DIR/chroma-$(date -u +%Y%m%dT%H%M%SZ).tar.gz"
tar -czf "$out.partial" -C "$CHROMA_DATA_DIR" .
tar -tzf "$out.partial" >/dev/null
mv "$out.partial" "$out"
echo "$out"

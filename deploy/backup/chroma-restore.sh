#!/usr/bin/env bash
# Restore Chroma's data folder from chroma-backup.sh output (Chroma stopped).
#
#   CHROMA_DATA_DIR=… deploy/backup/chroma-restore.sh /backups/chroma-….tar.gz --yes
set -euo pipefail
: "${CHROMA_DATA_DIR:?CHROMA_DATA_DIR is required}"
archive="${1:?usage: chroma-restore.sh ARCHIVE --yes}"
[ "${2:-}" = "--yes" ] || { echo "this replaces $CHROMA_DATA_DIR; add --yes to proceed" >&2; exit 2; }
tar -tzf "$archive" >/dev/null
mkdir -p "$CHROMA_DATA_DIR"
find "$CHROMA_DATA_DIR" -mindepth 1 -delete
tar -xzf "$archive" -C "$CHROMA_DATA_DIR"
echo "restored $archive"

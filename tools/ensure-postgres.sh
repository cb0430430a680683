#!/usr/bin/env bash
# Installs Debian's PostgreSQL server when it is missing, for the tests' throwaway clusters (they run initdb/pg_ctl
# as the `postgres` system user the package creates). Does nothing when an initdb exists under /usr/lib/postgresql/*/bin.
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" > /dev/null; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-postgres: PostgreSQL server binaries are missing and installing them needs root (apt-get install -y postgresql)." >&2
  exit 1
fi
echo "ensure-postgres: installing PostgreSQL server (apt-get install -y postgresql)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq postgresql > /dev/null
# The package may start a default cluster; the tests do not use it.
if command -v pg_ctlcluster > /dev/null; then
  for conf in /etc/postgresql/*/main; do
    [ -d "$conf" ] || continue
    version=$(basename "$(dirname "$conf")")
    pg_ctlcluster "$version" main stop > /dev/null 2>&1 || true
  done
fi
compgen -G "/usr/lib/postgresql/*/bin/initdb" > /dev/null

#!/usr/bin/env bash
# PostgreSQL as the official image starts it: on a new data volume, a cluster whose
# superuser is POSTGRES_USER (password POSTGRES_PASSWORD), the database POSTGRES_DB and the
# scripts in /docker-entrypoint-initdb.d; then the server, on every address, passwords checked.
set -euo pipefail
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
    --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  pg_ctl --wait --options="-c listen_addresses=''" start >/dev/null
  psql=(psql --no-psqlrc --quiet --set=ON_ERROR_STOP=1 --username="$POSTGRES_USER")
  "${psql[@]}" --dbname=postgres --command="CREATE DATABASE \"$POSTGRES_DB\""
  for script in /docker-entrypoint-initdb.d/*.sql; do
    [ -e "$script" ] && "${psql[@]}" --dbname="$POSTGRES_DB" --file="$script"
  done
  pg_ctl --wait --mode=fast stop >/dev/null
fi
exec postgres -c listen_addresses='*'

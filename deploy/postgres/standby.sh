#!/bin/sh
# The hot standby of compose.yaml's `ha` profile. On an empty volume it copies the primary
# (pg_basebackup -R writes standby.signal and the connection to stream from), retrying while
# the primary starts; then it runs PostgreSQL as a standby. After a failover this node may be
# the primary: a volume that already holds a cluster is started as it is. Arguments are
# passed on to postgres (e.g. -c port=N).
set -eu
: "${PGDATA:?}" "${PRIMARY_HOST:?}" "${POSTGRES_USER:?}" "${POSTGRES_PASSWORD:?}"
# The password for pg_basebackup and for the WAL receiver, kept out of the data directory
# (libpq reads ~/.pgpass; ':' and '\' are escaped as its format requires).
escaped=$(printf '%s' "${POSTGRES_PASSWORD}" | sed 's/[\\:]/\\&/g')
umask 077
printf '*:*:*:%s:%s\n' "${POSTGRES_USER}" "${escaped}" > "${HOME}/.pgpass"
if [ ! -s "${PGDATA}/PG_VERSION" ]; then
  mkdir -p "${PGDATA}"
  until pg_basebackup -h "${PRIMARY_HOST}" -p "${PRIMARY_PORT:-5432}" -U "${POSTGRES_USER}" \
      -D "${PGDATA}" -R -X stream -c fast; do
    echo "standby: waiting for ${PRIMARY_HOST}" >&2
    find "${PGDATA}" -mindepth 1 -delete
    sleep 2
  done
  chmod 0700 "${PGDATA}"
fi
# cluster_name is the application_name the primary lists in pg_stat_replication (and the
# name synchronous_standby_names must use).
exec postgres -c cluster_name=postgres_standby -c hot_standby=on "$@"

#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the tests of the catalog on PostgreSQL.
#   pg_cluster.sh start DIR [PORT]   create and start it: data in DIR/data, the Unix socket in
#                                    DIR, also on 127.0.0.1:PORT when PORT is given; database
#                                    "strata", superuser "strata", trust authentication
#   pg_cluster.sh stop DIR           stop it (immediately) and remove DIR
# Prints nothing on success but the connection string (start). PostgreSQL refuses to run as
# root: as root the server runs as the unprivileged user nobody (runuser).
set -euo pipefail
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: pg_cluster.sh start|stop DIR [PORT]" >&2; exit 1; }
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/pg_ctl" ] || { echo "pg_cluster.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}
case $cmd in
start)
    port=${3:-}
    if [ -f "$dir/data/postmaster.pid" ]; then as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true; fi
    rm -rf "$dir"
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown nobody "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U strata --auth=trust --encoding=UTF8 --locale=C -N \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    # the socket is DIR/.s.PGSQL.5432 unless PORT is given (then TCP on 127.0.0.1 too);
    # fsync off: a killed server loses nothing the OS has, which is what the tests kill
    listen="-c listen_addresses=''"
    [ -n "$port" ] && listen="-c listen_addresses=127.0.0.1"
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-k $dir -p ${port:-5432} $listen -c fsync=off -c max_connections=300 -c shared_buffers=64MB" \
        start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    as_owner "$bin/createdb" -h "$dir" -p "${port:-5432}" -U strata strata
    echo "host=$dir port=${port:-5432} dbname=strata user=strata"
    ;;
stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: pg_cluster.sh start|stop DIR [PORT]" >&2
    exit 1
    ;;
esac

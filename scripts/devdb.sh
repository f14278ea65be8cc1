#!/usr/bin/env bash
# A throwaway PostgreSQL cluster in .devdb/ of the repository, for `make run` and `make test`
# on a machine with the PostgreSQL server packages but no database configured.
#
#   scripts/devdb.sh start   # create (once) and start it; prints its URL
#   scripts/devdb.sh stop
#   scripts/devdb.sh url
#
# initdb refuses to run as root, so as root the cluster is run by the postgres user.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/.devdb"
port="${FILESHARE_DEVDB_PORT:-54329}"

bindir() {
	if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
		pg_config --bindir
		return
	fi
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	if [ -z "$d" ] || [ ! -x "$d/initdb" ]; then
		echo "devdb: no PostgreSQL server binaries found (install the Debian package postgresql)" >&2
		exit 1
	fi
	echo "$d"
}

as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

url() { echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"; }

start() {
	local bin
	bin=$(bindir)
	mkdir -p "$dir"
	if [ "$(id -u)" = 0 ]; then
		chown postgres:postgres "$dir"
	fi
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-instructions >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; exit 1; }
	fi
	if ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
		# A throwaway cluster: durability of the database server itself is not needed here.
		as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
			-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
			start >/dev/null || { tail -n 20 "$dir/server.log" >&2; exit 1; }
	fi
	url
}

stop() {
	local bin
	bin=$(bindir)
	if [ -f "$dir/data/PG_VERSION" ]; then
		as_owner "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
	fi
}

case "${1:-}" in
start) start ;;
stop) stop ;;
url) url ;;
*) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac

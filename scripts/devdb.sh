#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for `make run` (and for `make test` when no other PostgreSQL
# answers), on a machine with the PostgreSQL server packages but no database configured.
#
#   scripts/devdb.sh start     # create (once) and start it; prints its URL
#   scripts/devdb.sh stop      # stop it; its data stays for the next start
#   scripts/devdb.sh destroy   # stop it and delete its data
#   scripts/devdb.sh url       # print its URL
#   scripts/devdb.sh dir       # print the directory that holds it
#
# It listens on 127.0.0.1:$FILESHARE_DEVDB_PORT (default 54329), trusts every local connection,
# and runs without fsync: it is for development only.
#
# Where it lives:
# * run by an ordinary user: in .devdb/ of the repository, owned by that user;
# * run as root: PostgreSQL refuses to run as root, so the cluster is run by the postgres user,
#   and that user may not be able to enter the repository (a clone under /root, or in a
#   `mktemp -d` directory, is mode 0700). The cluster therefore lives in a directory of the
#   postgres user: <home of postgres>/fileshare-devdb/<repository name>-<hash of its path>,
#   or /var/tmp/fileshare-devdb-<…> when that user has no usable home. A cluster that an older
#   version of this script made in .devdb/ of the repository is still used when present.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd -P)"
port="${FILESHARE_DEVDB_PORT:-54329}"

die() {
	echo "devdb: $*" >&2
	exit 1
}

is_root() { [ "$(id -u)" = 0 ]; }

# clusterdir prints the directory of the cluster (it need not exist yet).
clusterdir() {
	if ! is_root || [ -f "$root/.devdb/data/PG_VERSION" ]; then
		echo "$root/.devdb"
		return
	fi
	local tag home
	tag="$(basename "$root")-$(printf '%s' "$root" | sha256sum | cut -c1-12)"
	home=$(getent passwd postgres | cut -d: -f6)
	if [ -n "$home" ] && [ -d "$home" ] && runuser -u postgres -- test -w "$home" 2>/dev/null; then
		echo "$home/fileshare-devdb/$tag"
	else
		echo "/var/tmp/fileshare-devdb-$tag"
	fi
}

dir=$(clusterdir)

bindir() {
	if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
		pg_config --bindir
		return
	fi
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	if [ -z "$d" ] || [ ! -x "$d/initdb" ]; then
		die "no PostgreSQL server binaries found (install the Debian package postgresql)"
	fi
	echo "$d"
}

# as_owner runs a command as the cluster's owner: the postgres user when run as root. It runs
# from the cluster's directory, which the owner can always enter (the caller's working
# directory may be closed to it).
as_owner() {
	if is_root; then
		(cd "$dir" && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

# makedir creates the cluster's directory, owned by whoever runs the cluster.
makedir() {
	if ! is_root; then
		mkdir -p "$dir"
		return
	fi
	id postgres >/dev/null 2>&1 || die "run as root, the cluster needs the postgres user (install the Debian package postgresql)"
	case "$dir" in
	"$root/.devdb") ;; # an existing cluster of an older version of this script
	/var/tmp/*)
		# /var/tmp is writable by everyone: make the directory ourselves (mkdir fails on anything
		# already there, a symbolic link included) and never follow a link when handing it over.
		if [ ! -e "$dir" ] && [ ! -L "$dir" ]; then
			mkdir -m 0700 "$dir"
			chown -h postgres:postgres "$dir"
		fi
		if [ -L "$dir" ] || [ ! -d "$dir" ] || [ "$(stat -c %U "$dir")" != postgres ]; then
			die "$dir exists but is not a directory of the postgres user; remove it"
		fi
		;;
	*)
		runuser -u postgres -- mkdir -p -m 0700 "$dir"
		;;
	esac
}

url() { echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"; }

start() {
	local bin
	bin=$(bindir)
	makedir
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-instructions >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; exit 1; }
	fi
	if ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
		# A throwaway cluster: durability of the database server itself is not needed here. The
		# socket goes to the cluster's directory too, where its owner may write.
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

destroy() {
	stop
	if [ -d "$dir" ]; then
		rm -rf -- "$dir"
	fi
}

case "${1:-}" in
start) start ;;
stop) stop ;;
destroy) destroy ;;
url) url ;;
dir) echo "$dir" ;;
*)
	echo "usage: $0 start|stop|destroy|url|dir" >&2
	exit 2
	;;
esac

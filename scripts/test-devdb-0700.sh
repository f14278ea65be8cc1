#!/usr/bin/env bash
# Checks that scripts/devdb.sh (the throwaway PostgreSQL of `make run`, and of `make test` when
# no other PostgreSQL answers) works when run as root from a clone that the postgres user cannot
# enter: a clone under /root, or in a `mktemp -d` directory (mode 0700). PostgreSQL refuses to
# run as root, so the script hands the cluster to the postgres user, and the cluster must then
# live where that user can reach it.
#
#   scripts/test-devdb-0700.sh    # as root; FILESHARE_DEVDB_PORT picks the port (default 54339)
#
# It clones the repository's HEAD into a fresh `mktemp -d` directory, puts the working tree's
# scripts/devdb.sh into the clone (so that uncommitted changes are tested too), starts, uses,
# stops, restarts and destroys the cluster, and removes everything it made. Run by anyone but
# root it prints that it was skipped and exits 0. Exit status 1 means a check failed.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd -P)"
port="${FILESHARE_DEVDB_PORT:-54339}"
export FILESHARE_DEVDB_PORT="$port"

if [ "$(id -u)" != 0 ]; then
	echo "test-devdb-0700: skipped: it tests what happens as root, and this is $(id -un)"
	exit 0
fi
for c in git psql runuser; do
	command -v "$c" >/dev/null 2>&1 || { echo "test-devdb-0700: FAIL: $c is not installed" >&2; exit 1; }
done

ok() { echo "ok    $*"; }
fail() {
	echo "FAIL  $*" >&2
	exit 1
}
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

if listening; then
	fail "something already listens on 127.0.0.1:$port; set FILESHARE_DEVDB_PORT to a free port"
fi

tmp=$(mktemp -d)
clone="$tmp/c"
devdb="$clone/scripts/devdb.sh"
cleanup() {
	if [ -x "$devdb" ]; then
		"$devdb" destroy >/dev/null 2>&1 || true
	fi
	rm -rf -- "$tmp"
}
trap cleanup EXIT

git clone -q "$root" "$clone"
git -C "$clone" checkout -q --detach "$(git -C "$root" rev-parse HEAD)"
cp "$root/scripts/devdb.sh" "$devdb"

# The situation under test: a clone in a directory that the postgres user cannot enter.
[ "$(stat -c %a "$tmp")" = 700 ] || fail "mktemp -d made $tmp with mode $(stat -c %a "$tmp"), not 700"
if (cd / && runuser -u postgres -- ls "$clone" >/dev/null 2>&1); then
	fail "the postgres user can enter $clone: this machine cannot show the problem"
fi
ok "clone in a mode 0700 directory that the postgres user cannot enter"

url=$(cd "$clone" && scripts/devdb.sh start) || fail "scripts/devdb.sh start failed (output above)"
want="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
[ "$url" = "$want" ] || fail "start printed '$url', want '$want'"
ok "scripts/devdb.sh start printed $url"

[ "$(psql "$url" -tAc 'SELECT 1')" = 1 ] || fail "psql $url -c 'SELECT 1' failed"
ok "psql <url> -c 'SELECT 1' answers 1"

dir=$("$devdb" dir)
case "$dir" in
"$clone"/*) fail "the cluster is inside the clone ($dir), where the postgres user cannot reach it" ;;
esac
[ -f "$dir/data/PG_VERSION" ] || fail "no cluster in $dir"
[ "$(stat -c %U "$dir/data")" = postgres ] || fail "$dir/data is owned by $(stat -c %U "$dir/data"), not postgres"
ok "the cluster lives in $dir, owned by postgres, outside the clone"

# What scripts/run.sh does next with it.
psql "$url" -qc "CREATE DATABASE fileshare" >/dev/null || fail "CREATE DATABASE fileshare failed"
furl="${url/\/postgres\?/\/fileshare?}"
psql "$furl" -qc "CREATE TABLE t (x int); INSERT INTO t VALUES (42)" >/dev/null || fail "cannot write to $furl"
ok "created the database fileshare and wrote to it, as make run does"

again=$(cd "$clone" && scripts/devdb.sh start) || fail "a second start failed"
[ "$again" = "$url" ] || fail "a second start printed '$again'"
ok "a second start, while it runs, prints the same URL"

(cd "$clone" && scripts/devdb.sh stop) || fail "scripts/devdb.sh stop failed"
for _ in $(seq 1 20); do
	listening || break
	sleep 0.5
done
if listening || psql "$url" -tAc 'SELECT 1' >/dev/null 2>&1; then
	fail "the cluster still answers after scripts/devdb.sh stop"
fi
ok "scripts/devdb.sh stop stops it"

(cd "$clone" && scripts/devdb.sh start) >/dev/null || fail "start after stop failed"
[ "$(psql "$furl" -tAc 'SELECT x FROM t')" = 42 ] || fail "the data did not survive stop and start"
ok "start after stop keeps the data"

"$devdb" destroy || fail "scripts/devdb.sh destroy failed"
[ ! -e "$dir" ] || fail "$dir is still there after destroy"
if listening; then
	fail "the cluster still listens after destroy"
fi
ok "scripts/devdb.sh destroy stops it and deletes $dir"

echo "test-devdb-0700: PASS"

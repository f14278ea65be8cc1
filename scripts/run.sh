#!/usr/bin/env bash
# `make run`: serve fileshare on 127.0.0.1:3001. Without FILESHARE_DATABASE_URL (or
# DATABASE_URL) it starts the throwaway PostgreSQL cluster of scripts/devdb.sh (never the
# machine's own server), creates the database fileshare in it, migrates it, and adds a demo
# tenant and user whose credentials it prints with a curl example.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=bin/fileshare

if [ -z "${FILESHARE_DATABASE_URL:-}" ] && [ -z "${DATABASE_URL:-}" ]; then
	base=$(scripts/devdb.sh start)
	psql "$base" -tAc "SELECT 1 FROM pg_database WHERE datname = 'fileshare'" | grep -q 1 ||
		psql "$base" -qc "CREATE DATABASE fileshare" >/dev/null
	export FILESHARE_DATABASE_URL="${base/\/postgres\?/\/fileshare?}"
	export FILESHARE_DATA_DIR="${FILESHARE_DATA_DIR:-./data}"
	"$bin" migrate up >/dev/null
	"$bin" tenant add demo >/dev/null 2>&1 || true
	password=demo-password
	if ! echo "$password" | "$bin" user add demo@demo --password-stdin >/dev/null 2>&1; then
		echo "$password" | "$bin" user passwd demo@demo --password-stdin >/dev/null
	fi
	listen="${FILESHARE_LISTEN:-127.0.0.1:3001}"
	cat <<TXT
fileshare: throwaway database at $FILESHARE_DATABASE_URL (scripts/devdb.sh stop stops it, scripts/devdb.sh destroy deletes it)
fileshare: demo login  demo@demo / $password

  echo hello > hello.txt
  curl -u demo@demo:$password -F file=@hello.txt http://$listen/uploads

TXT
fi
exec "$bin" serve

#!/usr/bin/env bash
# `make test`: the whole test suite with the race detector, on a real PostgreSQL:
# FILESHARE_TEST_DATABASE_URL when set, else the server on 127.0.0.1:5432 when it answers,
# else the throwaway cluster of scripts/devdb.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${FILESHARE_TEST_DATABASE_URL:-}" ]; then
	local_url="postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	if psql "$local_url" -tAc "SELECT 1" >/dev/null 2>&1; then
		export FILESHARE_TEST_DATABASE_URL="$local_url"
	else
		export FILESHARE_TEST_DATABASE_URL="$(scripts/devdb.sh start)"
	fi
fi
# The browser test (internal/browsertest) needs Debian's chromium: installed here when missing
# and run as root, else the test fails and says so.
if ! command -v chromium >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "installing chromium for the browser test"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
	else
		echo "warning: no chromium on PATH; the browser test will fail: install Debian's package chromium (sudo apt-get install chromium)" >&2
	fi
fi
# The stock tus client of the resumable-upload tests, when Node is there and it is missing.
if [ ! -d internal/tustest/client/node_modules ] && command -v npm >/dev/null 2>&1; then
	(cd internal/tustest/client && npm ci --no-audit --no-fund)
fi
# The browser clients (tus-js-client, Uppy) that the browser test serves to Chromium from a
# page of another origin, likewise.
if [ ! -d internal/browsertest/client/node_modules ] && command -v npm >/dev/null 2>&1; then
	(cd internal/browsertest/client && npm ci --no-audit --no-fund)
fi
# The official Standard Webhooks JavaScript library the webhook tests verify deliveries with,
# likewise.
if [ ! -d internal/webhook/jsverify/node_modules ] && command -v npm >/dev/null 2>&1; then
	(cd internal/webhook/jsverify && npm ci --no-audit --no-fund)
fi
# `make run`'s throwaway database from a clone that the postgres user cannot enter (as root).
scripts/test-devdb-0700.sh
echo "tests use PostgreSQL at ${FILESHARE_TEST_DATABASE_URL%%\?*}"
go test -race -count=1 -timeout 20m "$@" ./...
